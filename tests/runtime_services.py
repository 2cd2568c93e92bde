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


GATES: dict[str, anyio.Event] = {}
"""Per-test gates: ``gated_stop`` services hold their cleanup until their gate is set."""


async def gated_stop(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
    """Ready at once; when stopped, its cleanup waits (shielded) for ``GATES[name]``."""
    task_status.started()
    try:
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await GATES[ctx.name].wait()


async def blocked_in_thread(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
    """Ready at once, then blocks in a worker thread that cancellation cannot interrupt."""
    import time

    task_status.started()
    await anyio.to_thread.run_sync(time.sleep, float(ctx.args.get("seconds", 15)))
