"""Synchronization primitives and channels, re-exported from anyio."""

from __future__ import annotations

import anyio

# ``create_memory_channel[T](max_buffer_size)`` returns a (send, receive) pair of streams;
# ``0`` (the default) means every send waits for a receiver, ``math.inf`` is unbounded.
from anyio import create_memory_object_stream as create_memory_channel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

Event = anyio.Event
Lock = anyio.Lock
Semaphore = anyio.Semaphore
Condition = anyio.Condition
CapacityLimiter = anyio.CapacityLimiter
TaskStatus = anyio.abc.TaskStatus
TASK_STATUS_IGNORED = anyio.TASK_STATUS_IGNORED
"""The default for a ``task_status`` parameter: ``started()`` is a no-op when nobody waits."""

__all__ = [
    "TASK_STATUS_IGNORED",
    "CapacityLimiter",
    "Condition",
    "Event",
    "Lock",
    "MemoryObjectReceiveStream",
    "MemoryObjectSendStream",
    "Semaphore",
    "TaskStatus",
    "create_memory_channel",
]
