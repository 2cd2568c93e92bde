"""Synchronization primitives and channels, re-exported from anyio."""

from __future__ import annotations

from typing import TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

T = TypeVar("T")

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


def create_memory_channel(
    max_buffer_size: float = 0,
) -> tuple[MemoryObjectSendStream[T], MemoryObjectReceiveStream[T]]:
    """A pair of (send, receive) streams of objects, with ``max_buffer_size`` slots.

    ``0`` (the default) means every send waits for a receiver; ``math.inf`` is unbounded.
    """
    send, receive = anyio.create_memory_object_stream[T](max_buffer_size)
    return send, receive
