"""run_sync, run_async, is_coro_func and the leak tracker."""

from __future__ import annotations

import functools
import gc
import threading
import time

import anyio
import pytest

from supervisor.concurrency import (
    LeakInfo,
    LeakTracker,
    is_coro_func,
    live_resources,
    run_async,
    run_sync,
    sleep,
    track_resource,
    untrack_resource,
)


@pytest.mark.anyio
async def test_run_sync_runs_in_a_worker_thread_with_args_and_kwargs() -> None:
    def blocking(x: int, *, times: int) -> tuple[int, str]:
        return x * times, threading.current_thread().name

    value, thread = await run_sync(blocking, 7, times=3)
    assert value == 21
    assert thread != threading.current_thread().name


@pytest.mark.anyio
async def test_run_sync_keeps_the_loop_running() -> None:
    gate = threading.Event()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while not gate.is_set():
            ticks += 1
            await sleep(0.001)

    def wait_for_ticks() -> bool:
        return gate.wait(5)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        while ticks < 3:  # the loop runs while the thread below blocks
            await sleep(0.001)
        done = run_sync(wait_for_ticks)
        gate.set()
        assert await done


@pytest.mark.anyio
async def test_run_sync_propagates_errors() -> None:
    def broken() -> None:
        raise OSError("disk")

    with pytest.raises(OSError, match="disk"):
        await run_sync(broken)


async def _answer(delay: float = 0) -> str:
    await sleep(delay)
    return "42"


def test_run_async_from_plain_sync_code_on_either_backend() -> None:
    assert run_async(_answer()) == "42"
    assert run_async(_answer(), backend="trio") == "42"


@pytest.mark.anyio
async def test_run_async_from_sync_code_called_by_a_running_loop() -> None:
    def sync_hook() -> str:
        return run_async(_answer(0.001))  # no "loop already running" error

    assert sync_hook() == "42"


def test_run_async_raises_what_the_coroutine_raised() -> None:
    async def broken() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        run_async(broken())

    async def main() -> None:
        with pytest.raises(KeyError, match="missing"):
            run_async(broken())

    anyio.run(main, backend="trio")


def test_is_coro_func_sees_through_partials() -> None:
    async def coro(a: int, b: int) -> int:
        return a + b

    def plain() -> int:
        return 1

    class Service:
        async def run(self) -> None:
            return None

    assert is_coro_func(coro)
    assert is_coro_func(functools.partial(functools.partial(coro, 1), 2))
    assert is_coro_func(Service().run)
    assert not is_coro_func(plain)
    assert not is_coro_func(functools.partial(plain))


class _Resource:
    """Something that can be weakly referenced."""


def test_tracker_lists_live_objects_and_forgets_collected_ones() -> None:
    tracker = LeakTracker()
    kept, dropped = _Resource(), _Resource()
    before = time.time()  # created_at is wall-clock time, as in lionherd-core
    tracker.track(kept, name="kept", kind="connection")
    tracker.track(dropped, name=None, kind=None)
    names = [info.name for info in tracker.live()]
    assert names == ["kept", f"obj-{id(dropped)}"]
    info = tracker.live()[0]
    assert isinstance(info, LeakInfo) and info.kind == "connection" and info.created_at >= before
    del dropped
    gc.collect()
    assert [info.name for info in tracker.live()] == ["kept"]
    tracker.untrack(kept)
    tracker.untrack(kept)  # untracking twice is harmless
    assert tracker.live() == []


def test_untracked_object_dying_later_does_not_remove_another_entry() -> None:
    tracker = LeakTracker()
    first = _Resource()
    tracker.track(first, name="first", kind=None)
    tracker.untrack(first)
    second = _Resource()
    tracker.track(second, name="second", kind=None)
    del first
    gc.collect()
    assert [info.name for info in tracker.live()] == ["second"]
    tracker.clear()
    assert tracker.live() == []
    del second
    gc.collect()  # its finalizer was detached by clear(): nothing to do, nothing raised


def test_tracking_again_replaces_the_entry() -> None:
    tracker = LeakTracker()
    resource = _Resource()
    tracker.track(resource, name="old", kind=None)
    tracker.track(resource, name="new", kind="file")
    assert [(i.name, i.kind) for i in tracker.live()] == [("new", "file")]


def test_objects_without_weak_references_are_refused_clearly() -> None:
    with pytest.raises(TypeError, match="weak references"):
        LeakTracker().track(object(), name="x", kind=None)


def test_module_level_tracking_uses_one_process_wide_tracker() -> None:
    resource = _Resource()
    track_resource(resource, name="global", kind="test")
    try:
        assert "global" in [info.name for info in live_resources()]
    finally:
        untrack_resource(resource)
    assert "global" not in [info.name for info in live_resources()]


def test_the_tracker_is_thread_safe() -> None:
    tracker = LeakTracker()
    resources = [_Resource() for _ in range(400)]

    def churn(chunk: list[_Resource]) -> None:
        for resource in chunk:
            tracker.track(resource, name=None, kind=None)
        for resource in chunk[::2]:
            tracker.untrack(resource)

    threads = [threading.Thread(target=churn, args=(resources[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tracker.live()) == 200
