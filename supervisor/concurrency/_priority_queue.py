"""PriorityQueue: smallest item first, with bounded capacity and backpressure."""

from __future__ import annotations

import heapq
from collections import deque
from itertools import count
from typing import Generic, TypeVar

import anyio
import anyio.lowlevel

T = TypeVar("T")


class QueueEmpty(Exception):
    """``get_nowait()`` found the queue empty."""


class QueueFull(Exception):
    """``put_nowait()`` found the queue full."""


class PriorityQueue(Generic[T]):
    """An async priority queue: ``get`` returns the smallest item (``heapq`` order).

    Put ``(priority, data)`` tuples: lower priority values come out first, and equal
    items come out in the order they were put. ``maxsize`` bounds the queue (``0``:
    unbounded): ``put`` waits while it is full, ``get`` while it is empty.
    ``put_nowait`` / ``get_nowait`` raise :class:`QueueFull` / :class:`QueueEmpty` instead
    of waiting; like lionherd-core's, they are ``async`` (``await queue.get_nowait()``).
    ``qsize``, ``empty`` and ``full`` are snapshots, for monitoring.
    """

    def __init__(self, maxsize: int = 0) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must be >= 0 (0 means unbounded)")
        self.maxsize = maxsize
        self._heap: list[tuple[T, int]] = []
        self._order = count()  # ties between equal items: first in, first out
        self._getters: deque[anyio.Event] = deque()
        self._putters: deque[anyio.Event] = deque()

    def qsize(self) -> int:
        """How many items are queued now."""
        return len(self._heap)

    def empty(self) -> bool:
        """Whether the queue is empty now."""
        return not self._heap

    def full(self) -> bool:
        """Whether the queue is at ``maxsize`` now (never, if unbounded)."""
        return 0 < self.maxsize <= len(self._heap)

    async def put(self, item: T) -> None:
        """Add ``item``, waiting while the queue is full."""
        await anyio.lowlevel.checkpoint()
        while self.full():
            await _wait(self._putters)
        self._push(item)

    async def put_nowait(self, item: T) -> None:
        """Add ``item`` now, or raise :class:`QueueFull`."""
        if self.full():
            raise QueueFull("the queue is full")
        self._push(item)

    async def get(self) -> T:
        """Remove and return the smallest item, waiting while the queue is empty."""
        await anyio.lowlevel.checkpoint()
        while not self._heap:
            await _wait(self._getters)
        return self._pop()

    async def get_nowait(self) -> T:
        """Remove and return the smallest item now, or raise :class:`QueueEmpty`."""
        if not self._heap:
            raise QueueEmpty("the queue is empty")
        return self._pop()

    def _push(self, item: T) -> None:
        heapq.heappush(self._heap, (item, next(self._order)))
        _wake_one(self._getters)

    def _pop(self) -> T:
        item = heapq.heappop(self._heap)[0]
        _wake_one(self._putters)
        return item


async def _wait(waiters: deque[anyio.Event]) -> None:
    event = anyio.Event()
    waiters.append(event)
    try:
        await event.wait()
    except BaseException:
        if event.is_set():
            # Woken, then cancelled before acting: hand the wake-up to the next waiter so
            # an item (or a free slot) is not left with everyone asleep.
            _wake_one(waiters)
        else:
            waiters.remove(event)
        raise


def _wake_one(waiters: deque[anyio.Event]) -> None:
    if waiters:
        waiters.popleft().set()
