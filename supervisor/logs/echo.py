"""Echo: service output lines shown in the supervisor's own log (stderr by default).

Each block of lines read from a service goes to one :class:`Echo`:

* the command line installs a fast renderer (:class:`JsonEcho` or :class:`ConsoleEcho`)
  that turns a whole block into text with a few C-level joins, with no per-line
  structlog event;
* everywhere else (the library embedded in an application) :class:`StructlogEcho` logs
  each line as an ``output`` event through whatever structlog configuration the
  application has.

The fast renderer applies only while the structlog configuration it was installed with
is still in place: an application (or test) that configures structlog again gets its own
processors for output lines too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO


class Echo(Protocol):
    """Shows blocks of output lines of a service."""

    def write(self, service: str, stream: str, lines: list[str], when: float) -> None:
        """Show ``lines`` (read at ``when``, seconds since the epoch) of ``stream``."""
        ...


class StructlogEcho:
    """One structlog ``output`` event per line (``service``, ``stream``, ``line``)."""

    def __init__(self, log: Any) -> None:
        self.log = log

    def write(self, service: str, stream: str, lines: list[str], when: float) -> None:
        """Log each line through ``log`` (bound with the service's name)."""
        info = self.log.info
        for line in lines:
            info("output", stream=stream, line=line)


class NullEcho:
    """Shows nothing (output is below the configured log level)."""

    def write(self, service: str, stream: str, lines: list[str], when: float) -> None:
        """Drop the lines."""


_encode: Callable[[str], str] = json.encoder.encode_basestring


def iso_utc(when: float) -> str:
    """``2026-11-25T19:27:15.731473Z``: the timestamp format of the JSON log."""
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JsonEcho:
    """One JSON object per line, with the keys and order of the structlog JSON output:
    ``service``, ``stream``, ``line``, ``event`` (``output``), ``level``, ``timestamp``."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, service: str, stream: str, lines: list[str], when: float) -> None:
        """Render the block as JSON lines and write it at once."""
        if not lines:
            return
        head = f'{{"service": {_encode(service)}, "stream": {_encode(stream)}, "line": '
        tail = f', "event": "output", "level": "info", "timestamp": "{iso_utc(when)}"}}\n'
        self.out.write(head + (tail + head).join(map(_encode, lines)) + tail)
        self.out.flush()


_DIM = "\x1b[2m"
_RESET = "\x1b[0m"


class ConsoleEcho:
    """``label | line`` per line; ``label`` renders the service's name (padded, colored)."""

    def __init__(self, out: TextIO, label: Callable[[str], str], colors: bool = False) -> None:
        self.out = out
        self.label = label
        self.colors = colors

    def write(self, service: str, stream: str, lines: list[str], when: float) -> None:
        """Render the block as console lines and write it at once."""
        if not lines:
            return
        prefix = self.label(service) + " | "
        if self.colors and stream == "stderr":
            prefix += _DIM
            suffix = _RESET + "\n"
        else:
            suffix = "\n"
        self.out.write(prefix + (suffix + prefix).join(lines) + suffix)
        self.out.flush()


_installed: tuple[Echo, object] | None = None


def install(echo: Echo | None) -> None:
    """Use ``echo`` for output lines while structlog keeps its current configuration.

    Call it right after ``structlog.configure(...)``; ``None`` removes it.
    """
    import structlog

    global _installed
    _installed = None if echo is None else (echo, structlog.get_config()["processors"])


def echo_for(log: Any) -> Echo:
    """The echo to use now: the installed one if still current, else per-line events."""
    if _installed is not None:
        import structlog

        echo, owner = _installed
        if structlog.get_config()["processors"] is owner:
            return echo
    return StructlogEcho(log)
