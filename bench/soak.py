"""Soak test: the real daemon under crash loops, chatty output and busy control clients.

Run:  .venv/bin/python bench/soak.py [--minutes 10] [--interval 10] [--warmup 60]

Starts ``python -m supervisor run FILE --socket S --log-format json`` on a generated file:

* two process services that exit 1 at once (``restart: always``, 50-200 ms backoff, an
  intensity they never reach), one in-process ``run:`` service that raises right after it is
  ready (``bench/soak_services.py``), a chatty process printing lines without pause, and a
  steady sleeper that a client restarts every few seconds;
* control clients on the Unix socket: ``status`` every second, ``restart steady`` every
  5 s, a ``logs -f`` follower that reads everything, a follower that never reads, and idle
  connections held open for the whole run.

Every ``--interval`` seconds it samples the daemon's open fds (``/proc/PID/fd``), RSS
(``VmRSS``), CPU seconds (utime + stime) and restarts per second (from ``status``) and
prints one row (``fds`` is the least of 20 reads over 1 s, ``fdmax`` the most: each child
alive holds 4 fds, and a crash-looping child is alive much of the time). The baseline is
the first sample after ``--warmup`` seconds; the verdict passes when the steady fd count
does not rise (the lowest of the last third of the rows no higher than the lowest of the
first third, plus ``--fd-slack``) and the RSS stays within ``--rss-percent`` of the
baseline. At the end the daemon gets SIGTERM, and the script checks that no process it
started (each carries a marker in its command line) is left.

Exit status: 0 when the verdict passes, 1 otherwise. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from supervisor.control.client import ControlClient, ControlError, NoDaemon  # noqa: E402
from supervisor.control.protocol import encode  # noqa: E402

PYTHON = sys.executable
HELD_CONNECTIONS = 20
CLK_TCK = os.sysconf("SC_CLK_TCK")


def config_text(marker: str) -> str:
    """The service file: crash loops, an in-process crash loop, a chatty and a steady process."""
    crash = [PYTHON, "-c", f"import sys; sys.exit(1)  # {marker}"]
    chatty_code = (
        f"# {marker}\nimport itertools, sys\n"
        "for i in itertools.count():\n"
        "    sys.stdout.write(f'chatty line {i} ' + 'x' * 60 + '\\n')\n"
        "    if i % 20 == 0: sys.stdout.flush(); __import__('time').sleep(0.01)\n"
    )
    steady = [PYTHON, "-c", f"import time; time.sleep(100000)  # {marker}"]
    loop = (
        "restart: {policy: always, backoff: {initial: 50ms, max: 200ms}, "
        "max_restarts: 1000000, within: 1s}"
    )
    return f"""\
version: 1
supervisor: {{shutdown_timeout: 20s}}
services:
  crash_a:
    command: {json.dumps(crash)}
    {loop}
  crash_b:
    command: {json.dumps(crash)}
    {loop}
  crash_inproc:
    run: bench.soak_services:crash_after_ready
    args: {{seconds: 0.05}}
    {loop}
  chatty:
    command: {json.dumps([PYTHON, "-c", chatty_code])}
    restart: always
  steady:
    command: {json.dumps(steady)}
    restart: always
    stop: {{timeout: 5s}}
"""


@dataclass
class Sample:
    """One row: seconds since start and the daemon's figures at that moment."""

    elapsed: float
    fds: int
    fds_max: int
    rss_kib: int
    cpu_s: float
    restarts: int
    restarts_per_s: float
    follower_lines: int


def proc_fds(pid: int) -> tuple[int, int]:
    """Open file descriptors of ``pid``: the least and most of 20 reads over 1 s.

    Each live child holds 4 fds (pidfd, two pipes, an epoll) and a crash-looping child is
    alive a good part of the time on a busy machine; the least of many reads is the steady
    count a leak would raise.
    """
    counts = []
    for _ in range(20):
        counts.append(len(os.listdir(f"/proc/{pid}/fd")))
        time.sleep(0.05)
    return min(counts), max(counts)


def proc_rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def proc_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of ``pid`` (its children not included)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def marked_pids(marker: str) -> list[int]:
    """Processes whose command line carries ``marker`` (this script's children)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
    return found


class Clients:
    """The concurrent control clients, each in a daemon thread, stopped by ``stop``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self.status_calls = 0
        self.restart_calls = 0
        self.follower_lines = 0
        self.held: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Open the held connections and the stalled follower, start the client threads."""
        for _ in range(HELD_CONNECTIONS):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.path)
            self.held.append(sock)
        stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stalled.connect(self.path)
        stalled.sendall(encode({"cmd": "logs", "service": "chatty", "follow": True}))
        self.held.append(stalled)  # never read: the daemon must not buffer for it forever
        for target in (self._status_loop, self._restart_loop, self._follow):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self.threads.append(thread)

    def _error(self, what: str, exc: BaseException) -> None:
        with self._lock:
            if len(self.errors) < 20:
                self.errors.append(f"{what}: {type(exc).__name__}: {exc}")

    def _status_loop(self) -> None:
        client = ControlClient(self.path, timeout=10)
        while not self.stopping.wait(1.0):
            try:
                client.request("status")
                self.status_calls += 1
            except (ControlError, NoDaemon, OSError) as exc:
                self._error("status", exc)

    def _restart_loop(self) -> None:
        client = ControlClient(self.path, timeout=20)
        while not self.stopping.wait(5.0):
            try:
                client.request("restart", names=["steady"])
                self.restart_calls += 1
            except (ControlError, NoDaemon, OSError) as exc:
                self._error("restart", exc)

    def _follow(self) -> None:
        while not self.stopping.is_set():
            try:
                stream = ControlClient(self.path, timeout=10).stream(
                    "logs", service="chatty", follow=True, lines=0
                )
                for _ in stream:
                    self.follower_lines += 1
                    if self.stopping.is_set():
                        break
                return
            except (ControlError, NoDaemon, OSError) as exc:
                if not self.stopping.is_set():
                    self._error("logs -f", exc)
                    self.stopping.wait(1.0)

    def stop(self) -> None:
        """Stop the loops and close the held connections."""
        self.stopping.set()
        for sock in self.held:
            sock.close()
        for thread in self.threads:
            thread.join(5)


def restart_total(path: str) -> int:
    """The sum of every service's restart count, from ``status``."""
    answer = ControlClient(path, timeout=10).request("status")
    return sum(int(s.get("restarts", 0)) for s in answer["services"])


def wait_socket(path: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until the daemon answers ``status``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the daemon exited with {proc.returncode} before it listened")
        with contextlib.suppress(NoDaemon, ControlError, OSError):
            ControlClient(path, timeout=2).request("status")
            return
        time.sleep(0.1)
    raise SystemExit("the daemon did not answer status in time")


def verdict(
    samples: list[Sample], warmup: float, fd_slack: int, rss_percent: float
) -> tuple[bool, list[str]]:
    """Judge the rows after warm-up: fds flat, RSS within ``rss_percent`` of the baseline.

    fds are flat when the lowest steady count (``fds``) of the last third of the rows is
    no higher than the first third's plus ``fd_slack``: a leak of even one fd per restart
    would raise it by thousands over a run. Single rows above it are children alive at
    that moment, shown but not judged.
    """
    after = [s for s in samples if s.elapsed >= warmup]
    if len(after) < 3:
        return False, [f"too few samples after the {warmup:g} s warm-up to judge"]
    base = after[0]
    fds = [s.fds for s in after]
    rss = [s.rss_kib for s in after]
    third = len(after) // 3
    first_floor, last_floor = min(fds[:third]), min(fds[-third:])
    fd_ok = last_floor <= first_floor + fd_slack
    rss_lo, rss_hi = min(rss) / base.rss_kib - 1, max(rss) / base.rss_kib - 1
    rss_ok = max(abs(rss_lo), abs(rss_hi)) * 100 <= rss_percent
    lines = [
        f"fds after warm-up: baseline {base.fds}, min {min(fds)}, max {max(fds)}, "
        f"last {after[-1].fds}; floor of first third {first_floor}, of last third "
        f"{last_floor}; highest single read {max(s.fds_max for s in after)} "
        f"(slack {fd_slack}): {'FLAT' if fd_ok else 'GROWING'}",
        f"RSS after warm-up: baseline {base.rss_kib} KiB, range {rss_lo * 100:+.1f}% .. "
        f"{rss_hi * 100:+.1f}%, last {after[-1].rss_kib} KiB (limit +/-{rss_percent:g}%): "
        f"{'OK' if rss_ok else 'DRIFT'}",
    ]
    return fd_ok and rss_ok, lines


def main(argv: list[str] | None = None) -> int:
    """Run the soak; print the rows and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the baseline")
    parser.add_argument("--fd-slack", type=int, default=2)
    parser.add_argument("--rss-percent", type=float, default=5.0)
    args = parser.parse_args(argv)

    marker = f"soak-{uuid.uuid4().hex[:12]}"
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    config = workdir / "soak.yaml"
    config.write_text(config_text(marker))
    sock_path = str(workdir / "ctl.sock")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NOTIFY_SOCKET", None)
    env.pop("SUPERVISOR_SOCKET", None)
    argv_daemon = [PYTHON, "-m", "supervisor", "run", str(config), "--socket", sock_path]
    argv_daemon += ["--log-format", "json"]
    log_path = workdir / "daemon.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv_daemon, cwd=ROOT, env=env, stdout=log, stderr=log)
    clients = Clients(sock_path)
    samples: list[Sample] = []
    try:
        wait_socket(sock_path, proc)
        clients.start()
        started = time.monotonic()
        end = started + args.minutes * 60
        previous = (started, restart_total(sock_path))
        print(
            f"soak: daemon pid {proc.pid}, {args.minutes:g} min, sample every "
            f"{args.interval:g} s, warm-up {args.warmup:g} s, files in {workdir}"
        )
        print(
            f"{'t(s)':>6} {'fds':>5} {'fdmax':>5} {'rss(KiB)':>9} {'cpu(s)':>8} {'cpu%':>5} "
            f"{'restarts':>9} {'rst/s':>6} {'follow':>8}"
        )
        last_cpu, last_t = proc_cpu_s(proc.pid), started
        next_at = started + args.interval
        while next_at <= end + 0.001:
            time.sleep(max(0.0, next_at - time.monotonic()))
            if proc.poll() is not None:
                raise SystemExit(f"the daemon exited with {proc.returncode} during the soak")
            now = time.monotonic()
            total = restart_total(sock_path)
            cpu = proc_cpu_s(proc.pid)
            fds, fds_max = proc_fds(proc.pid)
            sample = Sample(
                elapsed=now - started,
                fds=fds,
                fds_max=fds_max,
                rss_kib=proc_rss_kib(proc.pid),
                cpu_s=cpu,
                restarts=total,
                restarts_per_s=(total - previous[1]) / (now - previous[0]),
                follower_lines=clients.follower_lines,
            )
            cpu_pct = 100 * (cpu - last_cpu) / (now - last_t)
            last_cpu, last_t, previous = cpu, now, (now, total)
            samples.append(sample)
            print(
                f"{sample.elapsed:6.0f} {sample.fds:5d} {sample.fds_max:5d} "
                f"{sample.rss_kib:9d} {sample.cpu_s:8.1f} "
                f"{cpu_pct:5.1f} {sample.restarts:9d} {sample.restarts_per_s:6.1f} "
                f"{sample.follower_lines:8d}",
                flush=True,
            )
            next_at += args.interval
    finally:
        clients.stop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait(10)
                print("the daemon did not exit within 60 s of SIGTERM: killed")
        else:
            code = proc.returncode
    left: list[int] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = marked_pids(marker)
        if not left:
            break
        time.sleep(0.1)
    ok, lines = verdict(samples, args.warmup, args.fd_slack, args.rss_percent)
    print(
        f"clients: {clients.status_calls} status, {clients.restart_calls} restarts, "
        f"{clients.follower_lines} followed lines, {HELD_CONNECTIONS} idle + 1 stalled follower"
    )
    if clients.errors:
        print("client errors:", *clients.errors, sep="\n  ")
    print(f"daemon exit code after SIGTERM: {code}")
    print(f"processes left: {left or 'none'}")
    for line in lines:
        print(line)
    ok = ok and not left and not clients.errors
    print(f"VERDICT: {'PASS' if ok else 'FAIL'}")
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
