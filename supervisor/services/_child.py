"""A child process in a process group of its own: spawn, wait for exit, signal the group.

Spawning uses :class:`subprocess.Popen` directly (``vfork`` fast path: no ``preexec_fn``).
On Linux a ``pidfd`` is opened for the child: the kernel makes it readable when the child
exits, so exit is awaited like any other fd (see ``_io.ChildIO``). Without ``pidfd_open``
(other systems, old kernels) ``waitpid(WNOHANG)`` is polled instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence

from supervisor.concurrency import current_time, sleep


def describe_exit(returncode: int) -> str:
    """``exited 1`` for an exit code, ``killed by SIGTERM`` for a negative (signal) code."""
    if returncode >= 0:
        return f"exited {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


class Child:
    """One spawned process, leader of its own session and process group (pgid == pid)."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.pgid = popen.pid
        self.returncode: int | None = None
        self.pidfd: int | None = None
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self.pidfd = os.pidfd_open(self.pid)

    @classmethod
    def spawn(cls, argv: Sequence[str], *, env: Mapping[str, str] | None, cwd: str | None) -> Child:
        """Start ``argv`` (no shell) with stdin from /dev/null and piped stdout/stderr.

        Raises ``OSError`` (e.g. ``FileNotFoundError``) when the program cannot be run.
        """
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
        for pipe in (popen.stdout, popen.stderr):
            assert pipe is not None
            os.set_blocking(pipe.fileno(), False)
        return cls(popen)

    @property
    def exited(self) -> bool:
        """True once the child has been reaped."""
        return self.returncode is not None

    def reap(self) -> bool:
        """Reap the child if it has exited (never blocks); True once it is reaped."""
        if self.returncode is not None:
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            # Reaped elsewhere (a PID 1 zombie reaper calling waitpid(-1)): status is lost.
            self._set_returncode(255)
            return True
        if pid == 0:
            return False
        self._set_returncode(os.waitstatus_to_exitcode(status))
        return True

    def _set_returncode(self, code: int) -> None:
        self.returncode = code
        self.popen.returncode = code  # so Popen never tries to reap it again
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the whole process group; False when nothing is left in it."""
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:
            # A member changed its credentials; try the main process alone.
            if self.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, sig)
        return True

    def group_alive(self) -> bool:
        """True while some process of the group is alive (zombies do not count).

        ``killpg(pgid, 0)`` answers for free when the group is empty; when it is not,
        ``/proc`` tells live members from zombies that their new parent (init, which in
        some containers reaps late) has not collected yet.
        """
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return _live_members(self.pgid)

    async def wait_group_gone(self, deadline: float) -> bool:
        """Poll until the group is empty or the loop clock reaches ``deadline``."""
        delay = 0.002
        while self.group_alive():
            if current_time() >= deadline:
                return False
            await sleep(min(delay, max(0.0, deadline - current_time())))
            delay = min(delay * 2, 0.05)
        return True

    def close(self) -> None:
        """Close the pipes and the pidfd (nothing may be waiting on them any more)."""
        for pipe in (self.popen.stdout, self.popen.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _live_members(pgid: int) -> bool:
    """True if ``/proc`` lists a non-zombie process in group ``pgid`` (True without /proc)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    key = str(pgid).encode()
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == key and fields[0] != b"Z":
            return True
    return False
