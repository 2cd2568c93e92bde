"""PID 1 and subreaper duties of ``supervisor run``, end to end.

PID 1 scenarios run the daemon as PID 1 of a new PID namespace (``unshare --pid --fork
--mount-proc``, as in a container); they are skipped where unshare is not permitted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.daemon_helpers import Daemon, wait_for

UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]


def _unshare_works() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed"
    try:
        done = subprocess.run([*UNSHARE, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare failed: {exc}"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip()
        return f"unshare --pid is not permitted here (root or user namespaces needed): {why}"
    return None


_SKIP = _unshare_works()
needs_unshare = pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")


def children(pid: int) -> dict[int, str]:
    """``{child pid: state}`` of ``pid`` (host PIDs)."""
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
            if int(fields[1]) == pid:
                found[int(entry)] = fields[0].decode()
    return found


def cmdline(pid: int) -> list[str]:
    """The command line of ``pid`` (empty once it is gone or a zombie)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def pid1_of(daemon: Daemon) -> int:
    """Host PID of the supervisor running as PID 1 under unshare."""
    assert daemon.proc is not None
    found: list[int] = wait_for(lambda: list(children(daemon.proc.pid)), what="PID 1")  # type: ignore[union-attr]
    return found[0]


ORPHANS = """
supervisor:
  on_failure: isolate
services:
  db:
    command: [sleep, "1000"]
  orphans:
    # Three subshells each start `sleep 0.3` and exit at once: the sleeps are orphans.
    command: [sh, -c, "for i in 1 2 3; do (sleep 0.3 &); done; echo spawned; exec sleep 1000"]
    depends_on: [db]
    ready: {log: spawned}
  flaky:
    command: [sh, -c, "(sleep 0.05 &); sleep 0.2; exit 7"]
    depends_on: [db]
    restart: no
"""


@needs_unshare
def test_pid1_reaps_orphans_and_keeps_exit_status_of_its_children(tmp_path: Path) -> None:
    with Daemon(tmp_path, ORPHANS, "--log-level", "debug", prefix=UNSHARE) as daemon:
        pid1 = pid1_of(daemon)
        daemon.wait_running()
        assert daemon.status()["supervisor"]["pid"] == 1  # type: ignore[index]

        def adopted_sleeps() -> list[int]:
            return [p for p in children(pid1) if cmdline(p)[:2] == ["sleep", "0.3"]]

        # The orphans were re-parented to PID 1 (our supervisor) ...
        wait_for(lambda: len(adopted_sleeps()) == 3, what="orphans adopted by PID 1")
        # ... and once they exit they are reaped: no zombie stays behind.
        wait_for(
            lambda: not adopted_sleeps() and all(state != "Z" for state in children(pid1).values()),
            what="the orphans to be reaped",
        )
        assert len(daemon.find(event="reaped orphan")) >= 3

        # The runtime still learned how its own child ended (not a stolen status).
        flaky = daemon.wait_state("flaky", "failed")
        assert flaky["last_exit"] == "exited 7"

        # SIGTERM to PID 1 stops everything in reverse order; the exit code is kept.
        os.kill(pid1, signal.SIGTERM)
        assert daemon.wait() == 0
        stopped = [r["service"] for r in daemon.logs() if r.get("event") == "stopped"]
        assert stopped == ["orphans", "db"]


@needs_unshare
def test_pid1_exit_code_of_an_escalated_failure(tmp_path: Path) -> None:
    config = """
services:
  db:
    command: [sleep, "1000"]
  crash:
    command: [sh, -c, "sleep 0.1; exit 3"]
    depends_on: [db]
    restart: no
"""
    with Daemon(tmp_path, config, prefix=UNSHARE) as daemon:
        assert daemon.wait() == 1
        assert daemon.find(event="supervisor failed")


@needs_unshare
def test_pid1_second_sigterm_kills_at_once(tmp_path: Path) -> None:
    config = """
services:
  stubborn:
    command: [sh, -c, "trap '' TERM; echo trapped; while :; do sleep 0.1; done"]
    ready: {log: trapped}
    stop: {timeout: 60s}
"""
    with Daemon(tmp_path, config, "--log-level", "debug", prefix=UNSHARE) as daemon:
        pid1 = pid1_of(daemon)
        daemon.wait_running()
        os.kill(pid1, signal.SIGTERM)
        daemon.wait_log(event="stopping process", service="stubborn")
        os.kill(pid1, signal.SIGTERM)
        assert daemon.wait(timeout=10) == 1


def test_subreaper_adopts_and_stops_daemonized_grandchildren(tmp_path: Path) -> None:
    # `setsid sleep` leaves the service's process group: stopping the service does not
    # reach it, but the supervisor (a subreaper) adopts it and stops it on exit.
    config = """
services:
  forker:
    command: [sh, -c, "setsid sleep 1000 & echo grandchild $!; exec sleep 1000"]
    ready: {log: grandchild}
    stop: {timeout: 2s}
"""
    with Daemon(tmp_path, config) as daemon:
        daemon.wait_running()
        line = daemon.wait_log(event="output", service="forker")["line"]
        grandchild = int(line.split()[1])
        assert daemon.proc is not None
        assert daemon.ctl("stop", "forker").returncode == 0
        # Its parent is gone: it was re-parented to the supervisor, not to init.
        wait_for(lambda: grandchild in children(daemon.proc.pid), what="adoption")  # type: ignore[union-attr]
        assert cmdline(grandchild) == ["sleep", "1000"]
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
        assert not cmdline(grandchild), "the adopted grandchild outlived the supervisor"
        assert daemon.find(event="stopping leftover processes")
