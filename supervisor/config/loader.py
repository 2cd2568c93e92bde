"""Load and validate a service file: YAML -> pydantic models -> dependency graph checks.

Every problem is collected and reported at once, as ``file:line:column: key.path: message``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pydantic
from pydantic_core import ErrorDetails

from supervisor.config.compose import (
    EnvFileChoice,
    anchor_paths,
    apply_env_files,
    compose_files,
    compose_text,
    interpolation_variables,
)
from supervisor.config.errors import ConfigError, ErrorRecord, did_you_mean
from supervisor.config.instances import resolve_unowned
from supervisor.config.models import ConfigFile, ServiceConfig
from supervisor.config.run_targets import run_target_errors
from supervisor.config.yaml_tree import Document, Path, dotted
from supervisor.graph import find_cycles

ConfigPaths = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
"""One service file, or several merged in order (each over the ones before it)."""


def load_config(
    path: ConfigPaths,
    environ: Mapping[str, str] | None = None,
    *,
    import_targets: bool = False,
    env_file: EnvFileChoice = None,
) -> ConfigFile:
    """Read, validate and check the service file at ``path``; raise :class:`ConfigError`.

    ``path`` may be a list of files: each is merged over the ones before it (see
    docs/config.md, "Several files"). ``${VAR}`` takes its value from ``environ``
    (default: the process environment), else from ``env_file``: by default the ``.env``
    file next to the first file, if there is one (``False``: none).

    With ``import_targets``, the module of every ``run:`` service is imported too (its
    top-level code runs), so that a target that cannot be imported is reported at its
    line like any other error.
    """
    names = config_paths(path)
    if not names:
        raise ValueError("load_config: expected at least one file")
    variables, env_errors = interpolation_variables(
        names[0], os.environ if environ is None else environ, env_file
    )
    if env_errors:
        raise ConfigError(env_errors)
    with _no_gc():
        doc = compose_files(names, variables)
    return _load_document(doc, variables, import_targets=import_targets)


def config_paths(path: ConfigPaths) -> list[str]:
    """The file names of ``path``: one, or each of a list."""
    if isinstance(path, str | os.PathLike):
        return [os.fspath(path)]
    return [os.fspath(name) for name in path]


def load_config_text(
    text: str,
    filename: str = "<string>",
    environ: Mapping[str, str] | None = None,
    *,
    import_targets: bool = False,
) -> ConfigFile:
    """Validate a service file given as text; ``filename`` is used in error messages
    (and ``include:`` and ``env_file:`` paths are relative to its directory)."""
    variables = os.environ if environ is None else environ
    with _no_gc():
        doc = compose_text(text, filename, variables)
    return _load_document(doc, variables, import_targets=import_targets)


def _load_document(
    doc: Document, environ: Mapping[str, str], *, import_targets: bool
) -> ConfigFile:
    """Check and validate a composed document (every file merged): the one place for
    checks that need the whole configuration. ``environ`` is what it was interpolated
    with (``${PORT}`` and ``${REPLICA}`` in a service that does not own them resolve
    from it)."""
    errors = list(doc.errors)
    if doc.instance_refs:  # the walk costs ~10% of a big file's load
        errors.extend(_resolve_instance_refs(doc, environ))
    if import_targets:  # outside _no_gc: the modules' own code runs
        errors.extend(run_target_errors(doc))
    with _no_gc():
        return _validate(doc, errors, doc.file)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    # Loading allocates many small objects and no reference cycles: the cyclic
    # collector would only run again and again over them (half the time of a big file).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _validate(doc: Document, errors: list[ErrorRecord], filename: str) -> ConfigFile:
    config: ConfigFile | None = None
    if doc.data is None and not errors:
        errors.append(ErrorRecord(1, 1, "", "expected a mapping with `services:`, got nothing"))
    if doc.data is not None:
        if not isinstance(doc.data, dict):
            errors.append(
                ErrorRecord(1, 1, "", f"expected a mapping with `services:`, got {_kind(doc.data)}")
            )
        else:
            errors.extend(apply_env_files(doc))
            anchor_paths(doc)
            _use_text_as_written(doc)
            try:
                config = ConfigFile.model_validate(doc.data)
            except pydantic.ValidationError as exc:
                errors.extend(_translate(error, doc) for error in exc.errors())
    if isinstance(doc.data, dict):
        errors.extend(_graph_errors(doc))
    if errors:
        raise ConfigError(
            e if e.file else dataclasses.replace(e, file=filename) for e in _unique(errors)
        )
    assert config is not None
    return config


def _resolve_instance_refs(doc: Document, environ: Mapping[str, str]) -> list[ErrorRecord]:
    """Give ``${PORT}`` and ``${REPLICA}`` their environment value in a service that does
    not set them per instance (no ``port:``, no ``replicas:``); see config/instances.py."""
    errors: list[ErrorRecord] = []
    services = doc.data.get("services") if isinstance(doc.data, dict) else None
    if not isinstance(services, dict):
        return errors
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        owned = {var for var, key in (("PORT", "port"), ("REPLICA", "replicas")) if key in service}
        if len(owned) < 2:
            _resolve_in(service, ("services", name), owned, environ, doc, errors)
    return errors


def _resolve_in(
    value: Any,
    path: Path,
    owned: set[str],
    environ: Mapping[str, str],
    doc: Document,
    errors: list[ErrorRecord],
) -> Any:
    """``value`` with its strings resolved (mappings and lists are updated in place)."""
    if isinstance(value, str):
        if "$" not in value:
            return value

        def report(message: str) -> None:
            file, line, column = doc.locate(path)
            errors.append(ErrorRecord(line, column, dotted(path), message, file))

        return resolve_unowned(value, owned, environ, report)
    if isinstance(value, dict | list):
        keys = value.keys() if isinstance(value, dict) else range(len(value))
        for key in list(keys):
            value[key] = _resolve_in(value[key], (*path, key), owned, environ, doc, errors)
    return value


def _use_text_as_written(doc: Document) -> None:
    """Give string fields the text a number, boolean or date was written as.

    ``command: [sleep, 010]`` runs ``sleep 010`` and ``env: {DEBUG: yes}`` sets
    ``DEBUG=yes``: YAML would have read 8 and true. Only where such a value is natural:
    an argument, an environment value, a port, and a program named like a boolean
    (``command: [true]`` runs ``true``). A program (``command: 42``) or a path
    (``cwd: 5``) written as a number is an error instead.
    """
    services = doc.data.get("services")
    if not isinstance(services, dict):
        return
    for path, text in doc.raw_scalars.items():
        if len(path) < 3 or path[0] != "services":
            continue
        parent = _lookup(doc.data, path[:-1])
        key = path[-1]
        found, value = _child(parent, key)
        if found and _takes_text(path[2:], value):
            parent[key] = text


def _takes_text(rest: Path, value: Any) -> bool:
    """Whether ``value`` at ``services.NAME.<rest>`` stands for the text it was written as."""
    match rest:
        case ("env", str()) | ("ready" | "health", "tcp"):  # `tcp: 8000`: the port alone
            return True
        case ("command", int(index)) | ("ready" | "health", "exec", int(index)):
            return index > 0 or isinstance(value, bool)  # an argument, or `true`, `yes`
        case ("command",) | ("ready" | "health", "exec"):
            return isinstance(value, bool)
    return False


def load_config_data(data: Any, source: str = "<dict>") -> ConfigFile:
    """Validate already-parsed data (a dict shaped like the YAML file); raise ConfigError."""
    doc = Document(data=data, file=source)
    return _validate(doc, [], source)


def check_graph(services: Mapping[str, ServiceConfig], source: str = "<services>") -> None:
    """Check dependencies of services built in Python: unknown names, self-loops, cycles."""
    raw = {
        name: {"depends_on": cfg.conditions, "oneshot": cfg.oneshot}
        for name, cfg in services.items()
    }
    errors = _graph_errors(Document(data={"services": raw}))
    if errors:
        raise ConfigError(dataclasses.replace(e, file=source) for e in _unique(errors))


def _unique(errors: list[ErrorRecord]) -> list[ErrorRecord]:
    seen: set[ErrorRecord] = set()
    return [e for e in errors if not (e in seen or seen.add(e))]  # type: ignore[func-returns-value]


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


def _graph_errors(doc: Document) -> list[ErrorRecord]:
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
    deps = _lookup(doc.data, parent)
    if isinstance(deps, list) and path[-1] in deps:
        return doc.locate((*parent, deps.index(path[-1])))
    return doc.locate(parent)


def _child(data: Any, part: str | int) -> tuple[bool, Any]:
    """``(True, data[part])`` when ``part`` is a real key or index of ``data``."""
    if isinstance(data, dict) and part in data:
        return True, data[part]
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        return True, data[part]
    return False, None


def _lookup(data: Any, path: Path) -> Any:
    for part in path:
        found, data = _child(data, part)
        if not found:
            return None
    return data


def _data_path(loc: tuple[int | str, ...], data: Any) -> Path:
    """Keep the parts of pydantic's ``loc`` that are real keys (drop union tags)."""
    path: list[str | int] = []
    for part in loc:
        found, child = _child(data, part)
        if found:
            data = child
            path.append(part)
        elif isinstance(data, dict) and isinstance(part, str) and not _is_union_tag(part):
            path.append(part)  # a missing or unknown key
            data = None
    return tuple(path)


def _is_union_tag(part: str) -> bool:
    return (
        any(ch in part for ch in "[]()|,")
        or part in {"str", "int", "float", "bool"}
        or (part[:1].isupper())
    )


def _model_at(path: Path) -> type[pydantic.BaseModel] | None:
    """The model class that validates the mapping at ``path`` (for did-you-mean)."""
    current: Any = ConfigFile
    for part in path:
        current = _unwrap(current)
        if typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        elif isinstance(current, type) and issubclass(current, pydantic.BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        else:
            return None
    current = _unwrap(current)
    return (
        current if isinstance(current, type) and issubclass(current, pydantic.BaseModel) else None
    )


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [
                typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a
                for a in typing.get_args(annotation)
                if a is not type(None)
            ]
            models = [
                a for a in options if isinstance(a, type) and issubclass(a, pydantic.BaseModel)
            ]
            annotation = models[0] if models else options[0]
        else:
            return annotation


_EXPECTED = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "int_parsing_size": "expected an integer (this one is too large)",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
}


_BOUNDS = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}


def _translate(error: ErrorDetails, doc: Document) -> ErrorRecord:
    """One pydantic error as a record at the offending key or value."""
    loc = error["loc"]
    path = _data_path(loc, doc.data)
    kind = error["type"]
    value = error.get("input")
    if loc and loc[-1] == "[key]":  # a bad mapping key (a service name)
        file, line, column = doc.locate(path, key=True)
        message = _plain(error["msg"])
        if kind == "string_type":
            message = f"expected a string key, got {value!r}"
        return ErrorRecord(line, column, dotted(path[:-1]), message, file)
    if kind == "extra_forbidden":
        model = _model_at(path[:-1])
        known = list(model.model_fields) if model else []
        file, line, column = doc.locate(path, key=True)
        hint = did_you_mean(str(path[-1]), known)
        if not hint and known:
            hint = "; expected one of: " + ", ".join(known)
        return ErrorRecord(line, column, dotted(path), f"unknown key{hint}", file)
    if kind == "missing":
        file, line, column = doc.locate(path[:-1])
        return ErrorRecord(line, column, dotted(path), "required key is missing", file)
    file, line, column = doc.locate(path)
    if kind in _BOUNDS:
        bound = next(iter(error.get("ctx", {}).values()), "")
        noun = "an integer" if _field_type(path) is int else "a number"
        message = f"expected {noun} {_BOUNDS[kind]} {bound}"
    elif kind == "float_type" and isinstance(value, int) and not isinstance(value, bool):
        message = "expected a finite number"  # an integer past the largest float
    elif kind in _EXPECTED:
        message = _EXPECTED[kind]
        if kind.startswith("int") and kind != "int_parsing_size":
            low = _lower_bound(path)
            if low is not None:
                message = f"expected an integer >= {low}"
    elif kind in ("literal_error", "enum"):
        message = f"expected one of {error.get('ctx', {}).get('expected', '')}"
    else:
        message = _plain(error["msg"])
    if value is not None and not isinstance(value, dict | list):
        shown = repr(value) if isinstance(value, str) else doc.raw_scalars.get(path, repr(value))
        if shown not in message:
            message += f", got {_shorten(shown)}"
    return ErrorRecord(line, column, dotted(path), message, file)


def _shorten(shown: str, limit: int = 60) -> str:
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _plain(message: str) -> str:
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _field_info(path: Path) -> pydantic.fields.FieldInfo | None:
    model = _model_at(path[:-1]) if path else None
    return model.model_fields.get(str(path[-1])) if model else None


def _field_type(path: Path) -> Any:
    field = _field_info(path)
    return _unwrap(field.annotation) if field else None


def _lower_bound(path: Path) -> Any:
    field = _field_info(path)
    for meta in field.metadata if field else []:
        if getattr(meta, "ge", None) is not None:
            return meta.ge
    return None


def _kind(value: Any) -> str:
    return {
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)
