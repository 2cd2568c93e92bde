"""The control socket server: a Unix stream socket (mode 0600) speaking line-delimited JSON.

``ControlServer(path, controller).serve()`` binds the socket, answers requests until it
is cancelled, then removes the socket file. What each command does is up to the
:class:`Controller` (the daemon hands one wrapping its :class:`~supervisor.Supervisor`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import anyio
import structlog
from anyio.abc import ByteStream, SocketListener
from anyio.streams.buffered import BufferedByteReceiveStream

from supervisor.concurrency import TASK_STATUS_IGNORED, TaskStatus, race
from supervisor.control.protocol import COMMANDS, MAX_LINE, ProtocolError, decode, encode, error


class SocketInUse(Exception):
    """Another supervisor already listens on the path (or the path is not a socket)."""


class Controller(Protocol):
    """What the server asks of the daemon; an exception becomes ``{"ok": false}``."""

    def status(self) -> dict[str, Any]:
        """``{"supervisor": {...}, "services": [...]}``."""
        ...

    async def act(self, action: str, names: list[str]) -> dict[str, Any]:
        """``start``, ``stop`` or ``restart`` the named services; return their status."""
        ...

    async def reload(self) -> dict[str, Any]:
        """Re-read the service file and apply the changes."""
        ...

    def shutdown(self) -> None:
        """Ask the daemon to stop every service and exit (returns at once)."""
        ...

    def recent_logs(self, service: str | None, limit: int | None) -> list[dict[str, Any]]:
        """Recent output lines, oldest first."""
        ...

    def follow_logs(
        self, service: str | None
    ) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        """Output lines from now on."""
        ...

    def events(self) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        """State transitions from now on."""
        ...


def bind_unix_socket(path: str) -> socket.socket:
    """A listening, non-blocking Unix socket at ``path``, created with mode 0600.

    A stale socket file (nobody accepts on it) is replaced; a live one raises
    :class:`SocketInUse`. A missing directory is created with mode 0700.
    """
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise SocketInUse(f"{path} exists and is not a socket; remove it or choose another")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # stale: left by a supervisor that was killed
        else:
            raise SocketInUse(f"another supervisor is already listening on {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old = os.umask(0o177)  # the file is born 0600: no window where others may connect
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class ControlServer:
    """Serves the control protocol on ``path`` for ``controller``."""

    def __init__(self, path: str, controller: Controller, *, logger: Any = None) -> None:
        self.path = path
        self.controller = controller
        self.log = logger or structlog.get_logger("supervisor.control")
        self._inode: tuple[int, int] | None = None

    async def serve(self, *, task_status: TaskStatus[str] = TASK_STATUS_IGNORED) -> None:
        """Bind, report the path through ``task_status``, answer until cancelled."""
        sock = bind_unix_socket(self.path)
        info = os.stat(self.path)
        self._inode = (info.st_dev, info.st_ino)
        try:
            listener = await SocketListener.from_socket(sock)
        except BaseException:
            sock.close()
            self._remove()
            raise
        try:
            async with listener:
                task_status.started(self.path)
                await listener.serve(self._connection)
        finally:
            self._remove()

    def _remove(self) -> None:
        """Unlink the socket file, unless another daemon has replaced it since."""
        try:
            info = os.stat(self.path)
        except OSError:
            return
        if (info.st_dev, info.st_ino) == self._inode:
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    async def _connection(self, stream: ByteStream) -> None:
        async with stream:
            reader = BufferedByteReceiveStream(stream)
            while True:
                try:
                    line = await reader.receive_until(b"\n", MAX_LINE)
                except anyio.DelimiterNotFound:
                    await _send(stream, error(f"request longer than {MAX_LINE} bytes"))
                    return
                except (
                    anyio.EndOfStream,
                    anyio.IncompleteRead,
                    anyio.BrokenResourceError,
                    anyio.ClosedResourceError,
                    OSError,
                ):
                    return
                if not line.strip():
                    continue
                if not await self._request(line, stream, reader):
                    return

    async def _request(
        self, line: bytes, stream: ByteStream, reader: BufferedByteReceiveStream
    ) -> bool:
        """Answer one request; ``False`` when the connection is over."""
        try:
            request = decode(line)
            cmd = request.get("cmd")
            if cmd not in COMMANDS:
                raise ProtocolError(
                    f"unknown command {cmd!r}: expected one of {', '.join(COMMANDS)}"
                )
        except ProtocolError as exc:
            return await _send(stream, error(f"bad request: {exc}"))
        if cmd in ("logs", "events") and (cmd == "events" or request.get("follow")):
            await self._stream(cmd, request, stream, reader)
            return False
        try:
            answer = await self._answer(cmd, request)
        except Exception as exc:
            self.log.debug("control request failed", cmd=cmd, error=str(exc))
            answer = error(_message(exc))
        if "id" in request:
            answer["id"] = request["id"]
        return await _send(stream, answer)

    async def _answer(self, cmd: str, request: dict[str, Any]) -> dict[str, Any]:
        ctl = self.controller
        if cmd == "status":
            return {"ok": True, **ctl.status()}
        if cmd in ("start", "stop", "restart"):
            from supervisor.control.protocol import names_of

            return {"ok": True, **await ctl.act(cmd, names_of(request))}
        if cmd == "reload":
            return {"ok": True, **await ctl.reload()}
        if cmd == "shutdown":
            ctl.shutdown()
            return {"ok": True}
        service, limit = _logs_args(request)
        return {"ok": True, "lines": ctl.recent_logs(service, limit)}

    async def _stream(
        self,
        cmd: str,
        request: dict[str, Any],
        stream: ByteStream,
        reader: BufferedByteReceiveStream,
    ) -> None:
        """Answer, then send one object per line until the client hangs up."""
        try:
            if cmd == "logs":
                service, limit = _logs_args(request)
                source = self.controller.follow_logs(service)
                first = {"ok": True, "lines": self.controller.recent_logs(service, limit)}
            else:
                source = self.controller.events()
                first = {"ok": True}
        except Exception as exc:
            await _send(stream, error(_message(exc)))
            return
        async with source as items:
            if not await _send(stream, first):
                return

            async def forward() -> None:
                async for item in items:
                    if not await _send(stream, item):
                        return

            async def hangup() -> None:
                with contextlib.suppress(Exception):
                    while await reader.receive():
                        pass

            await race(forward, hangup)


def _logs_args(request: dict[str, Any]) -> tuple[str | None, int | None]:
    service = request.get("service")
    limit = request.get("lines")
    if service is not None and not isinstance(service, str):
        raise ProtocolError('"service" must be a service name')
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ProtocolError('"lines" must be a number >= 0')
    return service, limit


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


async def _send(stream: ByteStream, message: dict[str, Any]) -> bool:
    try:
        await stream.send(encode(message))
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno not in (errno.EPIPE, errno.ECONNRESET, None):
            raise
        return False
    return True
