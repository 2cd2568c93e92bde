"""The daemon's stop is bounded whatever in-process code does; stray signals and
settings a reload cannot apply are reported, never fatal or silent."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.daemon_helpers import Daemon, sleeper, wait_for


def test_a_service_blocked_in_a_thread_cannot_hold_the_stop(tmp_path: Path) -> None:
    """Issue 15 item 5: exit within shutdown_timeout + margin, process groups killed,
    a log line naming what was abandoned."""
    config = f"""
supervisor: {{shutdown_timeout: 1s}}
services:
  worker:
    command: {sleeper("working")}
    ready: {{log: working}}
  blocked:
    run: "tests.runtime_services:blocked_in_thread"
    args: {{seconds: 30}}
    stop: {{timeout: 0.3s}}
"""
    with Daemon(tmp_path, config) as daemon:
        daemon.wait_running()
        began = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 1
        took = time.monotonic() - began
        record = daemon.wait_log(
            event="shutdown overran its bound; killing what is left and exiting"
        )
        assert record["abandoned"] == ["blocked"]
        assert took < 1 + 2 + 1.5  # shutdown_timeout + EXIT_MARGIN + slack
    # the autouse fixture checks the `worker` process is gone


def test_a_second_signal_bounds_the_exit_to_the_force_grace(tmp_path: Path) -> None:
    config = """
services:
  blocked:
    run: "tests.runtime_services:blocked_in_thread"
    args: {seconds: 30}
    stop: {timeout: 20s}
"""
    with Daemon(tmp_path, config) as daemon:
        daemon.wait_running()
        daemon.signal(signal.SIGTERM)
        daemon.wait_log(event="stopping", service="blocked")
        began = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 1
        assert time.monotonic() - began < 2 + 1.5  # FORCE_GRACE + slack


def test_stray_sigusr_signals_are_ignored_by_a_daemon_that_is_not_pid1(tmp_path: Path) -> None:
    """Issue 15 item 10: SIGUSR1/SIGUSR2 used to kill the daemon outright."""
    config = f"""
services:
  worker:
    command: {sleeper("working")}
"""
    with Daemon(tmp_path, config) as daemon:
        daemon.wait_running()
        for sig in (signal.SIGUSR1, signal.SIGUSR2):
            daemon.signal(sig)
            daemon.wait_log(event="signal ignored (forwarded only as PID 1)", signal=sig.name)
        assert daemon.services()["worker"]["state"] == "ready"
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0


def test_settings_a_reload_cannot_apply_are_reported_on_every_reload(tmp_path: Path) -> None:
    """Issue 15 item 3: log_level changed in the file is reported each time, not once."""
    config = f"""
services:
  worker:
    command: {sleeper("working")}
"""
    with Daemon(tmp_path, config) as daemon:
        daemon.wait_running()
        daemon.write_config("supervisor: {log_level: debug}\n" + config)
        for _ in range(2):
            answer = daemon.client.request("reload")
            assert answer["not_applied"] == ["log_level"]
        event = "setting changed in the file applies at the next start"
        warnings = wait_for(
            lambda: (
                len(daemon.find(event=event, setting="log_level")) == 2
                and daemon.find(event=event, setting="log_level")
            ),
            what="a warning per reload",
        )
        assert (warnings[0]["running"], warnings[0]["file"]) == ("info", "debug")
