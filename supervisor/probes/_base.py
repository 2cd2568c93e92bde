"""The shape shared by every probe: one attempt (``check``) and a readiness wait."""

from __future__ import annotations

from supervisor.concurrency import fail_after, sleep


class ProbeFailed(Exception):
    """One probe attempt failed; the message says why (``connection refused``, ...)."""


class Checker:
    """A probe of one kind. Subclasses implement :meth:`check`.

    ``check`` is one attempt: it returns when the probe passes and raises
    :class:`ProbeFailed` otherwise. :meth:`wait_ready` repeats it until it passes;
    event-driven kinds (``log``, ``notify``) override it to wake up at once.
    """

    kind: str = "probe"

    def __init__(self) -> None:
        self.last_error: str | None = None

    @property
    def description(self) -> str:
        """Short human text naming the probe, e.g. ``tcp 127.0.0.1:8000``."""
        return self.kind

    async def check(self) -> None:
        """Run one attempt; raise :class:`ProbeFailed` when it does not pass."""
        raise NotImplementedError

    async def attempt(self, limit: float) -> bool:
        """Run one :meth:`check` bounded by ``limit`` seconds; record the failure reason."""
        try:
            with fail_after(limit):
                await self.check()
        except ProbeFailed as exc:
            self.last_error = str(exc) or type(exc).__name__
            return False
        except TimeoutError:
            self.last_error = f"timed out after {limit:g}s"
            return False
        self.last_error = None
        return True

    async def wait_ready(self, *, interval: float, per_attempt: float) -> None:
        """Return once an attempt passes (each bounded by ``per_attempt``), every ``interval``.

        Unbounded: the caller applies the start timeout.
        """
        while not await self.attempt(per_attempt):
            await sleep(interval)

    def feed(self, stream: str, line: str) -> None:
        """Receive one line of the service's output (used by the ``log`` probe only)."""

    async def aclose(self) -> None:
        """Release what the probe holds (an HTTP client, ...)."""
