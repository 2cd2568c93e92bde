"""The JSON Schema of service files, for editors (yaml-language-server) and tools.

Pydantic's schema describes the models; the shorthands the loader accepts before the
models see the data (``command`` and ``exec`` as a string, numbers as arguments,
``depends_on`` as a list, ``restart`` as a policy name, ``http`` as an address) are
added here, so that an
editor does not flag valid files.
"""

from __future__ import annotations

from typing import Any

from supervisor.config.models import SERVICE_NAME_RE, ConfigFile


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a service file."""
    schema = ConfigFile.model_json_schema()
    service = schema["$defs"]["ServiceConfig"]["properties"]
    service["command"] = _command(service["command"]["description"])
    for probe in ("Probe", "HealthProbe"):
        properties = schema["$defs"][probe]["properties"]
        properties["exec"] = _command(properties["exec"]["description"])
    service["env"]["additionalProperties"] = {"type": ["string", "number", "boolean"]}
    env_file = service["env_file"]
    service["env_file"] = {
        "description": env_file.pop("description"),
        "default": env_file.pop("default", []),
        "anyOf": [{"type": "string"}, env_file],
    }
    schema["properties"]["include"] = {
        "description": "Files this one builds on (relative to it): merged first, in order, "
        "then this file over them.",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    }
    condition = service["depends_on"]["additionalProperties"]
    service["depends_on"] = {
        "description": service["depends_on"]["description"],
        "anyOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "string"},
            {"type": "object", "additionalProperties": condition},
        ],
    }
    services = schema["properties"]["services"]
    services.pop("patternProperties", None)
    services["propertyNames"] = {"pattern": f"^{SERVICE_NAME_RE.pattern}$"}
    services["additionalProperties"] = {"$ref": "#/$defs/ServiceConfig"}
    restart = service["restart"]
    policy = schema["$defs"]["RestartSpec"]["properties"]["policy"]
    policy.pop("type", None)
    policy["enum"] = [*policy["enum"], False]  # YAML reads an unquoted `no` as false
    service["restart"] = {
        "description": restart.get("description", ""),
        "anyOf": [
            {k: v for k, v in restart.items() if k != "description"},
            {"enum": policy["enum"]},
        ],
    }
    http = schema["$defs"]["SupervisorSettings"]["properties"]["http"]
    http["anyOf"] = [*http["anyOf"], {"type": ["string", "integer"]}]  # `http: ":9100"`
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "structured-supervisor service file",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def _command(description: str) -> dict[str, Any]:
    """A command: a string, or a list whose program is a string (or `true`, `false`...)
    and whose arguments may be numbers and booleans (kept as written)."""
    return {
        "description": description,
        "anyOf": [
            {"type": "string", "minLength": 1},
            {
                "type": "array",
                "prefixItems": [{"type": ["string", "boolean"]}],
                "items": {"type": ["string", "number", "boolean"]},
                "minItems": 1,
            },
            {"type": "null"},
        ],
        "default": None,
    }
