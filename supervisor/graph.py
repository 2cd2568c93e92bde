"""The dependency graph: order, layers, transitive closure and cycle detection.

Pure algorithms on ``{name: [names it depends on]}``; nothing here knows about configs,
so the config loader can use it to validate, and the runtime to order start and stop.
Every function is linear in services plus edges and iterative (a chain of 100,000
services does not reach the recursion limit). Names a service depends on that are not
keys of the mapping are ignored (the config loader reports them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Edges = Mapping[str, Iterable[str]]
"""``{service: the services it depends on}``."""


class CycleError(ValueError):
    """The graph has a dependency cycle; ``cycle`` is ``[a, b, ..., a]``."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__("dependency cycle: " + " -> ".join(cycle))
        self.cycle = cycle


def _known(edges: Edges) -> dict[str, list[str]]:
    """The edges restricted to known names, each dependency listed once, in order."""
    return {
        name: [dep for dep in dict.fromkeys(deps) if dep in edges] for name, deps in edges.items()
    }


def dependents_of(edges: Edges) -> dict[str, list[str]]:
    """Invert the graph: ``{service: the services that depend on it}``."""
    inverse: dict[str, list[str]] = {name: [] for name in edges}
    for name, deps in edges.items():
        for dep in dict.fromkeys(deps):
            inverse.setdefault(dep, []).append(name)
    return inverse


def find_cycle(edges: Edges) -> list[str] | None:
    """One dependency cycle as ``[a, b, c, a]`` (a depends on b ...), or ``None``."""
    cycles = find_cycles(edges)
    return cycles[0] if cycles else None


def find_cycles(edges: Edges) -> list[list[str]]:
    """One cycle ``[a, b, ..., a]`` per group of services caught in cycles.

    A group is a strongly connected component with more than one service, or a service
    that depends on itself. Each cycle starts at the group's first-declared service, and
    the groups come in declaration order: the report is stable from run to run.
    """
    graph = _known(edges)
    position = {name: index for index, name in enumerate(graph)}
    cycles = [
        _cycle_in(graph, component, min(component, key=position.__getitem__))
        for component in _components(graph)
        if len(component) > 1 or component[0] in graph[component[0]]
    ]
    cycles.sort(key=lambda cycle: position[cycle[0]])
    return cycles


def _cycle_in(graph: Mapping[str, list[str]], component: list[str], start: str) -> list[str]:
    """A simple cycle through ``start`` inside one strongly connected component.

    Breadth-first from ``start`` back to ``start``, so the cycle printed is a shortest one.
    """
    members = set(component)
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for dep in graph[node]:
                if dep not in members:
                    continue
                if dep == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if dep not in parent:
                    parent[dep] = node
                    following.append(dep)
        frontier = following
    raise AssertionError("a strongly connected component always has a cycle")


def strongly_connected_components(edges: Edges) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components, dependencies before dependents."""
    return _components(_known(edges))


def _components(graph: Mapping[str, list[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, next_child = work.pop()
            if next_child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            deps = graph[node]
            descended = False
            for position in range(next_child, len(deps)):
                dep = deps[position]
                if dep not in index:
                    work.append((node, position + 1))
                    work.append((dep, 0))
                    descended = True
                    break
                if dep in on_stack:
                    low[node] = min(low[node], index[dep])
            if descended:
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component[::-1])
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components


def topological_order(edges: Edges) -> list[str]:
    """Every service after all it depends on (stable: ties keep declaration order).

    Raises :class:`CycleError` (a ``ValueError``) on a cycle.
    """
    return _order(_known(edges))


def _order(graph: Mapping[str, list[str]]) -> list[str]:
    remaining = {name: len(deps) for name, deps in graph.items()}
    dependents = dependents_of(graph)
    ready = [name for name, count in remaining.items() if count == 0]
    order: list[str] = []
    index = 0
    while index < len(ready):
        name = ready[index]
        index += 1
        order.append(name)
        for child in dependents[name]:
            remaining[child] -= 1
            if remaining[child] == 0:
                ready.append(child)
    if len(order) != len(remaining):
        cycle = find_cycle(graph)
        assert cycle is not None
        raise CycleError(cycle)
    return order


def start_order(edges: Edges) -> list[str]:
    """The order to start services in: each after everything it depends on."""
    return topological_order(edges)


def stop_order(edges: Edges) -> list[str]:
    """The order to stop services in: each before everything it depends on."""
    return topological_order(edges)[::-1]


def layers(edges: Edges) -> list[list[str]]:
    """Group services by depth: layer 0 depends on nothing, layer n on layers < n only.

    Each service sits in the lowest layer it can (one more than its deepest dependency),
    so the number of layers is the length of the longest dependency chain. Raises
    :class:`CycleError` on a cycle.
    """
    graph = _known(edges)
    depth: dict[str, int] = {}
    for name in _order(graph):
        depth[name] = 1 + max((depth[dep] for dep in graph[name]), default=-1)
    result: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in graph:  # declaration order within a layer
        result[depth[name]].append(name)
    return result


def transitive_dependencies(edges: Edges, name: str) -> set[str]:
    """Every service ``name`` depends on, directly or not (``name`` excluded)."""
    return _reach(_known(edges), name) - {name}


def transitive_dependents(edges: Edges, name: str) -> set[str]:
    """Every service that depends on ``name``, directly or not (``name`` excluded)."""
    return _reach(dependents_of(_known(edges)), name) - {name}


def restart_order(edges: Edges, name: str) -> list[str]:
    """``name`` and everything depending on it, in start order (restarting ``name``
    restarts its dependents, which may hold what it handed them). Stop them in reverse."""
    affected = transitive_dependents(edges, name) | {name}
    return [service for service in topological_order(edges) if service in affected]


def _reach(adjacency: Edges, start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(adjacency.get(start, ()))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(adjacency.get(node, ()))
    return seen
