"""structured-supervisor: a supervised service manager on anyio's structured concurrency."""

from supervisor.concurrency import TASK_STATUS_IGNORED, TaskStatus
from supervisor.runtime import (
    LogLine,
    ServiceEvent,
    ServiceFailedError,
    ServiceStartError,
    ServiceState,
    ServiceStatus,
    StartTimeoutError,
    Supervisor,
    SupervisorError,
    UnknownServiceError,
    VirtualClock,
)
from supervisor.services.context import ServiceContext

__version__ = "0.1.0"

__all__ = [
    "TASK_STATUS_IGNORED",
    "LogLine",
    "ServiceContext",
    "ServiceEvent",
    "ServiceFailedError",
    "ServiceStartError",
    "ServiceState",
    "ServiceStatus",
    "StartTimeoutError",
    "Supervisor",
    "SupervisorError",
    "TaskStatus",
    "UnknownServiceError",
    "VirtualClock",
    "__version__",
]
