"""``supervisor run FILE``: the foreground daemon (options in ``daemon_commands``, start-up in
``daemon_start``).

It starts the services of the file, serves the control socket, and handles signals:
SIGTERM or SIGINT stops everything gracefully in reverse dependency order (a second one
kills what is left at once), SIGHUP reloads the file (a bad file is reported and changes
nothing). Under systemd (``NOTIFY_SOCKET``) it sends ``READY=1`` once every service is
ready and ``STOPPING=1`` when it stops. As PID 1 (or with ``--init``) it reaps orphaned
zombies and forwards SIGUSR1/SIGUSR2 to the services; otherwise it becomes a child
subreaper so that processes which daemonize away from their service are still reaped and
stopped.

When every service has ended by itself for good (a batch of one-shots), the daemon exits
by itself (0 if all completed, 1 if any failed) unless ``--keep-running``.

Exit codes: 0 after a clean stop, 1 when a failure escalated (or the stop was forced, or
a service of a batch failed), 2 for a config error.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import anyio
import structlog

from supervisor.cli import EXIT_CONFIG_ERROR, EXIT_FAILURE, EXIT_OK
from supervisor.cli.config_commands import files_label
from supervisor.concurrency import (
    TASK_STATUS_IGNORED,
    CancelScope,
    Event,
    Lock,
    TaskGroup,
    TaskStatus,
    create_task_group,
    current_time,
    run_sync,
)
from supervisor.config import ConfigError, ConfigFile, load_config
from supervisor.config.models import HttpSettings
from supervisor.control.controller import SupervisorController, snapshots
from supervisor.control.paths import SOCKET_ENV
from supervisor.control.server import ControlServer, SocketInUse
from supervisor.init import Reaper, become_subreaper, is_pid1

FORWARDED = (signal.SIGUSR1, signal.SIGUSR2)
"""Signals that, as PID 1 (or with ``--init``), are forwarded to every service process;
otherwise they are logged and ignored (their default action would kill the daemon)."""

EXIT_MARGIN = 2.0
"""Seconds past ``shutdown_timeout`` after which the daemon exits whatever still runs."""

FORCE_GRACE = 2.0
"""After a second stop signal, seconds before the daemon exits whatever still runs."""

RESTART_ONLY_SETTINGS = ("log_format", "log_level", "control_socket", "http")
"""Settings a reload cannot apply to a running daemon: reported, applied at next start."""


def sd_notify(address: str | None, *lines: str) -> bool:
    """Send ``lines`` to systemd's notify socket; False when there is none or it fails."""
    if not address:
        return False
    target = "\0" + address[1:] if address.startswith("@") else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto("\n".join(lines).encode(), target)
    except OSError:
        return False
    return True


class ReloadRejected(Exception):
    """A reload that changed nothing: the new file is invalid, or reload is unsupported."""


class Daemon:
    """One run of ``supervisor run``: the supervisor, its control socket, signals, reaping."""

    def __init__(
        self,
        config_paths: str | Sequence[str],
        config: ConfigFile,
        socket_path: str,
        *,
        init: bool = False,
        env_file: str | None = None,
        keep_running: bool = False,
        http: tuple[HttpSettings, bytes | None] | None = None,
    ) -> None:
        self.config_paths = [config_paths] if isinstance(config_paths, str) else [*config_paths]
        self.config_path = self.config_paths[0]
        """The first file: it names the daemon (its default socket path)."""
        self.env_file = env_file
        self.config = config
        self.socket_path = socket_path
        self.init = init
        self.keep_running = keep_running
        self.batch_code: int | None = None
        self.http = http
        self.http_url: str | None = None
        self.log = structlog.get_logger("supervisor")
        # Our notify socket is ours alone: a service must not report READY=1 for us.
        self.notify_socket = os.environ.pop("NOTIFY_SOCKET", None)
        self.state = "starting"
        self.forced = False
        self.stop_reason: str | None = None
        self.sup: Any = None
        self.reaper: Reaper | None = None
        self._signals = 0
        self._ready = False
        self._started_with = config.supervisor
        self._exit_timer: threading.Timer | None = None
        self._exit_deadline = math.inf
        self._stop: Event
        self._main: CancelScope
        self._reload_lock: Lock
        self._tg: TaskGroup

    # -- the run ----------------------------------------------------------------------

    def build(self) -> None:
        """Make the :class:`Supervisor` (raises ``ConfigError`` for a bad ``run:`` target)."""
        from supervisor import Supervisor

        self.sup = Supervisor(self.config)

    async def run(self) -> int:
        """Run until stopped; return the exit code."""
        self._stop = Event()
        self._ready = False
        self._main = CancelScope()
        self._reload_lock = Lock()
        os.environ[SOCKET_ENV] = self.socket_path  # `supervisor status` works from services
        self._route_loop_errors()
        if self.sup is None:
            self.build()
        subreaper = not is_pid1() and become_subreaper()
        if self.init or subreaper:
            self.reaper = Reaper(owned=self._owned_pids, logger=self.log)
        controller = SupervisorController(
            self.sup, reload=self.reload, shutdown=self._shutdown_command, info=self._info
        )
        server = ControlServer(self.socket_path, controller, logger=self.log)
        async with create_task_group() as tg:
            self._tg = tg
            await tg.start(self._watch_signals, name="signals")
            if self.reaper is not None:
                await tg.start(self.reaper.run, name="reaper")
            try:
                await tg.start(server.serve, name="control")
            except (SocketInUse, OSError) as exc:
                self.log.error("cannot open the control socket", error=str(exc))
                tg.cancel_scope.cancel()
                return EXIT_FAILURE
            if self.http is not None:
                try:
                    self.http_url = await tg.start(self._serve_http, controller, name="http")
                except OSError as exc:
                    self.log.error("cannot open the http endpoint", error=str(exc))
                    tg.cancel_scope.cancel()
                    return EXIT_FAILURE
            code = await self._supervise()
            if self.reaper is not None:
                with CancelScope(shield=True):
                    await self.reaper.stop_orphans(exclude=self._guard_pids())
            tg.cancel_scope.cancel()
        if self._exit_timer is not None:
            self._exit_timer.cancel()
        self.log.info("supervisor exited", code=code)
        return code

    async def _serve_http(
        self,
        controller: SupervisorController,
        *,
        task_status: TaskStatus[str] = TASK_STATUS_IGNORED,
    ) -> None:
        from supervisor.http import HttpEndpoint

        assert self.http is not None
        settings, token = self.http
        endpoint = HttpEndpoint(controller, settings, token=token, logger=self.log)
        await endpoint.serve(task_status=task_status)

    def _route_loop_errors(self) -> None:
        """On asyncio, log event-loop errors through structlog (stderr stays JSON lines).

        anyio's asyncio sockets may call ``set_result`` on a future already cancelled
        when a connection is cancelled just as it becomes readable: that is noise.
        """
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # trio
            return

        def handler(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            exc = context.get("exception")
            if isinstance(exc, asyncio.InvalidStateError):
                return
            self.log.error("event loop error", message=context.get("message"), exc_info=exc)

        loop.set_exception_handler(handler)

    async def _supervise(self) -> int:
        sup = self.sup
        began = current_time()
        self.log.info(
            "supervisor starting",
            file=files_label(self.config_paths),
            services=len(self.config.services),
            socket=self.socket_path,
            pid=os.getpid(),
        )
        try:
            with self._main:
                async with sup:
                    self._ready = True
                    self.state = "running"
                    self._announce_ready(current_time() - began)
                    await self._until_stopped()
                    self._stopping()
        except BaseException as exc:
            failure = _find(exc, "SupervisorFailed")
            if failure is not None:
                self.state = "failed"
                self.log.error("supervisor failed", reason=str(failure))
                sd_notify(self.notify_socket, "STOPPING=1", f"STATUS={failure}")
                return EXIT_FAILURE
            if not isinstance(exc, Exception):
                raise
            user_error = _find(exc, "ImportError") or _find(exc, "ConfigError")
            if user_error is not None:
                self.log.error("cannot start the services", error=str(user_error))
                return EXIT_CONFIG_ERROR
            self.log.error("supervisor crashed", exc_info=exc)
            return EXIT_FAILURE
        if self.state != "stopping":
            self._stopping()
        self.state = "stopped"
        self.log.info("all services stopped", reason=self.stop_reason)
        if self.forced:
            return EXIT_FAILURE
        return EXIT_OK if self.batch_code is None else self.batch_code

    async def _until_stopped(self) -> None:
        """Wait for a stop request, or (without ``--keep-running``) for the end of a batch."""
        if self.keep_running:
            await self._stop.wait()
            return
        async with create_task_group() as tg:

            async def batch() -> None:
                all_completed = await self.sup.batch_end()
                self.batch_code = EXIT_OK if all_completed else EXIT_FAILURE
                self.log.info(
                    "every service has ended; exiting",
                    outcome="completed" if all_completed else "failed",
                )
                self.request_stop("every service has ended")

            tg.start_soon(batch, name="batch end")
            await self._stop.wait()
            tg.cancel_scope.cancel()

    def _announce_ready(self, elapsed: float) -> None:
        statuses = list(snapshots(self.sup).values())
        counts: dict[str, int] = {}
        for status in statuses:
            counts[str(status.state)] = counts.get(str(status.state), 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        self.log.info("supervisor ready", services=summary or "none", seconds=round(elapsed, 3))
        gc.freeze()  # what startup made lives on: spare the collector from walking it
        sd_notify(
            self.notify_socket,
            "READY=1",
            f"STATUS={summary or 'no services'}",
            f"MAINPID={os.getpid()}",
        )

    def _stopping(self) -> None:
        self.state = "stopping"
        self.log.info("stopping all services", reason=self.stop_reason)
        sd_notify(self.notify_socket, "STOPPING=1", "STATUS=stopping")

    def request_stop(self, reason: str) -> None:
        """Stop every service and exit (also during start-up).

        The exit is bounded: ``shutdown_timeout`` plus :data:`EXIT_MARGIN` after this call,
        whatever in-process code does (a service blocked in a thread cannot be cancelled),
        the daemon kills the process groups left and exits (see :meth:`_exit_now`).
        """
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()
        self._arm_exit_timer(self._shutdown_timeout() + EXIT_MARGIN)
        if not self._ready:
            self.state = "stopping"
            self._main.cancel()

    def _arm_exit_timer(self, seconds: float) -> None:
        """Exit after ``seconds`` if still running (an earlier deadline replaces a later)."""
        deadline = time.monotonic() + seconds
        if deadline >= self._exit_deadline:
            return
        if self._exit_timer is not None:
            self._exit_timer.cancel()
        self._exit_deadline = deadline
        self._exit_timer = threading.Timer(seconds, self._exit_now)
        self._exit_timer.daemon = True
        self._exit_timer.start()

    def _shutdown_timeout(self) -> float:
        settings = self.sup.settings if self.sup is not None else self.config.supervisor
        return float(settings.shutdown_timeout)

    def _exit_now(self) -> None:
        """The stop overran its bound: kill every process group left, say what, exit 1.

        Runs in the timer's thread, so it works even when in-process code holds the event
        loop's shutdown (a thread that cannot be cancelled).
        """
        left = self.sup.active_services() if self.sup is not None else []
        self.log.error(
            "shutdown overran its bound; killing what is left and exiting",
            timeout=self._shutdown_timeout(),
            abandoned=left,
        )
        for pid in self._service_pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if self.reaper is not None:
            self.reaper.signal_orphans(signal.SIGKILL, exclude=self._guard_pids())
        sys.stderr.flush()
        os._exit(EXIT_FAILURE)

    def _shutdown_command(self) -> None:
        self.request_stop("shutdown command")

    def _info(self) -> dict[str, Any]:
        info = {
            "state": self.state,
            "config": os.path.abspath(self.config_path),
            "files": [os.path.abspath(name) for name in self.config_paths],
            "socket": self.socket_path,
        }
        if self.http_url is not None:
            info["http"] = self.http_url
        return info

    # -- signals ----------------------------------------------------------------------

    async def _watch_signals(self, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
        wanted = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, *FORWARDED]
        with anyio.open_signal_receiver(*wanted) as signals:
            task_status.started()
            async for signum in signals:
                name = signal.Signals(signum).name
                if signum == signal.SIGHUP:
                    self._tg.start_soon(self._reload_on_signal, name="reload")
                elif signum in FORWARDED:
                    if self.init:
                        self._forward(signal.Signals(signum))
                    else:
                        self.log.warning("signal ignored (forwarded only as PID 1)", signal=name)
                elif self._signals == 0:
                    self._signals += 1
                    self.log.info("signal received: stopping", signal=name)
                    self.request_stop(name)
                elif self._signals == 1:
                    self._signals += 1
                    self.log.warning("second signal: killing what is left", signal=name)
                    self.force_stop()
                else:
                    self.log.error("third signal: exiting now", signal=name)
                    os._exit(EXIT_FAILURE)

    def _service_pids(self) -> list[int]:
        if self.sup is None:
            return []
        return [s.pid for s in snapshots(self.sup).values() if s.pid]

    def _guard_pids(self) -> list[int]:
        """The orphan guard's processes (current and retiring): they exit by themselves."""
        from supervisor.services._guard import GUARD

        return GUARD.pids

    def _owned_pids(self) -> list[int]:
        return self._service_pids() + self._guard_pids()

    def _forward(self, sig: signal.Signals) -> None:
        pids = self._service_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
        self.log.info("signal forwarded", signal=sig.name, pids=pids)

    def force_stop(self) -> None:
        """SIGKILL every service process group (and adopted orphans) at once."""
        self.forced = True
        self.request_stop(self.stop_reason or "forced")
        self._arm_exit_timer(FORCE_GRACE)
        for pid in self._service_pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if self.reaper is not None:
            self.reaper.signal_orphans(signal.SIGKILL, exclude=self._guard_pids())

    # -- reload -----------------------------------------------------------------------

    async def _reload_on_signal(self) -> None:
        with contextlib.suppress(ReloadRejected):
            await self.reload()

    async def reload(self) -> dict[str, Any]:
        """Validate the file again, then apply what changed; a bad file changes nothing."""
        async with self._reload_lock:
            if self.state != "running":
                raise ReloadRejected(f"cannot reload while {self.state}")
            self.log.info("reloading", file=files_label(self.config_paths))
            try:
                # in a worker thread: a big file (or slow imports) must not stop the loop
                new = await run_sync(
                    load_config, self.config_paths, import_targets=True, env_file=self.env_file
                )
            except ConfigError as exc:
                self.log.error(
                    "reload rejected: the file has errors; nothing changed", errors=str(exc)
                )
                raise ReloadRejected(
                    f"{files_label(self.config_paths)} has errors; nothing changed:\n{exc}"
                ) from None
            apply = getattr(self.sup, "reload", None)
            if apply is None:
                raise ReloadRejected("this version of the runtime cannot reload")
            not_applied = self._restart_only_changes(new)
            began = time.monotonic()
            sd_notify(
                self.notify_socket,
                "RELOADING=1",
                f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}",
            )
            try:
                result = await apply(new)
            except ConfigError as exc:  # found while building the new services
                self.log.error("reload rejected: nothing changed", errors=str(exc))
                raise ReloadRejected(f"{self.config_path}: {exc}; nothing changed") from None
            finally:
                sd_notify(self.notify_socket, "READY=1", "STATUS=reloaded")
            self.config = new
            changes = _jsonable(result)
            self.log.info("reloaded", changes=changes, seconds=round(time.monotonic() - began, 3))
            return {"changes": changes, "not_applied": not_applied}

    def _restart_only_changes(self, new: ConfigFile) -> list[str]:
        """Settings of ``new`` that differ from those in effect and need a restart.

        Compared with what the daemon started with (not with the previous reload), so
        every reload says so for as long as the file and the running daemon disagree.
        """
        not_applied = []
        for key in RESTART_ONLY_SETTINGS:
            running, wanted = getattr(self._started_with, key), getattr(new.supervisor, key)
            if running != wanted:
                not_applied.append(key)
                self.log.warning(
                    "setting changed in the file applies at the next start",
                    setting=key,
                    running=running,
                    file=wanted,
                )
        return not_applied


def _find(exc: BaseException, name: str) -> BaseException | None:
    """The first exception of class ``name`` (by MRO name) in ``exc`` or its groups."""
    if any(cls.__name__ == name for cls in type(exc).__mro__):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find(inner, name)
            if found is not None:
                return found
    return None


def _jsonable(value: Any) -> Any:
    """A reload result as JSON-ready data (dicts, lists, strings)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return _jsonable(to_dict())
    if hasattr(value, "__dataclass_fields__"):
        return {f: _jsonable(getattr(value, f)) for f in value.__dataclass_fields__}
    return str(value)
