"""Importable services for the runtime tests (``run: "tests.runtime_services:..."``)."""

from __future__ import annotations

from typing import Any

import anyio

from supervisor import TASK_STATUS_IGNORED, ServiceContext

SEEN: list[str] = []


async def echo(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
    """Hands its ``word`` argument (plus its dependencies' values) to its dependents."""
    value = "+".join([str(ctx.args.get("word", ctx.name)), *map(str, ctx.deps.values())])
    SEEN.append(f"{ctx.name}={value}")
    ctx.set_status(f"said {value}")
    task_status.started(value)
    await anyio.sleep_forever()
