"""The orphan guard program on its own: what it does at end-of-file.

The end-to-end case, a supervisor killed with SIGKILL, is in test_process_orphans.py.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from supervisor.services._guard import GUARD_COMMAND

IGNORES_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(100)"
)
OBEYS_TERM = "import time; print('ready', flush=True); time.sleep(100)"


@pytest.fixture
def guard_argv() -> list[str]:
    """The guard as the supervisor starts it."""
    return [sys.executable, *GUARD_COMMAND]


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes in sessions of their own (each leads its group); all reaped at the end."""
    spawned: list[subprocess.Popen[str]] = []
    yield spawned
    for proc in spawned:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def leader(spawned: list[subprocess.Popen[str]], code: str) -> subprocess.Popen[str]:
    """Start a Python group leader running ``code`` and wait until it says ``ready``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    spawned.append(proc)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def start_guard(argv: list[str], lines: str) -> subprocess.Popen[str]:
    """Start the guard, write ``lines``, then close the pipe as a dying supervisor would."""
    guard = subprocess.Popen(argv, stdin=subprocess.PIPE, text=True, start_new_session=True)
    assert guard.stdin is not None
    guard.stdin.write(lines)
    guard.stdin.close()
    return guard


def seconds_to_exit(guard: subprocess.Popen[str]) -> float:
    """Wait for the guard to exit (status 0); how long that took."""
    began = time.monotonic()
    assert guard.wait(10) == 0
    return time.monotonic() - began


def test_end_of_file_stops_registered_groups(
    guard_argv: list[str], spawn: list[subprocess.Popen[str]]
) -> None:
    obeys = leader(spawn, OBEYS_TERM)
    ignores = leader(spawn, IGNORES_TERM)
    forgotten = leader(spawn, OBEYS_TERM)
    lines = (
        f"+ {obeys.pid} {int(signal.SIGTERM)} 5\n"
        f"+ {forgotten.pid} {int(signal.SIGTERM)} 5\n"
        f"+ {ignores.pid} {int(signal.SIGTERM)} 0.3\n"
        f"- {forgotten.pid}\n"
    )
    guard = start_guard(guard_argv, lines)
    began = time.monotonic()
    # Reaped here as init would reap them once their supervisor is gone.
    assert obeys.wait(5) == -signal.SIGTERM
    assert ignores.wait(5) == -signal.SIGKILL
    assert time.monotonic() - began >= 0.25  # its own grace (0.3 s), not the others' 5 s
    assert seconds_to_exit(guard) < 4.0
    assert forgotten.poll() is None  # unregistered: not the guard's business any more


def test_the_stop_signal_is_the_registered_one(
    guard_argv: list[str], spawn: list[subprocess.Popen[str]]
) -> None:
    proc = leader(spawn, IGNORES_TERM)
    guard = start_guard(guard_argv, f"+ {proc.pid} {int(signal.SIGINT)} 5\n")
    assert proc.wait(5) == -signal.SIGINT
    assert seconds_to_exit(guard) < 4.0


def test_nothing_registered_exits_at_once(guard_argv: list[str]) -> None:
    assert seconds_to_exit(start_guard(guard_argv, "")) < 2.0
    assert seconds_to_exit(start_guard(guard_argv, "+ 99999999 15 0.1\n- 99999999\n")) < 2.0
