"""``tcp``: the probe passes when ``host:port`` accepts a TCP connection."""

from __future__ import annotations

import os

import anyio

from supervisor.config.probe_targets import parse_address
from supervisor.probes._base import Checker, ProbeFailed


class TcpChecker(Checker):
    """Connect to ``host:port`` and close the connection at once."""

    kind = "tcp"

    def __init__(self, target: str) -> None:
        super().__init__()
        self.host, self.port = parse_address(target)

    @property
    def description(self) -> str:
        """``tcp host:port``."""
        return f"tcp {self.host}:{self.port}"

    async def check(self) -> None:
        """Open and close one connection."""
        try:
            stream = await anyio.connect_tcp(self.host, self.port)
        except OSError as exc:
            raise ProbeFailed(_reason(exc)) from exc
        await stream.aclose()


def _reason(exc: OSError) -> str:
    """``connection refused`` rather than anyio's ``All connection attempts failed``."""
    cause = exc.__cause__
    if isinstance(cause, BaseExceptionGroup) and cause.exceptions:
        cause = cause.exceptions[0]
    if isinstance(cause, OSError):
        exc = cause
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return str(exc).lower()
