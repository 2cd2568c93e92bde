"""Readiness and health probes of a service: a tcp, http, exec, log, file or notify check."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from supervisor.config.base import StrictModel
from supervisor.config.probe_targets import HttpUrl, Regex, TcpAddress
from supervisor.config.values import Duration, PathText, Text, check_command, rule_error

PROBE_KINDS = ("tcp", "http", "exec", "log", "file", "notify")


class Probe(StrictModel):
    """A readiness check: exactly one of tcp, http, exec, log, file or notify."""

    tcp: TcpAddress | None = Field(None, description="host:port that must accept a connection.")
    http: HttpUrl | None = Field(None, description="URL that must answer GET with `status`.")
    exec: list[Text] | str | None = Field(
        None, description="Command that must exit 0 (a list, or a string split like a shell)."
    )
    log: Regex | None = Field(None, description="Regex that a line of output must match.")
    file: PathText | None = Field(None, description="Path that must exist.")
    notify: bool | None = Field(None, description="Wait for READY=1 on NOTIFY_SOCKET.")
    status: int = Field(200, ge=100, le=599, description="Expected HTTP status (http only).")
    interval: Duration = Field(0.25, description="Delay between two attempts.")
    timeout: Duration = Field(1.0, description="Bound on one attempt.")
    watchdog: Duration | None = Field(
        None, description="notify only: restart when WATCHDOG=1 is not received this often."
    )

    has_watchdog: ClassVar[bool] = True
    """Whether ``watchdog`` means something here (readiness, not a health check)."""

    @field_validator("exec", mode="before")
    @classmethod
    def _check_exec(cls, value: Any) -> Any:
        return check_command(value, split=False)

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Probe:
        given = [kind for kind in PROBE_KINDS if getattr(self, kind) not in (None, False)]
        if len(given) != 1:
            raise ValueError(
                "expected exactly one probe kind of "
                + ", ".join(PROBE_KINDS)
                + (f", got {len(given)}: {', '.join(given)}" if given else ", got none")
            )
        if self.watchdog is not None:
            if not self.has_watchdog:
                raise rule_error(
                    "HealthProbe",
                    "watchdog",
                    "a health probe has no watchdog: set it in `ready: {notify: true, "
                    "watchdog: ...}`",
                )
            if given != ["notify"]:
                raise rule_error(
                    "Probe",
                    "watchdog",
                    f"applies to the notify protocol only (`notify: true`), not to a "
                    f"{given[0]} probe",
                )
        return self

    @property
    def kind(self) -> str:
        """The probe kind that is set (``tcp``, ``http``, ...)."""
        return next(kind for kind in PROBE_KINDS if getattr(self, kind) not in (None, False))


class HealthProbe(Probe):
    """A liveness check: a probe run every ``interval``; ``failures`` in a row restart."""

    interval: Duration = Field(10.0, description="Delay between two checks.")
    failures: int = Field(3, ge=1, description="Consecutive failures that restart the service.")
    initial_delay: Duration = Field(0.0, description="Grace period after ready before checking.")

    has_watchdog: ClassVar[bool] = False
