"""Command-line entry point: ``supervisor <command>``.

Each group of commands lives in its own module and registers its subcommands on the
parser through a ``register(subparsers)`` function; a subcommand sets ``handler`` (a
function taking the parsed arguments and returning the exit code).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import NoReturn

from supervisor import __version__

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="supervisor", description="A supervised service manager on structured concurrency."
    )
    parser.add_argument("--version", action="version", version=f"supervisor {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _command_modules():
        register(subparsers)
    return parser


Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _command_modules() -> list[Register]:
    # Imported here so that `supervisor --version` does not import the runtime.
    from supervisor.cli import config_commands, control_commands, daemon_commands

    return [config_commands.register, daemon_commands.register, control_commands.register]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    # Loading the commands (and, for `run`, the config models and the runtime) creates
    # tens of thousands of objects that live as long as the process: the cyclic
    # collector would walk them over and over while they are made. It is off until the
    # command has parsed its arguments (`run` turns it back on once it has loaded its
    # config and the runtime, see daemon.py).
    collecting = gc.isenabled()
    gc.disable()
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        files = getattr(args, "files", None)
        if extra and isinstance(files, list) and not any(word.startswith("-") for word in extra):
            files.extend(extra)  # `run a.yaml --socket S b.yaml`: files after an option
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        handler = getattr(args, "handler", None)
        if collecting and getattr(args, "command", None) != "run":
            gc.enable()
        if handler is None:
            parser.print_help()
            return EXIT_OK
        return int(handler(args))
    finally:
        if collecting:
            gc.enable()


def settle_collector(enable: bool = True) -> None:
    """Move what exists now out of the cyclic collector's sight (it lives as long as the
    process) and turn the collector back on (when ``enable``)."""
    gc.freeze()
    if enable:
        gc.enable()


def console_main() -> NoReturn:
    """The ``supervisor`` console script (and ``python -m supervisor``): run the CLI and
    end the process with its exit code (see :func:`exit_now`)."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """End the process with ``code``, doing what the interpreter does at exit that anyone
    can observe, and skipping the rest.

    Non-daemon threads are waited for (a log file being gzipped), ``atexit`` handlers run
    and buffered output is flushed; then the process exits without tearing the
    interpreter down, which frees every object one by one: for a daemon that ran a few
    hundred services that took longer than stopping them (~0.2 s of a 0.3 s stop).
    """
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # a reader that went away (`| head`) loses what was left; the command's own
        # outcome stays the exit code (the daemon's, or `logs`' own handling of EPIPE)
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    console_main()
