"""Restart policy: exponential backoff with jitter, and restart intensity."""

from __future__ import annotations

import math
import random
import sys
from collections import deque

from supervisor.config.models import Backoff, RestartSpec
from supervisor.runtime.clock import Clock

_LOG_FLOAT_MAX = math.log(sys.float_info.max)


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


def growth_steps(backoff: Backoff) -> int:
    """How many restarts it takes the delay to reach ``max`` (0 when it never grows).

    Past this many, every delay is ``max``: the exponent is capped here, so the
    arithmetic neither overflows nor gets slower however long a service keeps failing.
    """
    base, ceiling, multiplier = backoff.initial, backoff.max, backoff.multiplier
    if base <= 0 or ceiling <= 0 or base >= ceiling or multiplier <= 1:
        return 0
    # One more than the logarithm says, in case it rounded down.
    return math.ceil((math.log(ceiling) - math.log(base)) / math.log(multiplier)) + 1


def backoff_delay(backoff: Backoff, consecutive: int) -> float:
    """``min(max, initial * multiplier**consecutive)`` without jitter; finite, in ``[0, max]``.

    Constant time whatever ``consecutive`` is (even far past the point where
    ``multiplier**consecutive`` would overflow a float).
    """
    base, ceiling = backoff.initial, backoff.max
    if base <= 0 or ceiling <= 0:
        return 0.0
    exponent = min(max(consecutive, 0), growth_steps(backoff))
    try:
        grown = base * backoff.multiplier**exponent
    except OverflowError:  # multiplier**exponent alone is too big, base may be tiny
        log_grown = math.log(base) + exponent * math.log(backoff.multiplier)
        grown = math.inf if log_grown >= _LOG_FLOAT_MAX else math.exp(log_grown)
    return min(ceiling, grown)


class RestartTracker:
    """Backoff delays and the intensity limit of one service.

    The n-th consecutive restart waits ``min(max, initial * multiplier**n)``, scaled by a
    random factor in ``[1 - jitter, 1 + jitter]`` (capped at ``max``). A run that stayed up
    ``reset_after`` seconds resets n to 0. More than ``max_restarts`` restarts within
    ``within`` seconds and :meth:`next_delay` returns ``None``: the service has failed.

    ``consecutive`` counts restarts since the last reset (a plain count; the delay
    arithmetic caps it, see :func:`growth_steps`). ``history`` holds the clock times of
    the restarts inside the window: never more than ``max_restarts`` of them.
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
        self._forget_before(now - self.spec.within, now)
        if len(self.history) >= self.spec.max_restarts:
            return None
        self.history.append(now)
        backoff = self.spec.backoff
        delay = backoff_delay(backoff, self.consecutive)
        self.consecutive += 1
        if backoff.jitter:
            delay *= 1.0 + backoff.jitter * self.rng.uniform(-1.0, 1.0)
        if not math.isfinite(delay):  # max near the float limit, times 1 + jitter
            delay = backoff.max
        return max(0.0, min(backoff.max, delay))

    def _forget_before(self, window_start: float, now: float) -> None:
        """Drop restarts older than the window.

        The runtime's clock is monotonic. Should an injected clock step back anyway,
        restarts stamped in its future are re-stamped ``now``: they still count, and
        leave the window ``within`` seconds later instead of staying in it until the
        clock catches up.
        """
        history = self.history
        if history and history[-1] > now:
            self.history = history = deque(min(stamp, now) for stamp in history)
        while history and history[0] <= window_start:
            history.popleft()

    def describe_limit(self) -> str:
        """``restarted 5 times within 60s`` for messages."""
        return f"restarted {self.spec.max_restarts} times within {self.spec.within:g}s"
