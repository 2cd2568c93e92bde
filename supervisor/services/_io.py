"""One task per process: stdout, stderr and the exit (pidfd) multiplexed on one fd.

A selector (epoll on Linux, kqueue on BSD/macOS) watches both pipes and the pidfd; the
service's own task waits on the selector's fd with ``anyio.wait_readable`` and then
handles whatever is ready. Compared with a task per pipe plus a reaper task, this keeps
starting and stopping hundreds of services cheap: there is nothing else to schedule or
cancel. Where the selector has no fd, or the kernel has no pidfd, the loop falls back to
short timed polls.
"""

from __future__ import annotations

import os
import selectors
from collections.abc import Callable

import anyio

from supervisor.concurrency import move_on_after, sleep
from supervisor.services._child import Child

LineSink = Callable[[str, str], None]
"""Receives ``(stream, line)`` for every line of output."""


class LineSplitter:
    """Cuts a byte stream into lines; a line longer than ``limit`` bytes is truncated.

    A line ends at ``\n``; the ``\r`` of a ``\r\n`` is dropped and does not count
    toward the limit (a lone ``\r`` ends no line). A longer line is cut at the limit
    (at a character boundary, never inside a UTF-8 sequence), marked
    ``…[truncated at N bytes]``, and the rest of it is dropped as it arrives: the buffer
    never holds more than ``limit`` bytes plus one chunk. Invalid UTF-8 becomes U+FFFD.
    How the output is cut into chunks never changes the lines.
    """

    def __init__(self, stream: str, sink: LineSink, limit: int) -> None:
        self.stream = stream
        self.sink = sink
        self.limit = limit
        self._buf = bytearray()
        self._dropping = False  # inside an over-long line, discarding up to its newline

    def _emit(self, raw: bytes, truncated: bool = False) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if truncated:
            text += f" …[truncated at {self.limit} bytes]"
        self.sink(self.stream, text)

    def _truncate(self, line: bytearray) -> None:
        """Emit the first ``limit`` bytes of ``line`` (which is longer), marked."""
        end = self.limit
        # Back up to the start of a character the cut would split (the byte after the
        # cut is a UTF-8 continuation byte, 0b10xxxxxx).
        start = end
        while start > max(0, end - 3) and line[start] & 0xC0 == 0x80:
            start -= 1
        if line[start] >= 0xC0:  # a lead byte: its character is left out
            end = start
        self._emit(bytes(line[:end]), truncated=True)

    def feed(self, data: bytes) -> None:
        """Take a chunk of output; emit every complete line."""
        parts = data.split(b"\n")
        last = len(parts) - 1
        buf = self._buf
        limit = self.limit
        for index, part in enumerate(parts):
            if self._dropping:
                if index != last:
                    self._dropping = False
                continue
            buf += part
            if index != last:  # a complete line
                content = len(buf) - 1 if buf.endswith(b"\r") else len(buf)
                if content > limit:
                    self._truncate(buf)
                else:
                    self._emit(bytes(buf))
                buf.clear()
            elif len(buf) > limit + 1 or (len(buf) == limit + 1 and not buf.endswith(b"\r")):
                # Over the limit whatever comes next (one byte more may be the CR of CRLF).
                self._truncate(buf)
                buf.clear()
                self._dropping = True

    def flush(self) -> None:
        """End of stream: emit a last line that had no newline."""
        if self._buf:
            self._emit(bytes(self._buf))
            self._buf.clear()


class ChildIO:
    """Reads a child's output line by line and notices its exit, from the calling task."""

    def __init__(self, child: Child, sink: LineSink, limit: int) -> None:
        self.child = child
        self.open_pipes = 0
        self._selector = selectors.DefaultSelector()
        for stream, pipe in (("stdout", child.popen.stdout), ("stderr", child.popen.stderr)):
            if pipe is not None:
                self._selector.register(
                    pipe.fileno(), selectors.EVENT_READ, LineSplitter(stream, sink, limit)
                )
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
            splitter = key.data
            if splitter is None:  # the pidfd: the child exited
                self._selector.unregister(key.fd)
                self._pidfd = None
                self.child.reap()
                continue
            if not isinstance(splitter, LineSplitter):
                splitter()
                continue
            try:
                data = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                splitter.feed(data)
            else:
                splitter.flush()
                self._selector.unregister(key.fd)
                self.open_pipes -= 1
        if self._poll_exit and not self.child.exited:
            self.child.reap()

    def close(self) -> None:
        """Close the selector, the pipes and the pidfd (call when :meth:`run` is not running)."""
        self._selector.close()
        self.child.close()
