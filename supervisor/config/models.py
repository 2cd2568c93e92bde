"""The top-level models of the YAML service file: a service, and the whole file.

This is also the one place to import any config model from: the parts of a service
(probes, restart and stop, logs, dependencies) and the supervisor's settings are defined
in their own modules and re-exported here. Every model forbids unknown keys (see
:mod:`supervisor.config.base`); durations are stored as seconds (``float``) and signals
as ``signal.Signals``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from supervisor.config.base import StrictModel
from supervisor.config.dependencies import Condition, Dependency, DependencyEntry
from supervisor.config.instances import instance_values, substitute_all
from supervisor.config.lifecycle import Backoff, RestartPolicy, RestartSpec, StopSpec
from supervisor.config.log_settings import LogSettings, with_log_dir
from supervisor.config.probes import PROBE_KINDS, HealthProbe, Probe
from supervisor.config.run_targets import RUN_TARGET_RE
from supervisor.config.settings import HttpSettings, SupervisorSettings
from supervisor.config.values import (
    Duration,
    GroupId,
    PathText,
    StopSignal,
    Text,
    UserId,
    check_command,
    parse_duration,
    parse_signal,
    rule_error,
)

__all__ = [  # parse_duration and parse_signal have always been importable from here
    "PROBE_KINDS",
    "SERVICE_NAME_RE",
    "Backoff",
    "Condition",
    "ConfigFile",
    "Dependency",
    "Duration",
    "HealthProbe",
    "HttpSettings",
    "LogSettings",
    "Probe",
    "RestartPolicy",
    "RestartSpec",
    "ServiceConfig",
    "ServiceName",
    "StopSignal",
    "StopSpec",
    "StrictModel",
    "SupervisorSettings",
    "Text",
    "parse_duration",
    "parse_signal",
]

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

MAX_REPLICAS = 10_000
"""Bound on ``replicas:`` (each replica is a full service with its own runner)."""


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
    env_file: list[PathText] = Field(
        default_factory=list,
        description="dotenv files (a path or a list, relative to the file that names them) "
        "whose variables are added to the process environment; `env` wins over them.",
    )
    cwd: PathText | None = Field(None, description="Working directory of the process.")
    user: UserId | None = Field(
        None,
        description="Run the process as this user (name or uid); the supervisor must be root.",
    )
    group: GroupId | None = Field(
        None, description="Run the process with this group (name or gid); default: the user's."
    )
    oneshot: bool = Field(
        False, description="A task that runs once: `completed` when it exits 0, not restarted."
    )
    depends_on: dict[str, DependencyEntry] = Field(
        default_factory=dict,
        description="Services this one waits for: a list of names (condition `ready`) or a "
        "mapping name: started | ready | completed (or {condition: ..., restart: false}).",
    )
    enabled: bool = Field(
        True, description="false: listed but not started by `run` (`supervisor start` does)."
    )
    replicas: int | None = Field(
        None,
        ge=1,
        le=MAX_REPLICAS,
        description="Run this many instances, named NAME.0 ... NAME.N-1 (${REPLICA} is the index).",
    )
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="PORT of the instance: port + replica index, exported and usable as ${PORT}.",
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
    log: LogSettings | None = Field(None, description="Log files of the output (processes).")

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
        return check_command(value, split=True)

    @field_validator("env_file", mode="before")
    @classmethod
    def _one_env_file(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("run")
    @classmethod
    def _import_path(cls, value: str | None) -> str | None:
        if value is not None and not RUN_TARGET_RE.fullmatch(value):
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
        if self.port is not None and self.port + (self.replicas or 1) - 1 > 65535:
            raise rule_error(
                "ServiceConfig",
                "port",
                f"expected a port such that port + replicas - 1 <= 65535 "
                f"(replicas: {self.replicas})",
                self.port,
            )
        if self.log is not None and self.command is None:
            raise ValueError("`log` applies to processes (`command`) only")
        return self

    @property
    def is_process(self) -> bool:
        """True for a subprocess service, False for an in-process callable."""
        return self.command is not None

    @property
    def conditions(self) -> dict[str, Condition]:
        """``{dependency: condition}`` (the long form of an entry reduced to its condition)."""
        return {
            name: entry.condition if isinstance(entry, Dependency) else entry
            for name, entry in self.depends_on.items()
        }

    @property
    def survives_restart_of(self) -> frozenset[str]:
        """Dependencies whose restart leaves this service running (``restart: false``)."""
        return frozenset(
            name
            for name, entry in self.depends_on.items()
            if isinstance(entry, Dependency) and not entry.restart
        )

    def instance(self, index: int | None) -> ServiceConfig:
        """The definition of one instance: ``${PORT}`` and ``${REPLICA}`` substituted,
        ``PORT`` (and ``REPLICA``) exported in ``env`` (unless ``env`` sets them), and
        ``replicas`` cleared (an instance is one service). ``index`` is ``None`` when the
        service is not replicated."""
        values = instance_values(self.port, self.replicas, index)
        if not values and self.replicas is None:
            return self
        config: ServiceConfig = substitute_all(self, values)
        env = {**values, **config.env} if self.is_process else config.env
        return config.model_copy(update={"env": env, "replicas": None})


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
            data = {
                key: value
                for key, value in data.items()
                if not (isinstance(key, str) and key.startswith("x-"))
            }
            return with_log_dir(data)
        return data
