"""An embedded supervisor follows the application's logging: stdlib ``logging`` when the
application has not configured structlog, the application's structlog setup when it has.

Each test starts from structlog's unconfigured state and its own handler on the
``supervisor`` logger (not propagated), and puts both back afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import anyio
import pytest
import structlog

from supervisor import TASK_STATUS_IGNORED, ServiceContext, Supervisor
from supervisor.loggers import get_logger, to_stdlib_call


class Collect(logging.Handler):
    """Keeps every record it is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def unconfigured_structlog() -> Iterator[None]:
    was_configured = structlog.is_configured()
    saved = structlog.get_config()
    structlog.reset_defaults()
    try:
        yield
    finally:
        if was_configured:
            structlog.configure(**saved)
        else:
            structlog.reset_defaults()


@pytest.fixture
def handler(unconfigured_structlog: None) -> Iterator[Collect]:
    logger = logging.getLogger("supervisor")
    saved = (logger.level, logger.propagate, list(logger.handlers))
    collect = Collect()
    logger.handlers = [collect]
    logger.propagate = False
    try:
        yield collect
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers = saved[2]


def build() -> Supervisor:
    """``api`` serves until stopped; ``broken`` raises at once and is not restarted."""
    sup = Supervisor(on_failure="isolate")

    @sup.service
    async def api(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await anyio.sleep_forever()

    @sup.service(restart={"policy": "no"})
    async def broken(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        raise RuntimeError("boom")

    return sup


async def run(sup: Supervisor) -> None:
    async with sup:
        assert sup.status()["api"].state == "ready"
        assert sup.status()["broken"].state == "failed"


@pytest.mark.anyio
async def test_at_warning_transitions_print_nothing_and_failures_reach_the_handler(
    handler: Collect, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("supervisor").setLevel(logging.WARNING)
    await run(build())
    out, err = capsys.readouterr()
    assert (out, err) == ("", "")
    assert handler.records, "the failure is a warning or an error"
    assert all(r.levelno >= logging.WARNING for r in handler.records)
    failed = [r for r in handler.records if getattr(r, "event", None) == "failed"]
    assert [r.service for r in failed] == ["broken"]  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_at_info_every_transition_is_a_record_with_the_event_fields(
    handler: Collect, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("supervisor").setLevel(logging.INFO)
    await run(build())
    assert capsys.readouterr().out == ""
    ready = [r for r in handler.records if getattr(r, "event", None) == "ready"]
    assert len(ready) == 1
    record = ready[0]
    assert record.name == "supervisor"
    assert record.levelno == logging.INFO
    assert record.service == "api"  # type: ignore[attr-defined]
    assert record.previous == "starting"  # type: ignore[attr-defined]
    assert record.getMessage() == "api: ready"
    events = [(getattr(r, "service", None), getattr(r, "event", None)) for r in handler.records]
    assert ("api", "stopped") in events
    assert ("broken", "failed") in events


@pytest.mark.anyio
async def test_an_application_that_configured_structlog_gets_the_events_through_it(
    handler: Collect, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[dict[str, Any]] = []

    def collect(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
        seen.append(dict(event))
        raise structlog.DropEvent

    sup = build()  # built before the application configures its logging: still followed
    structlog.configure(processors=[collect])
    await run(sup)
    assert {"event": "ready", "service": "api", "previous": "starting"}.items() <= next(
        e for e in seen if e.get("event") == "ready"
    ).items()
    assert handler.records == []
    assert capsys.readouterr().out == ""


def test_record_text_and_fields_never_clash_with_log_record_attributes(
    handler: Collect,
) -> None:
    logging.getLogger("supervisor").setLevel(logging.DEBUG)
    log = get_logger("supervisor").bind(service="db")
    log.warning("failed", reason="exited 1", previous="ready", name="x", message="m")
    log.info("output", stream="stdout", line="100% done")
    first, second = handler.records
    assert first.getMessage() == "db: failed (exited 1) name=x message=m"
    assert (first.name, first.name_, first.message_) == ("supervisor", "x", "m")  # type: ignore[attr-defined]
    assert second.getMessage() == "db | 100% done"
    assert to_stdlib_call(None, "info", {"event": "e", "exc_info": True})[1]["exc_info"] is True


def test_an_event_below_the_level_is_not_processed(handler: Collect) -> None:
    logging.getLogger("supervisor").setLevel(logging.WARNING)
    log = get_logger("supervisor").bind(service="db")

    class Unprintable:
        def __repr__(self) -> str:
            raise AssertionError("an event below the level was rendered")

    log.info("output", stream="stdout", line=Unprintable())
    assert handler.records == []
