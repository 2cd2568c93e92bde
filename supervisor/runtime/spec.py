"""What the runtime knows about one service, and the seam that makes it callable.

A service is an async callable ``fn(ctx, *, task_status)``: a Python callable given in
code, a ``run: 'pkg.module:callable'`` from the config file, or a ``command:`` process
(``supervisor.services.process.ProcessService``). :func:`service_callable` is the one
place where a spec becomes that callable.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from supervisor.config.errors import ConfigError, ErrorRecord
from supervisor.config.models import (
    Condition,
    RestartSpec,
    ServiceConfig,
    StopSpec,
    parse_duration,
)
from supervisor.config.run_targets import TargetError, import_target
from supervisor.runtime.errors import SupervisorError

ServiceCallable = Callable[..., Awaitable[Any]]
"""``async def fn(ctx: ServiceContext, *, task_status=TASK_STATUS_IGNORED) -> None``."""

DependsOn = Mapping[str, Condition] | list[str] | tuple[str, ...] | str | None
"""``depends_on=`` in code: a name, names (condition ``ready``), or ``{name: condition}``."""

RestartOption = RestartSpec | Mapping[str, Any] | str | None
"""``restart=`` in code: a policy name, or a mapping like the YAML ``restart:`` section."""

PROCESS_STOP_GRACE = 10.0
"""Extra time a process gets past its stop timeout (it is SIGKILLed and reaped in it)."""


@dataclass(eq=False)
class ServiceSpec:
    """One service as the runtime runs it (built from a config entry or from code)."""

    name: str
    depends_on: dict[str, Condition] = field(default_factory=dict)
    restart: RestartSpec = field(default_factory=RestartSpec)  # type: ignore[arg-type]
    stop: StopSpec = field(default_factory=StopSpec)  # type: ignore[arg-type]
    start_timeout: float | None = 30.0
    oneshot: bool = False
    args: dict[str, Any] = field(default_factory=dict)
    config: ServiceConfig | None = None
    target: ServiceCallable | None = None
    origin: Literal["code", "config"] = "code"
    enabled: bool = True
    survives_restart_of: frozenset[str] = frozenset()
    """Dependencies whose restart does not restart this service (``restart: false``)."""
    group: str | None = None
    """The replicated service this is an instance of (``web`` for ``web.1``)."""
    index: int | None = None
    """The replica index (``1`` for ``web.1``)."""
    template: ServiceConfig | None = None
    """The replicated service's definition, from which more instances are made."""

    @property
    def is_process(self) -> bool:
        """True for a ``command:`` service (a subprocess)."""
        return self.config is not None and self.config.is_process

    @property
    def kind(self) -> str:
        """``process`` or ``python``."""
        return "process" if self.is_process else "python"

    @property
    def stop_grace(self) -> float:
        """How long a stopping service may take before it is reported and abandoned."""
        return self.stop.timeout + (PROCESS_STOP_GRACE if self.is_process else 0.0)

    @classmethod
    def from_config(cls, name: str, config: ServiceConfig) -> ServiceSpec:
        """The spec of a config-file entry that is not replicated (see :meth:`of_replica`);
        a ``run:`` callable is imported now."""
        return cls._from_instance(name, config.instance(None))

    @classmethod
    def of_replica(cls, group: str, config: ServiceConfig, index: int) -> ServiceSpec:
        """The spec of replica ``index`` of the replicated config entry ``group``."""
        spec = cls._from_instance(f"{group}.{index}", config.instance(index))
        spec.group, spec.index, spec.template = group, index, config
        return spec

    @classmethod
    def _from_instance(cls, name: str, config: ServiceConfig) -> ServiceSpec:
        target = import_callable(name, config.run) if config.run is not None else None
        return cls(
            name=name,
            depends_on=config.conditions,
            survives_restart_of=config.survives_restart_of,
            enabled=config.enabled,
            restart=config.restart,
            stop=config.stop,
            start_timeout=config.start_timeout,
            oneshot=config.oneshot,
            args=dict(config.args),
            config=config,
            target=target,
            origin="config",
        )

    @classmethod
    def from_options(
        cls,
        name: str,
        fn: ServiceCallable,
        *,
        depends_on: DependsOn = None,
        restart: RestartOption = None,
        oneshot: bool = False,
        start_timeout: float | str | None = 30.0,
        stop_timeout: float | str = 10.0,
        args: Mapping[str, Any] | None = None,
    ) -> ServiceSpec:
        """The spec of a service declared in code (``sup.add`` / ``@sup.service``)."""
        if not callable(fn):
            raise SupervisorError(f"service {name!r}: expected an async callable, got {fn!r}")
        return cls(
            name=name,
            depends_on=normalize_depends_on(name, depends_on),
            restart=_restart_spec(name, restart),
            stop=_stop_spec(parse_duration(stop_timeout)),
            start_timeout=None if start_timeout is None else parse_duration(start_timeout),
            oneshot=oneshot,
            args=dict(args or {}),
            target=fn,
        )


def normalize_depends_on(name: str, value: DependsOn) -> dict[str, Condition]:
    """``"db"``, ``["db"]`` or ``{"db": "ready"}`` as ``{"db": "ready"}``."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {value: "ready"}
    if isinstance(value, Mapping):
        result: dict[str, Condition] = {}
        for dep, condition in value.items():
            if condition not in ("started", "ready", "completed"):
                raise SupervisorError(
                    f"service {name!r}: depends_on[{dep!r}]: expected started, ready or "
                    f"completed, got {condition!r}"
                )
            result[dep] = condition
        return result
    return dict.fromkeys(value, "ready")


@functools.cache
def _default_restart_spec() -> RestartSpec:
    # Config models are frozen: services declared in code share the default ones instead
    # of holding six more objects each for the cyclic collector.
    return RestartSpec()  # type: ignore[call-arg]


@functools.lru_cache(maxsize=64)
def _stop_spec(timeout: float) -> StopSpec:
    return StopSpec(timeout=timeout)  # type: ignore[call-arg]


def _restart_spec(name: str, value: RestartSpec | Mapping[str, Any] | str | None) -> RestartSpec:
    if value is None:
        return _default_restart_spec()
    if isinstance(value, RestartSpec):
        return value
    try:
        return RestartSpec.model_validate(value)
    except ValueError as exc:
        raise SupervisorError(f"service {name!r}: invalid restart option: {exc}") from None


def import_callable(name: str, path: str) -> ServiceCallable:
    """Import ``'package.module:attr.path'``; a ``ConfigError`` naming the service if not.

    A file loaded with ``import_targets=True`` (``supervisor check`` and ``run``) has
    reported a bad target at its line already; this is for configs built otherwise.
    """
    try:
        return import_target(path)
    except TargetError as exc:
        raise ConfigError(
            [ErrorRecord(0, 0, f"services.{name}.run", str(exc), "<config>")]
        ) from None


def service_callable(spec: ServiceSpec) -> ServiceCallable:
    """The seam: the async callable that runs ``spec`` (one per run for a process)."""
    if spec.target is not None:
        return spec.target
    if spec.config is not None and spec.config.is_process:
        from supervisor.services.process import ProcessService

        return ProcessService(spec.name, spec.config)
    raise SupervisorError(f"service {spec.name!r} has nothing to run")
