"""The last lines of a log file and of its rotated predecessors (``supervisor logs -n``)."""

from __future__ import annotations

import gzip
import os
from collections import deque

from supervisor.logs.compress import rotated_name
from supervisor.logs.lines import lines_of

BLOCK = 64 * 1024


def tail_file(path: str, count: int, *, limit: int, keep: int = 0) -> list[tuple[str, float]]:
    """Up to ``count`` last lines of ``path``, continued into ``path.1`` (or
    ``path.1.gz``) ... ``path.KEEP`` when the file alone has fewer, oldest first.

    Each line comes with the modification time of the file it was read from. A file
    that is missing or unreadable ends the search.
    """
    found: list[list[tuple[str, float]]] = []
    got = 0
    for name in _files(path, keep):
        if got >= count:
            break
        try:
            mtime = os.stat(name).st_mtime
            if name.endswith(".gz") and name != path:
                lines = _last_gz(name, count - got, limit)
            else:
                lines = _last(name, count - got, limit)
        except (OSError, EOFError):
            break
        found.append([(line, mtime) for line in lines])
        got += len(lines)
    return [line for group in reversed(found) for line in group]


def _files(path: str, keep: int) -> list[str]:
    """``path`` and the rotated files that exist after it, newest first, up to the first gap."""
    names = [path]
    for index in range(1, keep + 1):
        for compressed in (False, True):
            name = rotated_name(path, index, compressed)
            if os.path.exists(name):
                names.append(name)
                break
        else:
            break
    return names


def _last(path: str, count: int, limit: int) -> list[str]:
    """The last ``count`` lines of a plain file, reading it backwards by blocks."""
    with open(path, "rb") as file:
        end = file.seek(0, os.SEEK_END)
        chunks: list[bytes] = []
        newlines = 0
        position = end
        while position > 0 and newlines <= count:
            step = min(BLOCK, position)
            position -= step
            file.seek(position)
            chunk = file.read(step)
            chunks.append(chunk)
            newlines += chunk.count(b"\n")
    data = b"".join(reversed(chunks))
    if position > 0:  # the first line read may be the end of a longer one
        data = data[data.find(b"\n") + 1 :]
    if data and not data.endswith(b"\n"):
        data += b"\n"
    lines = lines_of(data, limit)
    return lines[-count:] if count else []


def _last_gz(path: str, count: int, limit: int) -> list[str]:
    """The last ``count`` lines of a gzipped file (read from the start: gzip cannot seek
    backwards)."""
    kept: deque[str] = deque(maxlen=count)
    with gzip.open(path, "rb") as file:
        rest = b""
        while block := file.read(BLOCK * 16):
            data = rest + block
            cut = data.rfind(b"\n") + 1
            kept.extend(lines_of(data[:cut], limit))
            rest = data[cut:]
            if len(rest) > limit * 2:
                rest = rest[: limit + 2]  # an over-long line: its head is what is shown
        if rest:
            kept.extend(lines_of(rest + b"\n", limit))
    return list(kept)
