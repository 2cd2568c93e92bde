"""What a reload changes: the difference between the running services and a new file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from supervisor.config.errors import ConfigError, ErrorRecord
from supervisor.runtime.spec import ServiceSpec
from supervisor.runtime.wiring import check_graph, replica_groups, restart_closure

if TYPE_CHECKING:
    from supervisor.runtime.runner import Runner


@dataclass(frozen=True)
class ReloadPlan:
    """What a reload changes: services added, removed, changed, and restarted as dependents.

    ``rolling`` names the replicated services whose changed replicas are replaced one at
    a time (:mod:`supervisor.runtime.replicas`); their dependents are not restarted.
    """

    added: list[str]
    removed: list[str]
    changed: list[str]
    restarted: list[str]
    rolling: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        """A JSON-serializable dict (``rolling`` only when there is one)."""
        data = {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "restarted": self.restarted,
        }
        if self.rolling:
            data["rolling"] = self.rolling
        return data

    def rolled(self, runners: Mapping[str, Runner]) -> list[str]:
        """The changed replicas that are replaced one at a time, in index order."""
        return [n for n in self.changed if runners[n].spec.group in self.rolling]


def plan_reload(runners: Mapping[str, Runner], new_specs: Mapping[str, ServiceSpec]) -> ReloadPlan:
    """The plan for replacing the config-file services of ``runners`` by ``new_specs``.

    Services added in code are kept; a file service may not take a code service's name.
    The resulting graph is checked (``ConfigError``), so an invalid file changes nothing.
    Unchanged services that depend on a changed one are restarted after it (they may hold
    what it handed them).
    """
    clashes = [n for n in new_specs if n in runners and runners[n].spec.origin == "code"]
    if clashes:
        raise ConfigError(
            ErrorRecord(
                0, 0, f"services.{n}", "a service of this name is defined in code", "<config>"
            )
            for n in clashes
        )
    old = {n for n, r in runners.items() if r.spec.origin == "config"}
    added = [n for n in new_specs if n not in old]
    removed = [n for n in runners if n in old and n not in new_specs]
    changed = [n for n in new_specs if n in old and runners[n].spec.config != new_specs[n].config]
    kept_code = [r.spec for n, r in runners.items() if n not in old]
    check_graph(
        {
            **{spec.name: spec.depends_on for spec in kept_code},
            **{n: s.depends_on for n, s in new_specs.items()},
        },
        replica_groups([*kept_code, *new_specs.values()]),
    )
    # a replicated service that stays replicated is replaced one replica at a time
    rolling = list(
        dict.fromkeys(
            group
            for n in changed
            if (group := new_specs[n].group) is not None and runners[n].spec.group == group
        )
    )
    restarted: dict[str, None] = {}
    for name in changed:
        if runners[name].spec.group in rolling:
            continue
        for r in restart_closure(runners[name]):
            kept = r.name in new_specs or r.spec.origin == "code"
            if kept and r.name not in changed and r.active:
                restarted[r.name] = None
    return ReloadPlan(added, removed, changed, list(restarted), rolling)
