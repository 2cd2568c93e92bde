"""The runners' dependency links: validating the graph, linking, closures, start order.

A dependency may name a replicated service (``web``): it stands for every replica
(``web.0`` ... ``web.N-1``), so a dependent waits for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from supervisor.config.errors import ConfigError, ErrorRecord, did_you_mean
from supervisor.config.models import Condition
from supervisor.graph import find_cycle, topological_order

if TYPE_CHECKING:
    from supervisor.runtime.runner import Runner
    from supervisor.runtime.spec import ServiceSpec


def replica_groups(specs: Iterable[ServiceSpec]) -> dict[str, list[str]]:
    """``{replicated service: [its instance names by index]}``."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for spec in specs:
        if spec.group is not None:
            groups.setdefault(spec.group, []).append((spec.index or 0, spec.name))
    return {group: [name for _, name in sorted(members)] for group, members in groups.items()}


def expand_edges(
    edges: Mapping[str, Mapping[str, Condition]], groups: Mapping[str, list[str]]
) -> dict[str, dict[str, Condition]]:
    """``edges`` with each dependency on a replicated service made one per replica."""
    if not groups:
        return {name: dict(deps) for name, deps in edges.items()}
    return {
        name: {
            member: condition
            for dep, condition in deps.items()
            for member in groups.get(dep, [dep])
        }
        for name, deps in edges.items()
    }


def check_graph(
    edges: Mapping[str, Mapping[str, Condition]], groups: Mapping[str, list[str]] | None = None
) -> None:
    """Raise ``ConfigError`` for unknown dependencies (with a suggestion) or a cycle."""
    errors: list[ErrorRecord] = []
    edges = expand_edges(edges, groups or {})
    for name, deps in edges.items():
        for dep in deps:
            if dep not in edges:
                message = f"unknown service '{dep}'" + did_you_mean(dep, [*edges, *(groups or ())])
                errors.append(
                    ErrorRecord(0, 0, f"services.{name}.depends_on.{dep}", message, "<config>")
                )
    if not errors:
        cycle = find_cycle({n: list(d) for n, d in edges.items()})
        if cycle:
            message = "dependency cycle: " + " -> ".join(cycle)
            errors.append(ErrorRecord(0, 0, f"services.{cycle[0]}.depends_on", message, "<config>"))
    if errors:
        raise ConfigError(errors)


def link(runners: Mapping[str, Runner]) -> None:
    """Check the graph, then set every runner's ``deps`` and ``dependents``.

    They are tuples: a service without any is given the one empty tuple, not a list of
    its own for the collector to walk.
    """
    groups = replica_groups(r.spec for r in runners.values())
    edges = expand_edges({name: r.spec.depends_on for name, r in runners.items()}, groups)
    check_graph(edges)
    dependents: dict[Runner, list[Runner]] = {}
    for name, runner in runners.items():
        runner.deps = tuple((runners[d], c) for d, c in edges[name].items())
        for needed, _ in runner.deps:
            dependents.setdefault(needed, []).append(runner)
    for runner in runners.values():
        runner.dependents = tuple(dependents.get(runner, ()))


def unlink(runners: Mapping[str, Runner]) -> None:
    """Drop the links :func:`link` made, so the runners form no reference cycle."""
    for runner in runners.values():
        runner.deps = ()
        runner.dependents = ()


def start_order(runners: Mapping[str, Runner]) -> list[str]:
    """The names with every dependency before its dependents."""
    groups = replica_groups(r.spec for r in runners.values())
    expanded = expand_edges({n: r.spec.depends_on for n, r in runners.items()}, groups)
    edges = {n: [d for d in deps if d in runners] for n, deps in expanded.items()}
    try:
        return topological_order(edges)
    except ValueError:
        return list(runners)


def dependents_closure(runner: Runner) -> list[Runner]:
    """Every service that depends on ``runner``, directly or not."""
    seen: dict[Runner, None] = {}
    stack = list(runner.dependents)
    while stack:
        r = stack.pop()
        if r not in seen:
            seen[r] = None
            stack.extend(r.dependents)
    return list(seen)


def restart_closure(runner: Runner) -> list[Runner]:
    """The dependents restarted with ``runner``: every service that depends on it, directly
    or not, through edges that do not say ``restart: false``."""
    seen: dict[Runner, None] = {}
    stack = [runner]
    while stack:
        r = stack.pop()
        source = r.spec.group or r.name
        for dependent in r.dependents:
            if dependent not in seen and source not in dependent.spec.survives_restart_of:
                seen[dependent] = None
                stack.append(dependent)
    return list(seen)


def dependencies_first(runner: Runner) -> list[Runner]:
    """``runner`` and its dependencies (transitively), each after what it depends on."""
    ordered: dict[Runner, None] = {}
    stack: list[tuple[Runner, bool]] = [(runner, False)]
    while stack:
        r, expanded = stack.pop()
        if expanded:
            ordered.setdefault(r, None)
        elif r not in ordered:
            stack.append((r, True))
            stack.extend((dep, False) for dep, _ in r.deps if dep not in ordered)
    return list(ordered)
