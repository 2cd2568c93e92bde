"""Every name of lionherd-core's concurrency library is ours too, with a compatible signature.

``SEED`` is the public surface of ``lionherd_core.libs.concurrency`` as its API reference
documents it: each callable's parameters (names, kinds, defaults) written as a lambda
parameter list. ``ours`` must accept every call that signature accepts: the same
parameters in the same order, with the same defaults (a parameter the seed requires may
have a default here), and any extra parameter optional.
"""

from __future__ import annotations

import builtins
import inspect
from typing import Any

import anyio
import pytest

import supervisor.concurrency as concurrency

SEED: dict[str, str | None] = {
    # name: documented parameters, or None for a class/value compared by identity below
    "CancelScope": None,
    "CapacityLimiter": "total_tokens",
    "CompletionStream": "aws, *, limit=None",
    "ConcurrencyEvent": "",
    "Condition": "lock=None",
    "Event": "",
    "ExceptionGroup": None,
    "LeakInfo": "name, kind, created_at",
    "LeakTracker": "",
    "Lock": "",
    "PriorityQueue": "maxsize=0",
    "Queue": None,
    "QueueEmpty": None,
    "QueueFull": None,
    "Semaphore": "initial_value",
    "TaskGroup": "tg",
    "bounded_map": "func, items, *, limit, return_exceptions=False",
    "create_task_group": "",
    "current_time": "",
    "effective_deadline": "",
    "fail_after": "seconds",
    "fail_at": "deadline",
    "gather": "*aws, return_exceptions=False",
    "get_cancelled_exc_class": "",
    "is_cancelled": "exc",
    "is_coro_func": "func",
    "move_on_after": "seconds",
    "move_on_at": "deadline",
    "non_cancel_subgroup": "eg",
    "race": "*aws",
    "retry": (
        "fn, *, attempts=3, base_delay=0.1, max_delay=2.0, retry_on=(Exception,), jitter=0.1"
    ),
    "run_async": "coro",
    "run_sync": "func, *args, **kwargs",
    "shield": "func, *args, **kwargs",
    "sleep": "seconds",
    "track_resource": "obj, name=None, kind=None",
    "untrack_resource": "obj",
}

# Methods the seed documents on its classes, with their parameters (after ``self``).
SEED_METHODS: dict[str, dict[str, str]] = {
    "Queue": {
        "with_maxsize": "maxsize",
        "put": "item",
        "put_nowait": "item",
        "get": "",
        "get_nowait": "",
        "close": "",
    },
    "PriorityQueue": {
        "put": "item",
        "put_nowait": "item",
        "get": "",
        "get_nowait": "",
        "qsize": "",
        "empty": "",
        "full": "",
    },
    "LeakTracker": {
        "track": "obj, *, name, kind",
        "untrack": "obj",
        "live": "",
        "clear": "",
    },
    "TaskGroup": {"start_soon": "func, *args, name=None", "start": "func, *args, name=None"},
    "CapacityLimiter": {
        "acquire": "",
        "release": "",
        "acquire_on_behalf_of": "borrower",
        "release_on_behalf_of": "borrower",
    },
    "Condition": {"wait": "", "notify": "n=1", "notify_all": ""},
}

ASYNC_METHODS = {
    ("Queue", "put"),
    ("Queue", "get"),
    ("Queue", "close"),
    ("PriorityQueue", "put"),
    ("PriorityQueue", "put_nowait"),
    ("PriorityQueue", "get"),
    ("PriorityQueue", "get_nowait"),
    ("TaskGroup", "start"),
    ("CapacityLimiter", "acquire"),
    ("CapacityLimiter", "acquire_on_behalf_of"),
    ("Condition", "wait"),
}


def _documented(params: str) -> inspect.Signature:
    return inspect.signature(eval(f"lambda {params}: None"))


def _assert_accepts(ours: inspect.Signature, seed: inspect.Signature, what: str) -> None:
    """``ours`` accepts every call ``seed`` accepts (names, kinds, order, defaults)."""
    mine = list(ours.parameters.values())
    theirs = list(seed.parameters.values())
    assert [p.name for p in mine[: len(theirs)]] == [p.name for p in theirs], what
    for m, t in zip(mine, theirs, strict=False):
        assert m.kind == t.kind, f"{what}: {m.name} is {m.kind}, documented {t.kind}"
        if t.default is not inspect.Parameter.empty:
            assert m.default == t.default, f"{what}: default of {m.name}"
    for extra in mine[len(theirs) :]:
        optional = extra.default is not inspect.Parameter.empty or extra.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        )
        assert optional, f"{what}: extra parameter {extra.name} must be optional"


def test_every_seed_name_is_exported_and_listed_in_all() -> None:
    for name in SEED:
        assert hasattr(concurrency, name), name
        assert name in concurrency.__all__, name


@pytest.mark.parametrize("name", [name for name, params in SEED.items() if params is not None])
def test_signature_accepts_every_documented_call(name: str) -> None:
    ours = getattr(concurrency, name)
    _assert_accepts(inspect.signature(ours), _documented(SEED[name] or ""), name)


@pytest.mark.parametrize(
    ("cls", "method"),
    [(cls, method) for cls, methods in SEED_METHODS.items() for method in methods],
)
def test_documented_methods_exist_with_compatible_signatures(cls: str, method: str) -> None:
    ours = getattr(getattr(concurrency, cls), method)
    signature = inspect.signature(ours)
    if "self" in signature.parameters:
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    _assert_accepts(signature, _documented(SEED_METHODS[cls][method]), f"{cls}.{method}")
    assert inspect.iscoroutinefunction(ours) == ((cls, method) in ASYNC_METHODS)


def test_values_and_exception_classes() -> None:
    assert concurrency.CancelScope is anyio.CancelScope
    assert concurrency.ExceptionGroup is builtins.ExceptionGroup
    assert concurrency.ConcurrencyEvent is concurrency.Event
    for name in ("QueueEmpty", "QueueFull"):
        assert issubclass(getattr(concurrency, name), Exception)
    assert issubclass(concurrency.Queue, object)


def test_every_export_of_ours_has_a_docstring() -> None:
    undocumented: list[str] = []
    for name in concurrency.__all__:
        value: Any = getattr(concurrency, name)
        ours = getattr(value, "__module__", "").startswith("supervisor.")
        if ours and callable(value) and not (inspect.getdoc(value) or "").strip():
            undocumented.append(name)
    assert undocumented == []


def test_the_signature_check_rejects_incompatible_signatures() -> None:
    """The checker above can fail: a renamed, reordered or re-defaulted parameter is caught."""
    seed = _documented("seconds, *, shield=False")
    for wrong in ("delay, *, shield=False", "seconds, *, shield=True", "*, seconds, shield=False"):
        with pytest.raises(AssertionError):
            _assert_accepts(_documented(wrong), seed, "wrong")
    with pytest.raises(AssertionError):
        _assert_accepts(_documented("seconds, *, shield=False, extra"), seed, "required extra")
