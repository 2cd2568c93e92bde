"""The supervision engine: per-service state machines, restarts, ordered shutdown."""

from supervisor.runtime.backoff import RestartTracker, wants_restart
from supervisor.runtime.broadcast import Broadcast, Subscription
from supervisor.runtime.clock import Clock, LoopClock, VirtualClock
from supervisor.runtime.errors import (
    ServiceFailedError,
    ServiceStartError,
    StartError,
    StartTimeoutError,
    SupervisorError,
    SupervisorFailed,
    UnknownService,
    UnknownServiceError,
)
from supervisor.runtime.spec import ServiceSpec, service_callable
from supervisor.runtime.state import (
    LogLine,
    ServiceEvent,
    ServiceState,
    ServiceStatus,
    State,
    StatusList,
)
from supervisor.runtime.supervisor import ReloadPlan, Supervisor

__all__ = [
    "Broadcast",
    "Clock",
    "LogLine",
    "LoopClock",
    "ReloadPlan",
    "RestartTracker",
    "ServiceEvent",
    "ServiceFailedError",
    "ServiceSpec",
    "ServiceStartError",
    "ServiceState",
    "ServiceStatus",
    "StartError",
    "StartTimeoutError",
    "State",
    "StatusList",
    "Subscription",
    "Supervisor",
    "SupervisorError",
    "SupervisorFailed",
    "UnknownService",
    "UnknownServiceError",
    "VirtualClock",
    "service_callable",
    "wants_restart",
]
