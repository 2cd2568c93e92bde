"""``supervisor.http`` and ``--http``: addresses, the token rule, and a daemon serving it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from textwrap import dedent

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from supervisor.config import ConfigError, load_config_text
from supervisor.config.listen import is_loopback, parse_listen
from supervisor.config.models import HttpSettings
from tests.daemon_helpers import Daemon, cli_inline, sleeper

SERVICES = f"""
services:
  web:
    command: {sleeper("web up")}
    ready: {{log: "web up"}}
    stop: {{timeout: 2s}}
"""


def load(http: str) -> HttpSettings:
    text = f"supervisor:\n  http: {http}\nservices:\n  a: {{command: [sleep, '1']}}\n"
    settings = load_config_text(text, "s.yaml").supervisor.http
    assert settings is not None
    return settings


@pytest.mark.parametrize(
    ("written", "listen", "host", "port"),
    [
        ('{listen: "127.0.0.1:9100"}', "127.0.0.1:9100", "127.0.0.1", 9100),
        ('":9100"', ":9100", "127.0.0.1", 9100),  # no host: loopback, not every interface
        ("9100", "9100", "127.0.0.1", 9100),
        ('"[::1]:9100"', "[::1]:9100", "::1", 9100),
        ('"localhost:0"', "localhost:0", "localhost", 0),
        ("{}", "127.0.0.1:9100", "127.0.0.1", 9100),
    ],
)
def test_loopback_addresses_need_no_token(written: str, listen: str, host: str, port: int) -> None:
    settings = load(written)
    assert settings.listen == listen and settings.loopback
    assert parse_listen(listen) == (host, port) and is_loopback(host)


def test_a_non_loopback_address_without_a_token_is_an_error_at_its_line() -> None:
    text = dedent(
        """\
        supervisor:
          http:
            listen: "0.0.0.0:9100"
        services:
          a: {command: [sleep, '1']}
        """
    )
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "s.yaml")
    assert str(info.value) == (
        "s.yaml:3:13: supervisor.http.listen: a non-loopback address (0.0.0.0) needs "
        "`token_file` (a bearer token), or listen on 127.0.0.1, got '0.0.0.0:9100'"
    )
    with_token = text.replace('listen: "0.0.0.0:9100"', 'listen: "0.0.0.0:9100"\n    token_file: t')
    public = load_config_text(with_token, "s.yaml").supervisor.http
    assert public is not None and not public.loopback and public.token_file == "t"


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ('"127.0.0.1:99999"', "port from 0 to 65535"),
        ('"::1:9100"', "IPv6 address in brackets"),
        ('{listen: ":9100", token: x}', "token"),
    ],
)
def test_bad_http_settings_are_reported(written: str, words: str) -> None:
    with pytest.raises(ConfigError, match=r"s\.yaml:2:\d+: supervisor\.http") as info:
        load(written)
    assert words in str(info.value)


def test_the_daemon_refuses_a_public_http_flag_without_a_token(tmp_path: Path) -> None:
    config = tmp_path / "services.yaml"
    config.write_text(SERVICES)
    result = cli_inline(
        "run", str(config), "--http", "0.0.0.0:9100", "--socket", str(tmp_path / "s")
    )
    assert result.returncode == 2
    assert "--http 0.0.0.0:9100: a non-loopback address (0.0.0.0) needs" in result.stderr
    missing = tmp_path / "missing.yaml"
    missing.write_text("supervisor:\n  http: {token_file: nope.txt}\n" + SERVICES)
    result = cli_inline("run", str(missing), "--socket", str(tmp_path / "s"))
    assert result.returncode == 2
    assert "supervisor.http.token_file: cannot read" in result.stderr


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_daemon_run_with_http_serves_curl_and_httpx(tmp_path: Path, backend: str) -> None:
    (tmp_path / "token.txt").write_text("daemon-token\n")  # relative to the file; stripped
    config = "supervisor:\n  http: {token_file: token.txt}\n" + SERVICES
    with Daemon(tmp_path, config, "--http", "127.0.0.1:0", "--backend", backend) as daemon:
        daemon.wait_running()
        status = json.loads(daemon.ctl("status", "--json").stdout)
        url = status["supervisor"]["http"]
        assert url.startswith("http://127.0.0.1:")
        web = status["services"][0]
        assert web["name"] == "web" and web["memory_bytes"] > 0
        assert isinstance(web["cpu_percent"], float)
        table = daemon.ctl("status").stdout.splitlines()
        assert table[0].split()[5:7] == ["CPU", "MEM"]
        assert table[1].split()[5].endswith("%") and table[1].split()[6][-1] in "KMG"

        with httpx.Client(base_url=url, timeout=10.0) as client:
            assert client.get("/healthz").json() == {"ok": True, "state": "running"}
            names = {f.name for f in text_string_to_metric_families(client.get("/metrics").text)}
            assert {"supervisor_service_up", "supervisor_service_start_seconds"} <= names
            assert client.post("/v1/services/web/restart").status_code == 401
            auth = {"Authorization": "Bearer daemon-token"}
            restarted = client.post("/v1/services/web/restart", headers=auth)
            assert restarted.json()["services"][0]["restarts"] == 1

        curl = shutil.which("curl")
        if curl is not None:
            out = subprocess.run(
                [curl, "-sS", "-w", "\\n%{http_code}", f"{url}/healthz"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            assert out.stdout.splitlines() == ['{"ok":true,"state":"running"}', "200"]
            posted = subprocess.run(
                [
                    *(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"),
                    *("-H", "Authorization: Bearer daemon-token", f"{url}/v1/services/web/stop"),
                ],
                capture_output=True,
                text=True,
                timeout=10,
            )
            assert posted.stdout == "200"
            daemon.wait_state("web", "stopped")

        # an event stream open when the daemon stops ends cleanly and does not hold it up
        received: list[str] = []
        errors: list[BaseException] = []
        opened = threading.Event()

        def follow() -> None:
            try:
                with (
                    httpx.Client(base_url=url, timeout=10.0) as client,
                    client.stream("GET", "/v1/events") as stream,
                ):
                    for line in stream.iter_lines():
                        received.append(line)
                        opened.set()
            except BaseException as exc:
                errors.append(exc)

        follower = threading.Thread(target=follow)
        follower.start()
        assert opened.wait(10)
        began = time.monotonic()
        assert daemon.ctl("shutdown").returncode == 0
        follower.join(10)
        assert not follower.is_alive() and errors == []
        assert daemon.wait() == 0
        assert time.monotonic() - began < 5.0
        assert received[0] == ": following"


def test_without_http_the_daemon_imports_no_web_stack(tmp_path: Path) -> None:
    config = tmp_path / "services.yaml"
    config.write_text(SERVICES)
    probe = f"""
import sys
from supervisor.cli import build_parser
from supervisor.cli.daemon import Daemon
from supervisor.cli.daemon_start import http_settings
from supervisor.config import load_config
from supervisor.control.controller import SupervisorController
path = {str(config)!r}
config = load_config(path)
daemon = Daemon(path, config, "unused.sock", http=http_settings(
    build_parser().parse_args(["run", path]), config))
daemon.build()
SupervisorController(daemon.sup, reload=None, shutdown=None).status()
print([m for m in ("starlette", "hypercorn", "prometheus_client", "h11") if m in sys.modules])
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "[]", out.stderr


def test_an_address_in_use_stops_the_daemon_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daemon = Daemon(tmp_path, SERVICES, "--http", f"127.0.0.1:{port}").start()
        try:
            assert daemon.wait() == 1
            record = daemon.wait_log(event="cannot open the http endpoint")
            assert "in use" in record["error"]
            assert not daemon.find(event="process started")  # no service was started
        finally:
            daemon.__exit__()
