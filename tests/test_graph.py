"""The dependency graph: order, layers, closure, cycles (examples and properties)."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor import graph
from supervisor.graph import CycleError

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EXAMPLE = {
    "db": [],
    "cache": [],
    "migrate": ["db"],
    "api": ["db", "migrate", "cache"],
    "worker": ["api"],
    "web": ["api"],
}


def test_order_and_layers_of_an_example() -> None:
    assert graph.topological_order(EXAMPLE) == ["db", "cache", "migrate", "api", "worker", "web"]
    assert graph.layers(EXAMPLE) == [["db", "cache"], ["migrate"], ["api"], ["worker", "web"]]
    assert graph.start_order(EXAMPLE) == graph.topological_order(EXAMPLE)
    assert graph.stop_order(EXAMPLE) == ["web", "worker", "api", "migrate", "cache", "db"]


def test_closures_of_an_example() -> None:
    assert graph.transitive_dependencies(EXAMPLE, "worker") == {"api", "db", "migrate", "cache"}
    assert graph.transitive_dependents(EXAMPLE, "db") == {"migrate", "api", "worker", "web"}
    assert graph.transitive_dependents(EXAMPLE, "web") == set()
    assert graph.dependents_of(EXAMPLE)["api"] == ["worker", "web"]
    assert graph.restart_order(EXAMPLE, "migrate") == ["migrate", "api", "worker", "web"]


def test_cycles_are_printed_from_the_first_declared_service() -> None:
    edges = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert graph.find_cycle(edges) == ["a", "b", "c", "a"]
    with pytest.raises(CycleError, match=r"^dependency cycle: a -> b -> c -> a$"):
        graph.topological_order(edges)
    with pytest.raises(ValueError):
        graph.layers(edges)


def test_one_cycle_per_tangle_and_self_loops() -> None:
    edges = {"a": ["b"], "b": ["a"], "c": ["c"], "d": ["e"], "e": ["f"], "f": ["d", "e"]}
    assert graph.find_cycles(edges) == [["a", "b", "a"], ["c", "c"], ["d", "e", "f", "d"]]


def test_the_shortest_cycle_through_the_first_service_is_printed() -> None:
    edges = {"a": ["b", "e"], "b": ["c"], "c": ["d"], "d": ["a"], "e": ["a"]}
    assert graph.find_cycle(edges) == ["a", "e", "a"]


def test_unknown_names_and_repeated_edges_are_ignored() -> None:
    edges = {"a": ["ghost", "b", "b"], "b": []}
    assert graph.topological_order(edges) == ["b", "a"]
    assert graph.layers(edges) == [["b"], ["a"]]
    assert graph.find_cycles(edges) == []
    assert graph.transitive_dependencies(edges, "a") == {"b"}


def test_empty_graph() -> None:
    assert graph.topological_order({}) == []
    assert graph.layers({}) == []
    assert graph.find_cycles({}) == []


def test_a_long_chain_is_fast_and_does_not_recurse() -> None:
    count = 20_000
    edges = {f"s{i}": [f"s{i - 1}"] if i else [] for i in range(count)}
    start = time.process_time()
    order = graph.topological_order(edges)
    levels = graph.layers(edges)
    assert graph.find_cycles(edges) == []
    assert len(graph.transitive_dependents(edges, "s0")) == count - 1
    edges["s0"] = [f"s{count - 1}"]  # close the chain into one huge cycle
    (cycle,) = graph.find_cycles(edges)
    elapsed = time.process_time() - start
    assert order[0] == "s0" and order[-1] == f"s{count - 1}"
    assert len(levels) == count
    assert len(cycle) == count + 1 and cycle[0] == cycle[-1] == "s0"
    assert elapsed < 2.0, elapsed


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """A random DAG: service i may depend on services declared in any order before it
    in a hidden ranking, so declaration order and dependency order differ."""
    count = draw(st.integers(min_value=0, max_value=25))
    rank = draw(st.permutations(range(count)))
    names = [f"s{index}" for index in range(count)]
    edges: dict[str, list[str]] = {}
    for position in range(count):
        lower = [names[rank[j]] for j in range(position)]
        deps = draw(st.lists(st.sampled_from(lower), unique=True, max_size=4)) if lower else []
        edges[names[rank[position]]] = deps
    declared = draw(st.permutations(list(edges)))
    return {name: edges[name] for name in declared}


def _closure(edges: dict[str, list[str]], name: str) -> set[str]:
    seen: set[str] = set()
    todo = list(edges[name])
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(edges[dep])
    return seen


@SETTINGS
@given(dags())
def test_order_respects_every_edge(edges: dict[str, list[str]]) -> None:
    order = graph.topological_order(edges)
    assert sorted(order) == sorted(edges)
    position = {name: index for index, name in enumerate(order)}
    for name, deps in edges.items():
        for dep in deps:
            assert position[dep] < position[name]
    stop = graph.stop_order(edges)
    assert stop == order[::-1]
    assert graph.find_cycles(edges) == []


@SETTINGS
@given(dags())
def test_layers_are_minimal(edges: dict[str, list[str]]) -> None:
    levels = graph.layers(edges)
    layer_of = {name: level for level, names in enumerate(levels) for name in names}
    assert sorted(layer_of) == sorted(edges)
    assert all(levels)  # no empty layer
    for name, deps in edges.items():
        # Each service sits one past its deepest dependency: as low as it can go.
        assert layer_of[name] == 1 + max((layer_of[d] for d in deps), default=-1)


@SETTINGS
@given(dags(), st.data())
def test_closures_match_brute_force(edges: dict[str, list[str]], data: st.DataObject) -> None:
    if not edges:
        return
    name = data.draw(st.sampled_from(list(edges)))
    assert graph.transitive_dependencies(edges, name) == _closure(edges, name)
    dependents = {other for other in edges if name in _closure(edges, other)}
    assert graph.transitive_dependents(edges, name) == dependents
    restart = graph.restart_order(edges, name)
    assert restart[0] == name and set(restart) == dependents | {name}


@st.composite
def graphs_with_a_cycle(draw: st.DrawFn) -> dict[str, list[str]]:
    """A random DAG with a cycle planted through some of its services."""
    edges = draw(dags().filter(bool))
    names = list(edges)
    loop = draw(st.lists(st.sampled_from(names), min_size=1, max_size=6, unique=True))
    for here, there in zip(loop, [*loop[1:], loop[0]], strict=True):
        if there not in edges[here]:
            edges[here].append(there)
    return edges


def _is_cycle(edges: dict[str, list[str]], cycle: list[str]) -> bool:
    return (
        len(cycle) >= 2
        and cycle[0] == cycle[-1]
        and len(set(cycle[:-1])) == len(cycle) - 1  # simple: no service twice
        and all(b in edges[a] for a, b in itertools.pairwise(cycle))
    )


@SETTINGS
@given(graphs_with_a_cycle())
def test_a_planted_cycle_is_found(edges: dict[str, list[str]]) -> None:
    cycle = graph.find_cycle(edges)
    assert cycle is not None and _is_cycle(edges, cycle)
    with pytest.raises(CycleError) as info:
        graph.topological_order(edges)
    assert _is_cycle(edges, info.value.cycle)
    cycles = graph.find_cycles(edges)
    assert cycles and all(_is_cycle(edges, c) for c in cycles)
    # One cycle per tangle: no service is in two of the reported cycles.
    members = [name for c in cycles for name in c[:-1]]
    assert len(members) == len(set(members))


@SETTINGS
@given(graphs_with_a_cycle())
def test_every_service_in_a_cycle_is_in_a_reported_tangle(edges: dict[str, list[str]]) -> None:
    in_cycle = {name for name in edges if name in _closure(edges, name)}
    components = [set(c) for c in graph.strongly_connected_components(edges)]
    tangles = [c for c in components if len(c) > 1 or next(iter(c)) in edges[next(iter(c))]]
    assert set().union(*tangles) == in_cycle
    assert len(graph.find_cycles(edges)) == len(tangles)
