"""Queue, PriorityQueue and the synchronization primitives, on asyncio and trio."""

from __future__ import annotations

import math

import anyio
import pytest

from supervisor.concurrency import (
    CapacityLimiter,
    ConcurrencyEvent,
    Condition,
    Event,
    Lock,
    PriorityQueue,
    Queue,
    QueueEmpty,
    QueueFull,
    Semaphore,
    create_task_group,
    fail_after,
    move_on_after,
)

pytestmark = pytest.mark.anyio


async def test_queue_is_fifo_with_backpressure_and_nowait_variants() -> None:
    queue: Queue[int] = Queue.with_maxsize(2)
    async with queue:
        await queue.put(1)
        queue.put_nowait(2)
        with pytest.raises(anyio.WouldBlock):
            queue.put_nowait(3)
        assert [await queue.get(), queue.get_nowait()] == [1, 2]
        with pytest.raises(anyio.WouldBlock):
            queue.get_nowait()
        assert queue.sender is queue._send and queue.receiver is queue._recv
    with pytest.raises(anyio.ClosedResourceError):
        await queue.put(4)


async def test_queue_producer_and_consumer() -> None:
    queue: Queue[int | None] = Queue.with_maxsize(0)  # every put waits for a get
    got: list[int] = []

    async def consumer() -> None:
        while (item := await queue.get()) is not None:
            got.append(item)

    async with queue, create_task_group() as tg:
        tg.start_soon(consumer)
        for n in range(5):
            await queue.put(n)
        await queue.put(None)
    assert got == [0, 1, 2, 3, 4]


async def test_unbounded_queue_never_blocks() -> None:
    queue: Queue[int] = Queue.with_maxsize(math.inf)
    for n in range(1000):
        queue.put_nowait(n)
    assert queue.get_nowait() == 0
    await queue.close()


async def test_priority_queue_returns_lowest_first_and_equal_items_in_put_order() -> None:
    queue: PriorityQueue[tuple[int, str]] = PriorityQueue()
    for item in [(5, "low"), (1, "high"), (3, "medium"), (1, "high")]:
        await queue.put(item)
    assert queue.qsize() == 4 and not queue.empty() and not queue.full()
    assert [await queue.get() for _ in range(4)] == [
        (1, "high"),
        (1, "high"),
        (3, "medium"),
        (5, "low"),
    ]
    assert queue.empty()


async def test_priority_queue_nowait_raises_queue_full_and_queue_empty() -> None:
    queue: PriorityQueue[tuple[int, str]] = PriorityQueue(maxsize=2)
    await queue.put_nowait((1, "a"))
    await queue.put_nowait((2, "b"))
    assert queue.full()
    with pytest.raises(QueueFull):
        await queue.put_nowait((3, "c"))
    assert [await queue.get_nowait(), await queue.get_nowait()] == [(1, "a"), (2, "b")]
    with pytest.raises(QueueEmpty):
        await queue.get_nowait()
    with pytest.raises(ValueError):
        PriorityQueue(maxsize=-1)


async def test_priority_queue_put_waits_while_full_and_get_while_empty() -> None:
    queue: PriorityQueue[int] = PriorityQueue(maxsize=1)
    log: list[str] = []

    async def producer() -> None:
        for n in (3, 2, 1):
            await queue.put(n)
            log.append(f"put {n}")

    async with create_task_group() as tg:
        tg.start_soon(producer)
        for _ in range(3):
            log.append(f"got {await queue.get()}")
    # Bounded to one item: every put after the first waited for a get.
    assert log.index("got 3") < log.index("put 2") and log.index("got 2") < log.index("put 1")
    assert sorted(entry for entry in log if entry.startswith("got")) == ["got 1", "got 2", "got 3"]


async def test_a_cancelled_getter_does_not_take_the_wake_up_of_the_next() -> None:
    queue: PriorityQueue[int] = PriorityQueue()
    received: list[int] = []
    got_one = Event()

    async def getter() -> None:
        received.append(await queue.get())
        got_one.set()

    async with create_task_group() as tg:
        with anyio.CancelScope() as first:
            async with create_task_group() as inner:
                inner.start_soon(getter)
                await anyio.wait_all_tasks_blocked()
                first.cancel()  # the first getter gives up while waiting
        tg.start_soon(getter)
        await anyio.wait_all_tasks_blocked()
        await queue.put(7)
        with fail_after(5):
            await got_one.wait()
    assert received == [7]


async def test_a_getter_woken_then_cancelled_passes_the_wake_up_on(anyio_backend: str) -> None:
    """Only a native asyncio cancellation can land between a wake-up and its use."""
    if anyio_backend != "asyncio":
        pytest.skip("trio and anyio scopes do not cancel a task already woken")
    import asyncio

    queue: PriorityQueue[int] = PriorityQueue()
    received: list[int] = []

    async def getter() -> None:
        received.append(await queue.get())

    first = asyncio.ensure_future(getter())
    second = asyncio.ensure_future(getter())
    await anyio.wait_all_tasks_blocked()
    await queue.put(7)  # wakes the first getter...
    first.cancel()  # ...which is cancelled before it runs again
    with fail_after(5):
        await second
    assert received == [7] and first.cancelled()


async def test_priority_queue_can_be_made_outside_a_running_loop() -> None:
    queue = await anyio.to_thread.run_sync(PriorityQueue[int])
    await queue.put(1)
    assert await queue.get() == 1


async def test_event_and_concurrency_event_are_the_same_primitive() -> None:
    event = ConcurrencyEvent()
    assert isinstance(event, Event)
    async with create_task_group() as tg:
        tg.start_soon(event.wait)
        await anyio.wait_all_tasks_blocked()
        assert event.statistics().tasks_waiting == 1
        event.set()
    assert event.is_set()


async def test_lock_semaphore_condition_and_capacity_limiter() -> None:
    lock = Lock()
    async with lock:
        assert lock.locked()
    semaphore = Semaphore(2)
    async with semaphore, semaphore:
        assert semaphore.value == 0
    limiter = CapacityLimiter(2)
    owner = object()
    await limiter.acquire_on_behalf_of(owner)
    assert (limiter.borrowed_tokens, limiter.available_tokens) == (1, 1)
    limiter.release_on_behalf_of(owner)
    limiter.total_tokens = 3
    assert limiter.available_tokens == 3

    condition = Condition()
    ready: list[int] = []

    async def waiter() -> None:
        async with condition:
            while not ready:
                await condition.wait()

    async with create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        async with condition:
            ready.append(1)
            condition.notify_all()
    with move_on_after(0):
        await semaphore.acquire()  # still cancellable while free slots are taken
