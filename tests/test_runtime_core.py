"""Regression tests for the runtime core: each defect the review reproduced, and the
shapes that replaced them (predicate waits, one control lock, graceful cleanup)."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from supervisor import (
    TASK_STATUS_IGNORED,
    ServiceContext,
    ServiceState,
    Supervisor,
    SupervisorError,
    SupervisorFailed,
)
from supervisor.config import load_config_data
from tests import runtime_services
from tests.runtime_helpers import recorder, wait_state

S = ServiceState
GATED = "tests.runtime_services:gated_stop"
ECHO = "tests.runtime_services:echo"


def stubborn(log: list[str], cleanup: float) -> Any:
    """A service whose cleanup takes ``cleanup`` seconds, shielded (it overruns)."""

    async def service(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        log.append("start")
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(cleanup)
            log.append("cleaned up")

    return service


@pytest.mark.anyio
async def test_start_after_an_abandoned_stop_starts_it_again() -> None:
    """Defect 1 (lost wakeup): start() of a service whose stop was abandoned returned
    never; now it waits for the old run to end and starts a new one."""
    log: list[str] = []
    sup = Supervisor()
    sup.add("slow", stubborn(log, 0.3), stop_timeout=0.05)
    async with sup:
        status = await sup.stop("slow")
        assert status.state is S.STOPPED
        assert status.last_error == "did not stop within 0.05s; abandoned"
        assert log == ["start"]
        with anyio.fail_after(5):
            status = await sup.start("slow")
        assert status.state is S.READY
        assert log == ["start", "cleaned up", "start"]


@pytest.mark.anyio
async def test_start_gives_up_clearly_when_the_abandoned_run_does_not_end() -> None:
    log: list[str] = []
    sup = Supervisor(shutdown_timeout=5)
    sup.add("stuck", stubborn(log, 0.6), stop_timeout=0.05, start_timeout=0.2)
    async with sup:
        await sup.stop("stuck")
        with pytest.raises(SupervisorError, match="previous run has not ended"):
            await sup.start("stuck")
        # it is wanted again: it starts once the old run ends
        await wait_state(sup, "stuck", S.READY)
        assert log == ["start", "cleaned up", "start"]


@pytest.mark.anyio
async def test_a_reload_in_flight_when_shutdown_begins_starts_nothing() -> None:
    """Defect 2: a reload waiting for its stops must not start services after shutdown."""
    gate = runtime_services.GATES["slow"] = anyio.Event()
    sup = Supervisor(load_config_data({"services": {"slow": {"run": GATED}}}))
    new = load_config_data({"services": {"fresh": {"run": ECHO}}})
    outcome: list[BaseException] = []
    seen: list[str] = []
    async with sup.events() as events:

        async def reload() -> None:
            try:
                await sup.reload(new)
            except SupervisorError as exc:
                outcome.append(exc)

        async with anyio.create_task_group() as tg, sup:
            tg.start_soon(reload)
            await wait_state(sup, "slow", S.STOPPING)
            sup.shutdown()
            gate.set()
        seen = [e.service for e in events.pending()]
    assert [type(e) for e in outcome] == [SupervisorError]
    assert "fresh" not in seen
    assert sup.status().names() == ["slow"]


@pytest.mark.anyio
async def test_reload_keeps_constructor_overrides_and_applies_live_settings() -> None:
    """Defect 3: settings given to the constructor survive a reload."""
    first = load_config_data({"services": {"a": {"run": ECHO}}})
    sup = Supervisor(first, on_failure="isolate", shutdown_timeout=5)
    second = load_config_data(
        {
            "supervisor": {"on_failure": "shutdown", "shutdown_timeout": "7s"},
            "services": {"a": {"run": ECHO}},
        }
    )
    async with sup:
        await sup.reload(second)
        assert sup.settings.on_failure == "isolate"
        assert sup.settings.shutdown_timeout == 5
    plain = Supervisor(first)
    async with plain:
        await plain.reload(second)
        assert plain.settings.shutdown_timeout == 7


@pytest.mark.anyio
async def test_an_internal_error_escalates_like_any_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Defect 4: an exception inside the runtime fails the service *and* escalates."""
    from supervisor.runtime import runner as runner_module

    real_decide = runner_module.decide

    def broken(end: Any, *args: Any, **kwargs: Any) -> Any:
        if end.failed and not end.stopped:
            raise RuntimeError("bug in the runtime")
        return real_decide(end, *args, **kwargs)

    monkeypatch.setattr(runner_module, "decide", broken)
    log: list[str] = []
    sup = Supervisor()
    sup.add("db", recorder(log))

    @sup.service
    async def crashes(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        raise ValueError("boom")

    with pytest.raises(SupervisorFailed, match="'crashes' failed: internal error"):
        async with sup:
            await anyio.sleep_forever()
    assert sup.status()["crashes"].last_error == "RuntimeError: bug in the runtime"
    assert sup.status()["db"].state is S.STOPPED


@pytest.mark.anyio
async def test_cleanup_block_may_await_within_the_stop_timeout() -> None:
    """Item 6: ``async with ctx.cleanup()`` is shielded and bounded by the stop timeout."""
    log: list[str] = []
    sup = Supervisor()

    @sup.service(stop_timeout=2)
    async def graceful(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            await anyio.sleep(0)  # a plain await here would be cancelled at once...
            log.append("never")

    @sup.service(stop_timeout=2)
    async def careful(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            async with ctx.cleanup():
                await anyio.sleep(0.05)  # ...but not inside ctx.cleanup()
                log.append("flushed")

    @sup.service(stop_timeout=0.1)
    async def overrunning(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            async with ctx.cleanup() as scope:
                await anyio.sleep(30)
            log.append(f"cut short: {scope.cancelled_caught}")

    began = time.monotonic()
    async with sup:
        pass
    assert time.monotonic() - began < 2
    assert sorted(log) == ["cut short: True", "flushed"]
    assert all(s.state is S.STOPPED for s in sup.status())


@pytest.mark.anyio
async def test_log_followers_end_when_the_supervisor_stops() -> None:
    """Item 8: ``follow_logs()`` iterators end with the supervisor, as ``events()`` do."""
    sup = Supervisor()
    sup.add("quiet", recorder([]))
    lines: list[Any] = []
    async with anyio.create_task_group() as tg, sup:
        follow = sup.follow_logs("quiet")

        async def drain() -> None:
            lines.extend([line async for line in follow])

        tg.start_soon(drain)
    assert lines == []  # ended (no hang) once the supervisor stopped


@pytest.mark.anyio
async def test_the_supervisor_has_the_shape_of_its_services() -> None:
    """Item 9: ``await tg.start(sup.run)`` returns the supervisor once all are ready."""
    sup = Supervisor()
    sup.add("db", recorder([]))
    sup.add("api", recorder([]), depends_on="db")
    async with anyio.create_task_group() as tg:
        started = await tg.start(sup.run)
        assert started is sup
        assert {s.state for s in sup.status()} == {S.READY}
        tg.cancel_scope.cancel()
    assert {s.state for s in sup.status()} == {S.STOPPED}


@pytest.mark.anyio
async def test_run_returns_once_shutdown_has_stopped_everything() -> None:
    sup = Supervisor()
    sup.add("db", recorder([]))
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        sup.shutdown()
    assert sup.status()["db"].state is S.STOPPED


@pytest.mark.anyio
async def test_control_operations_are_serialized() -> None:
    """Concurrent stop and start of one chain: each sees the other's result whole."""
    log: list[str] = []
    sup = Supervisor()
    sup.add("db", recorder(log))
    sup.add("api", recorder(log), depends_on="db")
    async with sup:
        async with anyio.create_task_group() as tg:
            tg.start_soon(sup.stop, "db")
            tg.start_soon(sup.start, "api")
        states = {s.state for s in sup.status()}
        if states == {S.READY}:  # stop ran first (api, then db), then start brought both up
            assert log[2:] == ["stop api", "stop db", "start db", "start api"]
        else:  # start found both running and returned; then stop took both down
            assert states == {S.STOPPED}
            assert log[2:] == ["stop api", "stop db"]


@pytest.mark.anyio
async def test_starting_a_completed_one_shot_runs_it_again() -> None:
    runs: list[str] = []
    sup = Supervisor()

    @sup.service(oneshot=True)
    async def migrate(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        runs.append("migrate")

    async with sup:
        assert sup.status()["migrate"].state is S.COMPLETED
        status = await sup.start("migrate")
        assert status.state is S.COMPLETED
        assert runs == ["migrate", "migrate"]


@pytest.mark.anyio
@pytest.mark.parametrize("failing", ["ChildIO", "GUARD.register"])
async def test_a_failure_right_after_spawn_leaves_no_process(
    monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """Item 7: EMFILE (or any error) between spawn and supervision kills the child."""
    import errno

    from supervisor.services import process as process_module

    def emfile(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EMFILE, "Too many open files")

    if failing == "ChildIO":
        monkeypatch.setattr(process_module, "ChildIO", emfile)
    else:
        monkeypatch.setattr(process_module.GUARD, "register", emfile)
    sup = Supervisor.from_dict(
        {
            "supervisor": {"on_failure": "isolate"},
            "services": {"sleeper": {"command": ["sleep", "30"], "restart": "no"}},
        }
    )
    async with sup:
        status = sup.status()["sleeper"]
        assert status.state is S.FAILED
        assert "Too many open files" in (status.last_error or "")
        assert status.pid is None
    # the autouse fixture fails this test if the `sleep` process is still alive


@pytest.mark.anyio
async def test_a_stop_during_backoff_is_not_lost() -> None:
    """Leaving a backoff cleared any pending order, so a stop (or shutdown) given while
    a service waited to restart was forgotten and it ran on."""
    sup = Supervisor(on_failure="isolate")
    runs: list[int] = []

    @sup.service(restart={"policy": "always", "backoff": {"initial": "30s", "jitter": 0}})
    async def flaky(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        runs.append(1)
        task_status.started()
        if len(runs) == 1:
            raise RuntimeError("first run crashes")
        await anyio.sleep_forever()

    with anyio.fail_after(5):
        async with sup:
            await wait_state(sup, "flaky", S.BACKOFF)
            status = await sup.stop("flaky")
            assert status.state is S.STOPPED
            assert not sup.active_services()
    assert runs == [1]
