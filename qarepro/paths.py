"""Every path the project uses, in one place. Nothing depends on the current directory.

Two environment variables move things:
- QAREPRO_DATA_DIR: a folder of local dataset files (official SQuAD JSON). Takes precedence
  over the hub for every dataset it holds (see qarepro.data).
- QAREPRO_OUTPUTS: where runs, caches, executed notebooks and reports go (default outputs/).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
CLAIMS = CONFIGS / "claims"
PROFILES = CONFIGS / "profiles"
NOTEBOOKS = ROOT / "notebooks"
TESTS = ROOT / "tests"
FIXTURES = TESTS / "fixtures"

DATA_DIR_ENV = "QAREPRO_DATA_DIR"
OUTPUTS_ENV = "QAREPRO_OUTPUTS"


def outputs() -> Path:
    """Root of everything the pipeline writes."""
    return Path(os.environ.get(OUTPUTS_ENV) or ROOT / "outputs").resolve()


def outputs_relative(value: Any) -> Any:
    """A string under the outputs root written as "<outputs>/..." (else unchanged): what a run is keyed
    on must not depend on where its outputs folder lives."""
    root = str(outputs())
    return "<outputs>" + value[len(root):] if isinstance(value, str) and value.startswith(root) else value


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """Local dataset folder: an explicit value (config key) wins, then the environment."""
    value = explicit if explicit not in (None, "") else os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser().resolve() if value else None


def cache() -> Path:
    """Reusable derived data: tokenised features, teacher logits."""
    return outputs() / "cache"


def feature_cache() -> Path:
    return cache() / "features"


def teacher_cache() -> Path:
    return cache() / "teacher_logits"


def runs() -> Path:
    """One folder per training or prediction run."""
    return outputs() / "runs"


def bench() -> Path:
    return outputs() / "bench"


def executed(profile: str) -> Path:
    return outputs() / "executed" / profile


def reports(profile: str) -> Path:
    return outputs() / "reports" / profile


def results(profile: str) -> Path:
    """Metrics JSON of a profile: the files make's targets are made of."""
    return outputs() / profile


# --------------------------------------------------------------------------------------------
# Portable records: no absolute path of this machine in a results file or report

OUTPUTS_TOKEN = "outputs"            # the outputs root, wherever QAREPRO_OUTPUTS put it
DATA_TOKEN = "$" + DATA_DIR_ENV      # the local dataset folder
PYTHON_TOKEN = "<python>"            # sys.prefix (the environment's packages, when outside the project)
TMP_TOKEN = "<tmp>"
HOME_TOKEN = "~"
_ROOT_ITEMS = ("outputs", "configs", "notebooks", "tests", "scripts", "benchmarks", "docs", ".venv", "qarepro")


def machine_prefixes(extra: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(absolute folder, what it is written as) for every folder of this machine a record may
    name, longest first: outputs root, project root (written relative), data folder,
    sys.prefix, temp folder, home. `extra` adds {absolute folder: token}."""
    pairs: dict[str, str] = {}
    for folder, token in ((Path.home(), HOME_TOKEN), (Path(tempfile.gettempdir()), TMP_TOKEN),
                          (Path(sys.prefix), PYTHON_TOKEN), (data_dir(), DATA_TOKEN), (ROOT, ""),
                          (outputs(), OUTPUTS_TOKEN)):
        if folder is not None and str(folder) not in ("/", ""):
            pairs[str(folder).rstrip("/")] = token
            with contextlib.suppress(OSError):
                pairs.setdefault(str(Path(folder).resolve()).rstrip("/"), token)
    for sub in ("runs", "cache"):  # often links to a bigger disk: their targets are still the outputs'
        with contextlib.suppress(OSError):
            target = (outputs() / sub).resolve()
            if target != outputs().resolve() / sub:
                pairs.setdefault(str(target).rstrip("/"), f"{OUTPUTS_TOKEN}/{sub}")
    for folder, token in (extra or {}).items():
        pairs[str(folder).rstrip("/")] = token
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def portable_text(text: str, prefixes: Sequence[tuple[str, str]] | None = None) -> str:
    """`text` with every absolute folder of this machine replaced by its token; the project
    root is dropped, so that paths inside it read relative to the project root."""
    for folder, token in prefixes if prefixes is not None else machine_prefixes():
        if folder not in text:
            continue
        pattern = re.escape(folder) + r"(/|(?![\w.-]))"
        text = re.sub(pattern, (lambda m, t=token: (t + m.group(1)) if t else ("" if m.group(1) else ".")), text)
    return text


_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")


def portable_html(html: str, prefixes: Sequence[tuple[str, str]] | None = None) -> str:
    """`portable_text` for a page, leaving its embedded (base64) images untouched."""
    prefixes = machine_prefixes() if prefixes is None else prefixes
    out, last = [], 0
    for m in _DATA_URI.finditer(html):
        out += [portable_text(html[last:m.start()], prefixes), m.group(0)]
        last = m.end()
    out.append(portable_text(html[last:], prefixes))
    return "".join(out)


def portable(obj: Any, prefixes: Sequence[tuple[str, str]] | None = None) -> Any:
    """Copy of a JSON-like object with `portable_text` applied to every string (keys too)."""
    prefixes = machine_prefixes() if prefixes is None else prefixes
    if isinstance(obj, str):
        return portable_text(obj, prefixes)
    if isinstance(obj, os.PathLike):
        return portable_text(os.fspath(obj), prefixes)
    if isinstance(obj, Mapping):
        return {portable(k, prefixes) if isinstance(k, str) else k: portable(v, prefixes) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [portable(v, prefixes) for v in obj]
    return obj


def resolve(obj: Any) -> Any:
    """Inverse of `portable` for whole values: "outputs/…" -> the outputs root on this machine,
    a path under one of the project's folders -> absolute, "$QAREPRO_DATA_DIR/…", "<python>/…",
    "~/…" -> their folders here. Other strings are returned unchanged."""
    if isinstance(obj, str):
        head, sep, rest = obj.partition("/")
        if head == OUTPUTS_TOKEN and sep:
            return str(outputs() / rest)
        if head in _ROOT_ITEMS and sep and (ROOT / head).exists():
            return str(ROOT / obj)
        if head == DATA_TOKEN and sep and data_dir() is not None:
            return str(data_dir() / rest)
        if head == PYTHON_TOKEN and sep:
            return str(Path(sys.prefix) / rest)
        if head == HOME_TOKEN and sep:
            return str(Path.home() / rest)
        return obj
    if isinstance(obj, Mapping):
        return {k: resolve(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [resolve(v) for v in obj]
    return obj
