"""A scripted service for the runtime's state-machine test (``run:`` target).

Each service finds its :class:`Script` in :data:`SCRIPTS` by name; the test changes the
script between steps (from the event loop's thread) to make the next start hang, the
running instance crash, or the next stop overrun its timeout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio

from supervisor import TASK_STATUS_IGNORED, ServiceContext


@dataclass
class Script:
    """What the next run of one service does."""

    hang_start: bool = False
    hang_stop: float = 0.0
    runs: int = 0
    crash: anyio.Event = field(default_factory=anyio.Event)


SCRIPTS: dict[str, Script] = {}


async def scripted(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
    """Ready at once (unless told to hang), until told to crash; cleanup as scripted."""
    script = SCRIPTS[ctx.name]
    script.runs += 1
    if script.hang_start:
        script.hang_start = False  # one hung start, then it behaves
        await anyio.sleep_forever()
    task_status.started(f"{ctx.name}#{script.runs}")
    try:
        await script.crash.wait()
        script.crash = anyio.Event()
        raise RuntimeError("scripted crash")
    finally:
        hang, script.hang_stop = script.hang_stop, 0.0
        if hang:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(hang)
