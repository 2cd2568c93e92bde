"""``env_file:`` and merged files on real processes, and the CLI with several files."""

from __future__ import annotations

import json
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from supervisor import ServiceState, Supervisor
from supervisor.config import load_config
from tests.daemon_helpers import Daemon, cli_inline, wait_for
from tests.runtime_helpers import wait_state

pytestmark = pytest.mark.anyio

# Writes the variables it is given to $OUT (at once: through a rename), one per line.
SHOW_CODE = (
    "import os; names = 'FROM_FILE OVERRIDDEN BOTH SHADOWED INHERITED'.split(); "
    "out = os.environ['OUT']; open(out + '.tmp', 'w').write(''.join("
    "f'{n}={os.environ.get(n, \"unset\")}\\n' for n in names)); os.replace(out + '.tmp', out)"
)
SHOW = [sys.executable, "-c", SHOW_CODE]
SHOW_AND_STAY = [sys.executable, "-c", SHOW_CODE + "; import time; time.sleep(100)"]


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def shown(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


async def test_env_file_precedence_in_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHADOWED", "from the supervisor")
    monkeypatch.setenv("INHERITED", "from the supervisor")
    write(tmp_path, "env/first.env", "FROM_FILE=first\nOVERRIDDEN=first\nBOTH=file\n")
    write(tmp_path, "env/second.env", "OVERRIDDEN='second'\nSHADOWED=\"from a file\"\n")
    out = tmp_path / "out"
    config = write(
        tmp_path,
        "services.yaml",
        f"""
        services:
          show:
            command: {json.dumps(SHOW)}
            oneshot: true
            env_file: [env/first.env, env/second.env]
            env: {{BOTH: from env, OUT: {json.dumps(str(out))}}}
        """,
    )
    async with Supervisor.from_file(config, env_file=False) as sup:
        await wait_state(sup, "show", ServiceState.COMPLETED)
    assert shown(out) == {
        "FROM_FILE": "first",
        "OVERRIDDEN": "second",  # a later file wins
        "BOTH": "from env",  # env: wins over the files
        "SHADOWED": "from a file",  # the files win over the supervisor's environment
        "INHERITED": "from the supervisor",
    }


async def test_a_reload_reads_the_env_files_again_and_restarts_what_changed(
    tmp_path: Path,
) -> None:
    write(tmp_path, "app.env", "FROM_FILE=one\n")
    out = tmp_path / "out"
    config = write(
        tmp_path,
        "services.yaml",
        f"""
        services:
          show:
            command: {json.dumps(SHOW_AND_STAY)}
            ready: {{file: {json.dumps(str(out))}}}
            env_file: app.env
            env: {{OUT: {json.dumps(str(out))}}}
          steady:
            command: [sleep, "100"]
        """,
    )
    async with Supervisor.from_file(config, env_file=False) as sup:
        assert shown(out)["FROM_FILE"] == "one"
        steady = sup.status()["steady"].pid
        write(tmp_path, "app.env", "FROM_FILE=two\n")
        out.unlink()
        plan = await sup.reload(load_config(config, env_file=False))  # returns once ready
        assert list(plan.changed) == ["show"]
        assert shown(out)["FROM_FILE"] == "two"
        assert sup.status()["steady"].pid == steady


BASE = """
services:
  db:
    command: [sleep, "100"]
  api:
    command: [sleep, "100"]
    depends_on: [db]
"""


def test_check_and_graph_take_several_files(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE)
    over = write(tmp_path, "over.yaml", "services:\n  cache: {command: [sleep, '1']}\n")
    result = cli_inline("check", str(base), str(over), "--no-import")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"{base} + {over}: OK, 3 services (3 processes, 0 in-process, 0 one-shot) in 2 layers"
    )
    # Files may come after options too, in the order given.
    result = cli_inline("check", str(base), "--no-import", str(over))
    assert result.stdout.splitlines()[0].startswith(f"{base} + {over}: OK, 3 services")
    with pytest.raises(SystemExit) as exit_info:
        cli_inline("check", str(base), "--bogus", str(over))
    assert exit_info.value.code == 2
    result = cli_inline("graph", str(base), str(over))
    assert result.stdout.splitlines() == [
        "layer 0:",
        "  db [process]",
        "  cache [process]",
        "layer 1:",
        "  api [process] <- db (ready)",
    ]


def test_check_reports_errors_of_every_file_and_the_env_file_option(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE.replace('"100"', '"${NAP}"'))
    over = write(tmp_path, "over.yaml", "services:\n  db: {restart: {max_restarts: x}}\n")
    result = cli_inline("check", str(base), str(over))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{base}:3:22: services.db.command[1]: environment variable ${{NAP}} is not set "
        "and has no default",
        f"{base}:5:22: services.api.command[1]: environment variable ${{NAP}} is not set "
        "and has no default",
        f"{over}:2:32: services.db.restart.max_restarts: expected an integer >= 0, got 'x'",
        f"{base} + {over}: 3 errors",
    ]
    env = write(tmp_path, "vars.env", "NAP=5\n")
    fixed = write(tmp_path, "fixed.yaml", "services:\n  db: {restart: {max_restarts: 1}}\n")
    result = cli_inline("check", str(base), str(fixed), "--env-file", str(env))
    assert result.returncode == 0, result.stderr


def test_run_merges_the_files_and_a_reload_reads_them_all_again(tmp_path: Path) -> None:
    override = write(tmp_path, "local.yaml", "services:\n  api: null\n")
    write(tmp_path, ".env", "NAP=100\n")
    base = BASE.replace('"100"', '"${NAP}"')
    with Daemon(tmp_path, base, files=[str(override)]) as daemon:
        services = daemon.wait_running()
        assert set(services) == {"db"}
        status = daemon.status()
        assert status is not None
        assert status["supervisor"]["files"] == [str(daemon.config), str(override)]
        write(tmp_path, "local.yaml", "services:\n  extra: {command: [sleep, '${NAP}']}\n")
        daemon.signal(signal.SIGHUP)
        daemon.wait_log(event="reloaded")
        assert {n: s["state"] for n, s in daemon.services().items()} == {
            "db": "ready",
            "api": "ready",
            "extra": "ready",
        }
        write(tmp_path, "local.yaml", "services:\n  extra: {command: [sleep, '${NOPE}']}\n")
        result = daemon.ctl("reload")
        assert result.returncode != 0
        assert f"{override}:2:28: services.extra.command[1]: environment variable" in (
            result.stderr + result.stdout
        )
        wait_for(lambda: "extra" in daemon.services(), what="the services to stay")


def test_clients_take_the_same_files_as_the_daemon(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE)
    local = write(tmp_path, "site/local.yaml", "supervisor: {control_socket: s.sock}\n")
    result = cli_inline("status", "-c", str(base), "-c", str(local))
    assert result.returncode == 1
    assert f"no supervisor is listening on {tmp_path}/site/s.sock" in result.stderr


def test_clients_take_the_env_file_the_daemon_was_started_with(tmp_path: Path) -> None:
    base = write(
        tmp_path,
        "base.yaml",
        "supervisor: {control_socket: s.sock}\nservices:\n  nap: {command: [sleep, '${NAP}']}\n",
    )
    custom = write(tmp_path, "custom.env", "NAP=20\n")
    without = cli_inline("status", "-c", str(base))
    assert without.returncode == 2 and "${NAP} is not set" in without.stderr
    result = cli_inline("status", "-c", str(base), "--env-file", str(custom))
    assert result.returncode == 1  # the file was read: it looked for the daemon
    assert f"no supervisor is listening on {tmp_path}/s.sock" in result.stderr
