"""Whatever the input, loading gives a config or a clean ConfigError, never another error."""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor.config import ConfigError, ConfigFile, load_config_data, load_config_text, yaml_tree
from supervisor.config.models import (
    Backoff,
    HealthProbe,
    RestartSpec,
    ServiceConfig,
    StopSpec,
    SupervisorSettings,
)

# FUZZ_EXAMPLES=5000 pytest tests/test_config_fuzz.py for a longer hunt.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "80"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

KEYS = sorted(
    {
        name
        for model in (
            ConfigFile,
            ServiceConfig,
            RestartSpec,
            Backoff,
            StopSpec,
            HealthProbe,
            SupervisorSettings,
        )
        for name in model.model_fields
    }
    | {"api", "db", "x-base", "<<", "1", "yes"}
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "5s",
            "250ms",
            "1m30s",
            "SIGTERM",
            "SIGFOO",
            "ready",
            "completed",
            "on-failure",
            "always",
            "no",
            "m:f",
            "a.b:c",
            "${HOME}",
            "${NOPE}",
            "${X:-d}",
            "$$",
            "${",
            "[]",
            "db",
            "api",
            "127.0.0.1:1",
            "echo 'x",
            "-1",
            "many",
            "x-",
        ]
    ),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8))
data_keys = st.one_of(keys, st.integers(), st.none(), st.tuples(st.integers()))
nested = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=20,
)


def _service() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(KEYS), nested, max_size=6)


documents = st.one_of(
    nested,
    st.fixed_dictionaries(
        {
            "services": st.dictionaries(
                st.sampled_from(["api", "db", "web", "a b", "1"]), _service(), max_size=4
            )
        },
        optional={
            "supervisor": st.dictionaries(st.sampled_from(KEYS), nested, max_size=3),
            "version": scalars,
        },
    ),
)


def _load(text: str) -> None:
    try:
        config = load_config_text(text, "fuzz.yaml", {"HOME": "/home/me"})
    except ConfigError as exc:
        assert exc.errors, "a ConfigError always lists at least one error"
        for error in exc.errors:
            assert error.file == "fuzz.yaml" and error.line >= 1 and error.column >= 1
            assert error.message and "Traceback" not in error.message
            assert str(error).startswith(f"fuzz.yaml:{error.line}:{error.column}: ")
    else:
        assert isinstance(config, ConfigFile)


@SETTINGS
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    _load(text)


YAML_BITS = [
    "services:",
    "\n",
    "  ",
    "    ",
    "- ",
    ": ",
    "api",
    "db",
    "command",
    "run",
    "depends_on",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: ",
    "!!str ",
    "!!int ",
    "!!set ",
    "!!binary ",
    "!!timestamp ",
    "!!float ",
    "!custom ",
    "? ",
    "'",
    '"',
    "#",
    "---",
    "...",
    "|",
    ">",
    "${HOME}",
    "${NOPE}",
    "$$",
    "x",
    "1",
    "-1",
    "0x1F",
    ".nan",
    "~",
    "yes",
    "2020-01-01",
    "\t",
    "%YAML 1.1\n",
    "\\u0000",
]


@SETTINGS
@given(st.lists(st.sampled_from(YAML_BITS), max_size=60))
def test_random_yaml_shaped_text(bits: list[str]) -> None:
    _load("".join(bits))


@SETTINGS
@given(documents)
def test_random_documents(document: Any) -> None:
    _load(yaml.safe_dump(document, allow_unicode=True))


data_nested = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(data_keys, children, max_size=5)
    ),
    max_leaves=20,
)
data_documents = st.one_of(
    documents,
    data_nested,
    st.fixed_dictionaries(
        {
            "services": st.dictionaries(
                data_keys,
                st.dictionaries(st.sampled_from(KEYS), data_nested, max_size=6),
                max_size=4,
            )
        }
    ),
)


@SETTINGS
@given(data_documents)
def test_random_nested_structures_as_data(document: Any) -> None:
    try:
        load_config_data(document)
    except ConfigError as exc:
        assert exc.errors


@settings(
    max_examples=max(EXAMPLES // 3, 1), deadline=None, suppress_health_check=list(HealthCheck)
)
@given(st.lists(st.sampled_from(YAML_BITS), max_size=40))
def test_the_pure_python_parser_too(bits: list[str]) -> None:
    saved = yaml_tree._FAST_LOADER
    yaml_tree._FAST_LOADER = None
    try:
        _load("".join(bits))
    finally:
        yaml_tree._FAST_LOADER = saved


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "pure-python"])
def test_both_parsers_agree_on_a_valid_file(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not fast:
        monkeypatch.setattr(yaml_tree, "_FAST_LOADER", None)
    text = (
        "x-base: &base {restart: always}\n"
        "services:\n"
        "  db: {<<: *base, command: [sleep, 5], env: {N: 010}}\n"
        "  api: {run: 'm:f', depends_on: [db]}\n"
    )
    config = load_config_text(text, "t.yaml", {})
    assert config.services["db"].command == ["sleep", "5"]
    assert config.services["db"].env == {"N": "010"}
    assert config.services["db"].restart.policy == "always"
    with pytest.raises(ConfigError, match="duplicate key"):
        load_config_text("services: {a: {run: 'm:f'}, a: {run: 'm:f'}}", "t.yaml", {})
    with pytest.raises(ConfigError, match="nested deeper than 200 levels"):
        load_config_text("[" * 5000, "t.yaml", {})
    with pytest.raises(ConfigError, match="nested deeper than 200 levels"):
        load_config_text("a:\n" + "".join(" " * i + "- \n" for i in range(1, 300)), "t", {})
