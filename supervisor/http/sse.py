"""Server-Sent Event responses that end when the client leaves or the endpoint stops.

Each open stream runs in a cancel scope registered in :class:`Streams`; stopping the
endpoint cancels them all, so every request is over before hypercorn shuts down (its
asyncio worker must not be cancelled from outside, and a stream left open would hold its
graceful shutdown for the whole grace period).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from supervisor.concurrency import CancelScope, create_task_group

Items = AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]


def encode(kind: str, data: dict[str, Any]) -> bytes:
    """One event: ``event: KIND`` and its JSON ``data`` line."""
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Streams:
    """The cancel scopes of the open streams; :meth:`close` ends them all."""

    def __init__(self) -> None:
        self._scopes: set[CancelScope] = set()
        self.closed = False

    @contextlib.contextmanager
    def open(self) -> Iterator[None]:
        """Run the body in a scope that :meth:`close` cancels (at once if already closed)."""
        scope = CancelScope()
        if self.closed:
            scope.cancel()
        self._scopes.add(scope)
        try:
            with scope:
                yield
        finally:
            self._scopes.discard(scope)

    def close(self) -> None:
        """End every open stream, and any opened from now on."""
        self.closed = True
        for scope in list(self._scopes):
            scope.cancel()


class EventStream(Response):
    """``text/event-stream`` of ``kind`` events, one per item of ``items()``.

    ``preamble`` is sent once the items are subscribed to (a comment, or past lines), so a
    client that has read it knows that nothing later will be missed.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        streams: Streams,
        items: Callable[[], Items],
        kind: str,
        preamble: bytes = b": stream open\n\n",
    ) -> None:
        # not Response.__init__: it would declare a Content-Length of 0
        self.status_code = 200
        self.background = None
        self.body = b""
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        self._streams = streams
        self._items = items
        self._kind = kind
        self._preamble = preamble

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the stream until the client disconnects, the items end, or we stop."""
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        if scope.get("method") == "HEAD":  # the headers only: the stream would never end
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        with self._streams.open():
            async with create_task_group() as tg:

                async def until_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tg.cancel_scope.cancel()

                tg.start_soon(until_disconnect)
                async with self._items() as items:
                    await send(
                        {"type": "http.response.body", "body": self._preamble, "more_body": True}
                    )
                    async for item in items:
                        body = encode(self._kind, item)
                        await send({"type": "http.response.body", "body": body, "more_body": True})
                tg.cancel_scope.cancel()
        with contextlib.suppress(Exception):  # the client may be gone already
            await send({"type": "http.response.body", "body": b"", "more_body": False})
