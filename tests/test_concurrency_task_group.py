"""The task group: the walkthrough's scenarios, on asyncio and trio."""

from __future__ import annotations

import abc
import types

import anyio
import anyio.abc
import pytest

from supervisor.concurrency import (
    TASK_STATUS_IGNORED,
    Event,
    TaskGroup,
    TaskStatus,
    create_task_group,
    current_time,
    get_cancelled_exc_class,
    sleep,
    sleep_forever,
)
from supervisor.concurrency._task_group import _forward_abstract

pytestmark = pytest.mark.anyio


async def test_all_tasks_finish_before_the_block_exits() -> None:
    done: list[int] = []

    async def worker(n: int) -> None:
        await sleep(0.001 * n)
        done.append(n)

    async with create_task_group() as tg:
        assert isinstance(tg, TaskGroup)
        for n in (3, 1, 2):
            tg.start_soon(worker, n)
        assert done == []
    assert sorted(done) == [1, 2, 3]


async def test_start_soon_name_is_the_real_task_name() -> None:
    names: list[str] = []

    async def record() -> None:
        names.append(anyio.get_current_task().name)

    async with create_task_group() as tg:
        tg.start_soon(record, name="worker-1")
        tg.start_soon(record, name="worker-2")
    assert sorted(names) == ["worker-1", "worker-2"]


async def test_start_returns_the_started_value_and_names_the_task() -> None:
    async def service(name: str, *, task_status: TaskStatus[str] = TASK_STATUS_IGNORED) -> None:
        await sleep(0)
        task_status.started(f"{name} ready as {anyio.get_current_task().name}")
        await sleep_forever()

    async with create_task_group() as tg:
        status = await tg.start(service, "Database", name="db")
        assert status == "Database ready as db"
        tg.cancel_scope.cancel()


async def test_services_started_one_after_another_are_ready_in_order() -> None:
    order: list[str] = []

    async def layered(name: str, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
        order.append(f"{name} init")
        task_status.started()
        order.append(f"{name} running")
        await sleep_forever()

    async with create_task_group() as tg:
        for name in ("Database", "Cache", "API"):
            await tg.start(layered, name)
            order.append(f"{name} started")
        tg.cancel_scope.cancel()
    started = [entry for entry in order if entry.endswith("started")]
    assert started == ["Database started", "Cache started", "API started"]
    assert order.index("Database init") < order.index("Database started")
    assert order.index("Database started") < order.index("Cache init")


async def test_start_raises_when_the_task_fails_before_started() -> None:
    async def broken(*, task_status: TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
        raise ConnectionError("no database")

    async with create_task_group() as tg:
        with pytest.raises(ConnectionError, match="no database"):
            await tg.start(broken)


async def test_deadline_on_the_group_cancels_silently() -> None:
    cancelled: list[int] = []

    async def slow(n: int) -> None:
        try:
            await sleep(5)
        except get_cancelled_exc_class():
            cancelled.append(n)
            raise

    before = current_time()
    async with create_task_group() as tg:  # no TimeoutError: the block simply ends
        tg.cancel_scope.deadline = current_time() + 0.05
        for n in range(3):
            tg.start_soon(slow, n)
    assert sorted(cancelled) == [0, 1, 2]
    assert tg.cancel_scope.cancel_called
    assert current_time() - before < 2


async def test_manual_cancellation_stops_the_other_searchers() -> None:
    found = Event()
    outcome: dict[int, str] = {}

    async def search(n: int) -> None:
        try:
            if n == 2:
                outcome[n] = "found"
                found.set()
                return
            await sleep_forever()
        except get_cancelled_exc_class():
            outcome[n] = "cancelled"
            raise

    async with create_task_group() as tg:
        for n in (1, 2, 3):
            tg.start_soon(search, n)
        await found.wait()
        tg.cancel_scope.cancel()
    assert outcome == {1: "cancelled", 2: "found", 3: "cancelled"}


async def test_one_failure_cancels_siblings_and_surfaces_as_exception_group() -> None:
    sibling_cancelled = Event()

    async def sibling() -> None:
        try:
            await sleep_forever()
        except get_cancelled_exc_class():
            sibling_cancelled.set()
            raise

    async def failing() -> None:
        await sleep(0)
        raise ValueError("Task 2 failed")

    caught: list[str] = []
    try:
        async with create_task_group() as tg:
            tg.start_soon(sibling)
            tg.start_soon(failing)
    except* ValueError as group:
        caught = [str(exc) for exc in group.exceptions]
    assert caught == ["Task 2 failed"]
    assert sibling_cancelled.is_set()


async def test_several_failures_are_all_reported() -> None:
    both_running = anyio.Event()
    arrived: list[int] = []

    async def fail_with(exc: Exception) -> None:
        arrived.append(1)
        if len(arrived) == 2:
            both_running.set()
        # Shielded so both get to raise even though the first failure cancels the group.
        with anyio.CancelScope(shield=True):
            await both_running.wait()
        raise exc

    with pytest.raises(ExceptionGroup) as info:
        async with create_task_group() as tg:
            tg.start_soon(fail_with, ValueError("one"))
            tg.start_soon(fail_with, TypeError("two"))
    kinds = sorted(type(exc).__name__ for exc in info.value.exceptions)
    assert kinds == ["TypeError", "ValueError"]


async def test_worker_pool_processes_every_item_once() -> None:
    processed: list[str] = []
    items = [f"item-{i}" for i in range(12)]

    async def worker(chunk: list[str]) -> None:
        for item in chunk:
            await sleep(0)
            processed.append(item)

    async with create_task_group() as tg:
        for i in range(3):
            tg.start_soon(worker, items[i * 4 : i * 4 + 4], name=f"worker-{i}")
    assert sorted(processed) == sorted(items)


async def test_service_manager_graceful_shutdown_runs_cleanup() -> None:
    ready: list[str] = []
    shut_down: list[str] = []

    async def run_service(
        name: str, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED
    ) -> None:
        ready.append(name)
        task_status.started()
        try:
            await sleep_forever()
        except get_cancelled_exc_class():
            shut_down.append(name)
            raise

    async with create_task_group() as tg:
        for name in ("Database", "Cache", "API"):
            await tg.start(run_service, name)
        assert ready == ["Database", "Cache", "API"]
        tg.cancel_scope.cancel()
    assert sorted(shut_down) == ["API", "Cache", "Database"]


async def test_nested_groups_finish_inner_before_outer() -> None:
    log: list[str] = []

    async def subtask(group: str, n: int) -> None:
        await sleep(0)
        log.append(f"{group}.{n}")

    async def with_subtasks(group: str) -> None:
        async with create_task_group() as inner:
            for n in range(3):
                inner.start_soon(subtask, group, n)
        log.append(f"{group} done")

    async with create_task_group() as tg:
        tg.start_soon(with_subtasks, "A")
        tg.start_soon(with_subtasks, "B")
    for group in ("A", "B"):
        done_at = log.index(f"{group} done")
        assert all(log.index(f"{group}.{n}") < done_at for n in range(3))


async def test_failure_in_nested_group_propagates_and_cancels_outer_siblings() -> None:
    outer_cancelled = Event()

    async def outer_sibling() -> None:
        try:
            await sleep_forever()
        except get_cancelled_exc_class():
            outer_cancelled.set()
            raise

    async def inner_failure() -> None:
        async with create_task_group() as inner:
            inner.start_soon(sleep_forever)
            raise KeyError("inner")

    with pytest.raises(ExceptionGroup) as info:
        async with create_task_group() as tg:
            tg.start_soon(outer_sibling)
            tg.start_soon(inner_failure)
    assert info.group_contains(KeyError, depth=2)
    assert outer_cancelled.is_set()


async def test_cancelling_the_outer_scope_cancels_nested_groups() -> None:
    inner_cancelled = Event()

    async def nested() -> None:
        async with create_task_group() as inner:

            async def leaf() -> None:
                try:
                    await sleep_forever()
                except get_cancelled_exc_class():
                    inner_cancelled.set()
                    raise

            inner.start_soon(leaf)

    with anyio.move_on_after(0.05):
        async with create_task_group() as tg:
            tg.start_soon(nested)
    assert inner_cancelled.is_set()


# --- Everything anyio's task group offers, through ours, with the same behaviour ---------

FACTORIES = {"anyio": anyio.create_task_group, "ours": create_task_group}


async def test_ours_is_an_anyio_task_group() -> None:
    async with create_task_group() as tg:
        assert isinstance(tg, anyio.abc.TaskGroup)
        assert isinstance(tg, TaskGroup)


async def test_start_soon_and_create_task_return_handles_like_anyio() -> None:
    async def double(n: int) -> int:
        await sleep(0)
        return n * 2

    seen: dict[str, list[object]] = {}
    for label, factory in FACTORIES.items():
        async with factory() as tg:
            soon = tg.start_soon(double, 3, name="soon")
            made = tg.create_task(double(4), name="made")
            assert soon.status is anyio.TaskHandle.Status.PENDING
        seen[label] = [soon.name, soon.return_value, made.name, await made, made.status]
    assert seen["ours"] == seen["anyio"] == ["soon", 6, "made", 8, anyio.TaskHandle.Status.FINISHED]


async def test_start_with_return_handle_gives_the_start_value_and_the_result() -> None:
    async def service(*, task_status: TaskStatus[str] = TASK_STATUS_IGNORED) -> str:
        task_status.started("listening")
        await sleep(0)
        return "served"

    seen: dict[str, list[object]] = {}
    for label, factory in FACTORIES.items():
        async with factory() as tg:
            handle = await tg.start(service, name="svc", return_handle=True)
            assert handle.start_value == "listening"
        seen[label] = [handle.name, handle.start_value, handle.return_value]
    assert seen["ours"] == seen["anyio"] == ["svc", "listening", "served"]


async def test_cancel_with_a_reason_cancels_every_task_like_anyio() -> None:
    seen: dict[str, list[object]] = {}
    for label, factory in FACTORIES.items():
        reasons: list[bool] = []  # whether the cancellation carries the reason
        running = Event()

        async def waiter(log: list[bool] = reasons, started: Event = running) -> None:
            started.set()
            try:
                await sleep_forever()
            except get_cancelled_exc_class() as exc:
                log.append("shutting down" in str(exc))
                raise

        async with factory() as tg:
            handle = tg.start_soon(waiter)
            await running.wait()
            tg.cancel("shutting down")
        seen[label] = [tg.cancel_scope.cancel_called, handle.status, *reasons]
    assert seen["ours"] == seen["anyio"]
    assert seen["ours"][:2] == [True, anyio.TaskHandle.Status.CANCELLED]
    assert len(seen["ours"]) == 3  # the task saw its cancellation


async def test_a_non_coroutine_is_refused_with_anyios_error() -> None:
    def not_async() -> int:
        return 3

    messages: dict[str, list[str]] = {}
    for label, factory in FACTORIES.items():
        async with factory() as tg:
            with pytest.raises(TypeError) as soon:
                tg.start_soon(not_async)  # type: ignore[arg-type]
            with pytest.raises(TypeError) as made:
                tg.create_task(3)  # type: ignore[arg-type]
        messages[label] = [str(soon.value), str(made.value)]
    assert messages["ours"] == messages["anyio"]
    assert "not a coroutine" in messages["ours"][0]


async def test_a_finished_group_refuses_new_tasks_like_anyio() -> None:
    async def nothing() -> None:
        return None

    errors: dict[str, str] = {}
    for label, factory in FACTORIES.items():
        async with factory() as tg:
            pass
        with pytest.raises(RuntimeError) as info:
            tg.start_soon(nothing)
        errors[label] = str(info.value)
    assert errors["ours"] == errors["anyio"]


async def test_wrapping_an_anyio_group_you_already_have() -> None:
    done: list[str] = []

    async def work(name: str) -> None:
        await sleep(0)
        done.append(name)

    async with anyio.create_task_group() as raw:
        tg = TaskGroup(raw)
        tg.start_soon(work, "through ours", name="ours")
        assert tg.cancel_scope is raw.cancel_scope
    assert done == ["through ours"]


def test_what_a_backend_group_offers_beyond_the_abstract_class_is_reachable() -> None:
    class Backend:
        cancel_scope = None
        extra_feature = "from a newer anyio"

    assert TaskGroup(Backend()).extra_feature == "from a newer anyio"  # type: ignore[arg-type, attr-defined]
    with pytest.raises(AttributeError):
        TaskGroup(Backend()).missing  # type: ignore[arg-type, attr-defined]  # noqa: B018


def test_abstract_members_added_by_a_newer_anyio_are_forwarded() -> None:
    class NewerAbstractGroup(abc.ABC):
        @abc.abstractmethod
        def new_method(self, n: int) -> int: ...

        @property
        @abc.abstractmethod
        def new_property(self) -> str: ...

    class Wrapper(NewerAbstractGroup):
        def __init__(self, inner: object) -> None:
            self.inner = inner

    with pytest.raises(TypeError):
        Wrapper(None)  # type: ignore[abstract]
    _forward_abstract(Wrapper, "inner")
    wrapper = Wrapper(types.SimpleNamespace(new_method=lambda n: n * 2, new_property="p"))
    assert (wrapper.new_method(21), wrapper.new_property) == (42, "p")
    assert TaskGroup.__abstractmethods__ == frozenset()
