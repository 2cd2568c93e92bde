"""PID 1 duties: reap orphaned zombies, and stop what daemonized away from its service.

A process whose parent dies is re-parented to the nearest *subreaper* ancestor, or to
PID 1. As PID 1 of a container (or a subreaper, which ``supervisor run`` becomes with
:func:`become_subreaper` when it is not PID 1), the supervisor inherits such orphans and
must reap them, or they stay zombies forever.

It must not reap its *own* children, though: the runtime waits for each of those to learn
its exit status (``exited 1``, ``killed by SIGSEGV``), and a reaper calling
``waitpid(-1)`` would steal it. So the :class:`Reaper` wakes on ``SIGCHLD`` only (no
polling), lets the owners collect their children first, lists the zombie children from
``/proc``, and reaps only those nobody claims: a child is claimed when its PID is one the
runtime reports (``owned``) or when some open pidfd of this process refers to it (how the
runtime, trio and asyncio wait for a child).

At the end, :meth:`Reaper.stop_orphans` sends ``SIGTERM`` to the adopted processes still
alive (double-forked daemons that left their service's process group), ``SIGKILL`` after
a grace period, and reaps them: nothing outlives the supervisor.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterable
from typing import Any

import anyio

from supervisor.concurrency import TASK_STATUS_IGNORED, TaskStatus, current_time, sleep
from supervisor.loggers import get_logger

PR_SET_CHILD_SUBREAPER = 36
"""``prctl`` option making orphaned descendants re-parent to this process (Linux)."""

SETTLE = 0.05
"""After a ``SIGCHLD``, how long the owners of children get to reap them first (seconds)."""


def is_pid1() -> bool:
    """True when this process is PID 1 (of a container's PID namespace, typically)."""
    return os.getpid() == 1


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process; False where unsupported."""
    import ctypes  # here: only a daemon that becomes a subreaper needs it

    try:
        # the process's own symbols, libc's among them: no library search (which
        # ctypes.util.find_library does by running ldconfig on some systems)
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _stat(pid: int) -> tuple[str, int] | None:
    """``(state, ppid)`` of ``pid`` from ``/proc``, or ``None`` if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0].decode(), int(fields[1])


def children() -> dict[int, str]:
    """``{pid: state}`` of this process's children (``Z`` for a zombie)."""
    me = os.getpid()
    pids: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{me}/task")
        for tid in tasks:
            with open(f"/proc/{me}/task/{tid}/children", "rb") as f:
                pids.update(int(p) for p in f.read().split())
    except (OSError, ValueError):  # no CONFIG_PROC_CHILDREN: scan every process
        pids = {int(e) for e in os.listdir("/proc") if e.isdigit()}
    found: dict[int, str] = {}
    for pid in pids:
        info = _stat(pid)
        if info is not None and info[1] == me:
            found[pid] = info[0]
    return found


def pidfd_targets() -> set[int]:
    """PIDs that an open pidfd of this process refers to (someone waits for them)."""
    targets: set[int] = set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return targets
    for fd in fds:
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:[pidfd]":
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                for line in info:
                    if line.startswith("Pid:"):
                        targets.add(int(line.split()[1]))
        except (OSError, ValueError):
            continue
    return targets


class Reaper:
    """Reaps orphans re-parented to this process; see the module docstring.

    ``owned()`` returns the PIDs of the runtime's own children (service processes, the
    orphan guard); they are never reaped here.
    """

    def __init__(
        self,
        owned: Callable[[], Iterable[int]] = tuple,
        *,
        settle: float = SETTLE,
        logger: Any = None,
    ) -> None:
        self.owned = owned
        self.settle = settle
        self.log = logger or get_logger("supervisor.init")
        self.reaped = 0

    async def run(self, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
        """Reap orphans on every ``SIGCHLD`` until cancelled."""
        with anyio.open_signal_receiver(signal.SIGCHLD) as signals:
            task_status.started()
            self.reap_orphans()
            async for _ in signals:
                await sleep(self.settle)  # the runtime reaps its own children meanwhile
                self.reap_orphans()

    def reap_orphans(self) -> list[int]:
        """Reap every zombie child that nobody else waits for; return their PIDs."""
        zombies = {pid for pid, state in children().items() if state == "Z"}
        if not zombies:
            return []
        unclaimed = zombies - set(self.owned())
        if unclaimed:
            unclaimed -= pidfd_targets()
        reaped = []
        for pid in sorted(unclaimed):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue  # its owner was quicker
            if done:
                reaped.append(pid)
                self.log.debug(
                    "reaped orphan", pid=pid, returncode=os.waitstatus_to_exitcode(status)
                )
        self.reaped += len(reaped)
        return reaped

    def signal_orphans(self, sig: int, exclude: Iterable[int] = ()) -> list[int]:
        """Send ``sig`` to every live child not in ``exclude``; return their PIDs."""
        skip = set(exclude)
        hit = []
        for pid, state in children().items():
            if state != "Z" and pid not in skip:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                    hit.append(pid)
        return hit

    async def stop_orphans(self, grace: float = 5.0, exclude: Iterable[int] = ()) -> int:
        """Stop every child still alive (``SIGTERM``, ``SIGKILL`` after ``grace``), reap all.

        Called once the runtime has stopped its services: what is left was adopted.
        Returns how many processes were signalled.
        """
        skip = set(exclude)
        signalled: set[int] = set()
        deadline = current_time() + grace
        killed = False
        while True:
            self.reap_all(skip)
            live = {p for p, s in children().items() if s != "Z" and p not in skip}
            if not live:
                return len(signalled)
            now = current_time()
            if now < deadline:
                fresh, sig = live - signalled, signal.SIGTERM
            elif not killed:
                fresh, sig, killed = live, signal.SIGKILL, True
            elif now < deadline + 2.0:
                fresh, sig = set(), signal.SIGKILL
            else:
                self.log.error("leftover processes survive SIGKILL", pids=sorted(live))
                return len(signalled)
            for pid in fresh:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            if fresh:
                self.log.info("stopping leftover processes", pids=sorted(fresh), signal=sig.name)
                signalled |= fresh
            await sleep(0.01)

    def reap_all(self, exclude: Iterable[int] = ()) -> None:
        """Reap every zombie child but those in ``exclude`` (nothing else waits any more)."""
        skip = set(exclude)
        for pid, state in children().items():
            if state == "Z" and pid not in skip:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
