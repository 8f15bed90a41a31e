"""qarepro.io: writes that honour what they write into (regular file, symlink, FIFO, device)."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from qarepro import io as qio
from qarepro.io import atomic_path, write_json  # errors are caught as OSError (WriteError is one)


def _write(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def test_a_regular_file_is_replaced_whole_with_its_mode_kept(tmp_path):
    f = tmp_path / "out.json"
    f.write_text("old")
    os.chmod(f, 0o600)
    _write(f, "new")
    assert f.read_text() == "new" and stat.S_IMODE(f.stat().st_mode) == 0o600
    with pytest.raises(RuntimeError), atomic_path(f) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert f.read_text() == "new" and os.listdir(tmp_path) == ["out.json"]  # no temporary left


def test_a_new_file_gets_the_mode_open_would_give(tmp_path):
    old = os.umask(0o027)
    try:
        _write(tmp_path / "new.json", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


def test_a_symlink_is_followed_and_stays_a_link(tmp_path):
    target, link = tmp_path / "real.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    _write(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "later.json")
    _write(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "later.json").read_text() == "made"


def test_a_fifo_is_written_through_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    write_json(fifo, {"f1": 1.0})
    reader.join(timeout=10)
    if reader.is_alive():  # nothing was written into the FIFO: let the reader finish
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert received == ['{\n  "f1": 1.0\n}\n'] and stat.S_ISFIFO(os.stat(fifo).st_mode)


def _device(tmp_path, name: str, minor: int):
    """A character device node (1, minor: 3 null, 7 full) in tmp_path; root only."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    node = tmp_path / name
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except PermissionError:
        pytest.skip("this container may not make device nodes")
    return node


def test_a_device_node_stays_a_device(tmp_path):
    null = _device(tmp_path, "null", 3)
    write_json(null, {"f1": 1.0})
    assert stat.S_ISCHR(os.stat(null).st_mode)


def test_a_full_disk_is_one_line_naming_the_path(tmp_path):
    full = _device(tmp_path, "full", 7)
    with pytest.raises(OSError, match=r"^cannot write .*full: No space left on device$"):
        write_json(full, {"f1": 1.0})


@pytest.mark.parametrize("case", ["directory", "under a file", "read-only folder"])
def test_unwritable_places_are_one_line_write_errors(tmp_path, monkeypatch, case):
    if case == "directory":
        dest, expected = tmp_path, "it is a directory"
    elif case == "under a file":
        (tmp_path / "file").write_text("x")
        dest, expected = tmp_path / "file" / "out.json", f"{tmp_path / 'file'} is a file, not a folder"
    else:  # root writes into read-only folders, so the refusal is the system's answer, simulated
        def refuse(*args, dir=None, **kwargs):
            raise PermissionError(13, "Permission denied", f"{dir}/.out.json.x.tmp")
        monkeypatch.setattr(qio.tempfile, "mkstemp", refuse)
        dest, expected = tmp_path / "out.json", "Permission denied"
    with pytest.raises(OSError) as caught:
        write_json(dest, {})
    assert expected in str(caught.value) and "\n" not in str(caught.value) and str(dest) in str(caught.value)
