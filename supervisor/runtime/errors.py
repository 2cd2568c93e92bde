"""Errors raised by the supervisor to its user."""

from __future__ import annotations


class SupervisorError(Exception):
    """Base class of every error the supervisor raises on its own account."""


class UnknownServiceError(SupervisorError, KeyError):
    """No service has this name (a ``KeyError`` whose message reads well)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown service"


class ServiceFailedError(SupervisorError):
    """A service failed for good (see ``reason``); raised according to ``on_failure``.

    Raised by ``sup.start(name)`` / ``sup.restart(name)`` when that service ends up
    ``failed``; its subclass :class:`SupervisorFailed` is raised when the whole supervisor
    shuts down because of a failure.
    """

    def __init__(self, service: str, reason: str) -> None:
        self.service = service
        self.reason = reason
        super().__init__(f"service {service!r} failed: {reason}")


class ServiceStartError(Exception):
    """A service's callable ended before it was ready (it never called ``started()``)."""


class StartTimeoutError(ServiceStartError):
    """A service did not become ready within its ``start_timeout``."""


class SupervisorFailed(ServiceFailedError):
    """The supervisor shut everything down because a service failed for good.

    Raised by ``async with sup:`` and ``sup.run()`` under ``on_failure: shutdown``, once
    every service has been stopped; ``service`` and ``reason`` say which and why.
    """

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(service, reason)
        self.args = (f"service {service!r} failed: {reason}; every service was stopped",)


# Short names, for ``except`` clauses.
UnknownService = UnknownServiceError
StartError = ServiceStartError
