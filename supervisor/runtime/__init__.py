"""The supervision engine: per-service state machines, restarts, ordered start and stop."""

from supervisor.runtime.runner import StartError
from supervisor.runtime.state import ServiceEvent, ServiceStatus, State
from supervisor.runtime.supervisor import (
    EventStream,
    Supervisor,
    SupervisorError,
    SupervisorFailed,
    UnknownService,
)

__all__ = [
    "EventStream",
    "ServiceEvent",
    "ServiceStatus",
    "StartError",
    "State",
    "Supervisor",
    "SupervisorError",
    "SupervisorFailed",
    "UnknownService",
]
