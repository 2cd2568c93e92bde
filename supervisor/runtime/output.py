"""A service's output as the runtime keeps it: who follows it, and its last lines.

The lines themselves are kept by :class:`~supervisor.logs.OutputBuffer` (and written to
log files by the process service); this module turns them into :class:`LogLine` items
for followers (:class:`OutputFeed`) and reads the last ones back, from the buffer and,
past it, from the log files (:func:`last_lines`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from supervisor.config.models import LogSettings
from supervisor.logs import OutputBuffer, tail_file
from supervisor.runtime.broadcast import Broadcast
from supervisor.runtime.state import LogLine


class OutputFeed(Broadcast[LogLine]):
    """The followers of one service's output (``logs -f``): lines become :class:`LogLine`
    items only while someone follows."""

    def __init__(self, name: str, maxlen: int) -> None:
        super().__init__(maxlen)
        self.name = name

    def publish_lines(self, stream: str, lines: list[str], when: float) -> None:
        """Hand each of ``lines`` to every follower."""
        name, publish = self.name, self.publish
        for line in lines:
            publish(LogLine(name, stream, line, when))


def last_lines(
    name: str,
    buffer: OutputBuffer,
    settings: LogSettings | None,
    lines: int | None,
    others: Callable[[], Iterable[LogSettings]],
) -> list[LogLine]:
    """The last ``lines`` lines of service ``name``: its buffer's, continued back into its
    log files when the buffer has fewer (all the buffer holds when ``None``).

    The lines read from a file come first, with the stream ``file`` and no time of their
    own (the file's, at most the oldest buffered line's). A file that other services
    write too (``others()``: their log settings) is not read back: its lines could not
    be told apart.
    """
    kept = [LogLine(name, stream, text, when) for stream, text, when in buffer.tail(None)]
    if lines is None or len(kept) >= lines or settings is None or _shared(settings, others()):
        return kept[-lines:] if lines else ([] if lines == 0 else kept)
    oldest = kept[0].time if kept else time.time()
    older: list[LogLine] = []
    paths = {"file": settings.file}
    if settings.stderr_file is not None:
        paths = {"stdout": settings.file, "stderr": settings.stderr_file}
    for stream, path in paths.items():
        if path is None:
            continue
        read = tail_file(path, lines, limit=buffer.limit, keep=settings.keep)
        # the file ends with what the buffer holds: only what comes before it is new
        buffered = sum(1 for line in kept if stream == "file" or line.stream == stream)
        for text, mtime in read[: max(0, len(read) - buffered)]:
            older.append(LogLine(name, "file", text, min(mtime, oldest)))
    older.sort(key=lambda line: line.time)
    return [*older, *kept][-lines:]


def _shared(mine: LogSettings, others: Iterable[LogSettings]) -> bool:
    """Whether one of ``others`` writes to one of the files of ``mine``."""
    paths = {os.path.abspath(p) for p in (mine.file, mine.stderr_file) if p is not None}
    return any(
        path is not None and os.path.abspath(path) in paths
        for theirs in others
        for path in (theirs.file, theirs.stderr_file)
    )
