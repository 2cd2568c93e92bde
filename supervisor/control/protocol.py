"""The control protocol: line-delimited JSON over a Unix stream socket.

A request is one JSON object on one line, ``{"cmd": "status"}``; the answer is one JSON
object on one line, ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Streaming
commands (``logs`` with ``follow``, ``events``) answer once, then send one object per line
until the client closes the connection. See docs/control.md.

Requests come from anyone who can open the socket, so :func:`parse_request` accepts any
bytes: whatever they are, it returns a checked request or raises :class:`BadRequest`
(never ``RecursionError``, never a value that cannot be sent back as JSON).
"""

from __future__ import annotations

import json
import math
import reprlib
from typing import Any

COMMANDS = (
    "status",
    "start",
    "stop",
    "restart",
    "scale",
    "reload",
    "shutdown",
    "logs",
    "events",
    "reopen-logs",
)
"""Every command the server understands."""

MAX_LINE = 1024 * 1024
"""Longest request line accepted (bytes, without the newline)."""

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a request (the object itself is 1)."""

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60


class ProtocolError(ValueError):
    """A request or response line that is not a JSON object."""


class BadRequest(ProtocolError):
    """A request the server refuses; ``has_id`` when its ``id`` could be read (``id``)."""

    def __init__(self, message: str, id: Any = None, *, has_id: bool = False) -> None:
        super().__init__(message)
        self.id = id
        self.has_id = has_id


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of JSON (UTF-8, ending with a newline).

    Raises ``ValueError`` for a value JSON cannot carry (NaN, infinity, a cycle).
    """
    text = json.dumps(message, separators=(",", ":"), default=str, allow_nan=False)
    return text.encode() + b"\n"


def decode(line: bytes | str) -> dict[str, Any]:
    """Parse one line into a JSON object; raise :class:`ProtocolError` otherwise.

    Strict JSON: UTF-8, no ``NaN`` or ``Infinity``, no number too large for a float,
    nesting no deeper than the interpreter can parse.
    """
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        message = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise ProtocolError("not JSON: nested too deeply") from None
    except ValueError as exc:  # also ProtocolError from the hooks, and too-long integers
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"expected a JSON object, got {type(message).__name__}")
    return message


def _no_constant(name: str) -> Any:
    raise ProtocolError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ProtocolError(f"number out of range: {_short.repr(text)}")
    return value


def error(text: str) -> dict[str, Any]:
    """A failed answer."""
    return {"ok": False, "error": text}


def parse_request(line: bytes) -> dict[str, Any]:
    """Decode and check one request line: a known ``cmd`` with the arguments it needs.

    Raises :class:`BadRequest` (with the request's ``id`` when it could be read) for
    anything else. Unknown keys are ignored.
    """
    try:
        request = decode(line)
    except ProtocolError as exc:
        raise BadRequest(str(exc)) from None
    has_id = "id" in request and _valid_id(request["id"])
    request_id = request["id"] if has_id else None
    try:
        if "id" in request and not has_id:
            raise ProtocolError('"id" must be a string, a number or null')
        if too_deep(request, MAX_DEPTH):
            raise ProtocolError(f"nested deeper than {MAX_DEPTH} levels")
        cmd = request.get("cmd")
        if cmd not in COMMANDS:
            raise ProtocolError(
                f"unknown command {_short.repr(cmd)}: expected one of {', '.join(COMMANDS)}"
            )
        if cmd in ("start", "stop", "restart"):
            names_of(request)
            rolling_of(request)
        elif cmd == "scale":
            scale_args(request)
        elif cmd == "logs":
            logs_args(request)
    except ProtocolError as exc:
        raise BadRequest(str(exc), request_id, has_id=has_id) from None
    return request


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def too_deep(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels in ``value`` (iterative:
    safe on any depth)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def names_of(request: dict[str, Any]) -> list[str]:
    """The service names of a ``start``/``stop``/``restart`` request (``names`` or ``name``)."""
    names = request.get("names", request.get("name"))
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ProtocolError('expected "names": a non-empty list of service names')
    return names


def rolling_of(request: dict[str, Any]) -> bool:
    """The ``rolling`` flag of a ``restart`` request (one replica at a time)."""
    rolling = request.get("rolling")
    if rolling is not None and not isinstance(rolling, bool):
        raise ProtocolError('"rolling" must be true or false')
    if rolling and request.get("cmd") != "restart":
        raise ProtocolError('"rolling" applies to restart only')
    return bool(rolling)


def scale_args(request: dict[str, Any]) -> tuple[str, int]:
    """``name`` and ``replicas`` of a ``scale`` request, checked."""
    name = request.get("name")
    replicas = request.get("replicas")
    if not isinstance(name, str):
        raise ProtocolError('expected "name": the replicated service')
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        raise ProtocolError('expected "replicas": a whole number >= 1')
    return name, replicas


MAX_LOG_LINES = 100_000
"""Most lines one ``logs`` request may ask for: reading back millions of lines from a log
file would hold the daemon (and its memory) for seconds."""


def logs_args(request: dict[str, Any]) -> tuple[str | None, int | None, bool]:
    """``service``, ``lines`` and ``follow`` of a ``logs`` request, checked."""
    service = request.get("service")
    limit = request.get("lines")
    follow = request.get("follow")
    if service is not None and not isinstance(service, str):
        raise ProtocolError('"service" must be a service name')
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise ProtocolError('"lines" must be a whole number >= 0')
    if limit is not None and limit > MAX_LOG_LINES:
        raise ProtocolError(f'"lines" must be at most {MAX_LOG_LINES} (read the log file itself)')
    if follow is not None and not isinstance(follow, bool):
        raise ProtocolError('"follow" must be true or false')
    return service, limit, bool(follow)


def counts_as_up(service: dict[str, Any]) -> bool:
    """Whether a service of a status answer is as it should be for a health check: ready,
    completed (a one-shot), or not meant to run (``enabled: false``, never started)."""
    state = service.get("state")
    return state in ("ready", "completed") or (
        state == "stopped" and service.get("reason") == "disabled"
    )
