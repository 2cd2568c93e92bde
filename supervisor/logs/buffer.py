"""The ring buffer of a service's recent output, behind ``supervisor logs``.

Output is kept as the blocks it was read in (bytes of complete lines and their count),
not as one object per line: adding a block is a constant amount of work whatever it
holds. Lines are made (decoded, split, truncated) only when someone asks for them:
``tail()`` for ``supervisor logs``, and the follower callback while somebody follows.

The buffer keeps at least the last ``maxlen`` lines, except that it never holds more
than ``max_bytes`` (plus one block): a service writing very long lines keeps fewer of
them, and ``supervisor logs`` reads the rest from its log file when it has one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

from supervisor.logs.lines import lines_of

MAX_LINE = 64 * 1024
"""Longest output line kept (bytes); the rest of a longer line is dropped and marked."""

BYTES_PER_LINE = 4096
"""``max_bytes`` defaults to this many bytes per line kept (at least 1 MiB)."""

SMALL_BLOCK = 32 * 1024
"""Up to this size (bytes) a block's lines are all counted; above it, only its end is."""


class Followers(Protocol):
    """Whoever follows a service's output as it comes (``logs -f``)."""

    def has_subscribers(self) -> bool:
        """Whether anyone follows now (the lines are not handed over otherwise)."""
        ...

    def publish_lines(self, stream: str, lines: list[str], when: float) -> None:
        """Hand over ``lines`` of ``stream``, read at ``when``."""
        ...


@dataclass(frozen=True, slots=True)
class Block:
    """Lines of one stream read at once: ``data`` holds complete lines (bytes ending with
    a newline) or one line of text (``str``, from :meth:`OutputBuffer.add_line`)."""

    stream: str
    time: float
    data: bytes | str
    count: int


class OutputBuffer:
    """The last lines of one service's output, stdout and stderr in the order read."""

    def __init__(self, maxlen: int, *, limit: int = MAX_LINE, max_bytes: int | None = None):
        self.maxlen = maxlen
        self.limit = limit
        self.max_bytes = max(maxlen * BYTES_PER_LINE, 1 << 20) if max_bytes is None else max_bytes
        self._blocks: deque[Block] = deque()
        self._lines = 0
        self._bytes = 0
        self._window = max(4096, maxlen * 64)  # see _last_lines
        self.followers: Followers | None = None
        """Who gets every new line while it has subscribers (one object, not a pair of
        callbacks: a buffer per service, and each callback is objects for the collector)."""

    def __len__(self) -> int:
        """How many lines :meth:`tail` can give."""
        return min(self._lines, self.maxlen)

    def add(
        self, stream: str, data: bytes, when: float, start: int = 0, end: int | None = None
    ) -> None:
        """Keep ``data[start:end]``, complete lines of ``stream`` (ending with a newline).

        The bounds spare the caller a copy of a big chunk: only what is kept is copied.
        """
        end = len(data) if end is None else end
        whole = start == 0 and end == len(data)
        followers = self.followers
        if followers is not None and followers.has_subscribers():
            followers.publish_lines(
                stream, lines_of(data if whole else data[start:end], self.limit), when
            )
        if end - start <= SMALL_BLOCK:
            block = data if whole else data[start:end]
            count = block.count(b"\n")
        else:
            block, count = self._last_lines(data, start, end)
        self._keep(Block(stream, when, block, count), len(block))

    def add_line(self, stream: str, line: str, when: float) -> None:
        """Keep one line of text (the output a Python service hands in)."""
        self._keep(Block(stream, when, line, 1), len(line))
        followers = self.followers
        if followers is not None and followers.has_subscribers():
            followers.publish_lines(stream, [line], when)

    def _last_lines(self, data: bytes, start: int, end: int) -> tuple[bytes, int]:
        """``data[start:end]`` (a big block), or its end holding at least ``maxlen`` whole
        lines; and its line count.

        Only the end of the block is looked at: twice the bytes ``maxlen`` lines took in
        the previous big block (lines of a service tend to look alike). Counting every
        newline of a big block costs more than everything else done with it.
        """
        window = max(start, end - self._window)
        count = data.count(b"\n", window, end)
        if window > start and count > self.maxlen:
            first = data.find(b"\n", window, end) + 1  # the window's first line is not whole
            block, count = data[first:end], count - 1
        else:
            count += data.count(b"\n", start, window)
            block = data if start == 0 and end == len(data) else data[start:end]
        self._window = max(4096, int(2 * self.maxlen * len(block) / max(count, 1)) + 1)
        return block, count

    def _keep(self, block: Block, size: int) -> None:
        blocks = self._blocks
        blocks.append(block)
        self._lines += block.count
        self._bytes += size
        while blocks:
            first = blocks[0]
            first_size = len(first.data)
            if (
                self._lines - first.count < self.maxlen
                and self._bytes - first_size < self.max_bytes
            ):
                break
            blocks.popleft()
            self._lines -= first.count
            self._bytes -= first_size

    def tail(self, lines: int | None = None) -> list[tuple[str, str, float]]:
        """The last ``lines`` lines kept (all, at most ``maxlen``, when ``None``), oldest
        first, as ``(stream, line, time)``."""
        want = self.maxlen if lines is None else min(lines, self.maxlen)
        picked: list[list[tuple[str, str, float]]] = []
        got = 0
        for block in reversed(self._blocks):
            if got >= want:
                break
            texts = (
                [block.data] if isinstance(block.data, str) else lines_of(block.data, self.limit)
            )
            texts = texts[max(0, len(texts) - (want - got)) :]
            picked.append([(block.stream, text, block.time) for text in texts])
            got += len(texts)
        return [line for group in reversed(picked) for line in group]
