"""Small file helpers: writes that honour what they write into, and JSON.

`atomic_path` is the one way the project writes a result file. What it does depends on what the
path names now, as `open(path, "w")` in the official scripts would:

- a regular file, or nothing yet: the new content is written beside it and renamed onto it only
  when complete (a crash never leaves half a file), keeping an existing file's mode;
- a symlink: followed, so its target gets the content and the link stays a link;
- anything else (FIFO, character device such as /dev/null, /dev/stdout): written through
  directly, since renaming a file over it would replace the device, not write to it.

Failures (a directory, a parent that is a file, a read-only or full disk) raise `WriteError`,
one line naming the path.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterator


class WriteError(OSError):
    """A result file that cannot be written where it was asked for; the message names the path."""


def os_error_text(err: OSError) -> str:
    """One line for an OSError: the path it concerns and the system's reason."""
    where = f"{err.filename}: " if err.filename else ""
    return f"{where}{err.strerror or err}"


def _reason(err: OSError, path: Path) -> str:
    """Why a write failed, naming the folder or file at fault when it is not `path` or a temporary."""
    reason = err.strerror or str(err)
    culprit = err.filename and Path(err.filename)
    if culprit and culprit != path and not culprit.name.endswith(".tmp"):
        return f"{reason} ({culprit})"
    return reason


def _default_mode() -> int:
    """The mode `open()` gives a new file: 0o666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """A temporary file beside `target`, renamed onto it (with `target`'s mode) if the block succeeds."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = _default_mode()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        os.chmod(tmp_path, mode)  # mkstemp makes owner-only files; keep the mode the file had
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def _writing_through(path: Path) -> Iterator[Path]:
    """A temporary file elsewhere whose content is copied into `path` (a FIFO, a device) at the end."""
    fd, tmp = tempfile.mkstemp(prefix=".qarepro-write.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as src, open(path, "wb") as dst:
            shutil.copyfileobj(src, dst)
    finally:
        tmp_path.unlink(missing_ok=True)


def _kind(path: Path) -> str:
    """'missing', 'regular', 'directory' or 'other' for what `path` names, symlinks followed."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # NotADirectory: a file above it (check_folder)
        return "missing"
    if stat.S_ISREG(mode):
        return "regular"
    return "directory" if stat.S_ISDIR(mode) else "other"


def check_folder(path: str | os.PathLike, context: str = "") -> None:
    """Raise WriteError (`context` + why) when `path` cannot be (made) a folder: it, or the nearest
    thing above it, is a file."""
    for place in (Path(os.path.abspath(path)), *Path(os.path.abspath(path)).parents):
        if place.exists():
            if not place.is_dir():
                raise WriteError(f"{context}{place} is a file, not a folder")
            return


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; when the block succeeds its content becomes `path`'s
    (see the module docstring for symlinks, FIFOs and devices). OSError -> WriteError."""
    path = Path(path)
    kind = _kind(path)
    if kind == "directory":
        raise WriteError(f"cannot write {path}: it is a directory")
    check_folder(path.parent, f"cannot write {path}: ")
    # a symlink (dangling too) is written at its target, so that the link itself stays
    writer = _writing_through(path) if kind == "other" else _replacing(Path(os.path.realpath(path)))
    try:
        with writer as tmp:
            yield tmp
    except WriteError:
        raise
    except OSError as err:
        raise WriteError(f"cannot write {path}: {_reason(err, path)}") from None


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """Write JSON atomically (sorted keys off: callers choose the order)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")
    return Path(path)


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
