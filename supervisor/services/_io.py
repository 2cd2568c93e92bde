"""One task per process: stdout, stderr and the exit (pidfd) multiplexed on one fd.

A poller (an ``epoll`` object on Linux, else the platform's selector) watches both pipes
and the pidfd; the service's own task waits on the poller's fd with
``anyio.wait_readable`` and then handles whatever is ready. Compared with a task per pipe
plus a reaper task, this keeps starting and stopping hundreds of services cheap: there is
nothing else to schedule or cancel. Where the poller has no fd, or the kernel has no
pidfd, the loop falls back to short timed polls.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
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


Target = str | Callable[[], None] | None
"""What a ready fd means: a stream's name (a pipe), a callback, or None (the pidfd)."""


class _Poller:
    """Which of a few fds are readable, each with what to do about it (``target``).

    A bare ``select.epoll`` where there is one: its calls are single C calls, where the
    ``selectors`` module adds a Python layer (keys, lookups) that a stop of a few hundred
    processes paid for on every register, poll and unregister.
    """

    def __init__(self) -> None:
        self.targets: dict[int, Target] = {}
        self._epoll: select.epoll | None = None
        self._selector: selectors.BaseSelector | None = None
        if hasattr(select, "epoll"):
            self._epoll = select.epoll()
        else:
            self._selector = selectors.DefaultSelector()

    def fileno(self) -> int | None:
        """An fd readable whenever a watched fd is (None: poll with a timeout instead)."""
        if self._epoll is not None:
            return self._epoll.fileno()
        assert self._selector is not None
        try:
            return self._selector.fileno()  # type: ignore[attr-defined, no-any-return]
        except AttributeError:
            return None

    def register(self, fd: int, target: Target) -> None:
        """Watch ``fd`` for reading."""
        self.targets[fd] = target
        if self._epoll is not None:
            self._epoll.register(fd, select.EPOLLIN)
        else:
            assert self._selector is not None
            self._selector.register(fd, selectors.EVENT_READ)

    def unregister(self, fd: int) -> None:
        """Stop watching ``fd`` (before it is closed)."""
        del self.targets[fd]
        if self._epoll is not None:
            self._epoll.unregister(fd)
        else:
            assert self._selector is not None
            self._selector.unregister(fd)

    def ready(self) -> list[int]:
        """The watched fds that are readable (or hung up) now, without waiting."""
        if self._epoll is not None:
            return [fd for fd, _ in self._epoll.poll(0)]
        assert self._selector is not None
        return [key.fd for key, _ in self._selector.select(0)]

    def close(self) -> None:
        """Release the poller's own fd."""
        self.targets.clear()
        if self._epoll is not None:
            self._epoll.close()
        elif self._selector is not None:
            self._selector.close()


class ChildIO:
    """Reads a child's output in chunks and notices its exit, from the calling task.

    ``output`` receives the chunks: an :class:`OutputReader` (the output pipeline), or a
    ``sink(stream, line)`` called for every line (cut at ``limit`` bytes).
    """

    def __init__(self, child: Child, output: OutputReader | LineSink, limit: int = 0) -> None:
        self.child = child
        self.open_pipes = 0
        self.output: OutputReader = output if not callable(output) else LineSplitters(output, limit)
        self._poller = _Poller()
        for stream, pipe in (("stdout", child.popen.stdout), ("stderr", child.popen.stderr)):
            if pipe is not None:
                _grow_pipe(pipe.fileno())
                self._poller.register(pipe.fileno(), stream)
                self.open_pipes += 1
        self._pidfd = child.pidfd
        self._poll_exit = child.pidfd is None  # no pidfd: exit is polled with waitpid
        if self._pidfd is not None:
            self._poller.register(self._pidfd, None)
        self._wait_fd = self._poller.fileno()

    def watch(self, fd: int, callback: Callable[[], None]) -> None:
        """Also call ``callback()`` whenever ``fd`` is readable (e.g. the notify socket)."""
        self._poller.register(fd, callback)

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

    def poll(self) -> None:
        """Handle whatever is ready now, without waiting."""
        self._dispatch()

    def _dispatch(self) -> None:
        targets = self._poller.targets
        for fd in self._poller.ready():
            target = targets[fd]
            if target is None:  # the pidfd: the child exited (reaping closes the pidfd)
                self._poller.unregister(fd)
                self._pidfd = None
                self.child.reap()
            elif isinstance(target, str):
                self._read(fd, target)
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
                self._poller.unregister(fd)
                self.open_pipes -= 1
                return
            output.feed(stream, data)
            if len(data) < READ_SIZE:
                return  # the pipe is empty now: no need to ask again

    def close(self) -> None:
        """Close the poller, the pipes and the pidfd (call when :meth:`run` is not running)."""
        self._poller.close()
        self.child.close()
