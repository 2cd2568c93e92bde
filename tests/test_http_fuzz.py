"""The HTTP endpoint under hostile requests: any method, path, header and body.

One supervisor and its endpoint run per backend (in a blocking portal) for the whole
module; hypothesis sends requests over a real socket on 127.0.0.1 with a plain httpx
client. Whatever it sends, the endpoint answers (never a 500 and never a dropped
connection), nothing changes without the token, and the services keep running.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.http_helpers import AUTH, ECHO, TOKEN, serving

SERVICE = "echo"

METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
SEGMENT = st.one_of(
    st.sampled_from([SERVICE, "start", "stop", "restart", "logs", "..", ".", "%00", "%2F"]),
    st.text(string.ascii_letters + string.digits + "-._~%:@!$&'()*+,;=", max_size=40),
    st.text(max_size=20).map(lambda text: quote(text, safe="")),
)
PATHS = st.one_of(
    st.sampled_from(["/healthz", "/metrics", "/v1/status", "/openapi.json", "/v1/events"]),
    st.builds(lambda name, action: f"/v1/services/{name}/{action}", SEGMENT, SEGMENT),
    st.lists(SEGMENT, max_size=5).map(lambda parts: "/" + "/".join(parts)),
)
QUERIES = st.dictionaries(
    st.sampled_from(["lines", "follow", "n", "x"]),
    st.one_of(st.integers(-(10**12), 10**12).map(str), st.text(max_size=12)),
    max_size=3,
)
AUTHORIZATIONS = st.one_of(
    st.none(),
    st.just(AUTH["Authorization"]),
    st.sampled_from(["Bearer", "Bearer ", "bearer s3cret-token", "Basic czNjcmV0"]),
    st.text(string.printable.strip("\r\n\x0b\x0c"), max_size=60).map(lambda t: t.strip()),
)


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def endpoint(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """A sync client on a running supervisor's endpoint (one ``echo`` service)."""
    with (
        start_blocking_portal(request.param) as portal,
        portal.wrap_async_context_manager(serving({SERVICE: ECHO})) as (sup, _, client),
        # a connection per request: a server may close one after an odd request (a body
        # it did not read), and reusing it would be the client's race, not a fault
        httpx.Client(
            base_url=str(client.base_url),
            timeout=10.0,
            limits=httpx.Limits(max_keepalive_connections=0),
        ) as sync_client,
    ):
        portal.call(_wait_ready, sup)
        yield sync_client
        assert sup.status()[SERVICE].restarts == 0


async def _wait_ready(sup: Any) -> None:
    from supervisor.runtime.state import ServiceState
    from tests.runtime_helpers import wait_state

    await wait_state(sup, SERVICE, ServiceState.READY)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    method=METHODS,
    path=PATHS,
    query=QUERIES,
    authorization=AUTHORIZATIONS,
    body=st.binary(max_size=256),
)
def test_any_request_gets_an_answer_and_changes_nothing_without_the_token(
    endpoint: httpx.Client,
    method: str,
    path: str,
    query: dict[str, str],
    authorization: str | None,
    body: bytes,
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    if method == "GET" and (path == "/v1/events" or ("follow" in query and "/logs" in path)):
        return  # an endless stream: tests/test_http_endpoint.py reads them
    # the scheme is case-insensitive (RFC 7235): "bearer s3cret-token" is the token too
    scheme, _, value = (authorization or "").partition(" ")
    authorized = scheme.lower() == "bearer" and value.strip() == TOKEN.decode()
    if authorized and method == "POST" and path.startswith(f"/v1/services/{SERVICE}/"):
        return  # a real action on the one service: tests/test_http_endpoint.py does them
    try:
        answer = endpoint.request(method, path, params=query, headers=headers, content=body)
    except (httpx.InvalidURL, httpx.LocalProtocolError):
        return  # the client refuses to send it: nothing reached the server
    assert answer.status_code < 500 or (path == "/healthz" and answer.status_code == 503), (
        answer.status_code,
        answer.text[:300],
    )
    if method == "POST" and not authorized:
        assert answer.status_code in (401, 404, 405), answer.status_code
    # the endpoint is still there, and the service was not touched
    health = endpoint.get("/healthz")
    assert health.status_code == 200, health.text
