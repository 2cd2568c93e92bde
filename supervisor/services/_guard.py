"""The orphan guard: services do not outlive a supervisor killed with SIGKILL.

A supervisor that is killed outright (SIGKILL, the OOM killer, a crash in C) runs no
cleanup, so its process groups would live on. The guard is one tiny helper process per
supervisor (``python -I -S``, started on the first process service, in a session of its
own so terminal signals do not reach it). The supervisor writes ``+pgid signal grace`` to
the guard's stdin pipe when a service starts and ``-pgid`` when its group is gone. The
write end exists only in the supervisor (close-on-exec, never inherited), so when the
supervisor dies, for any reason, the kernel closes it and the guard reads end-of-file.
The guard then sends each registered group its stop signal, waits up to its grace period,
and SIGKILLs whatever is left, grandchildren included, then exits. When no group is
registered the pipe is closed and the guard exits, so an idle supervisor has no helper.

Why not ``prctl(PR_SET_PDEATHSIG)`` in each child: it needs ``preexec_fn`` (no ``vfork``:
about 5x slower spawning, and unsafe with threads), it fires when the *thread* that
forked the child exits (trio spawns from worker threads), and it reaches only the direct
child, not what that child forked. The guard has none of these limits, costs one pipe
write per start and stop, and works on any POSIX system.

Limits: a process that leaves its group (``setsid``/``setpgid``) escapes, as under
supervisord; if the guard itself is killed the supervisor starts a new one on the next
write and registers the live groups again; a ``fork()`` of the supervisor without
``exec`` keeps the pipe open until that copy exits too.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading

_GUARD_CODE = r"""
import os, signal, sys, time
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT):
    signal.signal(s, signal.SIG_IGN)
groups = {}
buf = b""
while True:
    try:
        data = os.read(0, 65536)
    except InterruptedError:
        continue
    if not data:
        break
    # batch: while we sleep, the supervisor's writes wake nobody (short: the end of
    # the pipe is seen this much later, and a whole-daemon stop waits for it)
    time.sleep(0.005)
    buf += data
    *lines, buf = buf.split(b"\n")
    for line in lines:
        parts = line.split()
        try:
            if parts[0] == b"+":
                groups[int(parts[1])] = (int(parts[2]), float(parts[3]))
            elif parts[0] == b"-":
                groups.pop(int(parts[1]), None)
        except (IndexError, ValueError):
            pass
deadlines = {}
for pgid, (sig, grace) in groups.items():
    try:
        os.killpg(pgid, sig)
    except OSError:
        continue
    deadlines[pgid] = time.monotonic() + grace
while deadlines:
    for pgid, deadline in list(deadlines.items()):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            del deadlines[pgid]
            continue
        except OSError:
            pass
        if time.monotonic() >= deadline:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
            del deadlines[pgid]
    time.sleep(0.02)
"""


GUARD_COMMAND = ("-I", "-S", "-c", _GUARD_CODE)
"""Arguments to the Python interpreter that runs the guard (isolated, no site imports).

Why Python and not a shell script: a shell's ``read`` takes the pipe one byte at a time
and wakes on every line, which made each registration cost ~0.3 ms of the supervisor's
time while services start; the Python guard batches what arrives within 20 ms.
"""


class OrphanGuard:
    """Client side of the guard process; one per supervisor process (:data:`GUARD`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[int, tuple[int, float]] = {}
        self._popen: subprocess.Popen[bytes] | None = None
        self._write_fd: int | None = None
        self._retired: list[subprocess.Popen[bytes]] = []

    @property
    def pid(self) -> int | None:
        """PID of the running guard process, if any."""
        return self._popen.pid if self._popen is not None else None

    @property
    def pids(self) -> list[int]:
        """PIDs of the guard processes still alive: the current one and retiring ones.

        A retired guard has read end-of-file with no group left and exits by itself.
        """
        alive = [p.pid for p in self._retired if p.poll() is None]
        return ([self._popen.pid] if self._popen is not None else []) + alive

    def register(self, pgid: int, sig: int, grace: float) -> None:
        """Have the guard stop group ``pgid`` (``sig``, then SIGKILL after ``grace`` s)."""
        with self._lock:
            self._groups[pgid] = (sig, grace)
            self._send(f"+ {pgid} {int(sig)} {grace:.3f}\n")

    def unregister(self, pgid: int) -> None:
        """Forget ``pgid`` (its group is gone); the last one lets the guard exit."""
        with self._lock:
            if self._groups.pop(pgid, None) is None:
                return
            self._send(f"- {pgid}\n")
            if not self._groups:
                self._retire()

    def _send(self, line: str) -> None:
        if self._write_fd is None:
            self._start()
        assert self._write_fd is not None
        try:
            os.write(self._write_fd, line.encode())
        except BrokenPipeError:
            # The guard died: start a new one and tell it every live group.
            self._retire()
            self._start()
            assert self._write_fd is not None
            replay = "".join(f"+ {g} {int(s)} {t:.3f}\n" for g, (s, t) in self._groups.items())
            with contextlib.suppress(OSError):
                os.write(self._write_fd, replay.encode())
        except BlockingIOError:
            pass  # the guard is stuck (stopped?); it cannot be helped from here

    def _start(self) -> None:
        self._retired = [p for p in self._retired if p.poll() is None]
        read_fd, write_fd = os.pipe()
        try:
            self._popen = subprocess.Popen(
                [sys.executable or "python3", *GUARD_COMMAND],
                stdin=read_fd,
                stdout=subprocess.DEVNULL,
                close_fds=True,
                start_new_session=True,
            )
        except BaseException:
            os.close(write_fd)
            raise
        finally:
            os.close(read_fd)
        os.set_blocking(write_fd, False)
        self._write_fd = write_fd

    def _retire(self) -> None:
        if self._write_fd is not None:
            os.close(self._write_fd)
            self._write_fd = None
        if self._popen is not None:
            self._retired.append(self._popen)
            self._popen = None


GUARD = OrphanGuard()
"""The process-wide guard used by every :class:`~supervisor.services.process.ProcessService`."""
