"""Cancellation scopes, deadlines and time.

The classic trap: a deadline set on a scope (``tg.cancel_scope.deadline = ...`` or
:func:`move_on_after`) cancels *silently*: the block just ends. Only :func:`fail_after` and
:func:`fail_at` raise ``TimeoutError``.

Every scope helper is a plain (synchronous) ``with`` context manager yielding an
``anyio.CancelScope``; ``None`` for the delay or deadline gives a scope without deadline
that can still be cancelled by hand or from outside.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager

import anyio

CancelScope = anyio.CancelScope
"""A scope that can be cancelled, given a deadline, or shielded from outer cancellation."""


def current_time() -> float:
    """The event loop's monotonic clock, in seconds (the clock deadlines are expressed in)."""
    return anyio.current_time()


async def sleep(seconds: float) -> None:
    """Sleep for ``seconds`` (a checkpoint: cancellation is delivered here)."""
    await anyio.sleep(seconds)


async def sleep_until(deadline: float) -> None:
    """Sleep until the loop clock reaches ``deadline``."""
    await anyio.sleep_until(deadline)


async def sleep_forever() -> None:
    """Sleep until cancelled."""
    await anyio.sleep_forever()


def move_on_after(seconds: float | None, *, shield: bool = False) -> anyio.CancelScope:
    """A scope that silently stops its block after ``seconds`` (no exception).

    Check ``scope.cancelled_caught`` afterwards to know whether the deadline hit.
    """
    return anyio.move_on_after(seconds, shield=shield)


def move_on_at(deadline: float | None, *, shield: bool = False) -> anyio.CancelScope:
    """A scope that silently stops its block at ``deadline`` (loop clock); a past one at once."""
    return anyio.move_on_at(deadline, shield=shield)


def fail_after(
    seconds: float | None, *, shield: bool = False
) -> AbstractContextManager[anyio.CancelScope]:
    """A context manager that raises ``TimeoutError`` if its block runs past ``seconds``."""
    return anyio.fail_after(seconds, shield=shield)


def fail_at(
    deadline: float | None, *, shield: bool = False
) -> AbstractContextManager[anyio.CancelScope]:
    """A context manager that raises ``TimeoutError`` if its block runs past ``deadline``.

    A deadline already in the past times out at the block's first checkpoint.
    """
    return anyio.fail_at(deadline, shield=shield)


def effective_deadline() -> float | None:
    """The nearest deadline of the enclosing cancel scopes (loop clock), or ``None`` if none.

    ``-inf`` means the current scope is already cancelled.
    """
    deadline = anyio.current_effective_deadline()
    return None if deadline == math.inf else deadline
