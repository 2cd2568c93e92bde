"""The per-service state machine: wait for dependencies, start, run, restart, stop.

A :class:`ServiceRunner` runs for the whole life of the supervisor as one task. Each
*life* of the service (from "wanted" until it is stopped, completes, or fails for good)
runs inside a cancel scope; stopping the service cancels that scope. Whatever the service
does, the runner catches it: an exception in a service is a state transition, never an
exception in the supervisor's task group.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from supervisor.concurrency import (
    TASK_STATUS_IGNORED,
    CancelScope,
    Event,
    TaskStatus,
    create_task_group,
    fail_after,
)
from supervisor.config.models import ServiceConfig
from supervisor.runtime.backoff import RestartTracker
from supervisor.runtime.state import SETTLED, ServiceEvent, ServiceStatus, State
from supervisor.services.context import ServiceContext

if TYPE_CHECKING:
    from supervisor.runtime.supervisor import Supervisor

ServiceFunction = Callable[..., Awaitable[Any]]
"""``async def fn(ctx, *, task_status=TASK_STATUS_IGNORED)``."""

RUNNING = frozenset({State.STARTING, State.READY})


class StartError(Exception):
    """A service could not start: it ended before ``task_status.started()``, or timed out."""


class _StartedStatus:
    """The ``task_status`` a service receives: remembers that ``started()`` was called."""

    __slots__ = ("called", "inner")

    def __init__(self, inner: TaskStatus[Any]) -> None:
        self.inner = inner
        self.called = False

    def started(self, value: Any = None) -> None:
        self.called = True
        self.inner.started(value)


def describe_error(exc: BaseException) -> str:
    """A one-line description of why a service ended: the leaf error of a group, typed."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    text = str(exc)
    name = type(exc).__name__
    if name in ("ProcessFailed", "StartError") or text.startswith(("exited", "killed")):
        return text
    return f"{name}: {text}" if text else name


class ServiceRunner:
    """Owns one service: its state, its restarts, and the task that runs it."""

    def __init__(self, sup: Supervisor, name: str, config: ServiceConfig, fn: ServiceFunction):
        self.sup = sup
        self.name = name
        self.config = config
        self.fn = fn
        self.log = sup.logger.bind(service=name)
        self.state = State.PENDING
        self.reason: str | None = None
        self.since = time.time()
        self.restarts = 0
        self.pid: int | None = None
        self.last_exit: str | None = None
        self.status_text: str | None = None
        self.value: Any = None
        self.has_started = False
        self.wanted = True
        self.done = False  # ended by itself (completed, exited, failed): waits for start()
        self.held = False  # being stopped as part of a restart: no new life until released
        self._watchers: set[Event] = set()
        self._wanted_changed = Event()
        self._life: CancelScope | None = None
        self._life_over = Event()
        self._life_over.set()

    # -- observation ----------------------------------------------------------------

    def snapshot(self) -> ServiceStatus:
        """The service's status now."""
        return ServiceStatus(
            name=self.name,
            state=self.state,
            since=self.since,
            restarts=self.restarts,
            pid=self.pid,
            last_exit=self.last_exit,
            reason=self.reason,
            status_text=self.status_text,
            kind="process" if self.config.is_process else "python",
        )

    def satisfies(self, condition: str) -> bool:
        """Whether a dependent waiting for ``condition`` may start now."""
        if condition == "completed":
            return self.state == State.COMPLETED
        if condition == "started":
            return self.state in (State.READY, State.COMPLETED) or (
                self.state == State.STARTING and self.has_started
            )
        return self.state in (State.READY, State.COMPLETED)

    async def wait_change(self, *others: ServiceRunner) -> None:
        """Wait until this runner or one of ``others`` changes state."""
        wake = Event()
        runners = (self, *others)
        for runner in runners:
            runner._watchers.add(wake)
        try:
            await wake.wait()
        finally:
            for runner in runners:
                runner._watchers.discard(wake)

    async def wait_settled(self) -> None:
        """Wait until start-up no longer waits for this service."""
        while self.state not in SETTLED and not (self.done and self.state != State.STOPPING):
            await self.wait_change()

    def _set(self, state: State, reason: str | None = None) -> None:
        if state == self.state and reason == self.reason:
            return
        previous = self.state
        self.state = state
        self.reason = reason
        self.since = time.time()
        for wake in self._watchers:
            wake.set()
        self._watchers.clear()
        event = ServiceEvent(self.name, state, previous, self.since, reason)
        if state == State.FAILED:
            self.log.error(str(state), previous=str(previous), reason=reason)
        elif reason and state in (State.BACKOFF, State.STOPPED):
            self.log.warning(str(state), previous=str(previous), reason=reason)
        else:
            self.log.info(str(state), previous=str(previous), reason=reason)
        self.sup.publish(event)

    # -- control (called by the supervisor) -----------------------------------------

    def want(self, wanted: bool) -> None:
        """Mark the service as wanted running (or not); a wanted service that ended restarts."""
        if wanted:
            self.done = False
        self.wanted = wanted
        self._notify_wanted()

    def hold(self, held: bool) -> None:
        """While held, a stopped life does not start again (a restart is in progress)."""
        self.held = held
        self._notify_wanted()

    def _notify_wanted(self) -> None:
        self._wanted_changed.set()
        self._wanted_changed = Event()

    async def halt(self) -> bool:
        """Cancel the current life and wait for it to end; ``False`` if it overran."""
        life, over = self._life, self._life_over
        if life is None or over.is_set():
            return True
        if self.state in RUNNING:
            self._set(State.STOPPING, self.reason if self.state == State.STOPPING else None)
        life.cancel()
        grace = self.config.stop.timeout + (5.0 if self.config.is_process else 0.0)
        with CancelScope() as scope:
            scope.deadline = self.sup.loop_time() + grace
            await over.wait()
        if not over.is_set():
            self.log.error(
                "stop timeout", reason=f"cleanup still running after {grace:g}s; abandoned"
            )
            return False
        return True

    # -- the task -------------------------------------------------------------------

    async def supervise(self) -> None:
        """Run lives of the service for as long as the supervisor runs."""
        while True:
            while not self.wanted or self.done or self.held:
                await self._wanted_changed.wait()
            self._life_over = Event()
            with CancelScope() as life:
                self._life = life
                await self._live()
            self._life = None
            if life.cancel_called and not self.done:
                self.pid = None
                if not self.wanted and self.state not in (State.FAILED, State.COMPLETED):
                    self._set(State.STOPPED, "stopped")
                elif self.state == State.STOPPING:
                    self._set(State.PENDING, "restarting")
            self._life_over.set()

    async def _live(self) -> None:
        tracker = RestartTracker(self.config.restart, self.sup.clock, self.sup.rng)
        while True:
            deps = await self._wait_for_dependencies()
            self.has_started = False
            self._set(State.STARTING)
            began = self.sup.clock()
            error = await self._attempt(deps)
            uptime = self.sup.clock() - began
            self.pid = None
            if error is None:
                if self.config.oneshot:
                    self.done = True
                    self._set(State.COMPLETED, self.last_exit)
                    return
                if not tracker.wants_restart(failed=False):
                    self.done = True
                    self._set(State.STOPPED, self.last_exit)
                    return
            elif not tracker.wants_restart(failed=True):
                self._give_up(error)
                return
            if not tracker.allow():
                spec = self.config.restart
                self._give_up(
                    f"{error or self.last_exit}; gave up after {spec.max_restarts} restarts "
                    f"within {spec.within:g}s"
                )
                return
            delay = tracker.next_delay(uptime)
            self._set(State.BACKOFF, f"{error or self.last_exit}; restarting in {delay:.2f}s")
            # Dependents may hold what this life handed them: stop them now, they start
            # again once this service is ready.
            await self.sup.halt_dependents(self.name)
            await self.sup.sleep(delay)
            self.restarts += 1

    def _give_up(self, reason: str) -> None:
        self.done = True
        self._set(State.FAILED, reason)
        self.sup.escalate(self.name, reason)

    async def _wait_for_dependencies(self) -> dict[str, Any]:
        needs = self.config.depends_on
        while True:
            failed = [d for d in needs if self.sup.runners[d].state == State.FAILED]
            waiting = [d for d, cond in needs.items() if not self.sup.runners[d].satisfies(cond)]
            if not waiting:
                return {dep: self.sup.runners[dep].value for dep in needs}
            if failed:
                self._set(State.FAILED, f"dependency '{failed[0]}' failed")
            else:
                self._set(State.PENDING, "waiting for " + ", ".join(waiting))
            first, *others = (self.sup.runners[d] for d in waiting)
            await first.wait_change(*others)

    async def _attempt(self, deps: dict[str, Any]) -> str | None:
        """One run of the service; returns ``None`` if it ended cleanly, else why it failed."""
        ctx = ServiceContext(
            name=self.name,
            args=self.config.args,
            deps=deps,
            log=self.log,
            on_pid=self._on_pid,
            on_status=self._on_status,
            on_output=self.sup.output_sink(self.name),
        )
        try:
            async with create_task_group() as tg:
                if self.config.is_process:  # bounds its own readiness, and stops the child
                    self.value = await tg.start(self._invoke, ctx, name=f"service:{self.name}")
                else:
                    try:
                        with fail_after(self.config.start_timeout):
                            self.value = await tg.start(
                                self._invoke, ctx, name=f"service:{self.name}"
                            )
                    except TimeoutError:
                        raise StartError(
                            f"not ready within start_timeout ({self.config.start_timeout:g}s)"
                        ) from None
                self._set(State.READY)
        except Exception as exc:
            reason = describe_error(exc)
            self.last_exit = reason
            self.log.warning("service error", reason=reason, exc_info=exc)
            return reason
        self.last_exit = "exited 0" if self.config.is_process else "returned"
        return None

    async def _invoke(
        self, ctx: ServiceContext, *, task_status: TaskStatus[Any] = TASK_STATUS_IGNORED
    ) -> None:
        status = _StartedStatus(task_status)
        if not self.config.is_process:
            self.has_started = True
        await self.fn(ctx, task_status=status)
        if not status.called:
            raise StartError("returned before calling task_status.started()")

    def _on_pid(self, pid: int | None) -> None:
        self.pid = pid
        if pid is not None and not self.has_started:
            self.has_started = True
            for wake in self._watchers:
                wake.set()
            self._watchers.clear()

    def _on_status(self, text: str) -> None:
        self.status_text = text
