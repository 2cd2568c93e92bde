"""The records a runner keeps, and the public state derived from them.

A runner's truth is small and explicit: its :class:`Phase` (where its activation task is),
the current or last :class:`Attempt` (one run of the service), the pending
:class:`StopOrder`, and the state it ended in when it is idle. :func:`derive_state` turns
those into the :class:`~supervisor.runtime.state.ServiceState` users see; nothing stores
the public state independently, so the two cannot disagree.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal

from supervisor.runtime.state import ServiceState, States

S = States


class Phase(StrEnum):
    """Where a runner's activation task is."""

    IDLE = "idle"
    """No activation task: never started, stopped, completed or failed."""
    WAITING = "waiting"
    """Waiting for its dependencies to meet their conditions."""
    RUNNING = "running"
    """The service's callable runs (an :class:`Attempt`)."""
    DRAINING = "draining"
    """The attempt was cancelled by a stop order; waiting for it to end."""
    BACKOFF = "backoff"
    """Between two attempts: its dependents are bounced, then the backoff delay runs."""


class Phases:
    """The members of :class:`Phase` as plain class attributes (``P.RUNNING``), for the
    same reason as :class:`~supervisor.runtime.state.States`."""

    IDLE: Final = Phase.IDLE
    WAITING: Final = Phase.WAITING
    RUNNING: Final = Phase.RUNNING
    DRAINING: Final = Phase.DRAINING
    BACKOFF: Final = Phase.BACKOFF


P = Phases


StopMode = Literal["bounce", "stop", "fail"]
"""``bounce``: end the current attempt, then wait for the dependencies and run again;
``stop``: stop for good (``stopped``); ``fail``: stop for good as ``failed``."""

RANK: dict[StopMode, int] = {"bounce": 0, "stop": 1, "fail": 2}
"""A stronger order replaces a weaker one (a shutdown overrides a bounce)."""


@dataclass(frozen=True, slots=True)
class StopOrder:
    """A request to stop a runner, pending until its activation (or attempt) ends.

    ``released`` turns true once every dependent has stopped: only then is the service
    itself cancelled (stop order is reverse dependency order). Orders are values, shared
    between runners (see :func:`stop_order`).
    """

    mode: StopMode
    reason: str
    released: bool = False

    @property
    def for_good(self) -> bool:
        """True for ``stop`` and ``fail``: the activation ends with the attempt."""
        return self.mode != "bounce"


@functools.lru_cache(maxsize=256)
def stop_order(mode: StopMode, reason: str, released: bool = False) -> StopOrder:
    """The :class:`StopOrder` with these fields: one object for every runner given the
    same order (a shutdown orders thousands of services alike), not one each for the
    cyclic collector to count and walk."""
    return StopOrder(mode, reason, released)


@dataclass(slots=True, eq=False)
class Attempt:
    """One run of the service's callable.

    ``started`` is what the ``started`` condition looks at (a Python service is started
    when called; a process once it has a pid); ``ready`` is ``task_status.started()``;
    ``cancelled`` says why a stop order cancelled it; ``abandoned`` that its cleanup
    overran the stop timeout and the supervisor went on without it.
    """

    number: int
    started: bool = False
    ready: bool = False
    ready_at: float | None = None
    value: Any = None
    cancelled: str | None = None
    abandoned: bool = False


def occupies(phase: Phase, attempt: Attempt | None) -> bool:
    """Whether the service holds its dependencies: an attempt runs and is not abandoned."""
    if phase is P.RUNNING:
        return True
    return phase is P.DRAINING and attempt is not None and not attempt.abandoned


def derive_state(
    phase: Phase, attempt: Attempt | None, order: StopOrder | None, ended: ServiceState
) -> ServiceState:
    """The public state of a runner with these records (``ended``: its state when idle)."""
    if phase is P.IDLE:
        return ended
    stopping_for_good = order is not None and order.for_good
    if phase is P.RUNNING:
        if order is not None:
            return S.STOPPING
        return S.READY if attempt is not None and attempt.ready else S.STARTING
    if phase is P.DRAINING:
        if attempt is not None and attempt.abandoned:
            if order is None or not order.for_good:
                return S.PENDING  # runs again once the abandoned attempt ends
            return S.FAILED if order.mode == "fail" else S.STOPPED
        return S.STOPPING
    if phase is P.BACKOFF:
        return S.STOPPING if stopping_for_good else S.BACKOFF
    return S.STOPPING if stopping_for_good else S.PENDING  # WAITING


def meets(state: ServiceState, attempt: Attempt | None, condition: str) -> bool:
    """Whether a dependency in ``state`` meets a dependent's ``condition``."""
    if condition == "ready":
        return state is S.READY or state is S.COMPLETED
    if condition == "completed":
        return state is S.COMPLETED
    return (
        state is S.COMPLETED
        or state is S.READY
        or (state is S.STARTING and attempt is not None and attempt.started)
    )
