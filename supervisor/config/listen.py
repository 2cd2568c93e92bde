"""The address the optional HTTP endpoint listens on (``supervisor.http.listen``).

``host:port``, ``[v6]:port``, ``:port`` or ``port``; without a host it is loopback
(``127.0.0.1``), so the endpoint is reachable from other machines only when an address is
written out. Port ``0`` picks a free port (tests, one-off runs).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
"""Host names that resolve to loopback on any sane system."""


def parse_listen(text: str) -> tuple[str, int]:
    """``(host, port)`` of a listen address; ``ValueError`` says what was expected."""
    value = text.strip()
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = "", value
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError("expected host:port (an IPv6 address in brackets: [::1]:9100)")
    host = host or "127.0.0.1"
    if not (port.isdecimal() and len(port) <= 5 and int(port) < 65536):
        raise ValueError("expected host:port with a port from 0 to 65535")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or a name that always means one)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_listen(value: str) -> str:
    parse_listen(value)
    return value


ListenAddress = Annotated[
    str,
    AfterValidator(_check_listen),
    WithJsonSchema({"type": "string", "examples": ["127.0.0.1:9100", "0.0.0.0:9100", ":9100"]}),
]
"""A listen address (see the module docstring)."""
