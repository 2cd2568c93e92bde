"""CompletionStream: results in the order they complete, inside a structured scope."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from supervisor.concurrency._task_group import TaskGroup
from supervisor.concurrency._work import Work, close_unstarted, run_work

T = TypeVar("T")


class CompletionStream(Generic[T]):
    """Run work concurrently and yield ``(index, result)`` pairs as each one completes.

    ``aws`` holds awaitables or zero-argument callables; ``limit`` caps how many run at
    once (``None``: all). Use it as ``async with CompletionStream(aws) as stream:`` then
    ``async for index, result in stream:``; ``index`` is the position in ``aws``. Leaving
    the block (also by ``break`` or an error) cancels the work still running. A failure
    cancels the rest and leaves the block as an ``ExceptionGroup``.
    """

    def __init__(self, aws: Sequence[Work[T]], *, limit: int | None = None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("limit must be >= 1 (or None for no limit)")
        self.aws = aws
        self.limit = limit
        self._completed_count = 0
        self._total_count = len(aws)
        self._group: TaskGroup | None = None
        self._send: MemoryObjectSendStream[tuple[int, T]] | None = None
        self._receive: MemoryObjectReceiveStream[tuple[int, T]] | None = None

    @property
    def completed(self) -> int:
        """How many results have been yielded so far."""
        return self._completed_count

    async def __aenter__(self) -> CompletionStream[T]:
        if self._group is not None:
            raise RuntimeError("a CompletionStream can be entered only once")
        # Room for every result: a finished task never waits for the reader.
        self._send, self._receive = anyio.create_memory_object_stream[tuple[int, T]](
            max(self._total_count, 1)
        )
        self._group = TaskGroup()
        await self._group.__aenter__()
        pending = iter(range(self._total_count))
        workers = self._total_count if self.limit is None else min(self.limit, self._total_count)
        for _ in range(workers):
            self._group.start_soon(self._worker, pending, self._send)
        return self

    async def _worker(
        self, pending: Iterator[int], send: MemoryObjectSendStream[tuple[int, T]]
    ) -> None:
        for index in pending:
            result = await run_work(self.aws[index])
            send.send_nowait((index, result))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool:
        assert self._group is not None and self._send is not None and self._receive is not None
        self._group.cancel_scope.cancel()
        try:
            return await self._group.__aexit__(exc_type, exc_val, exc_tb)
        finally:
            self._send.close()
            self._receive.close()
            close_unstarted(self.aws)

    def __aiter__(self) -> CompletionStream[T]:
        if self._receive is None:
            raise RuntimeError("use CompletionStream inside 'async with' before iterating")
        return self

    async def __anext__(self) -> tuple[int, T]:
        if self._completed_count >= self._total_count or self._receive is None:
            raise StopAsyncIteration
        item = await self._receive.receive()
        self._completed_count += 1
        return item
