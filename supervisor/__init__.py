"""structured-supervisor: a supervised service manager on anyio's structured concurrency.

    from supervisor import Supervisor, ServiceContext, TASK_STATUS_IGNORED

See docs/embedding.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# The public names are imported on first use (PEP 562), so that `supervisor status`,
# run every few seconds as a container health check, does not load the runtime.
_EXPORTS = {
    "ConfigError": "supervisor.config",
    "LogLine": "supervisor.runtime",
    "ServiceContext": "supervisor.services.context",
    "ServiceEvent": "supervisor.runtime",
    "ServiceFailedError": "supervisor.runtime",
    "ServiceStartError": "supervisor.runtime",
    "ServiceState": "supervisor.runtime",
    "ServiceStatus": "supervisor.runtime",
    "StartError": "supervisor.runtime",
    "StartTimeoutError": "supervisor.runtime",
    "State": "supervisor.runtime",
    "StatusList": "supervisor.runtime",
    "Supervisor": "supervisor.runtime",
    "SupervisorError": "supervisor.runtime",
    "SupervisorFailed": "supervisor.runtime",
    "TASK_STATUS_IGNORED": "supervisor.concurrency",
    "TaskStatus": "supervisor.concurrency",
    "UnknownService": "supervisor.runtime",
    "UnknownServiceError": "supervisor.runtime",
    "VirtualClock": "supervisor.runtime",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first access."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'supervisor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names (for completion), whether imported yet or not."""
    return sorted(__all__)


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
