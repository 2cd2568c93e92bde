"""Where the library's loggers come from: the application's structlog setup, or stdlib logging.

An application that configured structlog (``structlog.is_configured()``) gets the
supervisor's events through its own processors, as ``structlog.get_logger(name)`` would.
One that did not, which is most applications using plain :mod:`logging`, gets them as
records of the stdlib logger ``name`` (``supervisor``, ``supervisor.control``...), so they
obey its level and handlers instead of structlog's unconfigured default (every event printed
on stdout). The CLI configures structlog itself (:mod:`supervisor.logging`), so the daemon's
output does not depend on this.

The choice is made once per logger, at its first event (so a supervisor built before the
application configures its logging follows that configuration), not at each event: later
calls go straight to the chosen logger, and on the stdlib side an event below the logger's
level costs one ``isEnabledFor`` check, before any processing.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import structlog
import structlog.stdlib

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}

_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
"""Attributes of a ``LogRecord``: an event field with such a name gets a ``_`` suffix."""

_NOT_IN_TEXT = frozenset({"service", "reason", "previous"})


def get_logger(name: str = "supervisor", **initial: Any) -> Any:
    """A logger for the library's events, bound to ``initial``; it picks its output at its
    first event (see :class:`DeferredLogger`)."""
    return DeferredLogger(name, initial)


def resolve(name: str, context: dict[str, Any]) -> Any:
    """The logger to use now: ``structlog.get_logger(name)`` if the application configured
    structlog, else a structlog-style logger writing to ``logging.getLogger(name)``."""
    if structlog.is_configured():
        return structlog.get_logger(name).bind(**context)
    return StdlibEventLogger(logging.getLogger(name), [to_stdlib_call], dict(context))


class DeferredLogger:
    """A structlog-style logger (``info(event, **fields)``, ``bind()``...) that chooses
    between structlog and stdlib logging at its first event, not when it is made.

    So a supervisor built before the application sets its logging up still follows that
    setup. Each method is looked up once: later calls go straight to the chosen logger.
    """

    def __init__(
        self, name: str, context: dict[str, Any], parent: DeferredLogger | None = None
    ) -> None:
        self._name = name
        self._context = context
        """The bound fields: all of them, or (with a parent) those added to its own."""
        self._parent = parent
        self._chosen: Any = None

    def bind(self, **values: Any) -> Any:
        """A logger with ``values`` added to the bound fields."""
        if self._chosen is not None:
            return self._chosen.bind(**values)
        return DeferredLogger(self._name, values, self)

    def _resolve(self) -> Any:
        if self._chosen is None:
            # A bound child resolves through its parent, as structlog's own bind() does:
            # a thousand services share one underlying logger, not one each.
            parent = self._parent
            if parent is None:
                self._chosen = resolve(self._name, self._context)
            else:
                self._chosen = parent._resolve().bind(**self._context)
                self._parent = None
        return self._chosen

    def __getattr__(self, attribute: str) -> Any:
        # Only reached for what the instance lacks: the logging methods, before their first use.
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        self._resolve()
        value = getattr(self._chosen, attribute)
        setattr(self, attribute, value)
        return value


class StdlibEventLogger(structlog.stdlib.BoundLogger):
    """structlog's stdlib logger that skips all processing of an event its level filters out.

    The methods the library calls check the level first, before any processing: a process
    writing lines that the application's level hides costs one ``isEnabledFor`` per line.
    """

    def debug(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        """Log at DEBUG if the logger is enabled for it."""
        if self._logger.isEnabledFor(logging.DEBUG):
            return self._proxy_to_logger("debug", event, *args, **kw)
        return None

    def info(self, event: str | None = None, *args: Any, **kw: Any) -> Any:
        """Log at INFO if the logger is enabled for it."""
        if self._logger.isEnabledFor(logging.INFO):
            return self._proxy_to_logger("info", event, *args, **kw)
        return None

    def _proxy_to_logger(
        self, method_name: str, event: str | None = None, *event_args: str, **event_kw: Any
    ) -> Any:
        if not self._logger.isEnabledFor(_LEVELS.get(method_name, logging.INFO)):
            return None
        return super()._proxy_to_logger(method_name, event, *event_args, **event_kw)


def to_stdlib_call(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The last processor: the arguments of the ``logging.Logger`` call for one event.

    The message is one readable line (``api: failed (exited 1) error=...``; a process's
    output line reads ``api | text``); every field is also an attribute of the record
    (``record.service``, ``record.reason``, ``record.event``...) for structured handlers.
    """
    fields = dict(event_dict)
    event = str(fields.pop("event", ""))
    call: dict[str, Any] = {}
    for key in ("exc_info", "stack_info"):
        if key in fields:
            call[key] = fields.pop(key)
    fields.pop("positional_args", None)
    call["extra"] = {
        (f"{key}_" if key in _RESERVED else key): value
        for key, value in {"event": event, **fields}.items()
    }
    return (_text(event, fields),), call


def _text(event: str, fields: dict[str, Any]) -> str:
    service = fields.get("service")
    if service is not None and "line" in fields and "stream" in fields:
        return f"{service} | {fields['line']}"
    parts = [f"{service}: {event}" if service is not None else event]
    if fields.get("reason"):
        parts.append(f"({fields['reason']})")
    parts.extend(
        f"{key}={_value(value)}"
        for key, value in fields.items()
        if key not in _NOT_IN_TEXT and value is not None
    )
    return " ".join(parts)


def _value(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if " " in value or not value else value
    return repr(value)
