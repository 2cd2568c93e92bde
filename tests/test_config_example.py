"""The bundled example runs: every service comes up, Ctrl-C stops them all, exit 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_example_runs_and_stops_cleanly(backend: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "EXAMPLE_PORT": str(port),
        "TMPDIR": str(tmp_path),
        "PYTHON": sys.executable,
        "PYTHONPATH": str(ROOT),
        "SUPERVISOR_SOCKET": str(tmp_path / "example.sock"),
    }
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "supervisor", "run", "--log-format", "json"),
            *("--backend", backend, str(ROOT / "configs" / "example.yaml")),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    events: list[dict[str, object]] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("{"):
                events.append(json.loads(line))
                if events[-1]["event"] == "supervisor ready":
                    break
        assert events and events[-1]["event"] == "supervisor ready", events
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    events += [json.loads(line) for line in rest.splitlines() if line.startswith("{")]
    states = {(e.get("service"), e["event"]) for e in events}
    assert ("site", "completed") in states
    for name in ("web", "ticker", "heartbeat", "client"):
        assert (name, "ready") in states and (name, "stopped") in states, name
    fetched = [e for e in events if e["event"] == "fetched"]
    assert fetched and fetched[0]["status"] == 200
    # Reverse order: the client stopped before the web server it depends on.
    order = [e["service"] for e in events if e["event"] == "stopped"]
    assert order.index("client") < order.index("web")
