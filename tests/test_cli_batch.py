"""``supervisor run`` as a batch runner, and the replica commands through the socket.

A daemon whose services have all ended by themselves exits: 0 if all completed, 1 if
any failed; ``--keep-running`` keeps it (and its socket) up. ``scale`` and
``restart --rolling`` drive replicas of a real daemon.
"""

from __future__ import annotations

from pathlib import Path

from tests.daemon_helpers import PYTHON, Daemon
from tests.ports import free_ports
from tests.test_runtime_replicas import SERVER

OK = f'[{PYTHON}, -c, "pass"]'
FAIL = f'[{PYTHON}, -c, "raise SystemExit(3)"]'


def test_a_batch_of_one_shots_exits_0_once_all_completed(tmp_path: Path) -> None:
    config = f"""
        services:
          migrate: {{command: {OK}, oneshot: true}}
          seed: {{command: {OK}, oneshot: true, depends_on: {{migrate: completed}}}}
          manual: {{command: {OK}, oneshot: true, enabled: false}}
        """
    with Daemon(tmp_path, config) as daemon:
        assert daemon.wait() == 0
        exit_log = daemon.wait_log(event="every service has ended; exiting")
        assert exit_log["outcome"] == "completed"


def test_a_batch_with_a_failure_exits_1(tmp_path: Path) -> None:
    config = f"""
        supervisor: {{on_failure: isolate}}
        services:
          good: {{command: {OK}, oneshot: true}}
          bad: {{command: {FAIL}, oneshot: true, restart: no}}
          after: {{command: {OK}, oneshot: true, depends_on: [bad]}}
        """
    with Daemon(tmp_path, config) as daemon:
        assert daemon.wait() == 1
        assert daemon.wait_log(event="every service has ended; exiting")["outcome"] == "failed"


def test_keep_running_keeps_the_daemon_and_its_socket(tmp_path: Path) -> None:
    config = f"""
        services:
          job: {{command: {OK}, oneshot: true}}
        """
    with Daemon(tmp_path, config, "--keep-running") as daemon:
        daemon.wait_state("job", "completed")
        assert daemon.ctl("start", "job").returncode == 0  # runs again on request
        assert daemon.wait_state("job", "completed")["restarts"] == 0
        assert daemon.proc is not None and daemon.proc.poll() is None
        assert not daemon.find(event="every service has ended; exiting")
        assert daemon.ctl("shutdown").returncode == 0
        assert daemon.wait() == 0


def test_a_disabled_service_does_not_fail_the_ready_check_until_started(
    tmp_path: Path,
) -> None:
    config = f"""
        services:
          job: {{command: {OK}, oneshot: true}}
          spare: {{command: [sleep, "60"], enabled: false}}
        """
    with Daemon(tmp_path, config, "--keep-running") as daemon:
        daemon.wait_state("job", "completed")
        assert daemon.ctl("status", "--ready").returncode == 0  # spare is not meant to run
        assert daemon.ctl("start", "spare").returncode == 0
        assert daemon.ctl("stop", "spare").returncode == 0
        assert daemon.ctl("status", "--ready").returncode == 1  # stopped on request: down


def test_scale_and_rolling_restart_through_the_cli(tmp_path: Path) -> None:
    port = free_ports(3)
    config = f"""
        services:
          web:
            command: [{PYTHON}, {SERVER}, "${{PORT}}"]
            port: {port}
            replicas: 2
            ready: {{tcp: "127.0.0.1:${{PORT}}", interval: 20ms}}
        """
    with Daemon(tmp_path, config) as daemon:
        daemon.wait_running()
        scaled = daemon.ctl("scale", "web", "3")
        assert scaled.returncode == 0, scaled.stderr
        assert scaled.stdout.split("\n")[:3] == ["web.0: ready", "web.1: ready", "web.2: ready"]
        listed = daemon.ctl("status", "web")
        assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == [
            "web.0",
            "web.1",
            "web.2",
        ]
        pids = {n: s["pid"] for n, s in daemon.services().items()}
        rolled = daemon.ctl("restart", "web", "--rolling")
        assert rolled.returncode == 0, rolled.stderr
        after = daemon.services()
        assert all(after[n]["state"] == "ready" and after[n]["pid"] != pids[n] for n in pids)
        stopped = daemon.ctl("stop", "web.2")
        assert stopped.stdout.strip() == "web.2: stopped (stopped on request)"
        refused = daemon.ctl("scale", "nope", "2")
        assert refused.returncode == 1 and "no service named 'nope'" in refused.stderr
        down = daemon.ctl("scale", "web", "1")
        assert down.returncode == 0 and down.stdout.strip() == "web.0: ready"
        assert list(daemon.services()) == ["web.0"]
