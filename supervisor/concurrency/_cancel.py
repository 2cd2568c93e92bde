"""Cancellation, deadlines and time.

The classic trap: a deadline set on a scope (``tg.cancel_scope.deadline = ...`` or
:func:`move_on_after`) cancels *silently*: the block just ends. Only :func:`fail_after` and
:func:`fail_at` raise ``TimeoutError``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")

CancelScope = anyio.CancelScope
"""A scope that can be cancelled, given a deadline, or shielded from outer cancellation."""


def current_time() -> float:
    """The event loop's clock, in seconds (the clock deadlines are expressed in)."""
    return anyio.current_time()


def get_cancelled_exc_class() -> type[BaseException]:
    """The exception class the running backend uses for cancellation."""
    return anyio.get_cancelled_exc_class()


async def sleep(delay: float) -> None:
    """Sleep for ``delay`` seconds (a checkpoint: cancellation is delivered here)."""
    await anyio.sleep(delay)


async def sleep_until(deadline: float) -> None:
    """Sleep until the loop clock reaches ``deadline``."""
    await anyio.sleep_until(deadline)


async def sleep_forever() -> None:
    """Sleep until cancelled."""
    await anyio.sleep_forever()


def move_on_after(delay: float | None, *, shield: bool = False) -> anyio.CancelScope:
    """A scope that silently stops its block after ``delay`` seconds (no exception).

    Check ``scope.cancelled_caught`` afterwards to know whether the deadline hit.
    """
    return anyio.move_on_after(delay, shield=shield)


def move_on_at(deadline: float | None, *, shield: bool = False) -> anyio.CancelScope:
    """A scope that silently stops its block at ``deadline`` (loop clock)."""
    return anyio.CancelScope(deadline=float("inf") if deadline is None else deadline, shield=shield)


def fail_after(delay: float | None, *, shield: bool = False) -> Any:
    """A context manager that raises ``TimeoutError`` if its block runs past ``delay``."""
    return anyio.fail_after(delay, shield=shield)


def fail_at(deadline: float | None, *, shield: bool = False) -> Any:
    """A context manager that raises ``TimeoutError`` if its block runs past ``deadline``."""
    delay = None if deadline is None else deadline - anyio.current_time()
    return anyio.fail_after(delay, shield=shield)


async def shield(func: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``await func(*args)`` protected from outer cancellation (for cleanup work).

    Bound it yourself (e.g. with :func:`fail_after` inside ``func``): a shielded task that
    never finishes cannot be cancelled.
    """
    with anyio.CancelScope(shield=True):
        result = await func(*args)
    return result
