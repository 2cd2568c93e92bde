"""What a reload changes: the difference between the running services and a new file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from supervisor.config.errors import ConfigError, ErrorRecord
from supervisor.runtime.spec import ServiceSpec
from supervisor.runtime.wiring import check_graph, dependents_closure

if TYPE_CHECKING:
    from supervisor.runtime.runner import Runner


@dataclass(frozen=True)
class ReloadPlan:
    """What a reload changes: services added, removed, changed, and restarted as dependents."""

    added: list[str]
    removed: list[str]
    changed: list[str]
    restarted: list[str]

    def to_dict(self) -> dict[str, list[str]]:
        """A JSON-serializable dict."""
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "restarted": self.restarted,
        }


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
    check_graph(
        {
            **{n: r.spec.depends_on for n, r in runners.items() if n not in old},
            **{n: s.depends_on for n, s in new_specs.items()},
        }
    )
    restarted: dict[str, None] = {}
    for name in changed:
        for r in dependents_closure(runners[name]):
            kept = r.name in new_specs or r.spec.origin == "code"
            if kept and r.name not in changed and r.active:
                restarted[r.name] = None
    return ReloadPlan(added, removed, changed, list(restarted))
