"""The ``supervisor:`` section: settings of the supervisor itself and its HTTP endpoint."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from supervisor.config.base import StrictModel
from supervisor.config.listen import ListenAddress, is_loopback, parse_listen
from supervisor.config.values import Duration, PathText, rule_error


class HttpSettings(StrictModel):
    """The optional HTTP endpoint: metrics, health, status, events, logs and actions.

    ``http: "0.0.0.0:9100"`` is shorthand for ``http: {listen: "0.0.0.0:9100"}``.
    """

    listen: ListenAddress = Field(
        "127.0.0.1:9100",
        description="host:port to listen on; without a host, loopback (127.0.0.1). A "
        "non-loopback address needs `token_file`.",
    )
    token_file: PathText | None = Field(
        None,
        description="File holding the bearer token that actions (and, off loopback, every "
        "request but /healthz) must present.",
    )

    @model_validator(mode="before")
    @classmethod
    def _listen_shorthand(cls, data: Any) -> Any:
        if isinstance(data, str | int) and not isinstance(data, bool):
            return {"listen": str(data)}
        return data

    @model_validator(mode="after")
    def _token_off_loopback(self) -> HttpSettings:
        host, _ = parse_listen(self.listen)
        if self.token_file is None and not is_loopback(host):
            raise rule_error(
                "HttpSettings",
                "listen",
                f"a non-loopback address ({host}) needs `token_file` (a bearer token), "
                "or listen on 127.0.0.1",
                self.listen,
            )
        return self

    @property
    def loopback(self) -> bool:
        """Whether the endpoint listens on a loopback address only."""
        return is_loopback(parse_listen(self.listen)[0])


class SupervisorSettings(StrictModel):
    """Settings of the supervisor itself (the optional ``supervisor:`` section)."""

    shutdown_timeout: Duration = Field(60.0, description="Bound on stopping everything.")
    on_failure: Literal["shutdown", "isolate"] = Field(
        "shutdown",
        description="Escalation when a service fails for good: stop everything, or only "
        "its dependents.",
    )
    log_format: Literal["auto", "console", "json"] = Field("auto", description="Log output.")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info")
    control_socket: PathText | None = Field(None, description="Path of the control socket.")
    log_dir: PathText | None = Field(
        None, description="Directory of a log file DIR/NAME.log for every process service."
    )
    http: HttpSettings | None = Field(
        None, description="The HTTP endpoint (off unless set; see docs/observability.md)."
    )
