"""Config models and loading: the YAML file, validated, with file:line:column errors."""

from supervisor.config.models import (
    Backoff,
    Condition,
    ConfigFile,
    HealthProbe,
    Probe,
    RestartPolicy,
    RestartSpec,
    ServiceConfig,
    StopSpec,
    SupervisorSettings,
    parse_duration,
    parse_signal,
)

__all__ = [
    "Backoff",
    "Condition",
    "ConfigFile",
    "HealthProbe",
    "Probe",
    "RestartPolicy",
    "RestartSpec",
    "ServiceConfig",
    "StopSpec",
    "SupervisorSettings",
    "parse_duration",
    "parse_signal",
]
