"""``http``: the probe passes when ``GET url`` answers the expected status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.probes._base import Checker, ProbeFailed

if TYPE_CHECKING:
    import httpx


class HttpChecker(Checker):
    """GET ``url`` with httpx; pass on ``status`` (default 200).

    Proxy variables from the environment are ignored (a probe of ``127.0.0.1`` must not go
    through ``HTTP_PROXY``) and redirects are not followed: the status is compared as is.
    One client (and its connection pool) is kept for the probe's lifetime. httpx is
    imported on first use: a supervisor without http probes does not pay its memory.
    """

    kind = "http"

    def __init__(self, url: str, status: int = 200) -> None:
        super().__init__()
        self.url = url
        self.status = status
        self._client: httpx.AsyncClient | None = None

    @property
    def description(self) -> str:
        """``http GET url``."""
        return f"http GET {self.url}"

    async def check(self) -> None:
        """One GET; any transport error or unexpected status fails."""
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        try:
            response = await self._client.get(self.url)
        except httpx.HTTPError as exc:
            raise ProbeFailed(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != self.status:
            raise ProbeFailed(f"status {response.status_code}, expected {self.status}")

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
