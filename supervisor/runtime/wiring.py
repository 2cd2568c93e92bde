"""The runners' dependency links: validating the graph, linking, closures, start order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from supervisor.config.errors import ConfigError, ErrorRecord, did_you_mean
from supervisor.config.models import Condition
from supervisor.graph import find_cycle, topological_order

if TYPE_CHECKING:
    from supervisor.runtime.runner import Runner


def check_graph(edges: Mapping[str, Mapping[str, Condition]]) -> None:
    """Raise ``ConfigError`` for unknown dependencies (with a suggestion) or a cycle."""
    errors: list[ErrorRecord] = []
    for name, deps in edges.items():
        for dep in deps:
            if dep not in edges:
                message = f"unknown service '{dep}'" + did_you_mean(dep, edges)
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
    """Check the graph, then set every runner's ``deps`` and ``dependents``."""
    check_graph({name: r.spec.depends_on for name, r in runners.items()})
    for runner in runners.values():
        runner.dependents = []
    for runner in runners.values():
        runner.deps = [(runners[d], c) for d, c in runner.spec.depends_on.items()]
        for needed, _ in runner.deps:
            needed.dependents.append(runner)


def unlink(runners: Mapping[str, Runner]) -> None:
    """Drop the links :func:`link` made, so the runners form no reference cycle."""
    for runner in runners.values():
        runner.deps = []
        runner.dependents = []


def start_order(runners: Mapping[str, Runner]) -> list[str]:
    """The names with every dependency before its dependents."""
    edges = {n: [d for d in r.spec.depends_on if d in runners] for n, r in runners.items()}
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
