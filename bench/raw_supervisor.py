"""The "raw" peer of bench/daemons.py: the least a process supervisor can do, in Python.

    python bench/raw_supervisor.py SPEC.json

SPEC is ``{"programs": [{"argv": [...], "restart": bool}, ...], "ready": PATH}``. Each
program is started with ``posix_spawn`` in a session of its own; once all are spawned
their pids are written to PATH (atomically). A program that exits is spawned again at
once when ``restart`` is true. SIGTERM or SIGINT sends SIGTERM to every program's group,
waits for all of them, and exits. No logging, no config checks, no output capture: a
floor for the whole-daemon benchmark, not a tool.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys

WATCHED = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


def main() -> None:
    """Spawn, respawn, stop on a signal (see the module docstring)."""
    with open(sys.argv[1]) as file:
        spec = json.load(file)
    programs = spec["programs"]
    # Blocked and taken with sigwaitinfo: no handler can run between a check and a spawn.
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    children: dict[int, int] = {}  # pid -> index in programs

    def spawn(index: int) -> None:
        argv = programs[index]["argv"]
        pid = os.posix_spawn(argv[0], argv, os.environ, setsid=True, setsigmask=())
        children[pid] = index

    for index in range(len(programs)):
        spawn(index)
    with open(spec["ready"] + ".tmp", "w") as file:
        json.dump(sorted(children), file)
    os.replace(spec["ready"] + ".tmp", spec["ready"])

    stopping = False
    while children or not stopping:
        info = signal.sigwaitinfo(WATCHED)
        if info.si_signo != signal.SIGCHLD and not stopping:
            stopping = True
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGTERM)
        while children:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            index = children.pop(pid, -1)
            if index >= 0 and not stopping and programs[index]["restart"]:
                spawn(index)


if __name__ == "__main__":
    main()
