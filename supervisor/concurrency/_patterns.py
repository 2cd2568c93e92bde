"""Higher-level patterns on task groups: gather, race, bounded_map, retry.

Each takes *callables* (``async def`` functions, or ``functools.partial`` of them), not
coroutine objects, so that work only starts inside the structured scope.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import anyio

from supervisor.concurrency._task_group import create_task_group

T = TypeVar("T")
R = TypeVar("R")

_UNSET: Any = object()


async def gather(
    *fns: Callable[[], Awaitable[T]], return_exceptions: bool = False
) -> list[T | BaseException] | list[T]:
    """Run every ``fn()`` concurrently and return their results in argument order.

    The first failure cancels the others and is raised as is (so plain ``except`` and
    ``except*`` both catch it). With ``return_exceptions=True`` nothing is cancelled: a
    failure takes its place in the result list.
    """
    results: list[Any] = [_UNSET] * len(fns)
    first_error: list[Exception] = []

    async with create_task_group() as tg:

        async def run(index: int, fn: Callable[[], Awaitable[T]]) -> None:
            try:
                results[index] = await fn()
            except Exception as exc:
                if return_exceptions:
                    results[index] = exc
                    return
                if not first_error:
                    first_error.append(exc)
                tg.cancel_scope.cancel()

        for index, fn in enumerate(fns):
            tg.start_soon(run, index, fn)

    if first_error:
        raise first_error[0]
    return results


async def race(*fns: Callable[[], Awaitable[T]]) -> T:
    """Run every ``fn()`` concurrently; the first to *succeed* wins and the rest are cancelled.

    A contender that fails drops out of the race. If all fail, an ``ExceptionGroup`` of
    their errors is raised.
    """
    if not fns:
        raise ValueError("race() needs at least one contender")
    winner: list[T] = []
    errors: list[Exception] = []

    async with create_task_group() as tg:

        async def run(fn: Callable[[], Awaitable[T]]) -> None:
            try:
                value = await fn()
            except Exception as exc:
                errors.append(exc)
                return
            if not winner:
                winner.append(value)
                tg.cancel_scope.cancel()

        for fn in fns:
            tg.start_soon(run, fn)

    if winner:
        return winner[0]
    raise ExceptionGroup("every contender of race() failed", errors)


async def bounded_map(
    fn: Callable[[T], Awaitable[R]], items: Iterable[T], *, limit: int
) -> list[R]:
    """Apply ``fn`` to every item, at most ``limit`` at once; results keep the items' order.

    The first failure cancels the work in flight and is raised as is.
    """
    if limit < 1:
        raise ValueError("limit must be >= 1")
    work: Sequence[T] = items if isinstance(items, Sequence) else list(items)
    results: list[Any] = [_UNSET] * len(work)
    next_index = iter(range(len(work)))
    first_error: list[Exception] = []

    async with create_task_group() as tg:

        async def worker() -> None:
            # A fixed pool of workers pulling indexes: no task per item, bounded memory.
            for index in next_index:
                try:
                    results[index] = await fn(work[index])
                except Exception as exc:
                    if not first_error:
                        first_error.append(exc)
                    tg.cancel_scope.cancel()
                    return

        for _ in range(min(limit, len(work))):
            tg.start_soon(worker)

    if first_error:
        raise first_error[0]
    return results


async def retry(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int = 3,
    backoff: float = 0.1,
    multiplier: float = 2.0,
    max_backoff: float = 30.0,
    jitter: float = 0.0,
    retry_on: type[Exception] | tuple[type[Exception], ...] = Exception,
) -> T:
    """Await ``fn()`` up to ``attempts`` times, sleeping between tries.

    The delay starts at ``backoff`` seconds and is multiplied by ``multiplier`` after each
    failure, capped at ``max_backoff``; ``jitter`` adds a random +/- fraction. Only errors
    matching ``retry_on`` are retried; the last one is raised. Cancellation is never retried.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    delay = backoff
    for attempt in range(1, attempts + 1):
        try:
            return await fn()
        except retry_on:
            if attempt == attempts:
                raise
        spread = delay * jitter
        await anyio.sleep(max(0.0, delay + random.uniform(-spread, spread)))
        delay = min(delay * multiplier, max_backoff)
    raise AssertionError("unreachable")  # pragma: no cover
