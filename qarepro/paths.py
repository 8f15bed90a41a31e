"""Every path the project uses, in one place. Nothing depends on the current directory.

Two environment variables move things:
- QAREPRO_DATA_DIR: a folder of local dataset files (official SQuAD JSON). Takes precedence
  over the hub for every dataset it holds (see qarepro.data).
- QAREPRO_OUTPUTS: where runs, caches, executed notebooks and reports go (default outputs/).
"""

from __future__ import annotations

import os
from pathlib import Path

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
