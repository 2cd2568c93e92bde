"""Request lines read off a control connection, in bounded memory."""

from __future__ import annotations

import anyio
from anyio.abc import ByteReceiveStream


class LineTooLong(Exception):
    """A line passed the limit; the next :meth:`LineReader.readline` skips the rest of it."""


class LineReader:
    """Splits a byte stream into lines (without their newline) of at most ``limit`` bytes.

    A longer line raises :class:`LineTooLong` as soon as it passes the limit, so the
    caller can answer at once; its remaining bytes are then skipped up to its newline.
    At end of stream, a last line without a newline is still returned. The buffer never
    holds more than ``limit`` bytes plus one received chunk.
    """

    def __init__(self, stream: ByteReceiveStream, limit: int, chunk: int = 65536) -> None:
        self.stream = stream
        self.limit = limit
        self.chunk = chunk
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer already known to hold no newline
        self._skipping = False  # inside a line that was too long
        self._eof = False

    async def readline(self) -> bytes | None:
        """The next line, or ``None`` at end of stream.

        Raises :class:`LineTooLong`, and what the stream raises when the peer vanishes
        (``anyio.BrokenResourceError``, ``OSError``...).
        """
        while True:
            newline = self._buffer.find(b"\n", self._scanned)
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                self._scanned = 0
                if self._skipping:
                    self._skipping = False
                    continue
                if len(line) > self.limit:
                    raise LineTooLong
                return line
            if self._skipping:
                self._buffer.clear()
            elif len(self._buffer) > self.limit:
                self._buffer.clear()
                self._skipping = True
                self._scanned = 0
                raise LineTooLong
            self._scanned = len(self._buffer)
            if self._eof:
                return self._rest()
            try:
                self._buffer += await self.stream.receive(self.chunk)
            except anyio.EndOfStream:
                self._eof = True

    def _rest(self) -> bytes | None:
        """What is left at end of stream: a last line without newline, or ``None``."""
        if self._skipping or not self._buffer:
            self._buffer.clear()
            return None
        line = bytes(self._buffer)
        self._buffer.clear()
        return line

    async def drain(self) -> None:
        """Read and discard until end of stream (or until the peer vanishes: no error)."""
        self._buffer.clear()
        self._scanned = 0
        try:
            while not self._eof:
                await self.stream.receive(self.chunk)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        self._eof = True
