"""One task per process: stdout, stderr and the exit (pidfd) multiplexed on one fd.

A selector (epoll on Linux, kqueue on BSD/macOS) watches both pipes and the pidfd; the
service's own task waits on the selector's fd with ``anyio.wait_readable`` and then
handles whatever is ready. Compared with a task per pipe plus a reaper task, this keeps
starting and stopping hundreds of services cheap: there is nothing else to schedule or
cancel. Where the selector has no fd, or the kernel has no pidfd, the loop falls back to
short timed polls.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import sys
from collections.abc import Callable
from typing import Protocol

import anyio

from supervisor.concurrency import move_on_after, sleep
from supervisor.logs.lines import LineSink, LineSplitter
from supervisor.services._child import Child

__all__ = ["ChildIO", "LineSink", "LineSplitter", "LineSplitters", "OutputReader"]

READ_SIZE = 256 * 1024
"""Bytes asked for by one read of a pipe."""

READS_PER_WAKEUP = 16
"""Reads of one pipe in a row while it has more (then the other fds get their turn)."""

PIPE_SIZE = 1024 * 1024
"""Pipe capacity asked for (Linux ``F_SETPIPE_SZ``): a chatty child writes more between two
wakeups of the supervisor, so each wakeup handles more lines. Best effort."""

_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031 if sys.platform == "linux" else None)


class OutputReader(Protocol):
    """Where the bytes read from a child's pipes go."""

    def feed(self, stream: str, chunk: bytes) -> None:
        """A chunk read from ``stream`` (``stdout`` or ``stderr``)."""
        ...

    def end(self, stream: str) -> None:
        """``stream`` reached end of file."""
        ...


class LineSplitters:
    """An :class:`OutputReader` that calls ``sink(stream, line)`` for every line."""

    def __init__(self, sink: LineSink, limit: int) -> None:
        self._splitters = {name: LineSplitter(name, sink, limit) for name in ("stdout", "stderr")}

    def feed(self, stream: str, chunk: bytes) -> None:
        """Split ``chunk`` into lines."""
        self._splitters[stream].feed(chunk)

    def end(self, stream: str) -> None:
        """Emit a last line without a newline."""
        self._splitters[stream].flush()


def _grow_pipe(fd: int) -> None:
    if _F_SETPIPE_SZ is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)


class ChildIO:
    """Reads a child's output in chunks and notices its exit, from the calling task.

    ``output`` receives the chunks: an :class:`OutputReader` (the output pipeline), or a
    ``sink(stream, line)`` called for every line (cut at ``limit`` bytes).
    """

    def __init__(self, child: Child, output: OutputReader | LineSink, limit: int = 0) -> None:
        self.child = child
        self.open_pipes = 0
        self.output: OutputReader = output if not callable(output) else LineSplitters(output, limit)
        self._selector = selectors.DefaultSelector()
        for stream, pipe in (("stdout", child.popen.stdout), ("stderr", child.popen.stderr)):
            if pipe is not None:
                _grow_pipe(pipe.fileno())
                self._selector.register(pipe.fileno(), selectors.EVENT_READ, stream)
                self.open_pipes += 1
        self._pidfd = child.pidfd
        self._poll_exit = child.pidfd is None  # no pidfd: exit is polled with waitpid
        if self._pidfd is not None:
            self._selector.register(self._pidfd, selectors.EVENT_READ, None)
        self._wait_fd: int | None
        try:
            self._wait_fd = self._selector.fileno()
        except AttributeError:
            self._wait_fd = None

    def watch(self, fd: int, callback: Callable[[], None]) -> None:
        """Also call ``callback()`` whenever ``fd`` is readable (e.g. the notify socket)."""
        self._selector.register(fd, selectors.EVENT_READ, callback)

    @property
    def drained(self) -> bool:
        """True once both pipes reached end of file."""
        return self.open_pipes == 0

    async def run(self, done: Callable[[], bool]) -> None:
        """Handle output and exit until ``done()`` is true (cancellable at any point)."""
        delay = 0.001
        while not done():
            if self._wait_fd is not None and (not self._poll_exit or self.child.exited):
                await anyio.wait_readable(self._wait_fd)
            elif self._wait_fd is not None:
                with move_on_after(delay):
                    await anyio.wait_readable(self._wait_fd)
                delay = min(delay * 2, 0.05)
            else:
                await sleep(delay)
                delay = min(delay * 2, 0.05)
            self._dispatch()

    def _dispatch(self) -> None:
        for key, _events in self._selector.select(0):
            target = key.data
            if target is None:  # the pidfd: the child exited
                self._selector.unregister(key.fd)
                self._pidfd = None
                self.child.reap()
            elif isinstance(target, str):
                self._read(key.fd, target)
            else:
                target()
        if self._poll_exit and not self.child.exited:
            self.child.reap()

    def _read(self, fd: int, stream: str) -> None:
        """Read what the pipe holds (a few reads at most), handing each chunk on."""
        output = self.output
        for _ in range(READS_PER_WAKEUP):
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                output.end(stream)
                self._selector.unregister(fd)
                self.open_pipes -= 1
                return
            output.feed(stream, data)
            if len(data) < READ_SIZE:
                return  # the pipe is empty now: no need to ask again

    def close(self) -> None:
        """Close the selector, the pipes and the pidfd (call when :meth:`run` is not running)."""
        self._selector.close()
        self.child.close()
