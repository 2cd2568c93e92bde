"""Replicas on their own ports, scaling, rolling restarts, per-edge restart, enabled: false.

Replicas are real processes (tests/scripts/tcp_server.py) listening on ports chosen free
at test time on 127.0.0.1, made ready by tcp probes. Orderings are read from the event
stream, never from sleeps.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from supervisor import (
    TASK_STATUS_IGNORED,
    ServiceContext,
    ServiceEvent,
    ServiceState,
    Supervisor,
)
from supervisor.concurrency import fail_after
from supervisor.config import load_config_data, load_config_text
from supervisor.runtime.broadcast import Subscription
from supervisor.runtime.errors import SupervisorError
from tests.ports import free_ports
from tests.runtime_helpers import wait_output, wait_state

S = ServiceState
SERVER = str(Path(__file__).parent / "scripts" / "tcp_server.py")


def web_config(port: int, replicas: int, extra: str = "") -> str:
    """A replicated tcp server and a dependent of it."""
    return textwrap.dedent(
        f"""
        services:
          web:
            command: [{sys.executable}, {SERVER}, "${{PORT}}"]
            port: {port}
            replicas: {replicas}
            env: {{WHO: "web-${{REPLICA}}"}}
            ready: {{tcp: "127.0.0.1:${{PORT}}", interval: 20ms}}
            stop: {{timeout: 5s}}
            {extra}
          client:
            run: tests.test_runtime_replicas:holder
            depends_on: [web]
        """
    )


SEEN: dict[str, Any] = {}


async def holder(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
    """Records the dependencies it was handed, then runs until stopped."""
    SEEN[ctx.name] = dict(ctx.deps)
    task_status.started()
    await anyio.sleep_forever()


async def can_connect(port: int) -> bool:
    try:
        stream = await anyio.connect_tcp("127.0.0.1", port)
    except OSError:
        return False
    await stream.aclose()
    return True


class Recorded:
    """The events of a subscription, taken as they are asked for (nothing is missed)."""

    def __init__(self, subscription: Subscription[ServiceEvent]) -> None:
        self._subscription = subscription
        self._seen: list[ServiceEvent] = []

    def all(self) -> list[ServiceEvent]:
        self._seen += self._subscription.pending()
        return self._seen


@contextlib.contextmanager
def recording(sup: Supervisor) -> Iterator[Recorded]:
    """Every event from now on."""
    subscription = sup.events()
    try:
        yield Recorded(subscription)
    finally:
        subscription.close()


def fewest_ready(start: set[str], events: list[ServiceEvent], group: str) -> int:
    """The fewest replicas of ``group`` ready at any moment of ``events``."""
    ready = set(start)
    fewest = len(ready)
    for event in events:
        if not event.service.startswith(group + "."):
            continue
        if event.state is S.READY:
            ready.add(event.service)
        else:
            ready.discard(event.service)
        fewest = min(fewest, len(ready))
    return fewest


@pytest.mark.anyio
async def test_replicas_listen_on_their_own_ports_and_a_dependent_waits_for_all() -> None:
    port = free_ports(3)
    sup = Supervisor(load_config_text(web_config(port, 3)))
    with recording(sup) as events:
        async with sup:
            status = sup.status()
            assert status.names() == ["web.0", "web.1", "web.2", "client"]
            assert all(s.state is S.READY for s in status)
            for index in range(3):
                assert await can_connect(port + index)
                with fail_after(10):  # each replica was told its own port
                    await wait_output(sup, f"web.{index}", f"listening on {port + index}")
            # the dependent started once every replica was ready
            order = [e.service for e in events.all() if e.state is S.READY]
            assert order.index("client") > max(order.index(f"web.{i}") for i in range(3))
            assert set(SEEN["client"]) == {"web.0", "web.1", "web.2"}
            assert sup.instances("web") == ["web.0", "web.1", "web.2"]
            group = await sup.stop("web")  # a replicated name acts on every replica
            assert group.name == "web" and group.state is S.STOPPED
            assert all(sup.status()[n].state is S.STOPPED for n in ["web.0", "web.1", "client"])
            one = await sup.start("web.1")  # a replica's name acts on that one
            assert one.state is S.READY
            assert [s.state for s in sup.status()][:3] == [S.STOPPED, S.READY, S.STOPPED]


@pytest.mark.anyio
async def test_scale_up_starts_new_replicas_and_down_stops_the_highest_first() -> None:
    port = free_ports(4)
    sup = Supervisor(load_config_text(web_config(port, 2)))
    async with sup:
        statuses = await sup.scale("web", 4)
        assert statuses.names() == ["web.0", "web.1", "web.2", "web.3"]
        assert all(s.state is S.READY for s in statuses)
        assert await can_connect(port + 3)
        assert sup.status()["client"].restarts == 0  # the dependent kept running
        with recording(sup) as events:
            statuses = await sup.scale("web", 1)
        assert statuses.names() == ["web.0"]
        stopped = [e.service for e in events.all() if e.state is S.STOPPED]
        assert stopped == ["web.3", "web.2", "web.1"]
        assert "web.1" not in sup.status() and sup.status()["client"].state is S.READY
        assert not await can_connect(port + 1)
        with pytest.raises(SupervisorError, match="not replicated"):
            await sup.scale("client", 2)
        with pytest.raises(SupervisorError, match="from 1 to"):
            await sup.scale("web", 0)


@pytest.mark.anyio
async def test_a_rolling_restart_never_has_fewer_than_n_minus_1_ready() -> None:
    port = free_ports(3)
    sup = Supervisor(load_config_text(web_config(port, 3)))
    async with sup:
        pids = [sup.status()[f"web.{i}"].pid for i in range(3)]
        with recording(sup) as events:
            group = await sup.restart("web", rolling=True)
        assert group.state is S.READY and group.reason == "3/3 ready"
        assert fewest_ready({"web.0", "web.1", "web.2"}, events.all(), "web") == 2
        # each replica went down and came back, one after the other
        downs = [e.service for e in events.all() if e.state is S.STOPPING]
        assert downs == ["web.0", "web.1", "web.2"]
        assert all(sup.status()[f"web.{i}"].pid not in pids for i in range(3))
        assert "client" not in {e.service for e in events.all()}  # the dependent stayed up


@pytest.mark.anyio
async def test_a_reload_rolls_changed_replicas_and_scales_on_a_new_count() -> None:
    port = free_ports(3)
    sup = Supervisor(load_config_text(web_config(port, 2)))
    async with sup:
        with recording(sup) as events:
            plan = await sup.reload(load_config_text(web_config(port, 2, "health: null")))
            assert plan.changed == [] and plan.rolling == []  # nothing differs
            plan = await sup.reload(load_config_text(web_config(port, 2, "start_timeout: 20s")))
        assert plan.changed == ["web.0", "web.1"] and plan.rolling == ["web"]
        assert plan.restarted == []
        assert fewest_ready({"web.0", "web.1"}, events.all(), "web") == 1
        assert "client" not in {e.service for e in events.all()}
        plan = await sup.reload(load_config_text(web_config(port, 3, "start_timeout: 20s")))
        assert plan.added == ["web.2"] and plan.changed == []
        assert sup.status()["web.2"].state is S.READY and await can_connect(port + 2)
        with recording(sup) as events:
            plan = await sup.reload(load_config_text(web_config(port, 1, "start_timeout: 20s")))
        assert plan.removed == ["web.1", "web.2"]
        assert [e.service for e in events.all() if e.state is S.STOPPED] == ["web.2", "web.1"]
        assert sup.status().names() == ["web.0", "client"]


@pytest.mark.anyio
async def test_a_scale_beyond_the_open_files_limit_is_refused_before_starting() -> None:
    sup = Supervisor(
        load_config_data({"services": {"w": {"command": ["sleep", "60"], "replicas": 1}}})
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    async with sup:
        in_use = len(os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 300, hard))
        try:
            with pytest.raises(SupervisorError, match=r"cannot scale 'w' to 100: about 396"):
                await sup.scale("w", 100)
            assert sup.instances("w") == ["w.0"]  # nothing started, nothing lost
            assert sup.status()["w.0"].state is S.READY
            await sup.scale("w", 3)  # what fits is done
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        assert sup.instances("w") == ["w.0", "w.1", "w.2"]


@pytest.mark.anyio
async def test_a_scale_lasts_across_reloads_until_the_files_count_changes() -> None:
    port = free_ports(4)
    sup = Supervisor(load_config_text(web_config(port, 2)))
    async with sup:
        await sup.scale("web", 3)
        plan = await sup.reload(load_config_text(web_config(port, 2)))  # same file
        assert (plan.added, plan.removed, plan.changed) == ([], [], [])
        assert sup.instances("web") == ["web.0", "web.1", "web.2"]
        plan = await sup.reload(load_config_text(web_config(port, 2, "start_timeout: 20s")))
        assert plan.changed == ["web.0", "web.1", "web.2"]  # rolled, still three
        plan = await sup.reload(load_config_text(web_config(port, 4, "start_timeout: 20s")))
        assert plan.added == ["web.3"]  # the file's new count applies
        assert sup.instances("web") == ["web.0", "web.1", "web.2", "web.3"]


@pytest.mark.anyio
async def test_a_reload_stops_removed_plain_services_in_reverse_dependency_order() -> None:
    def config(keep_all: bool) -> dict[str, Any]:
        services: dict[str, Any] = {"keep": {"run": "tests.test_runtime_replicas:holder"}}
        if keep_all:
            services["db"] = {"run": "tests.test_runtime_replicas:holder"}
            services["app"] = {"run": "tests.test_runtime_replicas:holder", "depends_on": ["db"]}
        services["web"] = {"command": ["sleep", "60"], "replicas": 2}  # a group remains
        return {"services": services}

    sup = Supervisor(load_config_data(config(True)))
    async with sup:
        with recording(sup) as events:
            plan = await sup.reload(load_config_data(config(False)))
        assert sorted(plan.removed) == ["app", "db"]
        stopped = [e for e in events.all() if e.state is S.STOPPED]
        assert [e.service for e in stopped] == ["app", "db"]  # the dependent first
        assert {e.reason for e in stopped} == {"reloading"}


@pytest.mark.anyio
async def test_a_reload_that_enables_starts_and_one_that_disables_stops() -> None:
    def config(enabled: bool) -> dict[str, Any]:
        service = {"run": "tests.test_runtime_replicas:holder", "enabled": enabled}
        return {"services": {"tool": service}}

    sup = Supervisor.from_dict(config(False))
    async with sup:
        assert sup.status()["tool"].reason == "disabled"
        await sup.reload(load_config_data(config(True)))
        assert sup.status()["tool"].state is S.READY
        await sup.reload(load_config_data(config(False)))
        status = sup.status()["tool"]
        assert status.state is S.STOPPED and status.reason == "disabled"


@pytest.mark.anyio
async def test_restart_false_keeps_a_dependent_running() -> None:
    sup = Supervisor.from_dict(
        {
            "services": {
                "db": {"run": "tests.test_runtime_replicas:holder"},
                "api": {
                    "run": "tests.test_runtime_replicas:holder",
                    "depends_on": {"db": {"condition": "ready", "restart": False}},
                },
                "worker": {"run": "tests.test_runtime_replicas:holder", "depends_on": ["db"]},
            }
        }
    )
    async with sup:
        await sup.restart("db")
        status = sup.status()
        assert status["worker"].restarts == 1  # the default: restarted with it
        assert status["api"].restarts == 0
        assert all(s.state is S.READY for s in status)


@pytest.mark.anyio
async def test_a_disabled_service_is_listed_and_start_brings_its_dependencies() -> None:
    sup = Supervisor.from_dict(
        {
            "services": {
                "db": {"run": "tests.test_runtime_replicas:holder", "enabled": False},
                "tool": {
                    "run": "tests.test_runtime_replicas:holder",
                    "enabled": False,
                    "depends_on": ["db"],
                },
                "web": {"run": "tests.test_runtime_replicas:holder"},
            }
        }
    )
    async with sup:
        status = sup.status()
        assert status["web"].state is S.READY
        for name in ("db", "tool"):
            assert status[name].state is S.STOPPED and status[name].reason == "disabled"
        assert sup.batch_outcome() is None
        await sup.start("tool")
        assert sup.status()["db"].state is S.READY and sup.status()["tool"].state is S.READY


@pytest.mark.anyio
async def test_batch_outcome_once_every_one_shot_has_ended() -> None:
    ok = {"command": [sys.executable, "-c", "pass"], "oneshot": True}
    bad = {"command": [sys.executable, "-c", "raise SystemExit(3)"], "oneshot": True}
    sup = Supervisor.from_dict(
        {
            "supervisor": {"on_failure": "isolate"},
            "services": {
                "a": ok,
                "b": {**ok, "depends_on": {"a": "completed"}},
                "off": {**ok, "enabled": False},
            },
        }
    )
    async with sup:
        assert await sup.batch_end() is True
    sup = Supervisor.from_dict(
        {
            "supervisor": {"on_failure": "isolate"},
            "services": {"a": ok, "b": {**bad, "restart": "no"}},
        }
    )
    async with sup:
        await wait_state(sup, "b", S.FAILED)
        assert await sup.batch_end() is False
