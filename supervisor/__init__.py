"""structured-supervisor: a supervised service manager on anyio's structured concurrency.

    from supervisor import Supervisor, ServiceContext, TASK_STATUS_IGNORED

See docs/embedding.md.
"""

from supervisor.concurrency import TASK_STATUS_IGNORED, TaskStatus
from supervisor.config import ConfigError
from supervisor.runtime import (
    LogLine,
    ServiceEvent,
    ServiceFailedError,
    ServiceStartError,
    ServiceState,
    ServiceStatus,
    StartError,
    StartTimeoutError,
    State,
    StatusList,
    Supervisor,
    SupervisorError,
    SupervisorFailed,
    UnknownService,
    UnknownServiceError,
    VirtualClock,
)
from supervisor.services.context import ServiceContext

__version__ = "0.1.0"

__all__ = [
    "TASK_STATUS_IGNORED",
    "ConfigError",
    "LogLine",
    "ServiceContext",
    "ServiceEvent",
    "ServiceFailedError",
    "ServiceStartError",
    "ServiceState",
    "ServiceStatus",
    "StartError",
    "StartTimeoutError",
    "State",
    "StatusList",
    "Supervisor",
    "SupervisorError",
    "SupervisorFailed",
    "TaskStatus",
    "UnknownService",
    "UnknownServiceError",
    "VirtualClock",
    "__version__",
]
