"""Restarts, backoff and intensity on a virtual clock; escalation; dependents restarted."""

from __future__ import annotations

import random
from typing import Any

import anyio
import pytest

from supervisor import (
    TASK_STATUS_IGNORED,
    ServiceContext,
    ServiceState,
    Supervisor,
    SupervisorFailed,
    VirtualClock,
)
from tests.runtime_helpers import recorder, transitions, wait_state

pytestmark = pytest.mark.anyio
S = ServiceState

POLICY = {
    "policy": "on-failure",
    "max_restarts": 3,
    "within": 60,
    "backoff": {"initial": 1, "multiplier": 2, "max": 3, "jitter": 0},
}


def crasher(runs: list[int], *, run_for: float = 0.0, clock: VirtualClock | None = None) -> Any:
    async def service(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        runs.append(1)
        task_status.started(len(runs))
        if clock is not None:
            clock.advance(run_for)
        raise RuntimeError(f"crash {len(runs)}")

    return service


async def test_backoff_then_intensity_exceeded_exactly() -> None:
    clock = VirtualClock()
    runs: list[int] = []
    sup = Supervisor(clock=clock, on_failure="isolate")
    sup.add("flaky", crasher(runs), restart=POLICY)
    events = sup.events()
    async with sup:
        await wait_state(sup, "flaky", S.FAILED)
        status = sup.status()["flaky"]
    assert clock.sleeps == [1, 2, 3]  # 1, 2, then capped at max
    assert len(runs) == 4 and status.restarts == 3
    assert status.state is S.FAILED
    assert status.reason == "gave up: restarted 3 times within 60s"
    assert status.last_error == "RuntimeError: crash 4"
    seen = [e async for e in events]
    assert transitions(seen, S.BACKOFF) == ["flaky"] * 3
    backoff = [e for e in seen if e.state is S.BACKOFF]
    assert [e.reason for e in backoff] == [
        "failed; restarting in 1s",
        "failed; restarting in 2s",
        "failed; restarting in 3s",
    ]
    assert backoff[0].error == "RuntimeError: crash 1"


async def test_jitter_comes_from_the_injected_rng() -> None:
    clock = VirtualClock()
    policy = {**POLICY, "backoff": {"initial": 1, "multiplier": 2, "max": 100, "jitter": 0.5}}
    sup = Supervisor(clock=clock, rng=random.Random(42), on_failure="isolate")
    sup.add("flaky", crasher([]), restart=policy)
    async with sup:
        await wait_state(sup, "flaky", S.FAILED)
    expected_rng = random.Random(42)
    expected = [base * (1 + 0.5 * expected_rng.uniform(-1, 1)) for base in (1, 2, 4)]
    assert clock.sleeps == pytest.approx(expected)


async def test_a_long_run_resets_backoff_and_old_restarts_leave_the_window() -> None:
    clock = VirtualClock()
    runs: list[int] = []
    long_run = {3, 6}  # these runs stay up 100s (> reset_after and > within) before crashing

    async def service(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        runs.append(1)
        task_status.started()
        if len(runs) in long_run:
            clock.advance(100)
        raise RuntimeError("crash")

    policy = {**POLICY, "backoff": {**POLICY["backoff"], "reset_after": 50, "max": 30}}
    sup = Supervisor(clock=clock, on_failure="isolate")
    sup.add("flaky", service, restart=policy)
    async with sup:
        await wait_state(sup, "flaky", S.FAILED)
    # runs 1, 2 crash at once (1, 2); run 3 stays up: reset (1), run 4, 5 (2, 4);
    # run 6 stays up: reset and the window is clear again (1, 2, 4); run 9 gives up.
    assert clock.sleeps == [1, 2, 1, 2, 4, 1, 2, 4]
    assert len(runs) == 9


async def test_policies_always_on_failure_no() -> None:
    clock = VirtualClock()
    sup = Supervisor(clock=clock, on_failure="isolate")
    count = {"always": 0, "done": 0}

    async def exits(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        count[ctx.name] += 1
        task_status.started()

    sup.add("always", exits, restart={**POLICY, "policy": "always"})
    sup.add("done", exits, restart="on-failure")
    async with sup:
        await wait_state(sup, "always", S.FAILED)
        status = sup.status()
    assert status["done"].state is S.COMPLETED and count["done"] == 1
    assert status["done"].last_exit == "returned"
    assert status["always"].state is S.FAILED and count["always"] == 4


async def test_escalation_shutdown_stops_everything_and_run_raises() -> None:
    log: list[str] = []
    crash = anyio.Event()
    sup = Supervisor(clock=VirtualClock())  # on_failure: shutdown is the default
    sup.add("db", recorder(log))
    sup.add("cache", recorder(log), depends_on=["db"])

    @sup.service(depends_on=["db"], restart="no")
    async def worker(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await crash.wait()
        raise RuntimeError("worker died")

    sup.add("web", recorder(log), depends_on=["worker"])

    async def crash_soon() -> None:
        await wait_state(sup, "web", S.READY)
        crash.set()

    failures: list[BaseException] = []
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(crash_soon)
            await sup.run()
    except* SupervisorFailed as group:
        failures.extend(group.exceptions)
    (failure,) = failures
    assert isinstance(failure, SupervisorFailed)
    assert failure.service == "worker"
    assert "RuntimeError: worker died" in str(failure)
    assert log.index("stop web") < log.index("stop db")
    assert log.index("stop cache") < log.index("stop db")
    states = {s.name: s.state for s in sup.status()}
    assert states == {"db": S.STOPPED, "cache": S.STOPPED, "worker": S.FAILED, "web": S.STOPPED}


async def test_escalation_shutdown_cancels_the_body_of_async_with() -> None:
    crash = anyio.Event()
    sup = Supervisor()

    @sup.service(restart="no")
    async def worker(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await crash.wait()
        raise RuntimeError("boom")

    body_cancelled = False
    with pytest.raises(SupervisorFailed, match="boom"):
        async with sup:
            crash.set()
            try:
                await anyio.sleep_forever()
            finally:
                body_cancelled = True
    assert body_cancelled


async def test_escalation_isolate_stops_dependents_and_keeps_the_rest() -> None:
    log: list[str] = []
    crash = anyio.Event()
    sup = Supervisor(on_failure="isolate")
    sup.add("db", recorder(log))

    @sup.service(depends_on=["db"], restart="no")
    async def queue(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await crash.wait()
        raise RuntimeError("queue died")

    sup.add("consumer", recorder(log), depends_on=["queue"])
    sup.add("report", recorder(log), depends_on=["consumer"])
    sup.add("api", recorder(log), depends_on=["db"])
    async with sup:
        crash.set()
        await wait_state(sup, "report", S.FAILED)
        await wait_state(sup, "consumer", S.FAILED)
        status = sup.status()
        assert status["queue"].state is S.FAILED
        assert status["consumer"].reason == "dependency 'queue' failed"
        assert status["db"].state is S.READY and status["api"].state is S.READY
        assert log.index("stop report") < log.index("stop consumer")
        assert "stop db" not in log and "stop api" not in log


async def test_a_crash_restarts_dependents_with_the_new_value() -> None:
    log: list[str] = []
    crash = anyio.Event()
    clock = VirtualClock()
    sup = Supervisor(clock=clock)
    runs: list[int] = []

    @sup.service(restart=POLICY)
    async def db(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        runs.append(1)
        log.append(f"db run {len(runs)}")
        task_status.started(f"pool-{len(runs)}")
        if len(runs) == 1:
            await crash.wait()
            raise ConnectionError("lost")
        await anyio.sleep_forever()

    @sup.service(depends_on="db")
    async def api(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        log.append(f"api uses {ctx.deps['db']}")
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            log.append("api stopped")

    events = sup.events()
    async with sup:
        crash.set()
        async for event in events:
            if event.service == "api" and event.state is S.READY and event.restarts == 1:
                break
        assert sup.status()["db"].restarts == 1
    assert log[:5] == ["db run 1", "api uses pool-1", "api stopped", "db run 2", "api uses pool-2"]
    assert clock.sleeps == [1]


async def test_restart_cuts_a_backoff_short() -> None:
    release = anyio.Event()
    sleeping = anyio.Event()
    crash = anyio.Event()

    class StuckClock(VirtualClock):
        async def sleep(self, seconds: float) -> None:
            self.sleeps.append(seconds)
            sleeping.set()
            await release.wait()  # a backoff that would never end by itself

    runs: list[int] = []
    sup = Supervisor(clock=StuckClock())

    @sup.service(restart=POLICY)
    async def svc(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        runs.append(1)
        task_status.started()
        if len(runs) == 1:
            await crash.wait()
            raise RuntimeError("crash")
        await anyio.sleep_forever()

    async with sup:
        crash.set()
        await sleeping.wait()
        assert sup.status()["svc"].state is S.BACKOFF
        assert (await sup.restart("svc")).state is S.READY
    assert len(runs) == 2
