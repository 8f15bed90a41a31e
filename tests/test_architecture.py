"""The house rules of qarepro/, checked on every module:

- no module over MAX_LINES lines (one concern per module);
- no import inside a function unless a heavy or optional import is deferred on purpose, and then a
  comment on the import, or on the line above its block of imports, says why;
- no import of another module's `_private` names, and no `module._private` use across modules
  (in the package, its tests, benchmarks and scripts).

Each rule is a function over source text, tested here on a small bad example as well, so that a
rule that stopped finding anything would fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from qarepro import paths

MAX_LINES = 600
PACKAGE = paths.ROOT / "qarepro"
PYTHON_TREES = [PACKAGE, paths.TESTS, paths.ROOT / "benchmarks", paths.ROOT / "scripts"]


def package_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def python_files() -> list[Path]:
    return sorted(f for tree in PYTHON_TREES for f in tree.rglob("*.py") if "fixtures" not in f.parts)


def bare_function_imports(source: str) -> list[int]:
    """Line numbers of imports inside functions with no comment saying why (on the line itself, or on
    the line above the block of consecutive import lines it belongs to)."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for sub in ast.walk(node):
            if not isinstance(sub, (ast.Import, ast.ImportFrom)):
                continue
            i = sub.lineno - 1
            if "#" in lines[i]:
                continue
            j = i - 1
            while j >= 0 and lines[j].strip().startswith(("import ", "from ")):  # the block's first line
                j -= 1
            if not (j >= 0 and lines[j].strip().startswith("#")) and not any("#" in lines[k] for k in range(j + 1, i)):
                found.append(sub.lineno)
    return sorted(set(found))


def private_uses(source: str, own_module: str) -> list[str]:
    """`from qarepro.x import _y` and `x._y` where x is a qarepro module imported under that name."""
    tree = ast.parse(source)
    modules = {}  # local name -> qarepro module it names
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            is_ours = base.startswith("qarepro") or node.level > 0
            for alias in node.names:
                if is_ours and alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"from {'.' * node.level}{base} import {alias.name}")
                elif is_ours:
                    modules[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("qarepro"):
                    modules[alias.asname or alias.name.split(".")[0]] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")
                and modules[node.value.id] != own_module):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_rules_find_what_they_look_for():
    bad = '''
import qarepro.features as qf
from qarepro.teacher import _sample_pairs
from . import distill


def f():
    import torch
    from transformers import Trainer

    # deferred: transformers takes seconds to import
    from transformers import TrainerCallback
    import yaml
    return qf._backend, distill._collate


def g():
    import json  # deferred on purpose: a comment on the line counts
'''
    assert bare_function_imports(bad) == [8, 9]
    assert sorted(private_uses(bad, "qarepro.other")) == ["distill._collate", "from qarepro.teacher import _sample_pairs",
                                                          "qf._backend"]


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_the_line_limit(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(paths.ROOT)} has {n} lines (limit {MAX_LINES}): split it by concern"


@pytest.mark.parametrize("path", package_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_function_level_imports_say_why(path):
    bare = bare_function_imports(path.read_text(encoding="utf-8"))
    assert not bare, (f"{path.relative_to(paths.ROOT)}: imports inside functions without a comment saying why "
                      f"(lines {bare}): move them to the top, or say why they are deferred")


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(paths.ROOT)))
def test_no_private_names_of_other_modules(path):
    rel = path.relative_to(paths.ROOT)
    own = ".".join(rel.with_suffix("").parts) if rel.parts[0] == "qarepro" else ""
    found = private_uses(path.read_text(encoding="utf-8"), own)
    assert not found, f"{rel} uses private names of other modules: {found}"
