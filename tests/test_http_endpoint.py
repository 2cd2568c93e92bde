"""The HTTP endpoint served by hypercorn on asyncio and trio, driven by a real httpx client."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from supervisor.runtime.state import ServiceState
from tests.http_helpers import AUTH, ECHO, ONESHOT, TREE, next_event, serving
from tests.runtime_helpers import wait_state

pytestmark = pytest.mark.anyio


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` parsed by prometheus_client's parser."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_status_healthz_metrics_and_openapi_when_all_is_up() -> None:
    async with serving({"tree": TREE, "job": ONESHOT}) as (sup, _, client):
        await wait_state(sup, "job", ServiceState.COMPLETED)

        health = await client.get("/healthz")
        assert (health.status_code, health.json()) == (200, {"ok": True, "state": "running"})

        status = (await client.get("/v1/status")).json()
        by_name = {s["name"]: s for s in status["services"]}
        assert by_name["tree"]["state"] == "ready" and by_name["job"]["state"] == "completed"
        assert by_name["tree"]["memory_bytes"] > 16 << 20
        assert by_name["job"]["memory_bytes"] is None  # nothing runs: no figure
        assert isinstance(status["supervisor"]["cpu_percent"], float)
        assert status["supervisor"]["memory_bytes"] > 0

        metrics = await client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        values = samples(metrics.text)
        assert values[("supervisor_service_up", (("service", "tree"),))] == 1.0
        assert values[("supervisor_service_up", (("service", "job"),))] == 1.0
        state = "supervisor_service_state"
        assert values[(state, (("service", "tree"), ("state", "ready")))] == 1.0
        assert values[(state, (("service", "tree"), ("state", "starting")))] == 0.0
        assert values[("supervisor_service_restarts_total", (("service", "tree"),))] == 0.0
        assert values[("supervisor_service_cpu_seconds_total", (("service", "tree"),))] >= 0.05
        assert values[("supervisor_service_memory_bytes", (("service", "tree"),))] > 16 << 20
        started = (("service", "tree"),)
        assert values[("supervisor_service_start_seconds_count", started)] == 1.0
        assert 0.0 < values[("supervisor_service_start_seconds_sum", started)] < 30.0
        assert values[("process_resident_memory_bytes", ())] > 0  # the supervisor itself

        spec = (await client.get("/openapi.json")).json()
        assert spec["openapi"].startswith("3.")
        assert {"/healthz", "/metrics", "/v1/status", "/v1/events"} <= set(spec["paths"])
        assert "post" in spec["paths"]["/v1/services/{name}/{action}"]


async def test_actions_need_the_bearer_token_and_healthz_reports_what_is_down() -> None:
    spare = {**ECHO, "enabled": False}  # never meant to run: healthy as it is
    async with serving({"web": ECHO, "job": ONESHOT, "spare": spare}) as (sup, _, client):
        await wait_state(sup, "job", ServiceState.COMPLETED)
        assert (await client.get("/healthz")).status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            refused = await client.post("/v1/services/web/stop", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
        assert sup.status()["web"].state is ServiceState.READY

        stopped = await client.post("/v1/services/web/stop", headers=AUTH)
        assert stopped.status_code == 200
        assert stopped.json()["services"][0]["state"] == "stopped"
        health = await client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["not_ready"] == {"web": "stopped"}

        started = await client.post("/v1/services/web/start", headers=AUTH)
        assert started.json()["services"][0]["state"] == "ready"
        assert (await client.get("/healthz")).status_code == 200

        with_body = await client.post("/v1/services/web/restart", headers=AUTH, content=b"x")
        assert with_body.status_code == 413  # refused at once, the service untouched
        assert sup.status()["web"].restarts == 0 and sup.status()["web"].state == "ready"

        unknown = await client.post("/v1/services/nope/restart", headers=AUTH)
        assert unknown.status_code == 404 and "no service named 'nope'" in unknown.json()["error"]
        bad = await client.post("/v1/services/web/explode", headers=AUTH)
        assert bad.status_code == 404


async def test_the_event_stream_sends_each_transition() -> None:
    async with (
        serving({"web": ECHO}) as (_, _, client),
        client.stream("GET", "/v1/events") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        assert await anext(lines) == ": following"  # subscribed: nothing will be missed
        restarted = await client.post("/v1/services/web/restart", headers=AUTH)
        assert restarted.status_code == 200
        seen: list[tuple[str, str]] = []
        while ("web", "ready") not in seen:
            kind, data = await next_event(lines)
            assert kind == "transition"
            seen.append((data["service"], data["state"]))
        assert seen[0] == ("web", "stopping")


async def test_logs_recent_lines_follow_and_errors() -> None:
    async with serving({"web": ECHO}) as (_, _, client):
        recent = await client.get("/v1/services/web/logs", params={"lines": 1})
        assert [line["line"] for line in recent.json()["lines"]] == ["hello"]
        assert (await client.get("/v1/services/nope/logs")).status_code == 404
        assert (await client.get("/v1/services/web/logs?lines=-1")).status_code == 400
        too_many = await client.get("/v1/services/web/logs?lines=100001")  # a bounded read
        assert too_many.status_code == 400 and "0 to 100000" in too_many.json()["error"]
        assert (await client.get("/v1/services/web/logs?lines=100000")).status_code == 200

        async with client.stream("GET", "/v1/services/web/logs?follow=1") as stream:
            kind, data = await next_event(stream.aiter_lines())
            assert (kind, data["line"], data["service"]) == ("line", "hello", "web")


async def test_off_loopback_reads_need_the_token_but_healthz_stays_open() -> None:
    async with serving({"job": ONESHOT}, loopback=False) as (sup, _, client):
        await wait_state(sup, "job", ServiceState.COMPLETED)
        for path in ("/v1/status", "/metrics", "/v1/services/job/logs", "/openapi.json"):
            assert (await client.get(path)).status_code == 401, path
            assert (await client.get(path, headers=AUTH)).status_code == 200, path
        assert (await client.get("/healthz")).status_code == 200


async def test_without_a_token_actions_are_refused_and_say_how_to_allow_them() -> None:
    async with serving({"job": ONESHOT}, token=None) as (_, _, client):
        refused = await client.post("/v1/services/job/start", headers=AUTH)
        assert refused.status_code == 401
        assert "token_file" in refused.json()["error"]
        assert (await client.get("/v1/status")).status_code == 200  # reads: open on loopback


async def test_resource_figures_of_a_parent_and_child_tree_are_plausible() -> None:
    async with serving({"tree": TREE}) as (sup, endpoint, _):
        pid = sup.status()["tree"].pid
        assert pid is not None
        status: dict[str, Any] = endpoint.controller.status()
        tree = next(s for s in status["services"] if s["name"] == "tree")
        with open(f"/proc/{pid}/statm") as statm:  # the parent alone
            parent_rss = int(statm.read().split()[1]) * 4096
        # both processes: more than the parent plus the child's 16 MiB, less than 1 GiB
        assert parent_rss + (16 << 20) < tree["memory_bytes"] < 1 << 30
        assert 0.05 <= tree["cpu_seconds"] < 60  # at least what the child burnt before ready
        assert 0.0 < tree["cpu_percent"] <= 100.0 * 64
        again = endpoint.controller.status()  # within the window: the same figure
        assert (
            next(s for s in again["services"] if s["name"] == "tree")["cpu_percent"]
            == (tree["cpu_percent"])
        )
