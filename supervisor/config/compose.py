"""One configuration out of several files: ``include:``, later files, ``.env`` and ``env_file``.

- Files are merged in order, each over what came before: mappings merge key by key,
  lists and scalars replace, and ``KEY: null`` removes ``KEY`` (every key that accepts
  ``null`` has it as its default, so "remove" and "set to null" never differ).
- ``include: [path, ...]`` at the top of a file merges those files (relative to it) first,
  then the file itself over them. A file that includes itself, directly or not, is an
  error naming the chain.
- Every value keeps the file, line and column that set it (``Document.origins``), so an
  error in a merged configuration points at the file to edit.
- ``${VAR}`` is interpolated in each file on its own, from the process environment over a
  ``.env`` file (:func:`interpolation_variables`).
- A service's ``env_file:`` is read and folded under its ``env:`` (:func:`apply_env_files`).
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections import ChainMap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from supervisor.config.dotenv import default_dotenv, parse_dotenv
from supervisor.config.errors import ErrorRecord
from supervisor.config.yaml_tree import Document, Path, dotted, parse

INCLUDE_KEY = "include"
"""Top-level key listing the files a file builds on."""

MAX_INCLUDE_DEPTH = 32
"""Bound on nested includes (a chain this long is surely a mistake, not a design)."""

MAX_INCLUDED_FILES = 1000
"""Bound on the files read through ``include:`` in one load: a file may be included
several times (not in a cycle), and two includes per level would otherwise read
2**depth files."""

T = TypeVar("T")

EnvFileChoice = str | os.PathLike[str] | Literal[False] | None
"""``None``: ``.env`` next to the first file, if there is one; a path: that file (it must
exist); ``False``: no file."""


def interpolation_variables(
    first_file: str, environ: Mapping[str, str], env_file: EnvFileChoice = None
) -> tuple[Mapping[str, str], list[ErrorRecord]]:
    """What ``${VAR}`` sees: ``environ`` (the process environment) over the dotenv file."""
    if env_file is False:
        return environ, []
    if env_file is None:
        path = default_dotenv(first_file)
        if not os.path.isfile(path):
            return environ, []
    else:
        path = os.fspath(env_file)
    text, reason = read_file(path)
    if text is None:
        return environ, [ErrorRecord(1, 1, "", f"cannot read the env file: {reason}", path)]
    values, errors = parse_dotenv(text, path)
    return ChainMap(dict(environ), values), errors


MAX_FILE_SIZE = 16 * 1024 * 1024
"""Largest service, included or dotenv file read (bytes)."""


def read_file(name: str) -> tuple[str | None, str]:
    """``(text, "")`` of a service file, or ``(None, the reason it cannot be read)``.

    Only a regular file is read, and only up to :data:`MAX_FILE_SIZE`: a FIFO would block
    (a reload too, on the daemon's loop) and ``/dev/zero`` would never end.
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return None, exc.strerror or str(exc)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, "not a regular file"
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(MAX_FILE_SIZE + 1)
        if len(data) > MAX_FILE_SIZE:
            return None, f"larger than {MAX_FILE_SIZE // (1024 * 1024)} MiB"
        return data.decode("utf-8"), ""
    except (OSError, UnicodeDecodeError) as exc:
        return None, exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    finally:
        os.close(fd)


def compose_files(names: Sequence[str], environ: Mapping[str, str]) -> Document:
    """Every file of ``names`` with its includes, each merged over the ones before it."""
    result: Document | None = None
    for name in names:
        text, reason = read_file(name)
        if text is None:
            doc = Document(data=None, file=name)
            doc.errors.append(ErrorRecord(1, 1, "", f"cannot read the file: {reason}", name))
        else:
            doc = compose_text(text, name, environ)
        result = doc if result is None else merge(result, doc)
    assert result is not None, "no file to compose"
    return result


class _Budget:
    """What is left of :data:`MAX_INCLUDED_FILES` in one load."""

    def __init__(self) -> None:
        self.left = MAX_INCLUDED_FILES


def compose_text(
    text: str,
    name: str,
    environ: Mapping[str, str],
    chain: tuple[str, ...] = (),
    budget: _Budget | None = None,
) -> Document:
    """The document of one file's text, over the files it includes."""
    doc = parse(text, environ)
    doc.file = name
    doc.errors = [_in_file(error, name) for error in doc.errors]
    if doc.data is not None and not isinstance(doc.data, dict):
        return doc  # reported by the loader ("expected a mapping")
    if not isinstance(doc.data, dict) or INCLUDE_KEY not in doc.data:
        return doc
    chain = (*chain, name)
    base: Document | None = None
    for included in _included(doc, chain, environ, budget or _Budget()):
        base = included if base is None else merge(base, included)
    if base is None:
        return doc
    merged = merge(base, doc)
    # The document is this file's, over what it includes: what no file overrode comes
    # from the first included one (its origin), what this file set is recorded as its.
    merged.origins.setdefault((), merged.file)
    merged.file = name
    return merged


def _included(
    doc: Document, chain: tuple[str, ...], environ: Mapping[str, str], budget: _Budget
) -> Iterable[Document]:
    """The documents ``doc`` includes, in order (errors land in ``doc.errors``)."""
    value = doc.data.pop(INCLUDE_KEY)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        _error(doc, (INCLUDE_KEY,), "expected a file name or a list of file names")
        return
    seen = [os.path.realpath(name) for name in chain]
    for index, item in enumerate(items):
        path: Path = (INCLUDE_KEY,) if isinstance(value, str) else (INCLUDE_KEY, index)
        if not isinstance(item, str) or not item:
            _error(doc, path, "expected a file name (a string)")
            continue
        name = os.path.join(os.path.dirname(doc.file), item)
        if os.path.realpath(name) in seen:
            cycle = [*chain[seen.index(os.path.realpath(name)) :], name]
            _error(doc, path, "include cycle: " + " -> ".join(cycle))
            continue
        if len(chain) >= MAX_INCLUDE_DEPTH:
            _error(doc, path, f"includes nested deeper than {MAX_INCLUDE_DEPTH} files")
            continue
        if budget.left <= 0:
            _error(doc, path, f"more than {MAX_INCLUDED_FILES} files included in all")
            return
        budget.left -= 1
        text, reason = read_file(name)
        if text is None:
            _error(doc, path, f"cannot read the included file {name!r}: {reason}")
            continue
        yield compose_text(text, name, environ, chain, budget)


def _require_mapping(doc: Document) -> None:
    """Report, and drop, the data of a file that is not a mapping."""
    if doc.data is not None and not isinstance(doc.data, dict):
        kind = "a list" if isinstance(doc.data, list) else f"a {type(doc.data).__name__}"
        message = f"expected a mapping with `services:` (or other top-level keys), got {kind}"
        doc.errors.append(ErrorRecord(1, 1, "", message, doc.file))
        doc.data = None


def _error(doc: Document, path: Path, message: str) -> None:
    file, line, column = doc.locate(path)
    doc.errors.append(ErrorRecord(line, column, dotted(path), message, file))


def _in_file(error: ErrorRecord, name: str) -> ErrorRecord:
    return error if error.file else dataclasses.replace(error, file=name)


def merge(base: Document, over: Document) -> Document:
    """``over`` merged into ``base`` (which is updated and returned), positions included.

    A file that is not a mapping is an error (a file with errors that has no data at
    all adds only its errors).
    """
    _require_mapping(base)
    _require_mapping(over)
    base.errors.extend(over.errors)
    base.instance_refs = base.instance_refs or over.instance_refs
    if not isinstance(over.data, dict):
        return base
    if not isinstance(base.data, dict):
        over.errors = base.errors
        return over
    replaced: set[Path] = set()
    removed: set[Path] = set()
    _merge_mapping(base.data, over.data, (), replaced, removed)
    gone = replaced | removed
    _take(base.values, over.values, gone, replaced)
    _take(base.keys, over.keys, gone, replaced)
    _take(base.raw_scalars, over.raw_scalars, gone, replaced)
    _take(base.origins, over.origins, gone, replaced)
    for path in replaced:
        base.origins[path] = over.file_of(path)
    return base


def _take(table: dict[Path, T], incoming: dict[Path, T], gone: set[Path], new: set[Path]) -> None:
    """Drop the entries of ``table`` under ``gone``; add those of ``incoming`` under ``new``."""
    for path in [p for p in table if _under(p, gone)]:
        del table[path]
    table.update((p, v) for p, v in incoming.items() if _under(p, new))


def _merge_mapping(
    base: dict[Any, Any],
    over: dict[Any, Any],
    path: Path,
    replaced: set[Path],
    removed: set[Path],
) -> None:
    for key, value in over.items():
        child = (*path, key)
        if value is None:
            if key in base:
                del base[key]
                removed.add(child)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge_mapping(base[key], value, child, replaced, removed)
        else:
            base[key] = value
            replaced.add(child)


def _under(path: Path, roots: set[Path]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one."""
    return bool(roots) and any(path[:end] in roots for end in range(1, len(path) + 1))


def anchor_paths(doc: Document) -> None:
    """Make ``supervisor.control_socket`` and ``supervisor.http.token_file`` relative to
    the file that set them.

    They are documented as relative to the service file's directory, and they are resolved
    against the first file's: a relative path from an included or later file in another
    directory is made absolute here.
    """
    for path in (("supervisor", "control_socket"), ("supervisor", "http", "token_file")):
        parent = _lookup_mapping(doc.data, path[:-1])
        value = parent.get(path[-1]) if parent is not None else None
        if not isinstance(value, str) or os.path.isabs(value) or value.startswith("~"):
            continue
        origin = doc.file_of(path)
        if parent is not None and os.path.dirname(origin) != os.path.dirname(doc.file):
            parent[path[-1]] = os.path.abspath(os.path.join(os.path.dirname(origin), value))


def _lookup_mapping(data: Any, path: Path) -> dict[Any, Any] | None:
    """The mapping at ``path`` in ``data``, or ``None``."""
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else None


def apply_env_files(doc: Document) -> list[ErrorRecord]:
    """Read each service's ``env_file:`` and put its variables under its ``env:``.

    A relative path is relative to the file that set it; the variables of later files
    win over earlier ones, and ``env:`` wins over them all. The paths are written back
    resolved. A value of the wrong type is left for the model to report.
    """
    services = doc.data.get("services") if isinstance(doc.data, dict) else None
    if not isinstance(services, dict):
        return []
    errors: list[ErrorRecord] = []
    for name, service in services.items():
        if not isinstance(service, dict) or service.get("env_file") is None:
            continue
        value = service["env_file"]
        base: Path = ("services", name, "env_file")
        if isinstance(value, str):
            entries: list[tuple[Path, str]] = [(base, value)]
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            entries = [((*base, index), item) for index, item in enumerate(value)]
        else:
            continue
        variables: dict[str, str] = {}
        resolved: list[str] = []
        for path, item in entries:
            file, line, column = doc.locate(path)
            full = os.path.join(os.path.dirname(file), item)
            resolved.append(full)
            text, reason = read_file(full)
            if text is None:
                message = f"cannot read the env file {full!r}: {reason}"
                errors.append(ErrorRecord(line, column, dotted(path), message, file))
                continue
            values, problems = parse_dotenv(text, full)
            errors.extend(dataclasses.replace(p, path=dotted(path)) for p in problems)
            variables.update(values)
        env = service.get("env")
        if env is None or isinstance(env, dict):
            service["env"] = {**variables, **(env or {})}
        service["env_file"] = resolved
    return errors
