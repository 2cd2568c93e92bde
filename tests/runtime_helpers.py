"""Helpers for the runtime tests: recording services and event collection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from supervisor import TASK_STATUS_IGNORED, ServiceContext, ServiceEvent, ServiceState, Supervisor

Service = Callable[..., Awaitable[None]]


def recorder(log: list[str], value: Any = None) -> Service:
    """A service that logs ``start NAME`` / ``stop NAME`` and hands ``value`` to dependents."""

    async def service(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        log.append(f"start {ctx.name}")
        task_status.started(value if value is not None else f"{ctx.name}-value")
        try:
            await anyio.sleep_forever()
        finally:
            log.append(f"stop {ctx.name}")

    return service


def add_graph(sup: Supervisor, edges: dict[str, list[str]], log: list[str]) -> None:
    """One recording service per node of ``{name: [dependencies]}``."""
    for name, deps in edges.items():
        sup.add(name, recorder(log), depends_on=deps)


def transitions(events: list[ServiceEvent], state: ServiceState) -> list[str]:
    """Names of the services that entered ``state``, in order."""
    return [e.service for e in events if e.state is state]


async def wait_state(sup: Supervisor, name: str, *states: ServiceState) -> None:
    """Wait (on the event stream, no polling) until ``name`` is in one of ``states``."""
    async with sup.events() as events:
        if sup.status()[name].state in states:
            return
        async for event in events:
            if event.service == name and event.state in states:
                return


async def wait_output(sup: Supervisor, name: str, line: str) -> None:
    """Wait (following the output, no polling) until ``name`` has printed ``line``: a
    service may be ready (a tcp probe) before the line it printed first has been read."""
    async with sup.follow_logs(name) as following:
        if any(kept.line == line for kept in sup.logs(name)):
            return
        async for new in following:
            if new.line == line:
                return
