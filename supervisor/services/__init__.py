"""What a service is: an in-process async callable or a subprocess, and its context."""

from supervisor.services.context import ServiceContext

__all__ = ["ServiceContext"]
