"""From bytes to lines of text: the one definition of what an output line is.

A line ends at ``\\n``; the ``\\r`` of a ``\\r\\n`` is dropped and does not count toward
the limit (a lone ``\\r`` ends no line). A longer line is cut at the limit (at a
character boundary, never inside a UTF-8 sequence) and marked ``…[truncated at N
bytes]``. Invalid UTF-8 becomes U+FFFD. How the output is cut into chunks never changes
the lines.

:class:`LineSplitter` applies this to a stream fed chunk by chunk; :func:`lines_of`
turns a block of complete lines into text at C speed when no line is too long (the
common case), and falls back to the splitter otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

LineSink = Callable[[str, str], None]
"""Receives ``(stream, line)`` for every line of output."""


def truncation_marker(limit: int) -> str:
    """What ends a line cut at ``limit`` bytes."""
    return f" …[truncated at {limit} bytes]"


class LineSplitter:
    """Cuts a byte stream into lines; a line longer than ``limit`` bytes is truncated.

    The rest of a longer line is dropped as it arrives: the buffer never holds more than
    ``limit`` bytes plus one chunk.
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
            text += truncation_marker(self.limit)
        self.sink(self.stream, text)

    def _truncate(self, line: bytearray | bytes) -> None:
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


def lines_of(data: bytes, limit: int) -> list[str]:
    """The lines of ``data``, a block of complete lines (empty, or ending with ``\\n``).

    The same lines a :class:`LineSplitter` emits for ``data``, without a Python loop per
    line unless a line is over the limit.
    """
    if not data:
        return []
    # `\n` is never part of a UTF-8 sequence: decoding the block, then splitting it, gives
    # the same text as decoding each line.
    lines = data.decode("utf-8", "replace").split("\n")
    lines.pop()  # what follows the last newline: nothing
    # A character comes from 1 to 4 bytes: only a line of over limit / 4 characters may
    # be over the limit; then the bytes decide (rare: no second split otherwise).
    if (
        len(data) > limit
        and max(map(len, lines)) * 4 > limit
        and max(map(len, data.split(b"\n"))) > limit
    ):
        lines = []
        splitter = LineSplitter("", lambda _stream, line: lines.append(line), limit)
        splitter.feed(data)
        return lines
    if b"\r" in data:
        lines = list(map(str.rstrip, lines, itertools.repeat("\r")))
    return lines
