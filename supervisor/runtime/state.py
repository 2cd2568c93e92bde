"""States of a service, the events that record their transitions, and status snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final


def _fields_dict(record: Any) -> dict[str, Any]:
    """The fields of a slotted dataclass ``record`` as a new dict, dicts among them copied.

    What ``dataclasses.asdict`` gives for these records (their fields are immutable values
    or a dict of strings), without its recursive deep copy: that was half the time of a
    ``status`` request for 300 services, and the whole cost of each line of ``logs``.
    """
    data: dict[str, Any] = {}
    for name in record.__slots__:
        value = getattr(record, name)
        data[name] = dict(value) if isinstance(value, dict) else value
    return data


class ServiceState(StrEnum):
    """Where a service is in its life (see docs/embedding.md for the diagram)."""

    PENDING = "pending"
    """Waiting for its dependencies to meet their conditions (or not started yet)."""
    STARTING = "starting"
    """Running, not ready yet (``task_status.started()`` not called, probe not passed)."""
    READY = "ready"
    """Running and ready: dependents waiting for ``ready`` may start."""
    STOPPING = "stopping"
    """Asked to stop: waits for its dependents to stop, then is cancelled."""
    STOPPED = "stopped"
    """Not running, on request (``stop``, shutdown)."""
    BACKOFF = "backoff"
    """Ended unexpectedly; waiting for the backoff delay before it is started again."""
    COMPLETED = "completed"
    """Ended by itself successfully and is not restarted (a one-shot that exited 0)."""
    FAILED = "failed"
    """Given up: too many restarts, a failure under ``restart: no``, or a dependency failed."""


State = ServiceState
"""Short alias of :class:`ServiceState`."""


class States:
    """The members of :class:`ServiceState` as plain class attributes, for the runtime's
    hot paths (``S.READY``, with ``S = States``).

    On Python 3.11 reading a member through its enum class runs the metaclass's
    ``__getattr__`` hook, several times slower than a plain attribute; the runtime reads
    states at every write of every runner.
    """

    PENDING: Final = ServiceState.PENDING
    STARTING: Final = ServiceState.STARTING
    READY: Final = ServiceState.READY
    STOPPING: Final = ServiceState.STOPPING
    STOPPED: Final = ServiceState.STOPPED
    BACKOFF: Final = ServiceState.BACKOFF
    COMPLETED: Final = ServiceState.COMPLETED
    FAILED: Final = ServiceState.FAILED


SETTLED = frozenset({ServiceState.READY, ServiceState.COMPLETED, ServiceState.FAILED})
"""States in which a starting service has reached an outcome."""

FINAL = frozenset({ServiceState.STOPPED, ServiceState.COMPLETED, ServiceState.FAILED})
"""States in which nothing runs or waits for this service any more."""


@dataclass(frozen=True, slots=True)
class ServiceEvent:
    """One state transition of one service, as published by ``Supervisor.events()``.

    ``time`` is wall-clock time (``time.time()``); ``reason`` says why in words (``waiting
    for db``, ``restarting in 0.2s``, ``dependency 'db' failed``); ``error`` describes the
    failure that caused the transition, if any.
    """

    service: str
    state: ServiceState
    previous: ServiceState
    time: float
    reason: str | None = None
    error: str | None = None
    restarts: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict (states as strings)."""
        data = _fields_dict(self)
        data["state"] = str(self.state)
        data["previous"] = str(self.previous)
        return data


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """A snapshot of one service, as returned by ``Supervisor.status()``.

    ``since`` is the wall-clock time of the last transition; ``last_exit`` says how the last
    run ended (``returned``, ``raised ValueError``, ``exited 1``, ``killed by SIGTERM``);
    ``last_error`` is the last failure; ``status_text`` is the service's own status line
    (``ctx.set_status()``, or ``STATUS=`` through the notify socket).
    """

    name: str
    kind: str
    state: ServiceState
    since: float
    restarts: int = 0
    reason: str | None = None
    last_exit: str | None = None
    last_error: str | None = None
    pid: int | None = None
    status_text: str | None = None
    depends_on: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict (the state as a string)."""
        data = _fields_dict(self)
        data["state"] = str(self.state)
        return data


class StatusList(list[ServiceStatus]):
    """``Supervisor.status()``: the snapshots in start order, also looked up by name.

    ``for s in sup.status()`` yields :class:`ServiceStatus`; ``sup.status()["db"]``,
    ``"db" in sup.status()``, ``.get(name)``, ``.names()`` and ``.to_dict()`` work by name.
    """

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            for status in self:
                if status.name == key:
                    return status
            raise KeyError(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            return any(status.name == key for status in self)
        return super().__contains__(key)

    def get(self, name: str) -> ServiceStatus | None:
        """The snapshot of service ``name``, or ``None``."""
        return next((status for status in self if status.name == name), None)

    def names(self) -> list[str]:
        """The service names, in start order."""
        return [status.name for status in self]

    def values(self) -> list[ServiceStatus]:
        """The snapshots (like ``dict.values()``)."""
        return list(self)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{name: status.to_dict()}``, JSON-serializable."""
        return {status.name: status.to_dict() for status in self}


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a service's output, kept in its ring buffer."""

    service: str
    stream: str
    line: str
    time: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict."""
        return _fields_dict(self)
