"""How the ``supervisor`` command ends: fast, but with nothing observable skipped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from supervisor.control.client import ControlClient
from tests.daemon_helpers import wait_for

PROGRAM = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from supervisor.cli import exit_now

    out = sys.argv[1]

    def slow_writer():  # like a log file being gzipped when the daemon ends
        time.sleep(0.2)
        with open(out, "a") as f:
            f.write("thread done\\n")

    atexit.register(lambda: open(out, "a").write("atexit ran\\n"))
    threading.Thread(target=slow_writer).start()
    sys.stdout.write("buffered, not flushed")
    exit_now(int(sys.argv[2]))
    """
)


def test_exit_now_waits_for_threads_runs_atexit_and_flushes(tmp_path: Path) -> None:
    out = tmp_path / "trace"
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(out), "3"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 3
    assert done.stdout == "buffered, not flushed"
    assert out.read_text() == "thread done\natexit ran\n"


def test_the_console_script_exits_with_the_command_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("services:\n  a: {command: [true], restart: sometimes}\n")
    done = subprocess.run(
        [sys.executable, "-m", "supervisor", "check", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert f"{bad}:2:" in done.stderr + done.stdout


def test_the_daemon_outlives_the_reader_of_its_log(tmp_path: Path) -> None:
    """`supervisor run ... | head`: once the reader is gone, its log lines are lost, not
    its services (a failed write used to raise in the output pump and stop everything)."""
    config = tmp_path / "s.yaml"
    counter = "i=0; while :; do i=$((i+1)); echo $i; sleep 0.01; done"
    config.write_text(f"services:\n  talk: {{command: [sh, -c, '{counter}']}}\n")
    sock = str(tmp_path / "s.sock")
    read_end, write_end = os.pipe()
    argv = [sys.executable, "-m", "supervisor", "run", str(config), "--socket", sock]
    proc = subprocess.Popen([*argv, "--log-format", "json"], stdout=write_end, stderr=write_end)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as reader:
            assert reader.readline()  # the daemon is logging; then the reader goes away
        client = ControlClient(sock, timeout=10)

        def last() -> int:
            lines = client.request("logs", service="talk", lines=1).get("lines") or []
            return int(lines[-1]["line"]) if lines else 0

        seen = wait_for(last, what="the service's output")
        wait_for(lambda: last() > seen + 20, what="more output after the reader left")
        assert proc.poll() is None
        assert client.request("status")["services"][0]["state"] == "ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
