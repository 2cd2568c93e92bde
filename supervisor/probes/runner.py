"""Building a checker from its config, and the liveness loop."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from supervisor.concurrency import sleep
from supervisor.config.models import HealthProbe, Probe
from supervisor.probes._base import Checker
from supervisor.probes.command import CommandChecker
from supervisor.probes.file import FileChecker
from supervisor.probes.http import HttpChecker
from supervisor.probes.logline import LogChecker
from supervisor.probes.notify import NotifyChecker, NotifySocket
from supervisor.probes.tcp import TcpChecker


def build_checker(
    probe: Probe,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    notify: NotifySocket | None = None,
) -> Checker:
    """The checker for ``probe``; ``notify`` is required for the ``notify`` kind."""
    kind = probe.kind
    if kind == "tcp":
        assert probe.tcp is not None
        return TcpChecker(probe.tcp)
    if kind == "http":
        assert probe.http is not None
        return HttpChecker(probe.http, probe.status)
    if kind == "exec":
        assert probe.exec is not None
        return CommandChecker(probe.exec, env=env, cwd=cwd)
    if kind == "log":
        assert probe.log is not None
        return LogChecker(probe.log)
    if kind == "file":
        assert probe.file is not None
        return FileChecker(probe.file, cwd)
    if kind == "notify":
        if notify is None:
            raise ValueError("a notify probe needs the service's NotifySocket")
        return NotifyChecker(notify)
    raise ValueError(f"unknown probe kind {kind!r}")  # pragma: no cover


async def watch_liveness(
    checker: Checker,
    probe: HealthProbe,
    *,
    on_failure: Callable[[int, str], None] | None = None,
) -> str:
    """Check every ``probe.interval`` after ``probe.initial_delay``; never returns while healthy.

    Returns the reason once ``probe.failures`` attempts in a row have failed (the caller
    then stops and restarts the service). ``on_failure(count, reason)`` hears each failure.
    """
    await sleep(probe.initial_delay)
    failed = 0
    while True:
        await sleep(probe.interval)
        if await checker.attempt(probe.timeout):
            failed = 0
            continue
        failed += 1
        reason = f"{checker.description}: {checker.last_error}"
        if on_failure is not None:
            on_failure(failed, reason)
        if failed >= probe.failures:
            return f"health check failed {failed} times in a row ({reason})"
