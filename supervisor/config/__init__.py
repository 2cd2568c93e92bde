"""Config models and loading: the YAML file, validated, with file:line:column errors."""

from supervisor.config.errors import ConfigError, ErrorRecord
from supervisor.config.loader import check_graph, load_config, load_config_data, load_config_text
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
from supervisor.config.schema import json_schema

__all__ = [
    "Backoff",
    "Condition",
    "ConfigError",
    "ConfigFile",
    "ErrorRecord",
    "HealthProbe",
    "Probe",
    "RestartPolicy",
    "RestartSpec",
    "ServiceConfig",
    "StopSpec",
    "SupervisorSettings",
    "check_graph",
    "json_schema",
    "load_config",
    "load_config_data",
    "load_config_text",
    "parse_duration",
    "parse_signal",
]
