"""The Dockerfile's key directives (no Docker engine here: the image is not built)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def directives() -> dict[str, list[str]]:
    """``{INSTRUCTION: [arguments, ...]}`` with continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            found.setdefault(instruction.upper(), []).append(rest.strip())
    return found


def test_entrypoint_cmd_user_stopsignal_and_healthcheck() -> None:
    d = directives()
    assert re.fullmatch(r"python:3\.1[1-9]-slim", d["FROM"][0])
    assert json.loads(d["ENTRYPOINT"][-1]) == ["supervisor", "run"]
    assert json.loads(d["CMD"][-1]) == ["/etc/supervisor/services.yaml"]
    assert d["USER"][-1] not in ("root", "0")
    assert d["STOPSIGNAL"] == ["SIGTERM"]
    check = d["HEALTHCHECK"][-1]
    assert json.loads(check.split("CMD", 1)[1]) == ["supervisor", "status", "--ready"]
    # with the `http` extra, so that /healthz and /metrics can be turned on (docs/kubernetes.md)
    assert any('pip install ".[http]"' in run for run in d["RUN"])


def test_the_health_check_finds_the_socket_through_the_environment() -> None:
    env = " ".join(directives()["ENV"])
    socket = re.search(r"SUPERVISOR_SOCKET=(\S+)", env)
    assert socket is not None
    assert any(socket.group(1).rsplit("/", 1)[0] in run for run in directives()["RUN"])


def test_the_default_config_is_copied_in() -> None:
    copies = directives()["COPY"]
    assert any(c.endswith("/etc/supervisor/services.yaml") for c in copies)
    source = next(c.split()[0] for c in copies if c.endswith("/etc/supervisor/services.yaml"))
    assert (ROOT / source).is_file() or source == "configs/example.yaml"
