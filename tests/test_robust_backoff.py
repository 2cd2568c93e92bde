"""Backoff and restart intensity stay finite, bounded and fast however long a service fails."""

from __future__ import annotations

import math
import random
import time
import timeit
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor import TASK_STATUS_IGNORED, ServiceContext, ServiceState, Supervisor
from supervisor.concurrency import fail_after
from supervisor.config.models import Backoff, RestartSpec
from supervisor.runtime.backoff import RestartTracker, backoff_delay, growth_steps
from supervisor.runtime.clock import LoopClock, VirtualClock

MS = 0.001


def tracker(clock: VirtualClock | None = None, **restart: Any) -> RestartTracker:
    spec = RestartSpec.model_validate(restart)
    return RestartTracker(spec, clock or VirtualClock(), random.Random(0))


def test_a_million_consecutive_failures_wait_max() -> None:
    # 2.0 ** 1024 overflowed a float: the 1025th restart of a crash loop raised.
    t = tracker(max_restarts=10**9, backoff={"initial": 0.1, "max": 30, "jitter": 0})
    t.consecutive = 10**6
    assert t.next_delay() == 30
    t.consecutive = 10**400  # not even representable as a float
    assert t.next_delay() == 30
    assert t.consecutive == 10**400 + 1


def test_a_crash_loop_of_100k_restarts_in_milliseconds() -> None:
    """100 000 consecutive failures on a clock counting milliseconds: every delay is
    the capped one, the window never holds more than max_restarts entries, nothing fails."""
    clock = VirtualClock()
    backoff = {"initial": MS, "max": 4 * MS, "multiplier": 2, "jitter": 0}
    t = tracker(clock, max_restarts=3, within=10 * MS, backoff=backoff)
    delays = []
    for _ in range(100_000):
        delay = t.next_delay()
        assert delay is not None
        assert len(t.history) <= 3
        delays.append(delay)
        clock.advance(delay + MS)  # backoff, then the run crashes 1 ms after starting
    assert delays[:3] == [MS, 2 * MS, 4 * MS]
    assert set(delays[2:]) == {4 * MS}
    assert t.consecutive == 100_000


def test_next_delay_does_not_slow_down_with_the_count() -> None:
    t = tracker(max_restarts=10**9, within=0, backoff={"initial": 1e-300, "multiplier": 1.0001})

    def cost(consecutive: int) -> float:
        def call() -> None:
            t.consecutive = consecutive
            t.next_delay()

        return min(timeit.repeat(call, number=300, repeat=7))

    assert cost(10**18) < 3 * cost(1) + 1e-3


def test_intensity_window_in_milliseconds() -> None:
    clock = VirtualClock(start=1_000_000.0)  # large times: the window is still exact to 1 ms
    t = tracker(clock, max_restarts=3, within=10 * MS, backoff={"initial": 0, "jitter": 0})
    for _ in range(3):
        assert t.next_delay() == 0
        clock.advance(MS)
    assert t.next_delay() is None  # a 4th restart 3 ms after the first
    assert len(t.history) == 3
    clock.advance(7.5 * MS)  # 10.5 ms after the first: it left the window
    assert t.next_delay() == 0
    assert t.next_delay() is None


def test_a_clock_stepping_back_never_freezes_the_window() -> None:
    """The runtime's clock is monotonic; an injected one that steps back a day must not
    keep old restarts in the window for a day (nor forget them at once)."""
    clock = VirtualClock(start=86_400.0)
    t = tracker(clock, max_restarts=2, within=10, backoff={"initial": 1, "jitter": 0})
    assert t.next_delay() is not None
    assert t.next_delay() is not None
    clock.time = 0.0
    assert t.next_delay() is None  # the two restarts just now still count
    clock.advance(10.5)
    assert t.next_delay() is not None  # and they leave the window `within` later
    assert len(t.history) <= 2


@pytest.mark.anyio
async def test_the_runtime_clock_ignores_wall_clock_jumps(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(Supervisor().clock, LoopClock)
    clock = LoopClock()
    before, mono_before = clock.now(), time.monotonic()
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 86_400.0)  # NTP steps back a day
    elapsed, mono_elapsed = clock.now() - before, time.monotonic() - mono_before
    assert abs(elapsed - mono_elapsed) < 0.5


@pytest.mark.anyio
async def test_a_service_crashing_1100_times_keeps_being_restarted() -> None:
    clock = VirtualClock()
    backoff = {"initial": MS, "max": 8 * MS, "jitter": 0.5}
    sup = Supervisor(clock=clock, on_failure="isolate")

    async def crasher(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        task_status.started()
        raise RuntimeError("crash")

    sup.add("loop", crasher, restart={"max_restarts": 5, "within": MS, "backoff": backoff})
    with fail_after(20):  # the supervisor used to die at the 1025th restart
        async with sup, sup.events() as events:
            async for event in events:
                if event.restarts >= 1100:
                    break
            assert sup.status()["loop"].state is not ServiceState.FAILED
    assert len(clock.sleeps) >= 1100
    assert all(0 <= s <= 8 * MS for s in clock.sleeps)


durations = st.one_of(
    st.floats(min_value=0, allow_infinity=False),
    st.sampled_from([0.0, 5e-324, 1e-300, 1.0, 1e300, 1.7976931348623157e308]),
)
backoffs = st.builds(
    lambda bounds, multiplier, jitter: Backoff.model_validate(
        {"initial": min(bounds), "max": max(bounds), "multiplier": multiplier, "jitter": jitter}
    ),
    st.tuples(durations, durations),
    st.one_of(
        st.floats(min_value=1.0, allow_infinity=False),
        st.sampled_from([1.0, 1.0000000001, 2.0, 1.7976931348623157e308]),
    ),
    st.floats(min_value=0.0, max_value=1.0),
)
counts = st.one_of(st.integers(0, 2000), st.integers(0, 10**30))


@settings(max_examples=300, deadline=None)
@given(backoffs, counts, counts)
def test_any_backoff_gives_a_finite_growing_delay_within_max(
    backoff: Backoff, n: int, m: int
) -> None:
    low, high = sorted((n, m))
    delay = backoff_delay(backoff, low)
    assert math.isfinite(delay) and 0.0 <= delay <= backoff.max
    assert delay <= backoff_delay(backoff, high)  # never shrinks as failures go on
    steps = growth_steps(backoff)
    if steps and high >= steps:  # past the steps it takes to grow to max, it is max
        assert backoff_delay(backoff, high) == backoff.max
    try:
        grown = backoff.initial * backoff.multiplier**low
    except OverflowError:
        return
    if not math.isnan(grown):  # 0 * inf: an initial delay of 0 stays 0
        assert delay == pytest.approx(min(backoff.max, grown), rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(backoffs, counts, st.integers(0, 2**32))
def test_any_tracker_delay_is_finite_and_within_max(
    backoff: Backoff, consecutive: int, seed: int
) -> None:
    spec = RestartSpec(backoff=backoff, max_restarts=10**9)
    t = RestartTracker(spec, VirtualClock(), random.Random(seed))
    t.consecutive = consecutive
    for _ in range(3):
        delay = t.next_delay()
        assert delay is not None and math.isfinite(delay) and 0.0 <= delay <= backoff.max
