"""A supervisor killed with SIGKILL leaves no service behind (the orphan guard)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "scripts" / "run_service.py"


def alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def wait_dead(pid: int, timeout: float = 5.0) -> bool:
    """Poll until ``pid`` is gone or a zombie; False on timeout."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("shape", ["child", "grandchild"])
def test_services_die_with_a_sigkilled_supervisor(backend: str, shape: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, str(SCRIPT), backend, shape],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert parent.stdout is not None
    pids: dict[str, int] = {}
    try:
        for line in parent.stdout:
            if match := re.search(r"\b(child|grandchild) (\d+)$", line.strip()):
                pids[match.group(1)] = int(match.group(2))
            if "child" in pids and (shape == "child" or "grandchild" in pids):
                break
        assert all(alive(pid) for pid in pids.values()), pids
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        for name, pid in pids.items():
            assert wait_dead(pid), f"{name} {pid} outlived its supervisor"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()
        for pid in pids.values():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
