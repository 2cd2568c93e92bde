"""Output pipeline benchmark: lines per CPU-second of the daemon, against supervisord.

Run:  .venv/bin/python bench/logs.py [--lines 1000000] [--repeat 3] [--no-supervisord]

One service prints ``seq 1 N`` (N = 1,000,000 by default) once the benchmark says go.
What is measured is the CPU time (utime + stime, from /proc/PID/stat) of the daemon
process alone, not of its children, from the moment the service is told to go until
every line has arrived where it goes; lines per CPU-second is N divided by that time.

Modes, each measured for this supervisor (``supervisor run``) and for supervisord in
the same run:

The daemon's CPU time comes from the scheduler (``/proc/PID/task/*/schedstat``,
nanoseconds; ``/proc/PID/stat`` counts 10 ms ticks, too coarse for the file mode).

* ``file``: the service has a log file (``log: {file: ...}``); supervisord uses
  ``stdout_logfile``. Target (issue 11): >= 10,000,000 lines/CPU-s.
* ``json``: no log file, the daemon echoes each line as a JSON object on its log stream
  (``--log-format json``, redirected to a file). Target: >= 400,000 lines/CPU-s.
* ``console``: the same with ``--log-format console`` (``seq | 1``).

supervisord has no JSON or console rendering: its figure for those two modes is
``stdout_logfile=/dev/stdout`` (its own stdout, redirected to a file), the closest thing
it does. supervisord is installed with pip into a venv of its own (``--supervisord-venv``,
default bench/.venv-supervisord, shared with the other benchmarks) when it is not there yet.

Medians of ``--repeat`` runs are printed, with the ratio ours / supervisord (above 1:
we use less CPU per line).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from daemon_peers import ensure_venv

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TICKS = os.sysconf("SC_CLK_TCK")
MODES = ("file", "json", "console")
TARGETS = {"file": 10_000_000, "json": 400_000, "console": 400_000}


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` itself (not its children), in seconds.

    /proc/PID/stat counts in clock ticks (10 ms): too coarse for a tenth of a second.
    The scheduler's own count (``schedstat``, nanoseconds of CPU per thread) is the same
    quantity, exact; it is summed over the process's threads. /proc/PID/stat is the
    fallback where schedstat is missing.
    """
    try:
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as schedstat:
                total += int(schedstat.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def seq_bytes(n: int) -> int:
    """Size of the output of ``seq 1 n``."""
    total, digits, start = 0, 1, 1
    while start <= n:
        end = min(n, start * 10 - 1)
        total += (end - start + 1) * (digits + 1)
        digits, start = digits + 1, start * 10
    return total


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def contains(path: Path, marker: bytes) -> bool:
    try:
        return marker in path.read_bytes()
    except FileNotFoundError:
        return False


def line_count(path: Path, marker: bytes) -> int:
    """Lines of ``path`` containing ``marker`` (counted by the benchmark, not the daemon)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    if marker == b"":
        return data.count(b"\n")
    return sum(1 for line in data.splitlines() if marker in line)


def service_command(go: Path, n: int) -> str:
    """Wait for ``go`` to exist (so start-up is not measured), then print N lines."""
    return f"while [ ! -e {go} ]; do sleep 0.01; done; exec seq 1 {n}"


def measure(
    start: Callable[[Path, Path], subprocess.Popen[bytes]],
    done: Callable[[Path], bool],
    started: Callable[[Path], bool],
) -> float:
    """CPU seconds of the daemon ``start(tmp, go)`` returns, from go to ``done(tmp)``."""
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as name:
        tmp = Path(name)
        go = tmp / "go"
        daemon = start(tmp, go)
        try:
            wait_until(lambda: started(tmp), 60, "the daemon to start the service")
            time.sleep(0.3)  # let start-up work (imports, first status) settle
            before = cpu_seconds(daemon.pid)
            go.touch()
            wait_until(lambda: done(tmp), 300, "every line")
            return cpu_seconds(daemon.pid) - before
        finally:
            daemon.terminate()
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


# -- this supervisor --------------------------------------------------------------------


def ours(mode: str, n: int) -> float:
    expected = seq_bytes(n)

    def start(tmp: Path, go: Path) -> subprocess.Popen[bytes]:
        log = f"    log: {{file: {tmp / 'seq.log'}}}\n" if mode == "file" else ""
        (tmp / "services.yaml").write_text(
            "supervisor:\n"
            f"  control_socket: {tmp / 'ctl.sock'}\n"
            "services:\n"
            "  seq:\n"
            f"    command: [sh, -c, {service_command(go, n)!r}]\n"
            "    oneshot: true\n"
            "    restart: no\n" + log
        )
        fmt = "json" if mode == "file" else mode
        out = open(tmp / "daemon.log", "wb")  # noqa: SIM115 - handed to the child
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "supervisor",
                "run",
                str(tmp / "services.yaml"),
                "--log-format",
                fmt,
            ],
            stdout=out,
            stderr=out,
            cwd=tmp,
        )

    def started(tmp: Path) -> bool:
        return contains(tmp / "daemon.log", b"process started")

    if mode == "file":
        return measure(start, lambda tmp: size_of(tmp / "seq.log") >= expected, started)
    marker = b'"event": "output"' if mode == "json" else b"seq | "
    return measure(
        start,
        lambda tmp: (
            size_of(tmp / "daemon.log") >= expected and line_count(tmp / "daemon.log", marker) >= n
        ),
        started,
    )


# -- supervisord ------------------------------------------------------------------------

SUPERVISORD_CONF = """\
[supervisord]
nodaemon=true
logfile={tmp}/supervisord.log
pidfile={tmp}/supervisord.pid
loglevel=info

[program:seq]
command=sh -c '{command}'
autostart=true
autorestart=false
startsecs=0
stdout_logfile={stdout}
stdout_logfile_maxbytes={maxbytes}
redirect_stderr=true
"""


def theirs(exe: Path, mode: str, n: int) -> float:
    expected = seq_bytes(n)

    def start(tmp: Path, go: Path) -> subprocess.Popen[bytes]:
        to_file = mode == "file"
        conf = SUPERVISORD_CONF.format(
            tmp=tmp,
            command=service_command(go, n),
            stdout=tmp / "seq.log" if to_file else "/dev/stdout",
            maxbytes="1GB" if to_file else 0,
        )
        (tmp / "supervisord.conf").write_text(conf)
        out = open(tmp / "daemon.log", "wb")  # noqa: SIM115 - handed to the child
        return subprocess.Popen(
            [str(exe), "-n", "-c", str(tmp / "supervisord.conf")], stdout=out, stderr=out
        )

    def started(tmp: Path) -> bool:
        return contains(tmp / "supervisord.log", b"spawned: 'seq'")

    target = "seq.log" if mode == "file" else "daemon.log"
    return measure(start, lambda tmp: size_of(tmp / target) >= expected, started)


# -- report -----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--no-supervisord", action="store_true")
    parser.add_argument("--supervisord-venv", default=str(HERE / ".venv-supervisord"))
    args = parser.parse_args()
    n = args.lines
    exe = (
        None
        if args.no_supervisord
        else ensure_venv(
            "supervisord", "supervisor>=4,<5", "supervisord", Path(args.supervisord_venv)
        )
    )
    print(f"{n:,} lines per run, median of {args.repeat} runs; CPU = daemon utime+stime")
    print(
        f"{'mode':<8} {'ours CPU-s':>11} {'lines/CPU-s':>13} {'target':>11} "
        f"{'supervisord CPU-s':>18} {'lines/CPU-s':>13} {'ratio':>7}"
    )
    for mode in args.modes.split(","):
        mine = statistics.median(ours(mode, n) for _ in range(args.repeat))
        rate = n / mine if mine > 0 else float("inf")
        verdict = "ok" if rate >= TARGETS[mode] else "MISSED"
        row = f"{mode:<8} {mine:>11.3f} {rate:>13,.0f} {TARGETS[mode]:>9,} {verdict:<3}"
        if exe is not None:
            other = statistics.median(theirs(exe, mode, n) for _ in range(args.repeat))
            other_rate = n / other if other > 0 else float("inf")
            ratio = other / mine if mine > 0 else float("inf")
            row += f" {other:>16.3f} {other_rate:>13,.0f} {ratio:>7.2f}"
        print(row, flush=True)
    if exe is not None:
        print(
            "ratio: supervisord CPU / ours (above 1: we spend less CPU per line); "
            "supervisord's json/console rows write its raw stdout, it cannot render lines"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
