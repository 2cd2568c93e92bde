"""In-process services for ``bench/soak.py`` (``run: "bench.soak_services:..."``)."""

from __future__ import annotations

from typing import Any

import anyio

from supervisor import TASK_STATUS_IGNORED, ServiceContext


class SoakCrash(RuntimeError):
    """The failure ``crash_after_ready`` raises on purpose."""


async def crash_after_ready(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
    """Ready at once, then raises after ``args.seconds`` (default 0.05): a crash loop in-process."""
    task_status.started()
    await anyio.sleep(float(ctx.args.get("seconds", 0.05)))
    raise SoakCrash(f"{ctx.name} crashes on purpose (soak)")
