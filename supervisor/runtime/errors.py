"""Errors raised by the supervisor to its user."""

from __future__ import annotations


class SupervisorError(Exception):
    """Base class of every error the supervisor raises on its own account."""


class UnknownServiceError(SupervisorError, LookupError):
    """No service has this name."""


class ServiceFailedError(SupervisorError):
    """A service failed for good (see ``reason``); raised according to ``on_failure``.

    Raised by ``async with sup:`` / ``sup.run()`` when the escalation policy is
    ``shutdown`` (after everything has been stopped), and by ``sup.start(name)`` /
    ``sup.restart(name)`` when that service ends up ``failed``.
    """

    def __init__(self, service: str, reason: str) -> None:
        self.service = service
        self.reason = reason
        super().__init__(f"service {service!r} failed: {reason}")


class ServiceStartError(Exception):
    """A service's callable ended before it was ready (it never called ``started()``)."""


class StartTimeoutError(ServiceStartError):
    """A service did not become ready within its ``start_timeout``."""


# Short names, for ``except`` clauses.
SupervisorFailed = ServiceFailedError
UnknownService = UnknownServiceError
StartError = ServiceStartError
