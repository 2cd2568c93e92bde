"""The per-service state machine: wait for dependencies, run, restart, stop.

One :class:`Runner` per service keeps its state and counters for the supervisor's whole
life. While the service is wanted, one *activation* task runs :meth:`Runner.activation`:
it waits for the dependencies' conditions, calls the service with a ``task_status`` of
its own (the ``tg.start()`` handshake: ``started(value)`` makes it ready and hands
``value`` to its dependents), and restarts it with backoff, until the service completes,
fails for good, or is stopped. A restart reuses the same task, so the service's
dependents never wait on anything but their own dependencies.

Stopping is driven from outside (the supervisor): it sets :attr:`Runner.stop_mode`, and
cancels the current phase's scope once every dependent has stopped.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any, Literal

import structlog

from supervisor.concurrency import CancelScope, Event, current_time
from supervisor.config.models import Condition
from supervisor.runtime.backoff import RestartTracker, wants_restart
from supervisor.runtime.broadcast import Broadcast
from supervisor.runtime.errors import ServiceStartError, StartTimeoutError
from supervisor.runtime.spec import ServiceCallable, ServiceSpec, service_callable
from supervisor.runtime.state import FINAL, LogLine, ServiceEvent, ServiceState, ServiceStatus
from supervisor.services.context import ServiceContext

if TYPE_CHECKING:
    from supervisor.runtime.supervisor import Supervisor

StopMode = Literal["bounce", "stop", "fail"]
"""``bounce``: stop the running instance, then wait for the dependencies and start again;
``stop``: stop for good (``stopped``); ``fail``: stop for good as ``failed``."""

_RANK: dict[StopMode, int] = {"bounce": 0, "stop": 1, "fail": 2}

_STOPPED: Any = object()
"""Sentinel: a phase ended because the service was asked to stop."""

S = ServiceState


def describe_error(exc: BaseException) -> str:
    """``ValueError: boom``, or the message alone for the supervisor's own failures."""
    if isinstance(exc, ServiceStartError) or hasattr(exc, "ended"):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Readiness:
    """The ``task_status`` handed to a service: ``started(value)`` makes it ready."""

    __slots__ = ("_run", "_runner", "called")

    def __init__(self, runner: Runner, run: int) -> None:
        self._runner = runner
        self._run = run
        self.called = False

    def started(self, value: Any = None) -> None:
        """Signal readiness, handing ``value`` to the dependents (``ctx.deps[name]``)."""
        if self.called:
            raise RuntimeError("called 'started' twice on the same task status")
        self.called = True
        if self._runner._run == self._run:
            self._runner._on_ready(value)


class Runner:
    """The state machine of one service (see the module docstring)."""

    def __init__(self, sup: Supervisor, spec: ServiceSpec, log_lines: int) -> None:
        self.sup = sup
        self.spec = spec
        self.name = spec.name
        self.log: Any = structlog.get_logger("supervisor").bind(service=spec.name)
        self.tracker = RestartTracker(spec.restart, sup.clock, sup.rng)
        self.deps: list[tuple[Runner, Condition]] = []
        self.dependents: list[Runner] = []
        # what status() shows
        self.state = S.PENDING
        self.since = time.time()
        self.reason: str | None = "not started"
        self.restarts = 0
        self.last_exit: str | None = None
        self.last_error: str | None = None
        self.pid: int | None = None
        self.status_text: str | None = None
        # the current run
        self.value: Any = None
        self.started_flag = False
        self.ready_at: float | None = None
        self._run = 0
        self.readiness: _Readiness | None = None
        self.timed_out = False
        # activation and phases
        self.active = False
        self.running = False
        self.scope: CancelScope | None = None
        self.phase: str = "idle"
        self.skip_backoff = False
        # stop requests (driven by the supervisor)
        self.stop_mode: StopMode | None = None
        self.stop_reason: str | None = None
        self.cancel_sent = False
        self.cancel_deadline: float | None = None
        self.abandoned = False
        self.stop_ops: list[Any] = []
        self._changed: Event | None = None
        # output
        self.output: deque[LogLine] = deque(maxlen=log_lines)
        self.output_feed: Broadcast[LogLine] = Broadcast(maxlen=log_lines)

    def __repr__(self) -> str:
        return f"<Runner {self.name} {self.state}>"

    # -- observing ---------------------------------------------------------------------

    def meets(self, condition: Condition) -> bool:
        """Whether this service currently meets a dependent's ``condition``."""
        state = self.state
        if condition == "ready":
            return state is S.READY or state is S.COMPLETED
        if condition == "completed":
            return state is S.COMPLETED
        return (
            state is S.COMPLETED or state is S.READY or (state is S.STARTING and self.started_flag)
        )

    async def changed(self) -> None:
        """Wait for the next transition (or readiness-relevant change) of this service."""
        if self._changed is None:
            self._changed = Event()
        await self._changed.wait()

    def _wake(self) -> None:
        event = self._changed
        if event is not None:
            self._changed = None
            event.set()

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

    def set(self, state: ServiceState, reason: str | None = None, error: str | None = None) -> None:
        """Move to ``state``: publish the event, wake whoever waits on this service."""
        previous = self.state
        if previous is state:
            if reason is not None:
                self.reason = reason
            return
        self.state = state
        self.since = now = time.time()
        self.reason = reason
        if error is not None:
            self.last_error = error
        self.sup._transitioned(
            self, ServiceEvent(self.name, state, previous, now, reason, error, self.restarts)
        )
        self._wake()

    # -- callbacks from the running service ----------------------------------------------

    def _on_ready(self, value: Any) -> None:
        self.value = value
        self.started_flag = True
        self.ready_at = self.sup.clock.now()
        if self.state is S.STARTING:
            self.set(S.READY)
        else:
            self._wake()

    def _on_pid(self, pid: int | None) -> None:
        self.pid = pid
        if pid is not None and not self.started_flag and self.running:
            self.started_flag = True
            self._wake()

    def _on_status(self, text: str) -> None:
        self.status_text = text

    def _on_output(self, stream: str, line: str) -> None:
        entry = LogLine(self.name, stream, line, time.time())
        self.output.append(entry)
        self.output_feed.publish(entry)

    # -- stop requests -----------------------------------------------------------------

    def request_stop(self, mode: StopMode, reason: str | None) -> None:
        """Ask this service to stop (it is cancelled once its dependents are down)."""
        if self.stop_mode is None or _RANK[mode] > _RANK[self.stop_mode]:
            self.stop_mode = mode
            self.stop_reason = reason
        if self.running or mode != "bounce":
            self.set(S.STOPPING, reason)

    def cancel(self) -> None:
        """Deliver the stop: cancel the current phase (the service itself when it runs)."""
        self.cancel_sent = True
        if self.scope is not None:
            self.scope.cancel()

    def _clear_stop(self) -> None:
        self.stop_mode = self.stop_reason = None
        self.cancel_sent = self.abandoned = False
        self.cancel_deadline = None

    def _stop_for_good(self) -> bool:
        return self.stop_mode is not None and self.stop_mode != "bounce"

    # -- the activation ------------------------------------------------------------------

    def begin(self) -> None:
        """Prepare an activation (synchronously, before its task is spawned)."""
        self.active = True
        # bound now, so that logging configured after the supervisor was built applies
        self.log = self.sup.log.bind(service=self.name)
        self._clear_stop()
        self.skip_backoff = False
        self.set(S.PENDING, "starting")

    async def activation(self) -> None:
        """The task that runs this service until it completes, fails or is stopped."""
        try:
            await self._lifecycle()
        except Exception as exc:  # a bug of ours: never let it escape into the task group
            self.log.exception("internal error in the supervisor; service given up")
            self.set(S.FAILED, "internal error", describe_error(exc))
        finally:
            self.running = False
            self.scope = None
            self.phase = "idle"
            if self.state not in FINAL:
                self.set(S.STOPPED, "supervisor stopped")
            self.active = False
            self.sup._activation_ended(self)

    async def _lifecycle(self) -> None:
        while True:
            if self._stop_for_good():
                return self._finish_stop()
            blocked = await self._wait_for_dependencies()
            if blocked is _STOPPED:
                return self._finish_stop()
            if blocked is not None:
                self.set(S.FAILED, f"dependency {blocked.name!r} failed")
                return None
            outcome = await self._run_once()
            if outcome is _STOPPED:
                if self.stop_mode == "bounce":
                    self._clear_stop()
                    self.restarts += 1
                    continue
                return self._finish_stop()
            error, uptime = outcome
            if self.stop_mode == "bounce":
                self._clear_stop()  # ended by itself before the bounce reached it
            if self._stop_for_good():
                return self._finish_stop()
            if not await self._after_exit(error, uptime):
                return None
            self.restarts += 1

    def _finish_stop(self) -> None:
        if self.stop_mode == "fail":
            self.set(S.FAILED, self.stop_reason)
        else:
            self.set(S.STOPPED, self.stop_reason or "stopped")

    async def _wait_for_dependencies(self) -> Any:
        """``None`` once every condition is met; the failed dependency; or ``_STOPPED``."""
        if not self.deps:
            return None
        with CancelScope() as scope:
            self.scope, self.phase = scope, "waiting"
            while True:
                blocker: tuple[Runner, Condition] | None = None
                for dep, condition in self.deps:
                    if dep.state is S.FAILED:
                        return dep
                    if not dep.meets(condition):
                        blocker = (dep, condition)
                        break
                if blocker is None:
                    self.scope, self.phase = None, "idle"
                    return None
                dep, condition = blocker
                self.set(S.PENDING, f"waiting for {dep.name} ({condition})")
                await dep.changed()
        self.scope, self.phase = None, "idle"
        return _STOPPED

    async def _run_once(self) -> Any:
        """Run the service once: ``_STOPPED``, or ``(error or None, uptime)``."""
        self._run += 1
        self.value = None
        self.pid = None
        self.ready_at = None
        self.timed_out = False
        self.started_flag = not self.spec.is_process
        status = self.readiness = _Readiness(self, self._run)
        try:
            fn: ServiceCallable = service_callable(self.spec)
        except Exception as exc:
            self.set(S.STARTING)
            self.last_exit = "did not start"
            self.last_error = describe_error(exc)
            self.log.error("service cannot be started", error=self.last_error)
            return exc, 0.0
        ctx = ServiceContext(
            self.name,
            args=self.spec.args,
            deps={dep.name: dep.value for dep, _ in self.deps},
            log=self.log,
            on_pid=self._on_pid,
            on_status=self._on_status,
            on_output=self._on_output,
        )
        self.set(S.STARTING)
        error: Exception | None = None
        timeout = None if self.spec.is_process else self.spec.start_timeout
        with CancelScope() as scope:
            self.scope, self.phase, self.running = scope, "running", True
            if timeout is not None:
                self.sup._start_deadline(self, current_time() + timeout)
            try:
                await fn(ctx, task_status=status)
            except Exception as exc:
                error = exc
        self.scope, self.phase, self.running = None, "idle", False
        uptime = 0.0 if self.ready_at is None else self.sup.clock.now() - self.ready_at
        self.pid = None
        ended = getattr(fn, "ended", None)
        if self.cancel_sent:
            self.last_exit = ended if isinstance(ended, str) else "stopped"
            if error is not None:
                self.last_error = f"error while stopping: {describe_error(error)}"
                self.log.error("service raised while stopping", exc_info=error)
            return _STOPPED
        if not status.called and self.timed_out:
            error = StartTimeoutError(f"not ready within {timeout:g}s")
        elif error is None and not status.called and not self.spec.oneshot:
            error = ServiceStartError("returned before calling task_status.started()")
        if isinstance(ended, str):
            self.last_exit = ended
        elif error is None:
            self.last_exit = "returned"
        elif isinstance(error, ServiceStartError):
            self.last_exit = "timed out" if isinstance(error, StartTimeoutError) else "returned"
        else:
            self.last_exit = f"raised {type(error).__name__}"
        if error is not None:
            self.last_error = describe_error(error)
            if isinstance(error, ServiceStartError) or hasattr(error, "ended"):
                self.log.error("service failed", error=self.last_error)
            else:
                self.log.error("service raised", exc_info=error)
        return error, uptime

    async def _after_exit(self, error: Exception | None, uptime: float) -> bool:
        """Completed, failed, or backoff then restart: ``True`` to run again."""
        self.tracker.ran_for(uptime)
        succeeded = error is None
        if not wants_restart(self.spec.restart, succeeded=succeeded, oneshot=self.spec.oneshot):
            if succeeded:
                self.set(S.COMPLETED, "exited successfully")
            else:
                self.set(S.FAILED, "restart policy is 'no'", self.last_error)
                self.sup._service_failed(self)
            return False
        delay = self.tracker.next_delay()
        if delay is None:
            self.set(S.FAILED, f"gave up: {self.tracker.describe_limit()}", self.last_error)
            self.sup._service_failed(self)
            return False
        why = f"{'exited' if succeeded else 'failed'}; restarting in {delay:.3g}s"
        self.set(S.BACKOFF, why, self.last_error if not succeeded else None)
        with CancelScope() as scope:
            self.scope, self.phase = scope, "backoff"
            await self.sup._bounce_dependents(self)
            if not self.skip_backoff:
                await self.sup.clock.sleep(delay)
        self.scope, self.phase = None, "idle"
        self.skip_backoff = False
        if self._stop_for_good():
            self._finish_stop()
            return False
        return True

    def start_timed_out(self, run: int) -> None:
        """The start deadline of run ``run`` passed: cancel it if it is still not ready."""
        readiness = self.readiness
        if (
            run == self._run
            and self.running
            and readiness is not None
            and not readiness.called
            and not self.cancel_sent
            and self.scope is not None
        ):
            self.timed_out = True
            self.scope.cancel()

    def skip_delay(self) -> None:
        """Restart now: cut a backoff delay short (``Supervisor.restart``)."""
        if self.phase == "backoff" and self.scope is not None:
            self.skip_backoff = True
            self.scope.cancel()
