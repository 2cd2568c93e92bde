"""The context handed to every running service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from supervisor.concurrency import CancelScope, current_time
from supervisor.loggers import get_logger
from supervisor.logs import OutputBuffer


def _ignore(*_args: Any) -> None:
    return None


@dataclass(eq=False)
class ServiceContext:
    """What a service receives when it is started.

    ``deps`` maps each dependency's name to the value it passed to
    ``task_status.started()``; ``args`` holds the service's ``args`` from the config file;
    ``stop_timeout`` bounds the service's cleanup (see :meth:`cleanup`).
    ``output_buffer`` is where a process service keeps its output (the runtime's ring
    buffer); without one, its lines go to ``on_output`` one by one. ``on_stop_hook``
    receives what :meth:`set_stop_hook` registers.
    """

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    deps: Mapping[str, Any] = field(default_factory=dict)
    log: Any = None
    on_pid: Callable[[int | None], None] = _ignore
    on_status: Callable[[str], None] = _ignore
    on_output: Callable[[str, str], None] = _ignore
    stop_timeout: float = 10.0
    output_buffer: OutputBuffer | None = None
    on_stop_hook: Callable[[Callable[[], None] | None], None] = _ignore  # last: added later

    def __post_init__(self) -> None:
        if self.log is None:
            self.log = get_logger("supervisor").bind(service=self.name)

    def set_pid(self, pid: int | None) -> None:
        """Record the PID of the service's main process (``None`` once it has exited)."""
        self.on_pid(pid)

    def set_status(self, text: str) -> None:
        """Publish a free-form status line (shown by ``supervisor status``)."""
        self.on_status(text)

    def set_stop_hook(self, hook: Callable[[], None] | None) -> None:
        """Have ``hook()`` called when the runtime cancels the service to stop it, before
        the service sees the cancellation (``None``: no longer). A process service sends
        its stop signal there, so that a stop of many services signals them all before
        waiting for any of them."""
        self.on_stop_hook(hook)

    def output(self, stream: str, line: str) -> None:
        """Hand one line of the service's output to the supervisor's log buffer."""
        self.on_output(stream, line)

    @contextlib.asynccontextmanager
    async def cleanup(self) -> AsyncIterator[CancelScope]:
        """Graceful cleanup: ``async with ctx.cleanup(): await pool.close()``.

        Cancellation is level-triggered: once the service is being stopped, every plain
        ``await`` in its ``finally`` is cancelled at once. Inside this block the code is
        shielded from that cancellation and may await for up to the service's
        ``stop_timeout`` (counted from entering the block); past it, the block is cut
        short and execution goes on after it.
        """
        with CancelScope(shield=True, deadline=current_time() + self.stop_timeout) as scope:
            yield scope
