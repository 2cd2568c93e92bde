"""A child process in a process group of its own: spawn, wait for exit, signal the group.

Spawning uses :class:`subprocess.Popen` directly (``vfork`` fast path: no ``preexec_fn``).
On Linux a ``pidfd`` is opened for the child: the kernel makes it readable when the child
exits, so exit is awaited like any other fd (see ``_io.ChildIO``). Without ``pidfd_open``
(other systems, old kernels) ``waitpid(WNOHANG)`` is polled instead.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import pwd
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from supervisor.concurrency import current_time, sleep


def describe_exit(returncode: int) -> str:
    """``exited 1`` for an exit code, ``killed by SIGTERM`` for a negative (signal) code."""
    if returncode >= 0:
        return f"exited {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"


@dataclass(frozen=True)
class Credentials:
    """Who a process runs as (``user:`` / ``group:``), resolved from the user database.

    Like systemd's ``User=``: the user's uid, its primary group unless ``group`` is given,
    its supplementary groups, and ``HOME``/``USER``/``LOGNAME`` for the environment.
    """

    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] | None = None
    login_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def lookup(cls, user: str | int | None, group: str | int | None) -> Credentials:
        """Resolve names or ids; ``OSError`` naming the problem when they cannot be used."""
        uid = gid = None
        groups: tuple[int, ...] | None = None
        login_env: dict[str, str] = {}
        if user is not None:
            entry = _user_entry(user)
            if entry is None:
                if isinstance(user, str) and not user.isdigit():
                    raise OSError(errno.EINVAL, f"no such user: {user!r}")
                if group is None:
                    raise OSError(errno.EINVAL, f"uid {user} has no user entry: set `group`")
                uid, groups = int(user), ()  # no supplementary groups (not root's)
            else:
                uid, gid = entry.pw_uid, entry.pw_gid
                groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
                login_env = {"HOME": entry.pw_dir, "USER": entry.pw_name, "LOGNAME": entry.pw_name}
        if group is not None:
            gid = _group_id(group)
        changes_uid = uid not in (None, os.geteuid())
        if os.geteuid() != 0 and (changes_uid or gid not in (None, os.getegid())):
            who = f"user {user!r}" if user is not None else f"group {group!r}"
            raise OSError(errno.EPERM, f"running as {who} needs a supervisor running as root")
        return cls(uid, gid, groups, login_env)

    def popen_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`subprocess.Popen`."""
        options: dict[str, Any] = {}
        if self.uid is not None:
            options["user"] = self.uid
        if self.gid is not None:
            options["group"] = self.gid
        if self.groups is not None and os.geteuid() == 0:
            options["extra_groups"] = list(self.groups)
        return options


def _user_entry(user: str | int) -> pwd.struct_passwd | None:
    try:
        if isinstance(user, int) or user.isdigit():
            return pwd.getpwuid(int(user))
        return pwd.getpwnam(user)
    except KeyError:
        return None


def _group_id(group: str | int) -> int:
    if isinstance(group, int) or group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise OSError(errno.EINVAL, f"no such group: {group!r}") from None


class Child:
    """One spawned process, leader of its own session and process group (pgid == pid)."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.pgid = popen.pid
        self.returncode: int | None = None
        self.stop_sent_at: float | None = None
        """When the stop signal was sent to the group (loop clock), if it was."""
        self.pidfd: int | None = None
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self.pidfd = os.pidfd_open(self.pid)

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None,
        cwd: str | None,
        credentials: Credentials | None = None,
    ) -> Child:
        """Start ``argv`` (no shell) with stdin from /dev/null and piped stdout/stderr.

        Raises ``OSError`` (e.g. ``FileNotFoundError``) when the program cannot be run.
        """
        options = credentials.popen_options() if credentials is not None else {}
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            bufsize=0,  # the pipes are read by fd: no buffered reader (cheaper to close)
            **options,
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

    def kill_now(self) -> None:
        """SIGKILL the group and reap the child, blocking briefly: the way out when
        something failed right after the spawn, before a graceful stop could be set up."""
        self.signal_group(signal.SIGKILL)
        if self.returncode is None:
            with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
                self._set_returncode(self.popen.wait(timeout=5.0))
        self.close()

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
