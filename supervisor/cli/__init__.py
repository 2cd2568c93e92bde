"""Command-line entry point: ``supervisor <command>``.

Each group of commands lives in its own module and registers its subcommands on the
parser through a ``register(subparsers)`` function; a subcommand sets ``handler`` (a
function taking the parsed arguments and returning the exit code).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

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
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    files = getattr(args, "files", None)
    if extra and isinstance(files, list) and not any(word.startswith("-") for word in extra):
        files.extend(extra)  # `run a.yaml --socket S b.yaml`: files after an option
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_OK
    return int(handler(args))


if __name__ == "__main__":
    sys.exit(main())
