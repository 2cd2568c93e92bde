"""Where the control socket lives.

The daemon binds, in order of precedence:

1. the ``--socket`` option;
2. the ``SUPERVISOR_SOCKET`` environment variable;
3. ``supervisor.control_socket`` in the service file (relative to the file's directory);
4. ``$XDG_RUNTIME_DIR/structured-supervisor/<name>.sock``, where ``<name>`` is the file's
   name without its extension;
5. as root, ``/run/structured-supervisor/<name>.sock`` when ``/run`` is writable;
6. otherwise ``.<name>.sock`` next to the service file.

Clients (``supervisor status`` ...) follow the same rules given ``--socket``, the
environment variable or ``--config FILE``; with none of them, they use the only socket of
the default directory (4 or 5).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

SOCKET_ENV = "SUPERVISOR_SOCKET"
"""Environment variable naming the control socket (daemon and clients)."""

DIRECTORY_NAME = "structured-supervisor"
"""Name of the directory made for sockets under ``$XDG_RUNTIME_DIR`` or ``/run``."""

MAX_PATH = 107
"""Longest path a Unix socket address can hold on Linux (bytes)."""


class SocketPathError(OSError):
    """No usable control socket path (too long, or a directory that cannot hold it)."""


def default_directory(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$XDG_RUNTIME_DIR/structured-supervisor``, or as root ``/run/...``, or ``None``."""
    env = os.environ if environ is None else environ
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / DIRECTORY_NAME
    if os.geteuid() == 0 and os.path.isdir("/run") and os.access("/run", os.W_OK):
        return Path("/run") / DIRECTORY_NAME
    return None


def daemon_socket_path(
    config_path: str | os.PathLike[str],
    configured: str | None = None,
    option: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The path the daemon for ``config_path`` binds (see the module docstring)."""
    env = os.environ if environ is None else environ
    config = Path(config_path).resolve()
    if option:
        return check_socket_path(os.path.abspath(option))
    if env.get(SOCKET_ENV):
        return check_socket_path(os.path.abspath(env[SOCKET_ENV]))
    if configured:
        return check_socket_path(str(config.parent / os.path.expanduser(configured)))
    directory = default_directory(env)
    if directory is not None:
        return check_socket_path(str(directory / f"{config.stem}.sock"))
    return check_socket_path(str(config.parent / f".{config.stem}.sock"))


def client_socket_path(
    option: str | None = None,
    config_path: str | None = None,
    configured: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The socket a client talks to: ``--socket``, ``$SUPERVISOR_SOCKET``, ``--config``,
    or the only socket in the default directory."""
    env = os.environ if environ is None else environ
    if option or env.get(SOCKET_ENV) or config_path:
        if config_path is None:
            return check_socket_path(os.path.abspath(option or env[SOCKET_ENV]))
        return daemon_socket_path(config_path, configured, option, env)
    directory = default_directory(env)
    if directory is None:
        raise SocketPathError(
            "cannot tell which supervisor to talk to: give --socket PATH or --config FILE "
            f"(or set {SOCKET_ENV})"
        )
    found = sorted(str(p) for p in directory.glob("*.sock")) if directory.is_dir() else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise SocketPathError(
            f"no supervisor is listening in {directory}: is `supervisor run` running? "
            "(or give --socket PATH or --config FILE)"
        )
    raise SocketPathError(
        f"several supervisors listen in {directory} ({', '.join(found)}): "
        "choose one with --socket PATH or --config FILE"
    )


def check_socket_path(path: str) -> str:
    """``path``, or :class:`SocketPathError` when it is too long for a Unix socket address."""
    if "\0" in path:
        raise SocketPathError(f"control socket path contains a NUL character: {path!r}")
    size = len(os.fsencode(path))
    if size > MAX_PATH:
        raise SocketPathError(
            f"control socket path too long for a Unix socket ({size} > {MAX_PATH} bytes): "
            f"{path}; choose a shorter one with --socket or supervisor.control_socket"
        )
    return path
