"""A thin structured-concurrency toolkit over anyio, used by the supervisor itself.

It runs unchanged on asyncio and trio. See docs/concurrency.md for the guide.
"""

from supervisor.concurrency._cancel import (
    CancelScope,
    current_time,
    fail_after,
    fail_at,
    get_cancelled_exc_class,
    move_on_after,
    move_on_at,
    shield,
    sleep,
    sleep_forever,
    sleep_until,
)
from supervisor.concurrency._patterns import bounded_map, gather, race, retry
from supervisor.concurrency._primitives import (
    TASK_STATUS_IGNORED,
    CapacityLimiter,
    Condition,
    Event,
    Lock,
    MemoryObjectReceiveStream,
    MemoryObjectSendStream,
    Semaphore,
    TaskStatus,
    create_memory_channel,
)
from supervisor.concurrency._task_group import TaskGroup, create_task_group

__all__ = [
    "TASK_STATUS_IGNORED",
    "CancelScope",
    "CapacityLimiter",
    "Condition",
    "Event",
    "Lock",
    "MemoryObjectReceiveStream",
    "MemoryObjectSendStream",
    "Semaphore",
    "TaskGroup",
    "TaskStatus",
    "bounded_map",
    "create_memory_channel",
    "create_task_group",
    "current_time",
    "fail_after",
    "fail_at",
    "gather",
    "get_cancelled_exc_class",
    "move_on_after",
    "move_on_at",
    "race",
    "retry",
    "shield",
    "sleep",
    "sleep_forever",
    "sleep_until",
]
