"""Pydantic models of the YAML service file.

Every model forbids unknown keys, so a typo is an error rather than a silently ignored
setting. Durations are stored as seconds (``float``) and signals as ``signal.Signals``.
"""

from __future__ import annotations

import os
import re
import signal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from supervisor.config.instances import instance_values, substitute_all
from supervisor.config.listen import ListenAddress, is_loopback, parse_listen
from supervisor.config.probe_targets import HttpUrl, Regex, TcpAddress
from supervisor.config.run_targets import RUN_TARGET_RE
from supervisor.config.values import (
    Duration,
    GroupId,
    PathText,
    Size,
    StopSignal,
    Text,
    UserId,
    check_command,
    format_duration,
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

Condition = Literal["started", "ready", "completed"]
"""What a dependent waits for: the dependency started, became ready, or (a one-shot) completed."""

MAX_REPLICAS = 10_000
"""Bound on ``replicas:`` (each replica is a full service with its own runner)."""

RestartPolicy = Literal["no", "on-failure", "always"]
"""When a service that stopped by itself is started again."""


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Dependency(StrictModel):
    """The long form of one ``depends_on`` entry: ``{condition: ready, restart: false}``."""

    condition: Condition = Field("ready", description="started | ready | completed.")
    restart: bool = Field(
        True,
        description="Restart this service when the dependency restarts (it may hold what "
        "the dependency handed it); false keeps it running.",
    )


def _dependency_form(value: Any) -> str:
    return "Dependency" if isinstance(value, dict | Dependency) else "Condition"


DependencyEntry = Annotated[
    Annotated[Condition, Tag("Condition")] | Annotated[Dependency, Tag("Dependency")],
    Discriminator(_dependency_form),
]
"""A ``depends_on`` value: a condition, or the long form (the tags are union tags the
loader drops from error paths)."""


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


class LogSettings(StrictModel):
    """Where a process's output is written (the ``log`` section of a service)."""

    file: PathText | None = Field(
        None, description="Log file of stdout and stderr (its directory is created)."
    )
    stderr_file: PathText | None = Field(None, description="Separate log file of stderr.")
    max_size: Size = Field(
        50 * 1024 * 1024, description="Rotate a file past this size (512KB, 50MB, 1GB); 0: never."
    )
    keep: int = Field(5, ge=0, le=1000, description="Rotated files kept (NAME.log.1 ...).")
    compress: bool = Field(False, description="Gzip rotated files (NAME.log.1.gz).")
    timestamps: bool = Field(False, description="Start each line in the file with a UTC time.")
    echo: bool | None = Field(
        None,
        description="Also show the lines in the supervisor's log; default: only the streams "
        "without a file.",
    )


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
            return _with_log_dir(data)
        return data


def _with_log_dir(data: dict[str, Any]) -> dict[str, Any]:
    """Give each process service without a log file ``log_dir/NAME.log``."""
    settings = data.get("supervisor")
    log_dir = settings.get("log_dir") if isinstance(settings, dict) else None
    services = data.get("services")
    if not isinstance(log_dir, str) or not isinstance(services, dict):
        return data
    updated = dict(services)
    for name, service in services.items():
        if not isinstance(name, str) or not isinstance(service, dict) or "command" not in service:
            continue
        log = service.get("log")
        if log is None:
            log = {}
        if isinstance(log, dict) and log.get("file") is None:
            # each replica its own file, named like the replica: web.0.log, web.1.log
            stem = f"{name}.${{REPLICA}}" if service.get("replicas") is not None else name
            path = os.path.join(log_dir, f"{stem}.log")
            updated[name] = {**service, "log": {**log, "file": path}}
    return {**data, "services": updated}
