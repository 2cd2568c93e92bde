"""Telling cancellation apart from failure, and shielding work from it."""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import anyio

T = TypeVar("T")
P = ParamSpec("P")

ExceptionGroup = builtins.ExceptionGroup
"""Python's built-in ``ExceptionGroup``, re-exported so one import line covers everything."""


def get_cancelled_exc_class() -> type[BaseException]:
    """The exception class the running backend uses for cancellation.

    ``asyncio.CancelledError`` on asyncio, ``trio.Cancelled`` on trio.
    """
    return anyio.get_cancelled_exc_class()


def is_cancelled(exc: BaseException) -> bool:
    """Whether ``exc`` is the running backend's cancellation exception."""
    return isinstance(exc, anyio.get_cancelled_exc_class())


def split_cancellation(
    eg: BaseExceptionGroup[BaseException],
) -> tuple[BaseExceptionGroup[BaseException] | None, BaseExceptionGroup[BaseException] | None]:
    """Split ``eg`` into (cancellations, everything else); either part may be ``None``.

    Nesting, tracebacks, causes and notes are kept (this is ``BaseExceptionGroup.split``).
    """
    return eg.split(anyio.get_cancelled_exc_class())


def non_cancel_subgroup(
    eg: BaseExceptionGroup[BaseException],
) -> BaseExceptionGroup[BaseException] | None:
    """The part of ``eg`` that is real failures, or ``None`` if it held only cancellations."""
    return eg.split(anyio.get_cancelled_exc_class())[1]


async def shield(func: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``await func(*args, **kwargs)`` protected from outer cancellation (for cleanup).

    A cancellation that arrives meanwhile is delivered at the next checkpoint after it.
    Bound the work yourself (e.g. with ``fail_after`` inside ``func``): a shielded task
    that never finishes cannot be cancelled.
    """
    with anyio.CancelScope(shield=True):
        result = await func(*args, **kwargs)
    return result
