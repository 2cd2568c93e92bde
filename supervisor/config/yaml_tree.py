"""Parse YAML into plain data while remembering where every key and value came from.

PyYAML's own loader silently keeps the last of two duplicate keys and expands aliases
without bound (the "billion laughs"); this one rejects both, and interpolates ``${VAR}``,
``${VAR:-default}`` and ``$$`` in string values from the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from supervisor.config.errors import ErrorRecord

Path = tuple[str | int, ...]
"""Where a value sits in the document: mapping keys and sequence indexes."""

MAX_NODES = 100_000
"""Bound on the nodes a document may expand to (aliases counted at each use)."""

_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")


@dataclass
class Document:
    """Plain data of a YAML document and the position of every path in it."""

    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    errors: list[ErrorRecord] = field(default_factory=list)

    def position(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of ``path``, or of its nearest known ancestor."""
        table = self.key_positions if key else self.positions
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if key and prefix in self.key_positions:
                return self.key_positions[prefix]
            if prefix in self.positions:
                return self.positions[prefix]
        return table.get((), (1, 1))


def dotted(path: Path) -> str:
    """``services.api.restart.max_restarts`` (indexes as ``[0]``)."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Builder:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.doc = Document(data=None)
        self.nodes = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def error(self, node: yaml.Node, path: Path, message: str) -> None:
        mark = node.start_mark
        self.doc.errors.append(ErrorRecord(mark.line + 1, mark.column + 1, dotted(path), message))

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge(node)
        self.doc.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.error(key_node, path, "merge keys (<<) are not supported")
                continue
            key = self._scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int | float | bool) or key is None:
                self.error(key_node, path, "expected a plain scalar key")
                continue
            key = str(key) if not isinstance(key, str) else key
            child = (*path, key)
            if key in result:
                first = self.doc.key_positions[child]
                self.error(key_node, child, f"duplicate key (first defined at line {first[0]})")
                continue
            mark = key_node.start_mark
            self.doc.key_positions[child] = (mark.line + 1, mark.column + 1)
            result[key] = self.build(value_node, child)
        return result

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        value = self.constructor.construct_object(node, deep=True)
        if isinstance(value, str) and "$" in value and node.tag == "tag:yaml.org,2002:str":
            return self._interpolate(value, node, path)
        return value

    def _interpolate(self, text: str, node: yaml.Node, path: Path) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            if name in self.environ:
                return self.environ[name]
            if default is not None:
                return default
            self.error(
                node, path, f"environment variable ${{{name}}} is not set and has no default"
            )
            return ""

        return _VAR.sub(replace, text)


class _TooLarge(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


def parse(text: str, environ: Mapping[str, str]) -> Document:
    """Parse one YAML document; syntax errors and bad keys land in ``Document.errors``."""
    builder = _Builder(environ)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        builder.doc.errors.append(ErrorRecord(line, column, "", f"invalid YAML: {problem}"))
        return builder.doc
    except yaml.YAMLError as exc:
        builder.doc.errors.append(ErrorRecord(1, 1, "", f"invalid YAML: {exc}"))
        return builder.doc
    except RecursionError:
        builder.doc.errors.append(ErrorRecord(1, 1, "", "invalid YAML: nested too deeply"))
        return builder.doc
    if root is None:
        builder.doc.errors.append(
            ErrorRecord(1, 1, "", "the file is empty: expected a mapping with `services:`")
        )
        return builder.doc
    try:
        builder.doc.data = builder.build(root, ())
    except RecursionError:
        builder.doc.errors.append(ErrorRecord(1, 1, "", "invalid YAML: nested too deeply"))
        builder.doc.data = None
    except _TooLarge as exc:
        mark = exc.node.start_mark
        builder.doc.errors.append(
            ErrorRecord(
                mark.line + 1,
                mark.column + 1,
                "",
                f"the document expands to more than {MAX_NODES} nodes "
                "(YAML aliases nested too deep?): rejected",
            )
        )
        builder.doc.data = None
    return builder.doc
