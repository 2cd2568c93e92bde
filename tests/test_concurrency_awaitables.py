"""gather, race and bounded_map as lionherd-core's library defines them (awaitables in,
ExceptionGroup out), next to this toolkit's callable form, on asyncio and trio."""

from __future__ import annotations

import gc
import warnings

import pytest

from supervisor.concurrency import (
    Event,
    bounded_map,
    gather,
    get_cancelled_exc_class,
    move_on_after,
    race,
    sleep,
    sleep_forever,
)

pytestmark = pytest.mark.anyio


async def _value_after(value: int, steps: int) -> int:
    for _ in range(steps):
        await sleep(0)
    return value


async def _fail(exc: Exception, steps: int = 0) -> int:
    for _ in range(steps):
        await sleep(0)
    raise exc


async def _until_cancelled(cancelled: Event) -> int:
    try:
        await sleep_forever()
    except get_cancelled_exc_class():
        cancelled.set()
        raise
    return 0


async def test_gather_takes_coroutine_objects_and_keeps_argument_order() -> None:
    assert await gather(*(_value_after(n, 5 - n) for n in range(5))) == [0, 1, 2, 3, 4]
    assert await gather() == []


async def test_gather_of_awaitables_raises_an_exception_group_of_failures_only() -> None:
    cancelled = Event()
    with pytest.raises(ExceptionGroup) as info:
        await gather(_until_cancelled(cancelled), _fail(ValueError("boom"), steps=1))
    assert [str(exc) for exc in info.value.exceptions] == ["boom"]
    assert not info.group_contains(get_cancelled_exc_class())
    assert cancelled.is_set()


async def test_gather_return_exceptions_returns_failures_in_place_in_both_forms() -> None:
    results = await gather(_value_after(1, 2), _fail(KeyError("k")), return_exceptions=True)
    assert results[0] == 1 and isinstance(results[1], KeyError)

    async def failing() -> int:
        raise OSError("down")

    async def fine() -> int:
        return 2

    results = await gather(fine, failing, return_exceptions=True)
    assert results[0] == 2 and isinstance(results[1], OSError)


async def test_gather_nests_as_in_the_seed_examples() -> None:
    first, (second, third) = await gather(
        race(_value_after(1, 1), _value_after(9, 50)),
        gather(_value_after(2, 2), _value_after(3, 1)),
    )
    assert (first, second, third) == (1, 2, 3)


async def test_gather_refuses_a_mix_of_forms_and_closes_the_coroutines() -> None:
    coroutine = _value_after(1, 0)
    with pytest.raises(TypeError, match="not a mix"):
        await gather(coroutine, _value_after)  # type: ignore[arg-type]
    assert coroutine.cr_frame is None  # closed: no "never awaited" warning later
    with pytest.raises(TypeError, match="got int"):
        await gather(1)  # type: ignore[arg-type]


async def test_outer_cancellation_reaches_every_gathered_awaitable() -> None:
    cancelled = [Event(), Event()]
    with move_on_after(0.01) as scope:
        await gather(*(_until_cancelled(event) for event in cancelled), return_exceptions=True)
    assert scope.cancelled_caught
    assert all(event.is_set() for event in cancelled)


async def test_race_of_awaitables_returns_the_first_to_finish() -> None:
    loser_cancelled = Event()
    assert await race(_until_cancelled(loser_cancelled), _value_after(7, 2)) == 7
    assert loser_cancelled.is_set()


async def test_race_of_awaitables_raises_the_first_finisher_if_it_failed() -> None:
    """The seed's timeout pattern: a contender that raises first ends the race."""
    slow_cancelled = Event()
    with pytest.raises(TimeoutError, match="too slow"):
        await race(_until_cancelled(slow_cancelled), _fail(TimeoutError("too slow"), steps=1))
    assert slow_cancelled.is_set()


async def test_race_of_callables_still_lets_a_failure_drop_out() -> None:
    async def failing_first() -> int:
        raise OSError("mirror down")

    async def later() -> int:
        return await _value_after(5, 3)

    assert await race(failing_first, later) == 5
    with pytest.raises(ValueError):
        await race()


async def test_losers_that_never_started_leave_no_unawaited_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert await race(_value_after(1, 0), *(_value_after(n, 0) for n in range(20))) in {
            1,
            *range(20),
        }
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]


async def test_bounded_map_return_exceptions_keeps_going_and_keeps_order() -> None:
    async def check(n: int) -> int:
        await sleep(0)
        if n % 3 == 0:
            raise ValueError(f"bad {n}")
        return n

    results = await bounded_map(check, range(7), limit=2, return_exceptions=True)
    assert [r if isinstance(r, int) else str(r) for r in results] == [
        "bad 0",
        1,
        2,
        "bad 3",
        4,
        5,
        "bad 6",
    ]
    assert await bounded_map(check, [], limit=1) == []
