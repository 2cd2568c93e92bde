"""structured-supervisor: a supervised service manager on anyio's structured concurrency.

from supervisor import Supervisor, ServiceContext, TASK_STATUS_IGNORED
"""

from supervisor.concurrency import TASK_STATUS_IGNORED, TaskStatus
from supervisor.config import ConfigError
from supervisor.runtime import (
    ServiceEvent,
    ServiceStatus,
    StartError,
    State,
    Supervisor,
    SupervisorError,
    SupervisorFailed,
    UnknownService,
)
from supervisor.services.context import ServiceContext

__version__ = "0.1.0"

__all__ = [
    "TASK_STATUS_IGNORED",
    "ConfigError",
    "ServiceContext",
    "ServiceEvent",
    "ServiceStatus",
    "StartError",
    "State",
    "Supervisor",
    "SupervisorError",
    "SupervisorFailed",
    "TaskStatus",
    "UnknownService",
    "__version__",
]
