"""Process services: a subprocess supervised the way supervisord or systemd would.

``ProcessService(name, config)`` is an async callable run by the runtime as
``await tg.start(svc, ctx)``. It spawns the command (argument list, no shell) in a
process group of its own, waits for readiness (a probe, or just "spawned" without
``ready:``), calls ``task_status.started(ProcessInfo)``, then hands its output to the
output pipeline (:mod:`supervisor.logs`: buffer, log files, echo) and runs the liveness
probe until the process exits:

* exit 0 returns normally; any other exit raises :class:`ProcessFailed`
  (``exited 1``, ``killed by SIGSEGV``);
* a failing health check or a silent watchdog stops the process and raises
  :class:`HealthCheckFailed` / :class:`WatchdogTimeout`;
* cancellation (the runtime stopping the service) sends the stop signal to the whole
  group, waits up to the stop timeout, SIGKILLs the group, and reaps it, shielded from
  further cancellation. How the process ended is logged and kept in ``self.ended``.

See docs/processes.md.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Any

from supervisor.concurrency import (
    TASK_STATUS_IGNORED,
    CancelScope,
    TaskStatus,
    create_task_group,
    current_time,
    move_on_after,
    move_on_at,
    race,
)
from supervisor.config.models import ServiceConfig
from supervisor.logs import (
    MAX_LINE,
    LogFile,
    LogFileError,
    OutputPipeline,
    Rotation,
    echo_for,
    open_log_file,
    release_log_file,
)
from supervisor.probes import Checker, NotifySocket, build_checker, watch_liveness
from supervisor.services._child import Child, Credentials, describe_exit
from supervisor.services._guard import GUARD
from supervisor.services._io import ChildIO
from supervisor.services.context import ServiceContext

DRAIN_TIMEOUT = 1.0
"""After the group is gone, how long to wait for the last output still in the pipes."""

KILL_WAIT = 5.0
"""After SIGKILL, how long to wait for the kernel to deliver it before giving up."""


STREAMS = ("stdout", "stderr")


def io_listeners(io: ChildIO) -> list[Any]:
    """The line listeners of the pipeline ``io`` reads into (empty for another reader)."""
    output = io.output
    return output.listeners if isinstance(output, OutputPipeline) else []


@dataclass(frozen=True)
class ProcessInfo:
    """What a process service hands to ``task_status.started()`` (and its dependents)."""

    pid: int
    notify_socket: str | None = None


class ProcessFailed(Exception):
    """The process ended badly: a non-zero exit, a signal, or a failed start.

    ``returncode`` is the exit code (``-N`` for signal N, ``None`` if it never ran) and
    ``ended`` says how it ended in words (``exited 1``, ``killed by SIGKILL``).
    """

    def __init__(
        self, message: str, *, returncode: int | None = None, ended: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.returncode = returncode
        self.ended = ended

    @property
    def signal(self) -> signal.Signals | None:
        """The signal that killed the process, if one did."""
        if self.returncode is not None and self.returncode < 0:
            try:
                return signal.Signals(-self.returncode)
            except ValueError:
                return None
        return None

    def __str__(self) -> str:
        if self.ended and self.ended not in self.message:
            return f"{self.message} (process {self.ended})"
        return self.message


class StartTimeout(ProcessFailed):
    """The process did not become ready within ``start_timeout``."""


class HealthCheckFailed(ProcessFailed):
    """The liveness probe failed ``failures`` times in a row; the process was stopped."""


class WatchdogTimeout(HealthCheckFailed):
    """No ``WATCHDOG=1`` arrived within the watchdog period; the process was stopped."""


class ProcessService:
    """A supervised subprocess built from a :class:`ServiceConfig` with a ``command``.

    After a run, ``pid``, ``returncode`` and ``ended`` describe the last process.
    """

    def __init__(self, name: str, config: ServiceConfig, *, max_line: int = MAX_LINE) -> None:
        if config.command is None:
            raise ValueError(f"service {name!r} has no command")
        self.name = name
        self.config = config
        self.argv: list[str] = list(config.command)
        self.max_line = max_line
        self.pid: int | None = None
        self.returncode: int | None = None
        self.ended: str | None = None
        self.status: str | None = None

    def __repr__(self) -> str:
        return f"ProcessService({self.name!r}, pid={self.pid}, ended={self.ended!r})"

    async def __call__(
        self, ctx: ServiceContext, *, task_status: TaskStatus[Any] = TASK_STATUS_IGNORED
    ) -> None:
        """Run the process until it exits, fails a probe, or is cancelled (then stop it)."""
        cfg = self.config
        # None inherits os.environ as is: no copy, no re-encoding (fast spawns).
        probe_env = {**os.environ, **cfg.env} if cfg.env else None
        env = probe_env
        notify: NotifySocket | None = None
        checkers: list[Checker] = []
        try:
            kinds = {p.kind for p in (cfg.ready, cfg.health) if p is not None}
            if "notify" in kinds:
                notify = await NotifySocket.open()
                env = {**os.environ, **cfg.env, "NOTIFY_SOCKET": notify.path}
                if cfg.ready is not None and cfg.ready.watchdog:
                    env["WATCHDOG_USEC"] = str(int(cfg.ready.watchdog * 1_000_000))
                self._wire_notify(ctx, notify)
            ready = health = None
            if cfg.ready is not None:
                ready = build_checker(cfg.ready, env=probe_env, cwd=cfg.cwd, notify=notify)
                checkers.append(ready)
            if cfg.health is not None:
                health = build_checker(cfg.health, env=probe_env, cwd=cfg.cwd, notify=notify)
                checkers.append(health)
            failure = await self._run(ctx, env, notify, ready, health, task_status)
        finally:
            if checkers or notify is not None:
                with CancelScope(shield=True):
                    for checker in checkers:
                        await checker.aclose()
                    if notify is not None:
                        await notify.aclose()
        if failure is not None:
            failure.ended = self.ended
            try:
                raise failure
            finally:
                failure = None  # its traceback holds this frame: leave no cycle behind

    def _wire_notify(self, ctx: ServiceContext, notify: NotifySocket) -> None:
        def on_status(text: str) -> None:
            self.status = text
            ctx.set_status(text)

        def on_main_pid(pid: int) -> None:
            ctx.log.info("main pid changed", pid=pid)
            ctx.set_pid(pid)

        notify.on_status = on_status
        notify.on_main_pid = on_main_pid
        notify.on_stopping = lambda: ctx.log.info("process is stopping (STOPPING=1)")

    async def _run(
        self,
        ctx: ServiceContext,
        env: dict[str, str] | None,
        notify: NotifySocket | None,
        ready: Checker | None,
        health: Checker | None,
        task_status: TaskStatus[Any],
    ) -> ProcessFailed | None:
        files = self._open_files(ctx)
        try:
            return await self._spawn_and_run(ctx, env, notify, ready, health, task_status, files)
        finally:
            for file in set(files.values()):
                release_log_file(file)

    def _open_files(self, ctx: ServiceContext) -> dict[str, LogFile]:
        """The log file of each stream that has one (raises :class:`ProcessFailed`)."""
        settings = self.config.log
        if settings is None:
            return {}
        rotation = Rotation(settings.max_size, settings.keep, settings.compress)
        files: dict[str, LogFile] = {}
        try:
            if settings.file is not None:
                files["stdout"] = files["stderr"] = open_log_file(settings.file, rotation, ctx.log)
            if settings.stderr_file is not None:
                files["stderr"] = open_log_file(settings.stderr_file, rotation, ctx.log)
        except LogFileError as exc:
            for file in set(files.values()):
                release_log_file(file)
            self.pid = self.returncode = None
            self.ended = "did not start"
            ctx.log.error("process did not start", error=exc.strerror)
            raise ProcessFailed(str(exc.strerror), ended=self.ended) from exc
        return files

    def _pipeline(self, ctx: ServiceContext, files: dict[str, LogFile]) -> OutputPipeline:
        """Where this process's output goes: its files, the runtime's buffer, the echo."""
        settings = self.config.log
        echo = settings.echo if settings is not None else None
        pipeline = OutputPipeline(
            self.name,
            buffer=ctx.output_buffer,
            files=files,
            echo=echo_for(ctx.log),
            echo_streams={s: echo if echo is not None else s not in files for s in STREAMS},
            timestamps=settings is not None and settings.timestamps,
            limit=self.max_line,
        )
        if ctx.output_buffer is None:
            pipeline.listeners.append(ctx.output)
        return pipeline

    async def _spawn_and_run(
        self,
        ctx: ServiceContext,
        env: dict[str, str] | None,
        notify: NotifySocket | None,
        ready: Checker | None,
        health: Checker | None,
        task_status: TaskStatus[Any],
        files: dict[str, LogFile],
    ) -> ProcessFailed | None:
        cfg = self.config
        try:
            credentials = None
            if cfg.user is not None or cfg.group is not None:
                credentials = Credentials.lookup(cfg.user, cfg.group)
                env = self._login_env(env, credentials)
            child = Child.spawn(self.argv, env=env, cwd=cfg.cwd, credentials=credentials)
        except OSError as exc:
            self.pid = self.returncode = None
            self.ended = "did not start"
            ctx.log.error("process did not start", command=self.argv, error=str(exc))
            raise ProcessFailed(
                f"cannot start {self.argv[0]!r}: {exc.strerror or exc}", ended=self.ended
            ) from exc
        # From here on, whatever fails (even registering with the guard, or EMFILE while
        # setting up the output) must not leave the process behind.
        io: ChildIO | None = None
        try:
            GUARD.register(child.pgid, int(cfg.stop.signal), cfg.stop.timeout)
            self.pid, self.returncode, self.ended = child.pid, None, None
            ctx.set_pid(child.pid)
            ctx.set_stop_hook(lambda: self._stop_hook(child))
            ctx.log.info("process started", pid=child.pid, command=self.argv)
            pipeline = self._pipeline(ctx, files)
            for checker in (ready, health):
                if checker is not None and checker.kind == "log":
                    pipeline.listeners.append(checker.feed)
            io = ChildIO(child, pipeline)
            if notify is not None:
                io.watch(notify.fileno(), notify.receive_ready)
            try:
                failure = await self._supervise(ctx, io, notify, ready, health, task_status)
            finally:
                with CancelScope(shield=True):
                    await self._terminate(ctx, io)
        finally:
            if io is None:
                child.kill_now()
                ctx.log.error("process killed: its supervision could not be set up", pid=child.pid)
            else:
                io.close()
            ctx.set_stop_hook(None)
            GUARD.unregister(child.pgid)
            ctx.set_pid(None)
        return failure

    def _login_env(self, env: dict[str, str] | None, credentials: Credentials) -> dict[str, str]:
        """The user's ``HOME``, ``USER`` and ``LOGNAME``, unless the service's ``env`` sets them."""
        merged = dict(env if env is not None else os.environ)
        for key, value in credentials.login_env.items():
            if key not in self.config.env:
                merged[key] = value
        return merged

    async def _supervise(
        self,
        ctx: ServiceContext,
        io: ChildIO,
        notify: NotifySocket | None,
        ready: Checker | None,
        health: Checker | None,
        task_status: TaskStatus[Any],
    ) -> ProcessFailed | None:
        cfg = self.config
        child = io.child
        info = ProcessInfo(child.pid, notify.path if notify is not None else None)
        if ready is not None:
            outcome = await self._wait_ready(ready, io, notify)
            if outcome == "timeout":
                why = ready.last_error or "no answer"
                ctx.log.error("process not ready in time", probe=ready.description, error=why)
                return StartTimeout(
                    f"not ready within {cfg.start_timeout:g}s ({ready.description}: {why})"
                )
            if outcome == "exited":
                self._record_exit(child)
                if cfg.oneshot and child.returncode == 0:
                    task_status.started(info)
                    return None
                return ProcessFailed(
                    f"{self.ended} before becoming ready",
                    returncode=child.returncode,
                    ended=self.ended,
                )
        task_status.started(info)
        if ready is not None:
            if ready.kind == "log" and ready.feed in io_listeners(io):
                io_listeners(io).remove(ready.feed)  # it looks at lines only while waiting
            ctx.log.info("process ready", pid=child.pid, probe=ready.description)

        failure: list[ProcessFailed] = []
        watchdog_period = cfg.ready.watchdog if cfg.ready is not None else None
        if health is None and (notify is None or not watchdog_period):
            await io.run(lambda: child.exited)  # the common case: this task alone
        else:
            await self._watch(ctx, io, notify, health, watchdog_period, failure)
        if failure:
            ctx.log.error("stopping unhealthy process", pid=child.pid, reason=str(failure[0]))
            return failure[0]
        self._record_exit(child)
        if child.returncode == 0:
            return None
        return ProcessFailed(self.ended or "exited", returncode=child.returncode, ended=self.ended)

    async def _watch(
        self,
        ctx: ServiceContext,
        io: ChildIO,
        notify: NotifySocket | None,
        health: Checker | None,
        watchdog_period: float | None,
        failure: list[ProcessFailed],
    ) -> None:
        """Run the liveness probe and the watchdog until the process exits or one fails."""
        async with create_task_group() as watch:
            if health is not None and self.config.health is not None:
                probe = self.config.health

                async def liveness() -> None:
                    def on_failure(count: int, reason: str) -> None:
                        ctx.log.warning("health check failed", count=count, error=reason)

                    reason = await watch_liveness(health, probe, on_failure=on_failure)
                    failure.append(HealthCheckFailed(reason))
                    watch.cancel_scope.cancel()

                watch.start_soon(liveness)
            if notify is not None and watchdog_period:
                period = watchdog_period

                async def watchdog() -> None:
                    reason = await notify.watchdog(period)
                    failure.append(WatchdogTimeout(reason))
                    watch.cancel_scope.cancel()

                watch.start_soon(watchdog)
            await io.run(lambda: io.child.exited)
            watch.cancel_scope.cancel()

    async def _wait_ready(self, ready: Checker, io: ChildIO, notify: NotifySocket | None) -> str:
        """``ready``, ``exited`` (before ready) or ``timeout``."""
        cfg = self.config
        assert cfg.ready is not None
        interval, per_attempt = cfg.ready.interval, cfg.ready.timeout

        async def probe() -> str:
            await ready.wait_ready(interval=interval, per_attempt=per_attempt)
            return "ready"

        async def died() -> str:
            await io.run(lambda: io.child.exited)
            return "exited"

        deadline = current_time() + cfg.start_timeout
        while True:
            with move_on_at(deadline):
                return await race(probe, died)
            extended = notify.extend_until if notify is not None else None
            if extended is None or extended <= deadline:
                return "timeout"
            deadline = extended  # EXTEND_TIMEOUT_USEC= asked for more time

    def _stop_hook(self, child: Child) -> None:
        """The runtime is about to cancel this service: signal now (as :meth:`_terminate`
        would, unless the process has already exited with nothing left in its group)."""
        if not child.exited or child.group_alive():
            self._send_stop(child)

    def _send_stop(self, child: Child) -> None:
        """Send the stop signal to the group (once; also the runtime's stop hook)."""
        if child.stop_sent_at is not None:
            return
        child.stop_sent_at = current_time()
        stop = self.config.stop
        child.signal_group(stop.signal)
        if stop.signal not in (signal.SIGKILL, signal.SIGCONT):
            # as systemd does: a stopped (SIGSTOP, ^Z) process acts on it only if woken
            child.signal_group(signal.SIGCONT)

    def _record_exit(self, child: Child) -> None:
        if child.returncode is not None and self.ended is None:
            self.returncode = child.returncode
            self.ended = describe_exit(child.returncode)

    async def _terminate(self, ctx: ServiceContext, io: ChildIO) -> None:
        """Stop signal to the group, SIGKILL after the stop timeout, reap; then drain output."""
        stop = self.config.stop
        child = io.child
        requested = child.stop_sent_at is not None
        if requested or not child.exited or child.group_alive():
            requested = True
            self._send_stop(child)
            # debug: the runner logs the service's `stopping` and `stopped` transitions;
            # two more lines per process made up a quarter of a big stop's work
            ctx.log.debug("stopping process", pid=child.pid, signal=stop.signal.name)
            assert child.stop_sent_at is not None
            deadline = child.stop_sent_at + stop.timeout
            io.poll()  # signalled with a whole wave, it may well be gone already
            if not child.exited:
                with move_on_at(deadline):
                    await io.run(lambda: child.exited)
            gone = child.exited and await child.wait_group_gone(deadline)
            if not gone:
                ctx.log.warning(
                    "stop timeout: killing the process group",
                    pid=child.pid,
                    timeout=stop.timeout,
                )
                child.signal_group(signal.SIGKILL)
                with move_on_after(KILL_WAIT):
                    await io.run(lambda: child.exited)
                if not await child.wait_group_gone(current_time() + 1.0):
                    ctx.log.error("process group still has members after SIGKILL", pgid=child.pgid)
        if not io.drained:
            with move_on_after(DRAIN_TIMEOUT):
                await io.run(lambda: io.drained)
        self._record_exit(child)
        # a stop we asked for is no news (a stop that needed SIGKILL was warned about)
        (ctx.log.debug if requested else ctx.log.info)(
            "process exited",
            pid=child.pid,
            how=self.ended or "unknown",
            returncode=self.returncode,
            stopped=requested,
        )
