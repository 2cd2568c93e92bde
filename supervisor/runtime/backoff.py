"""Restart policy: exponential backoff with jitter, and restart intensity."""

from __future__ import annotations

import random
from collections import deque

from supervisor.config.models import RestartSpec
from supervisor.runtime.clock import Clock


def wants_restart(spec: RestartSpec, *, succeeded: bool, oneshot: bool) -> bool:
    """Whether a service that ended by itself is started again under its policy.

    ``always`` restarts after any exit (a one-shot that succeeded is done, though);
    ``on-failure`` only after a failure; ``no`` never.
    """
    if spec.policy == "no":
        return False
    if succeeded:
        return spec.policy == "always" and not oneshot
    return True


class RestartTracker:
    """Backoff delays and the intensity limit of one service.

    The n-th consecutive restart waits ``min(max, initial * multiplier**n)``, scaled by a
    random factor in ``[1 - jitter, 1 + jitter]`` (capped at ``max``). A run that stayed up
    ``reset_after`` seconds resets n to 0. More than ``max_restarts`` restarts within
    ``within`` seconds and :meth:`next_delay` returns ``None``: the service has failed.
    """

    def __init__(self, spec: RestartSpec, clock: Clock, rng: random.Random) -> None:
        self.spec = spec
        self.clock = clock
        self.rng = rng
        self.consecutive = 0
        self.history: deque[float] = deque()

    def ran_for(self, uptime: float) -> None:
        """Record how long the last run stayed up; long enough resets the backoff."""
        if uptime >= self.spec.backoff.reset_after:
            self.consecutive = 0

    def next_delay(self) -> float | None:
        """The delay before the next restart, or ``None`` past the intensity limit."""
        now = self.clock.now()
        window_start = now - self.spec.within
        while self.history and self.history[0] <= window_start:
            self.history.popleft()
        if len(self.history) >= self.spec.max_restarts:
            return None
        self.history.append(now)
        backoff = self.spec.backoff
        delay = min(backoff.max, backoff.initial * backoff.multiplier**self.consecutive)
        self.consecutive += 1
        if backoff.jitter:
            delay *= 1.0 + backoff.jitter * self.rng.uniform(-1.0, 1.0)
        return max(0.0, min(backoff.max, delay))

    def describe_limit(self) -> str:
        """``restarted 5 times within 60s`` for messages."""
        return f"restarted {self.spec.max_restarts} times within {self.spec.within:g}s"
