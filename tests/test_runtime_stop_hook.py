"""``ctx.set_stop_hook``: what a service registers runs when the supervisor cancels it to
stop it, before the service sees the cancellation, once, and never when the service ends
by itself; whatever the hook raises, the service is stopped."""

from __future__ import annotations

import anyio
import pytest
import structlog

from supervisor import TASK_STATUS_IGNORED, ServiceContext, ServiceState, Supervisor
from tests.runtime_helpers import wait_state

pytestmark = pytest.mark.anyio


async def test_the_hook_runs_once_before_the_service_sees_its_cancellation() -> None:
    seen: list[str] = []

    async def server(ctx: ServiceContext, *, task_status: object = TASK_STATUS_IGNORED) -> None:
        ctx.set_stop_hook(lambda: seen.append("hook"))
        task_status.started()  # type: ignore[attr-defined]
        try:
            await anyio.sleep_forever()
        finally:
            seen.append("cancelled")

    sup = Supervisor()
    sup.add("server", server)
    async with sup:
        await sup.stop("server")
        assert seen == ["hook", "cancelled"]
        await sup.start("server")
    assert seen == ["hook", "cancelled", "hook", "cancelled"]  # registered again by the new run


async def test_a_cleared_hook_and_a_service_that_returns_do_not_run_it() -> None:
    seen: list[str] = []

    async def cleared(ctx: ServiceContext, *, task_status: object = TASK_STATUS_IGNORED) -> None:
        ctx.set_stop_hook(lambda: seen.append("cleared"))
        ctx.set_stop_hook(None)
        task_status.started()  # type: ignore[attr-defined]
        await anyio.sleep_forever()

    async def oneshot(ctx: ServiceContext, *, task_status: object = TASK_STATUS_IGNORED) -> None:
        ctx.set_stop_hook(lambda: seen.append("oneshot"))
        task_status.started()  # type: ignore[attr-defined]

    sup = Supervisor()
    sup.add("cleared", cleared)
    sup.add("oneshot", oneshot, oneshot=True)
    async with sup:
        await wait_state(sup, "oneshot", ServiceState.COMPLETED)
    assert seen == []


async def test_a_hook_that_raises_is_logged_and_the_stop_goes_on() -> None:
    def broken() -> None:
        raise RuntimeError("hook bug")

    async def server(ctx: ServiceContext, *, task_status: object = TASK_STATUS_IGNORED) -> None:
        ctx.set_stop_hook(broken)
        task_status.started()  # type: ignore[attr-defined]
        await anyio.sleep_forever()

    sup = Supervisor()
    sup.add("server", server)
    sup.add("other", server)
    with structlog.testing.capture_logs() as events:
        async with sup:
            status = await sup.stop("server")
            assert status.state is ServiceState.STOPPED
            assert sup.status()["other"].state is ServiceState.READY
    assert all(s.state is ServiceState.STOPPED for s in sup.status().values())
    raised = [e for e in events if e["event"] == "service stop hook raised"]
    assert [(e["service"], str(e["exc_info"])) for e in raised] == [
        ("server", "hook bug"),
        ("other", "hook bug"),
    ]


class _Abort(BaseException):
    """Not an Exception: what a hook should never raise, and might."""


async def test_a_hook_that_raises_a_base_exception_still_leaves_the_service_stopped() -> None:
    def abort() -> None:
        raise _Abort

    async def server(ctx: ServiceContext, *, task_status: object = TASK_STATUS_IGNORED) -> None:
        ctx.set_stop_hook(abort)
        task_status.started()  # type: ignore[attr-defined]
        await anyio.sleep_forever()

    sup = Supervisor()
    sup.add("server", server, stop_timeout=30)
    async with sup:
        with pytest.raises(_Abort):
            await sup.stop("server")
        with anyio.fail_after(5):  # cancelled at once, not abandoned after its stop timeout
            await wait_state(sup, "server", ServiceState.STOPPED)
        assert sup.status()["server"].last_error is None
