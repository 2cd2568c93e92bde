"""Start deadlines kept by one task (supervisor.runtime.deadlines), on both backends."""

from __future__ import annotations

import math
from typing import Any

import anyio
import pytest

from supervisor import TASK_STATUS_IGNORED, ServiceContext, ServiceState, Supervisor
from supervisor.runtime.deadlines import Deadlines

pytestmark = pytest.mark.anyio
S = ServiceState


class Item:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log
        self.deadline = math.inf

    def expire(self) -> None:
        self.log.append(self.name)


async def test_each_item_expires_once_its_own_deadline_has_passed() -> None:
    log: list[str] = []
    deadlines = Deadlines()
    async with anyio.create_task_group() as tg:
        tg.start_soon(deadlines.run)
        await anyio.sleep(0)
        deadlines.add(Item("a", log), 0.2)
        deadlines.add(Item("b", log), 0.2)
        # a shorter delay added while the task sleeps until a's deadline wakes it earlier
        deadlines.add(Item("c", log), 0.05)
        with anyio.fail_after(5):
            while len(log) < 1:
                await anyio.sleep(0.01)
            assert log == ["c"]
            while len(log) < 3:
                await anyio.sleep(0.01)
        assert log == ["c", "a", "b"]
        tg.cancel_scope.cancel()


async def test_a_deadline_already_reached_expires_at_once() -> None:
    log: list[str] = []
    deadlines = Deadlines()
    deadlines.add(Item("now", log), 0)
    assert log == ["now"]


async def test_a_zero_start_timeout_fails_a_service_not_ready_at_once() -> None:
    sup = Supervisor(on_failure="isolate")

    @sup.service(start_timeout=0, restart="no")
    async def slow(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        await anyio.sleep(0)
        task_status.started()
        await anyio.sleep_forever()

    @sup.service(start_timeout=0.05, restart="no")
    async def quick(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await anyio.sleep(0.2)  # past its start timeout: ready by then, so it keeps running

    async with sup:
        assert sup.status()["slow"].state is S.FAILED
        assert sup.status()["slow"].last_error == "not ready within 0s"
        await anyio.sleep(0.1)
        assert sup.status()["quick"].state is S.READY
