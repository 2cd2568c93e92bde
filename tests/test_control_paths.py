"""Where the control socket lives, for the daemon and for clients."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from supervisor.control.paths import SocketPathError, client_socket_path, daemon_socket_path


def test_daemon_path_precedence(tmp_path: Path) -> None:
    config = tmp_path / "web.yaml"
    runtime = tmp_path / "run"
    runtime.mkdir()
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    assert (
        daemon_socket_path(
            config, "ctl.sock", "/tmp/opt.sock", {**env, "SUPERVISOR_SOCKET": "/tmp/e.sock"}
        )
        == "/tmp/opt.sock"
    )
    assert (
        daemon_socket_path(config, "ctl.sock", None, {**env, "SUPERVISOR_SOCKET": "/tmp/e.sock"})
        == "/tmp/e.sock"
    )
    assert daemon_socket_path(config, "ctl.sock", None, env) == str(tmp_path / "ctl.sock")
    assert daemon_socket_path(config, None, None, env) == str(
        runtime / "structured-supervisor" / "web.sock"
    )


def test_daemon_path_falls_back_next_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert daemon_socket_path(tmp_path / "web.yaml", None, None, {}) == str(tmp_path / ".web.sock")


def test_root_uses_run_when_writable(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not os.access("/run", os.W_OK):
        pytest.skip("needs root and a writable /run")
    assert (
        daemon_socket_path(tmp_path / "web.yaml", None, None, {})
        == "/run/structured-supervisor/web.sock"
    )


def test_client_discovers_the_only_socket_or_asks(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    with pytest.raises(SocketPathError, match="no supervisor is listening in"):
        client_socket_path(None, None, None, env)
    directory = tmp_path / "structured-supervisor"
    directory.mkdir()
    (directory / "a.sock").touch()
    assert client_socket_path(None, None, None, env) == str(directory / "a.sock")
    (directory / "b.sock").touch()
    with pytest.raises(SocketPathError, match="several supervisors"):
        client_socket_path(None, None, None, env)
    assert client_socket_path(None, str(tmp_path / "b.yaml"), None, env) == str(
        directory / "b.sock"
    )
    assert client_socket_path("x.sock", None, None, env) == os.path.abspath("x.sock")


def test_too_long_a_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SocketPathError, match="too long for a Unix socket"):
        daemon_socket_path(tmp_path / "a.yaml", None, "/tmp/" + "x" * 200, {})


def test_too_long_counts_bytes_and_names_the_limit(tmp_path: Path) -> None:
    with pytest.raises(SocketPathError, match=r"too long for a Unix socket \(125 > 107 bytes\)"):
        daemon_socket_path(tmp_path / "a.yaml", None, "/tmp/" + "é" * 60, {})
    assert daemon_socket_path(tmp_path / "a.yaml", None, "/tmp/" + "é" * 51, {})  # 107 bytes


def test_a_nul_in_the_configured_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SocketPathError, match="contains a NUL character"):
        daemon_socket_path(tmp_path / "a.yaml", "ctl\0.sock", None, {})
