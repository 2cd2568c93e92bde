"""Commands run every few seconds (health checks) load no more than they need."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import supervisor

HEAVY = ("pydantic", "anyio", "structlog", "yaml", "trio", "supervisor.runtime")

PROBE = f"""
import json, sys
from supervisor.cli import main
code = main(sys.argv[1:])
print(json.dumps({{"code": code, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def run_probe(*argv: str) -> dict[str, object]:
    """Run the CLI in a fresh interpreter; its exit code and which heavy modules it loaded."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=30
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("ready", [False, True])
def test_status_loads_neither_the_runtime_nor_pydantic(tmp_path: Path, ready: bool) -> None:
    argv = ["status", "--socket", str(tmp_path / "none.sock")] + (["--ready"] if ready else [])
    result = run_probe(*argv)
    assert result == {"code": 1, "loaded": []}  # no daemon: exit 1, and nothing heavy


def test_public_names_still_import_on_first_use() -> None:
    assert supervisor.Supervisor.__name__ == "Supervisor"
    assert "ServiceContext" in dir(supervisor)
    assert set(supervisor.__all__) <= set(dir(supervisor))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        supervisor.Nope  # noqa: B018
