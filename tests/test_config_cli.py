"""``supervisor check``, ``graph`` and ``schema``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

from supervisor.cli import EXIT_CONFIG_ERROR, EXIT_OK, main
from supervisor.config import json_schema

ROOT = Path(__file__).resolve().parent.parent

GOOD = dedent(
    """\
    services:
      db:
        command: [sleep, "60"]
      migrate:
        command: [true]
        oneshot: true
        depends_on: [db]
      api:
        run: supervisor.examples:heartbeat
        depends_on: {db: ready, migrate: completed}
      worker:
        command: sleep 60
        depends_on: {api: started}
    """
)

BAD = dedent(
    """\
    services:
      db:
        command: [sleep, "60"]
        restart: {max_restarts: many}
      api:
        run: supervisor.examples:heartbeat
        depends_on: [dbb]
    """
)


@pytest.fixture
def good(tmp_path: Path) -> str:
    path = tmp_path / "services.yaml"
    path.write_text(GOOD)
    return str(path)


@pytest.fixture
def bad(tmp_path: Path) -> str:
    path = tmp_path / "broken.yaml"
    path.write_text(BAD)
    return str(path)


def test_check_a_valid_file(good: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", good]) == EXIT_OK
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{good}: OK, 4 services (3 processes, 1 in-process, 1 one-shot) in 4 layers",
        "  layer 0: db",
        "  layer 1: migrate",
        "  layer 2: api",
        "  layer 3: worker",
    ]
    assert err == ""


def test_check_an_invalid_file_prints_every_error(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", bad]) == EXIT_CONFIG_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{bad}:4:29: services.db.restart.max_restarts: expected an integer >= 0, got 'many'",
        f"{bad}:7:18: services.api.depends_on: unknown service 'dbb' (did you mean 'db'?)",
        f"{bad}: 2 errors",
    ]


def test_check_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.yaml")
    assert main(["check", missing]) == EXIT_CONFIG_ERROR
    assert capsys.readouterr().err.splitlines() == [
        f"{missing}:1:1: cannot read the file: No such file or directory",
        f"{missing}: 1 error",
    ]


def test_graph_text(good: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", good]) == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [
        "layer 0:",
        "  db [process]",
        "layer 1:",
        "  migrate [one-shot] <- db (ready)",
        "layer 2:",
        "  api [run] <- db (ready), migrate (completed)",
        "layer 3:",
        "  worker [process] <- api (started)",
    ]


def test_graph_dot(good: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", good, "--format", "dot"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("digraph services {\n") and out.endswith("}\n")
    assert '  "migrate" [shape=box, style=dashed];' in out
    assert '  "api" [shape=ellipse];' in out
    assert '  "api" -> "migrate" [label="completed"];' in out
    assert '  "worker" -> "api" [label="started"];' in out


def test_graph_mermaid(good: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", good, "--format", "mermaid"]) == EXIT_OK
    assert capsys.readouterr().out.splitlines() == [
        "graph BT",
        '  s0["db"]',
        '  s1(["migrate"])',
        '  s2("api")',
        '  s3["worker"]',
        "  s1 -->|ready| s0",
        "  s2 -->|ready| s0",
        "  s2 -->|completed| s1",
        "  s3 -->|started| s2",
    ]


def test_graph_of_an_invalid_file(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", bad]) == EXIT_CONFIG_ERROR
    assert "unknown service 'dbb'" in capsys.readouterr().err


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == EXIT_OK
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["services"]
    service = schema["$defs"]["ServiceConfig"]
    assert service["additionalProperties"] is False
    assert {"command", "run", "depends_on", "ready", "restart"} <= set(service["properties"])
    # The shorthands are valid in editors too.
    kinds = [option.get("type") for option in service["properties"]["command"]["anyOf"]]
    assert kinds == ["string", "array", "null"]


def test_the_schema_file_in_docs_is_up_to_date() -> None:
    on_disk = json.loads((ROOT / "docs" / "services.schema.json").read_text())
    assert on_disk == json_schema(), "regenerate: supervisor schema > docs/services.schema.json"


def test_check_through_a_real_process(good: str, bad: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run(
        [sys.executable, "-m", "supervisor", "check", good],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"{good}: OK, 4 services")
    failed = subprocess.run(
        [sys.executable, "-m", "supervisor", "check", bad],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert "Traceback" not in failed.stderr
    assert failed.stderr.splitlines()[-1] == f"{bad}: 2 errors"


def test_the_bundled_example_checks(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(ROOT / "configs" / "example.yaml")
    assert main(["check", path]) == EXIT_OK
    out = capsys.readouterr().out
    assert "5 services (3 processes, 2 in-process, 1 one-shot) in 3 layers" in out
