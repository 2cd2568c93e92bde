"""Shared fixtures: every async test runs on asyncio and trio, no test leaks a child, and
none leaves structlog configured for the next."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each ``@pytest.mark.anyio`` test once per backend."""
    return str(request.param)


def _descendants(root: int) -> set[int]:
    """PIDs of every live, non-zombie descendant of ``root`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        state, ppid = fields[0], int(fields[1])
        if state != b"Z":
            children.setdefault(ppid, []).append(int(entry))
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """Fail a test that leaves a child process of the test runner behind (then kill it)."""
    before = _descendants(os.getpid())
    yield
    deadline = time.monotonic() + 2.0
    leftover = _descendants(os.getpid()) - before
    while leftover and time.monotonic() < deadline:
        time.sleep(0.02)
        leftover = _descendants(os.getpid()) - before
    if leftover:
        for pid in leftover:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        pytest.fail(f"test left child processes behind: {sorted(leftover)}")


@pytest.fixture(autouse=True)
def structlog_unconfigured_after_the_test() -> Iterator[None]:
    """A test that configures structlog (``capture_logs`` does, and leaves it configured
    with structlog's default renderer) must not change how the next tests log: that
    renderer formats every traceback with rich, when installed (the ``tui`` extra brings
    it), slowly enough to make a test logging a thousand crashes time out."""
    yield
    structlog.reset_defaults()
