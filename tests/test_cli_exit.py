"""How the ``supervisor`` command ends: fast, but with nothing observable skipped."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

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
