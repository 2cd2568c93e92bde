"""The control operations of a running supervisor: start, stop, restart, reload.

Each takes the :class:`~supervisor.runtime.supervisor.Supervisor` and the runners it
acts on (one service, or every replica of a replicated one). They run under the
supervisor's control lock (``sup._control()``), one at a time, and re-check after every
wait that shutdown has not begun. Replica scaling and rolling restarts are in
:mod:`supervisor.runtime.replicas`.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from supervisor.concurrency import move_on_after
from supervisor.config.models import ConfigFile
from supervisor.runtime.errors import ServiceFailedError, SupervisorError
from supervisor.runtime.phase import Phase
from supervisor.runtime.reload import ReloadPlan, plan_reload
from supervisor.runtime.replicas import replace_one_at_a_time, scaled_counts, specs_of
from supervisor.runtime.state import States
from supervisor.runtime.stopping import stop_runners
from supervisor.runtime.wiring import dependencies_first, dependents_closure, link, restart_closure

if TYPE_CHECKING:
    from supervisor.runtime.runner import Runner
    from supervisor.runtime.supervisor import Supervisor

S = States


def _unique(runners: list[Runner]) -> list[Runner]:
    return list(dict.fromkeys(runners))


async def start(sup: Supervisor, runners: list[Runner]) -> None:
    """Start ``runners`` and what they depend on; return once they are ready."""
    async with sup._control():
        since = {runner: runner.attempts for runner in runners}
        for runner in runners:
            await bring_up(sup, runner)
    await settle(sup, runners, since)


async def stop(sup: Supervisor, runners: list[Runner]) -> None:
    """Stop ``runners`` and, first, every service that depends on them."""
    async with sup._control():
        targets = _unique([r for runner in runners for r in [runner, *dependents_closure(runner)]])
        await stop_runners(targets, "stop", "stopped on request")


async def restart(sup: Supervisor, runners: list[Runner]) -> None:
    """Restart ``runners`` together with the dependents their restart reaches."""
    async with sup._control():
        reached = _unique([r for runner in runners for r in [runner, *restart_closure(runner)]])
        since = {r: r.attempts for r in reached}
        idle = [r for r in runners if r.phase is Phase.IDLE or (r.order and r.order.for_good)]
        for runner in idle:
            await bring_up(sup, runner)
        running = [r for r in runners if r not in idle]
        dependents = [r for x in running for r in restart_closure(x) if r.occupies]
        bounced = _unique([*running, *dependents])
        if bounced:
            await stop_runners(bounced, "bounce", "restart requested")
    await settle(sup, _unique([*idle, *bounced]), since)


async def bring_up(sup: Supervisor, target: Runner) -> None:
    """Activate ``target`` and whatever it depends on that is not running."""
    rearmed: list[Runner] = []
    for runner in dependencies_first(target):
        order = runner.order
        if order is not None and order.for_good and not runner.stop_done(order.mode, None):
            # still being stopped (a failed dependency's isolation): let that finish
            with move_on_after(runner.spec.stop_grace):
                await runner.until(lambda r=runner: r.stop_done("stop", None))  # type: ignore[misc]
            sup._require_running()
        # a dependency that completed (a one-shot) is not run again; the target is
        done_dependency = runner.state is S.COMPLETED and runner is not target
        if not (runner.phase is Phase.IDLE and done_dependency) and want_running(sup, runner):
            rearmed.append(runner)
    for runner in rearmed:
        attempt = runner.attempt
        spec = runner.spec
        with move_on_after(spec.stop_grace if spec.start_timeout is None else spec.start_timeout):
            await runner.until(lambda r=runner, a=attempt: r.attempt is not a or not r.active)  # type: ignore[misc]
        if runner.attempt is attempt and runner.active:
            raise SupervisorError(
                f"service {runner.name!r}: its previous run has not ended (it overran its "
                "stop timeout, then its start timeout); it starts again when it does"
            )


def want_running(sup: Supervisor, runner: Runner) -> bool:
    """Activate ``runner``, or re-arm it if its abandoned run still drains (``True``)."""
    if runner.phase is Phase.IDLE:
        sup._activate(runner)
    elif runner.order is not None and runner.order.for_good:
        runner.rearm()  # abandoned and still draining: runs again when it ends
        return True
    return False


async def settle(sup: Supervisor, runners: list[Runner], since: dict[Runner, int]) -> None:
    """Wait until each of ``runners`` was ready (after attempt ``since[runner]``) or came
    to rest; raise :class:`ServiceFailedError` for one that failed."""
    for runner in runners:
        baseline = since.get(runner, 0)
        await runner.until(
            lambda r=runner, n=baseline: sup.stopping or r.settled_since(n)  # type: ignore[misc]
        )
    for runner in runners:
        if runner.state is S.FAILED:
            raise ServiceFailedError(runner.name, runner.reason or "failed")


async def reload(sup: Supervisor, config: ConfigFile) -> ReloadPlan:
    """Apply a new config (see :meth:`Supervisor.reload`)."""
    kept = scaled_counts(sup._runners, config)
    new_specs = {
        spec.name: spec
        for name, c in config.services.items()
        for spec in specs_of(name, c, kept.get(name))
    }
    runners = sup._runners
    running = sup._tg is not None
    lock = sup._control() if running else contextlib.nullcontext()
    async with lock:
        plan = plan_reload(runners, new_specs)
        sup.log.info("reloading", **plan.to_dict())
        rolled = plan.rolled(runners)
        affected = [
            runners[n] for n in [*plan.removed, *plan.changed, *plan.restarted] if n not in rolled
        ]
        was_active = {r.name for r in affected if r.active}
        was_disabled = {n for n in plan.changed if not runners[n].spec.enabled}
        if running:  # fewer replicas: the highest indices stop first, as on a scale down
            groups = {spec.group for spec in new_specs.values() if spec.group is not None}
            removed = [runners[n] for n in plan.removed if runners[n].spec.group in groups]
            for runner in sorted(removed, key=lambda r: r.spec.index or 0, reverse=True):
                await stop_runners([runner], "stop", "reloading: fewer replicas")
                sup._require_running()
        if running and affected:
            await stop_runners(affected, "stop", "reloading")
            sup._require_running()
        replaced = [runners.pop(name) for name in plan.removed]
        for runner in replaced:
            runner.output_feed.close()
        for name in plan.changed:
            if name not in rolled:
                replaced.append(runners[name])
                runners[name] = runners[name].successor(new_specs[name])
                if not new_specs[name].enabled:
                    runners[name].mark_stopped("disabled")
        for name in plan.added:
            runners[name] = sup._new_runner(new_specs[name])
        for name, spec in new_specs.items():  # later replicas are made from the new definition
            runners[name].spec.template = spec.template
        sup.settings = config.supervisor.model_copy(update=sup._overrides)
        link(runners)
        for runner in replaced:
            runner.wake()  # a dependent waiting on it looks at its new links
        # a service stopped on purpose stays stopped, with its new definition; one that
        # was disabled starts once enabled
        wanted = {
            *plan.added,
            *(n for n in [*plan.changed, *plan.restarted] if n in was_active or n in was_disabled),
        }
        starting = [runners[n] for n in sup._order() if n in wanted and runners[n].spec.enabled]
        since = {runner: runner.attempts for runner in starting}
        if running:
            for runner in starting:
                want_running(sup, runner)
            if rolled:
                await replace_one_at_a_time(sup, rolled, new_specs)
    if running:
        with contextlib.suppress(ServiceFailedError):
            await settle(sup, starting, since)
    return plan
