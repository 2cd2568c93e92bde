"""Scalar values of the service file: durations, signals, commands, paths, user ids.

Each type is an ``Annotated`` type whose validator raises ``ValueError`` with the words
shown after the key path (``expected ...``); the loader adds ``, got <the value as
written>``. A check that must point at one key inside the value (or, from a model
validator, at one of its keys) raises :func:`rule_error` instead.
"""

from __future__ import annotations

import math
import re
import shlex
import signal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, ValidationError, WithJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

RULE_ERROR = "config_rule"
"""Pydantic error type of :func:`rule_error`."""


def rule_error(model: str, key: str | int, message: str, value: Any = None) -> ValidationError:
    """A validation error at ``key`` of the data being validated.

    Raised from a validator, pydantic places it under the validator's own location, so
    a model validator can point at the one key that is wrong (pydantic-core #510). The
    loader adds ``, got <value as written>`` when ``value`` is given.
    """
    return ValidationError.from_exception_data(
        model,
        [
            InitErrorDetails(
                type=PydanticCustomError(RULE_ERROR, message),
                loc=(key,),
                input=value,
            )
        ],
    )


_DURATION_RE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h)\s*)+$|^\s*\d+(?:\.\d+)?\s*$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_DURATION_HINT = "expected a duration such as 250ms, 5s, 2m, 1h, 1m30s or a number of seconds"


def parse_duration(value: Any) -> float:
    """Turn ``250ms``, ``5s``, ``2m``, ``1h``, ``1m30s`` or a number of seconds into seconds."""
    if isinstance(value, bool):
        raise ValueError(_DURATION_HINT)
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer past the largest float
            raise ValueError("expected a finite duration") from None
    elif isinstance(value, str) and _DURATION_RE.match(value):
        seconds = sum(
            float(number) * _UNIT_SECONDS[unit or None]
            for number, unit in _DURATION_PART.findall(value)
        )
    else:
        raise ValueError(_DURATION_HINT)
    if not math.isfinite(seconds):
        raise ValueError("expected a finite duration")
    if seconds < 0:
        raise ValueError("expected a duration >= 0")
    return seconds


def format_duration(seconds: float) -> str:
    """``100ms``, ``1.5s`` or ``90s``: a duration as a person would write it back."""
    return f"{seconds * 1000:g}ms" if 0 < seconds < 1 else f"{seconds:g}s"


def parse_signal(value: Any) -> signal.Signals:
    """Turn ``SIGTERM``, ``TERM``, ``sigterm`` or a signal number (``15``, ``"15"``) into a
    ``signal.Signals``."""
    if isinstance(value, signal.Signals):
        return value
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) < 10:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return signal.Signals(value)
        except ValueError:
            pass
    elif isinstance(value, str):
        name = value.strip().upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        if name in signal.Signals.__members__:
            return signal.Signals[name]
    raise ValueError("expected a signal name such as SIGTERM, SIGINT, SIGQUIT, SIGHUP or SIGKILL")


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _DURATION_RE.pattern},
                {"type": "number", "minimum": 0},
            ],
            "description": "A duration: 250ms, 5s, 2m, 1h, 1m30s or a number of seconds.",
        }
    ),
]
"""A duration in seconds, written ``250ms``, ``5s``, ``2m``, ``1h``, ``1m30s`` or as a number."""


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SIZE_HINT = "expected a size such as 512KB, 50MB, 1GB or a number of bytes"
MAX_SIZE = 2**62
"""Largest size accepted (bytes)."""


def parse_size(value: Any) -> int:
    """Turn ``512KB``, ``50MB``, ``1GB`` (powers of 1024, as in supervisord; ``KiB`` and
    ``K`` too) or a number of bytes into bytes."""
    if isinstance(value, bool):
        raise ValueError(_SIZE_HINT)
    if isinstance(value, int):
        size = value
    elif isinstance(value, float) and math.isfinite(value):
        size = int(value)
    elif isinstance(value, str) and (match := _SIZE_RE.match(value)):
        number, unit = match.groups()
        if len(number) > 30:
            raise ValueError(f"expected a size up to {MAX_SIZE} bytes")
        size = int(float(number) * _SIZE_UNITS[(unit or "")[:1].lower()])
    else:
        raise ValueError(_SIZE_HINT)
    if size < 0:
        raise ValueError("expected a size >= 0")
    if size > MAX_SIZE:
        raise ValueError(f"expected a size up to {MAX_SIZE} bytes")
    return size


Size = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _SIZE_RE.pattern},
                {"type": "integer", "minimum": 0},
            ],
            "description": "A size: 512KB, 50MB, 1GB (powers of 1024) or a number of bytes.",
        }
    ),
]
"""A size in bytes, written ``512KB``, ``50MB``, ``1GB`` or as a number of bytes."""


def _stop_signal(value: Any) -> signal.Signals:
    stop = parse_signal(value)
    if stop == signal.SIGSTOP:
        raise ValueError(
            "SIGSTOP suspends a process instead of ending it: expected a signal such as "
            "SIGTERM, SIGINT, SIGQUIT or SIGKILL"
        )
    return stop


_STOP_SIGNALS = {
    name: number for name, number in signal.Signals.__members__.items() if number != signal.SIGSTOP
}

StopSignal = Annotated[
    signal.Signals,
    BeforeValidator(_stop_signal),
    PlainSerializer(lambda s: s.name, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "enum": sorted(_STOP_SIGNALS)},
                {"type": "integer", "enum": sorted({int(s) for s in _STOP_SIGNALS.values()})},
            ],
            "description": "A signal name such as SIGTERM (or its number).",
        }
    ),
]
"""A signal that ends a process, by name (``SIGTERM``, ``TERM``) or number (not SIGSTOP)."""


def _number_as_text(value: Any) -> Any:
    # `command: [sleep, 5]` and `env: {PORT: 8000}`: a number is the text it was written as.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_number_as_text)]
"""A string; a number given instead is taken as its text (``5`` -> ``"5"``)."""


def _path_text(value: Any) -> Any:
    if isinstance(value, list | dict) or value is None:
        raise ValueError("expected a path (a string)")
    if not isinstance(value, str):  # `cwd: 2020`: YAML read a number
        raise ValueError("expected a path (a string; quote it)")
    return value


PathText = Annotated[str, BeforeValidator(_path_text), WithJsonSchema({"type": "string"})]
"""A file system path: a string (``cwd: 5`` is an error, not the directory ``5``)."""


def check_command(value: Any, *, split: bool) -> Any:
    """Check a command (``command:`` or an ``exec`` probe) before it is validated.

    A string must split like a shell would split it (and is split when ``split``); a
    list must name its program as a string: ``command: 42`` or ``[42, x]`` is an error,
    not a program named ``42``. Arguments after the program may be numbers (their text).
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split {value!r} like a shell: {exc}") from None
        if not words:
            raise ValueError("expected a non-empty command")
        return words if split else value
    if not isinstance(value, list | tuple):
        raise ValueError("expected a command: a list of strings or one string")
    if not value:
        raise ValueError("expected a non-empty command")
    if not isinstance(value[0], str):
        raise rule_error("command", 0, "expected a program name (a string)", value[0])
    return list(value)


MAX_ID = 2**32 - 2
"""Largest uid or gid (``2**32 - 1`` is ``(uid_t) -1``, which means "unchanged")."""


def _account(kind: str, number: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            if value.isdecimal() and (len(value) > 10 or int(value) > MAX_ID):
                raise ValueError(f"expected a {kind} name or a {number} from 0 to {MAX_ID}")
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID:
            return value
        raise ValueError(f"expected a {kind} name or a {number} from 0 to {MAX_ID}")

    return check


UserId = Annotated[
    str | int,
    BeforeValidator(_account("user", "uid")),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            ]
        }
    ),
]
"""A user name or a uid (never negative: ``-1`` would mean "do not change the user")."""

GroupId = Annotated[
    str | int,
    BeforeValidator(_account("group", "gid")),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            ]
        }
    ),
]
"""A group name or a gid."""
