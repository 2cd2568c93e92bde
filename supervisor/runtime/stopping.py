"""Stopping services: one small task per service, in reverse dependency order.

:func:`stop_runners` gives every target its order first (so each shows ``stopping`` and
nothing new starts), then runs :func:`stop_one` for each: wait until every dependent has
stopped, release the order (which cancels the service with its reason), and wait for it
to end, at most its stop grace. A service that overruns it is *abandoned*: reported, and
treated as stopped so that the rest of the stop goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from supervisor.concurrency import create_task_group, current_time, move_on_at, sleep
from supervisor.runtime.phase import Attempt, StopMode

if TYPE_CHECKING:
    from supervisor.runtime.runner import Runner


PROMPT_ROUNDS = 3
"""Scheduling rounds a released service may take to end before it counts as slow."""


async def stop_runners(runners: Iterable[Runner], mode: StopMode, reason: str) -> None:
    """Stop ``runners`` (which include their running dependents) and wait until done."""
    targets = [(runner, runner.attempt) for runner in runners if runner.give_order(mode, reason)]
    if not targets:
        return
    # Cascade while services stop promptly: release whatever has no dependent left
    # running, let it end (an in-process service ends at its next checkpoint), then look
    # at the dependencies of what ended, and so on. Once something is slow, the rest gets
    # one small task per service (stop_one), which waits for its own dependents only; one
    # task waits for everything released so far, each within its own grace. Stopping N
    # independent services, or a chain, then costs no task per service.
    pending = dict(targets)
    released: list[tuple[Runner, Attempt | None]] = []
    candidates = list(pending)
    while candidates:
        wave = [(r, pending.pop(r)) for r in candidates if r in pending and _dependents_clear(r)]
        if not wave:
            break
        for runner, _ in wave:
            runner.release_stop()
        released += wave
        if not await _ended_promptly(wave, mode):
            break
        candidates = [dep for runner, _ in wave for dep, _ in runner.deps if dep in pending]
    if not pending:
        await _await_released(released, mode)
        return
    async with create_task_group() as tg:
        for runner, attempt in pending.items():
            tg.start_soon(stop_one, runner, attempt, mode)
        await _await_released(released, mode)


async def _await_released(released: list[tuple[Runner, Attempt | None]], mode: StopMode) -> None:
    """Wait for services released together, each at most its own grace (earliest first)."""
    began = current_time()
    late = [(r, a) for r, a in released if not r.stop_done(mode, a)]
    late.sort(key=lambda target: target[0].spec.stop_grace)
    for runner, attempt in late:
        await _within_grace(runner, attempt, mode, began + runner.spec.stop_grace)


async def _ended_promptly(wave: list[tuple[Runner, Attempt | None]], mode: StopMode) -> bool:
    """Whether everything in ``wave`` ended within a few scheduling rounds (trio runs a
    round's tasks in random order, so one checkpoint may come before theirs)."""
    for _ in range(PROMPT_ROUNDS):
        await sleep(0)
        if all(runner.stop_done(mode, attempt) for runner, attempt in wave):
            return True
    return False


def _dependents_clear(runner: Runner) -> bool:
    return all(not d.occupies or d.order is None for d in runner.dependents)


def _stopped_or_unordered(runner: Runner) -> Callable[[], bool]:
    return lambda: not runner.occupies or runner.order is None


async def stop_one(runner: Runner, attempt: Attempt | None, mode: StopMode) -> None:
    """Wait for the dependents to stop, cancel ``runner``, give it its grace, or abandon it."""
    for dependent in runner.dependents:
        # a dependent without an order of its own is not part of this stop: don't wait
        await dependent.until(_stopped_or_unordered(dependent))
    runner.release_stop()
    await _within_grace(runner, attempt, mode, current_time() + runner.spec.stop_grace)


async def _within_grace(
    runner: Runner, attempt: Attempt | None, mode: StopMode, deadline: float
) -> None:
    """Wait for a released service to stop until ``deadline``; abandon it past that."""
    if runner.stop_done(mode, attempt):
        return
    with move_on_at(deadline):
        await runner.until(lambda: runner.stop_done(mode, attempt))
    if not runner.stop_done(mode, attempt):
        await sleep(0)  # a cleanup cut at this same deadline gets to end first
        if not runner.stop_done(mode, attempt):
            runner.abandon()
