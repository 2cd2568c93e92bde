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
from anyio.abc import ByteStream, SocketListener

from supervisor.concurrency import TASK_STATUS_IGNORED, TaskStatus, create_task_group, race, sleep
from supervisor.control.lines import LineReader, LineTooLong
from supervisor.control.paths import SocketPathError, check_socket_path
from supervisor.control.protocol import (
    MAX_LINE,
    BadRequest,
    encode,
    error,
    logs_args,
    names_of,
    parse_request,
    rolling_of,
    scale_args,
)
from supervisor.loggers import get_logger


class SocketInUse(SocketPathError):
    """Another supervisor already listens on the path (or the path is not a socket)."""


ACCEPT_RETRY = 0.1
"""Seconds to wait before accepting again when the system is out of file descriptors."""

_TRANSIENT_ACCEPT = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ECONNABORTED, errno.EPROTO}
)
"""accept() failures that concern one connection or a passing shortage, not the socket."""

_GONE: tuple[type[BaseException], ...] = (
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    OSError,
)
"""What reading a connection raises when the client vanished."""


class Controller(Protocol):
    """What the server asks of the daemon; an exception becomes ``{"ok": false}``."""

    def status(self) -> dict[str, Any]:
        """``{"supervisor": {...}, "services": [...]}``."""
        ...

    async def act(self, action: str, names: list[str], *, rolling: bool = False) -> dict[str, Any]:
        """``start``, ``stop`` or ``restart`` the named services; return their status."""
        ...

    async def scale(self, name: str, replicas: int) -> dict[str, Any]:
        """Run ``replicas`` instances of a replicated service; return their status."""
        ...

    async def reload(self) -> dict[str, Any]:
        """Re-read the service file and apply the changes."""
        ...

    def shutdown(self) -> None:
        """Ask the daemon to stop every service and exit (returns at once)."""
        ...

    def reopen_logs(self) -> dict[str, Any]:
        """Reopen every log file."""
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
    :class:`SocketInUse`. A missing directory is created with mode 0700. A path that
    cannot be used (too long, a directory that cannot be created or written) raises
    :class:`~supervisor.control.paths.SocketPathError` saying why.
    """
    check_socket_path(path)
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise SocketPathError(
                f"cannot create the control socket's directory {directory}: {exc.strerror or exc}"
            ) from None
    if os.path.lexists(path):
        _replace_stale(path)
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
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:  # another daemon bound it since we looked
            raise SocketInUse(f"another supervisor is already listening on {path}") from None
        raise SocketPathError(_bind_failure(path, exc)) from None
    except BaseException:
        sock.close()
        raise
    return sock


def _replace_stale(path: str) -> None:
    """Unlink a socket file nobody accepts on; :class:`SocketInUse` if someone does."""
    if not stat.S_ISSOCK(os.lstat(path).st_mode):
        raise SocketInUse(f"{path} exists and is not a socket; remove it or choose another")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # stale: left by a supervisor that was killed
    except OSError as exc:
        raise SocketPathError(f"cannot use the control socket {path}: {exc.strerror}") from None
    else:
        raise SocketInUse(f"another supervisor is already listening on {path}")
    finally:
        probe.close()


def _bind_failure(path: str, exc: OSError) -> str:
    why = exc.strerror or str(exc)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        directory = os.path.dirname(path) or "."
        return (
            f"cannot create the control socket {path}: {why} (its directory {directory} "
            f"must be writable by uid {os.geteuid()}); choose another with --socket "
            "or supervisor.control_socket"
        )
    return f"cannot create the control socket {path}: {why}"


class ControlServer:
    """Serves the control protocol on ``path`` for ``controller``.

    Whatever a client sends, each line gets one answer and the server goes on: a
    failure confined to one connection is never raised out of :meth:`serve`.
    """

    def __init__(self, path: str, controller: Controller, *, logger: Any = None) -> None:
        self.path = path
        self.controller = controller
        self.log = logger or get_logger("supervisor.control")
        self._inode: tuple[int, int] | None = None
        self._accept_failing = False

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
            async with listener, create_task_group() as tg:
                task_status.started(self.path)
                while True:
                    stream = await self._accept(listener)
                    if stream is not None:
                        tg.start_soon(self._connection, stream)
        finally:
            self._remove()

    async def _accept(self, listener: SocketListener) -> ByteStream | None:
        """The next connection; ``None`` after a passing failure (out of fds...).

        Such a failure is logged once, not at every retry, until a connection is accepted.
        """
        try:
            stream = await listener.accept()
        except (OSError, anyio.BrokenResourceError) as exc:
            # anyio reports the OSError of accept() as the cause of BrokenResourceError.
            cause = exc if isinstance(exc, OSError) else exc.__cause__
            if not isinstance(cause, OSError) or cause.errno not in _TRANSIENT_ACCEPT:
                raise
            if not self._accept_failing:
                self.log.warning("control socket cannot accept now", error=str(cause))
            self._accept_failing = True
            await sleep(ACCEPT_RETRY)
            return None
        self._accept_failing = False
        return stream

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
        """Serve one client; a failure here is logged and ends this connection only."""
        try:
            async with stream:
                await self._converse(stream)
        except Exception:
            self.log.error("control connection failed", exc_info=True)

    async def _converse(self, stream: ByteStream) -> None:
        reader = LineReader(stream, MAX_LINE)
        while True:
            try:
                line = await reader.readline()
            except LineTooLong:
                answer = error(f"bad request: longer than {MAX_LINE} bytes")
                if not await self._send(stream, answer):
                    return
                continue
            except _GONE:
                return
            if line is None:
                return
            if not line.strip():
                continue
            if not await self._request(line, stream, reader):
                return

    async def _request(self, line: bytes, stream: ByteStream, reader: LineReader) -> bool:
        """Answer one request; ``False`` when the connection is over."""
        try:
            request = parse_request(line)
        except BadRequest as exc:
            answer = error(f"bad request: {exc}")
            if exc.has_id:
                answer["id"] = exc.id
            return await self._send(stream, answer)
        cmd = request["cmd"]
        if cmd == "events" or (cmd == "logs" and request.get("follow")):
            return await self._stream(cmd, request, stream, reader)
        try:
            answer = await self._answer(cmd, request)
        except Exception as exc:
            self.log.debug("control request failed", cmd=cmd, error=str(exc))
            answer = error(_message(exc))
        return await self._send(stream, _with_id(answer, request))

    async def _answer(self, cmd: str, request: dict[str, Any]) -> dict[str, Any]:
        ctl = self.controller
        if cmd == "status":
            return {"ok": True, **ctl.status()}
        if cmd in ("start", "stop", "restart"):
            rolling = rolling_of(request)
            return {"ok": True, **await ctl.act(cmd, names_of(request), rolling=rolling)}
        if cmd == "scale":
            return {"ok": True, **await ctl.scale(*scale_args(request))}
        if cmd == "reload":
            return {"ok": True, **await ctl.reload()}
        if cmd == "shutdown":
            ctl.shutdown()
            return {"ok": True}
        if cmd == "reopen-logs":
            return {"ok": True, **ctl.reopen_logs()}
        service, limit, _follow = logs_args(request)
        return {"ok": True, "lines": ctl.recent_logs(service, limit)}

    async def _stream(
        self, cmd: str, request: dict[str, Any], stream: ByteStream, reader: LineReader
    ) -> bool:
        """Answer, then send one object per line until the client hangs up.

        From then on the connection carries only the stream: what the client sends is
        read (to notice it hanging up) and ignored. A stream refused (an unknown
        service) is an answer like any other: ``True``, the connection goes on.
        """
        async with contextlib.AsyncExitStack() as stack:
            try:
                if cmd == "logs":
                    service, limit, _follow = logs_args(request)
                    # Follow first, then read what is kept: a line may be in both, none is
                    # lost in between.
                    items = await stack.enter_async_context(self.controller.follow_logs(service))
                    first = {"ok": True, "lines": self.controller.recent_logs(service, limit)}
                else:
                    items = await stack.enter_async_context(self.controller.events())
                    first = {"ok": True}
            except Exception as exc:
                return await self._send(stream, _with_id(error(_message(exc)), request))
            if not await self._send(stream, _with_id(first, request)):
                return False

            async def forward() -> None:
                try:
                    async for item in items:
                        if not await self._send(stream, item):
                            return
                except Exception:  # the feed broke: end this stream, not the server
                    self.log.error("control stream failed", exc_info=True)

            await race(forward, reader.drain)
        return False

    async def _send(self, stream: ByteStream, message: dict[str, Any]) -> bool:
        """Send one message; ``False`` if the client is gone.

        An answer that cannot be encoded is a bug of the controller: it is logged and
        the client gets an error instead.
        """
        try:
            data = encode(message)
        except (ValueError, TypeError, RecursionError):
            self.log.error("control answer cannot be encoded", exc_info=True)
            data = encode(_with_id(error("internal error: the answer cannot be encoded"), message))
        try:
            await stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in (errno.EPIPE, errno.ECONNRESET, None):
                raise
            return False
        return True


def _with_id(answer: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """``answer`` with the request's ``id`` (checked by :func:`parse_request`), if any."""
    if "id" in request and isinstance(request["id"], str | int | float | None):
        answer["id"] = request["id"]
    return answer


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__
