"""A structured-concurrency toolkit over anyio, used by the supervisor itself.

It runs unchanged on asyncio and trio. It offers every name of lionherd-core's
``lionherd_core.libs.concurrency`` under the same name (switching is a change of import
line), and our :class:`TaskGroup` is anyio's own by delegation. See docs/concurrency.md.
"""

from supervisor.concurrency._cancel import (
    CancelScope,
    current_time,
    effective_deadline,
    fail_after,
    fail_at,
    move_on_after,
    move_on_at,
    sleep,
    sleep_forever,
    sleep_until,
)
from supervisor.concurrency._errors import (
    ExceptionGroup,
    get_cancelled_exc_class,
    is_cancelled,
    non_cancel_subgroup,
    shield,
    split_cancellation,
)
from supervisor.concurrency._patterns import bounded_map, gather, race
from supervisor.concurrency._primitives import (
    TASK_STATUS_IGNORED,
    CapacityLimiter,
    ConcurrencyEvent,
    Condition,
    Event,
    Lock,
    MemoryObjectReceiveStream,
    MemoryObjectSendStream,
    Queue,
    Semaphore,
    TaskStatus,
    create_memory_channel,
)
from supervisor.concurrency._priority_queue import PriorityQueue, QueueEmpty, QueueFull
from supervisor.concurrency._resources import (
    LeakInfo,
    LeakTracker,
    live_resources,
    track_resource,
    untrack_resource,
)
from supervisor.concurrency._retry import retry
from supervisor.concurrency._stream import CompletionStream
from supervisor.concurrency._task_group import TaskGroup, create_task_group
from supervisor.concurrency._threads import is_coro_func, run_async, run_sync

__all__ = [
    "TASK_STATUS_IGNORED",
    "CancelScope",
    "CapacityLimiter",
    "CompletionStream",
    "ConcurrencyEvent",
    "Condition",
    "Event",
    "ExceptionGroup",
    "LeakInfo",
    "LeakTracker",
    "Lock",
    "MemoryObjectReceiveStream",
    "MemoryObjectSendStream",
    "PriorityQueue",
    "Queue",
    "QueueEmpty",
    "QueueFull",
    "Semaphore",
    "TaskGroup",
    "TaskStatus",
    "bounded_map",
    "create_memory_channel",
    "create_task_group",
    "current_time",
    "effective_deadline",
    "fail_after",
    "fail_at",
    "gather",
    "get_cancelled_exc_class",
    "is_cancelled",
    "is_coro_func",
    "live_resources",
    "move_on_after",
    "move_on_at",
    "non_cancel_subgroup",
    "race",
    "retry",
    "run_async",
    "run_sync",
    "shield",
    "sleep",
    "sleep_forever",
    "sleep_until",
    "split_cancellation",
    "track_resource",
    "untrack_resource",
]
