"""``python -m supervisor`` runs the CLI."""

from supervisor.cli import console_main

console_main()
