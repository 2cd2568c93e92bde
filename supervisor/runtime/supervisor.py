"""The :class:`Supervisor`: the one object users touch.

It owns a task group (entered by ``async with sup:``) in which one activation task per
wanted service runs (see :mod:`supervisor.runtime.runner`). Startup is gated per service
by its own dependencies; stopping goes in reverse dependency order
(:mod:`supervisor.runtime.stopping`); a failure for good escalates according to
``on_failure``. Control operations (start, stop, restart, reload) are serialized by one
lock and re-check, after every wait, that shutdown has not begun: once it has, nothing
is started again.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

from supervisor.concurrency import (
    TASK_STATUS_IGNORED,
    CancelScope,
    Event,
    Lock,
    TaskGroup,
    TaskStatus,
    create_task_group,
    get_cancelled_exc_class,
)
from supervisor.config.errors import did_you_mean
from supervisor.config.loader import load_config, load_config_data
from supervisor.config.models import ConfigFile, SupervisorSettings
from supervisor.loggers import get_logger
from supervisor.logs import reopen_all
from supervisor.runtime import operations, replicas
from supervisor.runtime.broadcast import Broadcast, Subscription
from supervisor.runtime.building import ServiceDeclarations
from supervisor.runtime.clock import Clock, LoopClock
from supervisor.runtime.deadlines import Deadlines
from supervisor.runtime.errors import (
    SupervisorError,
    SupervisorFailed,
    UnknownServiceError,
)
from supervisor.runtime.reload import ReloadPlan
from supervisor.runtime.runner import Runner
from supervisor.runtime.spec import ServiceSpec
from supervisor.runtime.state import (
    LogLine,
    ServiceEvent,
    ServiceState,
    ServiceStatus,
    States,
    StatusList,
)
from supervisor.runtime.stopping import stop_all, stop_runners
from supervisor.runtime.wiring import (
    dependents_closure,
    link,
    restart_closure,
    start_order,
    unlink,
)

S = States

LIVE_SETTINGS = ("shutdown_timeout", "on_failure")
"""Settings a reload applies to the running supervisor (unless given to the constructor)."""

_LEVELS = {S.FAILED: "error", S.BACKOFF: "warning"}

__all__ = ["ReloadPlan", "Supervisor"]


class Supervisor(ServiceDeclarations):
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
        self._overrides = updates
        self.settings: SupervisorSettings = base.model_copy(update=updates) if updates else base
        self.clock: Clock = clock or LoopClock()
        self.rng = rng or random.Random()
        self.log: Any = get_logger("supervisor")
        self._log_lines = log_lines
        self._runners: dict[str, Runner] = {}
        self._events: Broadcast[ServiceEvent] = Broadcast(maxlen=event_buffer)
        self._host_tg: TaskGroup | None = None
        self._tg: TaskGroup | None = None
        self._shutdown: Event | None = None
        self._control_lock: Lock | None = None
        self._finished: Event | None = None
        self._stopping = False
        self._failure: SupervisorFailed | None = None
        self._transition: Event | None = None
        self._deadlines = Deadlines()
        if config is not None:
            for name, service in config.services.items():
                for spec in replicas.specs_of(name, service):
                    self._add_spec(spec)

    # -- building ----------------------------------------------------------------------

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        env_file: str | os.PathLike[str] | Literal[False] | None = None,
        **options: Any,
    ) -> Supervisor:
        """A supervisor for the services of a YAML file (raises ``ConfigError``).

        ``path`` may be a list of files, each merged over the ones before it;
        ``env_file`` chooses the dotenv file of ``${VAR}`` values (default: ``.env``
        next to the first file, if any; ``False``: none). See docs/config.md.
        """
        return cls(load_config(path, env_file=env_file), **options)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **options: Any) -> Supervisor:
        """A supervisor for a dict shaped like the YAML file (raises ``ConfigError``)."""
        return cls(load_config_data(dict(data)), **options)

    def _add_spec(self, spec: ServiceSpec) -> None:
        """Register the runner of ``spec`` (before the supervisor runs)."""
        if self._host_tg is not None:
            raise SupervisorError("services cannot be added while the supervisor runs")
        if spec.name in self._runners:
            raise SupervisorError(f"service {spec.name!r} is already defined")
        self._runners[spec.name] = self._new_runner(spec)

    def _new_runner(self, spec: ServiceSpec) -> Runner:
        runner = Runner(self, spec, self._log_lines)
        if not spec.enabled:
            runner.mark_stopped("disabled")
        return runner

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
        return start_order(self._runners)

    def active_services(self) -> list[str]:
        """Names of the services whose task has not ended (abandoned ones included)."""
        return [name for name, runner in self._runners.items() if runner.active]

    def events(self) -> Subscription[ServiceEvent]:
        """Every state transition from now on: ``async for event in sup.events()``.

        Iteration ends when the supervisor has stopped. Subscribing before
        ``async with sup`` sees the whole startup.
        """
        return self._events.subscribe()

    def logs(self, name: str, lines: int | None = None) -> list[LogLine]:
        """The last ``lines`` output lines of a service (all that are kept by default).

        When the buffer holds fewer than ``lines`` and the service writes a log file, the
        lines come from the file (and its rotated predecessors)."""
        return self._runner(name).logs(lines)

    def reopen_logs(self) -> list[str]:
        """Reopen every open log file (after logrotate moved them); return their paths."""
        return reopen_all()

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
        link(self._runners)
        # chosen now: the application's structlog setup if it has one, else stdlib logging
        self.log = get_logger("supervisor").bind()
        self._shutdown = Event()
        self._finished = Event()
        self._control_lock = Lock()
        self._stopping = False
        self._failure = None
        host = create_task_group()
        await host.__aenter__()
        self._host_tg = host
        try:
            await host.start(self._main, name="supervisor")
            for runner in list(self._runners.values()):
                settled = functools.partial(self._settled_or_stopping, runner)
                if not settled():  # most are by the time the first one is
                    await runner.until(settled)
        except BaseException as exc:
            if await self._close(exc):
                raise self._failure or exc from None
            raise
        if self._stopping:  # a failure escalated during startup
            await self._close(None)
            raise self._failure or SupervisorError("the supervisor stopped while starting")
        return self

    def _settled_or_stopping(self, runner: Runner) -> bool:
        return self._stopping or runner.settled_since(0)

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
        self.shutdown()
        host = self._host_tg
        assert host is not None
        try:
            if isinstance(exc, get_cancelled_exc_class()):
                return bool(await host.__aexit__(type(exc), exc, exc.__traceback__))
            await host.__aexit__(None, None, None)
            return False
        finally:
            self._host_tg = None

    async def run(self, *, task_status: TaskStatus[Supervisor] = TASK_STATUS_IGNORED) -> None:
        """Start everything and supervise until cancelled.

        The supervisor has the shape of its services: ``await tg.start(sup.run)`` returns
        (the supervisor) once every service has settled. Returns once everything has
        stopped after :meth:`shutdown`. Raises :class:`SupervisorFailed` when a service
        fails for good and ``on_failure`` is ``shutdown`` (everything has been stopped by
        then).
        """
        async with self:
            task_status.started(self)
            assert self._finished is not None
            await self._finished.wait()

    @property
    def stopping(self) -> bool:
        """Whether shutdown has begun (nothing is started any more)."""
        return self._stopping

    def shutdown(self) -> None:
        """Begin stopping every service (returns at once; ``async with`` then ends)."""
        self._stopping = True
        if self._shutdown is not None:
            self._shutdown.set()

    async def _main(self, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
        """The supervisor's own task: runs the services, then stops them in order.

        It is started once every service has its activation (``task_status``).
        """
        host = self._host_tg
        try:
            with CancelScope(shield=True):
                async with create_task_group() as tg:
                    self._tg = tg
                    tg.start_soon(self._deadlines.run, name="start deadlines")
                    for name in self._order():
                        if self._runners[name].spec.enabled:
                            self._activate(self._runners[name])
                    task_status.started()
                    assert self._shutdown is not None
                    await self._shutdown.wait()
                    await stop_all(self._runners.values(), self.settings.shutdown_timeout, self.log)
                    tg.cancel_scope.cancel()
        finally:
            self._tg = None
            self._deadlines.clear()
            if self._finished is not None:
                self._finished.set()
            self._events.close()
            for runner in self._runners.values():
                runner.output_feed.close()
            unlink(self._runners)
            if self._failure is not None and host is not None:
                host.cancel_scope.cancel()

    def _activate(self, runner: Runner) -> bool:
        """Spawn ``runner``'s activation, unless shutdown has begun."""
        if self._tg is None or self._stopping:
            return False
        runner.begin()
        self._tg.start_soon(runner.activation, name=f"service {runner.name}")
        return True

    # -- hooks called by runners ---------------------------------------------------------

    def _transitioned(self, runner: Runner, previous: ServiceState, error: str | None) -> None:
        """Publish and log that ``runner`` went from ``previous`` to its current state."""
        state, reason = runner.state, runner.reason
        if self._events.has_subscribers():  # an event is made only for someone to receive
            self._events.publish(
                ServiceEvent(
                    runner.name, state, previous, runner.since, reason, error, runner.restarts
                )
            )
        transition = self._transition
        if transition is not None:
            self._transition = None
            transition.set()
        level = _LEVELS.get(state, "info")
        if state is S.FAILED and error is None:
            level = "warning" if reason and reason.startswith("dependency") else level
        details = {"service": runner.name, "previous": str(previous)}
        if reason is not None:
            details["reason"] = reason
        if error is not None:
            details["error"] = error
        # the supervisor's logger, not the runner's bound one: the same event, and a runner
        # whose service never logs never has its logger resolved (a bound logger each)
        getattr(self.log, level)(str(state), **details)

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
            self.shutdown()
            return
        dependents = dependents_closure(runner)
        if dependents and self._tg is not None:
            self.log.error(
                "service failed; stopping its dependents",
                service=runner.name,
                dependents=[r.name for r in dependents],
            )
            self._tg.start_soon(
                stop_runners, dependents, "fail", f"dependency {runner.name!r} failed"
            )

    async def _bounce_dependents(self, runner: Runner) -> None:
        running = [r for r in restart_closure(runner) if r.occupies]
        if running:
            await stop_runners(running, "bounce", f"dependency {runner.name!r} restarting")

    # -- control -------------------------------------------------------------------------

    def _require_running(self) -> None:
        if self._tg is None or self._stopping:
            raise SupervisorError("the supervisor is not running")

    @contextlib.asynccontextmanager
    async def _control(self) -> AsyncIterator[None]:
        """One control operation at a time, and none once shutdown has begun."""
        self._require_running()
        assert self._control_lock is not None
        async with self._control_lock:
            self._require_running()
            yield

    def instances(self, name: str) -> list[str]:
        """The services ``name`` stands for: itself, or its replicas ``NAME.0`` ... in order."""
        return [runner.name for runner in replicas.targets(self._runners, name)]

    async def start(self, name: str) -> ServiceStatus:
        """Start a service (and the dependencies it needs); return once it is ready.

        A one-shot that completed runs again. Raises :class:`ServiceFailedError` if the
        service fails instead. A replicated service's name starts every replica (its
        status is then that of the group: ``reason`` says how many are ready).
        """
        runners = replicas.targets(self._runners, name)
        await operations.start(self, runners)
        return replicas.status_of(name, self._runners, runners)

    async def stop(self, name: str) -> ServiceStatus:
        """Stop a service and, first, every service that depends on it (reverse order)."""
        runners = replicas.targets(self._runners, name)
        await operations.stop(self, runners)
        return replicas.status_of(name, self._runners, runners)

    async def restart(self, name: str, *, rolling: bool = False) -> ServiceStatus:
        """Restart a service: its dependents stop first, then all start again.

        The dependents get the service's new value in ``ctx.deps`` (except those whose
        ``depends_on`` entry says ``restart: false``: they keep running). Returns once
        the service and its dependents are ready again (no backoff delay, and manual
        restarts do not count toward the restart intensity).

        ``rolling=True`` (for a replicated service) restarts one replica at a time, each
        once the previous one is ready again, so at least N-1 stay ready; dependents are
        not restarted. It holds the control lock until the last replica is ready.
        """
        runners = replicas.targets(self._runners, name)
        if rolling:
            async with self._control():
                await replicas.rolling_restart(self, runners)
        else:
            await operations.restart(self, runners)
        return replicas.status_of(name, self._runners, runners)

    async def scale(self, name: str, count: int) -> StatusList:
        """Run ``count`` replicas of the replicated service ``name`` (``replicas:``).

        Up: the new replicas start (unless the service is stopped as a whole) and this
        returns once they are ready (:class:`ServiceFailedError` if one fails). Down: the
        highest indices are stopped first, one at a time, and removed. Dependents keep
        running either way. Returns the replicas' statuses.
        """
        members = replicas.targets(self._runners, name)
        if members[0].spec.group != name:
            raise SupervisorError(
                f"service {name!r} is not replicated: set `replicas:` in its definition"
            )
        async with self._control():
            added = await replicas.scale(self, members, count)
            since = {runner: 0 for runner in added}
        await operations.settle(self, added, since)
        return StatusList(runner.snapshot() for runner in replicas.targets(self._runners, name))

    # -- a batch ----------------------------------------------------------------------------

    def batch_outcome(self) -> bool | None:
        """``None`` while something runs or may run by itself; once every service has ended
        by itself for good (completed, or failed with no restart left; disabled ones
        aside), ``True`` if all completed and ``False`` if any failed."""
        ended = False
        failed = False
        for runner in self._runners.values():
            state = runner.state
            if runner.active:
                return None
            if state is S.COMPLETED or state is S.FAILED:
                ended = True
                failed = failed or state is S.FAILED
            elif runner.spec.enabled or runner.attempts:
                return None  # stopped on request (or never started): it may be started
        return None if not ended else not failed

    async def batch_end(self) -> bool:
        """Wait until every service has ended by itself for good (:meth:`batch_outcome`);
        ``True`` if all completed, ``False`` if any failed. ``supervisor run`` exits then."""
        while (outcome := self.batch_outcome()) is None:
            if self._transition is None:
                self._transition = Event()
            await self._transition.wait()
        return outcome

    # -- reload --------------------------------------------------------------------------

    async def reload(self, config: ConfigFile) -> ReloadPlan:
        """Apply a new config: start added services, stop removed ones, restart changed ones.

        Services whose definition is unchanged keep running, except the dependents of a
        changed service, which are restarted after it (they may hold what it handed them;
        not those whose ``depends_on`` entry says ``restart: false``). A changed service
        that was stopped stays stopped (with its new definition); one that was disabled
        and is enabled now starts. The changed replicas of a replicated service are
        replaced one at a time (``rolling`` in the plan), its dependents untouched; a
        changed ``replicas:`` count scales it. Services added in code (``add``/
        ``@service``) are kept as they are, and so are settings given to the constructor.
        The new config is checked first (imports, unknown names, cycles: ``ConfigError``);
        if it is invalid, nothing changes. Returns once the (re)started services are
        settled. If shutdown begins meanwhile, nothing more is started (``SupervisorError``).
        """
        return await operations.reload(self, config)
