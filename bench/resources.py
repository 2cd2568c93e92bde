"""Resource figures: reading ``/proc`` directly against psutil, for N process trees.

Run:  .venv/bin/pip install -e '.[bench]'   # psutil, the baseline
      .venv/bin/python bench/resources.py [--trees 20] [--repeat 200]

Starts N trees of ``sh`` with one ``sleep`` child each (what a shell-wrapped service looks
like), then times one request's worth of figures (CPU time and RSS summed over every
tree, plus the supervisor's own) both ways, in the same run:

* psutil (the baseline): ``Process(pid).children(recursive=True)``, then ``cpu_times()``
  and ``memory_info()`` of each process;
* ours: :class:`supervisor.control.resources.ResourceMonitor`, one ``/proc/PID/stat`` read
  per process and the kernel's ``children`` lists.

Prints the median time per request and the ratio ours / psutil.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from supervisor.control.resources import ResourceMonitor


def _psutil_request(pids: list[int]) -> float:
    import psutil

    total, rss = 0.0, 0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in procs:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
                rss += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
    me = psutil.Process()
    me.cpu_times()
    me.memory_info()
    return total + rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trees", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    procs = [
        subprocess.Popen(["sh", "-c", "sleep 1000 & wait"], start_new_session=True)
        for _ in range(args.trees)
    ]
    try:
        time.sleep(0.3)  # let each shell fork its sleep
        pids = {f"s{i}": p.pid for i, p in enumerate(procs)}
        monitor = ResourceMonitor()
        ours, theirs = [], []
        for _ in range(args.repeat):
            began = time.perf_counter()
            monitor.services(pids)
            monitor.own()
            ours.append(time.perf_counter() - began)
            began = time.perf_counter()
            _psutil_request(list(pids.values()))
            theirs.append(time.perf_counter() - began)
        processes = sum(1 for _ in os.listdir("/proc") if _.isdigit())
        o, t = statistics.median(ours), statistics.median(theirs)
        print(f"{args.trees} trees of 2 processes, {processes} processes on the machine")
        print(f"psutil (baseline): {t * 1e3:.3f} ms per request")
        print(f"/proc direct:      {o * 1e3:.3f} ms per request  ({o / t:.2f}x psutil)")
    finally:
        for p in procs:
            os.killpg(p.pid, 15)
            p.wait()


if __name__ == "__main__":
    main()
