"""Command-line entry point: ``supervisor <command>``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from supervisor import __version__


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="supervisor", description="A supervised service manager on structured concurrency."
    )
    parser.add_argument("--version", action="version", version=f"supervisor {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
