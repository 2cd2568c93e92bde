"""What a runner hands to one attempt of its service: the ``task_status`` and the context.

Both report straight to the runner. The context overrides the reporting methods of
:class:`~supervisor.services.context.ServiceContext` instead of being given one bound
method per callback: thousands of services each start with one object fewer to allocate
and, while they run, fewer for the cyclic collector to walk.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from supervisor.runtime.phase import Attempt, P
from supervisor.services.context import ServiceContext

if TYPE_CHECKING:
    from supervisor.runtime.runner import Runner


class Readiness:
    """The ``task_status`` handed to a service: ``started(value)`` makes it ready.

    It is also the attempt's start deadline (see :mod:`supervisor.runtime.deadlines`):
    once ``deadline`` passes, an attempt still running and not ready is cancelled.
    """

    __slots__ = ("_attempt", "_runner", "called", "deadline")

    def __init__(self, runner: Runner, attempt: Attempt) -> None:
        self._runner = runner
        self._attempt = attempt
        self.called = False
        self.deadline = math.inf

    def started(self, value: Any = None) -> None:
        """Signal readiness, handing ``value`` to the dependents (``ctx.deps[name]``)."""
        if self.called:
            raise RuntimeError("called 'started' twice on the same task status")
        self.called = True
        self._runner._on_ready(self._attempt, value)

    def expire(self) -> None:
        """The start timeout has passed: cancel the attempt unless it is ready or over."""
        runner = self._runner
        if not self.called and runner.attempt is self._attempt and runner.phase is P.RUNNING:
            assert runner.scope is not None
            runner.scope.cancel()


class RunnerContext(ServiceContext):
    """The :class:`ServiceContext` of an attempt run by ``runner``: pid, status, output
    and stop hook go to the runner (its ``on_*`` fields stay unused)."""

    def __init__(self, runner: Runner, **fields: Any) -> None:
        super().__init__(runner.name, **fields)
        self._runner = runner

    def set_pid(self, pid: int | None) -> None:
        """Record the PID of the service's main process (``None`` once it has exited)."""
        self._runner._on_pid(pid)

    def set_status(self, text: str) -> None:
        """Publish a free-form status line (shown by ``supervisor status``)."""
        self._runner.status_text = text

    def set_stop_hook(self, hook: Callable[[], None] | None) -> None:
        """Have ``hook()`` called when the runtime cancels the service to stop it, before
        the service sees the cancellation."""
        self._runner._stop_hook = hook

    def output(self, stream: str, line: str) -> None:
        """Hand one line of the service's output to the supervisor's log buffer."""
        self._runner._on_output(stream, line)
