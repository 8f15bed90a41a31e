"""Where a profile's stages read and write: targets, results, models, the data folder."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from .. import io as qio
from .. import paths
from ..data import REGISTRY
from .profile import TINY_PREFIX, Profile

class PipelineError(RuntimeError):
    """A stage cannot run: a missing input, model or previous stage. The message says what to do."""


def results_dir(profile: str) -> Path:
    return paths.results(profile)


def target(profile: str, stage: str, card: str | None = None) -> Path:
    """The stage's metrics JSON: the make target."""
    return results_dir(profile) / (f"{stage}-{card}.json" if card else f"{stage}.json")


def models_dir(profile: str) -> Path:
    return paths.outputs() / "models" / profile


def resolve_model(ref: str | None, profile: Profile) -> str | None:
    """tiny:<name> -> its built directory; a relative path that exists -> absolute; else as given (hub id)."""
    if ref is None:
        return None
    if ref.startswith(TINY_PREFIX):
        return str(models_dir(profile.name) / "tiny" / ref[len(TINY_PREFIX):])
    p = Path(ref).expanduser()
    if not p.is_absolute() and (paths.ROOT / p).exists():
        return str((paths.ROOT / p).resolve())
    return str(p) if p.is_absolute() else ref


def data_dir(profile: Profile) -> str | None:
    """The folder datasets are read from. With `data_files`, a folder under the profile's outputs
    holding a copy of each file under its registry file name (so dataset keys stay the same)."""
    if not profile.data_files:
        if not profile.data_dir:
            return None  # qarepro.data then reads $QAREPRO_DATA_DIR itself (and says so in its errors)
        p = Path(profile.data_dir).expanduser()
        return str(p if p.is_absolute() else paths.ROOT / p)

    folder = results_dir(profile.name) / "data"
    for key, file in profile.data_files.items():
        src = Path(file) if Path(file).is_absolute() else paths.ROOT / file
        dst = folder / REGISTRY[key].filename
        if not src.is_file():
            raise PipelineError(f"profile {profile.name}: data_files.{key}: no file {src}")
        if not dst.is_file() or dst.read_bytes() != src.read_bytes():
            folder.mkdir(parents=True, exist_ok=True)
            with qio.atomic_path(dst) as tmp:
                shutil.copyfile(src, tmp)
    return str(folder)


def short_path(p: str) -> str:
    """`p` relative to the project, else to the outputs folder, else as given (for messages and tables).
    A relative `p` is returned as given: it is already relative, or no path at all (a hub id)."""
    if not Path(p).is_absolute():
        return p
    with contextlib.suppress(ValueError):
        return str(Path(p).resolve().relative_to(paths.ROOT))
    with contextlib.suppress(ValueError):
        return str(Path(p).resolve().relative_to(paths.outputs()))
    return p
