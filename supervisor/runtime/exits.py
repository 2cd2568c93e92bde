"""What happens after an attempt ends: a pure function of how it ended and the policy.

:func:`decide` takes the end of an attempt, the pending stop order, the service's restart
policy and its restart tracker, and returns one of three decisions: run again at once
(:class:`Rerun`, a bounce), wait and run again (:class:`Restart`, with a backoff delay),
or end the activation (:class:`Finish`, in a final state). It touches no event loop, so
the whole table is tested directly (tests/test_runtime_exits.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from supervisor.config.models import RestartSpec
from supervisor.runtime.backoff import RestartTracker, wants_restart
from supervisor.runtime.phase import StopOrder
from supervisor.runtime.state import ServiceState, States

S = States


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    """How an attempt ended.

    ``stopped``: a stop order cancelled it; ``failed``: it raised, exited non-zero,
    timed out or returned before it was ready; ``uptime``: seconds it was ready.
    """

    stopped: bool
    failed: bool
    uptime: float = 0.0


@dataclass(frozen=True, slots=True)
class Rerun:
    """Run again now: a bounce ended the attempt (counts as a restart, no backoff)."""


@dataclass(frozen=True, slots=True)
class Restart:
    """Run again after ``delay`` seconds (``reason`` is shown while waiting)."""

    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class Finish:
    """End the activation in ``state``; ``escalate``: a failure ``on_failure`` acts on."""

    state: ServiceState
    reason: str
    escalate: bool = False


Decision = Rerun | Restart | Finish


def decide(
    end: AttemptEnd,
    order: StopOrder | None,
    policy: RestartSpec,
    tracker: RestartTracker,
    *,
    oneshot: bool,
) -> Decision:
    """The next step after an attempt ended (records the run in ``tracker``)."""
    if order is not None and order.for_good:
        return Finish(S.FAILED if order.mode == "fail" else S.STOPPED, order.reason)
    if end.stopped:
        return Rerun()
    tracker.ran_for(end.uptime)
    succeeded = not end.failed
    if not wants_restart(policy, succeeded=succeeded, oneshot=oneshot):
        if succeeded:
            return Finish(S.COMPLETED, "exited successfully")
        return Finish(S.FAILED, "restart policy is 'no'", escalate=True)
    delay = tracker.next_delay()
    if delay is None:
        return Finish(S.FAILED, f"gave up: {tracker.describe_limit()}", escalate=True)
    verb = "exited" if succeeded else "failed"
    return Restart(delay, f"{verb}; restarting in {delay:.3g}s")
