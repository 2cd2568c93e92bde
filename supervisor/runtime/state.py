"""States of a service, the events that record their transitions, and status snapshots."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class State(StrEnum):
    """Where a service is in its life.

    ``pending -> starting -> ready -> stopping -> stopped``, plus ``backoff`` (waiting to
    restart), ``completed`` (a one-shot that exited 0) and ``failed`` (gave up: restart
    intensity exceeded, or a dependency failed).
    """

    PENDING = "pending"
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    STOPPED = "stopped"
    BACKOFF = "backoff"
    COMPLETED = "completed"
    FAILED = "failed"


SETTLED = frozenset({State.READY, State.COMPLETED, State.FAILED, State.STOPPED})
"""States in which start-up no longer waits for a service."""


@dataclass(frozen=True)
class ServiceEvent:
    """One state transition of one service."""

    service: str
    state: State
    previous: State
    time: float
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {**asdict(self), "state": str(self.state), "previous": str(self.previous)}


@dataclass(frozen=True)
class ServiceStatus:
    """A snapshot of one service, as ``Supervisor.status()`` returns it."""

    name: str
    state: State
    since: float
    restarts: int
    pid: int | None
    last_exit: str | None
    reason: str | None
    status_text: str | None
    kind: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {**asdict(self), "state": str(self.state)}
