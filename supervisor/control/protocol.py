"""The control protocol: line-delimited JSON over a Unix stream socket.

A request is one JSON object on one line, ``{"cmd": "status"}``; the answer is one JSON
object on one line, ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Streaming
commands (``logs`` with ``follow``, ``events``) answer once, then send one object per line
until the client closes the connection. See docs/control.md.
"""

from __future__ import annotations

import json
from typing import Any

COMMANDS = ("status", "start", "stop", "restart", "reload", "shutdown", "logs", "events")
"""Every command the server understands."""

MAX_LINE = 1024 * 1024
"""Longest request line accepted (bytes)."""


class ProtocolError(ValueError):
    """A request or response line that is not a JSON object."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of JSON (UTF-8, ending with a newline)."""
    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


def decode(line: bytes | str) -> dict[str, Any]:
    """Parse one line into a JSON object; raise :class:`ProtocolError` otherwise."""
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"expected a JSON object, got {type(message).__name__}")
    return message


def error(text: str) -> dict[str, Any]:
    """A failed answer."""
    return {"ok": False, "error": text}


def names_of(request: dict[str, Any]) -> list[str]:
    """The service names of a ``start``/``stop``/``restart`` request (``names`` or ``name``)."""
    names = request.get("names", request.get("name"))
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ProtocolError('expected "names": a non-empty list of service names')
    return names
