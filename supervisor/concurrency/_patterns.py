"""gather, race and bounded_map: task-group patterns.

``gather`` and ``race`` take their work in either of two forms, and each form keeps the
contract it was written against:

- **awaitables** (coroutine objects, as with asyncio and lionherd-core's library): ``gather``
  raises an ``ExceptionGroup`` of the failures; ``race`` returns or raises whatever
  finishes *first*.
- **zero-argument callables** (``async def`` functions or ``functools.partial`` of them, this
  toolkit's original form, which starts no work outside the structured scope): ``gather``
  raises the first failure as is; ``race`` returns the first *success*, a failing
  contender dropping out.

``except* SomeError`` catches a ``gather`` failure in both forms.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Literal, TypeVar, cast, overload

from supervisor.concurrency._errors import non_cancel_subgroup
from supervisor.concurrency._task_group import create_task_group
from supervisor.concurrency._work import Work, close_unstarted, is_awaitable_form

T = TypeVar("T")
R = TypeVar("R")

_UNSET: Any = object()


@overload
async def gather(*aws: Work[T], return_exceptions: Literal[False] = False) -> list[T]: ...


@overload
async def gather(*aws: Work[T], return_exceptions: bool) -> list[T | BaseException]: ...


async def gather(*aws: Work[T], return_exceptions: bool = False) -> list[Any]:
    """Run every piece of work concurrently; return the results in argument order.

    With ``return_exceptions=True`` nothing is cancelled: a failure takes its place in the
    list. Otherwise the first failure cancels the rest, and is raised inside an
    ``ExceptionGroup`` (awaitables, cancellations left out) or as is (callables).
    Cancellation is never returned as a result: it always propagates.
    """
    if not aws:
        return []
    if is_awaitable_form(aws, "gather"):
        return await _gather_awaitables(cast(tuple[Awaitable[T], ...], aws), return_exceptions)
    return await _gather_callables(
        cast(tuple[Callable[[], Awaitable[T]], ...], aws), return_exceptions
    )


async def _gather_awaitables(
    aws: tuple[Awaitable[T], ...], return_exceptions: bool
) -> list[T | BaseException]:
    results: list[Any] = [_UNSET] * len(aws)

    async def run(index: int, aw: Awaitable[T]) -> None:
        try:
            results[index] = await aw
        except Exception as exc:
            if not return_exceptions:
                raise
            results[index] = exc

    try:
        async with create_task_group() as tg:
            for index, aw in enumerate(aws):
                tg.start_soon(run, index, aw)
    except BaseExceptionGroup as group:
        failures = non_cancel_subgroup(group)
        if failures is None or failures is group:
            raise
        raise failures from None
    finally:
        close_unstarted(aws)
    return results


async def _gather_callables(
    fns: tuple[Callable[[], Awaitable[T]], ...], return_exceptions: bool
) -> list[T | BaseException]:
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


async def race(*aws: Work[T]) -> T:
    """Run every contender concurrently; the winner's outcome is returned, the rest cancelled.

    Awaitables: the first to *finish* wins: its value is returned, or its exception
    raised as is. Callables: the first to *succeed* wins; a contender that fails drops out,
    and if all fail an ``ExceptionGroup`` of their errors is raised.
    """
    if not aws:
        raise ValueError("race() needs at least one contender")
    if is_awaitable_form(aws, "race"):
        return await _race_awaitables(cast(tuple[Awaitable[T], ...], aws))
    return await _race_callables(cast(tuple[Callable[[], Awaitable[T]], ...], aws))


async def _race_awaitables(aws: tuple[Awaitable[T], ...]) -> T:
    outcome: list[tuple[bool, Any]] = []
    try:
        async with create_task_group() as tg:

            async def run(aw: Awaitable[T]) -> None:
                try:
                    value = await aw
                except Exception as exc:
                    if not outcome:
                        outcome.append((False, exc))
                        tg.cancel_scope.cancel()
                    return
                if not outcome:
                    outcome.append((True, value))
                    tg.cancel_scope.cancel()

            for aw in aws:
                tg.start_soon(run, aw)
    finally:
        close_unstarted(aws)
    succeeded, payload = outcome[0]
    if succeeded:
        return payload  # type: ignore[no-any-return]
    raise payload


async def _race_callables(fns: tuple[Callable[[], Awaitable[T]], ...]) -> T:
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


@overload
async def bounded_map(
    func: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    limit: int,
    return_exceptions: Literal[False] = False,
) -> list[R]: ...


@overload
async def bounded_map(
    func: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    limit: int,
    return_exceptions: bool,
) -> list[R | BaseException]: ...


async def bounded_map(
    func: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    limit: int,
    return_exceptions: bool = False,
) -> list[Any]:
    """Apply ``func`` to every item, at most ``limit`` at once; results keep the items' order.

    A fixed pool of ``limit`` workers pulls the items (no task per item, bounded memory).
    The first failure cancels the work in flight and is raised as is; with
    ``return_exceptions=True`` failures take their place in the list instead.
    """
    if limit < 1:
        raise ValueError("limit must be >= 1")
    work: Sequence[T] = items if isinstance(items, Sequence) else list(items)
    results: list[Any] = [_UNSET] * len(work)
    next_index = iter(range(len(work)))
    first_error: list[Exception] = []

    async with create_task_group() as tg:

        async def worker() -> None:
            for index in next_index:
                try:
                    results[index] = await func(work[index])
                except Exception as exc:
                    if return_exceptions:
                        results[index] = exc
                        continue
                    if not first_error:
                        first_error.append(exc)
                    tg.cancel_scope.cancel()
                    return

        for _ in range(min(limit, len(work))):
            tg.start_soon(worker)

    if first_error:
        raise first_error[0]
    return results
