"""The dependency graph: order, layers, transitive closure and cycle detection.

Pure algorithms on ``{name: [names it depends on]}``; nothing here knows about configs,
so the config loader can use it to validate, and the runtime to order start and stop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Edges = Mapping[str, Iterable[str]]
"""``{service: the services it depends on}``."""


def dependents_of(edges: Edges) -> dict[str, list[str]]:
    """Invert the graph: ``{service: the services that depend on it}``."""
    inverse: dict[str, list[str]] = {name: [] for name in edges}
    for name, deps in edges.items():
        for dep in deps:
            inverse.setdefault(dep, []).append(name)
    return inverse


def find_cycle(edges: Edges) -> list[str] | None:
    """A dependency cycle as ``[a, b, c, a]`` (a depends on b ...), or ``None``."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(edges, white)
    for root in edges:
        if color[root] != white:
            continue
        # Iterative DFS, so that a 10,000-deep chain does not hit the recursion limit.
        stack: list[tuple[str, list[str]]] = [(root, list(edges.get(root, ())))]
        path = [root]
        color[root] = grey
        while stack:
            node, pending = stack[-1]
            if not pending:
                stack.pop()
                path.pop()
                color[node] = black
                continue
            dep = pending.pop()
            state = color.get(dep, black)  # an unknown name cannot close a cycle
            if state == grey:
                return [*path[path.index(dep) :], dep]
            if state == white:
                color[dep] = grey
                path.append(dep)
                stack.append((dep, list(edges.get(dep, ()))))
    return None


def layers(edges: Edges) -> list[list[str]]:
    """Group services by depth: layer 0 depends on nothing, layer n on layers < n only.

    Each service sits in the lowest layer it can (its longest dependency chain). Raises
    ``ValueError`` on a cycle.
    """
    depth: dict[str, int] = {}
    for name in topological_order(edges):
        depth[name] = 1 + max((depth[d] for d in edges.get(name, ()) if d in depth), default=-1)
    result: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name, level in depth.items():
        result[level].append(name)
    return result


def topological_order(edges: Edges) -> list[str]:
    """Every service after all it depends on (stable: ties keep declaration order)."""
    remaining = {name: sum(1 for d in edges[name] if d in edges) for name in edges}
    dependents = dependents_of(edges)
    ready = [name for name, count in remaining.items() if count == 0]
    order: list[str] = []
    index = 0
    while index < len(ready):
        name = ready[index]
        index += 1
        order.append(name)
        for child in dependents.get(name, ()):
            remaining[child] -= 1
            if remaining[child] == 0:
                ready.append(child)
    if len(order) != len(remaining):
        cycle = find_cycle(edges)
        raise ValueError("dependency cycle: " + " -> ".join(cycle or []))
    return order


def transitive_dependencies(edges: Edges, name: str) -> set[str]:
    """Every service ``name`` depends on, directly or not."""
    return _reach(edges, name)


def transitive_dependents(edges: Edges, name: str) -> set[str]:
    """Every service that depends on ``name``, directly or not."""
    return _reach(dependents_of(edges), name)


def _reach(adjacency: Edges, start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(adjacency.get(start, ()))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(adjacency.get(node, ()))
    return seen
