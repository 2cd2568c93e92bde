"""Control socket faults: unusable paths, a socket already served, running out of fds."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from supervisor.concurrency import fail_after
from supervisor.control.paths import MAX_PATH, SocketPathError
from supervisor.control.server import (
    ACCEPT_RETRY,
    ControlServer,
    SocketInUse,
    bind_unix_socket,
)
from tests.control_helpers import FakeController, RecordingLogger, ask, serving, strict_json
from tests.daemon_helpers import Daemon, cli_inline, sleeper

NOBODY = 65534
CONFIG = f"""
services:
  solo:
    command: {sleeper()}
"""


def test_too_long_a_socket_path_names_the_limit_and_the_daemon_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "services.yaml"
    config.write_text(CONFIG)
    long_path = "/tmp/" + "é" * 60  # 65 characters, 125 bytes
    result = cli_inline("run", str(config), "--socket", long_path)
    assert result.returncode == 2
    assert f"too long for a Unix socket (125 > {MAX_PATH} bytes)" in result.stderr
    assert "--socket or supervisor.control_socket" in result.stderr
    with pytest.raises(SocketPathError, match=f"125 > {MAX_PATH} bytes"):
        bind_unix_socket(long_path)  # the library's ControlServer checks it too


@contextlib.contextmanager
def socket_directory_not_writable() -> Iterator[tuple[Path, list[str]]]:
    """A directory the daemon cannot create its socket in, and the command prefix that
    makes it so: the directory is read-only, and a root test runs the daemon as nobody
    (root writes anywhere)."""
    base = Path(tempfile.mkdtemp(prefix="ctl-"))
    try:
        base.chmod(0o755)
        readonly = base / "ro"
        readonly.mkdir(mode=0o555)
        readonly.chmod(0o555)
        prefix: list[str] = []
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("needs setpriv to drop root")
            prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        yield base, prefix
    finally:
        (base / "ro").chmod(0o755)
        shutil.rmtree(base)


def test_socket_directory_not_writable_is_a_clear_error(tmp_path: Path) -> None:
    with socket_directory_not_writable() as (base, prefix):
        daemon = Daemon(base, CONFIG, prefix=prefix)
        daemon.config.chmod(0o644)
        daemon.socket = str(base / "ro" / "services.sock")
        with daemon:
            assert daemon.wait() == 1
        [record] = daemon.find(event="cannot open the control socket")
        uid = NOBODY if prefix else os.geteuid()
        assert record["error"] == (
            f"cannot create the control socket {daemon.socket}: Permission denied "
            f"(its directory {base / 'ro'} must be writable by uid {uid}); "
            "choose another with --socket or supervisor.control_socket"
        )
        assert not daemon.find(event="process started")  # nothing was started
        assert "Traceback" not in daemon.text()


def test_socket_directory_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file, not a directory")
    daemon = Daemon(tmp_path, CONFIG)
    daemon.socket = str(tmp_path / "file" / "sub" / "services.sock")
    with daemon:
        assert daemon.wait() == 1
    [record] = daemon.find(event="cannot open the control socket")
    assert record["error"] == (
        f"cannot create the control socket's directory {tmp_path / 'file' / 'sub'}: Not a directory"
    )


@pytest.mark.anyio
async def test_a_second_server_on_a_live_socket_refuses_and_the_first_is_unaffected(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "c.sock")
    with fail_after(10):
        async with serving(path, FakeController()):
            inode = os.stat(path).st_ino
            refused = f"another supervisor is already listening on {path}"
            with pytest.raises(SocketInUse, match=refused):
                await ControlServer(path, FakeController()).serve()
            assert os.stat(path).st_ino == inode  # the loser did not remove the socket
            [answer] = await ask(path, b'{"cmd":"status"}\n')
            assert answer["ok"] is True


def test_two_daemons_binding_at_the_same_instant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second looked before the first bound (no file yet), then binds: refused."""
    path = str(tmp_path / "c.sock")
    first = bind_unix_socket(path)
    try:
        monkeypatch.setattr(os.path, "lexists", lambda _path: False)
        with pytest.raises(SocketInUse, match="already listening"):
            bind_unix_socket(path)
        monkeypatch.undo()
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with probe:
            probe.connect(path)  # the first still listens
    finally:
        first.close()


@pytest.mark.anyio
async def test_running_out_of_file_descriptors_delays_a_client_not_the_daemon(
    tmp_path: Path,
) -> None:
    """accept() failing with EMFILE used to end serve() (and the daemon with it)."""
    path, log = str(tmp_path / "c.sock"), RecordingLogger()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hog: list[int] = []
    with fail_after(10):
        async with serving(path, FakeController(), log):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
                resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 8, hard))
                try:
                    with contextlib.suppress(OSError):
                        while True:
                            hog.append(os.open(os.devnull, os.O_RDONLY))
                    client.connect(path)  # waits in the backlog: the server has no fd
                    while not any(r[0] == "warning" for r in log.records):
                        await anyio.sleep(0.01)
                    await anyio.sleep(3 * ACCEPT_RETRY)  # it retries, without logging again
                finally:
                    for fd in hog:
                        os.close(fd)
                    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
                client.sendall(b'{"cmd":"status"}\n')
                answer = await anyio.to_thread.run_sync(client.recv, 65536)
            finally:
                client.close()
    assert answer.startswith(b'{"ok":true')
    [warning] = [r for r in log.records if r[0] == "warning"]
    assert warning[1] == "control socket cannot accept now"
    assert os.strerror(errno.EMFILE) in warning[2]["error"]
    assert log.errors() == []


def test_hostile_requests_leave_a_real_daemon_and_its_services_running(tmp_path: Path) -> None:
    """One line of 100k '[' used to raise RecursionError out of the server: exit 1, every
    service stopped. Each line now gets its answer from the real controller."""
    hostile = [
        b"[" * 100_000,
        b'{"cmd":"status","id":NaN}',
        b'{"cmd":"stop","names":["nope"],"id":1}',
        b'{"cmd":"stop","names":[["solo"]],"id":2}',
        b'{"cmd":"logs","service":"solo","lines":' + b"9" * 4000 + b',"id":3}',
        b'{"cmd":"logs","service":"nope","follow":true,"id":4}',
        b"\xff" * 1000,
    ]
    with Daemon(tmp_path, CONFIG) as daemon:
        before = daemon.wait_running()["solo"]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(daemon.socket)
            sock.sendall(b"\n".join(hostile) + b"\n")
            sock.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        answers = [strict_json(line) for line in received.splitlines()]
        assert len(answers) == len(hostile)
        assert [a["ok"] for a in answers] == [False] * 7
        assert [a.get("id") for a in answers] == [None, None, 1, 2, 3, 4, None]
        assert "no service named 'nope'" in answers[2]["error"]
        assert '"lines" must be at most 100000' in answers[4]["error"]  # a bounded read
        assert "no service named 'nope'" in answers[5]["error"]
        after = daemon.services()["solo"]
        assert after["state"] == "ready" and after["pid"] == before["pid"]
        assert not [r for r in daemon.logs() if r.get("level") == "error"]
    assert "Traceback" not in daemon.text()
