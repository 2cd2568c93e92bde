"""Bridges between sync and async code: run_sync, run_async, is_coro_func."""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import anyio
import anyio.to_thread

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def is_coro_func(func: Callable[..., Any]) -> bool:
    """Whether calling ``func`` returns a coroutine: an ``async def`` function or method,
    also behind any number of ``functools.partial`` layers."""
    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func)


async def run_sync(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call the blocking ``func(*args, **kwargs)`` in a worker thread and await its result.

    The event loop keeps running meanwhile. Threads come from anyio's pool (at most 40 at
    once by default); cancelling the caller waits for the call to end, as anyio does.
    """
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


def run_async(coro: Awaitable[T], *, backend: str | None = None) -> T:
    """Run ``coro`` to completion from synchronous code and return its result (or raise).

    With no event loop running in this thread, it runs here on a new loop. Called from
    sync code that an event loop is running (a callback, a sync library hook), it runs on
    a new loop in a fresh thread while this thread waits for it, so it must not need the
    waiting loop. ``backend`` is ``"asyncio"`` or ``"trio"``; by default, the one running in
    this thread, else asyncio.
    """

    async def main() -> T:
        return await coro

    running = _running_backend()
    chosen = backend or running or "asyncio"
    if running is None:
        return anyio.run(main, backend=chosen)
    outcome: list[Any] = []

    def in_thread() -> None:
        try:
            outcome.append((True, anyio.run(main, backend=chosen)))
        except BaseException as exc:
            outcome.append((False, exc))

    thread = threading.Thread(target=in_thread, name="run_async")
    thread.start()
    thread.join()
    succeeded, payload = outcome[0]
    if succeeded:
        return payload  # type: ignore[no-any-return]
    raise payload


def _running_backend() -> str | None:
    """The name of the event loop running in this thread, or ``None``."""
    try:
        asyncio.get_running_loop()
        return "asyncio"
    except RuntimeError:
        pass
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_task()
            return "trio"
        except RuntimeError:
            pass
    return None
