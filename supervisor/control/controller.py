"""The :class:`~supervisor.control.server.Controller` of a running :class:`Supervisor`.

It turns control requests into calls on the runtime and runtime objects into JSON-ready
dicts. What only the daemon knows (how to reload the file, how to stop) is handed in as
callbacks.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from supervisor.concurrency import create_memory_channel, create_task_group
from supervisor.control.resources import ResourceMonitor, process_pids


class Runtime(Protocol):
    """The part of :class:`supervisor.Supervisor` the controller drives."""

    def status(self) -> Any:
        """Snapshots (with ``name`` and ``to_dict()``) in start order (a list or a dict)."""
        ...

    async def start(self, name: str) -> Any:
        """Start one service."""
        ...

    async def stop(self, name: str) -> Any:
        """Stop one service (and its dependents)."""
        ...

    async def restart(self, name: str, *, rolling: bool = False) -> Any:
        """Restart one service (and its dependents), or its replicas one at a time."""
        ...

    async def scale(self, name: str, count: int) -> Any:
        """Run ``count`` replicas of a replicated service."""
        ...

    def instances(self, name: str) -> list[str]:
        """The services ``name`` stands for: itself, or its replicas (``KeyError``)."""
        ...

    def logs(self, name: str, lines: int | None = None) -> list[Any]:
        """Recent output lines of a service (with ``to_dict()`` and ``time``)."""
        ...

    def follow_logs(self, name: str) -> Any:
        """An async iterator of a service's output lines from now on (with ``close()``)."""
        ...

    def reopen_logs(self) -> list[str]:
        """Reopen every open log file; their paths."""
        ...

    def events(self) -> Any:
        """An async iterator of state transitions from now on (with ``close()``)."""
        ...


def snapshots(sup: Runtime) -> dict[str, Any]:
    """``{name: snapshot}`` in start order, whether ``status()`` is a list or a dict."""
    status = sup.status()
    items = status.values() if hasattr(status, "values") else status
    return {snapshot.name: snapshot for snapshot in items}


def service_dict(snapshot: Any, now: float | None = None) -> dict[str, Any]:
    """A service snapshot as a JSON-ready dict, with ``uptime`` (seconds in ``ready``)."""
    data: dict[str, Any] = dict(snapshot.to_dict())
    wall = time.time() if now is None else now
    since = data.get("since")
    if str(data.get("state")) == "ready" and isinstance(since, int | float):
        data["uptime"] = round(max(0.0, wall - float(since)), 3)
    else:
        data["uptime"] = None
    return data


UNMEASURED: dict[str, Any] = {"cpu_percent": None, "memory_bytes": None, "cpu_seconds": None}
"""The resource fields of a service that has no process of its own."""


class SupervisorController:
    """Answers control requests for ``sup``; ``info`` is merged into ``status``."""

    def __init__(
        self,
        sup: Runtime,
        *,
        reload: Callable[[], Awaitable[dict[str, Any]]],
        shutdown: Callable[[], None],
        info: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.sup = sup
        self._reload = reload
        self._shutdown = shutdown
        self._info = info or dict
        self.started = time.time()
        self.resources = ResourceMonitor()

    def status(self, *, measure: bool = True) -> dict[str, Any]:
        """The supervisor's own status and every service's, with their resource figures.

        ``cpu_percent``, ``memory_bytes`` and ``cpu_seconds`` are measured now (see
        :mod:`supervisor.control.resources`); they are ``None`` for a Python service (it
        runs in the supervisor's process), for a process service that is not running, and
        everywhere with ``measure=False`` (a health check, which needs states only).
        """
        now = time.time()
        services = [service_dict(s, now) for s in snapshots(self.sup).values()]
        usage = self.resources.services(process_pids(services)) if measure else {}
        for service in services:
            figures = usage.get(service["name"])
            service.update(figures.to_dict() if figures else UNMEASURED)
        own = self.resources.own().to_dict() if measure else UNMEASURED
        return {
            "supervisor": {
                "pid": os.getpid(),
                "uptime": round(now - self.started, 3),
                **own,
                **self._info(),
            },
            "services": services,
        }

    def _known(self, names: Iterable[str]) -> list[str]:
        """The services ``names`` stand for (a replicated service: its replicas)."""
        known = snapshots(self.sup)
        found: list[str] = []
        unknown = []
        for name in names:
            if name in known:
                found.append(name)
                continue
            try:
                found.extend(self.sup.instances(name))
            except KeyError:
                unknown.append(name)
        if unknown:
            hint = ", ".join(sorted(known)) or "none"
            raise KeyError(f"no service named {', '.join(map(repr, unknown))} (services: {hint})")
        return list(dict.fromkeys(found))

    async def act(self, action: str, names: list[str], *, rolling: bool = False) -> dict[str, Any]:
        """Start, stop or restart each service in turn (a replicated service's name: all its
        replicas; ``rolling``: restart them one at a time); return their status afterwards."""
        instances = self._known(names)
        for name in names:
            if action == "start":
                await self.sup.start(name)
            elif action == "stop":
                await self.sup.stop(name)
            elif rolling:
                await self.sup.restart(name, rolling=True)
            else:
                await self.sup.restart(name)
        return self._statuses(instances)

    async def scale(self, name: str, replicas: int) -> dict[str, Any]:
        """Run ``replicas`` instances of ``name``; return their status afterwards."""
        self._known([name])
        await self.sup.scale(name, replicas)
        return self._statuses(self.sup.instances(name))

    def _statuses(self, names: list[str]) -> dict[str, Any]:
        now = time.time()
        statuses = snapshots(self.sup)
        return {"services": [service_dict(statuses[n], now) for n in names if n in statuses]}

    async def reload(self) -> dict[str, Any]:
        """Re-read the file and apply it (the daemon's callback)."""
        return await self._reload()

    def shutdown(self) -> None:
        """Ask the daemon to stop."""
        self._shutdown()

    def recent_logs(self, service: str | None, limit: int | None) -> list[dict[str, Any]]:
        """The last ``limit`` lines kept (all of them when ``None``), oldest first."""
        names = self._known([service]) if service is not None else list(snapshots(self.sup))
        lines = [line for name in names for line in self.sup.logs(name, limit)]
        # the lines read back from log files have no time of their own: they go first
        # (each service's in order), then the buffered lines of all, merged by time
        lines.sort(key=lambda line: (line.stream != "file", float(line.time)))
        if limit is not None:
            lines = lines[-limit:] if limit else []
        return [dict(line.to_dict()) for line in lines]

    def reopen_logs(self) -> dict[str, Any]:
        """Reopen the log files (logrotate's ``postrotate``): ``files``, their paths."""
        return {"files": self.sup.reopen_logs()}

    @asynccontextmanager
    async def follow_logs(
        self, service: str | None
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Output lines from now on (of one service, or of all, merged as they come)."""
        names = self._known([service]) if service is not None else list(snapshots(self.sup))
        feeds = [self.sup.follow_logs(name) for name in names]
        send, receive = create_memory_channel[dict[str, Any]](1000)
        try:
            async with create_task_group() as tg:

                async def pump(feed: Any) -> None:
                    async for line in feed:
                        await send.send(dict(line.to_dict()))

                for feed in feeds:
                    tg.start_soon(pump, feed)
                try:
                    yield receive
                finally:
                    tg.cancel_scope.cancel()
        finally:
            for feed in feeds:
                feed.close()
            send.close()
            receive.close()

    @asynccontextmanager
    async def events(self) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """State transitions from now on."""
        stream = self.sup.events()

        async def items() -> AsyncIterator[dict[str, Any]]:
            async for event in stream:
                yield dict(event.to_dict())

        try:
            yield items()
        finally:
            stream.close()
