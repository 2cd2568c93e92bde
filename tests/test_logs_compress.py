"""Compressing rotated log files never makes a rotation wait, and never mixes files up.

Each test holds the compressions at a gate (a stand-in for a slow gzip of a big file)
while more rotations happen, then lets them finish and checks every file.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import supervisor.logs.compress as compress_module
from supervisor.logs import LogFile, Rotation, finish_compressions
from supervisor.logs.tail import tail_file


class Gate:
    """Holds every compression at its first chunk until :meth:`open` (or it is given up)."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.waiting = threading.Semaphore(0)

    def open(self) -> None:
        self.opened.set()

    def gzip_open(self, path: str, mode: str) -> Any:
        real = gzip.open(path, mode)  # noqa: SIM115 (closed by Held.__exit__)
        gate = self

        class Held:
            def __enter__(self) -> Held:
                return self

            def __exit__(self, *exc: object) -> None:
                real.close()

            def write(self, chunk: bytes) -> None:
                gate.waiting.release()
                while not gate.opened.wait(0.002):
                    if any(job.given_up for job in list(compress_module._running)):
                        break
                real.write(chunk)

        return Held()

    def wait_held(self, count: int) -> None:
        for _ in range(count):
            assert self.waiting.acquire(timeout=10), "a compression never started"


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    held = Gate()
    monkeypatch.setattr(compress_module, "gzip", SimpleNamespace(open=held.gzip_open))
    yield held
    held.open()
    finish_compressions(10.0)


def block(start: int, stop: int) -> bytes:
    return b"".join(b"line %03d\n" % i for i in range(start, stop))


def rotated_once(directory: Path) -> LogFile:
    """``svc.log`` (keep 2, compressed) with lines 0-9 just rotated to ``svc.log.1``."""
    file = LogFile(str(directory / "svc.log"), Rotation(max_size=90, keep=2, compress=True))
    file.write(block(0, 10))
    file.write(block(10, 20))
    return file


def content(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_rotations_go_on_while_a_compression_runs_and_each_file_lands_in_its_place(
    tmp_path: Path, gate: Gate
) -> None:
    base = tmp_path / "svc.log"
    file = LogFile(str(base), Rotation(max_size=90, keep=3, compress=True))
    file.write(block(0, 10))  # 90 bytes: full
    file.write(block(10, 20))  # rotation 1: lines 0-9 to .1, compression held
    gate.wait_held(1)
    file.write(block(20, 30))  # rotation 2: 0-9 shifted to .2 while being compressed
    file.write(block(30, 40))  # rotation 3: 0-9 to .3
    gate.wait_held(2)
    # nothing is compressed yet, nothing is lost, and `logs` reads it all back
    assert names(tmp_path)[-4:] == ["svc.log", "svc.log.1", "svc.log.2", "svc.log.3"]
    tail = tail_file(str(base), 100, limit=1000, keep=3)
    assert [line for line, _ in tail] == [f"line {i:03d}" for i in range(40)]

    gate.open()
    file.compressions.wait()
    file.close()
    assert names(tmp_path) == ["svc.log", "svc.log.1.gz", "svc.log.2.gz", "svc.log.3.gz"]
    assert content(base) == block(30, 40)
    assert content(tmp_path / "svc.log.1.gz") == block(20, 30)
    assert content(tmp_path / "svc.log.2.gz") == block(10, 20)
    assert content(tmp_path / "svc.log.3.gz") == block(0, 10)


def test_a_file_rotated_past_keep_while_compressed_is_dropped_with_its_partial_file(
    tmp_path: Path, gate: Gate
) -> None:
    base = tmp_path / "svc.log"
    file = LogFile(str(base), Rotation(max_size=90, keep=1, compress=True))
    file.write(block(0, 10))
    file.write(block(10, 20))  # 0-9 to .1, held
    gate.wait_held(1)
    file.write(block(20, 30))  # 0-9 dropped, 10-19 to .1
    gate.wait_held(1)
    gate.open()
    file.compressions.wait()
    file.close()
    assert names(tmp_path) == ["svc.log", "svc.log.1.gz"]  # no partial file left
    assert content(tmp_path / "svc.log.1.gz") == block(10, 20)
    assert content(base) == block(20, 30)


def test_at_exit_a_compression_that_runs_long_is_given_up_and_its_file_kept(
    tmp_path: Path, gate: Gate
) -> None:
    file = rotated_once(tmp_path)
    gate.wait_held(1)
    file.close()
    assert finish_compressions(0.0) == 1
    assert names(tmp_path) == ["svc.log", "svc.log.1"]  # uncompressed, and complete
    assert content(tmp_path / "svc.log.1") == block(0, 10)
    assert finish_compressions(0.0) == 0  # nothing left running


def test_finish_waits_for_a_compression_within_its_time(tmp_path: Path) -> None:
    file = rotated_once(tmp_path)
    file.close()
    assert finish_compressions(10.0) == 0
    assert names(tmp_path) == ["svc.log", "svc.log.1.gz"]
    assert content(tmp_path / "svc.log.1.gz") == block(0, 10)
