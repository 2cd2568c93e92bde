"""The per-service state machine: wait for dependencies, run, restart, stop.

One :class:`Runner` per service keeps its records for the supervisor's whole life: its
:class:`~supervisor.runtime.phase.Phase`, the current :class:`Attempt`, the pending
:class:`StopOrder` and the state it ended in. They are written by one method,
:meth:`Runner._update`, which derives the public state, publishes an event when it
changed, and wakes every waiter on *every* write; waiting is only ever
:meth:`Runner.until` a predicate holds, so no wake-up can be lost. (The exceptions write
what nothing derives from and no waiter looks at: a pid cleared when the process is gone,
and :meth:`Runner._record_end`, published by the ``_update`` that follows it.)

While the service is wanted, one *activation* task runs :meth:`Runner.activation`: it
waits for the dependencies' conditions, calls the service with a ``task_status`` of its own
(``started(value)`` makes it ready and hands ``value`` to its dependents), and after each
attempt asks :func:`~supervisor.runtime.exits.decide` what comes next. Stopping is an order
given from outside (:mod:`supervisor.runtime.stopping`): it is *released* once the
dependents are down, and the release cancels whatever phase runs.
"""

from __future__ import annotations

import enum
import time
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from supervisor.concurrency import CancelScope, Event
from supervisor.config.models import Condition, LogSettings
from supervisor.logs import OutputBuffer
from supervisor.runtime.backoff import RestartTracker
from supervisor.runtime.errors import ServiceStartError, StartTimeoutError
from supervisor.runtime.exits import AttemptEnd, Finish, Restart, decide
from supervisor.runtime.handles import Readiness, RunnerContext
from supervisor.runtime.output import OutputFeed, last_lines
from supervisor.runtime.phase import (
    RANK,
    Attempt,
    P,
    Phase,
    StopMode,
    StopOrder,
    derive_state,
    meets,
    occupies,
    stop_order,
)
from supervisor.runtime.spec import ServiceSpec, service_callable
from supervisor.runtime.state import LogLine, ServiceState, ServiceStatus, States

if TYPE_CHECKING:
    from supervisor.runtime.supervisor import Supervisor

S = States

_AT_REST = frozenset({S.COMPLETED, S.FAILED, S.STOPPED})
_NOT_COMING = frozenset({S.STOPPED, S.PENDING})


_CANCELLED = Finish(S.STOPPED, "supervisor stopped")
"""How an activation cancelled from outside (the supervisor's task group) ends."""


class _Keep(enum.Enum):
    KEEP = enum.auto()


KEEP = _Keep.KEEP
"""Default of :meth:`Runner._update` arguments: leave that record as it is."""


def describe_error(exc: BaseException) -> str:
    """``ValueError: boom``, or the message alone for the supervisor's own failures."""
    if isinstance(exc, ServiceStartError) or hasattr(exc, "ended"):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Runner:
    """The state machine of one service (see the module docstring)."""

    def __init__(self, sup: Supervisor, spec: ServiceSpec, log_lines: int) -> None:
        # A proxy, so that runners and their supervisor form no reference cycle: a
        # supervisor that has run is freed by reference counting alone.
        self.sup: Supervisor = weakref.proxy(sup) if not isinstance(sup, weakref.ProxyType) else sup
        self.spec = spec
        self.name = spec.name
        self.log: Any = sup.log.bind(service=spec.name)
        self.tracker = RestartTracker(spec.restart, sup.clock, sup.rng)
        self.deps: tuple[tuple[Runner, Condition], ...] = ()
        self.dependents: tuple[Runner, ...] = ()
        # the records (written by _update only)
        self.phase = P.IDLE
        self.attempt: Attempt | None = None
        self.order: StopOrder | None = None
        self.ended = S.PENDING
        self.scope: CancelScope | None = None
        self.restarts = 0
        self.last_ready = 0
        self.pid: int | None = None
        self.last_exit: str | None = None
        self.last_error: str | None = None
        # what status() shows, derived by _update
        self.state = S.PENDING
        self.since = time.time()
        self.reason: str | None = "not started"
        self.status_text: str | None = None
        self._attempts = 0
        self._changed: Event | None = None
        self._stop_hook: Callable[[], None] | None = None
        # output
        self.output = OutputBuffer(log_lines)
        self.output_feed = OutputFeed(self.name, log_lines)
        self.output.followers = self.output_feed

    def successor(self, spec: ServiceSpec) -> Runner:
        """A runner for a changed definition of this (idle) service, picking up where this
        one ended: its state (so the event stream goes on from it) and its output buffer
        and followers (so ``logs`` and ``logs -f`` survive a reload)."""
        runner = Runner(self.sup, spec, self.output.maxlen)
        runner.ended = runner.state = self.state
        runner.since, runner.reason = self.since, self.reason
        runner.output, runner.output_feed = self.output, self.output_feed
        return runner

    def __repr__(self) -> str:
        return f"<Runner {self.name} {self.state} {self.phase}>"

    # -- the one writer ----------------------------------------------------------------

    def _update(
        self,
        *,
        phase: Phase | _Keep = KEEP,
        attempt: Attempt | _Keep | None = KEEP,
        order: StopOrder | _Keep | None = KEEP,
        ended: ServiceState | _Keep = KEEP,
        scope: CancelScope | _Keep | None = KEEP,
        restarts: int | _Keep = KEEP,
        last_ready: int | _Keep = KEEP,
        pid: int | _Keep | None = KEEP,
        last_exit: str | _Keep | None = KEEP,
        reason: str | _Keep | None = KEEP,
        error: str | None = None,
        **attempt_fields: Any,
    ) -> None:
        """Write records, enforce a released stop order, publish, and wake every waiter.

        ``reason`` describes the new state (it is cleared on a transition without one);
        ``error`` is recorded as ``last_error``; ``attempt_fields`` update the current
        :class:`Attempt` (``ready=True``, ``abandoned=True``, ...).
        """
        if phase is not KEEP:
            self.phase = phase
        if attempt is not KEEP:
            self.attempt = attempt
        if order is not KEEP:
            self.order = order
        if ended is not KEEP:
            self.ended = ended
        if scope is not KEEP:
            self.scope = scope
        if restarts is not KEEP:
            self.restarts = restarts
        if last_ready is not KEEP:
            self.last_ready = last_ready
        if pid is not KEEP:
            self.pid = pid
        if last_exit is not KEEP:
            self.last_exit = last_exit
        if attempt_fields and self.attempt is not None:
            for key, value in attempt_fields.items():
                setattr(self.attempt, key, value)
        if error is not None:
            self.last_error = error
        if self.order is not None:
            self._enforce_order()
        previous = self.state
        state = derive_state(self.phase, self.attempt, self.order, self.ended)
        if state is not previous:
            self.state = state
            self.since = time.time()
            self.reason = None if reason is KEEP else reason
            self.sup._transitioned(self, previous, error)
        elif reason is not KEEP:
            self.reason = reason
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    def _enforce_order(self) -> None:
        """A released stop order cancels what runs now (and any phase begun later)."""
        order, scope = self.order, self.scope
        if order is None or not order.released or scope is None:
            return
        phase = self.phase
        if phase is P.RUNNING:
            if self.attempt is not None:
                self.attempt.cancelled = order.reason
            self.phase = P.DRAINING
            # cancelled first: whatever the hook does (it is the service's own code, and
            # may raise anything), the service is stopped; it sees the cancellation only
            # at its next checkpoint, after the hook, so the hook still comes first for it
            scope.cancel()
            hook = self._stop_hook
            if hook is not None:
                self._stop_hook = None
                try:
                    hook()
                except Exception as exc:
                    self.log.error("service stop hook raised", exc_info=exc)
        elif phase is P.BACKOFF or (phase is P.WAITING and order.for_good):
            scope.cancel()

    # -- observing -----------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether an activation task exists for this service."""
        return self.phase is not P.IDLE

    @property
    def occupies(self) -> bool:
        """Whether an attempt runs (so its dependencies must stay up)."""
        return occupies(self.phase, self.attempt)

    @property
    def value(self) -> Any:
        """What the last attempt handed to ``task_status.started()``."""
        return self.attempt.value if self.attempt is not None else None

    def meets(self, condition: Condition) -> bool:
        """Whether this service currently meets a dependent's ``condition``."""
        return meets(self.state, self.attempt, condition)

    async def changed(self) -> None:
        """Wait for the next write to this runner's records."""
        if self._changed is None:
            self._changed = Event()
        await self._changed.wait()

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds (checked after every write to this runner)."""
        while not predicate():
            await self.changed()

    @property
    def attempts(self) -> int:
        """How many attempts were made so far (the number of the last one)."""
        return self._attempts

    def settled_since(self, attempts: int) -> bool:
        """Whether the service is ready, or an attempt became ready since attempt number
        ``attempts``, with no stop pending; or it came to rest (completed, failed,
        stopped, or waiting in vain).

        Readiness is read from ``last_ready``, which only grows: a service that was
        ready and crashed before the waiter looked still counts as having started.
        """
        if self.last_ready > attempts or self.state is S.READY:
            return self.order is None
        if not self.active or self.waits_in_vain():
            return True
        return self.state in _AT_REST and (self.order is None or self.order.for_good)

    def waits_in_vain(self) -> bool:
        """Whether it waits for a dependency that nothing is starting (stopped, idle)."""
        # a failed dependency is not in vain: this service is about to fail too
        return self.phase is P.WAITING and any(
            dep.phase is P.IDLE and dep.state in _NOT_COMING for dep, _ in self.deps
        )

    def stop_done(self, mode: StopMode, attempt: Attempt | None) -> bool:
        """Whether a stop order of ``mode``, given while ``attempt`` ran, has had its effect.

        A bounced attempt is done once it no longer runs, even if the next one has begun.
        """
        if mode == "bounce":
            return self.attempt is not attempt or not self.occupies
        return self.phase is P.IDLE or (self.attempt is not None and self.attempt.abandoned)

    def snapshot(self) -> ServiceStatus:
        """The :class:`ServiceStatus` of this service now."""
        return ServiceStatus(
            name=self.name,
            kind=self.spec.kind,
            state=self.state,
            since=self.since,
            restarts=self.restarts,
            reason=self.reason,
            last_exit=self.last_exit,
            last_error=self.last_error,
            pid=self.pid,
            status_text=self.status_text,
            depends_on=dict(self.spec.depends_on),
        )

    # -- callbacks from the running service ----------------------------------------------

    def _on_ready(self, attempt: Attempt, value: Any) -> None:
        if attempt is not self.attempt or not self.occupies:
            return  # a late call from an attempt that already ended
        self._update(
            last_ready=attempt.number,
            ready=True,
            started=True,
            value=value,
            ready_at=self.sup.clock.now(),
        )

    def _on_pid(self, pid: int | None) -> None:
        if pid is None:
            self.pid = None  # nothing derives from it and no waiter looks at it
        elif self.occupies:
            self._update(pid=pid, started=True)
        else:
            self._update(pid=pid)

    def _on_output(self, stream: str, line: str) -> None:
        self.output.add_line(stream, line, time.time())

    def logs(self, lines: int | None) -> list[LogLine]:
        """The last ``lines`` lines (see :func:`~supervisor.runtime.output.last_lines`)."""
        settings = self.spec.config.log if self.spec.config is not None else None
        return last_lines(self.name, self.output, settings, lines, self._log_of_others)

    def _log_of_others(self) -> Iterator[LogSettings]:
        for runner in self.sup._runners.values():
            config = runner.spec.config
            if runner is not self and config is not None and config.log is not None:
                yield config.log

    # -- orders from the supervisor ------------------------------------------------------

    def begin(self) -> None:
        """Claim a new activation (synchronously, before its task is spawned)."""
        # bound now, so that logging configured after the supervisor was built applies
        self.log = self.sup.log.bind(service=self.name)
        self._update(phase=P.WAITING, order=None, reason="starting")

    def give_order(self, mode: StopMode, reason: str) -> bool:
        """Order this service to stop; ``True`` if there is something to wait for.

        A weaker order never replaces a stronger one. A service that never started is
        simply marked stopped (or failed).
        """
        if self.phase is P.IDLE:
            if mode != "bounce" and self.state is S.PENDING:
                self._update(ended=S.FAILED if mode == "fail" else S.STOPPED, reason=reason)
            return False
        if mode == "bounce" and not (self.occupies or self.phase is P.BACKOFF):
            return False
        current = self.order
        if current is None or RANK[mode] > RANK[current.mode]:
            self._update(order=stop_order(mode, reason), reason=reason)
        return True

    def release_stop(self) -> None:
        """Every dependent is down: the order may now cancel this service."""
        order = self.order
        if order is not None and not order.released:
            self._update(order=stop_order(order.mode, order.reason, released=True))

    def abandon(self) -> None:
        """The stop timeout passed and the attempt still runs: go on without it."""
        grace = self.spec.stop_grace
        message = f"did not stop within {grace:g}s; abandoned"
        self.log.error("service cleanup overran its stop timeout; going on", timeout=grace)
        self._update(abandoned=True, reason=message, error=message)

    def mark_stopped(self, reason: str) -> None:
        """Show a service never started as stopped (``disabled``...), with no event."""
        if self.phase is P.IDLE:
            self.ended = self.state = S.STOPPED
            self.reason = reason

    def wake(self) -> None:
        """Wake whoever waits on this runner, so that they look at their links again."""
        self._update()

    def rearm(self) -> None:
        """Run again once an abandoned attempt ends (``Supervisor.start``)."""
        self._update(order=None, reason="waiting for its previous run to end")

    # -- the activation ------------------------------------------------------------------

    async def activation(self) -> None:
        """The task that runs this service until it completes, fails or is stopped."""
        finish = _CANCELLED
        error: str | None = None
        try:
            finish = await self._lifecycle()
        except Exception as exc:  # a bug of ours: never let it escape into the task group
            self.log.exception("internal error in the supervisor; service given up")
            error = describe_error(exc)
            finish = Finish(S.FAILED, "internal error", escalate=True)
        finally:
            if error is None and finish.escalate:
                error = self.last_error
            self._update(
                phase=P.IDLE,
                scope=None,
                order=None,
                pid=None,
                ended=finish.state,
                reason=finish.reason,
                error=error,
            )
        if finish.escalate:
            self.sup._service_failed(self)

    async def _lifecycle(self) -> Finish:
        while True:
            order = self.order
            if order is not None and order.for_good:
                return Finish(S.FAILED if order.mode == "fail" else S.STOPPED, order.reason)
            blocked = await self._wait_for_dependencies()
            if blocked is not None:
                return Finish(S.FAILED, f"dependency {blocked.name!r} failed")
            order = self.order
            if order is not None:
                if order.for_good:
                    continue
                self._update(order=None)  # a bounce with nothing running: nothing to do
            end = await self._run_attempt()
            decision = decide(
                end, self.order, self.spec.restart, self.tracker, oneshot=self.spec.oneshot
            )
            if isinstance(decision, Finish):
                return decision
            if isinstance(decision, Restart):
                await self._backoff(decision, end)
            # the next phase (waiting or running) is entered before anything else can run
            self._update(order=self._without_bounce(), restarts=self.restarts + 1)

    def _without_bounce(self) -> StopOrder | None:
        """The pending order once a bounce has had its effect (a stop for good stays)."""
        order = self.order
        return order if order is not None and order.for_good else None

    def _blocker(self) -> tuple[Runner, Condition] | None:
        """The first dependency not meeting its condition (a failed one comes first)."""
        blocker = None
        for dep, condition in self.deps:
            if dep.state is S.FAILED:
                return dep, condition
            if blocker is None and not dep.meets(condition):
                blocker = dep, condition
        return blocker

    async def _wait_for_dependencies(self) -> Runner | None:
        """``None`` once every condition is met (or on a stop); else the failed dependency."""
        blocker = self._blocker()
        if blocker is None:
            return None
        with CancelScope() as scope:
            self._update(phase=P.WAITING, scope=scope)
            shown = None
            while blocker is not None:
                dep, condition = blocker
                if dep.state is S.FAILED:
                    return dep
                if blocker != shown:  # a write wakes this service's dependents: only if new
                    self._update(reason=f"waiting for {dep.name} ({condition})")
                    shown = blocker
                await dep.changed()
                blocker = self._blocker()
        self._update(scope=None)
        return None

    async def _run_attempt(self) -> AttemptEnd:
        """Run the service once and record how it ended."""
        self._attempts += 1
        attempt = Attempt(self._attempts, started=not self.spec.is_process)
        try:
            fn = service_callable(self.spec)
        except Exception as exc:
            why = describe_error(exc)
            self._update(phase=P.RUNNING, attempt=attempt, last_exit="did not start")
            self._update(error=why)
            self.log.error("service cannot be started", error=why)
            return AttemptEnd(stopped=False, failed=True)
        ctx = RunnerContext(
            self,
            args=self.spec.args,
            deps={dep.name: dep.value for dep, _ in self.deps},
            log=self.log,
            output_buffer=self.output,
            stop_timeout=self.spec.stop.timeout,
        )
        status = Readiness(self, attempt)
        timeout = None if self.spec.is_process else self.spec.start_timeout
        error: Exception | None = None
        with CancelScope() as scope:
            self._update(phase=P.RUNNING, attempt=attempt, scope=scope, pid=None)
            if timeout is not None:
                self.sup._deadlines.add(status, timeout)
            try:
                await fn(ctx, task_status=status)
            except Exception as exc:
                error = exc
        try:
            return self._conclude(attempt, status, scope, fn, timeout, error)
        finally:
            error = None  # the exception's traceback holds this frame: no cycle left behind

    def _conclude(
        self,
        attempt: Attempt,
        status: Readiness,
        scope: CancelScope,
        fn: Any,
        timeout: float | None,
        error: Exception | None,
    ) -> AttemptEnd:
        """Record how the attempt ended (``error``: what the service raised, if anything)."""
        self._stop_hook = None
        uptime = 0.0 if attempt.ready_at is None else self.sup.clock.now() - attempt.ready_at
        message: str | None
        ended = getattr(fn, "ended", None)
        if attempt.cancelled is not None:
            last_exit = ended if isinstance(ended, str) else "stopped"
            message = None
            if error is not None:
                message = f"error while stopping: {describe_error(error)}"
                self.log.error("service raised while stopping", exc_info=error)
            self._record_end(last_exit, message)
            return AttemptEnd(stopped=True, failed=error is not None, uptime=uptime)
        if not status.called and scope.cancel_called and error is None:
            error = StartTimeoutError(f"not ready within {timeout:g}s")
        elif error is None and not status.called and not self.spec.oneshot:
            error = ServiceStartError("returned before calling task_status.started()")
        if isinstance(ended, str):
            last_exit = ended
        elif error is None:
            last_exit = "returned"
        elif isinstance(error, StartTimeoutError):
            last_exit = "timed out"
        elif isinstance(error, ServiceStartError):
            last_exit = "returned"
        else:
            last_exit = f"raised {type(error).__name__}"
        message = None
        if error is not None:
            message = describe_error(error)
            if isinstance(error, ServiceStartError) or hasattr(error, "ended"):
                self.log.error("service failed", error=message)
            else:
                self.log.error("service raised", exc_info=error)
        self._record_end(last_exit, message)
        return AttemptEnd(stopped=False, failed=error is not None, uptime=uptime)

    def _record_end(self, last_exit: str, error: str | None) -> None:
        """Write how an attempt ended without publishing: whatever the lifecycle does
        next begins with an :meth:`_update` in this same step, which wakes the waiters (no
        state derives from these records, so there is no transition to miss)."""
        self.scope = None
        self.pid = None
        self.last_exit = last_exit
        if error is not None:
            self.last_error = error

    async def _backoff(self, decision: Restart, end: AttemptEnd) -> None:
        """Bounce the dependents, then wait the delay (a bounce order cuts it short)."""
        self._update(
            phase=P.BACKOFF,
            order=None,
            reason=decision.reason,
            error=self.last_error if end.failed else None,
        )
        await self.sup._bounce_dependents(self)
        with CancelScope() as scope:
            self._update(scope=scope)
            await self.sup.clock.sleep(decision.delay)
        self._update(scope=None, order=self._without_bounce())
