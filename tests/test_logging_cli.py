"""The CLI's structlog setup: console lines for people, JSON lines for machines."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog

from supervisor.logging import configure, resolve_format


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_output_line_renders_as_name_bar_text_in_console() -> None:
    out = io.StringIO()
    assert configure("console", "info", stream=out, names=["api", "worker"]) == "console"
    log = structlog.get_logger("supervisor").bind(service="api")
    log.info("output", stream="stdout", line="listening on 8000")
    assert out.getvalue() == "api    | listening on 8000\n"


def test_console_event_line_has_service_reason_and_keys_without_colors_off_tty() -> None:
    out = io.StringIO()
    configure("console", "info", stream=out)
    structlog.get_logger("supervisor").bind(service="db").warning(
        "backoff", previous="starting", reason="exited 1", delay=0.5
    )
    line = out.getvalue()
    assert "\x1b[" not in line
    assert line.split()[1:] == ["warning", "db:", "backoff", "(exited", "1)", "delay=0.5"]


def test_console_has_colors_on_a_terminal() -> None:
    out = Tty()
    configure("auto", "info", stream=out)
    structlog.get_logger("supervisor").info("ready", service="db")
    assert "\x1b[" in out.getvalue()


def test_json_mode_writes_one_object_per_line() -> None:
    out = io.StringIO()
    assert configure("auto", "info", stream=out) == "json"  # not a terminal
    log = structlog.get_logger("supervisor").bind(service="api")
    log.info("output", stream="stderr", line="warming up")
    log.info("ready", previous="starting")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["service"] == "api" and first["line"] == "warming up"
    assert first["stream"] == "stderr" and first["level"] == "info" and "timestamp" in first
    assert second["event"] == "ready" and second["previous"] == "starting"


def test_level_filters_events() -> None:
    out = io.StringIO()
    configure("json", "warning", stream=out)
    log = structlog.get_logger("supervisor")
    log.info("hidden")
    log.debug("hidden too")
    log.error("shown")
    assert [json.loads(x)["event"] for x in out.getvalue().splitlines()] == ["shown"]


def test_expected_failures_have_no_traceback_but_bugs_do() -> None:
    class ProcessFailed(Exception):
        pass

    out = io.StringIO()
    configure("console", "info", stream=out)
    log = structlog.get_logger("supervisor")
    log.warning("service error", exc_info=ProcessFailed("exited 1"))
    assert "Traceback" not in out.getvalue()
    try:
        raise ValueError("a bug in the user's service")
    except ValueError as exc:
        log.warning("service error", exc_info=exc)
    assert "Traceback" in out.getvalue() and "a bug in the user's service" in out.getvalue()


def test_unknown_format_or_level_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown log format"):
        resolve_format("xml", io.StringIO())
    with pytest.raises(ValueError, match="unknown log level"):
        configure("json", "loud", stream=io.StringIO())
