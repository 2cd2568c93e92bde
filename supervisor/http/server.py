"""Serve the HTTP endpoint with hypercorn, on whichever backend (asyncio or trio) runs.

Hypercorn is a maintained ASGI server with a native trio worker as well as an asyncio
one, so the endpoint runs inside the daemon's own event loop on both backends (uvicorn,
the other common choice, is asyncio only). The socket is bound here, before hypercorn
starts, so that a bad address is reported at once and port ``0`` tells its real port;
hypercorn takes it over as ``fd://N``. Hypercorn is given a shutdown trigger of its own so
it never installs signal handlers (the daemon owns SIGTERM and SIGINT).
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

from supervisor.concurrency import (
    TASK_STATUS_IGNORED,
    CancelScope,
    Event,
    TaskStatus,
    create_task_group,
    current_time,
)
from supervisor.concurrency._threads import _running_backend
from supervisor.config.listen import is_loopback, parse_listen
from supervisor.config.models import HttpSettings
from supervisor.control.controller import SupervisorController
from supervisor.http.app import Access, create_app
from supervisor.http.metrics import build_registry
from supervisor.http.sse import Streams
from supervisor.loggers import get_logger

GRACE = 1.0
"""Seconds hypercorn gives requests in progress to end when the endpoint stops."""


class TokenFileError(Exception):
    """The token file cannot be read, or is empty."""


def read_token(path: str | None, *, base: str | Path | None = None) -> bytes | None:
    """The bearer token in ``path`` (surrounding whitespace removed), or ``None``.

    A relative path is taken from ``base`` (the service file's directory).
    """
    if path is None:
        return None
    where = Path(path).expanduser()
    if base is not None and not where.is_absolute():
        where = Path(base) / where
    try:
        token = where.read_bytes().strip()
    except OSError as exc:
        raise TokenFileError(
            f"supervisor.http.token_file: cannot read {where}: {exc.strerror}"
        ) from None
    if not token:
        raise TokenFileError(f"supervisor.http.token_file: {where} is empty")
    return token


def bind(listen: str) -> socket.socket:
    """A listening TCP socket on ``listen`` (``OSError`` when the address cannot be used)."""
    host, port = parse_listen(listen)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(128)
        sock.set_inheritable(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _Log:
    """Hypercorn's logger, routed to structlog: errors only, no access log."""

    def __init__(self, config: Any) -> None:
        self._log = get_logger("supervisor.http")
        self.access_logger = None
        self.error_logger = None

    async def access(self, *_: Any, **__: Any) -> None:
        return None

    async def critical(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._log.error(message % args if args else message)

    async def error(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._log.error(message % args if args else message, exc_info=kwargs.get("exc_info"))

    async def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._log.error(message % args if args else message, exc_info=True)

    async def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._log.warning(message % args if args else message)

    async def info(self, message: str, *args: Any, **kwargs: Any) -> None:
        return None  # "Running on ..." : the endpoint says where it listens itself

    async def debug(self, message: str, *args: Any, **kwargs: Any) -> None:
        return None

    async def log(self, level: int, message: str, *args: Any, **kwargs: Any) -> None:
        if level >= logging.WARNING:
            self._log.warning(message % args if args else message)


class HttpEndpoint:
    """The HTTP endpoint of one supervisor (see docs/observability.md).

    ``await tg.start(endpoint.serve)`` binds, starts recording start times from the event
    stream, and serves until cancelled; ``address`` is then the bound ``(host, port)``.
    Bind before the supervisor starts its services to see every start in the histogram.
    """

    def __init__(
        self,
        controller: SupervisorController,
        settings: HttpSettings,
        *,
        token: bytes | None = None,
        logger: Any = None,
    ) -> None:
        self.controller = controller
        self.settings = settings
        self.registry, self.start_times = build_registry(controller.status)
        self.streams = Streams()
        self.app = create_app(
            controller, self.registry, Access(token, loopback=settings.loopback), self.streams
        )
        self.address: tuple[str, int] | None = None
        self.log = logger if logger is not None else get_logger("supervisor")

    @classmethod
    def for_supervisor(
        cls, sup: Any, listen: str = "127.0.0.1:9100", *, token: bytes | None = None
    ) -> HttpEndpoint:
        """An endpoint for a :class:`~supervisor.Supervisor` embedded in an application.

        Actions work as in the daemon (with ``token``); reloading is the daemon's business.
        A non-loopback ``listen`` needs a ``token`` (``ValueError`` otherwise).
        """

        async def no_reload() -> dict[str, Any]:
            raise RuntimeError("reload is done by `supervisor run`, not by an embedded supervisor")

        host, _ = parse_listen(listen)
        if token is None and not is_loopback(host):
            raise ValueError(f"a non-loopback address ({host}) needs a token")
        controller = SupervisorController(sup, reload=no_reload, shutdown=sup.shutdown)
        settings = HttpSettings.model_construct(listen=listen, token_file=None)
        return cls(controller, settings, token=token)

    @property
    def url(self) -> str:
        """``http://host:port`` of the bound socket."""
        if self.address is None:
            raise RuntimeError("the endpoint is not bound yet")
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    async def serve(self, *, task_status: TaskStatus[str] = TASK_STATUS_IGNORED) -> None:
        """Bind, then serve until cancelled; ``task_status.started(url)`` once bound."""
        from hypercorn.config import Config

        sock = bind(self.settings.listen)
        self.address = sock.getsockname()[:2]
        config = Config()
        config.bind = [f"fd://{sock.detach()}"]
        config.accesslog = None
        config.logger_class = _Log  # type: ignore[assignment]
        config.graceful_timeout = GRACE
        stop = Event()
        shield = CancelScope(shield=True)
        async with create_task_group() as tg:
            tg.start_soon(self._hypercorn, config, stop, shield)
            try:
                async with self.controller.events() as events:
                    tg.start_soon(self.start_times.follow, events)
                    self.log.info("http endpoint listening", url=self.url)
                    task_status.started(self.url)
                    await Event().wait()  # until cancelled
            finally:
                self.streams.close()
                stop.set()
                shield.deadline = current_time() + GRACE + 2.0

    async def _hypercorn(self, config: Any, stop: Event, shield: CancelScope) -> None:
        """Serve until ``stop`` is set, in ``shield``: hypercorn's asyncio worker breaks
        when cancelled from outside (hypercorn #184), so it is stopped through its own
        trigger once the open streams are ended, and cancelled only past a bound."""
        if _running_backend() == "trio":
            from hypercorn.trio import serve
        else:
            from hypercorn.asyncio import serve  # type: ignore[assignment]
        with shield:
            await serve(self.app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
