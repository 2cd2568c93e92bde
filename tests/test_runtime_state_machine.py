"""A hypothesis state machine drives a running supervisor with random control steps.

Steps: start, stop, restart, reload (changed and removed/added services), crash, a start
that hangs past its timeout, a stop whose cleanup overruns its timeout, shutdown in the
middle of a reload, and for the replicated service ``r``: scale and rolling restart.
The supervisor runs in an event loop of its own thread (anyio's blocking portal), on
asyncio and on trio (trio with a mock clock that jumps whenever every task waits, so
timeouts cost no real time). After every step, once the
supervisor has settled, the invariants are checked:

* every call returns within a bound;
* no service runs while a dependency it needs does not meet its condition;
* the event stream and the states agree (each event starts where the last one ended,
  and the last event of each service is its state);
* at the end, no service task is left and every service is stopped, failed or completed.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from supervisor import ServiceEvent, ServiceFailedError, ServiceState, Supervisor, SupervisorError
from supervisor.config import ConfigFile, load_config_data
from supervisor.runtime.clock import VirtualClock
from tests import state_machine_services as scripts

S = ServiceState
TARGET = "tests.state_machine_services:scripted"
GRAPH = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c", "r"], "e": [], "r": ["a"]}
NAMES = sorted(GRAPH)
MAX_REPLICAS = 3
INSTANCES = [n for n in NAMES if n != "r"] + [f"r.{i}" for i in range(MAX_REPLICAS)]
STEP_BOUND = 10.0
SETTLED = {S.READY, S.COMPLETED, S.FAILED, S.STOPPED}


def config(versions: dict[str, int], with_e: bool, replicas: int) -> ConfigFile:
    services: dict[str, dict[str, Any]] = {
        name: {
            "run": TARGET,
            "depends_on": deps,
            "args": {"version": versions[name]},
            "start_timeout": "0.2s",
            "stop": {"timeout": "0.05s"},
            "restart": {
                "policy": "on-failure",
                "max_restarts": 3,
                "backoff": {"initial": "0.01s", "jitter": 0},
            },
        }
        for name, deps in GRAPH.items()
        if with_e or name != "e"
    }
    services["r"]["replicas"] = replicas
    return load_config_data({"supervisor": {"on_failure": "isolate"}, "services": services})


class SupervisorMachine(RuleBasedStateMachine):
    """Random control steps against one supervisor (see the module docstring)."""

    backend: Any = "asyncio"

    def __init__(self) -> None:
        super().__init__()
        self.versions = dict.fromkeys(NAMES, 0)
        self.with_e = True
        self.replicas = 2
        self.closed = False
        self.known: dict[str, ServiceState] = {}
        self.portal_cm = start_blocking_portal(*self.backend_args())
        self.portal: BlockingPortal = self.portal_cm.__enter__()
        self.portal.call(self._open)
        self.run_future, _ = self.portal.start_task(self.sup.run)

    @classmethod
    def backend_args(cls) -> tuple[str, dict[str, Any]]:
        if cls.backend == "trio":
            import trio.testing

            return "trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}
        return "asyncio", {}

    async def _open(self) -> None:
        scripts.SCRIPTS.clear()
        scripts.SCRIPTS.update({name: scripts.Script() for name in INSTANCES})
        self.tasks_before = len(anyio.get_running_tasks())
        self.sup = Supervisor(self.config(), clock=VirtualClock())
        self.events = self.sup.events()

    def call(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run ``fn(*args)`` in the supervisor's loop, within the step bound."""

        async def bounded() -> Any:
            with anyio.fail_after(STEP_BOUND):
                return await fn(*args)

        return self.portal.call(bounded)

    # -- steps -------------------------------------------------------------------------

    def config(self) -> ConfigFile:
        return config(self.versions, self.with_e, self.replicas)

    def present(self, name: str) -> bool:
        return name != "e" or self.with_e

    def expand(self, name: str) -> list[str]:
        """The services ``name`` stands for (``r``: its replicas)."""
        return self.sup.instances(name) if self.present(name) else []

    def bring_up(self, action: Callable[..., Awaitable[Any]], name: str, **options: Any) -> None:
        """Call ``start`` or ``restart``; check the service was started, unless refused."""
        if not self.present(name):
            return
        before = {n: self.sup._runners[n].attempts for n in self.expand(name)}
        try:
            self.call(functools.partial(action, **options), name)
        except ServiceFailedError:
            return
        except SupervisorError as exc:
            assert "previous run has not ended" in str(exc)
            return
        for instance, attempts in before.items():
            status = self.sup.status()[instance]
            runner = self.sup._runners[instance]
            if status.state is S.PENDING and runner.last_ready <= attempts:
                # only restart may leave it pending: it does not start stopped dependencies
                assert action == self.sup.restart, status
                deps = [self.sup.status()[d] for dep in GRAPH[name] for d in self.expand(dep)]
                assert any(dep.state in (S.STOPPED, S.FAILED) for dep in deps), (status, deps)
                continue
            self.check_started(instance, status, attempts)

    @precondition(lambda self: not self.closed)
    @rule(name=st.sampled_from(NAMES))
    def start(self, name: str) -> None:
        self.bring_up(self.sup.start, name)

    def check_started(self, name: str, status: Any, before: int) -> None:
        """Ready or failed; or it was ready since the call and has crashed since."""
        if status.state in (S.READY, S.FAILED, S.COMPLETED):
            return
        assert self.sup._runners[name].last_ready > before, status

    @precondition(lambda self: not self.closed)
    @rule(name=st.sampled_from(NAMES))
    def stop(self, name: str) -> None:
        if not self.present(name):
            return
        self.call(self.sup.stop, name)
        dependents = [name, *(n for n, deps in GRAPH.items() if name in deps)]
        stopped = [i for n in dependents for i in self.expand(n)]
        for service in self.sup.status():
            if service.name in stopped:
                assert service.state in (S.STOPPED, S.FAILED, S.COMPLETED), service

    @precondition(lambda self: not self.closed)
    @rule(name=st.sampled_from(NAMES))
    def restart(self, name: str) -> None:
        self.bring_up(self.sup.restart, name)

    @precondition(lambda self: not self.closed)
    @rule()
    def rolling_restart(self) -> None:
        self.bring_up(self.sup.restart, "r", rolling=True)

    @precondition(lambda self: not self.closed)
    @rule(count=st.integers(1, MAX_REPLICAS))
    def scale(self, count: int) -> None:
        before = self.expand("r")
        with contextlib.suppress(ServiceFailedError):  # a new replica failed (a hung start)
            self.call(self.sup.scale, "r", count)
        self.replicas = count
        assert self.expand("r") == [f"r.{i}" for i in range(count)]
        for name in self.expand("r"):
            if name not in before:
                self.known.pop(name, None)  # removed by an earlier step: a new history

    @precondition(lambda self: not self.closed)
    @rule(name=st.sampled_from(INSTANCES))
    def crash(self, name: str) -> None:
        if name in self.sup.status():
            self.portal.call(lambda: scripts.SCRIPTS[name].crash.set())

    @precondition(lambda self: not self.closed)
    @rule(name=st.sampled_from(INSTANCES))
    def hang_next_start(self, name: str) -> None:
        scripts.SCRIPTS[name].hang_start = True

    @precondition(lambda self: not self.closed)
    @rule(name=st.sampled_from(INSTANCES))
    def hang_next_stop(self, name: str) -> None:
        scripts.SCRIPTS[name].hang_stop = 0.15

    @precondition(lambda self: not self.closed)
    @rule(changed=st.sets(st.sampled_from(NAMES)), toggle_e=st.booleans())
    def reload(self, changed: set[str], toggle_e: bool) -> None:
        for name in changed:
            self.versions[name] += 1
        if toggle_e:
            self.with_e = not self.with_e
        plan = self.call(self.sup.reload, self.config())
        expected = {i for n in changed if self.present(n) for i in self.expand(n)}
        assert set(plan.changed) == expected - set(plan.added)
        for name in plan.added:
            self.known.pop(name, None)  # removed by an earlier step: a new history begins

    @precondition(lambda self: not self.closed)
    @rule(changed=st.sets(st.sampled_from(NAMES), min_size=1))
    def shutdown_during_reload(self, changed: set[str]) -> None:
        for name in changed:
            self.versions[name] += 1
        new = self.config()

        async def race() -> None:
            async def reload() -> None:
                # shutdown began first, or while it waited: it starts nothing
                with contextlib.suppress(SupervisorError):
                    await self.sup.reload(new)

            async with anyio.create_task_group() as tg:
                tg.start_soon(reload)
                await anyio.sleep(0)
                self.sup.shutdown()

        self.call(race)
        self.portal.call(self._wait_finished)
        self.closed = True

    @precondition(lambda self: self.closed)
    @rule()
    def after_shutdown(self) -> None:
        assert self.sup.active_services() == []
        with pytest.raises(SupervisorError, match="not running"):
            self.call(self.sup.start, "a")

    async def _wait_finished(self) -> None:
        with anyio.fail_after(STEP_BOUND):
            while self.sup.active_services():
                await anyio.sleep(0.01)

    # -- invariants --------------------------------------------------------------------

    async def _settle(self) -> None:
        """Wait (on the event stream) until no service is on its way somewhere."""

        def settled() -> bool:
            status = self.sup.status()
            for service in status:
                deps = [status[d] for dep in service.depends_on for d in self.expand(dep)]
                if service.state in (S.STARTING, S.READY) and any(
                    dep.state is S.FAILED for dep in deps
                ):
                    return False  # the failure's isolation is on its way
                if service.state in SETTLED:
                    continue
                if service.state is S.PENDING and any(
                    status[d].state not in (S.READY, S.COMPLETED)
                    for dep in service.depends_on
                    for d in self.expand(dep)
                ):
                    continue  # waits for a dependency that is not coming by itself
                return False
            return True

        with anyio.fail_after(STEP_BOUND):
            async with self.sup.events() as changes:
                while not settled():
                    await changes.__anext__()

    @invariant()
    def consistent(self) -> None:
        if self.closed:
            return
        self.portal.call(self._settle)
        status = self.sup.status()
        for service in status:
            if service.state in (S.STARTING, S.READY):
                for dep in service.depends_on:
                    for d in self.expand(dep):
                        assert status[d].state in (S.READY, S.COMPLETED), (service, status[d])
        for event in self.events.pending():
            self.check_event(event)
        for service in status:
            if service.name in self.known:
                assert self.known[service.name] is service.state, service

    def check_event(self, event: ServiceEvent) -> None:
        last = self.known.get(event.service)
        if last is not None:
            assert event.previous is last, (event, last)
        self.known[event.service] = event.state

    def teardown(self) -> None:
        if not self.closed:
            self.portal.call(self.sup.shutdown)
        try:
            self.run_future.result(timeout=STEP_BOUND)
        except TimeoutError:
            details = self.portal.call(self._describe)
            raise AssertionError(f"shutdown did not finish: {details}") from None
        self.portal.call(self._check_nothing_left)
        self.portal_cm.__exit__(None, None, None)

    async def _describe(self) -> list[str]:
        return [repr(r) + f" order={r.order}" for r in self.sup._runners.values()]

    async def _check_nothing_left(self) -> None:
        await self._wait_finished()
        assert len(anyio.get_running_tasks()) == self.tasks_before
        for service in self.sup.status():
            assert service.state in (S.STOPPED, S.FAILED, S.COMPLETED), service
        for event in self.events.pending():
            self.check_event(event)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_random_control_steps_keep_the_invariants(backend: str) -> None:
    machine = type(f"SupervisorMachine_{backend}", (SupervisorMachine,), {"backend": backend})
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=20,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
