"""docs/control.md documents every command the server understands."""

from __future__ import annotations

from pathlib import Path

from supervisor.control.protocol import COMMANDS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_command_is_in_the_protocol_table() -> None:
    text = (DOCS / "control.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("| `")]
    documented = {line.split("`")[1] for line in table} - {"cmd"}
    assert documented == set(COMMANDS)


def test_every_page_mentions_the_health_check_and_notify() -> None:
    assert "READY=1" in (DOCS / "systemd.md").read_text()
    assert "Type=notify" in (DOCS / "systemd.md").read_text()
    container = (DOCS / "container.md").read_text()
    assert '["supervisor", "status", "--ready"]' in container
    assert "PR_SET_CHILD_SUBREAPER" in container
