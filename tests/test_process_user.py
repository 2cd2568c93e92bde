"""``user:`` and ``group:``: a process runs with the credentials and login variables given."""

from __future__ import annotations

import os
from typing import Any

import pytest

from supervisor.config import ConfigError, load_config_data
from supervisor.config.models import ServiceConfig
from supervisor.services import _child
from supervisor.services.context import ServiceContext
from supervisor.services.process import ProcessFailed, ProcessService

pytestmark = pytest.mark.anyio

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")
REPORT = 'echo "$(id -u)|$(id -g)|$(id -G)|$HOME|$USER|$LOGNAME"'


async def report(**fields: Any) -> list[str]:
    """Run ``REPORT`` as a one-shot with ``fields``; its output lines."""
    lines: list[str] = []
    ctx = ServiceContext("svc", on_output=lambda _stream, line: lines.append(line))
    config = ServiceConfig.model_validate({"command": ["sh", "-c", REPORT], **fields})
    await ProcessService("svc", config)(ctx)
    return lines


@as_root
async def test_user_sets_ids_groups_and_login_variables() -> None:
    assert await report(user="nobody") == ["65534|65534|65534|/nonexistent|nobody|nobody"]


@as_root
async def test_env_wins_over_login_variables_and_uid_works_like_a_name() -> None:
    lines = await report(user=65534, env={"HOME": "/tmp"})
    assert lines == ["65534|65534|65534|/tmp|nobody|nobody"]


@as_root
async def test_group_alone_and_uid_without_entry() -> None:
    assert (await report(group="nogroup"))[0].startswith("0|65534|")
    # A uid with no entry runs with exactly the given group (supplementary groups cleared).
    assert (await report(user=4242, group=4242))[0].split("|")[:3] == ["4242", "4242", "4242"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"user": "no-such-user-xyz"}, "no such user: 'no-such-user-xyz'"),
        ({"user": "nobody", "group": "no-such-group-xyz"}, "no such group: 'no-such-group-xyz'"),
        ({"user": 4242}, "uid 4242 has no user entry: set `group`"),
    ],
)
async def test_unusable_credentials_are_a_start_failure(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProcessFailed, match=message) as caught:
        await report(**fields)
    assert caught.value.ended == "did not start"


async def test_without_root_another_user_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_child.os, "geteuid", lambda: 1000)
    with pytest.raises(ProcessFailed, match="user 'nobody' needs a supervisor running as root"):
        await report(user="nobody")


def test_user_applies_to_processes_only() -> None:
    with pytest.raises(ConfigError, match="`user` and `group` apply to processes"):
        load_config_data({"services": {"api": {"run": "pkg.mod:serve", "user": "nobody"}}})
