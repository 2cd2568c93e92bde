"""The output pipeline of one process: blocks of bytes in, files, buffer and echo out.

:class:`OutputPipeline` receives each chunk read from a pipe (``feed``) and hands on the
complete lines in it as one block: to the log file (bytes as read, optionally with a
timestamp prefix per line), to the ring buffer (kept as bytes), to the echo (rendered
in one go) and, only while someone listens (a ``log:`` probe waiting, a follower), as
lines of text. Nothing in the path of a block loops over its lines in Python unless a
line is over the limit.

Per stream, the end of a chunk that is not yet a whole line waits for the rest (at most
``limit`` bytes). A line that grows past the limit is written to the file as it comes,
and everywhere else shown cut and marked (see :mod:`supervisor.logs.lines`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from supervisor.logs.buffer import MAX_LINE, OutputBuffer
from supervisor.logs.echo import Echo
from supervisor.logs.files import LogFile
from supervisor.logs.lines import lines_of

LineListener = Callable[[str, str], None]
"""Receives ``(stream, line)`` for every line (a ``log:`` probe)."""


def stamp(when: float) -> bytes:
    """``2026-11-25T19:27:15.731Z ``: the prefix of a line in a file with ``timestamps``."""
    seconds, millis = divmod(round(when * 1000), 1000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{millis:03d}Z ".encode()


def stamped(data: bytes, prefix: bytes) -> bytes:
    """``data`` (complete lines) with ``prefix`` at the start of every line."""
    return prefix + data[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


@dataclass
class StreamOutput:
    """Where one stream goes, and its unfinished line."""

    name: str
    file: LogFile | None = None
    echo: bool = True
    partial: bytes = b""
    long: bool = False  # inside a line longer than the limit (its head was handed on)
    listeners: list[LineListener] = field(default_factory=list)


class OutputPipeline:
    """Routes the output of one process (see the module docstring).

    ``files`` maps a stream to its log file (none: not written); a stream is echoed
    when ``echo`` says so for it. ``clock`` gives the time of a block.
    """

    def __init__(
        self,
        service: str,
        *,
        buffer: OutputBuffer | None = None,
        files: Mapping[str, LogFile | None] | None = None,
        echo: Echo | None = None,
        echo_streams: Mapping[str, bool] | None = None,
        timestamps: bool = False,
        limit: int = MAX_LINE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.buffer = buffer
        self.echo = echo
        self.timestamps = timestamps
        self.limit = limit
        self.clock = clock
        self.listeners: list[LineListener] = []
        files = files or {}
        echo_streams = echo_streams or {}
        self.streams = {
            name: StreamOutput(
                name, files.get(name), echo is not None and echo_streams.get(name, True)
            )
            for name in ("stdout", "stderr")
        }

    def feed(self, stream: str, chunk: bytes) -> None:
        """Take a chunk read from ``stream``; hand on every line it completes."""
        out = self.streams[stream]
        start = 0
        if out.long:
            start = chunk.find(b"\n") + 1
            if not start:
                if out.file is not None:
                    out.file.write(chunk)
                return
            if out.file is not None:
                out.file.write(chunk, 0, start)
            out.long = False
        # Bounds rather than slices: a big chunk is never copied whole.
        cut = chunk.rfind(b"\n", start) + 1
        if cut:
            when = self.clock()
            if out.partial:  # the line begun in an earlier chunk ends first
                first = chunk.find(b"\n", start) + 1
                head, out.partial = out.partial + chunk[start:first], b""
                self._block(out, head, when)
                start = first
            if start < cut:
                self._block(out, chunk, when, start, cut)
            out.partial = chunk[cut:] if cut < len(chunk) else b""
        elif start < len(chunk):
            out.partial += chunk[start:] if start else chunk
        if len(out.partial) > self.limit + 1:  # over the limit whatever follows
            self._long_line(out)

    def end(self, stream: str) -> None:
        """End of ``stream``: a last line without a newline is a line too."""
        out = self.streams[stream]
        if out.long:
            out.long = False
            if out.file is not None:
                out.file.write(b"\n")
        elif out.partial:
            data, out.partial = out.partial + b"\n", b""
            self._block(out, data, self.clock())

    def _long_line(self, out: StreamOutput) -> None:
        head, out.partial = out.partial, b""
        out.long = True
        when = self.clock()
        if out.file is not None:
            out.file.write(stamp(when) + head if self.timestamps else head)
        # what follows the limit + 2 bytes cannot change how the line is shown
        self._block(out, head[: self.limit + 2] + b"\n", when, to_file=False)

    def _block(
        self,
        out: StreamOutput,
        data: bytes,
        when: float,
        start: int = 0,
        end: int | None = None,
        to_file: bool = True,
    ) -> None:
        """Hand on ``data[start:end]``, whole lines."""
        end = len(data) if end is None else end
        if to_file and out.file is not None:
            if self.timestamps:
                out.file.write(stamped(data[start:end], stamp(when)))
            else:
                out.file.write(data, start, end)
        if self.buffer is not None:
            self.buffer.add(out.name, data, when, start, end)
        if out.echo or self.listeners:
            block = data if start == 0 and end == len(data) else data[start:end]
            lines = lines_of(block, self.limit)
            if out.echo and self.echo is not None:
                self.echo.write(self.service, out.name, lines, when)
            for listener in self.listeners:
                for line in lines:
                    listener(out.name, line)
