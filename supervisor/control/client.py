"""A blocking client of the control socket, used by the CLI (no event loop needed)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

from supervisor.control.protocol import ProtocolError, decode, encode


class NoDaemon(Exception):
    """Nothing listens on the control socket."""


class ControlError(Exception):
    """The daemon answered ``{"ok": false}``; the message is its ``error``."""


class ControlClient:
    """Talks to the daemon listening on ``path``; ``timeout`` bounds every wait (seconds)."""

    def __init__(self, path: str, timeout: float | None = 30.0) -> None:
        self.path = path
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            sock.close()
            raise NoDaemon(
                f"no supervisor is listening on {self.path}: is `supervisor run` running?"
            ) from None
        except PermissionError:
            sock.close()
            raise NoDaemon(
                f"permission denied on {self.path}: the control socket belongs to the user "
                "running the supervisor"
            ) from None
        except BaseException:
            sock.close()
            raise
        return sock

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one request and return the answer; raise :class:`ControlError` if not ok."""
        with self._connect() as sock:
            sock.sendall(encode({"cmd": cmd, **args}))
            lines = _lines(sock)
            answer = _first(lines, self.path)
            _check(answer)
            return answer

    def stream(self, cmd: str, **args: Any) -> Iterator[dict[str, Any]]:
        """Send a streaming request: yield the answer, then every message that follows.

        Ends when the daemon closes the connection (it stopped).
        """
        with self.subscribe(cmd, **args) as subscription:
            yield subscription.answer
            yield from subscription

    def subscribe(self, cmd: str, **args: Any) -> Subscription:
        """Send a streaming request and return it once answered (raises like :meth:`request`).

        Iterate the :class:`Subscription` for the messages that follow; its
        :meth:`~Subscription.close` may be called from another thread to end it.
        """
        sock = self._connect()
        try:
            sock.sendall(encode({"cmd": cmd, **args}))
            lines = _lines(sock)
            answer = _first(lines, self.path)
            _check(answer)
            sock.settimeout(None)
        except BaseException:
            sock.close()
            raise
        return Subscription(sock, lines, answer)

    def wait_closed(self, timeout: float | None) -> bool:
        """Send ``shutdown`` and wait until the daemon closes the connection (it exited).

        Returns ``False`` if it is still running after ``timeout`` seconds.
        """
        with self._connect() as sock:
            sock.sendall(encode({"cmd": "shutdown"}))
            lines = _lines(sock)
            _check(_first(lines, self.path))
            sock.settimeout(timeout)
            try:
                for _ in lines:
                    pass
            except TimeoutError:
                return False
            return True


class Subscription:
    """A streaming request (``events``, ``logs`` with ``follow``) that has been answered.

    ``answer`` is the daemon's first answer; iterating yields every message after it until
    the daemon closes the connection or :meth:`close` is called (from any thread: a
    blocked iteration then ends at once, without error).
    """

    def __init__(self, sock: socket.socket, lines: Iterator[bytes], answer: dict[str, Any]):
        self.answer = answer
        self._sock = sock
        self._lines = lines
        self._closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            for line in self._lines:
                if self._closed:
                    return
                yield decode(line)
        except OSError:
            if not self._closed:
                raise
        finally:
            self._sock.close()

    def close(self) -> None:
        """End the stream: a thread blocked reading it wakes up and stops."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self._sock.close()


def _lines(sock: socket.socket) -> Iterator[bytes]:
    buffer = b""
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            if buffer.strip():
                yield buffer
            return
        buffer += data
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            if line.strip():
                yield line


def _first(lines: Iterator[bytes], path: str) -> dict[str, Any]:
    try:
        line = next(lines)
    except StopIteration:
        raise NoDaemon(
            f"the supervisor on {path} closed the connection (it is stopping?)"
        ) from None
    except TimeoutError:
        raise ControlError(f"no answer from the supervisor on {path} in time") from None
    try:
        return decode(line)
    except ProtocolError as exc:
        raise ControlError(f"bad answer from the supervisor on {path}: {exc}") from None


def _check(answer: dict[str, Any]) -> None:
    if not answer.get("ok"):
        raise ControlError(str(answer.get("error", "request failed")))
