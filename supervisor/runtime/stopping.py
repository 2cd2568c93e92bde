"""Stopping services: one small task per service, in reverse dependency order.

:func:`stop_runners` gives every target its order first (so each shows ``stopping`` and
nothing new starts), then runs :func:`stop_one` for each: wait until every dependent has
stopped, release the order (which cancels the service with its reason), and wait for it
to end, at most its stop grace. A service that overruns it is *abandoned*: reported, and
treated as stopped so that the rest of the stop goes on. :func:`stop_all` is the
supervisor's shutdown, bounded by its ``shutdown_timeout``.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from supervisor.concurrency import (
    create_task_group,
    current_time,
    move_on_after,
    move_on_at,
    sleep,
)
from supervisor.runtime.phase import Attempt, StopMode

if TYPE_CHECKING:
    from supervisor.runtime.runner import Runner


PROMPT_ROUNDS = 3
"""Scheduling rounds a released service may take to end before it counts as slow."""


async def stop_runners(runners: Iterable[Runner], mode: StopMode, reason: str) -> None:
    """Stop ``runners`` (which include their running dependents) and wait until done."""
    # what each target was running when ordered: a bounce is done once that attempt ends
    attempts = {runner: runner.attempt for runner in runners if runner.give_order(mode, reason)}
    if not attempts:
        return
    # Cascade while services stop promptly: release whatever has no dependent left
    # running, let it end (an in-process service ends at its next checkpoint), then look
    # at the dependencies of what ended, and so on. Once something is slow, the rest gets
    # one small task per service (stop_one), which waits for its own dependents only; one
    # task waits for everything released so far, each within its own grace. Stopping N
    # independent services, or a chain, then costs no task per service (and no object
    # per service beyond the entry in ``attempts``: what survives a collection of the
    # youngest generation brings the next full collection closer).
    pending = dict.fromkeys(attempts)
    released: list[Runner] = []
    candidates = list(attempts)
    while candidates:
        wave = [r for r in candidates if r in pending and _dependents_clear(r)]
        if not wave:
            break
        for runner in wave:
            del pending[runner]
            runner.release_stop()
        released += wave
        if not await _ended_promptly(wave, attempts, mode):
            break
        candidates = list(
            dict.fromkeys(dep for runner in wave for dep, _ in runner.deps if dep in pending)
        )
    if not pending:
        await _await_released(released, attempts, mode)
        return
    async with create_task_group() as tg:
        for runner in pending:
            tg.start_soon(stop_one, runner, attempts[runner], mode)
        await _await_released(released, attempts, mode)


async def _await_released(
    released: list[Runner], attempts: Mapping[Runner, Attempt | None], mode: StopMode
) -> None:
    """Wait for services released together, each at most its own grace (earliest first)."""
    began = current_time()
    late = [r for r in released if not r.stop_done(mode, attempts[r])]
    late.sort(key=lambda runner: runner.spec.stop_grace)
    for runner in late:
        await _within_grace(runner, attempts[runner], mode, began + runner.spec.stop_grace)


async def _ended_promptly(
    wave: list[Runner], attempts: Mapping[Runner, Attempt | None], mode: StopMode
) -> bool:
    """Whether everything in ``wave`` ended within a few scheduling rounds (trio runs a
    round's tasks in random order, so one checkpoint may come before theirs)."""
    for _ in range(PROMPT_ROUNDS):
        await sleep(0)
        if all(runner.stop_done(mode, attempts[runner]) for runner in wave):
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


async def stop_all(runners: Collection[Runner], shutdown_timeout: float, log: Any) -> None:
    """The supervisor's shutdown: stop every active one of ``runners`` within
    ``shutdown_timeout``; past it, kill the process groups of those left and abandon them."""
    active = [r for r in runners if r.active]
    with move_on_after(shutdown_timeout) as deadline:
        await stop_runners(active, "stop", "supervisor stopping")
    if deadline.cancelled_caught:
        late = [r for r in runners if r.active]
        log.error(
            "shutdown timed out; killing the processes and abandoning what is left",
            timeout=shutdown_timeout,
            services=[r.name for r in late],
        )
        kill_process_groups(late)


def kill_process_groups(runners: list[Runner]) -> None:
    """SIGKILL the process group of every process service among ``runners``."""
    for runner in runners:
        pid = runner.pid
        if pid is not None and runner.spec.is_process:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
