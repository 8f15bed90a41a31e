"""benchmarks/ and scripts/: every qarepro name they use exists (they run rarely, so a rename in the
library would otherwise surface only when someone next runs a long benchmark)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py")])


def qarepro_aliases(tree: ast.Module) -> dict[str, str]:
    """{local name: qarepro module} for `from qarepro import x as y` and `import qarepro.x as y`."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "qarepro":
            for a in node.names:
                full = f"{node.module}.{a.name}"
                try:
                    importlib.import_module(full)
                except ImportError:
                    continue  # a function or class, not a module: checked by the import itself
                aliases[a.asname or a.name] = full
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "qarepro" and a.asname:
                    aliases[a.asname] = a.name
    return aliases


def used_names(path: Path) -> list[tuple[str, str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = qarepro_aliases(tree)
    return [(aliases[n.value.id], n.attr, n.lineno) for n in ast.walk(tree)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in aliases]


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_library_name_a_script_uses_exists(path):
    missing = [f"{path.name}:{line}: {module}.{attr}" for module, attr, line in used_names(path)
               if not hasattr(importlib.import_module(module), attr)]
    assert not missing, "names the library no longer has: " + ", ".join(missing)


def test_the_check_sees_a_missing_name(tmp_path):
    script = tmp_path / "old.py"
    script.write_text("from qarepro import pipeline\npipeline.train(None)\npipeline.train_or_reuse(None)\n")
    assert ("qarepro.pipeline", "train", 2) in used_names(script)
    assert not hasattr(importlib.import_module("qarepro.pipeline"), "train")
