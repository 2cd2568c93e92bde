"""Pydantic's validation errors as records at the key or value they concern.

Pydantic reports a location (``loc``) in its own terms: union tags, model names, and
messages written for programmers. Here each error becomes ``file:line:column:
key.path: expected ...``, with the value as it was written and a did-you-mean for an
unknown key.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import pydantic
from pydantic_core import ErrorDetails

from supervisor.config.errors import ErrorRecord, did_you_mean
from supervisor.config.models import ConfigFile
from supervisor.config.yaml_tree import Document, Path, child, dotted


def _data_path(loc: tuple[int | str, ...], data: Any) -> Path:
    """Keep the parts of pydantic's ``loc`` that are real keys (drop union tags)."""
    path: list[str | int] = []
    for part in loc:
        found, item = child(data, part)
        if found:
            data = item
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


def translate_error(error: ErrorDetails, doc: Document) -> ErrorRecord:
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
