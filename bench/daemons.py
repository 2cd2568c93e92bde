"""Whole-daemon benchmark: this supervisor against raw, supervisord and circus (issue 14).

    .venv/bin/python bench/daemons.py [--sizes 10,100,300] [--repeat 3]
        [--peers raw,supervisord,circus,ours-asyncio,ours-trio] [--restart-samples 9]
    .venv/bin/python bench/daemons.py --importtime    # what the daemon's cold start imports

Every peer is measured the same way, from the outside, as a user would run it, in the
same run (rounds interleaved, medians of ``--repeat``):

* **up**: from launching the daemon (a generated config of N programs ``sleep 1000``,
  all started automatically) until its control interface reports all N running. The
  interface is asked every ``--poll`` seconds, one request at a time: ours with a
  ``status`` request on its control socket (supervisor/control/client.py: no CLI
  interpreter per poll), every service ``ready``; supervisord with XML-RPC
  ``getAllProcessInfo`` on its unix socket, all ``RUNNING``; circus with ``status`` over
  its ZMQ endpoint (``circus.client``, from a poller process started before the daemon
  since circus lives in its own venv), every watcher ``active`` (circus marks a watcher
  active once its processes are spawned); raw writes a file once all are spawned.
* **down**: from SIGTERM to the daemon until it and every process that descended from it
  at "up" time are gone (``/proc`` polled every millisecond; a zombie counts as gone).
* **status**: one run of the status command a user types (``supervisor status``,
  ``supervisorctl status``, ``circusctl status``) while all run, launch to exit.
* **RSS**: VmRSS of the daemon process alone, read as soon as all are up. Helper
  processes (ours: the orphan guard) are listed apart, and so is the daemon's CPU time
  up to then (user+sys: steadier than wall time on a busy machine). "down" is also split
  into: programs gone, daemon exited, all gone (what an optimization of stop must aim at).
* **restart latency**: one program (bash) that records ``$EPOCHREALTIME`` when it starts
  and right before it exits 1 after 50 ms; the median gap from an exit to the next start
  over ``--restart-samples`` restarts. Each peer is set to restart at once: ours with
  ``backoff: {initial: 0s, jitter: 0}`` (the default waits 100 ms), circus without
  flapping detection and with ``check_delay = 0.1`` (circus sees exits only when its
  controller checks, every 5 s by default), supervisord with ``autorestart=true,
  startsecs=0``. Each gap includes bash's own start-up, measured apart and printed.

Peers (bench/daemon_peers.py): ``raw`` is bench/raw_supervisor.py (~60 lines:
posix_spawn, sigwaitinfo, killpg); ``ours-asyncio`` and ``ours-trio`` are
``python -m supervisor run FILE --backend B`` from this interpreter, with this package's
bytecode written first as ``pip install`` writes the peers' (an editable install under
``PYTHONDONTWRITEBYTECODE`` would compile every module at each launch); ``supervisord``
(4.x) and ``circus`` (0.19) are optional: installed by this script with pip into
bench/.venv-supervisord and bench/.venv-circus, skipped with the reason if that fails.
Every daemon gets its own temporary directory; sockets are unix sockets in it (nothing
listens on the network). Whatever a run leaves is SIGKILLed.

Targets (issue 14), printed as met or not: cold start at N=10 at or below supervisord's;
RSS at N=100 at or below circus's; stop at N=300 within 3x raw.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon_peers import (
    Circus,
    Ours,
    Peer,
    Program,
    Raw,
    Supervisord,
    alive,
    cpu_seconds,
    descendants,
    kill_all,
    rss_kb,
)

SLEEP = shutil.which("sleep") or "/bin/sleep"
BASH = shutil.which("bash") or "/bin/bash"
UP_TIMEOUT = 60.0
DOWN_TIMEOUT = 60.0
SETTLE = 0.2
"""Seconds between "all up" and SIGTERM, so the stop starts from a settled daemon."""

FLAP_SCRIPT = """\
echo "start $EPOCHREALTIME" >> {record}
sleep 0.05
echo "exit $EPOCHREALTIME" >> {record}
exit 1
"""


# -- one daemon run ---------------------------------------------------------------------


@dataclass
class Down:
    """Seconds from SIGTERM until the programs were gone, the daemon exited, all gone."""

    programs: float = 0.0
    daemon: float = 0.0
    all: float = 0.0


@dataclass
class Run:
    """Figures of one daemon run (seconds, KiB); ``helpers`` are non-program descendants."""

    up: float = 0.0
    up_cpu: float = 0.0
    down: Down = field(default_factory=Down)
    rss_kb: int = 0
    helpers: dict[str, int] = field(default_factory=dict)
    gaps: list[float] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    log: Path = Path()
    tmp: Path = Path()
    status: float = 0.0


@contextlib.contextmanager
def running(peer: Peer, programs: list[Program], poll: float) -> Iterator[tuple[Any, Run]]:
    """Launch ``peer`` with ``programs`` and wait until all run; yield ``(daemon, run)``.

    Timed: launch to all running (``run.up``), and the daemon's RSS at that moment;
    ``run.pids`` are the daemon's descendants then. On exit, whatever of them (and of the
    daemon's descendants now) is still alive is SIGKILLed.
    """
    with tempfile.TemporaryDirectory(prefix=f"daemons-{peer.name}-") as directory:
        tmp = Path(directory)
        argv = peer.launch(tmp, programs)
        run = Run(log=tmp / "daemon.log", tmp=tmp)
        daemon: subprocess.Popen[bytes] | None = None
        log = open(run.log, "wb")  # noqa: SIM115 (closed in finally)
        try:
            ready = peer.readiness(tmp, len(programs))
            began = time.monotonic()
            daemon = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, cwd=tmp, start_new_session=True
            )
            while (seen := ready()) is None:
                if daemon.poll() is not None:
                    raise RuntimeError(f"exited with {daemon.returncode} before all were up")
                if time.monotonic() - began > UP_TIMEOUT:
                    raise RuntimeError(f"not all up after {UP_TIMEOUT:g}s")
                time.sleep(poll)
            run.up = seen - began
            run.rss_kb = rss_kb(daemon.pid)
            run.up_cpu = cpu_seconds(daemon.pid)
            run.pids = list(descendants(daemon.pid))
            yield daemon, run
        except Exception as exc:
            log.flush()
            tail = run.log.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"{peer.name}: {exc}\n{textwrap.indent(tail, '  | ')}") from None
        finally:
            peer.close()
            if daemon is not None:
                left = [*descendants(daemon.pid), *run.pids] if daemon.poll() is None else run.pids
                kill_all([daemon.pid] if daemon.poll() is None else [])
                kill_all([pid for pid in left if alive(pid)])
                with contextlib.suppress(subprocess.TimeoutExpired):
                    daemon.wait(10)
            log.close()


def stop_and_wait(daemon: Any, programs: Sequence[int], helpers: Sequence[int] = ()) -> Down:
    """SIGTERM ``daemon``; when ``programs``, the daemon, and ``helpers`` too were gone."""
    left, helpers_left = list(programs), list(helpers)
    down = Down()
    began = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    while True:
        now = time.monotonic() - began
        if not down.daemon and daemon.poll() is not None:
            down.daemon = now
        while left and not alive(left[-1]):
            left.pop()
        if not left and not down.programs:
            down.programs = now
        while helpers_left and not alive(helpers_left[-1]):
            helpers_left.pop()
        if down.daemon and down.programs and not helpers_left:
            down.all = now
            return down
        if now > DOWN_TIMEOUT:
            raise RuntimeError(f"{left + helpers_left} still running {now:.0f}s after SIGTERM")
        time.sleep(0.001)


def measure_fleet(peer: Peer, n: int, poll: float) -> Run:
    """Up, RSS and down of ``peer`` running N ``sleep 1000`` programs."""
    programs = [Program(f"s{i}", [SLEEP, "1000"]) for i in range(n)]
    with running(peer, programs, poll) as (daemon, run):
        below = descendants(daemon.pid)
        sleeps = sum(comm == "sleep" for comm in below.values())
        if sleeps != n:
            raise RuntimeError(f"reported all up, but {sleeps} of {n} sleeps run")
        for pid, comm in below.items():
            if comm != "sleep":
                run.helpers[comm] = run.helpers.get(comm, 0) + rss_kb(pid)
        run.status = time_status_command(peer, run.tmp, n)
        time.sleep(SETTLE)
        helpers = [pid for pid, comm in below.items() if comm != "sleep"]
        run.down = stop_and_wait(daemon, [p for p in below if p not in helpers], helpers)
    return run


def time_status_command(peer: Peer, tmp: Path, n: int) -> float:
    """Seconds a user's status command takes (launch to exit), once; 0 if the peer has none.

    The command must list all ``n`` programs, so a failure is not timed as a fast answer.
    """
    argv = peer.status_command(tmp)
    if argv is None:
        return 0.0
    began = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, cwd=tmp, timeout=30)
    took = time.monotonic() - began
    listed = sum(re.search(rf"\bs{i}\b", out.stdout) is not None for i in range(n))
    if listed != n:
        raise RuntimeError(f"status command listed {listed} of {n}: {out.stdout[-300:]!r}")
    return took


def measure_restart(peer: Peer, samples: int, poll: float) -> Run:
    """Median-ready gaps from a flapping program's exit to its next start."""
    with tempfile.TemporaryDirectory(prefix="daemons-flap-") as directory:
        record = Path(directory) / "record"
        script = Path(directory) / "flap.sh"
        script.write_text(FLAP_SCRIPT.format(record=record))
        with running(peer, [Program("flap", [BASH, str(script)], restart=True)], poll) as (
            daemon,
            run,
        ):
            deadline = time.monotonic() + 5 + 3 * samples
            while len(starts := _flap_times(record, "start")) <= samples:
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise RuntimeError(f"only {len(starts) - 1} restarts seen")
                time.sleep(0.05)
            exits = _flap_times(record, "exit")
            gaps = [start - end for end, start in zip(exits, starts[1:], strict=False)]
            run.gaps = gaps[:samples]
            stop_and_wait(daemon, list(descendants(daemon.pid)))
    return run


def bash_startup(samples: int) -> float:
    """Median seconds from ``posix_spawn`` of bash to its first line (the gaps' floor)."""
    times = []
    for _ in range(samples):
        read, write = os.pipe()
        began = time.time()
        pid = os.posix_spawn(
            BASH,
            [BASH, "-c", "echo $EPOCHREALTIME"],
            os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, write, 1)],
        )
        os.close(write)
        with os.fdopen(read) as out:
            times.append(float(out.read()) - began)
        os.waitpid(pid, 0)
    return statistics.median(times)


def _flap_times(record: Path, kind: str) -> list[float]:
    text = record.read_text() if record.exists() else ""
    return [float(line.split()[1]) for line in text.splitlines() if line.startswith(kind)]


# -- report -----------------------------------------------------------------------------


@dataclass
class Figures:
    """Medians per peer for one N."""

    up: float
    up_cpu: float
    down: float
    down_programs: float
    down_daemon: float
    rss_mb: float
    helpers: dict[str, float]
    status: float


def summarize(runs: list[Run]) -> Figures:
    """Medians of several runs of one peer."""
    helpers = {
        comm: statistics.median(r.helpers.get(comm, 0) for r in runs) / 1024
        for comm in {c for r in runs for c in r.helpers}
    }
    return Figures(
        up=statistics.median(r.up for r in runs),
        up_cpu=statistics.median(r.up_cpu for r in runs),
        down=statistics.median(r.down.all for r in runs),
        down_programs=statistics.median(r.down.programs for r in runs),
        down_daemon=statistics.median(r.down.daemon for r in runs),
        rss_mb=statistics.median(r.rss_kb for r in runs) / 1024,
        helpers=helpers,
        status=statistics.median(r.status for r in runs),
    )


def cell(figures: Figures | None, rss: bool = True) -> str:
    """One table cell: ``up / down s / RSS MB``."""
    if figures is None:
        return "-"
    text = f"{figures.up:.3f} / {figures.down:.3f} s"
    return text + f" / {figures.rss_mb:.0f} MB" if rss else text


def print_report(results: dict[int, dict[str, Figures]], peers: list[str]) -> None:
    """The table, the ratios of ours against each peer, the helpers, the targets."""
    print("\n| N | " + " | ".join(f"{p} up / down / RSS" for p in peers) + " |")
    print("|---" * (len(peers) + 1) + "|")
    for n, row in results.items():
        print(f"| {n} | " + " | ".join(cell(row.get(p)) for p in peers) + " |")
    ours = [p for p in peers if p.startswith("ours")]
    others = [p for p in peers if not p.startswith("ours")]
    print("\nRatios (ours / peer; below 1 means ours is faster or smaller):")
    for n, row in results.items():
        for name in ours:
            if name not in row:
                continue
            mine = row[name]
            parts = []
            for other in others:
                if other in row:
                    peer = row[other]
                    parts.append(
                        f"vs {other} up {mine.up / peer.up:.2f}x down "
                        f"{mine.down / peer.down:.2f}x RSS {mine.rss_mb / peer.rss_mb:.2f}x"
                    )
            print(f"  N={n} {name}: " + "; ".join(parts))
    print("\nHelper processes at up (RSS MB, not in the daemon's RSS):")
    for n, row in results.items():
        notes = [
            f"{p}: " + ", ".join(f"{c} {mb:.1f}" for c, mb in row[p].helpers.items())
            for p in peers
            if p in row and row[p].helpers
        ]
        print(f"  N={n}: " + ("; ".join(notes) or "none"))
    print("\nDaemon CPU (user+sys, s) from launch to all up: less sensitive to machine load")
    for n, row in results.items():
        print(f"  N={n}: " + "; ".join(f"{p} {f.up_cpu:.2f}" for p, f in row.items()))
    print("\nStatus command (the CLI a user types, launch to exit, s):")
    for n, row in results.items():
        print(f"  N={n}: " + "; ".join(f"{p} {f.status:.3f}" for p, f in row.items() if f.status))
    print("\nDown, where the time goes (s from SIGTERM: programs gone / daemon exited / all gone):")
    for n, row in results.items():
        parts = [
            f"{p} {f.down_programs:.3f} / {f.down_daemon:.3f} / {f.down:.3f}"
            for p, f in row.items()
        ]
        print(f"  N={n}: " + "; ".join(parts))


def print_targets(results: dict[int, dict[str, Figures]]) -> None:
    """Issue 14's three whole-daemon targets, met or not, for each backend."""
    print("\nIssue 14 targets:")
    checks: list[tuple[int, str, str, str, Callable[[Figures], float], float]] = [
        (10, "supervisord", "cold start N=10 <= supervisord", "s", lambda f: f.up, 1.0),
        (100, "circus", "RSS N=100 <= circus", "MB", lambda f: f.rss_mb, 1.0),
        (300, "raw", "stop N=300 <= 3x raw", "s", lambda f: f.down, 3.0),
    ]
    for n, other, title, unit, pick, factor in checks:
        row = results.get(n, {})
        for name in ("ours-asyncio", "ours-trio"):
            if name not in row or other not in row:
                print(f"  {title} [{name}]: not measured (N={n} or {other} missing)")
                continue
            mine, theirs = pick(row[name]), pick(row[other])
            verdict = "met" if mine <= factor * theirs else "NOT met"
            print(
                f"  {title} [{name}]: {verdict} ({mine:.3f} {unit} vs {theirs:.3f} {unit}, "
                f"{mine / theirs:.2f}x, limit {factor:g}x)"
            )


# -- the dependencies' floor -------------------------------------------------------------

FLOOR_CODE = """
import sys
sys.modules["rich"] = None  # as the daemon imports structlog (supervisor/logging.py)
import structlog
del sys.modules["rich"]
import anyio, yaml, pydantic
import {backend}

class Service(pydantic.BaseModel):
    command: list[str]

Service.model_validate(yaml.safe_load("command: [sleep, '1000']"))
import os, resource
usage = resource.getrusage(resource.RUSAGE_SELF)
rss = open("/proc/self/status").read().split("VmRSS:")[1].split()[0]
print(rss, usage.ru_utime + usage.ru_stime, flush=True)
os._exit(0)  # as the daemon's figures are taken while it runs: no interpreter teardown
"""
"""What any daemon built on this project's dependencies pays before its own code runs:
import anyio, the backend, structlog, PyYAML and pydantic, and validate one model."""


def dependency_floor(backend: str) -> tuple[float, float, float]:
    """(wall s, CPU s, RSS MB) of one process running :data:`FLOOR_CODE`, taken when it
    reports, as the daemon's are taken when it reports all up."""
    began = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-c", FLOOR_CODE.format(backend=backend)],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        wall = time.monotonic() - began
    rss_kb, cpu = line.split()
    return wall, float(cpu), int(rss_kb) / 1024


def print_floor(
    results: dict[int, dict[str, Figures]], floors: dict[str, list[tuple[float, float, float]]]
) -> None:
    """The floor per backend (medians), and what ours adds to it at the smallest N."""
    n = min(results)
    print("\nThe dependencies' floor (a process that only imports anyio, the backend,")
    print("structlog, PyYAML and pydantic and validates one model; wall / CPU / RSS;")
    print(f"measured between the rounds at N={n}):")
    for backend, samples in floors.items():
        ours = results[n].get(f"ours-{backend}")
        if ours is None or not samples:
            continue
        wall, cpu, rss = (statistics.median(column) for column in zip(*samples, strict=True))
        print(
            f"  {backend:8} floor {wall:.3f} s / {cpu:.3f} s / {rss:.1f} MB;"
            f" ours at N={n} adds {ours.up - wall:+.3f} s up, {ours.up_cpu - cpu:+.3f} s CPU,"
            f" {ours.rss_mb - rss:+.1f} MB"
        )


# -- import time ------------------------------------------------------------------------


def importtime(poll: float, top: int = 15) -> None:
    """Run the daemon once under ``-X importtime`` (10 sleeps) and print the top imports."""
    peer = Ours("asyncio", python_flags=("-X", "importtime"))
    programs = [Program(f"s{i}", [SLEEP, "1000"]) for i in range(10)]
    with running(peer, programs, poll) as (daemon, run):
        stop_and_wait(daemon, run.pids)
        text = run.log.read_text(errors="replace")
    rows = []
    for match in re.finditer(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$", text, re.M):
        own, cumulative, indent, module = match.groups()
        rows.append((int(cumulative), int(own), len(indent) // 2, module))
    total = sum(own for _, own, _, _ in rows)
    print(f"daemon launch to all 10 up (with -X importtime): {run.up:.3f} s")
    print(f"{len(rows)} modules imported, {total / 1e6:.3f} s in imports in all")
    print(f"top {top} by cumulative time:\n{'cumul ms':>9} {'self ms':>8}  depth  module")
    for cumulative, own, depth, module in sorted(rows, reverse=True)[:top]:
        print(f"{cumulative / 1e3:9.1f} {own / 1e3:8.1f}  {depth:5}  {module}")


# -- main -------------------------------------------------------------------------------


def raise_fd_limit() -> None:
    """A daemon of 300 programs needs more than the usual 1024 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def make_peers(names: list[str], poll: float) -> list[Peer]:
    """The requested peers that can run here (the others skipped with a reason)."""
    factories: dict[str, Callable[[], Peer]] = {
        "raw": Raw,
        "supervisord": Supervisord,
        "circus": lambda: Circus(poll),
        "ours-asyncio": lambda: Ours("asyncio"),
        "ours-trio": lambda: Ours("trio"),
    }
    peers = []
    for name in names:
        if name not in factories:
            raise SystemExit(f"unknown peer {name!r}: expected {', '.join(factories)}")
        peer = factories[name]()
        reason = peer.unavailable()
        if reason:
            print(f"{name}: skipped, {reason}")
        else:
            peers.append(peer)
    return peers


def main() -> None:
    """Parse the options and run the benchmark (or the import-time report)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,300")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peers", default="raw,supervisord,circus,ours-asyncio,ours-trio")
    parser.add_argument("--restart-samples", type=int, default=9)
    parser.add_argument("--poll", type=float, default=0.005, help="seconds between polls")
    parser.add_argument("--importtime", action="store_true", help="print top imports only")
    args = parser.parse_args()
    raise_fd_limit()
    if args.importtime:
        importtime(args.poll)
        return
    peers = make_peers(args.peers.split(","), args.poll)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    sizes = [int(size) for size in args.sizes.split(",")]
    started = time.monotonic()
    results: dict[int, dict[str, Figures]] = {}
    backends = [peer.backend for peer in peers if isinstance(peer, Ours)]
    floors: dict[str, list[tuple[float, float, float]]] = {backend: [] for backend in backends}
    for n in sizes:
        failed: set[str] = set()
        runs: dict[str, list[Run]] = {peer.name: [] for peer in peers}
        for _ in range(args.repeat):
            for peer in peers:  # interleaved: drift on a shared machine hits every peer
                if peer.name in failed:
                    continue
                try:
                    runs[peer.name].append(measure_fleet(peer, n, args.poll))
                except RuntimeError as exc:
                    print(f"N={n} {exc}", flush=True)
                    failed.add(peer.name)
            if n == sizes[0]:
                for backend in backends:
                    floors[backend].append(dependency_floor(backend))
        results[n] = {name: summarize(r) for name, r in runs.items() if r}
        line = ", ".join(f"{name} {cell(f, rss=False)}" for name, f in results[n].items())
        print(f"N={n} done ({time.monotonic() - started:.0f} s): {line}", flush=True)
    names = [peer.name for peer in peers]
    print_report(results, names)
    print_targets(results)
    print_floor(results, floors)
    if args.restart_samples < 1:
        print(f"\ntotal {time.monotonic() - started:.0f} s")
        return
    print(f"\nRestart latency (exit 1 after 50 ms; median of {args.restart_samples} restarts):")
    floor = bash_startup(args.restart_samples)
    print(f"  (bash's own start-up, spawn to first line, is {floor * 1e3:.1f} ms of each)")
    for peer in peers:
        try:
            gaps = measure_restart(peer, args.restart_samples, args.poll).gaps
        except RuntimeError as exc:
            print(f"  {peer.name}: failed: {exc}")
            continue
        print(
            f"  {peer.name:13} {statistics.median(gaps) * 1e3:8.1f} ms"
            f"  (min {min(gaps) * 1e3:.1f}, max {max(gaps) * 1e3:.1f})"
        )
    load = os.getloadavg()[0]
    print(f"\ntotal {time.monotonic() - started:.0f} s, load average {load:.1f} at the end")


if __name__ == "__main__":
    main()
