"""Cancellation helpers: deadlines, effective_deadline, is_cancelled, non_cancel_subgroup,
shield, on asyncio and trio."""

from __future__ import annotations

import math

import anyio
import pytest

from supervisor.concurrency import (
    CancelScope,
    Event,
    ExceptionGroup,
    create_task_group,
    current_time,
    effective_deadline,
    fail_after,
    fail_at,
    get_cancelled_exc_class,
    is_cancelled,
    move_on_after,
    move_on_at,
    non_cancel_subgroup,
    shield,
    sleep,
    sleep_forever,
    split_cancellation,
)

pytestmark = pytest.mark.anyio


async def test_effective_deadline_is_none_without_a_deadline_and_the_nearest_otherwise() -> None:
    assert effective_deadline() is None
    with fail_after(None):
        assert effective_deadline() is None
    with fail_after(10) as outer:
        assert effective_deadline() == outer.deadline
        with move_on_after(3) as inner:
            assert effective_deadline() == inner.deadline < outer.deadline
    with CancelScope() as scope:
        scope.cancel()
        assert effective_deadline() == -math.inf


async def test_none_gives_a_scope_that_can_still_be_cancelled() -> None:
    for make in (fail_after, move_on_after, fail_at, move_on_at):
        with make(None) as scope:
            scope.cancel()
            await sleep_forever()
        assert scope.cancelled_caught, make.__name__


async def test_deadlines_in_the_past_expire_at_once() -> None:
    with move_on_at(current_time() - 1) as scope:
        await sleep_forever()
    assert scope.cancelled_caught
    with pytest.raises(TimeoutError), fail_at(current_time() - 1):
        await sleep_forever()


async def test_seconds_and_deadline_are_keyword_names_too() -> None:
    with move_on_after(seconds=0.001) as scope:
        await sleep(seconds=5)
    assert scope.cancelled_caught
    with pytest.raises(TimeoutError), fail_at(deadline=current_time() + 0.001):
        await sleep_forever()


async def _failing_group() -> None:
    async def sibling() -> None:
        await sleep_forever()

    async def failing() -> None:
        await sleep(0)
        raise ValueError("real failure")

    async with create_task_group() as tg:
        tg.start_soon(sibling)
        tg.start_soon(failing)


async def _a_cancellation() -> BaseException:
    """A real cancellation exception of the running backend (trio's has no constructor)."""
    caught: list[BaseException] = []
    with CancelScope() as scope:
        scope.cancel()
        try:
            await sleep_forever()
        except BaseException as exc:
            caught.append(exc)
            raise
    return caught[0]


async def test_non_cancel_subgroup_keeps_the_failures_and_drops_cancellations() -> None:
    cancelled = await _a_cancellation()
    assert isinstance(cancelled, get_cancelled_exc_class())
    group = BaseExceptionGroup("mixed", [cancelled, ValueError("a"), KeyError("b")])
    rest = non_cancel_subgroup(group)
    assert rest is not None
    assert [type(exc) for exc in rest.exceptions] == [ValueError, KeyError]
    only = BaseExceptionGroup("only", [await _a_cancellation()])
    assert non_cancel_subgroup(only) is None
    cancels, failures = split_cancellation(group)
    assert cancels is not None and cancels.exceptions == (cancelled,)
    assert failures is not None and len(failures.exceptions) == 2

    with pytest.raises(ExceptionGroup) as info:
        await _failing_group()
    real = non_cancel_subgroup(info.value)
    assert real is not None and [str(e) for e in real.exceptions] == ["real failure"]


async def test_is_cancelled_recognises_the_backends_cancellation() -> None:
    seen: list[bool] = []
    ready = Event()

    async def waiter() -> None:
        try:
            ready.set()
            await sleep_forever()
        except BaseException as exc:
            seen.append(is_cancelled(exc))
            raise

    async with create_task_group() as tg:
        tg.start_soon(waiter)
        await ready.wait()
        tg.cancel_scope.cancel()
    assert seen == [True]
    assert not is_cancelled(ValueError("no"))
    assert not is_cancelled(TimeoutError())


async def test_shield_passes_keyword_arguments_and_defers_cancellation() -> None:
    async def close(name: str, *, reason: str) -> str:
        await sleep(0.01)
        return f"{name} closed ({reason})"

    result = ""
    with move_on_after(0.001) as scope:
        result = await shield(close, "db", reason="shutdown")
        await anyio.sleep(5)
    assert result == "db closed (shutdown)"
    assert scope.cancelled_caught
