"""The README's quick start stays true: two commands, and CI runs the same test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_quick_start_is_exactly_two_commands() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert _quick_start_commands()[1] in ci_lines


def test_quick_start_runs_a_bundled_config_that_validates() -> None:
    from supervisor.config import load_config

    command = _quick_start_commands()[0]
    match = re.search(r"supervisor run (\S+)", command)
    assert match, command
    config = load_config(ROOT / match.group(1))
    kinds = {service.is_process for service in config.services.values()}
    assert kinds == {True, False}  # processes and in-process services
    assert any(service.oneshot for service in config.services.values())
    assert any(service.ready is not None for service in config.services.values())


def test_docs_linked_from_the_readme_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for link in re.findall(r"\]\((docs/[^)]+)\)", readme):
        assert (ROOT / link).is_file(), link
