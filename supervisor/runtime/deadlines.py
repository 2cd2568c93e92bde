"""Start deadlines, kept by one task for the whole supervisor instead of one timer each.

A deadline on a cancel scope costs a timer: on asyncio a ``TimerHandle`` (with a copy of
the context) pushed on the loop's heap, whose entries are compared in Python, and left
there, cancelled, once the service is ready. With thousands of services each start
paid for it, and the collector walked the handles. Here a deadline is one entry in a
first-in first-out queue per timeout length (entries with the same timeout expire in the
order they were added), and :meth:`Deadlines.run` sleeps until the earliest one.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

from supervisor.concurrency import CancelScope, current_time, sleep_forever


class Expiring(Protocol):
    """Something with a deadline: told once it has passed (and then to decide whether it
    still matters)."""

    deadline: float

    def expire(self) -> None:
        """The deadline has passed."""
        ...


class Deadlines:
    """Calls ``item.expire()`` for each added item once its deadline (loop clock) has
    passed, from the task running :meth:`run`."""

    __slots__ = ("_queues", "_sleeping")

    def __init__(self) -> None:
        self._queues: dict[float, deque[Expiring]] = {}
        self._sleeping: CancelScope | None = None

    def add(self, item: Expiring, delay: float) -> None:
        """Expire ``item`` ``delay`` seconds from now (its ``deadline`` is set here); at
        once if ``delay`` is not positive, as a scope whose deadline has passed is
        cancelled as it is entered."""
        deadline = item.deadline = current_time() + delay
        if delay <= 0:
            item.expire()
            return
        queue = self._queues.get(delay)
        if queue is None:
            queue = self._queues[delay] = deque()
        elif queue:
            queue.append(item)  # behind an earlier deadline: no need to wake the task
            return
        queue.append(item)
        sleeping = self._sleeping
        if sleeping is not None and deadline < sleeping.deadline:
            sleeping.deadline = deadline

    def clear(self) -> None:
        """Forget every pending deadline."""
        self._queues.clear()

    async def run(self) -> None:
        """Expire items as their deadlines pass, until cancelled."""
        try:
            while True:
                with CancelScope(deadline=self._earliest()) as self._sleeping:
                    await sleep_forever()
                self._sleeping = None
                self._expire(current_time())
        finally:
            self._sleeping = None

    def _earliest(self) -> float:
        heads = (queue[0].deadline for queue in self._queues.values() if queue)
        return min(heads, default=math.inf)

    def _expire(self, now: float) -> None:
        for queue in list(self._queues.values()):
            while queue and queue[0].deadline <= now:
                queue.popleft().expire()
