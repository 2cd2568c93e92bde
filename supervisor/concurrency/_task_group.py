"""A thin, typed wrapper over anyio's task group."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any

import anyio
import anyio.abc


class TaskGroup:
    """A group of tasks that all finish (or are cancelled) before the ``async with`` exits.

    A task that raises cancels its siblings; the failures surface as an ``ExceptionGroup``
    (so ``except*`` works). Use :func:`create_task_group` to make one.
    """

    __slots__ = ("_tg",)

    def __init__(self) -> None:
        self._tg: anyio.abc.TaskGroup = anyio.create_task_group()

    @property
    def cancel_scope(self) -> anyio.CancelScope:
        """The scope covering every task in the group: cancel it, or give it a deadline."""
        return self._tg.cancel_scope

    def start_soon(
        self,
        func: Callable[..., Coroutine[Any, Any, Any]],
        *args: Any,
        name: object = None,
    ) -> None:
        """Start ``func(*args)`` as a task without waiting for it.

        ``name`` becomes the task's real name (``anyio.get_current_task().name``).
        """
        self._tg.start_soon(func, *args, name=name)

    async def start(
        self,
        func: Callable[..., Coroutine[Any, Any, Any]],
        *args: Any,
        name: object = None,
    ) -> Any:
        """Start ``func(*args, task_status=...)`` and wait until it calls ``task_status.started()``.

        Returns the value passed to ``task_status.started(value)``. If the task fails or
        returns before calling ``started()``, the error is raised here.
        """
        return await self._tg.start(func, *args, name=name)

    async def __aenter__(self) -> TaskGroup:
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool:
        return bool(await self._tg.__aexit__(exc_type, exc_val, exc_tb))


def create_task_group() -> TaskGroup:
    """Return a new :class:`TaskGroup`, to be used with ``async with``."""
    return TaskGroup()
