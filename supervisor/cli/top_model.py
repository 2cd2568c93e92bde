"""What ``supervisor top`` shows, kept apart from drawing it (no terminal library here).

:class:`TopModel` merges the two feeds of the control socket: the periodic ``status``
answer (everything, including pid, CPU and memory) and the ``events`` stream (each
transition as it happens). For each service, whichever is newer wins: an answer to a
status request sent before a transition never undoes the event that reported it.
"""

from __future__ import annotations

import re
import time
from typing import Any

from supervisor.cli.control_commands import format_bytes, format_cpu, format_duration, reason_of

COLUMNS = ("NAME", "STATE", "PID", "UPTIME", "RESTARTS", "CPU", "MEM", "REASON")
"""The columns of the service table, in order."""

_ENDED = frozenset({"stopped", "failed", "completed", "backoff"})
"""States in which a service has no process."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters (escape sequences, carriage returns...) shown as
    ``\ufffd``: what a service writes must not drive the terminal."""
    return _CONTROL.sub("\ufffd", text)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class TopModel:
    """The services and the supervisor as last reported, in start order."""

    def __init__(self) -> None:
        self.services: dict[str, dict[str, Any]] = {}
        self.supervisor: dict[str, Any] = {}

    def apply_status(self, answer: dict[str, Any]) -> None:
        """Take a ``status`` answer: the list of services and their figures.

        A service whose last transition (``since``) is older than an event already applied
        keeps the event's state, reason and restarts, and takes the rest.
        """
        self.supervisor = dict(answer.get("supervisor") or {})
        services: dict[str, dict[str, Any]] = {}
        for entry in answer.get("services") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            fresh = dict(entry)
            known = self.services.get(fresh["name"])
            if known is not None and _number(known.get("since")) > _number(fresh.get("since")):
                for key in ("state", "since", "reason", "restarts", "last_error"):
                    fresh[key] = known.get(key)
                if fresh.get("state") in _ENDED:
                    fresh["pid"] = None
            services[fresh["name"]] = fresh
        self.services = services

    def apply_event(self, event: dict[str, Any]) -> None:
        """Take one transition from the ``events`` stream (unknown services are ignored:
        the next status answer brings services added by a reload)."""
        service = self.services.get(str(event.get("service")))
        if service is None or _number(event.get("time")) < _number(service.get("since")):
            return
        service["state"] = event.get("state")
        service["since"] = event.get("time")
        service["reason"] = event.get("reason") or event.get("error")
        service["restarts"] = event.get("restarts", service.get("restarts", 0))
        if event.get("error"):
            service["last_error"] = event["error"]
        if service["state"] in _ENDED:
            service["pid"] = None
            service["cpu_percent"] = None
            service["memory_bytes"] = None
        if service["state"] == "starting":
            service["last_exit"] = None

    def names(self) -> list[str]:
        """Service names in start order."""
        return list(self.services)

    def row(self, name: str, now: float | None = None) -> tuple[str, ...]:
        """The cells of service ``name`` (see :data:`COLUMNS`); uptime counts to ``now``."""
        s = self.services[name]
        wall = time.time() if now is None else now
        uptime = "-"
        if s.get("state") == "ready" and isinstance(s.get("since"), int | float):
            uptime = format_duration(wall - float(s["since"]))
        return (
            name,
            str(s.get("state") or "?"),
            str(s["pid"]) if s.get("pid") else "-",
            uptime,
            str(s.get("restarts") or 0),
            format_cpu(s.get("cpu_percent")),
            format_bytes(s.get("memory_bytes")),
            printable(reason_of(s)),
        )

    def header(self) -> str:
        """One line about the supervisor itself: state, pid, uptime, CPU and memory."""
        sup = self.supervisor
        if not sup:
            return "supervisor: connecting..."
        uptime = sup.get("uptime")
        parts = [f"supervisor {sup.get('state', '?')}", f"pid {sup.get('pid', '-')}"]
        if isinstance(uptime, int | float):
            parts.append(f"up {format_duration(float(uptime))}")
        parts.append(f"cpu {format_cpu(sup.get('cpu_percent'))}")
        parts.append(f"mem {format_bytes(sup.get('memory_bytes'))}")
        counts: dict[str, int] = {}
        for s in self.services.values():
            counts[str(s.get("state"))] = counts.get(str(s.get("state")), 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        return "  ".join(parts) + (f"  |  {summary}" if summary else "")
