"""The two ways of handing work to the patterns: awaitables, or zero-argument callables."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeAlias, TypeVar

T = TypeVar("T")

Work: TypeAlias = Awaitable[T] | Callable[[], Awaitable[T]]
"""An awaitable (a coroutine object, ...) or a zero-argument callable returning one."""


def is_awaitable_form(items: tuple[Any, ...], caller: str) -> bool:
    """``True`` if every item is an awaitable, ``False`` if every item is a callable.

    A mix, or an item that is neither, is a ``TypeError`` (and the coroutine objects among
    the items are closed, so Python does not warn that they were never awaited).
    """
    awaitable = [inspect.isawaitable(item) for item in items]
    if all(awaitable):
        return True
    if not any(awaitable) and all(callable(item) for item in items):
        return False
    close_unstarted(items)
    for bad in items:
        if inspect.isawaitable(bad) or callable(bad):
            continue
        raise TypeError(
            f"{caller}() takes awaitables or zero-argument callables, got {type(bad).__name__}"
        )
    raise TypeError(f"{caller}() takes either awaitables or callables, not a mix of both")


async def run_work(work: Work[T]) -> T:
    """Await ``work``: the awaitable itself, or what the callable returns."""
    if inspect.isawaitable(work):
        return await work
    return await work()


def close_unstarted(items: Iterable[Any]) -> None:
    """Close every coroutine object among ``items`` that never started running.

    A coroutine whose task was cancelled before its first step is never awaited; closing
    it is what awaiting it would have cleaned up, without the "never awaited" warning.
    """
    for item in items:
        if inspect.iscoroutine(item) and inspect.getcoroutinestate(item) == inspect.CORO_CREATED:
            item.close()
