"""Synchronization primitives and channels: anyio's, re-exported, plus a FIFO ``Queue``."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

import anyio
import anyio.abc

# ``create_memory_channel[T](max_buffer_size)`` returns a (send, receive) pair of streams;
# ``0`` (the default) means every send waits for a receiver, ``math.inf`` is unbounded.
from anyio import create_memory_object_stream as create_memory_channel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

T = TypeVar("T")

Event = anyio.Event
ConcurrencyEvent = anyio.Event
"""Another name for :data:`Event` (lionherd-core exports both)."""
Lock = anyio.Lock
Semaphore = anyio.Semaphore
Condition = anyio.Condition
CapacityLimiter = anyio.CapacityLimiter
TaskStatus = anyio.abc.TaskStatus
TASK_STATUS_IGNORED = anyio.TASK_STATUS_IGNORED
"""The default for a ``task_status`` parameter: ``started()`` is a no-op when nobody waits."""


@dataclass(slots=True)
class Queue(Generic[T]):
    """A FIFO queue between tasks, over an anyio memory stream pair.

    Make one with ``Queue.with_maxsize(n)``: ``put`` waits while ``n`` items are queued
    (``0``: until a getter takes it; ``math.inf``: never). ``put_nowait`` and
    ``get_nowait`` raise ``anyio.WouldBlock`` instead of waiting. ``async with queue:``
    closes both ends on exit; after that ``put`` and ``get`` raise
    ``anyio.ClosedResourceError``.
    """

    _send: MemoryObjectSendStream[T]
    _recv: MemoryObjectReceiveStream[T]

    @classmethod
    def with_maxsize(cls, maxsize: float) -> Queue[T]:
        """A new queue holding at most ``maxsize`` items."""
        send, receive = anyio.create_memory_object_stream[T](maxsize)
        return cls(send, receive)

    async def put(self, item: T) -> None:
        """Add ``item``, waiting while the queue is full."""
        await self._send.send(item)

    def put_nowait(self, item: T) -> None:
        """Add ``item`` now, or raise ``anyio.WouldBlock`` if the queue is full."""
        self._send.send_nowait(item)

    async def get(self) -> T:
        """Remove and return the oldest item, waiting while the queue is empty."""
        return await self._recv.receive()

    def get_nowait(self) -> T:
        """Remove and return the oldest item, or raise ``anyio.WouldBlock`` if empty."""
        return self._recv.receive_nowait()

    async def close(self) -> None:
        """Close both ends of the queue."""
        await self._send.aclose()
        await self._recv.aclose()

    @property
    def sender(self) -> MemoryObjectSendStream[T]:
        """The sending stream underneath, for stream-based APIs."""
        return self._send

    @property
    def receiver(self) -> MemoryObjectReceiveStream[T]:
        """The receiving stream underneath (``async for item in queue.receiver``)."""
        return self._recv

    async def __aenter__(self) -> Queue[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.close()


__all__ = [
    "TASK_STATUS_IGNORED",
    "CapacityLimiter",
    "ConcurrencyEvent",
    "Condition",
    "Event",
    "Lock",
    "MemoryObjectReceiveStream",
    "MemoryObjectSendStream",
    "Queue",
    "Semaphore",
    "TaskStatus",
    "create_memory_channel",
]
