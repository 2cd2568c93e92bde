"""The :class:`Supervisor`: the one object users touch.

It owns a task group (entered by ``async with sup:``) in which one activation task per
wanted service runs (see :mod:`supervisor.runtime.runner`). Startup is gated per service
by its own dependencies; stopping goes in reverse dependency order, each service being
cancelled as soon as all its dependents are down; a failure for good escalates
according to ``on_failure``.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import os
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

import structlog

from supervisor.concurrency import (
    CancelScope,
    Event,
    TaskGroup,
    create_task_group,
    current_time,
    get_cancelled_exc_class,
    move_on_after,
    move_on_at,
    sleep_forever,
)
from supervisor.config.errors import ConfigError, ErrorRecord, did_you_mean
from supervisor.config.loader import load_config, load_config_data
from supervisor.config.models import (
    Condition,
    ConfigFile,
    SupervisorSettings,
)
from supervisor.graph import find_cycle, topological_order
from supervisor.runtime.broadcast import Broadcast, Subscription
from supervisor.runtime.clock import Clock, LoopClock
from supervisor.runtime.errors import (
    ServiceFailedError,
    SupervisorError,
    SupervisorFailed,
    UnknownServiceError,
)
from supervisor.runtime.runner import Runner, StopMode
from supervisor.runtime.spec import DependsOn, RestartOption, ServiceCallable, ServiceSpec
from supervisor.runtime.state import LogLine, ServiceEvent, ServiceState, ServiceStatus, StatusList

F = TypeVar("F", bound=ServiceCallable)
S = ServiceState

STARTUP_SETTLED = frozenset({S.READY, S.COMPLETED, S.FAILED, S.STOPPED})

_LEVELS = {S.FAILED: "error", S.BACKOFF: "warning"}


@dataclass(eq=False)
class _StopOp:
    """One stop request over a set of services, and its progress."""

    mode: StopMode
    remaining: set[Runner] = field(default_factory=set)
    deadlines: list[tuple[float, int, Runner]] = field(default_factory=list)
    wakeup: Event | None = None

    def wake(self) -> None:
        if self.wakeup is not None:
            self.wakeup.set()
            self.wakeup = None


def _satisfied(runner: Runner, mode: StopMode) -> bool:
    if mode == "bounce":
        return not runner.running
    return not runner.active or runner.abandoned


@dataclass(frozen=True)
class ReloadPlan:
    """What a reload changes: services added, removed, changed, and restarted as dependents."""

    added: list[str]
    removed: list[str]
    changed: list[str]
    restarted: list[str]

    def to_dict(self) -> dict[str, list[str]]:
        """A JSON-serializable dict."""
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "restarted": self.restarted,
        }


class Supervisor:
    """Runs services with their dependencies, restarts them, stops them in reverse order.

    Build it from a config file (:meth:`from_file`), a dict (:meth:`from_dict`) or empty,
    add Python services with :meth:`add` or the :meth:`service` decorator, then run it
    with ``async with sup:`` (returns once every service is ready) or ``await sup.run()``.

    ``clock`` and ``rng`` drive backoff delays and restart intensity (tests pass a
    :class:`~supervisor.runtime.clock.VirtualClock` and a seeded ``random.Random``);
    ``log_lines`` is how many output lines are kept per service.
    """

    def __init__(
        self,
        config: ConfigFile | None = None,
        *,
        settings: SupervisorSettings | None = None,
        on_failure: Literal["shutdown", "isolate"] | None = None,
        shutdown_timeout: float | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        log_lines: int = 1000,
        event_buffer: int = 10_000,
    ) -> None:
        base = settings or (config.supervisor if config is not None else SupervisorSettings())  # type: ignore[call-arg]
        updates: dict[str, Any] = {}
        if on_failure is not None:
            updates["on_failure"] = on_failure
        if shutdown_timeout is not None:
            updates["shutdown_timeout"] = shutdown_timeout
        self.settings: SupervisorSettings = base.model_copy(update=updates) if updates else base
        self.clock: Clock = clock or LoopClock()
        self.rng = rng or random.Random()
        self.log: Any = structlog.get_logger("supervisor")
        self._log_lines = log_lines
        self._runners: dict[str, Runner] = {}
        self._events: Broadcast[ServiceEvent] = Broadcast(maxlen=event_buffer)
        self._host_tg: TaskGroup | None = None
        self._tg: TaskGroup | None = None
        self._shutdown: Event | None = None
        self._started: Event | None = None
        self._unsettled: set[Runner] = set()
        self._stopping = False
        self._failure: SupervisorFailed | None = None
        self._seq = 0
        self._deadlines: list[tuple[float, int, int, Runner]] = []
        self._deadline_wakeup: Event | None = None
        if config is not None:
            for name, service in config.services.items():
                self._add_spec(ServiceSpec.from_config(name, service))

    # -- building ----------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **options: Any) -> Supervisor:
        """A supervisor for the services of a YAML file (raises ``ConfigError``)."""
        return cls(load_config(path), **options)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **options: Any) -> Supervisor:
        """A supervisor for a dict shaped like the YAML file (raises ``ConfigError``)."""
        return cls(load_config_data(dict(data)), **options)

    def add(
        self,
        name: str,
        fn: ServiceCallable,
        *,
        depends_on: DependsOn = None,
        restart: RestartOption = None,
        oneshot: bool = False,
        start_timeout: float | str | None = 30.0,
        stop_timeout: float | str = 10.0,
        args: Mapping[str, Any] | None = None,
    ) -> None:
        """Add a Python service: ``async def fn(ctx, *, task_status=TASK_STATUS_IGNORED)``.

        ``depends_on`` is a name, a list of names (condition ``ready``) or a mapping
        ``{name: "started" | "ready" | "completed"}``; ``restart`` a policy
        (``"no"``, ``"on-failure"``, ``"always"``) or a mapping like the YAML
        ``restart:`` section; durations are seconds or strings such as ``"5s"``.
        """
        self._add_spec(
            ServiceSpec.from_options(
                name,
                fn,
                depends_on=depends_on,
                restart=restart,
                oneshot=oneshot,
                start_timeout=start_timeout,
                stop_timeout=stop_timeout,
                args=args,
            )
        )

    @overload
    def service(self, fn: F, /) -> F: ...

    @overload
    def service(
        self,
        *,
        name: str | None = None,
        depends_on: DependsOn = None,
        restart: RestartOption = None,
        oneshot: bool = False,
        start_timeout: float | str | None = 30.0,
        stop_timeout: float | str = 10.0,
        args: Mapping[str, Any] | None = None,
    ) -> Callable[[F], F]: ...

    def service(
        self,
        fn: Any = None,
        *,
        name: str | None = None,
        depends_on: DependsOn = None,
        restart: RestartOption = None,
        oneshot: bool = False,
        start_timeout: float | str | None = 30.0,
        stop_timeout: float | str = 10.0,
        args: Mapping[str, Any] | None = None,
    ) -> F | Callable[[F], F]:
        """Decorator form of :meth:`add` (the service is named after the function)."""

        def register(func: F) -> F:
            self.add(
                name or str(getattr(func, "__name__", repr(func))),
                func,
                depends_on=depends_on,
                restart=restart,
                oneshot=oneshot,
                start_timeout=start_timeout,
                stop_timeout=stop_timeout,
                args=args,
            )
            return func

        return register(fn) if fn is not None else register

    def _add_spec(self, spec: ServiceSpec) -> None:
        if self._host_tg is not None:
            raise SupervisorError("services cannot be added while the supervisor runs")
        if spec.name in self._runners:
            raise SupervisorError(f"service {spec.name!r} is already defined")
        self._runners[spec.name] = Runner(self, spec, self._log_lines)

    def _wire(self) -> None:
        """Check the graph (unknown names, cycles: ``ConfigError``) and link the runners."""
        runners = self._runners
        self._check_graph({name: r.spec.depends_on for name, r in runners.items()})
        for runner in runners.values():
            runner.dependents = []
        for runner in runners.values():
            runner.deps = [(runners[d], c) for d, c in runner.spec.depends_on.items()]
            for needed, _ in runner.deps:
                needed.dependents.append(runner)

    # -- observing ---------------------------------------------------------------------

    @property
    def services(self) -> list[str]:
        """The names of the services, in declaration order."""
        return list(self._runners)

    def status(self) -> StatusList:
        """A snapshot of every service, in start order; also indexable by name.

        ``sup.status()["db"].state``; ``.to_dict()`` gives JSON-ready data.
        """
        return StatusList(self._runners[name].snapshot() for name in self._order())

    def _order(self) -> list[str]:
        edges = {
            n: [d for d in r.spec.depends_on if d in self._runners]
            for n, r in self._runners.items()
        }
        try:
            return topological_order(edges)
        except ValueError:
            return list(self._runners)

    def events(self) -> Subscription[ServiceEvent]:
        """Every state transition from now on: ``async for event in sup.events()``.

        Iteration ends when the supervisor has stopped. Subscribing before
        ``async with sup`` sees the whole startup.
        """
        return self._events.subscribe()

    def logs(self, name: str, lines: int | None = None) -> list[LogLine]:
        """The last ``lines`` output lines of a service (all that are kept by default)."""
        kept = list(self._runner(name).output)
        return kept if lines is None else kept[-lines:] if lines > 0 else []

    def follow_logs(self, name: str) -> Subscription[LogLine]:
        """The output lines of a service from now on (``async for line in ...``)."""
        return self._runner(name).output_feed.subscribe()

    def _runner(self, name: str) -> Runner:
        try:
            return self._runners[name]
        except KeyError:
            raise UnknownServiceError(
                f"no service named {name!r}" + did_you_mean(name, self._runners)
            ) from None

    # -- running -----------------------------------------------------------------------

    async def __aenter__(self) -> Supervisor:
        if self._host_tg is not None:
            raise SupervisorError("the supervisor is already running")
        self._wire()
        # a concrete logger, assembled from the structlog configuration in force now
        self.log = structlog.get_logger("supervisor").bind()
        self._shutdown = Event()
        self._started = Event()
        self._stopping = False
        self._failure = None
        self._unsettled = set(self._runners.values())
        host = create_task_group()
        await host.__aenter__()
        self._host_tg = host
        host.start_soon(self._main, name="supervisor")
        try:
            if self._unsettled:
                await self._started.wait()
        except BaseException as exc:
            if await self._close(exc):
                raise self._failure or exc from None
            raise
        if self._stopping:  # a failure escalated during startup
            await self._close(None)
            raise self._failure or SupervisorError("the supervisor stopped while starting")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        suppressed = await self._close(exc)
        if self._failure is not None and (exc is None or suppressed):
            raise self._failure
        return suppressed

    async def _close(self, exc: BaseException | None) -> bool:
        """Stop everything and leave the host task group; True if ``exc`` is absorbed."""
        self._request_shutdown()
        host = self._host_tg
        assert host is not None
        try:
            if isinstance(exc, get_cancelled_exc_class()):
                return bool(await host.__aexit__(type(exc), exc, exc.__traceback__))
            await host.__aexit__(None, None, None)
            return False
        finally:
            self._host_tg = None

    async def run(self) -> None:
        """Start everything and supervise until cancelled.

        Raises :class:`SupervisorFailed` when a service fails for good and
        ``on_failure`` is ``shutdown`` (everything has been stopped by then).
        """
        async with self:
            await sleep_forever()

    def _request_shutdown(self) -> None:
        self._stopping = True
        if self._shutdown is not None:
            self._shutdown.set()

    async def _main(self) -> None:
        """The supervisor's own task: runs the services, then stops them in order."""
        host = self._host_tg
        try:
            with CancelScope(shield=True):
                async with create_task_group() as tg:
                    self._tg = tg
                    self._deadlines = []
                    tg.start_soon(self._watch_start_deadlines, name="start deadlines")
                    for name in self._order():
                        self._activate(self._runners[name])
                    assert self._shutdown is not None
                    await self._shutdown.wait()
                    await self._stop_all()
                    tg.cancel_scope.cancel()
        finally:
            self._tg = None
            self._events.close()
            if self._failure is not None and host is not None:
                host.cancel_scope.cancel()

    async def _stop_all(self) -> None:
        timeout = self.settings.shutdown_timeout
        with move_on_after(timeout) as deadline:
            await self._stop_runners(list(self._runners.values()), "stop", "supervisor stopping")
        if deadline.cancelled_caught:
            late = [r.name for r in self._runners.values() if r.active]
            self.log.error(
                "shutdown timed out; cancelling what is left", timeout=timeout, services=late
            )

    def _start_deadline(self, runner: Runner, deadline: float) -> None:
        """Fail ``runner``'s current start if it is not ready at ``deadline``.

        One watcher task serves every service (a heap of deadlines), rather than one
        timer per start: it sleeps until the earliest deadline and is woken only when an
        earlier one arrives, so an idle supervisor never wakes up.
        """
        self._seq += 1
        earliest = self._deadlines[0][0] if self._deadlines else math.inf
        heapq.heappush(self._deadlines, (deadline, self._seq, runner._run, runner))
        if deadline < earliest and self._deadline_wakeup is not None:
            self._deadline_wakeup.set()

    async def _watch_start_deadlines(self) -> None:
        heap = self._deadlines
        while True:
            now = current_time()
            while heap and (heap[0][0] <= now or not self._still_starting(heap[0])):
                _, _, run, runner = heapq.heappop(heap)
                if self._still_starting((0.0, 0, run, runner)):
                    runner.start_timed_out(run)
            self._deadline_wakeup = wakeup = Event()
            with move_on_at(heap[0][0] if heap else None):
                await wakeup.wait()

    @staticmethod
    def _still_starting(entry: tuple[float, int, int, Runner]) -> bool:
        _, _, run, runner = entry
        readiness = runner.readiness
        return run == runner._run and runner.running and not (readiness and readiness.called)

    def _activate(self, runner: Runner) -> None:
        assert self._tg is not None
        runner.begin()
        self._tg.start_soon(runner.activation, name=f"service {runner.name}")

    # -- hooks called by runners ---------------------------------------------------------

    def _transitioned(self, runner: Runner, event: ServiceEvent) -> None:
        self._events.publish(event)
        level = _LEVELS.get(event.state, "info")
        if event.state is S.FAILED and event.error is None:
            level = "warning" if event.reason and event.reason.startswith("dependency") else level
        details = {"previous": str(event.previous)}
        if event.reason is not None:
            details["reason"] = event.reason
        if event.error is not None:
            details["error"] = event.error
        getattr(runner.log, level)(str(event.state), **details)
        self._progress(runner)
        if self._unsettled and event.state in STARTUP_SETTLED and runner in self._unsettled:
            self._unsettled.discard(runner)
            if not self._unsettled and self._started is not None:
                self._started.set()

    def _activation_ended(self, runner: Runner) -> None:
        self._progress(runner)

    def _progress(self, runner: Runner) -> None:
        """After a change of ``runner``: advance stop requests waiting on it."""
        if runner.stop_ops:
            for op in list(runner.stop_ops):
                if _satisfied(runner, op.mode):
                    runner.stop_ops.remove(op)
                    op.remaining.discard(runner)
                    if not op.remaining:
                        op.wake()
        if not runner.running:
            for dep, _ in runner.deps:
                if dep.stop_mode is not None and not dep.cancel_sent:
                    self._maybe_cancel(dep)

    def _maybe_cancel(self, runner: Runner) -> None:
        """Cancel a service asked to stop once none of its dependents runs any more."""
        if runner.stop_mode is None or runner.cancel_sent:
            return
        for dependent in runner.dependents:
            if dependent.running:
                return
        if runner.running:
            runner.cancel_deadline = deadline = current_time() + runner.spec.stop_grace
            runner.cancel()
            self._seq += 1
            for op in runner.stop_ops:
                heapq.heappush(op.deadlines, (deadline, self._seq, runner))
                op.wake()
        elif runner.stop_mode != "bounce":
            runner.cancel()

    def _service_failed(self, runner: Runner) -> None:
        """Escalate a service that failed for good, per ``on_failure``."""
        if self._stopping:
            return
        reason = runner.reason or "failed"
        if runner.last_error and runner.last_error not in reason:
            reason = f"{reason}; last error: {runner.last_error}"
        if self.settings.on_failure == "shutdown":
            self.log.error("service failed; shutting everything down", service=runner.name)
            self._failure = SupervisorFailed(runner.name, reason)
            self._request_shutdown()
            return
        dependents = self._dependents_closure(runner)
        if dependents and self._tg is not None:
            self.log.error(
                "service failed; stopping its dependents",
                service=runner.name,
                dependents=[r.name for r in dependents],
            )
            self._tg.start_soon(
                self._stop_runners, dependents, "fail", f"dependency {runner.name!r} failed"
            )

    async def _bounce_dependents(self, runner: Runner) -> None:
        running = [r for r in self._dependents_closure(runner) if r.running]
        if running:
            await self._stop_runners(running, "bounce", f"dependency {runner.name!r} restarting")

    def _dependents_closure(self, runner: Runner) -> list[Runner]:
        seen: dict[Runner, None] = {}
        stack = list(runner.dependents)
        while stack:
            r = stack.pop()
            if r not in seen:
                seen[r] = None
                stack.extend(r.dependents)
        return list(seen)

    # -- stopping ------------------------------------------------------------------------

    async def _stop_runners(self, runners: Iterable[Runner], mode: StopMode, reason: str) -> None:
        """Stop ``runners`` in reverse dependency order and wait until they are down."""
        op = _StopOp(mode)
        for runner in runners:
            if _satisfied(runner, mode):
                if mode != "bounce" and runner.state is S.PENDING:
                    runner.set(S.FAILED if mode == "fail" else S.STOPPED, reason)
                continue
            op.remaining.add(runner)
            runner.stop_ops.append(op)
            runner.request_stop(mode, reason)
        for runner in list(op.remaining):
            self._maybe_cancel(runner)
        try:
            while op.remaining:
                while op.deadlines and op.deadlines[0][2] not in op.remaining:
                    heapq.heappop(op.deadlines)
                deadline = op.deadlines[0][0] if op.deadlines else None
                op.wakeup = Event()
                with move_on_at(deadline):
                    await op.wakeup.wait()
                now = current_time()
                while op.deadlines and op.deadlines[0][0] <= now:
                    _, _, late = heapq.heappop(op.deadlines)
                    if late in op.remaining and late.running:
                        self._abandon(late)
        finally:
            for runner in op.remaining:
                if op in runner.stop_ops:
                    runner.stop_ops.remove(op)

    def _abandon(self, runner: Runner) -> None:
        """A stopping service overran its stop timeout: report it and go on without it."""
        grace = runner.spec.stop_grace
        message = f"did not stop within {grace:g}s; abandoned"
        runner.log.error("service cleanup overran its stop timeout; going on", timeout=grace)
        runner.abandoned = True
        runner.running = False
        runner.last_error = message
        runner.set(S.STOPPED, message, message)
        self._progress(runner)

    # -- control -------------------------------------------------------------------------

    def _require_running(self) -> TaskGroup:
        if self._tg is None or self._stopping:
            raise SupervisorError("the supervisor is not running")
        return self._tg

    async def start(self, name: str) -> ServiceStatus:
        """Start a service (and the dependencies it needs); return once it is ready.

        Raises :class:`ServiceFailedError` if it fails instead.
        """
        runner = self._runner(name)
        self._require_running()
        if not runner.active:
            wanted: dict[Runner, None] = {}
            stack = [runner]
            while stack:
                r = stack.pop()
                if r not in wanted and not r.active and r.state is not S.COMPLETED:
                    wanted[r] = None
                    stack.extend(dep for dep, _ in r.deps)
            for r in reversed(list(wanted)):
                self._activate(r)
        await self._settle([runner])
        return runner.snapshot()

    async def stop(self, name: str) -> ServiceStatus:
        """Stop a service and, first, every service that depends on it (reverse order)."""
        runner = self._runner(name)
        self._require_running()
        targets = [runner, *self._dependents_closure(runner)]
        await self._stop_runners(targets, "stop", "stopped on request")
        return runner.snapshot()

    async def restart(self, name: str) -> ServiceStatus:
        """Restart a service: its dependents stop first, then all start again.

        The dependents get the service's new value in ``ctx.deps``. Returns once the
        service and its dependents are ready again (no backoff delay, and manual
        restarts do not count toward the restart intensity).
        """
        runner = self._runner(name)
        self._require_running()
        if not runner.active:
            return await self.start(name)
        dependents = [r for r in self._dependents_closure(runner) if r.running]
        runner.skip_delay()
        await self._stop_runners([runner, *dependents], "bounce", "restart requested")
        await self._settle([runner, *dependents])
        return runner.snapshot()

    async def _settle(self, runners: list[Runner]) -> None:
        for runner in runners:
            while runner.active and (
                runner.state not in STARTUP_SETTLED or runner.stop_mode is not None
            ):
                await runner.changed()
        for runner in runners:
            if runner.state is S.FAILED:
                raise ServiceFailedError(runner.name, runner.reason or "failed")

    # -- reload --------------------------------------------------------------------------

    async def reload(self, config: ConfigFile) -> ReloadPlan:
        """Apply a new config: start added services, stop removed ones, restart changed ones.

        Services whose definition is unchanged keep running, except the dependents of a
        changed service, which are restarted after it (they may hold what it handed them).
        Services added in code (``add``/``@service``) are kept as they are. The new
        config is checked first (imports, unknown names, cycles: ``ConfigError``); if it is
        invalid, nothing changes. Returns once the (re)started services are settled.
        """
        new_specs = {n: ServiceSpec.from_config(n, c) for n, c in config.services.items()}
        clashes = [
            n for n in new_specs if n in self._runners and self._runners[n].spec.origin == "code"
        ]
        if clashes:
            raise ConfigError(
                ErrorRecord(
                    0, 0, f"services.{n}", "a service of this name is defined in code", "<config>"
                )
                for n in clashes
            )
        old = {n for n, r in self._runners.items() if r.spec.origin == "config"}
        added = [n for n in new_specs if n not in old]
        removed = [n for n in self._runners if n in old and n not in new_specs]
        changed = [
            n for n in new_specs if n in old and self._runners[n].spec.config != new_specs[n].config
        ]
        self._check_graph(
            {
                **{n: r.spec.depends_on for n, r in self._runners.items() if n not in old},
                **{n: s.depends_on for n, s in new_specs.items()},
            }
        )
        dependents: dict[str, None] = {}
        for name in changed:
            for r in self._dependents_closure(self._runners[name]):
                kept = r.name in new_specs or r.spec.origin == "code"
                if kept and r.name not in changed:
                    dependents[r.name] = None
        restarted = [n for n in dependents if self._runners[n].active]
        plan = ReloadPlan(added, removed, changed, restarted)
        self.log.info("reloading", **plan.to_dict())
        running = self._tg is not None and not self._stopping
        affected = [self._runners[n] for n in [*removed, *changed, *restarted]]
        was_active = {r.name for r in affected if r.active}
        if running and affected:
            await self._stop_runners(affected, "stop", "reloading")
        for name in removed:
            self._runners[name].output_feed.close()
            del self._runners[name]
        for name in changed:
            self._runners[name].output_feed.close()
            self._runners[name] = Runner(self, new_specs[name], self._log_lines)
        for name in added:
            self._runners[name] = Runner(self, new_specs[name], self._log_lines)
        self.settings = config.supervisor
        self._wire()
        if running:
            wanted = set(added) | {
                n for n in [*changed, *restarted] if n in was_active or n in changed
            }
            starting = [self._runners[n] for n in self._order() if n in wanted]
            for runner in starting:
                if not runner.active:
                    self._activate(runner)
            await self._settle_quietly(starting)
        return plan

    def _check_graph(self, edges: Mapping[str, Mapping[str, Condition]]) -> None:
        errors: list[ErrorRecord] = []
        for name, deps in edges.items():
            for dep in deps:
                if dep not in edges:
                    message = f"unknown service '{dep}'" + did_you_mean(dep, edges)
                    errors.append(
                        ErrorRecord(0, 0, f"services.{name}.depends_on.{dep}", message, "<config>")
                    )
        if not errors:
            cycle = find_cycle({n: list(d) for n, d in edges.items()})
            if cycle:
                message = "dependency cycle: " + " -> ".join(cycle)
                errors.append(
                    ErrorRecord(0, 0, f"services.{cycle[0]}.depends_on", message, "<config>")
                )
        if errors:
            raise ConfigError(errors)

    async def _settle_quietly(self, runners: list[Runner]) -> None:
        with contextlib.suppress(ServiceFailedError):
            await self._settle(runners)
