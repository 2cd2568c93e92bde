"""The runtime's records as dicts (``to_dict``): what the control socket, the HTTP endpoint
and ``--json`` print. Every field, JSON-ready, and a copy, as ``dataclasses.asdict`` gives."""

from __future__ import annotations

import json
from dataclasses import asdict

from supervisor.runtime.state import LogLine, ServiceEvent, ServiceState, ServiceStatus


def test_a_status_dict_has_every_field_and_owns_its_dependencies() -> None:
    status = ServiceStatus(
        name="api",
        kind="process",
        state=ServiceState.READY,
        since=1.5,
        restarts=2,
        reason="probe passed",
        last_exit="exited 1",
        last_error="boom",
        pid=42,
        status_text="serving",
        depends_on={"db": "ready"},
    )
    data = status.to_dict()
    assert data == {**asdict(status), "state": "ready"}
    assert json.loads(json.dumps(data)) == data
    data["depends_on"]["db"] = "started"
    assert status.depends_on == {"db": "ready"}


def test_event_and_log_line_dicts_have_every_field() -> None:
    event = ServiceEvent(
        service="api",
        state=ServiceState.FAILED,
        previous=ServiceState.READY,
        time=2.0,
        reason="exited 1",
        error="boom",
        restarts=3,
    )
    assert event.to_dict() == {**asdict(event), "state": "failed", "previous": "ready"}
    line = LogLine(service="api", stream="stdout", line="hello", time=3.0)
    assert (
        line.to_dict()
        == asdict(line)
        == {
            "service": "api",
            "stream": "stdout",
            "line": "hello",
            "time": 3.0,
        }
    )
