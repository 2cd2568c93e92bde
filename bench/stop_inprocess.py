"""CPU and wall time of stopping N process services, in process (issue 14, stop target).

    .venv/bin/python bench/stop_inprocess.py [--services 300] [--rounds 9] [--profile FILE]

The whole-daemon benchmark (bench/daemons.py) times a stop from the outside, where the
processes dying on a 2-core machine and other load blur the daemon's own share. This
runs the same kind of stop (N ``sleep 1000`` processes, JSON logging at info level to
/dev/null, as the daemon writes it) inside this interpreter and reports the median CPU
time of ``async with sup`` exiting, which is what an optimization of stop must cut.
``--profile FILE`` writes cProfile statistics of the stops (and slows them down).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import shutil
import statistics
import time

import anyio

from supervisor import Supervisor
from supervisor.logging import configure

SLEEP = shutil.which("sleep") or "/bin/sleep"


async def stop_rounds(
    n: int, rounds: int, profile: cProfile.Profile | None
) -> tuple[list[float], list[float]]:
    """Start and stop ``n`` processes ``rounds`` times; the stops' wall and CPU seconds."""
    data = {"version": 1, "services": {f"p{i}": {"command": [SLEEP, "1000"]} for i in range(n)}}
    walls, cpus = [], []
    for _ in range(rounds):
        sup = Supervisor.from_dict(data)
        await sup.__aenter__()
        try:
            gc.freeze()  # as the daemon does once everything is up
            await anyio.sleep(0.3)
        finally:
            wall, cpu = time.perf_counter(), time.process_time()
            if profile is not None:
                profile.enable()
            await sup.__aexit__(None, None, None)
            if profile is not None:
                profile.disable()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        gc.unfreeze()
        del sup
        gc.collect()
    return walls, cpus


def main() -> None:
    """Parse the options, run both backends, print medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--backends", default="asyncio,trio")
    parser.add_argument("--profile", help="write cProfile statistics here (BACKEND appended)")
    args = parser.parse_args()
    with open(os.devnull, "w") as devnull:
        configure("json", "info", stream=devnull)
        for backend in args.backends.split(","):
            profile = cProfile.Profile() if args.profile else None
            walls, cpus = anyio.run(
                stop_rounds, args.services, args.rounds, profile, backend=backend
            )
            print(
                f"{backend:8} stop of {args.services} processes: CPU median "
                f"{statistics.median(cpus) * 1000:.1f} ms (min {min(cpus) * 1000:.1f}), "
                f"wall median {statistics.median(walls) * 1000:.1f} ms"
            )
            if profile is not None:
                profile.dump_stats(f"{args.profile}.{backend}")


if __name__ == "__main__":
    main()
