"""``log``: the probe passes when a line of the service's output matches a regex."""

from __future__ import annotations

import re

from supervisor.concurrency import Event
from supervisor.probes._base import Checker, ProbeFailed


class LogChecker(Checker):
    """Watch the output lines the process reader feeds in (stdout and stderr alike).

    For readiness it wakes up on the first matching line (no polling). As a liveness
    check, an attempt passes when a matching line arrived since the previous attempt (a
    heartbeat line).
    """

    kind = "log"

    def __init__(self, pattern: str) -> None:
        super().__init__()
        self.pattern = re.compile(pattern)
        self._matched = Event()
        self._since_check = False

    @property
    def description(self) -> str:
        """``log /regex/``."""
        return f"log /{self.pattern.pattern}/"

    def feed(self, stream: str, line: str) -> None:
        """Match one output line."""
        if self.pattern.search(line):
            self._since_check = True
            self._matched.set()

    async def check(self) -> None:
        """Pass when a line matched since the last attempt."""
        seen, self._since_check = self._since_check, False
        if not seen:
            raise ProbeFailed(f"no output line matched /{self.pattern.pattern}/")

    async def wait_ready(self, *, interval: float, per_attempt: float) -> None:
        """Return on the first matching line."""
        await self._matched.wait()
        self._since_check = False
