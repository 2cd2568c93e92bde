"""Checks of the dependency graph and of service names, on the unvalidated data.

Unknown and self dependencies, ``completed`` on a service that never completes,
dependency cycles, and a service named like a replica of another.
"""

from __future__ import annotations

from typing import Any

from supervisor.config.errors import ErrorRecord, did_you_mean
from supervisor.config.yaml_tree import Document, Path, dotted, lookup
from supervisor.graph import find_cycles


def _raw_services(data: dict[str, Any]) -> dict[str, tuple[dict[str, Any], bool]]:
    """``{name: (depends_on as a dict, oneshot)}`` read leniently from unvalidated data.

    The graph is checked on the raw data so that its errors are reported together with
    every other error, even when some service does not validate.
    """
    services = data.get("services")
    if not isinstance(services, dict):
        return {}
    raw: dict[str, tuple[dict[str, Any], bool]] = {}
    for name, service in services.items():
        if not isinstance(name, str):
            continue  # reported by the model validation
        if not isinstance(service, dict):
            raw[name] = ({}, False)
            continue
        deps = service.get("depends_on", {})
        if isinstance(deps, str):
            deps = {deps: "ready"}
        elif isinstance(deps, list):
            deps = {d: "ready" for d in deps if isinstance(d, str)}
        elif isinstance(deps, dict):  # other keys and values: reported by pydantic
            deps = {
                d: c.get("condition", "ready") if isinstance(c, dict) else c
                for d, c in deps.items()
                if isinstance(d, str)
            }
        else:
            deps = {}
        raw[name] = (deps, service.get("oneshot") is True)
    return raw


def _replica_name_errors(doc: Document) -> list[ErrorRecord]:
    """A service named like a replica of a replicated service (``web.1`` beside ``web``)."""
    services = doc.data.get("services")
    if not isinstance(services, dict):
        return []
    errors: list[ErrorRecord] = []
    for name in services:
        group, dot, index = str(name).rpartition(".")
        owner = services.get(group) if dot and index.isdecimal() else None
        if isinstance(owner, dict) and "replicas" in owner:
            file, line, column = doc.locate(("services", name), key=True)
            errors.append(
                ErrorRecord(
                    line,
                    column,
                    dotted(("services", name)),
                    f"'{name}' is the name of a replica of '{group}' (replicas: ...); "
                    "choose another name",
                    file,
                )
            )
    return errors


def graph_errors(doc: Document) -> list[ErrorRecord]:
    """Every problem of the dependency graph and of the service names in ``doc``."""
    services = _raw_services(doc.data)
    errors: list[ErrorRecord] = _replica_name_errors(doc)
    for name, (deps, _) in services.items():
        for dep, condition in deps.items():
            path: Path = ("services", name, "depends_on", dep)
            file, line, column = _dep_position(doc, path)
            where = dotted(("services", name, "depends_on"))
            if dep == name:
                errors.append(
                    ErrorRecord(line, column, where, f"'{name}' cannot depend on itself", file)
                )
            elif dep not in services:
                hint = did_you_mean(dep, [n for n in services if n != name])
                errors.append(
                    ErrorRecord(line, column, where, f"unknown service '{dep}'{hint}", file)
                )
            elif condition == "completed" and not services[dep][1]:
                errors.append(
                    ErrorRecord(
                        line,
                        column,
                        where,
                        f"'{dep}' is not a one-shot (oneshot: true), so it never completes; "
                        "use 'started' or 'ready'",
                        file,
                    )
                )
    edges = {
        name: [d for d in deps if d in services and d != name]
        for name, (deps, _) in services.items()
    }
    for cycle in find_cycles(edges):
        file, line, column = _dep_position(doc, ("services", cycle[0], "depends_on", cycle[1]))
        where = dotted(("services", cycle[0], "depends_on"))
        cycle_text = "dependency cycle: " + " -> ".join(cycle)
        errors.append(ErrorRecord(line, column, where, cycle_text, file))
    return errors


def _dep_position(doc: Document, path: Path) -> tuple[str, int, int]:
    # depends_on given as a list: the entry's position is that of the list item.
    if doc.key_position(path) is not None:
        return doc.locate(path, key=True)
    parent = path[:-1]
    deps = lookup(doc.data, parent)
    if isinstance(deps, list) and path[-1] in deps:
        return doc.locate((*parent, deps.index(path[-1])))
    return doc.locate(parent)
