"""Property tests: the queues and patterns against simple models, on random inputs."""

from __future__ import annotations

import heapq
from itertools import count

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor.concurrency import (
    CompletionStream,
    PriorityQueue,
    QueueEmpty,
    QueueFull,
    bounded_map,
    gather,
    sleep,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BACKENDS = pytest.mark.parametrize("backend", ["asyncio", "trio"])

# An operation: ("put", priority) or ("get", None).
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(-3, 3)),
        st.tuples(st.just("get"), st.none()),
    ),
    max_size=60,
)


@BACKENDS
@SETTINGS
@given(ops=OPS, maxsize=st.integers(0, 5))
def test_priority_queue_matches_a_heap_with_insertion_order_ties(
    backend: str, ops: list[tuple[str, int | None]], maxsize: int
) -> None:
    async def check() -> None:
        queue: PriorityQueue[tuple[int, str]] = PriorityQueue(maxsize)
        model: list[tuple[int, int, str]] = []
        order = count()
        for op, priority in ops:
            if op == "put":
                assert priority is not None
                item = (priority, "same")  # equal items: only put order tells them apart
                full = 0 < maxsize <= len(model)
                try:
                    await queue.put_nowait(item)
                    assert not full
                    heapq.heappush(model, (priority, next(order), "same"))
                except QueueFull:
                    assert full
            else:
                try:
                    got = await queue.get_nowait()
                    expected = heapq.heappop(model)
                    assert got == (expected[0], expected[2])
                except QueueEmpty:
                    assert not model
            assert queue.qsize() == len(model)

    anyio.run(check, backend=backend)


@BACKENDS
@SETTINGS
@given(
    items=st.lists(st.integers(-100, 100), max_size=40),
    limit=st.integers(1, 8),
    failing=st.sets(st.integers(-100, 100), max_size=3),
)
def test_bounded_map_equals_map_with_failures_in_place(
    backend: str, items: list[int], limit: int, failing: set[int]
) -> None:
    async def square(n: int) -> int:
        for _ in range(n % 3):
            await sleep(0)
        if n in failing:
            raise ValueError(n)
        return n * n

    async def check() -> None:
        results = await bounded_map(square, items, limit=limit, return_exceptions=True)
        assert [r.args[0] if isinstance(r, ValueError) else r for r in results] == [
            n if n in failing else n * n for n in items
        ]

    anyio.run(check, backend=backend)


@BACKENDS
@SETTINGS
@given(steps=st.lists(st.integers(0, 4), max_size=20), limit=st.none() | st.integers(1, 5))
def test_gather_and_completion_stream_see_every_result_once(
    backend: str, steps: list[int], limit: int | None
) -> None:
    async def after(index: int, n: int) -> int:
        for _ in range(n):
            await sleep(0)
        return index

    async def check() -> None:
        assert await gather(*(after(i, n) for i, n in enumerate(steps))) == list(range(len(steps)))
        work = [after(i, n) for i, n in enumerate(steps)]
        async with CompletionStream(work, limit=limit) as stream:
            pairs = [pair async for pair in stream]
        assert sorted(pairs) == [(i, i) for i in range(len(steps))]

    anyio.run(check, backend=backend)
