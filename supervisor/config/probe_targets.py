"""What a probe points at, checked when the file is loaded rather than at every start.

``tcp`` addresses, ``http`` URLs and ``log`` regexes: pure functions raising
``ValueError`` with the words the loader shows (``expected ...``). ``parse_address``
reads an address the way the tcp probe connects to it.
"""

from __future__ import annotations

import re
import warnings
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from supervisor.config.instances import sample

_PORT_RANGE = "a port from 1 to 65535"


def parse_address(target: str) -> tuple[str, int]:
    """Split ``host:port``, ``[v6]:port``, ``:port`` or ``port`` (host defaults to 127.0.0.1)."""
    text = target.strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host, port = host.strip("[]") or "127.0.0.1", port.strip()
    if not (port.isdecimal() and len(port) <= 5 and 0 < int(port) < 65536):
        raise ValueError(f"expected host:port with {_PORT_RANGE}")
    return host, int(port)


def check_url(url: str) -> str:
    """An ``http://`` or ``https://`` URL with a host (and a valid port, if any)."""
    try:
        parts = urlsplit(sample(url))
        port = parts.port
    except ValueError:
        raise ValueError(
            f"expected an http:// or https:// URL with a host and {_PORT_RANGE}"
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    if port == 0:
        raise ValueError(f"expected an http:// or https:// URL with a host and {_PORT_RANGE}")
    return url


def check_regex(pattern: str) -> str:
    """A pattern ``re`` compiles; the error says what is wrong with it."""
    try:
        with warnings.catch_warnings():  # FutureWarning on `[[`: valid today, said at run
            warnings.simplefilter("ignore")
            re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regex: {exc}") from None
    except (OverflowError, RecursionError) as exc:  # `a{99999999999}`, `((((...`
        reason = "nested too deep" if isinstance(exc, RecursionError) else str(exc)
        raise ValueError(f"invalid regex: {reason}") from None
    return pattern


def _address(value: Any) -> Any:
    # `tcp: 8000` is the port alone, as `tcp: "8000"` is.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        parse_address(sample(value))  # `:${PORT}`: checked as an instance sees it
    return value


TcpAddress = Annotated[
    str,
    BeforeValidator(_address),
    WithJsonSchema(
        {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 1, "maximum": 65535}]}
    ),
]
"""``host:port`` (or ``[v6]:port``, ``:port``, ``port``) with a port from 1 to 65535."""

HttpUrl = Annotated[
    str,
    AfterValidator(check_url),
    WithJsonSchema({"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]"}),
]
"""An ``http://`` or ``https://`` URL with a host."""

Regex = Annotated[str, AfterValidator(check_regex)]
"""A regular expression (Python's ``re`` syntax)."""
