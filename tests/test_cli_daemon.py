"""``supervisor run`` end to end: status, control commands, signals, exit codes, logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from supervisor import Supervisor
from tests.daemon_helpers import PYTHON, Daemon, cli, cli_inline, sleeper, wait_for

TWO = f"""
services:
  db:
    command: {sleeper("db up")}
    stop: {{timeout: 2s}}
  api:
    command: {sleeper("listening on 8000")}
    depends_on: [db]
    ready: {{log: "listening on"}}
    stop: {{timeout: 2s}}
"""


def stop_order(daemon: Daemon) -> list[str]:
    """Services in the order they reached ``stopped``, from the JSON log."""
    return [r["service"] for r in daemon.logs() if r.get("event") == "stopped"]


def test_status_table_json_ready_logs_and_shutdown_command(tmp_path: Path) -> None:
    with Daemon(tmp_path, TWO) as daemon:
        services = daemon.wait_running()
        assert {n: s["state"] for n, s in services.items()} == {"db": "ready", "api": "ready"}

        mode = os.stat(daemon.socket).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600

        table = daemon.ctl("status")
        assert table.returncode == 0, table.stderr
        header, *rows = table.stdout.splitlines()
        assert header.split() == [
            "NAME",
            "STATE",
            "PID",
            "UPTIME",
            "RESTARTS",
            "CPU",
            "MEM",
            "REASON",
        ]
        assert [row.split()[:2] for row in rows] == [["db", "ready"], ["api", "ready"]]
        assert rows[1].split()[2] == str(services["api"]["pid"])

        as_json = json.loads(daemon.ctl("status", "--json").stdout)
        assert as_json["supervisor"]["state"] == "running"
        assert as_json["supervisor"]["pid"] == daemon.proc.pid  # type: ignore[union-attr]
        assert [s["name"] for s in as_json["services"]] == ["db", "api"]

        ready = daemon.ctl("status", "--ready")
        assert (ready.returncode, ready.stdout, ready.stderr) == (0, "", "")

        logs = daemon.ctl("logs")
        assert logs.returncode == 0
        assert sorted(line.split(" ", 1)[1] for line in logs.stdout.splitlines()) == [
            "api | listening on 8000",
            "db | db up",
        ]
        only_api = daemon.ctl("logs", "api", "--json")
        assert [json.loads(x)["line"] for x in only_api.stdout.splitlines()] == [
            "listening on 8000"
        ]

        done = daemon.ctl("shutdown")
        assert (done.returncode, done.stdout.strip()) == (0, "stopped")
        assert daemon.wait() == 0
        assert stop_order(daemon) == ["api", "db"]
        assert not os.path.exists(daemon.socket)


def test_output_lines_are_json_objects_with_service_stream_line(tmp_path: Path) -> None:
    with Daemon(tmp_path, TWO) as daemon:
        daemon.wait_running()
        record = daemon.wait_log(event="output", service="api")
        assert record["line"] == "listening on 8000" and record["stream"] == "stdout"
        assert record["level"] == "info" and "timestamp" in record
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    # Every line of stderr is one JSON object.
    assert all(json.loads(line) for line in daemon.text().splitlines())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_in_reverse_order_and_exits_0(tmp_path: Path, sig: signal.Signals) -> None:
    config = (
        TWO
        + f"""
  web:
    command: {sleeper()}
    depends_on: [api]
"""
    )
    with Daemon(tmp_path, config) as daemon:
        daemon.wait_running()
        daemon.signal(sig)
        assert daemon.wait() == 0
        assert stop_order(daemon) == ["web", "api", "db"]
        assert daemon.find(event="stopping all services", reason=sig.name)


def test_second_signal_kills_what_is_left_and_exits_1(tmp_path: Path) -> None:
    stubborn = json.dumps(
        [
            PYTHON,
            "-u",
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ignoring', flush=True); time.sleep(1000)",
        ]
    )
    config = f"""
services:
  stubborn:
    command: {stubborn}
    ready: {{log: ignoring}}
    stop: {{timeout: 60s}}
"""
    with Daemon(tmp_path, config, "--log-level", "debug") as daemon:
        pid = daemon.wait_running()["stubborn"]["pid"]
        daemon.signal(signal.SIGTERM)
        daemon.wait_log(event="stopping process", service="stubborn")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 1
        assert daemon.find(event="second signal: killing what is left")
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_escalated_failure_exits_1(tmp_path: Path) -> None:
    crash = json.dumps([PYTHON, "-c", "import sys; sys.exit(3)"])
    config = f"""
services:
  db:
    command: {sleeper()}
  broken:
    command: {crash}
    depends_on: [db]
    restart: no
"""
    with Daemon(tmp_path, config) as daemon:
        assert daemon.wait() == 1
    failed = daemon.find(event="supervisor failed")
    assert failed and "broken" in failed[0]["reason"]
    assert "exited 3" in daemon.text()


def test_config_error_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "services:\n  api:\n    command: [true]\n    depends_on: [dbb]\n  db:\n    run: x\n"
    )
    result = cli("run", str(path), "--socket", str(tmp_path / "s.sock"))
    assert result.returncode == 2
    assert f"{path}:4:" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_daemon_is_a_clear_message(tmp_path: Path) -> None:
    path = str(tmp_path / "nobody.sock")
    for args in (["status"], ["stop", "x"], ["logs"], ["shutdown"]):
        result = cli_inline(*args, "--socket", path)
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"supervisor: no supervisor is listening on {path}: is `supervisor run` running?"
        )
    ready = cli("status", "--ready", "--socket", path)  # one through a real subprocess
    assert (ready.returncode, ready.stderr) == (1, "")


def test_start_stop_restart_by_name(tmp_path: Path) -> None:
    with Daemon(tmp_path, TWO) as daemon:
        before = daemon.wait_running()

        stopped = daemon.ctl("stop", "db")
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.startswith("db: stopped")
        now = daemon.services()
        assert (now["db"]["state"], now["api"]["state"]) == ("stopped", "stopped")
        not_ready = daemon.ctl("status", "--ready")
        assert not_ready.returncode == 1

        started = daemon.ctl("start", "api")  # starts db first, which it depends on
        assert started.returncode == 0, started.stderr
        now = daemon.services()
        assert (now["db"]["state"], now["api"]["state"]) == ("ready", "ready")

        pids = {n: s["pid"] for n, s in now.items()}
        restarted = daemon.ctl("restart", "db")
        assert restarted.returncode == 0, restarted.stderr
        after = daemon.services()
        assert all(after[n]["state"] == "ready" for n in ("db", "api"))
        assert after["db"]["pid"] != pids["db"] and after["api"]["pid"] != pids["api"]
        assert before["db"]["pid"] != after["db"]["pid"]

        unknown = daemon.ctl("restart", "dbx")
        assert unknown.returncode == 1
        assert "no service named 'dbx'" in unknown.stderr


def test_logs_follow_streams_new_lines(tmp_path: Path) -> None:
    counter = json.dumps(
        [
            PYTHON,
            "-u",
            "-c",
            "import itertools, time\n"
            "for i in itertools.count():\n    print('tick', i, flush=True); time.sleep(0.05)",
        ]
    )
    config = f"""
services:
  ticker:
    command: {counter}
"""
    with Daemon(tmp_path, config) as daemon:
        daemon.wait_running()
        lines: list[dict[str, object]] = []
        stream = daemon.client.stream("logs", service="ticker", follow=True, lines=0)
        first = next(stream)
        assert first["ok"] is True and first["lines"] == []
        for item in stream:
            lines.append(item)
            if len(lines) == 3:
                break
        stream.close()
        numbers = [int(str(x["line"]).split()[1]) for x in lines]
        assert numbers == list(range(numbers[0], numbers[0] + 3))
        assert {x["service"] for x in lines} == {"ticker"}


def test_logs_follow_through_the_cli(tmp_path: Path) -> None:
    with Daemon(tmp_path, TWO) as daemon:
        daemon.wait_running()
        follower = subprocess.Popen(
            [PYTHON, "-m", "supervisor", "logs", "-f", "api", "--socket", daemon.socket],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert follower.stdout is not None
            assert follower.stdout.readline().endswith("api | listening on 8000\n")
            daemon.client.request("restart", names=["api"])
            assert follower.stdout.readline().endswith("api | listening on 8000\n")
        finally:
            follower.terminate()
            follower.wait(5)
            assert follower.stdout is not None
            follower.stdout.close()


def test_two_daemons_on_different_sockets_and_one_per_socket(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    config = f"""
services:
  solo:
    command: {sleeper()}
"""
    with Daemon(one, config) as first, Daemon(two, config) as second:
        a, b = first.wait_running(), second.wait_running()
        assert a["solo"]["pid"] != b["solo"]["pid"]
        assert first.ctl("stop", "solo").returncode == 0
        assert first.services()["solo"]["state"] == "stopped"
        assert second.services()["solo"]["state"] == "ready"

        clash = Daemon(two, config, name="other")
        clash.socket = second.socket
        with clash:
            assert clash.wait() == 1
        assert "another supervisor is already listening on" in clash.text()
        assert second.services()["solo"]["state"] == "ready"


def test_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    config = f"""
services:
  solo:
    command: {sleeper()}
"""
    daemon = Daemon(tmp_path, config)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(daemon.socket)
    stale.close()  # the file stays, nobody listens: as after a SIGKILL
    with daemon:
        assert daemon.wait_running()["solo"]["state"] == "ready"


def test_systemd_notify_ready_and_stopping(tmp_path: Path) -> None:
    notify_path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(notify_path)
        notify.settimeout(10)
        daemon = Daemon(tmp_path, TWO, env={})
        daemon.env["NOTIFY_SOCKET"] = notify_path
        with daemon:
            ready = notify.recv(4096).decode().splitlines()
            assert "READY=1" in ready
            assert daemon.status()["supervisor"]["state"] == "running"  # type: ignore[index]
            # Services do not inherit our NOTIFY_SOCKET.
            pid = daemon.services()["db"]["pid"]
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert not any(e.startswith(b"NOTIFY_SOCKET=") for e in environ)
            daemon.signal(signal.SIGTERM)
            assert "STOPPING=1" in notify.recv(4096).decode().splitlines()
            assert daemon.wait() == 0


def test_runs_on_trio(tmp_path: Path) -> None:
    with Daemon(tmp_path, TWO, "--backend", "trio") as daemon:
        assert {s["state"] for s in daemon.wait_running().values()} == {"ready"}
        assert daemon.ctl("restart", "db").returncode == 0
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
        assert stop_order(daemon)[-2:] == ["api", "db"]


# -- reload -------------------------------------------------------------------------


def test_reload_with_a_broken_file_changes_nothing(tmp_path: Path) -> None:
    with Daemon(tmp_path, TWO) as daemon:
        pids = {n: s["pid"] for n, s in daemon.wait_running().items()}
        daemon.write_config(TWO.replace("depends_on: [db]", "depends_on: [dbb]"))

        result = daemon.ctl("reload")
        assert result.returncode == 1
        assert "has errors; nothing changed" in result.stderr
        assert "did you mean" in result.stderr.lower() or "dbb" in result.stderr

        daemon.signal(signal.SIGHUP)
        wait_for(
            lambda: (
                len(daemon.find(event="reload rejected: the file has errors; nothing changed")) == 2
            )
        )
        assert {n: s["pid"] for n, s in daemon.services().items()} == pids
        assert {s["state"] for s in daemon.services().values()} == {"ready"}


@pytest.mark.skipif(not hasattr(Supervisor, "reload"), reason="the runtime has no reload() yet")
def test_reload_applies_only_what_changed(tmp_path: Path) -> None:
    config = (
        TWO
        + f"""
  worker:
    command: {sleeper("worker up")}
"""
    )
    with Daemon(tmp_path, config) as daemon:
        pids = {n: s["pid"] for n, s in daemon.wait_running().items()}
        changed = (
            TWO.replace("db up", "db up again")
            + f"""
  cache:
    command: {sleeper("cache up")}
"""
        )
        daemon.write_config(changed)
        result = daemon.ctl("reload")
        assert result.returncode == 0, result.stderr
        after = daemon.services()
        assert set(after) == {"db", "api", "cache"}
        assert after["db"]["pid"] != pids["db"]  # changed
        assert after["api"]["pid"] != pids["api"]  # a dependent of a changed service
        assert after["cache"]["state"] == "ready"  # added

        daemon.write_config(changed.replace("cache up", "cache up!"))
        unchanged = {n: s["pid"] for n, s in after.items()}
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: len(daemon.find(event="reloaded")) == 2, what="the second reload")
        now = daemon.services()
        assert now["cache"]["pid"] != unchanged["cache"]
        assert now["db"]["pid"] == unchanged["db"] and now["api"]["pid"] == unchanged["api"]


def test_shutdown_no_wait_then_exit(tmp_path: Path) -> None:
    with Daemon(tmp_path, TWO) as daemon:
        daemon.wait_running()
        result = daemon.ctl("shutdown", "--no-wait")
        assert (result.returncode, result.stdout.strip()) == (0, "shutting down")
        assert daemon.wait() == 0


def test_status_during_startup_and_stop_during_startup(tmp_path: Path) -> None:
    slow = json.dumps([PYTHON, "-c", "import time; time.sleep(1000)"])
    config = f"""
services:
  slow:
    command: {slow}
    ready: {{file: {json.dumps(str(tmp_path / "never"))}}}
    start_timeout: 60s
"""
    with Daemon(tmp_path, config) as daemon:
        answer = wait_for(daemon.status, what="the control socket")
        assert answer["supervisor"]["state"] == "starting"
        wait_for(lambda: daemon.services()["slow"]["state"] == "starting")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0


def test_failed_service_row_says_why_and_how_it_ended(tmp_path: Path) -> None:
    crash = json.dumps([PYTHON, "-c", "import sys; sys.exit(3)"])
    config = f"""
supervisor:
  on_failure: isolate
services:
  ok:
    command: {sleeper()}
  broken:
    command: {crash}
    restart: no
"""
    with Daemon(tmp_path, config) as daemon:
        daemon.wait_state("broken", "failed")
        rows = {line.split()[0]: line for line in daemon.ctl("status").stdout.splitlines()[1:]}
        assert rows["broken"].split()[1:4] == ["failed", "-", "-"]
        assert rows["broken"].endswith("exited 3")
        assert daemon.ctl("status", "--ready").returncode == 1


def test_init_forwards_sigusr1_to_services(tmp_path: Path) -> None:
    config = """
services:
  listener:
    command: [sh, -c, "trap 'echo got USR1' USR1; echo waiting; while :; do sleep 0.05; done"]
    ready: {log: waiting}
"""
    with Daemon(tmp_path, config, "--init") as daemon:
        daemon.wait_running()
        daemon.signal(signal.SIGUSR1)
        assert daemon.wait_log(event="output", line="got USR1")["service"] == "listener"
        assert daemon.find(event="signal forwarded", signal="SIGUSR1")


def test_unimportable_run_target_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text('services:\n  x:\n    run: "no_such_module_here:main"\n')
    result = cli("run", str(path), "--socket", str(tmp_path / "s.sock"))
    assert result.returncode == 2
    assert "no_such_module_here" in result.stderr and "Traceback" not in result.stderr
