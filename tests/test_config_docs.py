"""docs/config.md stays true: every key of the models is documented with its default."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pydantic
import pytest
from pydantic_core import PydanticUndefined

from supervisor.config import load_config_text, parse_duration
from supervisor.config.models import (
    Backoff,
    ConfigFile,
    Dependency,
    HealthProbe,
    HttpSettings,
    LogSettings,
    Probe,
    RestartSpec,
    ServiceConfig,
    StopSpec,
    SupervisorSettings,
)
from supervisor.config.values import parse_size

DOC = (Path(__file__).resolve().parent.parent / "docs" / "config.md").read_text()

MODELS: list[type[pydantic.BaseModel]] = [
    ConfigFile,
    SupervisorSettings,
    HttpSettings,
    ServiceConfig,
    Dependency,
    Probe,
    HealthProbe,
    RestartSpec,
    Backoff,
    StopSpec,
    LogSettings,
]

SECTIONS: dict[type[pydantic.BaseModel], str] = {
    ConfigFile: "## Top level",
    SupervisorSettings: "## `supervisor`",
    HttpSettings: "### `supervisor.http`",
    ServiceConfig: "## `services`",
    Dependency: "### `depends_on`",
    Probe: "### `ready` and `health` (probes)",
    HealthProbe: "### `ready` and `health` (probes)",
    RestartSpec: "### `restart`",
    Backoff: "#### `restart.backoff`",
    StopSpec: "### `stop`",
    LogSettings: "### `log`",
}


def _rows(heading: str) -> dict[str, str]:
    """``{key: default cell}`` of the tables between ``heading`` and the next heading."""
    start = DOC.index(heading + "\n")
    end_match = re.compile(r"^#{1,4} ", re.M).search(DOC, start + len(heading))
    section = DOC[start : end_match.start() if end_match else len(DOC)]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[2]
    return rows


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_is_in_the_doc(model: type[pydantic.BaseModel]) -> None:
    for name in model.model_fields:
        assert f"`{name}`" in DOC, f"{model.__name__}.{name} is not in docs/config.md"


def _matches(default: Any, cell: str, name: str = "") -> bool:
    tokens = re.findall(r"`([^`]*)`", cell)
    if default is PydanticUndefined:
        return cell == "required"
    if default is None:
        return cell == "none"
    if isinstance(default, pydantic.BaseModel):
        return cell.startswith("see ") or cell == "`{}`"
    if isinstance(default, dict):
        return tokens == ["{}"]
    if isinstance(default, bool):
        return str(default).lower() in tokens
    if isinstance(default, signal.Signals):
        return default.name in tokens
    if isinstance(default, float):
        for token in tokens:
            try:
                if parse_duration(token) == pytest.approx(default):
                    return True
            except ValueError:
                continue
        return False
    if isinstance(default, int) and name == "max_size":  # a size, written as one
        return any(_size(token) == default for token in tokens)
    return str(default) in tokens


def _size(token: str) -> int | None:
    try:
        return parse_size(token)
    except ValueError:
        return None


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_has_a_row_with_its_true_default(model: type[pydantic.BaseModel]) -> None:
    rows = _rows(SECTIONS[model])
    for name, field in model.model_fields.items():
        assert name in rows, f"{model.__name__}.{name}: no row under {SECTIONS[model]!r}"
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        assert _matches(default, rows[name], name), (
            f"{model.__name__}.{name}: the doc says {rows[name]!r}, the default is {default!r}"
        )


def test_complete_yaml_examples_in_the_doc_load() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
    complete = [block for block in blocks if "services:" in block and "..." not in block]
    assert len(complete) >= 2
    for block in complete:
        load_config_text(block, "docs/config.md", {})
