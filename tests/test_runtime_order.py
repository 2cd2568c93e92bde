"""Start gating, reverse stop order, conditions and failures at start, on both backends."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from supervisor import (
    TASK_STATUS_IGNORED,
    ConfigError,
    ServiceContext,
    ServiceFailedError,
    ServiceState,
    Supervisor,
    SupervisorFailed,
)
from tests.runtime_helpers import add_graph, recorder, transitions, wait_state

pytestmark = pytest.mark.anyio
S = ServiceState

DIAMOND = {"db": [], "cache": ["db"], "queue": ["db"], "api": ["cache", "queue"]}


def before(seq: list[str], a: str, b: str) -> bool:
    return seq.index(a) < seq.index(b)


async def test_diamond_order_from_the_event_stream() -> None:
    log: list[str] = []
    sup = Supervisor()
    add_graph(sup, DIAMOND, log)
    events = sup.events()
    async with sup:
        assert [s.state for s in sup.status()] == [S.READY] * 4
    seen = [e async for e in events]  # the stream ends when the supervisor has stopped
    ready, stopped = transitions(seen, S.READY), transitions(seen, S.STOPPED)
    starting = transitions(seen, S.STARTING)
    for dep, dependent in [("db", "cache"), ("db", "queue"), ("cache", "api"), ("queue", "api")]:
        assert ready.index(dep) < starting.index(dependent)
        assert before(stopped, dependent, dep)
        # a service is cancelled only once every dependent has finished its cleanup
        assert before(log, f"stop {dependent}", f"stop {dep}")
    assert stopped[-1] == "db" and sorted(stopped) == sorted(DIAMOND)


async def test_deep_chain_starts_and_stops_link_by_link() -> None:
    log: list[str] = []
    names = [f"s{i}" for i in range(50)]
    sup = Supervisor()
    add_graph(sup, {n: [names[i - 1]] if i else [] for i, n in enumerate(names)}, log)
    events = sup.events()
    async with sup:
        pass
    seen = [e async for e in events]
    assert transitions(seen, S.READY) == names
    assert transitions(seen, S.STOPPED) == names[::-1]
    assert [entry.split()[1] for entry in log if entry.startswith("stop")] == names[::-1]


async def test_a_service_waits_for_its_own_dependencies_only() -> None:
    gate = anyio.Event()
    order: list[str] = []
    sup = Supervisor()

    @sup.service
    async def slow(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        await gate.wait()
        order.append("slow")
        task_status.started()
        await anyio.sleep_forever()

    @sup.service
    async def fast(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        order.append("fast")
        task_status.started()
        await anyio.sleep_forever()

    @sup.service(depends_on="fast")
    async def after_fast(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        order.append("after_fast")
        gate.set()  # only reachable if nothing waits for `slow` (no layer barrier)
        task_status.started()
        await anyio.sleep_forever()

    async with sup:
        assert order == ["fast", "after_fast", "slow"]


async def test_conditions_started_ready_completed_and_values() -> None:
    log: list[str] = []
    gate = anyio.Event()
    sup = Supervisor()

    @sup.service
    async def slow(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        await gate.wait()
        task_status.started("slow-url")
        await anyio.sleep_forever()

    @sup.service(oneshot=True)
    async def migrate(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        log.append("migrated")

    @sup.service(depends_on={"slow": "started"})
    async def watcher(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        log.append(f"watcher sees {ctx.deps['slow']!r}")
        gate.set()
        task_status.started()
        await anyio.sleep_forever()

    @sup.service(depends_on={"migrate": "completed", "slow": "ready"}, args={"port": 1})
    async def api(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        log.append(f"api {ctx.deps['slow']} {ctx.args['port']}")
        task_status.started()
        await anyio.sleep_forever()

    async with sup:
        status = sup.status()
        assert status["migrate"].state is S.COMPLETED
        assert status["api"].state is S.READY
    # `migrate` and `watcher` are independent: either may run first (trio shuffles).
    assert sorted(log[:2]) == ["migrated", "watcher sees None"]
    assert log[2] == "api slow-url 1"


async def test_start_timeout_fails_the_service_with_a_clear_reason() -> None:
    sup = Supervisor(on_failure="isolate")
    cleaned = anyio.Event()

    @sup.service(start_timeout=0.05, restart="no")
    async def stuck(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cleaned.set()

    async with sup:
        status = sup.status()["stuck"]
        assert status.state is S.FAILED
        assert status.last_error == "not ready within 0.05s"
        assert cleaned.is_set()


async def test_returning_before_started_is_a_start_failure() -> None:
    sup = Supervisor()

    @sup.service(restart="no")
    async def forgetful(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        return None

    with pytest.raises(SupervisorFailed) as caught:
        async with sup:
            pytest.fail("startup should have failed")
    assert caught.value.service == "forgetful"
    assert "returned before calling task_status.started()" in str(caught.value)
    assert sup.status()["forgetful"].last_error == ("returned before calling task_status.started()")


async def test_failing_dependency_keeps_dependents_from_starting() -> None:
    log: list[str] = []
    sup = Supervisor(on_failure="isolate")

    @sup.service(restart="no")
    async def db(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        raise ConnectionError("db is down")

    sup.add("api", recorder(log), depends_on=["db"])
    sup.add("web", recorder(log), depends_on=["api"])
    sup.add("other", recorder(log))
    async with sup:
        status = sup.status()
        assert status["db"].state is S.FAILED
        assert status["db"].last_error == "ConnectionError: db is down"
        assert status["db"].last_exit == "raised ConnectionError"
        assert (status["api"].state, status["api"].reason) == (S.FAILED, "dependency 'db' failed")
        # web sees its own dependency fail, or is failed with db's dependents: both true
        assert status["web"].state is S.FAILED
        assert status["web"].reason in ("dependency 'api' failed", "dependency 'db' failed")
        assert status["other"].state is S.READY
    assert log == ["start other", "stop other"]


async def test_exceptions_in_start_run_and_cleanup_never_escape() -> None:
    sup = Supervisor(on_failure="isolate")
    crash = anyio.Event()

    @sup.service(restart="no")
    async def bad_start(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        raise ValueError("bad config")

    @sup.service(restart="no")
    async def bad_run(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await crash.wait()
        raise RuntimeError("crashed")

    @sup.service
    async def bad_cleanup(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            raise OSError("cleanup failed")

    async with sup:
        assert sup.status()["bad_start"].state is S.FAILED
        crash.set()
        await wait_state(sup, "bad_run", S.FAILED)
        assert sup.status()["bad_run"].last_error == "RuntimeError: crashed"
        assert sup.status()["bad_cleanup"].state is S.READY
    status = sup.status()["bad_cleanup"]
    assert status.state is S.STOPPED
    assert status.last_error == "error while stopping: OSError: cleanup failed"


async def test_stop_start_and_restart_one_service() -> None:
    log: list[str] = []
    sup = Supervisor()
    add_graph(sup, DIAMOND, log)
    async with sup:
        log.clear()
        await sup.stop("cache")
        status = sup.status()
        assert status["cache"].state is S.STOPPED and status["api"].state is S.STOPPED
        assert status["db"].state is S.READY and status["queue"].state is S.READY
        assert log == ["stop api", "stop cache"]
        log.clear()
        assert (await sup.start("cache")).state is S.READY
        assert log == ["start cache"]  # dependents stay stopped until asked for
        await sup.start("api")
        log.clear()
        await sup.restart("db")
        assert log[:4] == ["stop api", "stop cache", "stop queue", "stop db"] or log[:4] == [
            "stop api",
            "stop queue",
            "stop cache",
            "stop db",
        ]
        assert log[4] == "start db" and log[-1] == "start api"
        assert all(s.state is S.READY for s in sup.status())
        assert sup.status()["db"].restarts == 1


async def test_unknown_names_and_cycles_are_config_errors() -> None:
    sup = Supervisor()
    sup.add("api", recorder([]), depends_on=["dbb"])
    sup.add("db", recorder([]))
    with pytest.raises(ConfigError, match=r"unknown service 'dbb' \(did you mean 'db'\?\)"):
        async with sup:
            pass
    sup = Supervisor()
    sup.add("a", recorder([]), depends_on=["b"])
    sup.add("b", recorder([]), depends_on=["a"])
    with pytest.raises(ConfigError, match="a -> b -> a"):
        async with sup:
            pass
    with pytest.raises(KeyError, match="did you mean 'db'"):
        sup2 = Supervisor()
        sup2.add("db", recorder([]))
        async with sup2:
            await sup2.stop("dbx")


async def test_cancelling_the_host_while_starting_stops_what_started() -> None:
    log: list[str] = []
    started = anyio.Event()
    sup = Supervisor()
    sup.add("db", recorder(log))

    @sup.service(depends_on="db")
    async def hang(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            log.append("stop hang")

    async with anyio.create_task_group() as tg:

        async def host() -> None:
            async with sup:
                pytest.fail("startup cannot complete")

        tg.start_soon(host)
        await started.wait()
        tg.cancel_scope.cancel()
    assert log == ["start db", "stop hang", "stop db"]
    assert {s.state for s in sup.status()} == {S.STOPPED}


async def test_an_exception_in_the_body_is_raised_as_is_after_stopping() -> None:
    log: list[str] = []
    sup = Supervisor()
    add_graph(sup, {"db": [], "api": ["db"]}, log)
    with pytest.raises(ZeroDivisionError):
        async with sup:
            _ = 1 / 0
    assert log == ["start db", "start api", "stop api", "stop db"]


async def test_no_task_left_behind_and_status_is_json() -> None:
    sup = Supervisor()
    add_graph(sup, DIAMOND, [])
    before_tasks = _tasks()
    async with sup:
        assert len(_tasks()) > len(before_tasks)
        data = json.loads(json.dumps(sup.status().to_dict()))
        assert data["api"]["state"] == "ready" and data["api"]["depends_on"] == {
            "cache": "ready",
            "queue": "ready",
        }
    assert _tasks() == before_tasks


async def test_start_of_a_failing_service_raises() -> None:
    sup = Supervisor(on_failure="isolate")
    attempts = []

    @sup.service(restart="no")
    async def flaky(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        attempts.append(1)
        if len(attempts) > 1:
            raise RuntimeError("second start fails")
        task_status.started()
        await anyio.sleep_forever()

    async with sup:
        await sup.stop("flaky")
        with pytest.raises(ServiceFailedError, match="flaky"):
            await sup.start("flaky")


def _tasks() -> set[object]:
    import sniffio

    if sniffio.current_async_library() == "trio":
        import trio

        root = trio.lowlevel.current_root_task()
        assert root is not None
        found: set[object] = set()
        stack = [root]
        while stack:
            task = stack.pop()
            found.add(task)
            for nursery in task.child_nurseries:
                stack.extend(nursery.child_tasks)
        return found
    import asyncio

    return set(asyncio.all_tasks())
