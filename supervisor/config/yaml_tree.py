"""Parse YAML into plain data while remembering where every key and value came from.

PyYAML's own loader silently keeps the last of two duplicate keys and expands aliases
without bound (the "billion laughs"); this one rejects both. The document is composed
into a node tree (aliases are shared nodes, nothing is expanded), its expanded size is
measured on that tree in linear time, and only then is it turned into plain data.

Along the way ``${VAR}``, ``${VAR:-default}`` and ``$$`` in string values are
interpolated from the environment (except the per-instance ``${PORT}`` and ``${REPLICA}``,
see :mod:`supervisor.config.instances`), and ``<<`` merge keys are applied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from supervisor.config.errors import ErrorRecord
from supervisor.config.instances import INSTANCE_VARS, kept_escape
from supervisor.config.syntax import syntax_error

Path = tuple[str | int, ...]
"""Where a value sits in the document: mapping keys and sequence indexes."""

MAX_NODES = 100_000
"""Bound on the nodes a document may expand to (an alias counts its whole target)."""

MAX_DEPTH = 200
"""Bound on the nesting of mappings and sequences."""

_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")
_BROKEN_VAR = re.compile(r"\$\{[^}]*\}?")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


@dataclass
class Document:
    """Plain data of a YAML document and the position of every path in it."""

    data: Any
    values: dict[Path, yaml.Node] = field(default_factory=dict)
    """The node each path's value came from (its position is read only on error)."""
    keys: dict[Path, yaml.Node] = field(default_factory=dict)
    """The node of the key that introduced each path in a mapping."""
    raw_scalars: dict[Path, str] = field(default_factory=dict)
    """The text a non-string scalar (number, boolean, date) was written as."""
    errors: list[ErrorRecord] = field(default_factory=list)
    file: str = ""
    """The file the document was read from (the first one, when files were merged)."""
    origins: dict[Path, str] = field(default_factory=dict)
    """Paths whose value came from another file than ``file`` (set by a later file or an
    include); a path's file is that of its longest prefix listed here."""
    instance_refs: bool = False
    """Whether a service value holds ``${PORT}`` or ``${REPLICA}`` (or their ``$$``
    escape), left for :mod:`supervisor.config.instances` to resolve."""

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of ``path``, or of its nearest known ancestor.

        With ``key=True`` the position of the key itself is preferred to its value's.
        """
        _, line, column = self.locate(path, key=key)
        return line, column

    def locate(self, path: Path, *, key: bool = False) -> tuple[str, int, int]:
        """File, line and column of ``path`` (as :meth:`position`), across merged files."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if key and prefix in self.keys:
                return (self.file_of(prefix), *_mark(self.keys[prefix]))
            if prefix in self.values:
                return (self.file_of(prefix), *_mark(self.values[prefix]))
        return (self.file, 1, 1)

    def file_of(self, path: Path) -> str:
        """The file that set the value at ``path``."""
        if self.origins:
            for end in range(len(path), -1, -1):
                origin = self.origins.get(path[:end])
                if origin is not None:
                    return origin
        return self.file

    def key_position(self, path: Path) -> tuple[int, int] | None:
        """Line and column of the key ``path`` ends with, if it is a mapping key."""
        node = self.keys.get(path)
        return _mark(node) if node is not None else None


def dotted(path: Path) -> str:
    """``services.api.restart.max_restarts`` (indexes as ``[0]``)."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def child(data: Any, part: str | int) -> tuple[bool, Any]:
    """``(True, data[part])`` when ``part`` is a real key or index of ``data``."""
    if isinstance(data, dict) and part in data:
        return True, data[part]
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        return True, data[part]
    return False, None


def lookup(data: Any, path: Path) -> Any:
    """The value at ``path`` in ``data``, or ``None`` when ``path`` is not in it."""
    for part in path:
        found, data = child(data, part)
        if not found:
            return None
    return data


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Rejected(Exception):
    """The document cannot be turned into data at all (too large, recursive, too deep)."""

    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


def expanded_size(root: yaml.Node, limit: int = MAX_NODES) -> int:
    """Nodes the tree expands to once every alias is replaced by a copy of its target.

    Linear in the number of distinct nodes: each node's size is computed once and
    reused at every alias of it. Raises :class:`_Rejected` on a recursive alias, on
    nesting deeper than :data:`MAX_DEPTH`, or as soon as the size passes ``limit``.
    """
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    # Iterative post-order walk: (node, depth, children already pushed?).
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 0, False)]
    while stack:
        node, depth, expanded = stack.pop()
        key = id(node)
        if not isinstance(node, yaml.CollectionNode):
            sizes[key] = 1
            continue
        children = _children(node)
        if expanded:
            in_progress.discard(key)
            size = 1 + sum(sizes[id(child)] for child in children)
            if size > limit:
                raise _Rejected(
                    node,
                    f"the document expands to more than {limit} nodes "
                    "(YAML aliases nested too deep?): rejected",
                )
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in in_progress:
            raise _Rejected(node, "recursive YAML alias (a node contains itself): rejected")
        if depth > MAX_DEPTH:
            raise _Rejected(node, f"nested deeper than {MAX_DEPTH} levels: rejected")
        in_progress.add(key)
        stack.append((node, depth, True))
        for child in children:
            if id(child) in in_progress:
                raise _Rejected(child, "recursive YAML alias (a node contains itself): rejected")
            if id(child) not in sizes:
                stack.append((child, depth + 1, False))
    return sizes[id(root)]


class _Loader(yaml.SafeLoader):
    """A SafeLoader whose composer refuses nesting deeper than :data:`MAX_DEPTH`.

    Checked while composing, so a hostile ``[[[[...`` stops early instead of running
    the scanner and the recursion all the way down.
    """

    depth = 0

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        # The scanner looks ahead across a run of `[[[[` (each could start a key), in
        # quadratic time: stop it at the same depth.
        if self.flow_level >= MAX_DEPTH:
            raise yaml.scanner.ScannerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", self.get_mark()
            )
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", mark
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_FAST_LOADER: type[yaml.CSafeLoader] | None = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> yaml.Node | None:
    """The node tree of one document: libyaml when PyYAML has it (ten times faster; it
    bounds nesting itself), else the pure-Python loader above."""
    loader = _FAST_LOADER(text) if _FAST_LOADER is not None else _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _children(node: yaml.CollectionNode) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value)


class _Builder:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.doc = Document(data=None)
        self.constructor = yaml.constructor.SafeConstructor()

    def error(self, node: yaml.Node, path: Path, message: str) -> None:
        line, column = _mark(node)
        self.doc.errors.append(ErrorRecord(line, column, dotted(path), message))

    def build(self, node: yaml.Node, path: Path) -> Any:
        if len(path) > MAX_DEPTH:
            raise _Rejected(node, f"nested deeper than {MAX_DEPTH} levels: rejected")
        self.doc.values.setdefault(path, node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            self.error(node, path, f"unsupported YAML tag {node.tag!r} on a mapping or list")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]

    def _mapping(
        self, node: yaml.MappingNode, path: Path, *, merged: bool = False
    ) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            if key in result:
                first = _mark(self.doc.keys[child]) if child in self.doc.keys else _mark(node)
                self.error(key_node, child, f"duplicate key (first defined at line {first[0]})")
                continue
            if merged:
                self.doc.keys.setdefault(child, key_node)
            else:
                self.doc.keys[child] = key_node
            result[key] = self.build(value_node, child)
        # `<<: *base` (or a list of them): keys written here win, then earlier sources.
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self.error(source, path, "expected a mapping (or a list of them) after <<")
                    continue
                for key, value in self._mapping(source, path, merged=True).items():
                    result.setdefault(key, value)
        return result

    def _key(self, node: yaml.Node, path: Path) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, path, "expected a plain scalar key, got a mapping or a list")
            return None
        # A key written `1` or `true` is the text the person wrote, not its YAML value.
        return str(node.value)

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> Any:
        if node.tag == _STR_TAG:
            text: str = node.value
            return self._interpolate(text, node, path) if "$" in text else text
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self.error(node, path, f"invalid YAML value: {exc.problem}")
            return None
        except Exception:  # PyYAML's constructors fail in odd ways on odd input
            tag = node.tag.removeprefix("tag:yaml.org,2002:")
            self.error(node, path, f"invalid YAML value {node.value!r} for the tag {tag!r}")
            return None
        if value is not None and not isinstance(value, str):
            # Numbers, booleans and dates keep the text as written, for fields that
            # want a string (a command argument, an environment value).
            self.doc.raw_scalars[path] = node.value
        return value

    def _interpolate(self, text: str, node: yaml.Node, path: Path) -> str:
        # ${PORT} and ${REPLICA} are set per instance of a service (config/instances.py)
        per_instance = not path or path[0] != "supervisor"

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                if per_instance and kept_escape(text, match.end()):
                    self.doc.instance_refs = True
                    return "$$"
                return "$"
            name, default = match.group(1), match.group(2)
            if per_instance and name in INSTANCE_VARS:
                self.doc.instance_refs = True
                return match.group(0)
            if name in self.environ:
                return self.environ[name]
            if default is not None:
                return default
            self.error(
                node, path, f"environment variable ${{{name}}} is not set and has no default"
            )
            return ""

        result = _VAR.sub(replace, text)
        # Whatever `${` is left over was not a valid reference.
        leftover = _BROKEN_VAR.search(_VAR.sub("", text))
        if leftover:
            self.error(
                node,
                path,
                f"invalid variable reference {leftover.group(0)!r}: expected ${{NAME}} or "
                "${NAME:-default} (write $$ for a literal $)",
            )
        return result


def parse(text: str, environ: Mapping[str, str]) -> Document:
    """Parse one YAML document; syntax errors and bad keys land in ``Document.errors``."""
    builder = _Builder(environ)
    doc = builder.doc
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as exc:
        doc.errors.append(syntax_error(exc, text, max_depth=MAX_DEPTH))
        return doc
    except yaml.YAMLError as exc:
        doc.errors.append(ErrorRecord(1, 1, "", f"invalid YAML: {exc}"))
        return doc
    except RecursionError:
        doc.errors.append(ErrorRecord(1, 1, "", f"nested deeper than {MAX_DEPTH} levels"))
        return doc
    if root is None:
        doc.errors.append(
            ErrorRecord(1, 1, "", "the file is empty: expected a mapping with `services:`")
        )
        return doc
    try:
        if "*" in text:  # no `*`, no alias: the tree is its own expansion
            expanded_size(root)
        doc.data = builder.build(root, ())
    except _Rejected as exc:
        line, column = _mark(exc.node)
        doc.errors.append(ErrorRecord(line, column, "", exc.message))
        doc.data = None
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps the builder shallow
        doc.errors.append(ErrorRecord(1, 1, "", f"nested deeper than {MAX_DEPTH} levels"))
        doc.data = None
    return doc
