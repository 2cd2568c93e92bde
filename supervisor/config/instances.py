"""Per-instance variables: ``${PORT}`` and ``${REPLICA}`` in a service's definition.

A service with ``port: P`` gets ``PORT = P + index`` (P when not replicated) and one with
``replicas: N`` gets ``REPLICA = index``. They differ per instance, so the loader leaves
``${PORT}`` and ``${REPLICA}`` as written inside ``services:`` (the environment does not
supply them), and :func:`instantiate` substitutes them when an instance is made. In a
service that does not own a variable (no ``port:``, no ``replicas:``), the reference is
resolved from the environment when the file is loaded, like any other ``${VAR}``
(:func:`resolve_unowned`). ``$${PORT}`` is a literal ``${PORT}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

INSTANCE_VARS = ("PORT", "REPLICA")
"""The variables that take a value per instance."""

_REF = re.compile(r"\$(\$)?\{(PORT|REPLICA)(?::-([^}]*))?\}")
_ESCAPED_AHEAD = re.compile(r"\{(?:PORT|REPLICA)(?::-[^}]*)?\}")

SAMPLE_VALUES = {"PORT": "1", "REPLICA": "0"}
"""Values a reference stands for when a template is validated (a valid port, an index)."""


def kept_escape(text: str, end: int) -> bool:
    """Whether the ``$$`` ending at ``end`` escapes an instance reference (kept as is)."""
    return _ESCAPED_AHEAD.match(text, end) is not None


def has_refs(text: str) -> bool:
    """Whether ``text`` holds an instance reference (or its escape)."""
    return _REF.search(text) is not None


def substitute(
    text: str,
    values: Mapping[str, str],
    missing: Callable[[str, str | None], str] | None = None,
) -> str:
    """``text`` with the references to ``values`` replaced; ``$${NAME}`` becomes ``${NAME}``.

    A reference to a variable not in ``values`` is left as written, or replaced by
    ``missing(name, default)`` when that is given (escapes of it are then undone too).
    """

    def replace(match: re.Match[str]) -> str:
        escaped, name, default = match.group(1), match.group(2), match.group(3)
        owned = name in values
        if escaped:
            return match.group(0)[1:] if owned or missing is not None else match.group(0)
        if owned:
            return values[name]
        return match.group(0) if missing is None else missing(name, default)

    return _REF.sub(replace, text) if "$" in text else text


def sample(text: str) -> str:
    """``text`` as one instance could see it, for checking a template (``host:${PORT}``)."""
    return substitute(text, SAMPLE_VALUES)


def instance_values(port: int | None, replicas: int | None, index: int | None) -> dict[str, str]:
    """The variables of one instance (``index`` is ``None`` when not replicated)."""
    values: dict[str, str] = {}
    if port is not None:
        values["PORT"] = str(port + (index or 0))
    if replicas is not None and index is not None:
        values["REPLICA"] = str(index)
    return values


def substitute_all(value: Any, values: Mapping[str, str]) -> Any:
    """``value`` with every string in it (in lists, dicts, models) substituted."""
    from pydantic import BaseModel

    if type(value) is str:
        return substitute(value, values)
    if isinstance(value, list):
        return [substitute_all(item, values) for item in value]
    if isinstance(value, tuple):
        return tuple(substitute_all(item, values) for item in value)
    if isinstance(value, dict):
        return {key: substitute_all(item, values) for key, item in value.items()}
    if isinstance(value, BaseModel):
        update = {}
        for key in type(value).model_fields:
            current = getattr(value, key)
            changed = substitute_all(current, values)
            if changed is not current and changed != current:
                update[key] = changed
        return value.model_copy(update=update) if update else value
    return value


def resolve_unowned(
    text: str,
    owned: set[str],
    environ: Mapping[str, str],
    report: Callable[[str], None],
) -> str:
    """Resolve references to variables a service does not own, from ``environ``.

    ``report`` is called with a message for a variable that is unset and has no default.
    """

    def missing(name: str, default: str | None) -> str:
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        hint = "port: P" if name == "PORT" else "replicas: N"
        report(
            f"environment variable ${{{name}}} is not set and has no default "
            f"(a service with `{hint}` sets it per instance)"
        )
        return ""

    def replace(match: re.Match[str]) -> str:
        if match.group(2) in owned:
            return match.group(0)  # set per instance
        return substitute(match.group(0), {}, missing)

    return _REF.sub(replace, text) if "$" in text else text
