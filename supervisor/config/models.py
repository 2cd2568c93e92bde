"""Pydantic models of the YAML service file.

Every model forbids unknown keys, so a typo is an error rather than a silently ignored
setting. Durations are stored as seconds (``float``) and signals as ``signal.Signals``.
"""

from __future__ import annotations

import math
import re
import shlex
import signal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

_DURATION_RE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h)\s*)+$|^\s*\d+(?:\.\d+)?\s*$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_DURATION_HINT = "expected a duration such as 250ms, 5s, 2m, 1h, 1m30s or a number of seconds"


def parse_duration(value: Any) -> float:
    """Turn ``250ms``, ``5s``, ``2m``, ``1h``, ``1m30s`` or a number of seconds into seconds."""
    if isinstance(value, bool):
        raise ValueError(_DURATION_HINT)
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and _DURATION_RE.match(value):
        seconds = sum(
            float(number) * _UNIT_SECONDS[unit or None]
            for number, unit in _DURATION_PART.findall(value)
        )
    else:
        raise ValueError(_DURATION_HINT)
    if not math.isfinite(seconds):
        raise ValueError("expected a finite duration")
    if seconds < 0:
        raise ValueError("expected a duration >= 0")
    return seconds


def parse_signal(value: Any) -> signal.Signals:
    """Turn ``SIGTERM``, ``TERM`` or a signal number into a ``signal.Signals``."""
    if isinstance(value, signal.Signals):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return signal.Signals(value)
        except ValueError:
            pass
    elif isinstance(value, str):
        name = value.strip().upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        if name in signal.Signals.__members__:
            return signal.Signals[name]
    raise ValueError("expected a signal name such as SIGTERM, SIGINT, SIGQUIT, SIGHUP or SIGKILL")


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _DURATION_RE.pattern},
                {"type": "number", "minimum": 0},
            ],
            "description": "A duration: 250ms, 5s, 2m, 1h, 1m30s or a number of seconds.",
        }
    ),
]
"""A duration in seconds, written ``250ms``, ``5s``, ``2m``, ``1h``, ``1m30s`` or as a number."""

SignalName = Annotated[
    signal.Signals,
    BeforeValidator(parse_signal),
    PlainSerializer(lambda s: s.name, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "enum": sorted(signal.Signals.__members__),
            "description": "A signal name such as SIGTERM.",
        }
    ),
]
"""A POSIX signal, written by name (``SIGTERM``)."""


def _number_as_text(value: Any) -> Any:
    # `command: [sleep, 5]` and `env: {PORT: 8000}`: a number is the text it was written as.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_number_as_text)]
"""A string; a number given instead is taken as its text (``5`` -> ``"5"``)."""

SERVICE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
"""What a service name may look like: letters, digits, ``_``, ``-``, ``.``."""


def _service_name(value: str) -> str:
    if not SERVICE_NAME_RE.fullmatch(value):
        raise ValueError(
            f"invalid service name {value!r}: expected letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return value


ServiceName = Annotated[
    str,
    AfterValidator(_service_name),
    WithJsonSchema({"type": "string", "pattern": f"^{SERVICE_NAME_RE.pattern}$"}),
]
"""The name of a service (a key of ``services:``)."""

Condition = Literal["started", "ready", "completed"]
"""What a dependent waits for: the dependency started, became ready, or (a one-shot) completed."""

RestartPolicy = Literal["no", "on-failure", "always"]
"""When a service that stopped by itself is started again."""


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Backoff(StrictModel):
    """Exponential backoff between restarts."""

    initial: Duration = Field(0.1, description="Delay before the first restart.")
    max: Duration = Field(30.0, description="Upper bound of the delay.")
    multiplier: float = Field(2.0, ge=1.0, description="Factor applied to the delay per restart.")
    jitter: float = Field(
        0.1, ge=0.0, le=1.0, description="Random fraction (+/-) applied to each delay."
    )
    reset_after: Duration = Field(
        60.0, description="A service up this long is healthy again: backoff starts over."
    )


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

    signal: SignalName = Field(signal.SIGTERM, description="Signal sent to the process group.")
    timeout: Duration = Field(10.0, description="Grace period before SIGKILL (or abandonment).")


PROBE_KINDS = ("tcp", "http", "exec", "log", "file", "notify")


class Probe(StrictModel):
    """A readiness check: exactly one of tcp, http, exec, log, file or notify."""

    tcp: str | None = Field(None, description="host:port that must accept a connection.")
    http: str | None = Field(None, description="URL that must answer GET with `status`.")
    exec: list[Text] | str | None = Field(
        None, description="Command that must exit 0 (a list, or a string split like a shell)."
    )
    log: str | None = Field(None, description="Regex that a line of output must match.")
    file: str | None = Field(None, description="Path that must exist.")
    notify: bool | None = Field(None, description="Wait for READY=1 on NOTIFY_SOCKET.")
    status: int = Field(200, ge=100, le=599, description="Expected HTTP status (http only).")
    interval: Duration = Field(0.25, description="Delay between two attempts.")
    timeout: Duration = Field(1.0, description="Bound on one attempt.")
    watchdog: Duration | None = Field(
        None, description="notify only: restart when WATCHDOG=1 is not received this often."
    )

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Probe:
        given = [kind for kind in PROBE_KINDS if getattr(self, kind) not in (None, False)]
        if len(given) != 1:
            raise ValueError(
                "expected exactly one probe kind of "
                + ", ".join(PROBE_KINDS)
                + (f", got {len(given)}: {', '.join(given)}" if given else ", got none")
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


class ServiceConfig(StrictModel):
    """One service: a process (``command``) or an in-process async callable (``run``)."""

    command: list[Text] | None = Field(
        None,
        description="Program and arguments of a process; a string is split like a shell "
        "(never run through one unless `shell: true`).",
    )
    shell: bool = Field(False, description="Run `command` (a string) through /bin/sh -c.")
    run: str | None = Field(
        None, description="'package.module:callable': an async callable run in-process."
    )
    args: dict[str, Any] = Field(
        default_factory=dict, description="Keyword data for a `run` service (ctx.args)."
    )
    env: dict[str, Text] = Field(
        default_factory=dict, description="Extra environment variables of the process."
    )
    cwd: str | None = Field(None, description="Working directory of the process.")
    user: str | int | None = Field(
        None,
        description="Run the process as this user (name or uid); the supervisor must be root.",
    )
    group: str | int | None = Field(
        None, description="Run the process with this group (name or gid); default: the user's."
    )
    oneshot: bool = Field(
        False, description="A task that runs once: `completed` when it exits 0, not restarted."
    )
    depends_on: dict[str, Condition] = Field(
        default_factory=dict,
        description="Services this one waits for: a list of names (condition `ready`) or a "
        "mapping name: started | ready | completed.",
    )
    ready: Probe | None = Field(None, description="Readiness probe (processes).")
    health: HealthProbe | None = Field(None, description="Liveness probe (processes).")
    restart: RestartSpec = Field(
        default_factory=RestartSpec,  # type: ignore[arg-type]
        description="Restart policy, backoff and intensity.",
    )
    stop: StopSpec = Field(
        default_factory=StopSpec,  # type: ignore[arg-type]
        description="Stop signal and timeout.",
    )
    start_timeout: Duration = Field(30.0, description="Bound on starting and becoming ready.")

    @model_validator(mode="before")
    @classmethod
    def _normalize(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        command = data.get("command")
        if data.get("shell") is True:
            if isinstance(command, str):
                data["command"] = ["/bin/sh", "-c", command]
            elif command is not None:
                raise ValueError("`shell: true` expects `command` as one string")
        deps = data.get("depends_on")
        if isinstance(deps, str):
            data["depends_on"] = {deps: "ready"}
        elif isinstance(deps, list | tuple):
            if not all(isinstance(dep, str) for dep in deps):
                raise ValueError(
                    "depends_on: expected a list of service names, or a mapping of "
                    "name: started | ready | completed"
                )
            data["depends_on"] = dict.fromkeys(deps, "ready")
        return data

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split {value!r} like a shell: {exc}") from None

    @field_validator("command")
    @classmethod
    def _non_empty_command(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("expected a non-empty command")
        return value

    @field_validator("run")
    @classmethod
    def _import_path(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", value):
            raise ValueError("expected 'package.module:callable'")
        return value

    @model_validator(mode="after")
    def _command_xor_run(self) -> ServiceConfig:
        if (self.command is None) == (self.run is None):
            raise ValueError(
                "expected exactly one of `command` (a process) or `run` (an async callable)"
            )
        if self.shell and self.command is None:
            raise ValueError("`shell: true` applies to `command` only")
        if (self.user is not None or self.group is not None) and self.command is None:
            raise ValueError("`user` and `group` apply to processes (`command`) only")
        return self

    @property
    def is_process(self) -> bool:
        """True for a subprocess service, False for an in-process callable."""
        return self.command is not None


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
    control_socket: str | None = Field(None, description="Path of the control socket.")


class ConfigFile(StrictModel):
    """The whole file: ``version``, ``supervisor`` settings and ``services``.

    Top-level keys starting with ``x-`` are ignored: a place for YAML anchors that
    services merge in with ``<<: *name``.
    """

    model_config = ConfigDict(json_schema_extra={"patternProperties": {"^x-": {}}})

    version: Literal[1] = Field(1, description="Format version; only 1 exists.")
    supervisor: SupervisorSettings = Field(
        default_factory=SupervisorSettings,  # type: ignore[arg-type]
        description="Settings of the supervisor itself.",
    )
    services: dict[ServiceName, ServiceConfig] = Field(description="The services, by name.")

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                key: value
                for key, value in data.items()
                if not (isinstance(key, str) and key.startswith("x-"))
            }
        return data
