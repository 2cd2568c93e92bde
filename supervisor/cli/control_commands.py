"""``supervisor status|start|stop|restart|scale|reload|shutdown|logs|reopen-logs|top``: clients.

Every command finds the control socket from ``--socket``, ``$SUPERVISOR_SOCKET`` or
``--config FILE`` (else the only socket of the default directory), sends one request and
prints the answer. Exit 0 on success, 1 when the daemon refused or is not running, 2
when ``--config`` names a bad file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from typing import Any

from supervisor.cli import EXIT_CONFIG_ERROR, EXIT_FAILURE, EXIT_OK
from supervisor.control.client import ControlClient, ControlError, NoDaemon
from supervisor.control.paths import SOCKET_ENV, SocketPathError, client_socket_path
from supervisor.control.protocol import counts_as_up

Handler = Callable[[argparse.Namespace, ControlClient], int]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the commands that drive a running daemon."""
    status = _add(subparsers, "status", "show the state of every service", _status)
    status.add_argument("names", nargs="*", metavar="NAME", help="only these services")
    status.add_argument("--json", action="store_true", help="print the raw status as JSON")
    status.add_argument(
        "--ready",
        action="store_true",
        help="print nothing; exit 0 only when every service is ready (health checks)",
    )
    for action, text in (
        ("start", "start services (and what they depend on)"),
        ("stop", "stop services (and what depends on them)"),
        ("restart", "restart services (and what depends on them)"),
    ):
        cmd = _add(subparsers, action, text, _action)
        cmd.add_argument(
            "names", nargs="+", metavar="NAME", help="a service, or a replicated one (all replicas)"
        )
        if action == "restart":
            cmd.add_argument(
                "--rolling",
                action="store_true",
                help="one replica at a time, each once the previous one is ready again",
            )
    scale = _add(subparsers, "scale", "run N replicas of a replicated service", _scale)
    scale.add_argument("name", metavar="NAME", help="a service with `replicas:`")
    scale.add_argument("replicas", type=int, metavar="N", help="how many replicas (>= 1)")
    _add(subparsers, "reload", "re-read the service file and apply what changed", _reload)
    shutdown = _add(subparsers, "shutdown", "stop every service and the daemon", _shutdown)
    shutdown.add_argument(
        "--no-wait", action="store_true", help="return at once instead of when it has exited"
    )
    logs = _add(subparsers, "logs", "print recent output lines of the services", _logs)
    logs.add_argument("name", nargs="?", metavar="NAME", help="only this service")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=None, help="at most this many old lines")
    logs.add_argument("--json", action="store_true", help="one JSON object per line")
    _add(
        subparsers,
        "reopen-logs",
        "reopen the services' log files (after logrotate moved them)",
        _reopen_logs,
    )
    _add(subparsers, "top", "a live full-screen view of the services (q quits)", _top)


def _add(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    text: str,
    handler: Handler,
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    where = parser.add_argument_group("which supervisor")
    where.add_argument(
        "--socket", metavar="PATH", default=None, help=f"control socket (default: ${SOCKET_ENV})"
    )
    where.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        action="append",
        default=None,
        help="the service file the daemon runs (repeat it for each of several files)",
    )
    where.add_argument(
        "--env-file",
        metavar="PATH",
        default=None,
        help="with --config: the dotenv file the daemon was started with (default: .env "
        "next to the first file, if any)",
    )
    where.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS", help="bound on the wait"
    )
    parser.set_defaults(handler=lambda args: _connect_and_run(args, handler))
    return parser


def _connect_and_run(args: argparse.Namespace, handler: Handler) -> int:
    configured = None
    if args.config:
        from supervisor.config import ConfigError, load_config  # only when a file is given

        try:
            config = load_config(args.config, env_file=args.env_file)
            configured = config.supervisor.control_socket
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return EXIT_CONFIG_ERROR
    try:
        path = client_socket_path(args.socket, args.config[0] if args.config else None, configured)
    except SocketPathError as exc:
        print(f"supervisor: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    client = ControlClient(path, timeout=args.timeout)
    try:
        return handler(args, client)
    except (NoDaemon, ControlError) as exc:
        if not getattr(args, "ready", False):
            print(f"supervisor: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the output was closed (| head)
        return EXIT_OK


# -- status ----------------------------------------------------------------------------


def _status(args: argparse.Namespace, client: ControlClient) -> int:
    answer = client.request("status")
    services: list[dict[str, Any]] = answer.get("services", [])
    if args.names:
        known = {s["name"] for s in services}
        unknown = [n for n in args.names if n not in known and not _replicas_of(n, known)]
        if unknown:
            raise ControlError(
                f"no service named {', '.join(repr(n) for n in unknown)} "
                f"(services: {', '.join(sorted(known)) or 'none'})"
            )
        wanted = set(args.names).union(*(_replicas_of(n, known) for n in args.names))
        services = [s for s in services if s["name"] in wanted]
    if args.ready:
        ready = all(counts_as_up(s) for s in services)
        running = answer.get("supervisor", {}).get("state") == "running"
        return EXIT_OK if ready and running else EXIT_FAILURE
    if args.json:
        print(json.dumps({**answer, "services": services}, indent=2))
        return EXIT_OK
    print(format_table(services))
    return EXIT_OK


def _replicas_of(name: str, known: set[str]) -> set[str]:
    """The names among ``known`` that are replicas of ``name`` (``web.0`` for ``web``)."""
    return {n for n in known if n.startswith(name + ".") and n[len(name) + 1 :].isdecimal()}


def format_table(services: list[dict[str, Any]]) -> str:
    """The status table: name, state, pid, uptime, restarts, CPU, memory, reason."""
    rows = [("NAME", "STATE", "PID", "UPTIME", "RESTARTS", "CPU", "MEM", "REASON")]
    for s in services:
        reason = reason_of(s)
        rows.append(
            (
                str(s["name"]),
                str(s["state"]),
                str(s["pid"]) if s.get("pid") else "-",
                format_duration(s["uptime"]) if s.get("uptime") is not None else "-",
                str(s.get("restarts", 0)),
                format_cpu(s.get("cpu_percent")),
                format_bytes(s.get("memory_bytes")),
                str(reason),
            )
        )
    last = len(rows[0]) - 1
    widths = [max(len(row[i]) for row in rows) for i in range(last)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:last], widths, strict=True))
        + "  "
        + row[last]
        for row in rows
    ).rstrip()


def format_cpu(value: Any) -> str:
    """``12.5%`` (``230.0%`` on several cores) from the status field ``cpu_percent``;
    ``-`` when absent or not a sensible number. At most six characters."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "-"
    if value < 0:
        return "-"
    if value >= 9999.5:
        return ">9999%"
    return f"{value:.1f}%" if value < 999.95 else f"{value:.0f}%"


def format_bytes(value: Any) -> str:
    """``812K``, ``23.4M``, ``1.2G`` (powers of 1024, like ``ps``) from the status field
    ``memory_bytes``; ``-`` when absent.

    Whole bytes and KiB below one MiB, one decimal above; at most six characters.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return "-"
    if value >= 999.95 * 1024**5:
        return ">999P"
    exponent = 0
    while exponent < 5 and value >= 1024 ** (exponent + 1):
        exponent += 1
    if exponent <= 1:
        return f"{value // 1024**exponent}{'BK'[exponent]}"
    scaled = value / 1024**exponent
    if scaled >= 999.95:  # it would read 1000.0: one of the next unit instead
        exponent, scaled = exponent + 1, scaled / 1024
    return f"{scaled:.1f}{'BKMGTP'[exponent]}"


def reason_of(service: dict[str, Any]) -> str:
    """The REASON column of a service: why it is in its state (and how its run ended)."""
    reason = str(service.get("reason") or service.get("status") or "")
    last_exit = str(service.get("last_exit") or "")
    ended = service.get("state") in ("stopped", "failed", "completed", "backoff")
    if ended and last_exit and last_exit not in reason:
        reason = f"{reason}: {last_exit}" if reason else last_exit
    return reason


def format_duration(seconds: float) -> str:
    """``0:00:05``, ``1:02:03``, ``2 days, 3:04:05``.

    A negative span (the wall clock stepped back since the transition) reads ``0:00:00``;
    a non-finite one ``?``: a status table never fails on a strange clock.
    """
    if not math.isfinite(seconds):
        return "?"
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days} day{'s' if days != 1 else ''}, {clock}" if days else clock


# -- start / stop / restart / reload / shutdown -----------------------------------------


def _action(args: argparse.Namespace, client: ControlClient) -> int:
    extra = {"rolling": True} if getattr(args, "rolling", False) else {}
    answer = client.request(args.command, names=args.names, **extra)
    _print_states(answer)
    return EXIT_OK


def _scale(args: argparse.Namespace, client: ControlClient) -> int:
    _print_states(client.request("scale", name=args.name, replicas=args.replicas))
    return EXIT_OK


def _print_states(answer: dict[str, Any]) -> None:
    for s in answer.get("services", []):
        detail = s.get("reason") or ""
        if not detail and s.get("state") in ("stopped", "failed", "completed"):
            detail = s.get("last_exit") or ""
        print(f"{s['name']}: {s['state']}" + (f" ({detail})" if detail else ""))


def _reload(args: argparse.Namespace, client: ControlClient) -> int:
    answer = client.request("reload")
    changes = answer.get("changes")
    if isinstance(changes, dict) and changes:
        parts = [
            f"{kind}: {', '.join(map(str, names))}"
            for kind, names in changes.items()
            if isinstance(names, list | tuple) and names
        ]
        print("reloaded" + ("; " + "; ".join(parts) if parts else ": nothing changed"))
    else:
        print("reloaded")
    return EXIT_OK


def _shutdown(args: argparse.Namespace, client: ControlClient) -> int:
    if args.no_wait:
        client.request("shutdown")
        print("shutting down")
        return EXIT_OK
    if client.wait_closed(args.timeout):
        print("stopped")
        return EXIT_OK
    print(f"supervisor: still stopping after {args.timeout:g}s", file=sys.stderr)
    return EXIT_FAILURE


def _reopen_logs(args: argparse.Namespace, client: ControlClient) -> int:
    answer = client.request("reopen-logs")
    files = answer.get("files") or []
    print(f"reopened {len(files)} log file{'s' if len(files) != 1 else ''}")
    return EXIT_OK


# -- logs ------------------------------------------------------------------------------


def _logs(args: argparse.Namespace, client: ControlClient) -> int:
    request: dict[str, Any] = {"service": args.name, "lines": args.lines}
    if not args.follow:
        answer = client.request("logs", **request)
        for line in answer.get("lines", []):
            _print_line(line, args.json)
        return EXIT_OK
    stream = client.stream("logs", follow=True, **request)
    first = next(stream)
    for line in first.get("lines", []):
        _print_line(line, args.json)
    sys.stdout.flush()
    for line in stream:
        _print_line(line, args.json)
        sys.stdout.flush()
    return EXIT_OK


def _print_line(line: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(line))
        return
    stamp = time.strftime("%H:%M:%S", time.localtime(float(line.get("time", 0))))
    print(f"{stamp} {line.get('service')} | {line.get('line')}")


# -- top -------------------------------------------------------------------------------


def _top(args: argparse.Namespace, client: ControlClient) -> int:
    # The view reads keys from stdin and draws on stderr (as Textual does): all three
    # must be the terminal, else the screen would land in a file or a pipe.
    streams = {"stdout": sys.stdout, "stdin": sys.stdin, "stderr": sys.stderr}
    not_terminal = [name for name, stream in streams.items() if not _isatty(stream)]
    if not_terminal:
        names = ", ".join(not_terminal[:-1]) + " and " if len(not_terminal) > 1 else ""
        print(
            f"supervisor top: {names}{not_terminal[-1]} "
            f"{'is' if len(not_terminal) == 1 else 'are'} not a terminal; for a snapshot "
            "use `supervisor status` (or `status --json`), to follow output use "
            "`supervisor logs -f`",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    first = client.request("status")  # no daemon: say so before loading the view
    try:
        from supervisor.cli import top  # Textual is imported by `top` only
    except ImportError as exc:
        print(
            f"supervisor top needs the optional 'tui' extra ({exc}): "
            "pip install 'structured-supervisor[tui]'",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return top.run(client, first)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
