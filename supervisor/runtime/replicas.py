"""Replicated services: instances, scaling, and rolling replacement.

``replicas: N`` makes N instances of a config entry, ``NAME.0`` ... ``NAME.N-1``, each a
full service with its own runner (:func:`specs_of`); a control operation on ``NAME``
acts on all of them (:func:`targets`). A dependent of ``NAME`` depends on
every instance (:mod:`supervisor.runtime.wiring`). At run time the group can be scaled
(:func:`scale`: new instances started and waited for; the highest indices stopped first)
and restarted one instance at a time (:func:`rolling_restart`, and a reload that changes
the definition, :func:`replace_one_at_a_time`): the next instance is touched only once
the previous one is ready again, so at least N-1 stay ready throughout.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Mapping
from typing import TYPE_CHECKING

from supervisor.config.errors import did_you_mean
from supervisor.config.models import MAX_REPLICAS, ConfigFile, ServiceConfig
from supervisor.runtime.errors import ServiceFailedError, SupervisorError, UnknownServiceError
from supervisor.runtime.phase import Phase
from supervisor.runtime.spec import ServiceSpec
from supervisor.runtime.state import ServiceStatus, States
from supervisor.runtime.stopping import stop_runners
from supervisor.runtime.wiring import link

if TYPE_CHECKING:
    from supervisor.runtime.runner import Runner
    from supervisor.runtime.supervisor import Supervisor

S = States

_FURTHEST_FROM_READY = (
    S.FAILED,
    S.BACKOFF,
    S.STOPPING,
    S.PENDING,
    S.STARTING,
    S.STOPPED,
    S.COMPLETED,
    S.READY,
)
"""The state a group shows when its replicas differ: that of the one furthest behind."""


def specs_of(name: str, config: ServiceConfig, count: int | None = None) -> list[ServiceSpec]:
    """The specs of a config entry: one, or one per replica (``count`` of them instead of
    ``replicas:``, for a group scaled at run time)."""
    if config.replicas is None:
        return [ServiceSpec.from_config(name, config)]
    count = config.replicas if count is None else count
    return [ServiceSpec.of_replica(name, config, index) for index in range(count)]


def scaled_counts(runners: Mapping[str, Runner], config: ConfigFile) -> dict[str, int]:
    """The groups that ``scale`` resized while their ``replicas:`` in the file stayed the
    same: ``{group: its current count}``, which a reload keeps.

    As ``kubectl apply`` leaves a scaled Deployment alone while the manifest's replicas do
    not change: the file's count applies again when it is edited.
    """
    counts: dict[str, int] = {}
    declared: dict[str, int | None] = {}
    for runner in runners.values():
        group, template = runner.spec.group, runner.spec.template
        if group is not None and template is not None:
            counts[group] = counts.get(group, 0) + 1
            declared[group] = template.replicas
    kept = {}
    for group, count in counts.items():
        entry = config.services.get(group)
        if entry is not None and entry.replicas == declared[group] != count:
            kept[group] = count
    return kept


def targets(runners: Mapping[str, Runner], name: str) -> list[Runner]:
    """The runners ``name`` stands for: one service, or every replica of one (by index);
    :class:`UnknownServiceError`, with the nearest name, if it is neither."""
    runner = runners.get(name)
    if runner is not None:
        return [runner]
    members = [r for r in runners.values() if r.spec.group == name]
    if not members:
        groups = {r.spec.group for r in runners.values() if r.spec.group}
        raise UnknownServiceError(
            f"no service named {name!r}" + did_you_mean(name, [*runners, *groups])
        )
    return sorted(members, key=lambda r: r.spec.index or 0)


def status_of(name: str, runners: Mapping[str, Runner], members: list[Runner]) -> ServiceStatus:
    """The status of what ``name`` stands for (``members``, from :func:`targets`): its one
    service's, or its group's (:func:`group_status`)."""
    if name in runners:
        return members[0].snapshot()
    return group_status(name, members)


def group_status(name: str, members: list[Runner]) -> ServiceStatus:
    """One status for a replicated service: its replicas' common state (or the state of
    the one furthest from ready), the reason ``2/3 ready``, the restarts summed."""
    snapshots = [runner.snapshot() for runner in members]
    states = {s.state for s in snapshots}
    state = next(s for s in _FURTHEST_FROM_READY if s in states)
    ready = sum(1 for s in snapshots if s.state is S.READY)
    first = snapshots[0]
    return ServiceStatus(
        name=name,
        kind=first.kind,
        state=state,
        since=max(s.since for s in snapshots),
        restarts=sum(s.restarts for s in snapshots),
        reason=f"{ready}/{len(snapshots)} ready",
        depends_on=first.depends_on,
    )


FDS_PER_PROCESS = 4
"""File descriptors the supervisor holds per running process (pidfd, two pipes, a log
file), for the check that a scale up fits in ``ulimit -n``."""


def _check_descriptors(group: str, count: int, needed: int) -> None:
    """Refuse a scale up that the open-files limit cannot hold (the starts would fail
    half-way, and the failures escalate), before anything is started."""
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:  # no /proc: nothing to check against
        return
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit != resource.RLIM_INFINITY and in_use + needed + 64 > limit:
        raise SupervisorError(
            f"cannot scale {group!r} to {count}: about {needed} more open files are needed "
            f"and {max(0, limit - in_use)} are left (ulimit -n {limit})"
        )


async def scale(sup: Supervisor, members: list[Runner], count: int) -> list[Runner]:
    """Make the group of ``members`` (in index order) ``count`` replicas; return the new
    replicas to wait for (those started), under the control lock."""
    if not 1 <= count <= MAX_REPLICAS:
        raise SupervisorError(f"expected a number of replicas from 1 to {MAX_REPLICAS}")
    current = len(members)
    template = members[0].spec.template
    group = members[0].spec.group
    assert template is not None and group is not None
    if count > current:
        if template.is_process:
            _check_descriptors(group, count, (count - current) * FDS_PER_PROCESS)
        # a group stopped (or disabled) as a whole gets stopped (or disabled) replicas
        wanted = any(runner.active for runner in members)
        added = []
        for index in range(current, count):
            runner = sup._new_runner(ServiceSpec.of_replica(group, template, index))
            sup._runners[runner.name] = runner
            added.append(runner)
        link(sup._runners)
        if not wanted:
            for runner in added:
                if runner.spec.enabled:
                    runner.mark_stopped("not started: the other replicas are not running")
            return []
        for runner in added:
            sup._activate(runner)
        return added
    removed = members[count:]
    for runner in reversed(removed):  # the highest index first
        await stop_runners([runner], "stop", f"scaled down to {count}")
        sup._require_running()
    for runner in removed:
        del sup._runners[runner.name]
        runner.output_feed.close()
    link(sup._runners)
    for runner in removed:
        runner.wake()  # a dependent waiting on it looks at its new links
    return []


async def rolling_restart(sup: Supervisor, members: list[Runner]) -> None:
    """Restart replicas one at a time, each once the previous one is ready again.

    A replica that is not running is started. Raises ``ServiceFailedError`` (and touches
    no further replica) when one fails to come back.
    """
    from supervisor.runtime.operations import bring_up, settle

    for runner in members:
        since = {runner: runner.attempts}
        order = runner.order
        if runner.phase is Phase.IDLE or (order is not None and order.for_good):
            await bring_up(sup, runner)
        else:
            await stop_runners([runner], "bounce", "rolling restart")
        await settle(sup, [runner], since)
        sup._require_running()


async def replace_one_at_a_time(
    sup: Supervisor, names: list[str], new_specs: Mapping[str, ServiceSpec]
) -> None:
    """Replace the runners ``names`` by ones for their new specs, one replica at a time.

    A replica that was running is stopped, replaced and started, and the next one is
    touched only once it is ready. If one fails to come back, the rest keep their old
    definition (and keep serving); a later reload tries again.
    """
    from supervisor.runtime.operations import settle, want_running

    for name in names:
        old = sup._runners[name]
        was_active = old.active
        if was_active:
            await stop_runners([old], "stop", "reloading (one replica at a time)")
            sup._require_running()
        new = old.successor(new_specs[name])
        sup._runners[name] = new
        link(sup._runners)
        old.wake()  # a dependent waiting on it looks at its new links
        if not new_specs[name].enabled:
            new.mark_stopped("disabled")
        enabled_now = new.spec.enabled and not old.spec.enabled
        if (was_active or enabled_now) and new.spec.enabled:
            since = {new: new.attempts}
            want_running(sup, new)
            failed = False
            try:
                await settle(sup, [new], since)
            except ServiceFailedError:
                failed = True
            sup._require_running()
            if failed or new.state not in (S.READY, S.COMPLETED):
                sup.log.error(
                    "replica did not become ready; the other replicas keep their definition",
                    service=name,
                    state=str(new.state),
                )
                return
