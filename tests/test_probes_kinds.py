"""Each probe kind passing, failing and timing out, on 127.0.0.1 and real commands."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc
import pytest

from supervisor.concurrency import create_task_group, current_time, fail_after
from supervisor.config.models import HealthProbe, Probe
from supervisor.probes import (
    Checker,
    CommandChecker,
    FileChecker,
    HttpChecker,
    LogChecker,
    NotifyChecker,
    NotifySocket,
    ProbeFailed,
    TcpChecker,
    build_checker,
    parse_address,
    parse_message,
    watch_liveness,
)

pytestmark = pytest.mark.anyio

Handler = Callable[[anyio.abc.SocketStream], Awaitable[None]]


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[int]:
    """Serve TCP on 127.0.0.1 with ``handler``; yield the port."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with create_task_group() as tg:
        tg.start_soon(listener.serve, handler)
        yield port
        tg.cancel_scope.cancel()
    await listener.aclose()


def http_handler(status: int, *, hang: bool = False) -> Handler:
    """A handler answering every request with ``status`` (or never answering)."""

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await stream.receive()
            if hang:
                await anyio.sleep_forever()
            body = b"ok"
            head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            await stream.send(head + body)

    return handle


async def closing(stream: anyio.abc.SocketStream) -> None:
    await stream.aclose()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_parse_address() -> None:
    assert parse_address("127.0.0.1:80") == ("127.0.0.1", 80)
    assert parse_address("[::1]:8080") == ("::1", 8080)
    assert parse_address(":9000") == ("127.0.0.1", 9000)
    assert parse_address("9000") == ("127.0.0.1", 9000)
    with pytest.raises(ValueError, match="host:port"):
        parse_address("localhost:http")
    with pytest.raises(ValueError, match="from 1 to 65535"):
        parse_address("127.0.0.1:70000")


async def test_tcp_passes_and_fails() -> None:
    async with serve(closing) as port:
        checker = TcpChecker(f"127.0.0.1:{port}")
        assert await checker.attempt(1.0)
        assert checker.last_error is None
    refused = TcpChecker(f"127.0.0.1:{closed_port()}")
    assert not await refused.attempt(1.0)
    assert refused.last_error == "connection refused"


async def test_tcp_times_out_on_a_full_backlog() -> None:
    # A listener that never accepts, with its backlog filled: the kernel drops new SYNs.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            checker = TcpChecker(f"127.0.0.1:{port}")
            began = current_time()
            assert not await checker.attempt(0.2)
            assert checker.last_error == "timed out after 0.2s"
            assert current_time() - began < 1.0
        finally:
            for filler in fillers:
                filler.close()


async def test_http_expected_status_wrong_status_and_timeout() -> None:
    async with serve(http_handler(200)) as port:
        checker = HttpChecker(f"http://127.0.0.1:{port}/health")
        try:
            assert await checker.attempt(1.0)
        finally:
            await checker.aclose()
    async with serve(http_handler(500)) as port:
        checker = HttpChecker(f"http://127.0.0.1:{port}/", status=200)
        try:
            assert not await checker.attempt(1.0)
            assert checker.last_error == "status 500, expected 200"
        finally:
            await checker.aclose()
    async with serve(http_handler(200, hang=True)) as port:
        checker = HttpChecker(f"http://127.0.0.1:{port}/")
        try:
            assert not await checker.attempt(0.2)
            assert checker.last_error == "timed out after 0.2s"
        finally:
            await checker.aclose()
    refused = HttpChecker(f"http://127.0.0.1:{closed_port()}/")
    try:
        assert not await refused.attempt(1.0)
        assert refused.last_error is not None and refused.last_error.startswith("ConnectError")
    finally:
        await refused.aclose()


async def test_http_ignores_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{closed_port()}")
    async with serve(http_handler(200)) as port:
        checker = HttpChecker(f"http://127.0.0.1:{port}/")
        try:
            assert await checker.attempt(1.0)
        finally:
            await checker.aclose()


async def test_exec_passes_fails_and_times_out(tmp_path: Path) -> None:
    assert await CommandChecker(["true"]).attempt(1.0)
    failing = CommandChecker("sh -c 'echo not yet >&2; exit 2'")
    assert not await failing.attempt(1.0)
    assert failing.last_error == "exited 2: not yet"
    # Environment and working directory are the service's.
    env_check = CommandChecker(
        ["sh", "-c", 'test "$FLAG" = on && test -f marker'], env={"FLAG": "on"}, cwd=str(tmp_path)
    )
    assert not await env_check.attempt(1.0)
    (tmp_path / "marker").touch()
    assert await env_check.attempt(1.0)
    # A hanging command (and what it forked) is killed when the attempt times out;
    # the no-leftover fixture checks that nothing survives.
    hanging = CommandChecker(["sh", "-c", "sleep 1000 & sleep 1000"])
    began = current_time()
    assert not await hanging.attempt(0.2)
    assert hanging.last_error == "timed out after 0.2s"
    assert current_time() - began < 1.0
    missing = CommandChecker(["/nonexistent/check"])
    assert not await missing.attempt(1.0)
    assert missing.last_error is not None and "cannot run" in missing.last_error


async def test_file_passes_when_the_path_exists(tmp_path: Path) -> None:
    checker = FileChecker("ready.flag", cwd=str(tmp_path))
    assert not await checker.attempt(1.0)
    assert checker.last_error == f"{tmp_path / 'ready.flag'} does not exist"
    (tmp_path / "ready.flag").touch()
    assert await checker.attempt(1.0)


async def test_log_readiness_and_heartbeat() -> None:
    checker = LogChecker(r"listening on \d+")
    checker.feed("stdout", "starting")
    assert not await checker.attempt(1.0)
    async with create_task_group() as tg:

        async def wait() -> None:
            with fail_after(2):
                await checker.wait_ready(interval=10, per_attempt=1.0)

        tg.start_soon(wait)
        checker.feed("stderr", "listening on 8000")
    # As a liveness check: passes once per matching line since the last attempt.
    checker.feed("stdout", "listening on 8001")
    assert await checker.attempt(1.0)
    assert not await checker.attempt(1.0)
    assert checker.last_error == r"no output line matched /listening on \d+/"


async def test_log_wait_ready_times_out_under_a_deadline() -> None:
    checker = LogChecker("never")
    with pytest.raises(TimeoutError), fail_after(0.1):
        await checker.wait_ready(interval=0.01, per_attempt=1.0)


def test_parse_notify_message() -> None:
    assert parse_message(b"READY=1\nSTATUS=up and running\n\njunk\nMAINPID=42") == {
        "READY": "1",
        "STATUS": "up and running",
        "MAINPID": "42",
    }


def send(path: str, message: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message, path)


async def test_notify_socket_end_to_end() -> None:
    notify = await NotifySocket.open()
    statuses: list[str] = []
    pids: list[int] = []
    notify.on_status = statuses.append
    notify.on_main_pid = pids.append
    checker = NotifyChecker(notify)
    try:
        async with create_task_group() as tg:
            tg.start_soon(notify.serve)
            send(notify.path, b"STATUS=loading")
            send(notify.path, b"READY=1\nSTATUS=ready\nMAINPID=1234")
            with fail_after(2):
                await checker.wait_ready(interval=0.01, per_attempt=1.0)
            assert statuses == ["loading", "ready"] and pids == [1234]
            # Liveness: a WATCHDOG=1 since the last attempt.
            assert not await checker.attempt(1.0)
            send(notify.path, b"WATCHDOG=1")
            with fail_after(2):
                while notify.last_ping is None:
                    await anyio.sleep(0.005)
            assert await checker.attempt(1.0)
            tg.cancel_scope.cancel()
    finally:
        await notify.aclose()
    assert not Path(notify.directory).exists()


async def test_notify_watchdog_silence_and_trigger() -> None:
    notify = await NotifySocket.open()
    try:
        async with create_task_group() as tg:
            tg.start_soon(notify.serve)
            began = current_time()
            with fail_after(2):
                reason = await notify.watchdog(0.1)
            assert reason == "no WATCHDOG=1 within 0.1s"
            assert current_time() - began >= 0.1
            send(notify.path, b"WATCHDOG=trigger")
            with fail_after(2):
                reason = await notify.watchdog(10)
            assert reason == "watchdog triggered by the service (WATCHDOG=trigger)"
            tg.cancel_scope.cancel()
    finally:
        await notify.aclose()


async def test_notify_watchdog_stops_counting_after_stopping() -> None:
    notify = await NotifySocket.open()
    try:
        notify.apply({"STOPPING": "1"})
        with anyio.move_on_after(0.2) as scope:
            await notify.watchdog(0.05)
        assert scope.cancelled_caught
    finally:
        await notify.aclose()


class Scripted(Checker):
    """A checker whose attempts pass or fail from a script."""

    kind = "scripted"

    def __init__(self, results: list[bool]) -> None:
        super().__init__()
        self.results = results

    async def check(self) -> None:
        if not self.results.pop(0):
            raise ProbeFailed("nope")


async def test_liveness_counts_consecutive_failures_only() -> None:
    checker = Scripted([False, False, True, False, False, False, True])
    heard: list[int] = []
    probe = HealthProbe(exec=["x"], interval=0.001, failures=3)
    reason = await watch_liveness(checker, probe, on_failure=lambda n, _r: heard.append(n))
    assert reason == "health check failed 3 times in a row (scripted: nope)"
    assert heard == [1, 2, 1, 2, 3]


def test_build_checker_for_each_kind(tmp_path: Path) -> None:
    assert isinstance(build_checker(Probe(tcp="127.0.0.1:1")), TcpChecker)
    assert isinstance(build_checker(Probe(http="http://127.0.0.1:1/")), HttpChecker)
    assert isinstance(build_checker(Probe(exec="true")), CommandChecker)
    assert isinstance(build_checker(Probe(log="x")), LogChecker)
    assert isinstance(build_checker(Probe(file="f"), cwd=str(tmp_path)), FileChecker)
    with pytest.raises(ValueError, match="NotifySocket"):
        build_checker(Probe(notify=True))
