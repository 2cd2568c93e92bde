"""The Starlette application of the HTTP endpoint: routes, authentication, OpenAPI.

Every route is a view of a :class:`~supervisor.control.controller.SupervisorController`,
the same object the control socket answers from, so ``GET /v1/status`` is exactly
``supervisor status --json``. Each handler's docstring ends with its OpenAPI description
(after ``---``), which ``GET /openapi.json`` collects.

Who may do what: ``GET /healthz`` is always open (a probe carries no secret). Actions
(``POST``) always need ``Authorization: Bearer <token>``; without a configured token they
are refused. Other reads are open on a loopback address and need the token otherwise.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from supervisor import __version__
from supervisor.control.controller import SupervisorController
from supervisor.control.protocol import MAX_LOG_LINES, counts_as_up
from supervisor.http.sse import EventStream, Streams, encode

ACTIONS = ("start", "stop", "restart")
"""What ``POST /v1/services/NAME/ACTION`` may ask."""

Handler = Callable[[Request], Awaitable[Response]]


class Access:
    """Decides whether a request may go on: the token (if any) and the bind's reach."""

    def __init__(self, token: bytes | None, *, loopback: bool) -> None:
        self._token = token
        self.loopback = loopback

    def presented(self, request: Request) -> bool:
        """Whether the request carries the configured token (compared in constant time)."""
        if self._token is None:
            return False
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(value.strip().encode(), self._token)

    def refusal(self, request: Request, *, mutating: bool) -> Response | None:
        """A 401 response when the request may not go on, else ``None``."""
        if not mutating and self.loopback:
            return None
        if self.presented(request):
            return None
        if self._token is None:
            why = "actions need a token: set supervisor.http.token_file"
        else:
            why = "missing or wrong bearer token"
        return JSONResponse({"error": why}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def _guarded(access: Access, handler: Handler, *, mutating: bool = False) -> Handler:
    async def guarded(request: Request) -> Response:
        refusal = access.refusal(request, mutating=mutating)
        return refusal if refusal is not None else await handler(request)

    guarded.__doc__ = handler.__doc__
    guarded.__name__ = handler.__name__
    return guarded


def create_app(
    controller: SupervisorController,
    registry: CollectorRegistry,
    access: Access,
    streams: Streams,
) -> Starlette:
    """The ASGI application serving ``controller``'s supervisor (``streams`` holds its
    open event streams, for the endpoint to end them when it stops)."""

    async def healthz(request: Request) -> Response:
        """Whether every service is ready (a one-shot: completed; ``enabled: false``: not
        started).
        ---
        summary: Health for probes (always open)
        responses:
          200: {description: "Every service is ready: {\\"ok\\": true}"}
          503: {description: "Not ready: {\\"ok\\": false, \\"not_ready\\": {name: state}}"}
        """
        status = controller.status(measure=False)
        not_ready = {
            str(s["name"]): str(s["state"]) for s in status["services"] if not counts_as_up(s)
        }
        state = status["supervisor"].get("state", "running")
        healthy = not not_ready and state == "running"
        body: dict[str, Any] = {"ok": healthy, "state": state}
        if not healthy:
            body["not_ready"] = not_ready
        return JSONResponse(body, status_code=200 if healthy else 503)

    async def metrics(request: Request) -> Response:
        """Prometheus metrics, read from the status at each scrape.
        ---
        summary: Prometheus text format
        responses:
          200: {description: "supervisor_service_* and process_* metrics"}
        """
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def status(request: Request) -> Response:
        """The supervisor's and every service's status (as ``supervisor status --json``).
        ---
        summary: Status, with cpu_percent and memory_bytes
        responses:
          200: {description: "{supervisor: {...}, services: [{name, state, pid, ...}]}"}
        """
        return JSONResponse(controller.status())

    async def events(request: Request) -> Response:
        """Server-Sent Events: one ``transition`` event per state change, from now on.
        ---
        summary: State transitions (text/event-stream)
        responses:
          200: {description: "event: transition / data: {service, state, previous, time, ...}"}
        """
        return EventStream(streams, controller.events, "transition", b": following\n\n")

    async def logs(request: Request) -> Response:
        """Recent output lines of a service (``?lines=N``); ``?follow=1`` streams new ones.
        ---
        summary: Output of a service
        parameters:
          - {name: name, in: path, required: true, schema: {type: string}}
          - {name: lines, in: query, schema: {type: integer, minimum: 0}}
          - {name: follow, in: query, schema: {type: boolean}}
        responses:
          200: {description: "{lines: [{service, stream, line, time}]}, or SSE events line"}
          400: {description: "lines is not a number from 0 to 100000"}
          404: {description: "No such service"}
        """
        name = request.path_params["name"]
        raw = request.query_params.get("lines")
        if raw is not None and not (
            len(raw) <= 9 and raw.isdecimal() and int(raw) <= MAX_LOG_LINES
        ):
            return JSONResponse(
                {"error": f"lines: expected a number from 0 to {MAX_LOG_LINES}"}, status_code=400
            )
        limit = int(raw) if raw is not None else None
        try:
            recent = controller.recent_logs(name, limit)
        except KeyError as exc:
            return JSONResponse({"error": exc.args[0]}, status_code=404)
        if request.query_params.get("follow", "").lower() not in ("1", "true", "yes"):
            return JSONResponse({"lines": recent})
        past = b"".join(encode("line", line) for line in recent) or b": following\n\n"
        return EventStream(streams, lambda: controller.follow_logs(name), "line", past)

    async def act(request: Request) -> Response:
        """Start, stop or restart a service (and what depends on it); needs the token.
        ---
        summary: Act on a service (Authorization, Bearer token)
        parameters:
          - {name: name, in: path, required: true, schema: {type: string}}
          - {name: action, in: path, required: true, schema: {enum: [start, stop, restart]}}
        responses:
          200: {description: "{services: [status of the service afterwards]}"}
          401: {description: "Missing or wrong bearer token"}
          404: {description: "No such service or action"}
          409: {description: "The supervisor cannot do it now (e.g. stopping)"}
          413: {description: "The request has a body (an action takes none)"}
        """
        if _has_body(request):
            # answered before the action: a body still arriving while a restart runs
            # would be left unread, and the server would hold its connection forever
            return JSONResponse({"error": "an action takes no request body"}, status_code=413)
        name, action = request.path_params["name"], request.path_params["action"]
        if action not in ACTIONS:
            return JSONResponse(
                {"error": f"no action {action!r} (actions: {', '.join(ACTIONS)})"},
                status_code=404,
            )
        try:
            return JSONResponse(await controller.act(action, [name]))
        except KeyError as exc:
            return JSONResponse({"error": exc.args[0]}, status_code=404)
        except Exception as exc:  # the runtime refused (stopping, ...): say why
            return JSONResponse({"error": str(exc)}, status_code=409)

    schemas = SchemaGenerator(
        {
            "openapi": "3.0.3",
            "info": {"title": "structured-supervisor", "version": __version__},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        }
    )

    async def openapi(request: Request) -> Response:
        """This API's OpenAPI description.
        ---
        summary: OpenAPI 3 document
        responses:
          200: {description: "The document"}
        """
        return JSONResponse(schemas.get_schema(routes=app.routes))

    def guard(handler: Handler, *, mutating: bool = False) -> Handler:
        return _guarded(access, handler, mutating=mutating)

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", guard(metrics), methods=["GET"]),
            Route("/openapi.json", guard(openapi), methods=["GET"]),
            Route("/v1/status", guard(status), methods=["GET"]),
            Route("/v1/events", guard(events), methods=["GET"]),
            Route("/v1/services/{name}/logs", guard(logs), methods=["GET"]),
            Route(
                "/v1/services/{name}/{action}",
                guard(act, mutating=True),
                methods=["POST"],
            ),
        ]
    )
    return app


def _has_body(request: Request) -> bool:
    """Whether the request announces a body (a length above 0, or chunks)."""
    length = request.headers.get("content-length", "0").strip()
    return "transfer-encoding" in request.headers or length not in ("", "0")
