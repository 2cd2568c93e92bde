"""structlog configuration for the command line (the library never configures logging).

``configure(fmt, level)`` sets up one of two renderings on stderr:

* ``console``: a line per event for people: ``12:00:01 info  api: ready``; the output of a
  process renders as ``api | listening on 8000`` (events that carry ``service``, ``stream``
  and ``line``), with colors when the stream is a terminal;
* ``json``: one JSON object per line (``timestamp``, ``level``, ``event`` and the event's
  keys), for log collectors.

``auto`` picks ``console`` when stderr is a terminal and ``json`` otherwise.
"""

from __future__ import annotations

import json
import logging as std_logging
import sys
import time
import traceback
import zlib
from collections.abc import Iterable, MutableMapping
from typing import TYPE_CHECKING, Any, TextIO, cast

if TYPE_CHECKING:
    from supervisor.logs.echo import Echo

FORMATS = ("auto", "console", "json")
"""Values of ``--log-format``."""

LEVELS = {
    "debug": std_logging.DEBUG,
    "info": std_logging.INFO,
    "warning": std_logging.WARNING,
    "error": std_logging.ERROR,
}
"""Values of ``--log-level`` and their numeric levels."""

_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_BOLD = "\x1b[1m"
_LEVEL_COLORS = {
    "debug": "\x1b[2m",
    "info": "\x1b[32m",
    "warning": "\x1b[33m",
    "error": "\x1b[31;1m",
    "critical": "\x1b[31;1m",
}
_PALETTE = ("\x1b[36m", "\x1b[35m", "\x1b[34m", "\x1b[33m", "\x1b[32m", "\x1b[96m", "\x1b[95m")
_STATE_COLORS = {
    "ready": "\x1b[32m",
    "completed": "\x1b[32m",
    "failed": "\x1b[31;1m",
    "backoff": "\x1b[33m",
    "stopped": "\x1b[2m",
}

EventDict = MutableMapping[str, Any]


def resolve_format(fmt: str, stream: TextIO) -> str:
    """``console`` or ``json``: what ``auto`` means for ``stream``."""
    if fmt == "auto":
        return "console" if _isatty(stream) else "json"
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return fmt


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _expected_failure(exc: BaseException) -> bool:
    """True for failures already described in words (a process exit, a start timeout).

    Their traceback would show the supervisor's internals, not a bug of the user's code.
    """
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return type(exc).__name__ in {
        "ProcessFailed",
        "StartTimeout",
        "HealthCheckFailed",
        "WatchdogTimeout",
        "StartError",
    }


class _DropExpectedTracebacks:
    """Remove ``exc_info`` of expected failures (unless ``debug``): the reason says it all."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep

    def __call__(self, _logger: Any, _name: str, event: EventDict) -> EventDict:
        exc = event.get("exc_info")
        if not self.keep and isinstance(exc, BaseException) and _expected_failure(exc):
            del event["exc_info"]
        return event


class ConsoleRenderer:
    """Render an event as one readable line (plus a traceback where there is one).

    Process output (``service``, ``stream``, ``line``) renders as ``api | text``; other
    events as ``HH:MM:SS level service: event key=value ...``.
    """

    def __init__(self, colors: bool = False, names: Iterable[str] = ()) -> None:
        self.colors = colors
        self.width = max((len(n) for n in names), default=0)

    def _paint(self, text: str, color: str | None) -> str:
        return f"{color}{text}{_RESET}" if self.colors and color else text

    def _service_color(self, name: str) -> str:
        return _PALETTE[zlib.crc32(name.encode()) % len(_PALETTE)]

    def label(self, service: str) -> str:
        """The service's name as it starts its output lines: padded, colored."""
        self.width = max(self.width, len(service))
        return self._paint(f"{service:<{self.width}}", self._service_color(service))

    def __call__(self, _logger: Any, _name: str, event: EventDict) -> str:
        service = event.pop("service", None)
        if service is not None and "line" in event and "stream" in event:
            label = self.label(str(service))
            line = str(event["line"])
            if event["stream"] == "stderr" and self.colors:
                line = self._paint(line, _DIM)
            return f"{label} | {line}"
        stamp = event.pop("timestamp", None) or time.strftime("%H:%M:%S")
        level = str(event.pop("level", "info"))
        text = str(event.pop("event", ""))
        exc = event.pop("exc_info", None)
        exception = event.pop("exception", None)
        parts = [
            self._paint(str(stamp), _DIM),
            self._paint(f"{level:<7}", _LEVEL_COLORS.get(level)),
        ]
        if service is not None:
            parts.append(self._paint(f"{service}:", self._service_color(str(service))))
        parts.append(self._paint(text, _STATE_COLORS.get(text, _BOLD if service is None else None)))
        reason = event.pop("reason", None)
        event.pop("previous", None)  # a console reader follows the transitions in order
        if reason:
            parts.append(f"({reason})")
        parts.extend(f"{key}={_short(value)}" for key, value in event.items() if value is not None)
        rendered = " ".join(parts)
        if isinstance(exc, BaseException):
            rendered += "\n" + "".join(traceback.format_exception(exc)).rstrip()
        elif exception:
            rendered += "\n" + str(exception).rstrip()
        return rendered


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text) if (" " in text or not text) and isinstance(value, str) else text


_JSON = json.JSONEncoder(default=str, ensure_ascii=False)
"""One encoder for every event (``json.dumps`` with options builds one per call)."""


def _render_json(_logger: Any, _name: str, event: EventDict) -> str:
    return _JSON.encode(event)


def import_structlog_without_rich() -> None:
    """Import structlog as if the rich library were not installed (the ``tui`` extra
    brings it in), unless structlog is imported already.

    structlog imports rich when it can, for pretty tracebacks that the daemon never uses
    (its renderers are in this module): ~0.1 s of the daemon's start and several MB of
    its memory. rich itself stays importable afterwards. For the daemon's process only:
    an application embedding the library keeps its structlog as it is.
    """
    if "structlog" in sys.modules:
        return
    hidden = "rich" not in sys.modules
    if hidden:
        sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich` fails
    try:
        import structlog  # noqa: F401
    finally:
        if hidden:
            del sys.modules["rich"]


class LogSink:
    """The daemon's log stream, where a failed write is dropped instead of raised.

    A reader that went away (``supervisor run ... | head``: EPIPE), a full disk or an I/O
    error would otherwise raise inside whatever logged: a service's output pump, a
    transition, and from there stop every service. What cannot be written is lost, and
    counted in ``lost``.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lost = 0

    def write(self, text: str) -> int:
        """Write ``text``; 0 when the stream refused it."""
        try:
            return self.stream.write(text)
        except (OSError, ValueError):  # ValueError: the stream was closed
            self.lost += 1
            return 0

    def flush(self) -> None:
        """Flush the stream; a failure is dropped like a failed write."""
        try:
            self.stream.flush()
        except (OSError, ValueError):
            self.lost += 1


def configure(
    fmt: str = "auto",
    level: str = "info",
    *,
    stream: TextIO | None = None,
    names: Iterable[str] = (),
) -> str:
    """Configure structlog for the CLI; returns the rendering used (``console``/``json``).

    ``names`` (the service names) lets the console align output lines from the start.
    """
    import structlog  # here, not at the top: `supervisor status` never needs it

    # here, not at the top: client commands (`supervisor status`) import this module for
    # FORMATS and LEVELS and need none of the output pipeline
    from supervisor.logs.echo import ConsoleEcho, JsonEcho, NullEcho
    from supervisor.logs.echo import install as install_echo

    out = stream if stream is not None else sys.stderr
    rendering = resolve_format(fmt, out)
    if level not in LEVELS:
        raise ValueError(f"unknown log level {level!r}: expected one of {', '.join(LEVELS)}")
    numeric = LEVELS[level]
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _DropExpectedTracebacks(keep=numeric <= std_logging.DEBUG),
    ]
    colors = _isatty(out)
    out = cast(TextIO, LogSink(out))  # the writers below use write() and flush() only
    if rendering == "console":
        console = ConsoleRenderer(colors=colors, names=names)
        processors += [structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False), console]
        echo: Echo = ConsoleEcho(out, console.label, colors=console.colors)
    else:
        processors += [
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _render_json,
        ]
        echo = JsonEcho(out)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # Service output skips the processors: a block of lines is rendered at once, in the
    # same format (see supervisor.logs.echo).
    install_echo(echo if numeric <= std_logging.INFO else NullEcho())
    return rendering
