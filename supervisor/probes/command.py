"""``exec``: the probe passes when a command exits 0."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping

import anyio
import anyio.abc

from supervisor.concurrency import CancelScope, move_on_after
from supervisor.probes._base import Checker, ProbeFailed

_TAIL = 400  # bytes of output quoted in a failure reason


class CommandChecker(Checker):
    """Run a command (no shell; a string is split like a shell would) and expect exit 0.

    The command runs in its own process group with the service's environment and working
    directory. When the attempt times out or is cancelled, the whole group is killed with
    SIGKILL and reaped before the attempt ends, so a hanging check never piles up.
    """

    kind = "exec"

    def __init__(
        self,
        command: list[str] | str,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        super().__init__()
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not self.argv:
            raise ValueError("exec probe: expected a non-empty command")
        self.env = dict(env) if env is not None else None
        self.cwd = cwd

    @property
    def description(self) -> str:
        """``exec <command>``."""
        return "exec " + shlex.join(self.argv)

    async def check(self) -> None:
        """Run the command once."""
        try:
            process = await anyio.open_process(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise ProbeFailed(f"cannot run {self.argv[0]!r}: {exc.strerror or exc}") from exc
        tail = b""
        try:
            assert process.stdout is not None
            async for chunk in process.stdout:
                tail = (tail + chunk)[-_TAIL:]
            code = await process.wait()
        finally:
            with CancelScope(shield=True):
                await _kill_and_reap(process)
        if code != 0:
            how = f"exited {code}" if code >= 0 else f"killed by {signal.Signals(-code).name}"
            text = tail.decode("utf-8", "replace").strip()
            raise ProbeFailed(how + (f": {text}" if text else ""))


async def _kill_and_reap(process: anyio.abc.Process) -> None:
    """Kill the command's process group if anything in it is left, then reap the command."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with move_on_after(5):
        await process.wait()
    await process.aclose()
