"""Log files: appending whole lines, rotation by size, reopening, and write errors.

A :class:`LogFile` is shared by everything that writes to its path (stdout and stderr
of a service, or the replicas of one): :func:`open_log_file` hands out the one open
instance and counts its users, :func:`reopen_all` reopens every open file (for
logrotate's ``postrotate``).

Writes are plain ``os.write`` calls of whole blocks of lines on the event loop's
thread, as supervisord does: a disk that is slow makes the service block on its pipe
rather than making memory grow. A rotation happens only between two lines:
``NAME.log`` becomes ``NAME.log.1`` (the older ones shift up to ``NAME.log.KEEP``, the
oldest is dropped) and is gzipped in a thread of its own when ``compress`` is set
(:mod:`supervisor.logs.compress`: a rotation never waits for a compression).

A failing write (``ENOSPC``, ``EIO``, a directory that vanished) never stops the
service: the block is dropped, the error is logged once for the episode, and every later
block tries again; the first one that is written ends the episode (logged with the
number of bytes lost).
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from typing import Any

from supervisor.logs.compress import Compressions, rotated_name

FILE_MODE = 0o644
DIR_MODE = 0o755


@dataclass(frozen=True)
class Rotation:
    """When and how a log file rotates: past ``max_size`` bytes (0: never), keeping
    ``keep`` old files, gzipped when ``compress``."""

    max_size: int = 50 * 1024 * 1024
    keep: int = 5
    compress: bool = False


class LogFileError(OSError):
    """A log file cannot be opened (its message names the path and the reason)."""


class LogFile:
    """One log file, open for appending (see the module docstring)."""

    def __init__(self, path: str, rotation: Rotation, log: Any = None) -> None:
        self.path = path
        self.rotation = rotation
        if log is None:
            from supervisor.loggers import get_logger

            log = get_logger("supervisor")
        self.log: Any = log
        self.fd: int | None = None
        self.size = 0
        self.at_line_start = True
        self.error: str | None = None  # the failure of the current error episode
        self.dropped = 0  # bytes lost during the current error episode
        self.users = 0
        self.compressions = Compressions(path, log)
        self.rotation_failing = False  # logged once per episode, as write errors are
        self._open()

    def __repr__(self) -> str:
        return f"LogFile({self.path!r}, size={self.size})"

    def _open(self) -> None:
        """Open the path for appending, creating its directory; raise :class:`LogFileError`."""
        directory = os.path.dirname(self.path)
        try:
            if directory and not os.path.isdir(directory):
                with contextlib.suppress(FileExistsError):  # not a directory: open says so
                    os.makedirs(directory, mode=DIR_MODE)
            fd = os.open(
                self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE
            )
        except OSError as exc:
            raise LogFileError(
                exc.errno, f"cannot open log file {self.path}: {exc.strerror or exc}"
            ) from exc
        self.fd = fd
        self.size = os.fstat(fd).st_size
        self.at_line_start = self.size == 0 or _ends_with_newline(fd, self.size)

    def _close_fd(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None

    def write(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        """Append ``data[start:end]``, rotating between lines whenever the file would
        pass ``max_size``. A single line longer than ``max_size`` is written whole."""
        limit = self.rotation.max_size
        end = len(data) if end is None else end
        while start < end:
            room = limit - self.size
            if not limit or end - start <= room:
                self._write(memoryview(data)[start:end])
                return
            # after the last whole line that fits
            cut = data.rfind(b"\n", start, start + max(room, 0)) + 1
            if cut == 0:
                if self.size > 0 and self.at_line_start:
                    # nothing more fits: the line starts the next file
                    if not self.rotate():
                        break
                    continue
                stop = data.find(b"\n", start, end) + 1 or end  # a line longer than a file
                self._write(memoryview(data)[start:stop])
                start = stop
                if self.at_line_start and not self.rotate():
                    break
                continue
            self._write(memoryview(data)[start:cut])
            start = cut
            if not self.rotate():
                break
        if start < end:  # the rotation failed: the rest goes on past max_size
            self._write(memoryview(data)[start:end])

    def _write(self, data: memoryview) -> None:
        if self.fd is None:
            try:
                self._open()
            except LogFileError as exc:
                self._failed(str(exc), len(data))
                return
        assert self.fd is not None
        if self.error is not None and not self.at_line_start and data:
            data = memoryview(b"\n" + data)  # do not glue to a line cut short by the failure
        view = data
        try:
            while view:
                written = os.write(self.fd, view)
                self.size += written
                self.at_line_start = view[written - 1] == 0x0A
                view = view[written:]
        except OSError as exc:
            self._failed(f"{exc.strerror or exc}", len(view))
            return
        if self.error is not None:
            self.log.warning("log file writing resumed", path=self.path, lost_bytes=self.dropped)
            self.error = None
            self.dropped = 0

    def _failed(self, reason: str, lost: int) -> None:
        self.dropped += lost
        if self.error is None:
            self.error = reason
            self.log.error(
                "log file write failed: output is dropped until it works again",
                path=self.path,
                error=reason,
            )

    def rotate(self) -> bool:
        """``NAME.log`` -> ``NAME.log.1`` -> ... -> ``NAME.log.KEEP``; a new ``NAME.log``.

        False when it could not be done (a rotated name that is a directory, a read-only
        directory): the error is logged once until a rotation works again, and the
        current file stays open (it grows past ``max_size`` meanwhile).
        """
        keep = self.rotation.keep
        self._close_fd()
        try:
            with self.compressions.lock:
                self._shift(keep)
        except OSError as exc:
            if not self.rotation_failing:
                self.log.error(
                    "log file rotation failed: the file grows past max_size until it works",
                    path=self.path,
                    error=exc.strerror or str(exc),
                )
            self.rotation_failing = True
            try:
                self._open()  # the same file, as it is
            except LogFileError as reopen:
                self._failed(str(reopen), 0)
            return False
        if self.rotation_failing:
            self.log.warning("log file rotation works again", path=self.path)
            self.rotation_failing = False
        self.size, self.at_line_start = 0, True
        try:
            self._open()
        except LogFileError as exc:
            self._failed(str(exc), 0)
            return True
        if keep and self.rotation.compress:
            with self.compressions.lock:
                self.compressions.start()
        return True

    def _shift(self, keep: int) -> None:
        """Rename the rotated files one up (dropping the oldest) and the file to ``.1``."""
        if keep == 0:
            os.unlink(self.path)
            return
        compressions = self.compressions
        for compressed in (False, True):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(rotated_name(self.path, keep, compressed))
        compressions.dropped(keep)
        for index in range(keep - 1, 0, -1):
            for compressed in (False, True):
                with contextlib.suppress(FileNotFoundError):
                    os.rename(
                        rotated_name(self.path, index, compressed),
                        rotated_name(self.path, index + 1, compressed),
                    )
                    if not compressed:
                        compressions.moved(index, index + 1)
        os.rename(self.path, rotated_name(self.path, 1, False))

    def reopen(self) -> None:
        """Close and open the path again (after logrotate moved the file away)."""
        old = self.fd
        self.fd = None
        try:
            self._open()
        except LogFileError as exc:
            self.fd = old  # keep writing where we did
            self.log.error("log file reopen failed", path=self.path, error=str(exc))
            return
        if old is not None:
            with contextlib.suppress(OSError):
                os.close(old)

    def close(self) -> None:
        """Close the file (a compression still running finishes on its own)."""
        self._close_fd()


def _ends_with_newline(fd: int, size: int) -> bool:
    try:
        return os.pread(fd, 1, size - 1) == b"\n"
    except OSError:
        return True


_lock = threading.Lock()
_open_files: dict[str, LogFile] = {}


def open_log_file(path: str, rotation: Rotation, log: Any = None) -> LogFile:
    """The open :class:`LogFile` of ``path`` (one per absolute path), with one more user.

    Raises :class:`LogFileError` when the file cannot be opened. Pair with
    :func:`release_log_file`.
    """
    key = os.path.abspath(path)
    with _lock:
        existing = _open_files.get(key)
        if existing is None:
            existing = _open_files[key] = LogFile(key, rotation, log)
        existing.users += 1
        return existing


def release_log_file(file: LogFile) -> None:
    """One user less; the file is closed when it had the last one."""
    with _lock:
        file.users -= 1
        if file.users <= 0:
            if _open_files.get(file.path) is file:
                del _open_files[file.path]
            file.close()


def reopen_all() -> list[str]:
    """Reopen every open log file; return their paths."""
    with _lock:
        files = list(_open_files.values())
    for file in files:
        file.reopen()
    return [file.path for file in files]
