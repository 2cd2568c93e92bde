"""``supervisor run FILE [FILE ...]``: its command-line options.

The daemon itself is in ``daemon.py``, imported only when ``run`` is chosen.
"""

from __future__ import annotations

import argparse

from supervisor.cli.config_commands import add_file_arguments
from supervisor.control.paths import SOCKET_ENV
from supervisor.logging import FORMATS, LEVELS

BACKENDS = ("asyncio", "trio")
"""Event loops ``supervisor run`` can use (``--backend``)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` to the CLI."""
    run = subparsers.add_parser(
        "run",
        help="run the services of a file in the foreground",
        description="Start the services of FILE (several files are merged in order), keep "
        "them running, stop them on SIGTERM/SIGINT, reload every file on SIGHUP.",
    )
    add_file_arguments(run)
    run.add_argument(
        "--log-format",
        choices=FORMATS,
        default=None,
        help="console (colored in a terminal), json (one object per line), or auto: "
        "console when stderr is a terminal, json otherwise (default: the file's "
        "supervisor.log_format, else auto)",
    )
    run.add_argument(
        "--log-level", choices=tuple(LEVELS), default=None, help="default: the file's, else info"
    )
    run.add_argument(
        "--socket",
        metavar="PATH",
        default=None,
        help=f"control socket path (default: ${SOCKET_ENV}, supervisor.control_socket, "
        "$XDG_RUNTIME_DIR/structured-supervisor/NAME.sock, /run/... as root, "
        "else .NAME.sock next to FILE)",
    )
    run.add_argument(
        "--init",
        action="store_true",
        help="do PID 1 duties (reap orphaned zombies, forward SIGUSR1/SIGUSR2) even when not PID 1",
    )
    run.add_argument(
        "--keep-running",
        action="store_true",
        help="stay up (with the control socket) when every service has ended by itself; "
        "by default the daemon then exits: 0 if all completed, 1 if any failed",
    )
    run.add_argument(
        "--http",
        metavar="ADDR",
        default=None,
        help="serve the HTTP endpoint (metrics, health, status, events) on ADDR, e.g. "
        "127.0.0.1:9100 or :9100 (loopback); overrides supervisor.http.listen; a "
        "non-loopback address needs supervisor.http.token_file",
    )
    run.add_argument("--backend", choices=BACKENDS, default="asyncio", help="event loop")
    run.set_defaults(handler=run_daemon)


def run_daemon(args: argparse.Namespace) -> int:
    """Run the daemon until it is stopped; return the exit code."""
    # Imported here: other commands (`supervisor status` in a health check) stay light.
    from supervisor.logging import import_structlog_without_rich

    import_structlog_without_rich()
    from supervisor.cli.daemon_start import run_daemon as run

    return run(args)
