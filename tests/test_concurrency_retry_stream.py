"""retry (deadline-aware backoff) and CompletionStream, on asyncio and trio."""

from __future__ import annotations

import random
from collections.abc import Callable

import anyio.lowlevel
import pytest

import supervisor.concurrency._retry as retry_module
from supervisor.concurrency import (
    CompletionStream,
    Event,
    current_time,
    fail_after,
    get_cancelled_exc_class,
    move_on_after,
    retry,
    sleep,
    sleep_forever,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays retry sleeps, recorded instead of slept, on a virtual clock they advance."""
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(retry_module, "sleep", fake_sleep)
    monkeypatch.setattr(retry_module, "current_time", lambda: sum(recorded))
    return recorded


class _Flaky:
    """Fails ``times`` times (raising ``error(attempt)``), then succeeds."""

    def __init__(self, times: int, error: Callable[[int], Exception] = ConnectionError) -> None:
        self.times = times
        self.error = error
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error(self.calls)
        return f"ok after {self.calls}"


async def test_retry_follows_the_seed_schedule(waits: list[float]) -> None:
    fn = _Flaky(7)
    assert await retry(fn, attempts=8, jitter=0) == "ok after 8"
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])


async def test_retry_jitter_stretches_each_wait_upwards(
    waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(random, "random", lambda: 0.5)
    await retry(_Flaky(2), base_delay=1.0, max_delay=10.0, jitter=0.2)
    assert waits == pytest.approx([1.1, 2.2])


async def test_retry_gives_up_with_the_last_error(waits: list[float]) -> None:
    with pytest.raises(ConnectionError, match="3"):
        await retry(_Flaky(5), attempts=3)
    assert len(waits) == 2


async def test_retry_only_retries_matching_errors(waits: list[float]) -> None:
    fn = _Flaky(5, error=KeyError)
    with pytest.raises(KeyError):
        await retry(fn, attempts=5, retry_on=(ConnectionError, TimeoutError))
    assert fn.calls == 1 and waits == []


async def test_retry_never_sleeps_past_the_enclosing_deadline(
    waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the next wait would end after the scopes' deadline, the last error comes now."""
    monkeypatch.setattr(retry_module, "effective_deadline", lambda: 5.0)
    with pytest.raises(ConnectionError, match="3"):
        await retry(_Flaky(5), attempts=5, base_delay=1.0, max_delay=4.0, jitter=0)
    assert waits == [1.0, 2.0]  # at t=3 the third wait (4 s) would pass the deadline (5)


async def test_retry_reads_the_deadline_of_the_real_enclosing_scope() -> None:
    began = current_time()
    with pytest.raises(ConnectionError, match="1"), fail_after(5):
        await retry(_Flaky(5), attempts=5, base_delay=10.0, max_delay=10.0)
    assert current_time() - began < 5  # raised at once, not when the scope's deadline hit
    with move_on_after(5):
        assert await retry(_Flaky(1), base_delay=0.001) == "ok after 2"


async def test_retry_waits_for_real_between_attempts() -> None:
    fn = _Flaky(1)
    began = current_time()
    assert await retry(fn, base_delay=0.02, jitter=0) == "ok after 2"
    assert current_time() - began >= 0.02 * 0.9


async def test_cancellation_is_never_retried() -> None:
    calls = 0
    running = Event()

    async def hangs() -> None:
        nonlocal calls
        calls += 1
        running.set()
        await sleep_forever()

    async with anyio.create_task_group() as tg:

        async def run() -> None:
            await retry(hangs, attempts=5, retry_on=BaseException)

        tg.start_soon(run)
        await running.wait()
        tg.cancel_scope.cancel()
    assert calls == 1


async def test_retry_accepts_its_earlier_parameter_names(waits: list[float]) -> None:
    await retry(_Flaky(3), attempts=4, backoff=0.5, max_backoff=1.0, jitter=0)
    assert waits == [0.5, 1.0, 1.0]
    with pytest.raises(TypeError, match="both"):
        await retry(_Flaky(0), base_delay=1.0, backoff=2.0)
    with pytest.raises(ValueError):
        await retry(_Flaky(0), attempts=0)


async def test_many_attempts_never_overflow(waits: list[float]) -> None:
    with pytest.raises(ConnectionError):
        await retry(_Flaky(5000), attempts=2000, jitter=0)
    assert len(waits) == 1999 and max(waits) == waits[-1] == 2.0


# --- CompletionStream -------------------------------------------------------------------


async def _when(gate: Event, value: str) -> str:
    await gate.wait()
    return value


async def test_completion_stream_yields_in_completion_order_with_indexes() -> None:
    gates = [Event(), Event(), Event()]
    order = [2, 0, 1]
    seen: list[tuple[int, str]] = []
    async with CompletionStream([_when(gate, f"r{i}") for i, gate in enumerate(gates)]) as stream:
        gates[order[0]].set()
        async for index, result in stream:
            seen.append((index, result))
            if len(seen) < len(order):
                gates[order[len(seen)]].set()
        assert stream.completed == stream._completed_count == 3
    assert seen == [(2, "r2"), (0, "r0"), (1, "r1")]


async def test_completion_stream_limit_bounds_concurrency_and_takes_callables() -> None:
    running = 0
    peak = 0

    async def job(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        for _ in range(3):
            await sleep(0)
        running -= 1
        return n

    jobs = [lambda n=n: job(n) for n in range(6)]
    async with CompletionStream(jobs, limit=2) as stream:
        results = sorted([result async for _, result in stream])
    assert results == list(range(6))
    assert peak == 2


async def test_leaving_the_block_early_cancels_what_still_runs() -> None:
    cancelled = [Event(), Event()]

    async def forever(event: Event) -> str:
        try:
            await sleep_forever()
        except get_cancelled_exc_class():
            event.set()
            raise
        return "never"

    async def quick() -> str:
        return "quick"

    async with CompletionStream([forever(cancelled[0]), quick(), forever(cancelled[1])]) as stream:
        async for index, result in stream:
            assert (index, result) == (1, "quick")
            break
    assert all(event.is_set() for event in cancelled)


async def test_a_failure_cancels_the_rest_and_leaves_as_an_exception_group() -> None:
    cancelled = Event()

    async def forever() -> str:
        try:
            await sleep_forever()
        except get_cancelled_exc_class():
            cancelled.set()
            raise
        return "never"

    async def broken() -> str:
        await sleep(0)
        raise OSError("disk")

    seen: list[int] = []
    with pytest.raises(ExceptionGroup) as info:
        async with CompletionStream([forever(), broken()]) as stream:
            async for index, _ in stream:
                seen.append(index)
    assert info.group_contains(OSError, match="disk")
    assert seen == [] and cancelled.is_set()


async def test_completion_stream_misuse_is_a_clear_error() -> None:
    stream: CompletionStream[int] = CompletionStream([])
    with pytest.raises(RuntimeError, match="async with"):
        stream.__aiter__()
    async with stream:
        assert [item async for item in stream] == []
    with pytest.raises(ValueError):
        CompletionStream([], limit=0)
