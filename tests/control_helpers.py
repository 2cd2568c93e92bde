"""A fake controller, a server running it, and raw clients, for the control socket tests."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from supervisor.concurrency import create_memory_channel, create_task_group
from supervisor.control.server import ControlServer


class FakeController:
    """Records calls; ``follow_logs`` and ``events`` yield what the test pushes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.send, self.receive = create_memory_channel[dict[str, Any]](10)
        self.following = anyio.Event()
        self.unfollowed = anyio.Event()

    def status(self) -> dict[str, Any]:
        return {"supervisor": {"state": "running"}, "services": [{"name": "db", "state": "ready"}]}

    async def act(self, action: str, names: list[str], *, rolling: bool = False) -> dict[str, Any]:
        self.calls.append((action, names) if not rolling else (action, names, "rolling"))
        if "nope" in names:
            raise KeyError("no service named 'nope' (services: db)")
        return {"services": [{"name": n, "state": "ready"} for n in names]}

    async def scale(self, name: str, replicas: int) -> dict[str, Any]:
        self.calls.append(("scale", (name, replicas)))
        return {"services": [{"name": f"{name}.{i}", "state": "ready"} for i in range(replicas)]}

    async def reload(self) -> dict[str, Any]:
        raise RuntimeError("services.yaml has errors; nothing changed")

    def shutdown(self) -> None:
        self.calls.append(("shutdown", None))

    def recent_logs(self, service: str | None, limit: int | None) -> list[dict[str, Any]]:
        return [{"service": "db", "line": "old"}][: limit if limit is not None else None]

    @asynccontextmanager
    async def follow_logs(
        self, service: str | None
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        self.following.set()
        try:
            yield self.receive
        finally:
            self.unfollowed.set()

    @asynccontextmanager
    async def events(self) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        self.following.set()
        try:
            yield self.receive
        finally:
            self.unfollowed.set()


class RecordingLogger:
    """Stands in for the server's structlog logger; keeps ``(level, event, fields)``."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []

    def _record(self, level: str, event: str, **fields: Any) -> None:
        self.records.append((level, event, fields))

    def debug(self, event: str, **fields: Any) -> None:
        self._record("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self._record("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._record("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._record("error", event, **fields)

    def errors(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Records at level error (a traceback, when ``exc_info`` is among the fields)."""
        return [r for r in self.records if r[0] == "error"]


@asynccontextmanager
async def serving(path: str, ctl: Any, logger: Any = None) -> AsyncIterator[None]:
    """A :class:`ControlServer` for ``ctl`` on ``path`` for the duration of the block."""
    async with create_task_group() as tg:
        await tg.start(ControlServer(path, ctl, logger=logger).serve)
        yield
        tg.cancel_scope.cancel()


async def ask(path: str, *lines: bytes) -> list[dict[str, Any]]:
    """Send raw request lines on one connection; read one answer per line."""
    async with await anyio.connect_unix(path) as stream:
        answers = []
        buffer = b""
        for line in lines:
            await stream.send(line)
            while b"\n" not in buffer:
                buffer += await stream.receive()
            answer, buffer = buffer.split(b"\n", 1)
            answers.append(json.loads(answer))
        await hang_up(stream)
        return answers


async def hang_up(stream: Any) -> None:
    """Half-close and wait for the server to close too.

    So that the server is not cancelled in the middle of a read (anyio's asyncio sockets
    log a spurious error then).
    """
    await stream.send_eof()
    with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
        while True:
            await stream.receive()


def strict_json(data: bytes) -> Any:
    """Parse ``data`` as standard JSON (no NaN or Infinity); ``ValueError`` otherwise."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not standard JSON")

    return json.loads(data.decode("utf-8"), parse_constant=refuse)


async def exchange(path: str, *chunks: bytes) -> list[dict[str, Any]]:
    """Send ``chunks`` on one connection, half-close, and return every answer until the
    server closes (each a strict JSON object on a line of its own)."""
    async with await anyio.connect_unix(path) as stream:
        for chunk in chunks:
            await stream.send(chunk)
        await stream.send_eof()
        received = b""
        with contextlib.suppress(anyio.EndOfStream):
            while True:
                received += await stream.receive()
    assert received == b"" or received.endswith(b"\n"), received[-200:]
    answers = [strict_json(line) for line in received.split(b"\n")[:-1]]
    assert all(isinstance(a, dict) for a in answers)
    return answers
