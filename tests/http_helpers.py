"""A supervisor served by its HTTP endpoint in this process, and an httpx client on it."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from supervisor import Supervisor
from supervisor.concurrency import create_task_group
from supervisor.config.models import HttpSettings
from supervisor.control.controller import SupervisorController
from supervisor.http import HttpEndpoint
from supervisor.http.app import Access, create_app

TOKEN = b"s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN.decode()}"}

TREE_CHILD = (
    "import sys, time\n"
    "block = b'x' * (16 << 20)\n"  # 16 MiB, resident (written, not calloc'd)
    "began = time.process_time()\n"
    "while time.process_time() - began < 0.05: pass\n"
    "print('child up', flush=True)\n"
    "time.sleep(1000)\n"
)
TREE_PARENT = (
    "import subprocess, sys, time\n"
    f"child = subprocess.Popen([sys.executable, '-c', {TREE_CHILD!r}])\n"
    "began = time.process_time()\n"
    "while time.process_time() - began < 0.05: pass\n"
    "child.wait()\n"
)
TREE: dict[str, Any] = {
    "command": [sys.executable, "-c", TREE_PARENT],
    "ready": {"log": "child up"},
    "stop": {"timeout": "2s"},
}
"""A process service whose tree is a parent and a child, each having burnt 0.05 s of CPU,
the child holding 16 MiB; ready once the child says so."""

ONESHOT: dict[str, Any] = {"command": ["true"], "oneshot": True}

ECHO: dict[str, Any] = {
    "command": ["sh", "-c", "echo hello; exec sleep 1000"],
    "ready": {"log": "hello"},
    "stop": {"timeout": "2s"},
}
"""A light process service (no interpreter to start): says ``hello``, then sleeps."""


async def _refuse_reload() -> dict[str, Any]:
    raise RuntimeError("no reload here")


@asynccontextmanager
async def serving(
    services: dict[str, Any], *, token: bytes | None = TOKEN, loopback: bool = True
) -> AsyncIterator[tuple[Supervisor, HttpEndpoint, httpx.AsyncClient]]:
    """Run ``services`` with an endpoint on 127.0.0.1 (as if off loopback when asked)."""
    sup = Supervisor.from_dict({"services": services})
    controller = SupervisorController(sup, reload=_refuse_reload, shutdown=sup.shutdown)
    endpoint = HttpEndpoint(controller, HttpSettings(listen="127.0.0.1:0"), token=token)
    if not loopback:
        access = Access(token, loopback=False)
        endpoint.app = create_app(controller, endpoint.registry, access, endpoint.streams)
    async with create_task_group() as tg:
        url = await tg.start(endpoint.serve)
        async with sup, httpx.AsyncClient(base_url=url, timeout=10.0) as client:
            yield sup, endpoint, client
        tg.cancel_scope.cancel()


async def next_event(lines: AsyncIterator[str]) -> tuple[str, dict[str, Any]]:
    """The next Server-Sent Event (``event:`` name and JSON ``data:``), comments skipped."""
    kind, data = "message", None
    async for line in lines:
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif not line and data is not None:
            return kind, data
    raise AssertionError("the stream ended")
