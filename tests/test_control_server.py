"""The control socket server and client, with a fake controller (asyncio and trio)."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import anyio
import pytest

from supervisor.concurrency import fail_after
from supervisor.control.client import ControlClient, ControlError, NoDaemon
from supervisor.control.server import SocketInUse, bind_unix_socket
from tests.control_helpers import FakeController, ask, serving

pytestmark = pytest.mark.anyio


async def test_requests_answers_and_errors_on_one_connection(tmp_path: Path) -> None:
    path, ctl = str(tmp_path / "c.sock"), FakeController()
    with fail_after(10):
        async with serving(path, ctl):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            answers = await ask(
                path,
                b'{"cmd": "status", "id": 7}\n',
                b"not json\n",
                b'{"cmd": "explode"}\n',
                b"[1, 2]\n",
                b'{"cmd": "restart", "names": ["db", "api"]}\n',
                b'{"cmd": "stop", "name": "nope"}\n',
                b'{"cmd": "start"}\n',
                b'{"cmd": "reload"}\n',
                b'{"cmd": "logs", "lines": 0}\n',
                b'{"cmd": "shutdown"}\n',
            )
        assert not os.path.exists(path)  # removed when the server stops
    status, bad, unknown, array, restart, missing, no_names, reload, logs, shutdown = answers
    assert status == {"ok": True, "id": 7, **ctl.status()}
    assert bad["ok"] is False and bad["error"].startswith("bad request: not JSON")
    assert unknown["error"].startswith("bad request: unknown command 'explode'")
    assert array["error"] == "bad request: expected a JSON object, got list"
    assert restart == {
        "ok": True,
        "services": [{"name": "db", "state": "ready"}, {"name": "api", "state": "ready"}],
    }
    assert missing == {"ok": False, "error": "no service named 'nope' (services: db)"}
    assert no_names["ok"] is False and "names" in no_names["error"]
    assert reload == {"ok": False, "error": "services.yaml has errors; nothing changed"}
    assert logs == {"ok": True, "lines": []}
    assert shutdown == {"ok": True}
    assert ctl.calls == [("restart", ["db", "api"]), ("stop", ["nope"]), ("shutdown", None)]


async def test_follow_streams_until_the_client_hangs_up(tmp_path: Path) -> None:
    path, ctl = str(tmp_path / "c.sock"), FakeController()
    with fail_after(10):
        async with serving(path, ctl):
            stream = await anyio.connect_unix(path)
            await stream.send(b'{"cmd": "logs", "follow": true}\n')
            await ctl.following.wait()
            await ctl.send.send({"service": "db", "line": "new"})
            received = b""
            while received.count(b"\n") < 2:
                received += await stream.receive()
            first, second = (json.loads(x) for x in received.splitlines())
            assert first == {"ok": True, "lines": [{"service": "db", "line": "old"}]}
            assert second == {"service": "db", "line": "new"}
            await stream.aclose()
            await ctl.unfollowed.wait()  # the server noticed and let go of the feed


async def test_blocking_client_and_no_daemon_message(tmp_path: Path) -> None:
    path, ctl = str(tmp_path / "c.sock"), FakeController()
    with fail_after(10):
        async with serving(path, ctl):
            client = ControlClient(path, timeout=5)
            answer = await anyio.to_thread.run_sync(lambda: client.request("status"))
            assert answer["services"] == [{"name": "db", "state": "ready"}]
            with pytest.raises(ControlError, match="nothing changed"):
                await anyio.to_thread.run_sync(lambda: client.request("reload"))
    with pytest.raises(NoDaemon) as caught:
        ControlClient(path).request("status")
    assert str(caught.value) == (
        f"no supervisor is listening on {path}: is `supervisor run` running?"
    )


def test_bind_replaces_a_stale_socket_and_refuses_a_live_one(tmp_path: Path) -> None:
    path = str(tmp_path / "sub" / "c.sock")
    first = bind_unix_socket(path)  # creates the missing directory, 0700
    assert stat.S_IMODE(os.stat(tmp_path / "sub").st_mode) == 0o700
    try:
        with pytest.raises(SocketInUse, match="already listening"):
            bind_unix_socket(path)
    finally:
        first.close()
    # Closed without unlinking (as if killed): stale, replaced.
    second = bind_unix_socket(path)
    second.close()
    os.unlink(path)
    Path(path).write_text("not a socket")
    with pytest.raises(SocketInUse, match="is not a socket"):
        bind_unix_socket(path)


def test_socket_is_never_world_accessible_even_with_a_lax_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        sock = bind_unix_socket(str(tmp_path / "c.sock"))
    finally:
        os.umask(old)
    try:
        assert stat.S_IMODE(os.stat(tmp_path / "c.sock").st_mode) == 0o600
        assert sock.family == socket.AF_UNIX
    finally:
        sock.close()
