"""gather, race, bounded_map, retry, deadlines and primitives, on asyncio and trio."""

from __future__ import annotations

import functools
import math

import anyio
import pytest

from supervisor.concurrency import (
    CapacityLimiter,
    Event,
    bounded_map,
    create_memory_channel,
    current_time,
    fail_after,
    fail_at,
    gather,
    get_cancelled_exc_class,
    move_on_after,
    move_on_at,
    race,
    retry,
    shield,
    sleep,
    sleep_forever,
)

pytestmark = pytest.mark.anyio


async def _value_after(value: int, steps: int) -> int:
    for _ in range(steps):
        await sleep(0)
    return value


async def test_gather_keeps_argument_order() -> None:
    fns = [functools.partial(_value_after, n, 10 - n) for n in range(5)]
    assert await gather(*fns) == [0, 1, 2, 3, 4]


async def test_gather_first_failure_cancels_the_rest_and_is_raised_as_is() -> None:
    cancelled = Event()

    async def slow() -> int:
        try:
            await sleep_forever()
        except get_cancelled_exc_class():
            cancelled.set()
            raise
        return 0

    async def failing() -> int:
        await sleep(0)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await gather(slow, failing)
    assert cancelled.is_set()


async def test_gather_return_exceptions_keeps_everything() -> None:
    async def failing() -> int:
        raise KeyError("k")

    results = await gather(functools.partial(_value_after, 7, 3), failing, return_exceptions=True)
    assert results[0] == 7
    assert isinstance(results[1], KeyError)


async def test_race_first_success_wins_and_losers_are_cancelled() -> None:
    loser_cancelled = Event()

    async def loser() -> str:
        try:
            await sleep_forever()
        except get_cancelled_exc_class():
            loser_cancelled.set()
            raise
        return "never"

    async def failing() -> str:
        raise OSError("down")

    async def winner() -> str:
        await sleep(0)
        return "fast"

    assert await race(loser, failing, winner) == "fast"
    assert loser_cancelled.is_set()


async def test_race_all_failing_raises_every_error() -> None:
    async def bad(n: int) -> int:
        raise ValueError(str(n))

    with pytest.raises(ExceptionGroup) as info:
        await race(functools.partial(bad, 1), functools.partial(bad, 2))
    assert sorted(str(exc) for exc in info.value.exceptions) == ["1", "2"]


async def test_bounded_map_keeps_order_and_bounds_concurrency() -> None:
    running = 0
    peak = 0

    async def square(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        for _ in range(n % 4):
            await sleep(0)
        running -= 1
        return n * n

    items = range(40)
    assert await bounded_map(square, items, limit=3) == [n * n for n in items]
    assert peak == 3


async def test_bounded_map_failure_is_raised() -> None:
    async def fn(n: int) -> int:
        if n == 5:
            raise RuntimeError("item 5")
        await sleep(0)
        return n

    with pytest.raises(RuntimeError, match="item 5"):
        await bounded_map(fn, list(range(10)), limit=2)
    with pytest.raises(ValueError):
        await bounded_map(fn, [], limit=0)


async def test_retry_retries_matching_errors_with_growing_backoff() -> None:
    calls: list[float] = []

    async def flaky() -> str:
        calls.append(current_time())
        if len(calls) < 3:
            raise ConnectionError("try again")
        return "ok"

    assert await retry(flaky, attempts=3, backoff=0.01, multiplier=3) == "ok"
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.01 * 0.9
    assert calls[2] - calls[1] >= 0.03 * 0.9


async def test_retry_gives_up_and_does_not_retry_other_errors() -> None:
    calls = 0

    async def always_fails() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError(f"attempt {calls}")

    with pytest.raises(ConnectionError, match="attempt 2"):
        await retry(always_fails, attempts=2, backoff=0)

    calls = 0

    async def wrong_kind() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("no")

    with pytest.raises(KeyError):
        await retry(wrong_kind, attempts=5, backoff=0, retry_on=ConnectionError)
    assert calls == 1


async def test_move_on_is_silent_but_fail_after_raises_timeout() -> None:
    with move_on_after(0.01) as scope:
        await sleep_forever()
    assert scope.cancelled_caught

    with move_on_at(current_time() + 0.01) as scope:
        await sleep_forever()
    assert scope.cancelled_caught

    with pytest.raises(TimeoutError), fail_after(0.01):
        await sleep_forever()

    with pytest.raises(TimeoutError), fail_at(current_time() + 0.01):
        await sleep_forever()

    with fail_after(None):  # no deadline at all
        await sleep(0)


async def test_shield_completes_cleanup_despite_cancellation() -> None:
    cleaned = Event()

    async def cleanup() -> str:
        await sleep(0.01)
        cleaned.set()
        return "clean"

    result = ""
    with move_on_after(0.001) as scope:
        result = await shield(cleanup)  # outlives the deadline, shielded
        await sleep(5)  # the pending cancellation lands here
    assert result == "clean"
    assert cleaned.is_set()
    assert scope.cancelled_caught


async def test_memory_channel_and_capacity_limiter() -> None:
    send, receive = create_memory_channel[int](math.inf)
    limiter = CapacityLimiter(2)
    async with send, receive:
        for n in range(3):
            await send.send(n)
        assert [await receive.receive() for _ in range(3)] == [0, 1, 2]
    async with limiter:
        assert limiter.borrowed_tokens == 1


def test_toolkit_runs_on_both_backends_from_sync_code() -> None:
    async def main() -> list[int]:
        return await gather(functools.partial(_value_after, 1, 1))

    assert anyio.run(main) == [1]
    assert anyio.run(main, backend="trio") == [1]
