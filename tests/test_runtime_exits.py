"""The runtime's pure parts as tables, without an event loop: what follows an attempt
(``decide``) and which public state a runner's records mean (``derive_state``)."""

from __future__ import annotations

import random

import pytest

from supervisor.config.models import RestartSpec
from supervisor.runtime.backoff import RestartTracker
from supervisor.runtime.clock import VirtualClock
from supervisor.runtime.exits import AttemptEnd, Finish, Rerun, Restart, decide
from supervisor.runtime.phase import Attempt, Phase, StopOrder, derive_state, meets
from supervisor.runtime.state import ServiceState

S = ServiceState
P = Phase


def tracker(policy: RestartSpec) -> RestartTracker:
    return RestartTracker(policy, VirtualClock(), random.Random(0))


def spec(policy: str, max_restarts: int = 3) -> RestartSpec:
    return RestartSpec.model_validate(
        {"policy": policy, "max_restarts": max_restarts, "backoff": {"jitter": 0}}
    )


CRASH = AttemptEnd(stopped=False, failed=True)
CLEAN = AttemptEnd(stopped=False, failed=False)
STOPPED = AttemptEnd(stopped=True, failed=False)
STOP = StopOrder("stop", "stopped on request", released=True)
FAIL = StopOrder("fail", "dependency 'db' failed", released=True)
BOUNCE = StopOrder("bounce", "restart requested", released=True)


@pytest.mark.parametrize(
    ("end", "order", "policy", "oneshot", "expected"),
    [
        # a stop order for good wins over everything, however the attempt ended
        (STOPPED, STOP, "always", False, Finish(S.STOPPED, "stopped on request")),
        (CRASH, STOP, "always", False, Finish(S.STOPPED, "stopped on request")),
        (STOPPED, FAIL, "always", False, Finish(S.FAILED, "dependency 'db' failed")),
        # a bounce that ended the attempt runs it again at once, whatever the policy
        (STOPPED, BOUNCE, "no", False, Rerun()),
        (STOPPED, None, "no", False, Rerun()),
        # an attempt that ended by itself before a bounce reached it: the policy decides
        (CRASH, BOUNCE, "no", False, Finish(S.FAILED, "restart policy is 'no'", True)),
        (CLEAN, None, "no", True, Finish(S.COMPLETED, "exited successfully")),
        (CLEAN, None, "on-failure", False, Finish(S.COMPLETED, "exited successfully")),
        (CLEAN, None, "always", True, Finish(S.COMPLETED, "exited successfully")),
        (CRASH, None, "no", False, Finish(S.FAILED, "restart policy is 'no'", True)),
        (CLEAN, None, "always", False, Restart(0.1, "exited; restarting in 0.1s")),
        (CRASH, None, "on-failure", False, Restart(0.1, "failed; restarting in 0.1s")),
        (CRASH, None, "always", True, Restart(0.1, "failed; restarting in 0.1s")),
    ],
)
def test_decide_table(
    end: AttemptEnd, order: StopOrder | None, policy: str, oneshot: bool, expected: object
) -> None:
    restart = spec(policy)
    assert decide(end, order, restart, tracker(restart), oneshot=oneshot) == expected


def test_decide_gives_up_past_the_intensity_limit() -> None:
    restart = spec("always", max_restarts=2)
    t = tracker(restart)
    decisions = [decide(CRASH, None, restart, t, oneshot=False) for _ in range(3)]
    assert [type(d) for d in decisions] == [Restart, Restart, Finish]
    assert decisions[-1] == Finish(S.FAILED, "gave up: restarted 2 times within 60s", True)


READY_ATTEMPT = Attempt(1, started=True, ready=True)
NEW_ATTEMPT = Attempt(1)
ABANDONED = Attempt(1, started=True, ready=True, cancelled="stop", abandoned=True)
UNRELEASED_STOP = StopOrder("stop", "x")


@pytest.mark.parametrize(
    ("phase", "attempt", "order", "ended", "expected"),
    [
        (P.IDLE, None, None, S.PENDING, S.PENDING),
        (P.IDLE, READY_ATTEMPT, None, S.COMPLETED, S.COMPLETED),
        (P.WAITING, None, None, S.PENDING, S.PENDING),
        (P.WAITING, None, UNRELEASED_STOP, S.PENDING, S.STOPPING),
        (P.RUNNING, NEW_ATTEMPT, None, S.PENDING, S.STARTING),
        (P.RUNNING, READY_ATTEMPT, None, S.PENDING, S.READY),
        (P.RUNNING, READY_ATTEMPT, BOUNCE, S.PENDING, S.STOPPING),
        (P.DRAINING, READY_ATTEMPT, STOP, S.PENDING, S.STOPPING),
        (P.DRAINING, ABANDONED, STOP, S.PENDING, S.STOPPED),
        (P.DRAINING, ABANDONED, FAIL, S.PENDING, S.FAILED),
        (P.DRAINING, ABANDONED, None, S.STOPPED, S.PENDING),
        (P.BACKOFF, READY_ATTEMPT, None, S.PENDING, S.BACKOFF),
        (P.BACKOFF, READY_ATTEMPT, BOUNCE, S.PENDING, S.BACKOFF),
        (P.BACKOFF, READY_ATTEMPT, STOP, S.PENDING, S.STOPPING),
    ],
)
def test_derive_state_table(
    phase: Phase,
    attempt: Attempt | None,
    order: StopOrder | None,
    ended: ServiceState,
    expected: ServiceState,
) -> None:
    assert derive_state(phase, attempt, order, ended) is expected


@pytest.mark.parametrize(
    ("state", "attempt", "condition", "expected"),
    [
        (S.READY, READY_ATTEMPT, "ready", True),
        (S.COMPLETED, READY_ATTEMPT, "ready", True),
        (S.STARTING, Attempt(1, started=True), "ready", False),
        (S.STARTING, Attempt(1, started=True), "started", True),
        (S.STARTING, NEW_ATTEMPT, "started", False),
        (S.READY, READY_ATTEMPT, "completed", False),
        (S.COMPLETED, READY_ATTEMPT, "completed", True),
        (S.STOPPING, READY_ATTEMPT, "started", False),
        (S.BACKOFF, READY_ATTEMPT, "started", False),
    ],
)
def test_meets_table(state: ServiceState, attempt: Attempt, condition: str, expected: bool) -> None:
    assert meets(state, attempt, condition) is expected
