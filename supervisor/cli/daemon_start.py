"""``supervisor run FILE`` from the command line to the daemon and back: load and check
the files, settle the HTTP endpoint's settings, lift the open-files limit, configure
logging, run the :class:`~supervisor.cli.daemon.Daemon`, and at exit give log
compressions still running a bounded time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import sys

import anyio
from pydantic import ValidationError

from supervisor.cli import EXIT_CONFIG_ERROR, settle_collector
from supervisor.cli.config_commands import files_label, load_or_report
from supervisor.cli.daemon import Daemon
from supervisor.config import ConfigError, ConfigFile
from supervisor.config.models import HttpSettings
from supervisor.control.paths import SocketPathError, daemon_socket_path
from supervisor.init import is_pid1
from supervisor.logging import configure
from supervisor.logs import finish_compressions

COMPRESSION_GRACE = 2.0
"""At exit, seconds that rotated log files still being gzipped get (then they stay
uncompressed)."""


def run_daemon(args: argparse.Namespace) -> int:
    """``supervisor run``: run the daemon until it is stopped; return the exit code."""
    config = load_or_report(args.files, env_file=args.env_file)
    if config is None:
        return EXIT_CONFIG_ERROR
    settings = config.supervisor
    try:
        path = daemon_socket_path(args.files[0], settings.control_socket, args.socket)
    except SocketPathError as exc:
        print(f"supervisor: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    http = http_settings(args, config)
    if isinstance(http, str):
        print(http, file=sys.stderr)
        return EXIT_CONFIG_ERROR
    daemon = Daemon(
        args.files,
        config,
        path,
        init=bool(args.init) or is_pid1(),
        env_file=args.env_file,
        keep_running=bool(getattr(args, "keep_running", False)),
        http=http,
    )
    try:
        daemon.build()
    except ConfigError as exc:  # e.g. a `run:` target that cannot be imported
        print(exc, file=sys.stderr)
        return EXIT_CONFIG_ERROR
    configure(
        args.log_format or settings.log_format,
        args.log_level or settings.log_level,
        names=config.services,
    )
    raise_open_files_limit()
    settle_collector()
    try:
        return anyio.run(daemon.run, backend=args.backend)
    except KeyboardInterrupt:  # before the signal handlers were installed
        return 128 + signal.SIGINT
    finally:
        given_up = finish_compressions(COMPRESSION_GRACE)
        if given_up:
            daemon.log.warning("log file compression given up at exit", files=given_up)


def http_settings(
    args: argparse.Namespace, config: ConfigFile
) -> tuple[HttpSettings, bytes | None] | str | None:
    """The HTTP endpoint's settings and token (``None``: off), or an error to print.

    ``--http ADDR`` replaces the file's ``listen`` and keeps its ``token_file``. Only here,
    with the endpoint on, are Starlette, hypercorn and prometheus_client imported.
    """
    settings = config.supervisor.http
    if getattr(args, "http", None):
        token_file = settings.token_file if settings is not None else None
        try:
            settings = HttpSettings(listen=args.http, token_file=token_file)
        except ValidationError as exc:
            why = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            return f"supervisor: --http {args.http}: {why}"
    if settings is None:
        return None
    try:
        from supervisor.http import TokenFileError, read_token
    except ImportError as exc:
        return (
            f"supervisor: the HTTP endpoint needs the `http` extra "
            f"(pip install 'structured-supervisor[http]'): {exc}"
        )
    try:
        token = read_token(
            settings.token_file, base=os.path.dirname(os.path.abspath(args.files[0]))
        )
    except TokenFileError as exc:
        return f"{files_label(args.files)}: {exc}"
    return settings, token


def raise_open_files_limit() -> None:
    """Lift the soft RLIMIT_NOFILE to the hard limit: each process service holds ~4 fds,
    so the usual soft limit of 1024 would run out at about 250 services."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, 1 << 16) if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
