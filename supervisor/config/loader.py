"""Load and validate a service file: YAML -> pydantic models -> dependency graph checks.

The entry points, and the preparation of the composed data that needs the whole
configuration before the models see it. Every problem is collected and reported at once,
as ``file:line:column: key.path: message``; pydantic's errors are translated in
:mod:`supervisor.config.pydantic_errors`, the graph is checked in
:mod:`supervisor.config.graph_checks`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pydantic

from supervisor.config.compose import (
    EnvFileChoice,
    anchor_paths,
    apply_env_files,
    compose_files,
    compose_text,
    interpolation_variables,
)
from supervisor.config.errors import ConfigError, ErrorRecord
from supervisor.config.graph_checks import graph_errors
from supervisor.config.instances import resolve_unowned
from supervisor.config.models import ConfigFile, ServiceConfig
from supervisor.config.run_targets import run_target_errors
from supervisor.config.yaml_tree import Document, Path, child, dotted, lookup

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
                # Imported here: translating errors is no part of a valid file's start-up.
                from supervisor.config.pydantic_errors import translate_error

                errors.extend(translate_error(error, doc) for error in exc.errors())
    if isinstance(doc.data, dict):
        errors.extend(graph_errors(doc))
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
        parent = lookup(doc.data, path[:-1])
        key = path[-1]
        found, value = child(parent, key)
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
    errors = graph_errors(Document(data={"services": raw}))
    if errors:
        raise ConfigError(dataclasses.replace(e, file=source) for e in _unique(errors))


def _unique(errors: list[ErrorRecord]) -> list[ErrorRecord]:
    seen: set[ErrorRecord] = set()
    return [e for e in errors if not (e in seen or seen.add(e))]  # type: ignore[func-returns-value]


def _kind(value: Any) -> str:
    return {
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)
