"""How a service is restarted after it stops by itself, and how it is stopped.

Durations are stored as seconds (``float``) and signals as ``signal.Signals``.
"""

from __future__ import annotations

import signal
from typing import Any, Literal

from pydantic import Field, model_validator

from supervisor.config.base import StrictModel
from supervisor.config.values import Duration, StopSignal, format_duration, rule_error

RestartPolicy = Literal["no", "on-failure", "always"]
"""When a service that stopped by itself is started again."""


class Backoff(StrictModel):
    """Exponential backoff between restarts."""

    initial: Duration = Field(0.1, description="Delay before the first restart.")
    max: Duration = Field(30.0, description="Upper bound of the delay.")
    multiplier: float = Field(
        2.0, ge=1.0, allow_inf_nan=False, description="Factor applied to the delay per restart."
    )
    jitter: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="Random fraction (+/-) applied to each delay.",
    )
    reset_after: Duration = Field(
        60.0, description="A service up this long is healthy again: backoff starts over."
    )

    @model_validator(mode="after")
    def _initial_within_max(self) -> Backoff:
        # Reported at the key the person wrote (`max: 50ms` alone is below the default initial).
        if self.initial > self.max:
            initial, most = format_duration(self.initial), format_duration(self.max)
            if "initial" in self.model_fields_set:
                raise rule_error(
                    "Backoff", "initial", f"expected a duration <= max ({most}), got {initial}"
                )
            raise rule_error(
                "Backoff", "max", f"expected a duration >= initial ({initial}), got {most}"
            )
        return self


class RestartSpec(StrictModel):
    """Restart policy, backoff and restart intensity of a service."""

    policy: RestartPolicy = Field("on-failure", description="no | on-failure | always.")
    backoff: Backoff = Field(default_factory=Backoff)  # type: ignore[arg-type]
    max_restarts: int = Field(5, ge=0, description="At most this many restarts ...")
    within: Duration = Field(60.0, description="... within this window, else the service fails.")

    @model_validator(mode="before")
    @classmethod
    def _policy_shorthand(cls, data: Any) -> Any:
        # `restart: always` is shorthand for `restart: {policy: always}`; YAML reads an
        # unquoted `no` as false, which means the policy `no` here.
        if isinstance(data, str):
            return {"policy": data}
        if data is False:
            return {"policy": "no"}
        if isinstance(data, dict) and data.get("policy") is False:
            return {**data, "policy": "no"}
        return data


class StopSpec(StrictModel):
    """How a service is stopped."""

    signal: StopSignal = Field(
        signal.SIGTERM,
        description="Signal sent to the process group.",
        json_schema_extra={"default": "SIGTERM"},
    )
    timeout: Duration = Field(10.0, description="Grace period before SIGKILL (or abandonment).")
