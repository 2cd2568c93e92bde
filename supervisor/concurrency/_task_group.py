"""Our task group: anyio's own, by delegation, so nothing anyio offers is hidden.

``TaskGroup`` *is* an ``anyio.abc.TaskGroup`` (it subclasses the abstract class), so every
concrete method anyio defines there comes along unchanged: ``start_soon`` (returning a task
handle), ``cancel(reason)``, and whatever later versions add. The abstract methods, the only
ones a backend implements, are forwarded to the real backend group. Anything else a backend
group exposes is reachable through attribute delegation, and an abstract method added by a
newer anyio than this module knows is forwarded too (see :func:`_forward_abstract`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextvars import Context
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import anyio
import anyio.abc

T_co = TypeVar("T_co", covariant=True)


class TaskGroup(anyio.abc.TaskGroup):
    """A group of tasks that all finish (or are cancelled) before the ``async with`` exits.

    A task that raises cancels its siblings; the failures surface as an ``ExceptionGroup``
    (so ``except*`` works). Make one with :func:`create_task_group`, or wrap an anyio task
    group you already have with ``TaskGroup(anyio_group)``.

    Everything anyio's task group offers works here with the same behaviour:
    ``start_soon(fn, *args, name=...)`` and ``create_task(coro, name=...)`` return a
    ``TaskHandle``; ``await start(fn, *args, name=..., return_handle=...)`` waits for
    ``task_status.started(value)``; ``cancel(reason)`` and ``cancel_scope`` cancel the group.
    """

    def __init__(self, tg: anyio.abc.TaskGroup | None = None) -> None:
        self._tg: anyio.abc.TaskGroup = anyio.create_task_group() if tg is None else tg

    @property
    def cancel_scope(self) -> anyio.CancelScope:
        """The scope covering every task in the group: cancel it, or give it a deadline.

        On trio it exists once the group has been entered (as with anyio).
        """
        return self._tg.cancel_scope

    @cancel_scope.setter
    def cancel_scope(self, scope: anyio.CancelScope) -> None:
        self._tg.cancel_scope = scope

    def create_task(
        self,
        coro: Coroutine[Any, Any, T_co],
        *,
        name: object = None,
        context: Context | None = None,
    ) -> anyio.TaskHandle[T_co]:
        """Schedule the coroutine object ``coro`` as a task and return its handle.

        ``name`` becomes the task's real name (``anyio.get_current_task().name``).
        ``start_soon(fn, *args, name=...)`` is the same for a function and its arguments.
        """
        return self._tg.create_task(coro, name=name, context=context)

    @overload
    async def start(
        self,
        func: Callable[..., Coroutine[Any, Any, T_co]],
        *args: object,
        name: object = None,
        return_handle: Literal[False] = ...,
    ) -> Any: ...

    @overload
    async def start(
        self,
        func: Callable[..., Coroutine[Any, Any, T_co]],
        *args: object,
        name: object = None,
        return_handle: Literal[True],
    ) -> anyio.TaskHandle[T_co, Any]: ...

    async def start(
        self,
        func: Callable[..., Coroutine[Any, Any, T_co]],
        *args: object,
        name: object = None,
        return_handle: Literal[False, True] = False,
    ) -> Any:
        """Start ``func(*args, task_status=...)`` and wait until it calls ``task_status.started()``.

        Returns the value passed to ``task_status.started(value)`` (or, with
        ``return_handle=True``, the task's handle, whose ``start_value`` is that value). If
        the task fails or returns before calling ``started()``, the error is raised here.
        """
        return await self._tg.start(func, *args, name=name, return_handle=return_handle)

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

    if not TYPE_CHECKING:
        # Invisible to the type checker (typos stay errors); at run time, whatever a backend
        # group offers beyond the abstract class is reachable through ours.
        def __getattr__(self, name: str) -> Any:
            if name == "_tg":  # not set yet (e.g. while unpickling): no recursion
                raise AttributeError(name)
            return getattr(self._tg, name)


def _forward_abstract(cls: type[Any], target: str) -> None:
    """Forward each abstract member ``cls`` has not implemented to ``getattr(self, target)``.

    An anyio newer than this module may add an abstract method to ``anyio.abc.TaskGroup``;
    without this, ``TaskGroup()`` would then fail to instantiate instead of delegating it.
    """
    for name in sorted(getattr(cls, "__abstractmethods__", ())):
        if isinstance(getattr(cls, name, None), property):

            def read(self: Any, _name: str = name) -> Any:
                return getattr(getattr(self, target), _name)

            setattr(cls, name, property(read))
        else:

            def forward(self: Any, *args: Any, _name: str = name, **kwargs: Any) -> Any:
                return getattr(getattr(self, target), _name)(*args, **kwargs)

            forward.__name__ = name
            setattr(cls, name, forward)
    cls.__abstractmethods__ = frozenset()


_forward_abstract(TaskGroup, "_tg")


def create_task_group() -> TaskGroup:
    """Return a new :class:`TaskGroup`, to be used with ``async with``."""
    return TaskGroup()
