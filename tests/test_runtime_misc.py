"""Reload, process services through the seam, output buffers, stop timeouts, units."""

from __future__ import annotations

import random
import sys
from typing import Any

import anyio
import pytest

from supervisor import (
    TASK_STATUS_IGNORED,
    ConfigError,
    ServiceContext,
    ServiceState,
    Supervisor,
    VirtualClock,
)
from supervisor.config import RestartSpec, load_config_data
from supervisor.runtime import Broadcast, RestartTracker, wants_restart
from tests import runtime_services
from tests.runtime_helpers import recorder, wait_state

S = ServiceState

ECHO = "tests.runtime_services:echo"


def config(services: dict[str, Any]) -> Any:
    return load_config_data({"services": services})


@pytest.mark.anyio
async def test_reload_applies_the_difference() -> None:
    runtime_services.SEEN.clear()
    sup = Supervisor(
        config(
            {
                "db": {"run": ECHO, "args": {"word": "v1"}},
                "api": {"run": ECHO, "depends_on": ["db"]},
                "solo": {"run": ECHO},
                "old": {"run": ECHO},
            }
        )
    )
    async with sup:
        assert sup.status()["api"].status_text == "said api+v1"
        runtime_services.SEEN.clear()
        plan = await sup.reload(
            config(
                {
                    "db": {"run": ECHO, "args": {"word": "v2"}},
                    "api": {"run": ECHO, "depends_on": ["db"]},
                    "solo": {"run": ECHO},
                    "new": {"run": ECHO, "depends_on": ["solo"]},
                }
            )
        )
        assert plan.to_dict() == {
            "added": ["new"],
            "removed": ["old"],
            "changed": ["db"],
            "restarted": ["api"],
        }
        assert sorted(runtime_services.SEEN) == ["api=api+v2", "db=v2", "new=new+solo"]
        assert sup.status().names() == ["db", "solo", "api", "new"]
        assert all(s.state is S.READY for s in sup.status())
        with pytest.raises(ConfigError, match="unknown service 'nope'"):
            await sup.reload(config({"db": {"run": ECHO, "depends_on": ["nope"]}}))
        assert len(sup.status()) == 4  # a bad config changes nothing


@pytest.mark.anyio
async def test_a_process_service_runs_through_the_seam() -> None:
    script = "import time; print('hello', flush=True); time.sleep(60)"
    sup = Supervisor(
        config(
            {
                "proc": {
                    "command": [sys.executable, "-c", script],
                    "ready": {"log": "hello"},
                    "stop": {"timeout": "2s"},
                },
                "after": {"run": ECHO, "depends_on": ["proc"]},
            }
        )
    )
    async with sup:
        status = sup.status()
        assert status["proc"].kind == "process" and status["proc"].pid
        assert status["after"].state is S.READY
        assert [line.line for line in sup.logs("proc")] == ["hello"]
    assert sup.status()["proc"].state is S.STOPPED
    assert sup.status()["proc"].pid is None


@pytest.mark.anyio
async def test_output_is_kept_per_service_and_can_be_followed() -> None:
    sup = Supervisor(log_lines=3)
    go = anyio.Event()

    @sup.service
    async def chatty(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        for i in range(5):
            ctx.output("stdout", f"line {i}")
        task_status.started()
        await go.wait()
        ctx.output("stderr", "late")
        await anyio.sleep_forever()

    async with sup:
        assert [line.line for line in sup.logs("chatty")] == ["line 2", "line 3", "line 4"]
        assert [line.line for line in sup.logs("chatty", 1)] == ["line 4"]
        async with sup.follow_logs("chatty") as follow:
            go.set()
            line = await follow.__anext__()
            assert (line.stream, line.line) == ("stderr", "late")
            assert line.to_dict()["service"] == "chatty"


@pytest.mark.anyio
async def test_an_overrunning_cleanup_is_reported_and_shutdown_goes_on() -> None:
    log: list[str] = []
    sup = Supervisor()
    sup.add("db", recorder(log))

    @sup.service(depends_on="db", stop_timeout=0.05)
    async def stubborn(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.3)
            log.append("stubborn done")

    async with sup:
        pass
    assert log == ["start db", "stop db", "stubborn done"]
    status = sup.status()["stubborn"]
    assert status.state is S.STOPPED
    assert status.last_error == "did not stop within 0.05s; abandoned"


@pytest.mark.anyio
async def test_start_brings_up_stopped_dependencies_and_events_end() -> None:
    log: list[str] = []
    sup = Supervisor()
    sup.add("db", recorder(log))
    sup.add("api", recorder(log), depends_on=["db"])
    async with sup:
        await sup.stop("db")
        assert {s.state for s in sup.status()} == {S.STOPPED}
        await sup.start("api")
        assert {s.state for s in sup.status()} == {S.READY}
        await wait_state(sup, "api", S.READY)


def test_wants_restart() -> None:
    def spec(policy: str) -> RestartSpec:
        return RestartSpec.model_validate(policy)

    assert wants_restart(spec("always"), succeeded=True, oneshot=False)
    assert not wants_restart(spec("always"), succeeded=True, oneshot=True)
    assert wants_restart(spec("on-failure"), succeeded=False, oneshot=True)
    assert not wants_restart(spec("on-failure"), succeeded=True, oneshot=False)
    assert not wants_restart(spec("no"), succeeded=False, oneshot=False)


def test_restart_tracker_window() -> None:
    clock = VirtualClock()
    spec = RestartSpec.model_validate(
        {"max_restarts": 2, "within": 10, "backoff": {"initial": 1, "jitter": 0}}
    )
    tracker = RestartTracker(spec, clock, random.Random(0))
    assert [tracker.next_delay(), tracker.next_delay(), tracker.next_delay()] == [1, 2, None]
    clock.advance(10)
    assert tracker.next_delay() == 4  # the window moved on; the backoff did not reset
    tracker.ran_for(60)
    assert tracker.next_delay() == 1


@pytest.mark.anyio
async def test_broadcast_drops_oldest_for_slow_subscribers() -> None:
    feed: Broadcast[int] = Broadcast(maxlen=2)
    sub = feed.subscribe()
    for i in range(5):
        feed.publish(i)
    feed.close()
    assert [i async for i in sub] == [3, 4] and sub.dropped == 3
    gone = feed.subscribe()
    del gone
    assert len(feed._subscribers) == 0
