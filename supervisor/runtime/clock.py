"""The clock that backoff delays and restart intensity are measured with.

The runtime takes it as a parameter so that tests can use :class:`VirtualClock`, whose
``sleep`` advances time at once: backoff and intensity are then tested exactly, without
real sleeps. Start and stop timeouts always use the event loop's clock.
"""

from __future__ import annotations

from typing import Protocol

from supervisor.concurrency import current_time, sleep


class Clock(Protocol):
    """What the runtime needs from a clock."""

    def now(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a cancellation checkpoint)."""
        ...


class LoopClock:
    """The event loop's own clock (the default)."""

    def now(self) -> float:
        """The loop's monotonic time."""
        return current_time()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await sleep(seconds)


class VirtualClock:
    """A clock for tests: ``sleep`` records the delay and advances time immediately.

    ``sleeps`` lists every delay slept, in order; :meth:`advance` moves time forward (to
    simulate a service that stayed up for a while).
    """

    def __init__(self, start: float = 0.0) -> None:
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        """The virtual time."""
        return self.time

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by ``seconds``."""
        self.time += seconds

    async def sleep(self, seconds: float) -> None:
        """Advance virtual time by ``seconds``, then yield once to the event loop."""
        self.sleeps.append(seconds)
        self.time += seconds
        await sleep(0)
