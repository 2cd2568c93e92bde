"""A one-to-many stream that never blocks its publisher (events, log lines).

Each subscriber has a bounded buffer of its own; a subscriber that falls behind loses the
oldest items (counted in ``dropped``) rather than slowing the supervisor down. A
subscription nobody references any more is forgotten (weak references).
"""

from __future__ import annotations

import weakref
from collections import deque
from types import TracebackType
from typing import Generic, TypeVar

from supervisor.concurrency import Event

T = TypeVar("T")


class Subscription(Generic[T]):
    """An async iterator over the items published after it was created.

    Iteration ends when the publisher closes (the supervisor stopped) or when
    :meth:`close` is called. Use it as ``async for item in sub`` or, to unsubscribe
    deterministically, ``async with sub: ...``.
    """

    def __init__(self, owner: Broadcast[T], maxlen: int) -> None:
        self._owner = owner
        self._items: deque[T] = deque(maxlen=maxlen)
        self._waiter: Event | None = None
        self.closed = False
        self.dropped = 0

    def _push(self, item: T) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
        self._items.append(item)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None:
            self._waiter.set()
            self._waiter = None

    def _end(self) -> None:
        self.closed = True
        self._wake()

    def close(self) -> None:
        """Stop receiving; iteration ends once the items already buffered are consumed."""
        subscribers = self._owner._subscribers
        if subscribers is not None:
            subscribers.discard(self)
        self._end()

    def pending(self) -> list[T]:
        """Take every buffered item without waiting."""
        items = list(self._items)
        self._items.clear()
        return items

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        while not self._items:
            if self.closed:
                raise StopAsyncIteration
            if self._waiter is None:
                self._waiter = Event()
            await self._waiter.wait()
        return self._items.popleft()

    async def __aenter__(self) -> Subscription[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Broadcast(Generic[T]):
    """Publishes items to every live :class:`Subscription`."""

    def __init__(self, maxlen: int = 10_000) -> None:
        # made at the first subscription: most feeds (one per service) never get one,
        # and a WeakSet is half a dozen objects for the cyclic collector to walk
        self._subscribers: weakref.WeakSet[Subscription[T]] | None = None
        self.maxlen = maxlen

    def subscribe(self) -> Subscription[T]:
        """A new subscription, receiving items published from now on."""
        sub = Subscription(self, self.maxlen)
        if self._subscribers is None:
            self._subscribers = weakref.WeakSet()
        self._subscribers.add(sub)
        return sub

    def has_subscribers(self) -> bool:
        """Whether anyone is subscribed (publishing can be skipped otherwise)."""
        return bool(self._subscribers)

    def publish(self, item: T) -> None:
        """Hand ``item`` to every subscriber (never blocks)."""
        subscribers = self._subscribers
        if subscribers:
            for sub in list(subscribers):
                sub._push(item)

    def close(self) -> None:
        """End every subscription (after their buffered items)."""
        subscribers, self._subscribers = self._subscribers, None
        for sub in list(subscribers or ()):
            sub._end()
