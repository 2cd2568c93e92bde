"""Gzipping rotated log files in threads, without a rotation ever waiting for one.

A rotation (on the event loop's thread) renames ``NAME.log`` to ``NAME.log.1`` and
:meth:`Compressions.start` gzips that file in a thread into a hidden partial file. When
the thread is done it renames the partial file to ``NAME.log.I.gz`` and removes
``NAME.log.I``, where ``I`` is wherever the file is *then*: rotations that happen in the
meantime shift it to ``.2``, ``.3``... and say so (:meth:`Compressions.moved`), under the
same lock the thread finishes under. A file shifted past ``keep`` is dropped
(:meth:`Compressions.dropped`): its compression stops at its next chunk and removes its
partial file. Until a compression is done, the uncompressed file is there to read.

At exit, :func:`finish_compressions` gives the compressions still running a bounded time,
then gives them up: their files stay uncompressed, and nothing is lost.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import threading
import time
from typing import Any, BinaryIO

CHUNK = 1 << 20
"""Bytes compressed between two looks at whether the compression was given up."""


def rotated_name(path: str, index: int, compressed: bool) -> str:
    """``NAME.log.3`` or ``NAME.log.3.gz``."""
    return f"{path}.{index}.gz" if compressed else f"{path}.{index}"


class _Job:
    """One rotated file being gzipped: where it is now (``index``) and its thread."""

    def __init__(self, index: int, partial: str) -> None:
        self.index = index
        self.partial = partial
        self.given_up = False
        self.thread: threading.Thread | None = None


_running: set[_Job] = set()
_running_lock = threading.Lock()


class Compressions:
    """The compressions in flight for the rotated files of one log file, ``path``.

    ``lock`` must be held while the rotated files are renamed (see the module docstring).
    """

    def __init__(self, path: str, log: Any) -> None:
        self.path = path
        self.log = log
        self.lock = threading.Lock()
        self._jobs: list[_Job] = []
        self._started = 0

    def start(self) -> None:
        """Gzip ``PATH.1`` (just rotated) in a thread of its own. Call with ``lock`` held."""
        self._started += 1
        directory, base = os.path.split(self.path)
        partial = os.path.join(directory, f".{base}.{self._started}.gz.partial")
        try:
            source = open(rotated_name(self.path, 1, False), "rb")  # noqa: SIM115 (the thread closes it)
        except OSError as exc:
            self.log.error("log file compression failed", path=self.path, error=_why(exc))
            return
        job = _Job(1, partial)
        job.thread = threading.Thread(
            target=self._run, args=(job, source), name=f"gzip {self.path}.1"
        )
        self._jobs.append(job)
        with _running_lock:
            _running.add(job)
        job.thread.start()

    def moved(self, old: int, new: int) -> None:
        """``PATH.OLD`` was renamed ``PATH.NEW``. Call with ``lock`` held."""
        for job in self._jobs:
            if job.index == old:
                job.index = new

    def dropped(self, index: int) -> None:
        """``PATH.INDEX`` was removed (rotated past ``keep``). Call with ``lock`` held."""
        for job in self._jobs:
            if job.index == index:
                job.given_up = True

    def wait(self) -> None:
        """Wait until every compression started so far has ended."""
        for job in list(self._jobs):
            if job.thread is not None:
                job.thread.join()

    def _run(self, job: _Job, source: BinaryIO) -> None:
        error: OSError | None = None
        try:
            with source, gzip.open(job.partial, "wb") as target:
                while not job.given_up:
                    chunk = source.read(CHUNK)
                    if not chunk:
                        break
                    target.write(chunk)
        except OSError as exc:
            error = exc
        try:
            with self.lock:
                self._jobs.remove(job)
                if error is None and not job.given_up:
                    try:
                        os.rename(job.partial, rotated_name(self.path, job.index, True))
                        os.unlink(rotated_name(self.path, job.index, False))
                        return
                    except OSError as exc:
                        error = exc
                with contextlib.suppress(OSError):
                    os.unlink(job.partial)
            if error is not None:
                self.log.error("log file compression failed", path=self.path, error=_why(error))
        finally:
            with _running_lock:
                _running.discard(job)


def finish_compressions(timeout: float) -> int:
    """Wait up to ``timeout`` seconds for the compressions still running (any log file);
    give up the rest, which leaves their rotated files uncompressed. Returns how many
    were given up."""
    deadline = time.monotonic() + timeout
    with _running_lock:
        jobs = list(_running)
    given_up = 0
    for job in jobs:
        if job.thread is not None:
            job.thread.join(max(0.0, deadline - time.monotonic()))
            if job.thread.is_alive():
                job.given_up = True
                given_up += 1
    for job in jobs:
        if job.thread is not None:
            job.thread.join(1.0)  # a given-up compression stops at its next chunk
    return given_up


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
