"""Fleet benchmark: N `sleep` services under raw Popen, this supervisor, and supervisord.

Run:  .venv/bin/python bench/fleet.py [--sizes 100,300] [--repeat 3] [--no-supervisord]

Measured in the same run, for each N:

* raw: ``subprocess.Popen`` of N ``sleep 1000`` children (time to spawn them all), then
  SIGTERM to each and ``wait()`` (time to all reaped). This is the baseline.
* ours (asyncio and trio): N ``ProcessService`` instances in one task group, in a fresh
  interpreter: time until every one has called ``task_status.started()``, time from
  cancelling the group to every child reaped, RSS with the children running, and CPU
  used while idle for 2 s. Two harnesses: ``tg.start`` awaits ``tg.start(svc, ctx)`` per
  service from N concurrent tasks (what a runtime does; anyio's ``start`` costs ~0.2 ms
  per call by itself), ``direct`` runs ``tg.start_soon(svc(ctx, task_status=counter))``
  (the service's own cost).
* supervisord, installed by this script into ``bench/.venv-supervisord`` with pip; its
  config is generated here (``startsecs=0``, ``autostart=false``). Start is timed around
  ``supervisor.startAllProcesses(wait=True)`` then checked with ``getAllProcessInfo`` (all
  RUNNING), stop around ``stopAllProcesses(wait=True)``, over XML-RPC on its unix socket
  (so neither side pays an interpreter start-up in the timed part).

* floor (asyncio and trio): bare anyio doing the least a supervisor must (spawn with
  pipes in a new session, wait on a pidfd, SIGTERM the group and wait when cancelled),
  none of this package imported: what any anyio-based supervisor pays at least.

Targets (issue 5): start <= 1.5x raw, stop <= 3x raw, RSS with 100 children <= supervisord,
idle CPU ~0. Ratios are printed, medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from daemon_peers import UnixTransport, ensure_venv

HERE = Path(__file__).resolve().parent
IDLE_SECONDS = 2.0


def raise_fd_limit() -> None:
    """N children need ~3 fds each (two pipes and a pidfd)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kb(pid: int | str = "self") -> int:
    """Resident set size of ``pid`` in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid``."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- raw baseline ------------------------------------------------------------------------


def measure_raw(n: int) -> dict[str, float]:
    """Popen N sleeps, then SIGTERM and reap them."""
    began = time.perf_counter()
    children = [subprocess.Popen(["sleep", "1000"]) for _ in range(n)]
    start = time.perf_counter() - began
    began = time.perf_counter()
    for child in children:
        child.send_signal(signal.SIGTERM)
    for child in children:
        child.wait()
    stop = time.perf_counter() - began
    return {"start": start, "stop": stop}


# -- this supervisor (run in a fresh interpreter: --ours N BACKEND) --------------------


class _CountingStatus:
    """A ``task_status`` that counts ``started()`` calls (the ``direct`` harness)."""

    def __init__(self, n: int, done: Any) -> None:
        self.n = n
        self.count = 0
        self.done = done

    def started(self, value: object = None) -> None:
        self.count += 1
        if self.count == self.n:
            self.done.set()


def run_fleet(
    backend: str, create_task_group: Callable[[], Any], launch: Callable[[Any, Any], None]
) -> dict[str, float]:
    """Time one fleet: ``launch(tg, all_started)`` starts it; then RSS, idle CPU, stop.

    ``all_started`` is an ``anyio.Event`` to set once every service called
    ``task_status.started()``; the stop time runs from cancelling ``tg`` to its exit.
    """
    import anyio

    result: dict[str, float] = {}

    async def main() -> None:
        all_started = anyio.Event()
        async with create_task_group() as tg:
            began = time.perf_counter()
            launch(tg, all_started)
            await all_started.wait()
            result["start"] = time.perf_counter() - began
            result["rss_kb"] = rss_kb()
            cpu0 = cpu_seconds(os.getpid())
            await anyio.sleep(IDLE_SECONDS)
            result["idle_cpu_pct"] = 100 * (cpu_seconds(os.getpid()) - cpu0) / IDLE_SECONDS
            began = time.perf_counter()
            tg.cancel_scope.cancel()
        result["stop"] = time.perf_counter() - began

    anyio.run(main, backend=backend)
    return result


def ours_child(n: int, backend: str, harness: str) -> None:
    """Body of the ``--ours`` subprocess: prints one JSON line of measurements."""
    import logging

    import structlog

    from supervisor.concurrency import create_task_group
    from supervisor.config.models import ServiceConfig
    from supervisor.services.context import ServiceContext
    from supervisor.services.process import ProcessService

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    config = ServiceConfig.model_validate({"command": ["sleep", "1000"]})
    services = [ProcessService(f"s{i}", config) for i in range(n)]
    contexts = [ServiceContext(f"s{i}") for i in range(n)]

    def launch(tg: Any, all_started: Any) -> None:
        if harness == "direct":
            status = _CountingStatus(n, all_started)
            for index in range(n):
                tg.start_soon(partial(services[index], contexts[index], task_status=status))
            return
        started = 0

        async def start(index: int) -> None:
            nonlocal started
            await tg.start(services[index], contexts[index])
            started += 1
            if started == n:
                all_started.set()

        for index in range(n):
            tg.start_soon(start, index)

    result = run_fleet(backend, create_task_group, launch)
    assert all(s.ended == "killed by SIGTERM" for s in services), "not all reaped"
    print(json.dumps(result))


def floor_child(n: int, backend: str) -> None:
    """Body of the ``floor`` harness: bare anyio, none of this package imported.

    Each task spawns like a process service does (pipes, own session, pidfd), waits on
    the pidfd, and on cancellation sends SIGTERM to the group and waits for the exit,
    shielded. No output reading, no orphan guard, no logging, no config: what any
    anyio-based supervisor pays at least, in the same interpreter set-up.
    """
    import anyio

    async def service(*, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        proc = subprocess.Popen(
            ["sleep", "1000"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        pidfd = os.pidfd_open(proc.pid)
        task_status.started()
        try:
            await anyio.wait_readable(pidfd)
        finally:
            with anyio.CancelScope(shield=True):
                os.killpg(proc.pid, signal.SIGTERM)
                await anyio.wait_readable(pidfd)
                proc.wait()
                os.close(pidfd)
                for pipe in (proc.stdout, proc.stderr):
                    if pipe is not None:
                        pipe.close()

    def launch(tg: Any, all_started: Any) -> None:
        started = 0

        async def start() -> None:
            nonlocal started
            await tg.start(service)
            started += 1
            if started == n:
                all_started.set()

        for _ in range(n):
            tg.start_soon(start)

    print(json.dumps(run_fleet(backend, anyio.create_task_group, launch)))


def measure_ours(n: int, backend: str, harness: str) -> dict[str, float]:
    """Run :func:`ours_child` in a fresh interpreter and parse its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--ours", str(n), backend, harness],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


# -- supervisord ----------------------------------------------------------------------


SUPERVISORD_CONF = """\
[unix_http_server]
file={tmp}/supervisor.sock

[supervisord]
nodaemon=true
logfile={tmp}/supervisord.log
pidfile={tmp}/supervisord.pid
childlogdir={tmp}
loglevel=warn
minfds=8192

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[program:s]
command=sleep 1000
process_name=%(program_name)s_%(process_num)d
numprocs={n}
autostart=false
autorestart=false
startsecs=0
stopsignal=TERM
stdout_logfile=NONE
stderr_logfile=NONE
"""


def measure_supervisord(exe: Path, n: int) -> dict[str, float]:
    """Start/stop N sleeps through a supervisord of our own."""
    with tempfile.TemporaryDirectory(prefix="fleet-supervisord-") as tmp:
        conf = Path(tmp) / "supervisord.conf"
        conf.write_text(SUPERVISORD_CONF.format(tmp=tmp, n=n))
        daemon = subprocess.Popen(
            [str(exe), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            rpc = xmlrpc.client.ServerProxy(
                "http://localhost", transport=UnixTransport(f"{tmp}/supervisor.sock")
            )
            deadline = time.monotonic() + 30
            while True:
                try:
                    if rpc.supervisor.getState()["statename"] == "RUNNING":
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("supervisord did not come up")
                time.sleep(0.05)
            result: dict[str, float] = {}
            began = time.perf_counter()
            rpc.supervisor.startAllProcesses(True)
            infos = rpc.supervisor.getAllProcessInfo()
            result["start"] = time.perf_counter() - began
            assert sum(i["statename"] == "RUNNING" for i in infos) == n, "not all RUNNING"
            pids = [i["pid"] for i in infos]
            result["rss_kb"] = rss_kb(daemon.pid)
            cpu0 = cpu_seconds(daemon.pid)
            time.sleep(IDLE_SECONDS)
            result["idle_cpu_pct"] = 100 * (cpu_seconds(daemon.pid) - cpu0) / IDLE_SECONDS
            began = time.perf_counter()
            rpc.supervisor.stopAllProcesses(True)
            while any(Path(f"/proc/{pid}").exists() and _not_zombie(pid) for pid in pids):
                time.sleep(0.001)
            result["stop"] = time.perf_counter() - began
            rpc.supervisor.shutdown()
            daemon.wait(timeout=30)
            return result
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()


def _not_zombie(pid: int) -> bool:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat", "rb") as stat:
        return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    return False


# -- report -----------------------------------------------------------------------------


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per-key median of several runs."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-supervisord", action="store_true")
    parser.add_argument("--ours", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_fd_limit()
    if args.ours:
        n, backend, harness = int(args.ours[0]), args.ours[1], args.ours[2]
        if harness == "floor":
            floor_child(n, backend)
        else:
            ours_child(n, backend, harness)
        return

    exe = (
        None
        if args.no_supervisord
        else ensure_venv("supervisord", "supervisor>=4,<5", "supervisord")
    )
    if exe is None:
        print("supervisord: not available, comparing with raw spawning only")
    for n in (int(s) for s in args.sizes.split(",")):
        rows: dict[str, dict[str, float]] = {}
        rows["raw"] = median_of([measure_raw(n) for _ in range(args.repeat)])
        for backend in ("asyncio", "trio"):
            for harness in ("tg.start", "direct", "floor"):
                rows[f"{backend}/{harness}"] = median_of(
                    [measure_ours(n, backend, harness) for _ in range(args.repeat)]
                )
        if exe is not None:
            rows["supervisord"] = median_of(
                [measure_supervisord(exe, n) for _ in range(max(1, args.repeat - 1))]
            )
        raw = rows["raw"]
        sup = rows.get("supervisord")
        print(f"\nN = {n}  (median of {args.repeat} runs)")
        print(
            f"{'':17}{'start ms':>10}{'x raw':>8}{'stop ms':>10}{'x raw':>8}"
            f"{'RSS MiB':>10}{'x supd':>8}{'idle CPU %':>12}"
        )
        for name, row in rows.items():
            rss = row.get("rss_kb")
            line = (
                f"{name:17}{row['start'] * 1e3:10.1f}{row['start'] / raw['start']:8.2f}"
                f"{row['stop'] * 1e3:10.1f}{row['stop'] / raw['stop']:8.2f}"
            )
            if rss is not None:
                ratio = f"{rss / sup['rss_kb']:8.2f}" if sup else f"{'-':>8}"
                line += f"{rss / 1024:10.1f}{ratio}{row['idle_cpu_pct']:12.2f}"
            print(line)
        for name, row in rows.items():
            if name.startswith(("asyncio", "trio")) and not name.endswith("floor"):
                verdict = [
                    f"start {'ok' if row['start'] <= 1.5 * raw['start'] else 'MISSED'} (<=1.5x)",
                    f"stop {'ok' if row['stop'] <= 3 * raw['stop'] else 'MISSED'} (<=3x)",
                ]
                if sup and n == 100:
                    ok = row["rss_kb"] <= sup["rss_kb"]
                    verdict.append(f"RSS {'ok' if ok else 'MISSED'} (<= supervisord)")
                print(f"  {name}: " + ", ".join(verdict))


if __name__ == "__main__":
    main()
