"""Restart decisions: policy, exponential backoff with jitter, and restart intensity.

The clock and the random source are injected, so tests check exact delays and limits
without real sleeps.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable

from supervisor.config.models import RestartSpec


class RestartTracker:
    """Decides whether and when a service that ended is started again."""

    def __init__(
        self,
        spec: RestartSpec,
        clock: Callable[[], float],
        rng: random.Random | None = None,
    ) -> None:
        self.spec = spec
        self.clock = clock
        self.rng = rng or random.Random()
        self.attempt = 0
        self.history: deque[float] = deque()

    def wants_restart(self, *, failed: bool) -> bool:
        """Whether the policy restarts a service that ended (``failed`` or exited 0)."""
        policy = self.spec.policy
        return policy == "always" or (policy == "on-failure" and failed)

    def allow(self) -> bool:
        """Record a restart; ``False`` once ``max_restarts`` within ``within`` is exceeded."""
        now = self.clock()
        while self.history and now - self.history[0] > self.spec.within:
            self.history.popleft()
        if len(self.history) >= self.spec.max_restarts:
            return False
        self.history.append(now)
        return True

    def next_delay(self, uptime: float) -> float:
        """The delay before the next start; a long enough uptime resets the backoff."""
        backoff = self.spec.backoff
        if uptime >= backoff.reset_after:
            self.attempt = 0
        base = min(backoff.initial * backoff.multiplier**self.attempt, backoff.max)
        self.attempt += 1
        spread = base * backoff.jitter
        return max(0.0, base + self.rng.uniform(-spread, spread))
