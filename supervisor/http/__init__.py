"""The optional HTTP endpoint: Prometheus metrics, health, status, events, logs, actions.

A view of the runtime beside :mod:`supervisor.control` (the runtime never imports it),
imported only when ``supervisor.http`` (or ``--http``) is set: Starlette, hypercorn and
prometheus_client (the ``http`` extra) cost nothing otherwise. See docs/observability.md.
"""

from __future__ import annotations

from supervisor.http.server import HttpEndpoint, TokenFileError, read_token

__all__ = ["HttpEndpoint", "TokenFileError", "read_token"]
