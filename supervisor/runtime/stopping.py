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

from supervisor.concurrency import create_task_group, move_on_after, sleep
from supervisor.runtime.phase import Attempt, StopMode

if TYPE_CHECKING:
    from supervisor.runtime.runner import Runner


async def stop_runners(runners: Iterable[Runner], mode: StopMode, reason: str) -> None:
    """Stop ``runners`` (which include their running dependents) and wait until done."""
    targets = [(runner, runner.attempt) for runner in runners if runner.give_order(mode, reason)]
    if len(targets) == 1:
        await stop_one(*targets[0], mode)
    elif targets:
        async with create_task_group() as tg:
            for runner, attempt in targets:
                tg.start_soon(stop_one, runner, attempt, mode)


def _stopped_or_unordered(runner: Runner) -> Callable[[], bool]:
    return lambda: not runner.occupies or runner.order is None


async def stop_one(runner: Runner, attempt: Attempt | None, mode: StopMode) -> None:
    """Wait for the dependents to stop, cancel ``runner``, give it its grace, or abandon it."""
    for dependent in runner.dependents:
        # a dependent without an order of its own is not part of this stop: don't wait
        await dependent.until(_stopped_or_unordered(dependent))
    runner.release_stop()
    if runner.stop_done(mode, attempt):
        return
    with move_on_after(runner.spec.stop_grace):
        await runner.until(lambda: runner.stop_done(mode, attempt))
    if not runner.stop_done(mode, attempt):
        await sleep(0)  # a cleanup cut at this same deadline gets to end first
        if not runner.stop_done(mode, attempt):
            runner.abandon()
