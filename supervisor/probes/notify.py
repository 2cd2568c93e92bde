"""``notify``: the systemd notify protocol (``sd_notify``), readiness and watchdog.

The supervisor binds an ``AF_UNIX`` datagram socket in a private temporary directory
(mode 0700) and passes its path to the service as ``NOTIFY_SOCKET``. The service sends
datagrams of newline-separated ``KEY=VALUE`` assignments:

``READY=1``      the service is ready (readiness).
``STATUS=text``  free-form status, published with ``ctx.set_status``.
``STOPPING=1``   the service is shutting down (the watchdog stops counting).
``WATCHDOG=1``   keep-alive ping; ``WATCHDOG=trigger`` fails the watchdog at once.
``MAINPID=n``    the service's main PID changed (recorded and logged).
``WATCHDOG_USEC=n``  change the watchdog timeout at run time.
``EXTEND_TIMEOUT_USEC=n``  ask for more time to become ready.

Any process that can reach the socket may send (systemd's ``NotifyAccess=all``); the
directory's mode keeps other users out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Callable

import anyio

from supervisor.concurrency import Event, current_time, move_on_at, sleep_forever
from supervisor.probes._base import Checker, ProbeFailed


def parse_message(data: bytes) -> dict[str, str]:
    """Parse one datagram into its assignments (later keys win; junk lines are skipped)."""
    fields: dict[str, str] = {}
    for raw in data.decode("utf-8", "replace").split("\n"):
        key, sep, value = raw.partition("=")
        if sep and key:
            fields[key.strip()] = value
    return fields


class NotifySocket:
    """The receiving end of ``NOTIFY_SOCKET`` for one service, and what it has heard.

    Create with :meth:`open`, run :meth:`serve` in a task (or call :meth:`receive_ready`
    whenever :meth:`fileno` is readable, from a loop of your own), and :meth:`aclose` at
    the end (which removes the socket and its directory).
    """

    def __init__(self, directory: str, sock: socket.socket) -> None:
        self.directory = directory
        self.path = os.path.join(directory, "notify.sock")
        self._sock = sock
        self.ready = Event()
        self.stopping = False
        self.status: str | None = None
        self.main_pid: int | None = None
        self.watchdog_timeout: float | None = None
        self.watchdog_triggered = False
        self.last_ping: float | None = None
        self.extend_until: float | None = None
        self._ping = Event()
        self._pinged_since_check = False
        self.on_status: Callable[[str], None] = lambda _text: None
        self.on_main_pid: Callable[[int], None] = lambda _pid: None
        self.on_stopping: Callable[[], None] = lambda: None

    @classmethod
    async def open(cls) -> NotifySocket:
        """Bind a fresh non-blocking socket in a new private temporary directory."""
        directory = tempfile.mkdtemp(prefix="supervisor-notify-")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(os.path.join(directory, "notify.sock"))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return cls(directory, sock)

    def fileno(self) -> int:
        """The socket's file descriptor (readable when a message is waiting)."""
        return self._sock.fileno()

    def receive_ready(self) -> None:
        """Apply every message already waiting, without blocking."""
        while True:
            try:
                data = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # closed
            self.apply(parse_message(data))

    async def serve(self) -> None:
        """Receive and apply messages until cancelled or closed."""
        with contextlib.suppress(anyio.ClosedResourceError, OSError):
            while True:
                await anyio.wait_readable(self._sock)
                self.receive_ready()

    def apply(self, fields: dict[str, str]) -> None:
        """Apply the assignments of one message."""
        if "STATUS" in fields:
            self.status = fields["STATUS"]
            self.on_status(self.status)
        if "MAINPID" in fields:
            with contextlib.suppress(ValueError):
                self.main_pid = int(fields["MAINPID"])
                self.on_main_pid(self.main_pid)
        if "WATCHDOG_USEC" in fields:
            with contextlib.suppress(ValueError):
                self.watchdog_timeout = int(fields["WATCHDOG_USEC"]) / 1e6 or None
        if "EXTEND_TIMEOUT_USEC" in fields:
            with contextlib.suppress(ValueError):
                self.extend_until = current_time() + int(fields["EXTEND_TIMEOUT_USEC"]) / 1e6
        if fields.get("STOPPING") == "1" and not self.stopping:
            self.stopping = True
            self.on_stopping()
        watchdog = fields.get("WATCHDOG")
        if watchdog == "trigger":
            self.watchdog_triggered = True
            self._wake()
        elif watchdog == "1":
            self.last_ping = current_time()
            self._pinged_since_check = True
            self._wake()
        if fields.get("READY") == "1":
            self.ready.set()

    def _wake(self) -> None:
        self._ping.set()
        self._ping = Event()

    async def watchdog(self, period: float) -> str:
        """Return a failure reason once no ``WATCHDOG=1`` came for ``period`` seconds.

        Counting starts now; it stops for good after ``STOPPING=1``. ``WATCHDOG_USEC=``
        from the service replaces ``period``.
        """
        if self.watchdog_timeout is None:
            self.watchdog_timeout = period
        since = current_time()
        while True:
            if self.watchdog_triggered:
                return "watchdog triggered by the service (WATCHDOG=trigger)"
            limit = self.watchdog_timeout or period
            last = max(since, self.last_ping or since)
            ping = self._ping
            with move_on_at(last + limit) as scope:
                await ping.wait()
            if scope.cancelled_caught and not self.stopping:
                return f"no WATCHDOG=1 within {limit:g}s"
            if self.stopping:
                await sleep_forever()

    def take_ping(self) -> bool:
        """True when a ``WATCHDOG=1`` arrived since the previous call."""
        seen, self._pinged_since_check = self._pinged_since_check, False
        return seen

    async def aclose(self) -> None:
        """Close the socket and remove its directory."""
        if self._sock.fileno() >= 0:
            anyio.notify_closing(self._sock)
        self._sock.close()
        shutil.rmtree(self.directory, ignore_errors=True)


class NotifyChecker(Checker):
    """Readiness on ``READY=1``; as a liveness check, a ``WATCHDOG=1`` since the last attempt."""

    kind = "notify"

    def __init__(self, socket: NotifySocket) -> None:
        super().__init__()
        self.socket = socket

    @property
    def description(self) -> str:
        """``notify``."""
        return "notify"

    async def check(self) -> None:
        """Pass when the service pinged since the last attempt."""
        if not self.socket.take_ping():
            raise ProbeFailed("no WATCHDOG=1 since the last check")

    async def wait_ready(self, *, interval: float, per_attempt: float) -> None:
        """Return when ``READY=1`` arrives."""
        await self.socket.ready.wait()
