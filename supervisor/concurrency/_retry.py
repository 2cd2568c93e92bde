"""retry: exponential backoff with jitter that respects the enclosing deadline."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from itertools import count
from typing import TypeVar

import anyio

from supervisor.concurrency._cancel import current_time, effective_deadline, sleep

T = TypeVar("T")

ErrorTypes = type[BaseException] | tuple[type[BaseException], ...]


async def retry(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int = 3,
    base_delay: float = 0.1,
    max_delay: float = 2.0,
    retry_on: ErrorTypes = (Exception,),
    jitter: float = 0.1,
    multiplier: float = 2.0,
    backoff: float | None = None,
    max_backoff: float | None = None,
) -> T:
    """Await ``fn()`` up to ``attempts`` times, sleeping between tries; return its result.

    The n-th wait is ``min(max_delay, base_delay * multiplier**(n-1))``, stretched by a
    random factor in ``[1, 1 + jitter)``. Only errors matching ``retry_on`` are retried;
    others, and cancellation, propagate at once. After the last attempt its error is
    raised. The wait never runs past the enclosing cancel scopes' deadline
    (:func:`effective_deadline`): when the next wait would, the last error is raised now.

    ``backoff`` and ``max_backoff`` are this toolkit's earlier names for ``base_delay`` and
    ``max_delay``, still accepted.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    delay = _alias(base_delay, backoff, "base_delay", "backoff", 0.1)
    cap = _alias(max_delay, max_backoff, "max_delay", "max_backoff", 2.0)
    if min(delay, cap, jitter) < 0 or multiplier < 1:
        raise ValueError("delays and jitter must be >= 0, multiplier >= 1")
    delay = min(delay, cap)
    cancelled = anyio.get_cancelled_exc_class()
    for attempt in count(1):
        try:
            return await fn()
        except retry_on as exc:
            if isinstance(exc, cancelled) or attempt >= attempts:
                raise
            wait = delay * (1 + random.random() * jitter) if jitter else delay
            deadline = effective_deadline()
            if deadline is not None and current_time() + wait >= deadline:
                raise
        await sleep(wait)
        # Grown step by step and capped each time: never overflows, whatever ``attempts``.
        delay = min(delay * multiplier, cap)
    raise AssertionError("unreachable")  # pragma: no cover


def _alias(value: float, old: float | None, name: str, old_name: str, default: float) -> float:
    if old is None:
        return value
    if value != default:
        raise TypeError(f"retry() got both {name}= and its old name {old_name}=")
    return old
