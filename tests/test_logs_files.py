"""Log files: rotation by size, reopening, reading the tail back, and a full disk."""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.logs import LogFile, Rotation, open_log_file, release_log_file, reopen_all
from supervisor.logs.files import LogFileError
from supervisor.logs.tail import tail_file


class Events:
    """A logger that records its calls (``error``, ``warning``, ...)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, **fields: Any) -> None:
            self.calls.append((level, event, fields))

        return record


def numbered(start: int, stop: int, width: int = 0) -> bytes:
    return b"".join(
        b"line %d %s\n" % (i, b"x" * (i % width if width else 0)) for i in range(start, stop)
    )


def numbers(data: bytes) -> list[int]:
    return [int(line.split()[1]) for line in data.splitlines()]


def read(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def files_of(base: Path) -> list[Path]:
    """``base`` and its rotated files, oldest first."""
    rotated = sorted(
        (p for p in base.parent.iterdir() if p.name.startswith(base.name + ".")),
        key=lambda p: int(p.name.split(".")[2]),
        reverse=True,
    )
    return [*rotated, base]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=60), st.integers(0, 30))
def test_rotation_keeps_count_sizes_and_a_contiguous_tail(blocks: list[int], width: int) -> None:
    """Whatever the blocks and line lengths: at most KEEP rotated files, none over
    max_size (lines are shorter than it), every file made of whole lines, and the files
    together hold the newest lines without a gap, in order."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp, "svc.log")
        file = LogFile(str(base), Rotation(max_size=300, keep=3))
        written = 0
        for count in blocks:
            file.write(numbered(written, written + count, width))
            written += count
        file.close()
        paths = files_of(base)
        assert len(paths) <= 4
        if len(paths) > 1:
            assert [p.name for p in paths] == [
                f"svc.log.{i}" for i in range(len(paths) - 1, 0, -1)
            ] + ["svc.log"]
        for path in paths:
            data = path.read_bytes()
            assert len(data) <= 300
            assert not data or data.endswith(b"\n")
        kept = numbers(b"".join(p.read_bytes() for p in paths))
        assert kept == list(range(written - len(kept), written))
        # a rotation happened only when needed: the kept files hold more than 3 files' worth
        if len(paths) == 4:
            assert sum(len(p.read_bytes()) for p in paths[1:]) > 300 * 2 - 2 * 70
        # and `supervisor logs -n` reads the same tail back
        tail = tail_file(str(base), 10_000, limit=1000, keep=3)
        assert [int(line.split()[1]) for line, _t in tail] == kept


def test_a_line_longer_than_max_size_gets_a_file_of_its_own(tmp_path: Path) -> None:
    base = tmp_path / "svc.log"
    file = LogFile(str(base), Rotation(max_size=100, keep=5))
    file.write(b"short 1\n" + b"L" * 250 + b"\nshort 2\n")
    file.close()
    assert [read(p) for p in files_of(base)] == [b"short 1\n", b"L" * 250 + b"\n", b"short 2\n"]


def test_compressed_rotation_and_max_size_zero(tmp_path: Path) -> None:
    base = tmp_path / "svc.log"
    file = LogFile(str(base), Rotation(max_size=200, keep=2, compress=True))
    for start in range(0, 200, 10):
        file.write(numbered(start, start + 10))
    file.compressions.wait()
    file.close()
    paths = files_of(base)
    assert [p.name for p in paths] == ["svc.log.2.gz", "svc.log.1.gz", "svc.log"]
    kept = numbers(b"".join(read(p) for p in paths))
    assert kept == list(range(200 - len(kept), 200))
    tail = tail_file(str(base), 1000, limit=1000, keep=2)
    assert [int(line.split()[1]) for line, _t in tail] == kept

    never = LogFile(str(tmp_path / "big.log"), Rotation(max_size=0, keep=2))
    never.write(numbered(0, 5000))
    never.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("big")) == ["big.log"]


def test_keep_zero_truncates(tmp_path: Path) -> None:
    base = tmp_path / "svc.log"
    file = LogFile(str(base), Rotation(max_size=50, keep=0))
    file.write(numbered(0, 20))
    file.close()
    assert [p.name for p in tmp_path.iterdir()] == ["svc.log"]
    assert numbers(base.read_bytes())[-1] == 19


def test_reopen_after_logrotate_moved_the_file(tmp_path: Path) -> None:
    """logrotate renames svc.log, then `supervisor reopen-logs`: new lines go to a new
    svc.log, none is lost; the file is shared by its users and closed with the last."""
    base = tmp_path / "logs" / "svc.log"  # the directory is created
    first = open_log_file(str(base), Rotation(max_size=0))
    second = open_log_file(str(base), Rotation(max_size=0))
    assert first is second
    first.write(b"before\n")
    base.rename(tmp_path / "logs" / "svc.log-20261125")
    first.write(b"in between\n")  # still to the open file, as with supervisord
    assert str(base) in reopen_all()
    first.write(b"after\n")
    release_log_file(first)
    assert first.fd is not None  # one user left
    release_log_file(second)
    assert first.fd is None
    assert str(base) not in reopen_all()
    assert (tmp_path / "logs" / "svc.log-20261125").read_bytes() == b"before\nin between\n"
    assert base.read_bytes() == b"after\n"


def test_an_unopenable_path_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("a file, not a directory")
    with pytest.raises(
        LogFileError, match=r"cannot open log file .*plain/svc.log: Not a directory"
    ):
        LogFile(str(tmp_path / "plain" / "svc.log"), Rotation())
    # a failing reopen keeps writing where it did
    events = Events()
    file = LogFile(str(tmp_path / "svc.log"), Rotation(), events)
    file.path = str(tmp_path / "plain" / "svc.log")
    file.reopen()
    file.path = str(tmp_path / "svc.log")
    file.write(b"kept\n")
    file.close()
    assert (tmp_path / "svc.log").read_bytes() == b"kept\n"
    assert [(level, event) for level, event, _ in events.calls] == [
        ("error", "log file reopen failed")
    ]


def test_a_rotation_that_fails_is_logged_once_and_writing_goes_on(tmp_path: Path) -> None:
    """A rotated name taken by a directory: the file grows past max_size, nothing is
    lost, one error for the episode (it used to retry the rotation forever)."""
    (tmp_path / "svc.log.1" / "x").mkdir(parents=True)
    events = Events()
    file = LogFile(str(tmp_path / "svc.log"), Rotation(max_size=100, keep=1), events)
    blocks = [numbered(i * 20, i * 20 + 20) for i in range(10)]
    for block in blocks:
        file.write(block)
    assert (tmp_path / "svc.log").read_bytes() == b"".join(blocks)
    assert [e for _, e, _ in events.calls] == [
        "log file rotation failed: the file grows past max_size until it works"
    ]
    (tmp_path / "svc.log.1" / "x").rmdir()
    (tmp_path / "svc.log.1").rmdir()
    file.write(numbered(200, 220))  # rotates again, and says so
    file.close()
    assert (tmp_path / "svc.log").stat().st_size <= 100  # back within max_size
    assert (tmp_path / "svc.log.1").read_bytes().endswith(b"line 209 \n")
    assert ("warning", "log file rotation works again") in [c[:2] for c in events.calls]


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        timeout=10,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {result.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, timeout=10)


def fill(path: Path) -> None:
    """Write ``path`` until its file system is full (ENOSPC)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError) as full:
            while True:
                os.write(fd, b"f" * 4096)
        assert full.value.errno == errno.ENOSPC
    finally:
        os.close(fd)


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="a full disk is tested on a small tmpfs, which only root can mount"
)


@needs_root
def test_a_full_disk_drops_output_logs_once_and_resumes(tmp_path: Path) -> None:
    """ENOSPC for real: writes fail on a full 64 KiB tmpfs; the error is logged once for
    the episode, whatever the number of failed writes (even one cut short); once space
    returns the next write goes through, on a line of its own, and the loss is reported."""
    with small_tmpfs(tmp_path / "disk", "64k") as disk:
        events = Events()
        file = LogFile(str(disk / "svc.log"), Rotation(max_size=0), events)
        page, filler = disk / "page", disk / "filler"
        page.write_bytes(b"p" * 4096)
        fill(filler)
        for i in range(50):
            file.write(b"lost line %d\n" % i)
        assert [e for _, e, _ in events.calls] == [
            "log file write failed: output is dropped until it works again"
        ]
        assert events.calls[0][2]["error"] == "No space left on device"
        page.unlink()  # room for one page: the next line is cut short
        file.write(b"y" * 10_000 + b"\n")
        assert len(events.calls) == 1
        assert not file.at_line_start
        filler.unlink()
        file.write(b"back\n")
        file.close()
        assert [e for _, e, _ in events.calls][1:] == ["log file writing resumed"]
        lost = sum(len(b"lost line %d\n" % i) for i in range(50)) + 10_001 - 4096
        assert events.calls[1][2]["lost_bytes"] == lost
        assert (disk / "svc.log").read_bytes() == b"y" * 4096 + b"\nback\n"
