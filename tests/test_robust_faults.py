"""Faults from the reliability matrix (docs/reliability.md) that no other test covered:
a SIGSTOPped process at stop time, and SIGTERM while a reload is starting services; and a
check that every test the page names exists."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import anyio
import pytest
import structlog

from supervisor.concurrency import create_task_group, current_time, fail_after
from supervisor.config.models import ServiceConfig
from supervisor.services.context import ServiceContext
from supervisor.services.process import ProcessService
from tests.daemon_helpers import Daemon, sleeper, wait_for

PYTHON = sys.executable


def process_state(pid: int) -> str | None:
    """The state letter of ``pid`` in /proc (``T`` when stopped), ``None`` once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0].decode()
    except OSError:
        return None


@pytest.mark.anyio
async def test_a_sigstopped_process_is_woken_to_act_on_its_stop_signal() -> None:
    """A stopped process cannot act on SIGTERM: the stop signal is followed by SIGCONT
    (as systemd does), so it ends by SIGTERM at once instead of SIGKILL at the timeout."""
    command = [PYTHON, "-c", "import time; time.sleep(1000)"]
    config = ServiceConfig.model_validate({"command": command, "stop": {"timeout": 5}})
    svc = ProcessService("frozen", config)
    with structlog.testing.capture_logs() as logs:
        async with create_task_group() as tg:
            info = await tg.start(svc, ServiceContext("frozen"))
            os.kill(info.pid, signal.SIGSTOP)
            with fail_after(5):
                while process_state(info.pid) != "T":
                    await anyio.sleep(0.01)
            began = current_time()
            tg.cancel_scope.cancel()
        took = current_time() - began
    assert took < 2
    assert svc.ended == "killed by SIGTERM"
    assert process_state(info.pid) is None
    assert not any(e["event"] == "stop timeout: killing the process group" for e in logs)


def test_sigterm_while_a_reload_starts_a_service_stops_everything_and_exits_0(
    tmp_path: Path,
) -> None:
    """SIGTERM lands while a SIGHUP reload waits for a new service to become ready: the
    daemon stops the old and the half-started new service and exits 0, leaving no process."""
    first = f"""
services:
  old:
    command: {sleeper("old up")}
    ready: {{log: old up}}
"""
    never = json.dumps(str(tmp_path / "never"))
    with Daemon(tmp_path, first) as daemon:
        daemon.wait_running()
        daemon.write_config(
            first
            + f"""
  fresh:
    command: {sleeper("fresh up")}
    ready: {{file: {never}}}
    start_timeout: 60s
"""
        )
        daemon.signal(signal.SIGHUP)
        fresh = daemon.wait_state("fresh", "starting")
        wait_for(lambda: daemon.services()["fresh"].get("pid"), what="fresh to be spawned")
        pids = [s["pid"] for s in daemon.services().values()]
        began = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
        assert time.monotonic() - began < 5
        assert fresh["state"] == "starting"
        assert all(process_state(pid) is None for pid in pids)


def test_every_test_named_in_docs_reliability_exists() -> None:
    """docs/reliability.md maps each fault to tests by name: every name must be a test."""
    tests = Path(__file__).resolve().parent
    page = (tests.parent / "docs" / "reliability.md").read_text()
    named = set(re.findall(r"`(test_\w+)`", page))
    defined = {
        name
        for path in tests.glob("test_*.py")
        for name in re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.MULTILINE)
    }
    assert len(named) > 40
    assert named <= defined, f"not tests: {sorted(named - defined)}"
