"""Whatever the input, loading gives a config or a clean ConfigError, never another error."""

from __future__ import annotations

import math
import os
import re
import signal
import warnings
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor.config import (
    ConfigError,
    ConfigFile,
    ErrorRecord,
    load_config_data,
    load_config_text,
    yaml_tree,
)
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


# -- Targeted fuzzing: one value at a known place, with an oracle for its meaning -------

ENV = {"HOME": "/home/me", "EMPTY": "", "DOLLAR": "a$$b${HOME}"}


def _scalar(value: Any) -> str:
    """``value`` as a YAML scalar on one line (strings double-quoted, escaped)."""
    if isinstance(value, str):
        return '"' + "".join(map(_escaped, value)) + '"'
    return yaml.safe_dump(value, width=10**6).split("\n")[0]


def _escaped(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    if " " <= char <= "~":
        return char
    return f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"


def _load_service(lines: list[str], value_line: int) -> ConfigFile | list[ErrorRecord]:
    """Load service ``a`` (``command: [x]`` plus ``lines``); the config, or its errors.

    Every error must be a clean record of this file, at or after line ``value_line``
    (where the fuzzed value sits) and under ``services.a``.
    """
    text = "services:\n  a:\n    command: [x]\n" + "".join(f"    {line}\n" for line in lines)
    try:
        return load_config_text(text, "f.yaml", ENV)
    except ConfigError as exc:
        assert exc.errors
        for error in exc.errors:
            assert error.file == "f.yaml" and error.column >= 1
            assert value_line <= error.line <= 3 + len(lines), str(error)
            assert error.path.startswith("services.a."), str(error)
            assert error.message and "Traceback" not in error.message
        return exc.errors


literal_text = st.text(
    alphabet=st.characters(
        blacklist_characters="${}", blacklist_categories=("Cs",), max_codepoint=0x2FF
    ),
    max_size=5,
)
# (written, what it becomes); None: an error naming the variable.
interpolation_tokens = st.one_of(
    literal_text.map(lambda text: (text, text)),
    st.just(("$$", "$")),
    st.sampled_from(["HOME", "EMPTY", "DOLLAR"]).map(lambda n: (f"${{{n}}}", ENV[n])),
    st.tuples(st.sampled_from(["HOME", "UNSET"]), literal_text).map(
        lambda p: (f"${{{p[0]}:-{p[1]}}}", ENV.get(p[0], p[1]))
    ),
    st.just(("${UNSET}", None)),
    st.just(("$HOME", "$HOME")),  # no braces: left as is
)
malformed_endings = st.sampled_from(["${", "${1}", "${HOME", "${A:-x", "${-}", "${ HOME}"])


@SETTINGS
@given(st.lists(interpolation_tokens, max_size=6), st.none() | malformed_endings)
def test_env_interpolation_means_what_it_says(
    tokens: list[tuple[str, str | None]], ending: str | None
) -> None:
    written = "".join(text for text, _ in tokens) + (ending or "")
    result = _load_service(["env:", f"  V: {_scalar(written)}"], value_line=5)
    unset = any(value is None for _, value in tokens)
    if isinstance(result, ConfigFile):
        assert not unset and ending is None
        assert result.services["a"].env["V"] == "".join(str(value) for _, value in tokens)
        return
    assert unset or ending is not None
    assert {(e.line, e.column, e.path) for e in result} == {(5, 10, "services.a.env.V")}
    messages = " ".join(e.message for e in result)
    assert ("${UNSET} is not set and has no default" in messages) == unset
    assert ("invalid variable reference" in messages) == (ending is not None)


UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
duration_parts = st.lists(
    st.tuples(
        st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,3})?", fullmatch=True), st.sampled_from(sorted(UNITS))
    ),
    min_size=1,
    max_size=3,
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True),
)


def _seconds(number: float) -> float | None:
    """What a number means as a duration, or None when it is not one."""
    try:
        seconds = float(number)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


@SETTINGS
@given(st.one_of(duration_parts, numbers, st.text(max_size=8)))
def test_durations_are_exact_or_a_clean_error(value: Any) -> None:
    if isinstance(value, list):  # "1.5s", "2m30s", "100ms"...
        written: Any = "".join(number + unit for number, unit in value)
        expected = sum(float(number) * UNITS[unit] for number, unit in value)
    else:
        written = value
        expected = _seconds(value) if not isinstance(value, str) else None
    result = _load_service([f"start_timeout: {_scalar(written)}"], value_line=4)
    if isinstance(result, ConfigFile):
        seconds = result.services["a"].start_timeout
        assert math.isfinite(seconds) and seconds >= 0
        if expected is not None:
            assert seconds == pytest.approx(expected)
        return
    assert not isinstance(value, list) or not math.isfinite(expected)
    assert expected is None
    assert {(e.line, e.column, e.path) for e in result} == {(4, 20, "services.a.start_timeout")}


def _signal_spellings() -> st.SearchStrategy[tuple[Any, signal.Signals | None]]:
    names = st.sampled_from(sorted(signal.Signals.__members__))
    cased = st.tuples(names, st.booleans(), st.sampled_from([str.upper, str.lower, str.title]))
    return st.one_of(
        cased.map(lambda c: (c[2](c[0] if c[1] else c[0][3:]), signal.Signals.__members__[c[0]])),
        st.sampled_from(list(signal.Signals)).map(lambda s: (int(s), s)),
        st.sampled_from(list(signal.Signals)).map(lambda s: (str(int(s)), s)),
        st.one_of(st.integers(), st.text(max_size=6)).map(lambda garbage: (garbage, None)),
    )


@SETTINGS
@given(_signal_spellings())
def test_stop_signals_by_name_or_number(spelling: tuple[Any, signal.Signals | None]) -> None:
    written, meant = spelling
    result = _load_service(["stop:", f"  signal: {_scalar(written)}"], value_line=5)
    if isinstance(result, ConfigFile):
        got = result.services["a"].stop.signal
        assert got != signal.SIGSTOP
        assert meant is None or got == meant  # garbage may still spell a signal (" 9")
        return
    assert {(e.line, e.path) for e in result} == {(5, "services.a.stop.signal")}
    assert meant is None or meant == signal.SIGSTOP
    if meant == signal.SIGSTOP:
        assert result[0].message.startswith("SIGSTOP suspends a process")


RESTART_FIELDS = {
    "max_restarts": "max_restarts",
    "within": "within",
    "initial": "backoff.initial",
    "max": "backoff.max",
    "multiplier": "backoff.multiplier",
    "jitter": "backoff.jitter",
}


def _restart_is_valid(values: dict[str, Any]) -> bool:
    """The oracle: what a person expects of restart numbers."""
    max_restarts = values.get("max_restarts", 5)  # 3.0 is 3; 2.5 is no count
    whole = isinstance(max_restarts, int) or (
        math.isfinite(max_restarts) and max_restarts.is_integer() and abs(max_restarts) < 2**63
    )
    if not whole or max_restarts < 0:
        return False
    durations = {
        key: _seconds(values.get(key, default))
        for key, default in (("within", 60), ("initial", 0.1), ("max", 30))
    }
    if None in durations.values():
        return False
    factors = {
        key: _seconds(values.get(key, default))
        for key, default in (("multiplier", 2), ("jitter", 0.1))
    }
    multiplier, jitter = factors["multiplier"], factors["jitter"]
    if multiplier is None or multiplier < 1 or jitter is None or jitter > 1:
        return False
    return durations["initial"] <= durations["max"]  # type: ignore[operator]


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(sorted(RESTART_FIELDS)),
        st.one_of(numbers, st.integers(min_value=0, max_value=100)),
        min_size=1,
        max_size=6,
    )
)
def test_restart_numbers_are_valid_or_a_clean_error(values: dict[str, Any]) -> None:
    backoff = {k: v for k, v in values.items() if RESTART_FIELDS[k].startswith("backoff.")}
    top = {k: v for k, v in values.items() if k not in backoff}
    lines = ["restart:"] + [f"  {key}: {_scalar(value)}" for key, value in top.items()]
    if backoff:
        lines.append("  backoff:")
        lines += [f"    {key}: {_scalar(value)}" for key, value in backoff.items()]
    result = _load_service(lines, value_line=5)
    assert isinstance(result, ConfigFile) == _restart_is_valid(values), result
    if isinstance(result, ConfigFile):
        restart = result.services["a"].restart
        assert restart.backoff.initial <= restart.backoff.max
        assert all(map(math.isfinite, [restart.within, restart.backoff.multiplier]))
    else:
        wrong = {f"services.a.restart.{RESTART_FIELDS[key]}" for key in values}
        assert {error.path for error in result} <= wrong


ports = st.integers(min_value=-5, max_value=70_000)
hosts = st.sampled_from(["", "127.0.0.1", "localhost", "[::1]", "db.internal"])


@SETTINGS
@given(st.one_of(st.tuples(hosts, ports), st.text(max_size=12)))
def test_tcp_addresses(address: tuple[str, int] | str) -> None:
    written = address if isinstance(address, str) else f"{address[0]}:{address[1]}"
    result = _load_service([f"ready: {{tcp: {_scalar(written)}}}"], value_line=4)
    if isinstance(address, tuple):
        assert isinstance(result, ConfigFile) == (1 <= address[1] <= 65535)
    if isinstance(result, ConfigFile):
        probe = result.services["a"].ready
        assert probe is not None and probe.tcp is not None
        # surrounding whitespace is allowed, as the probe strips it (str.strip: \x1c-\x1f too)
        assert 1 <= int(probe.tcp.rpartition(":")[2].strip()) <= 65535
    else:
        assert {(e.line, e.path) for e in result} == {(4, "services.a.ready.tcp")}


urls = st.tuples(
    st.sampled_from(["http", "https", "HTTP", "ftp", "", "http:", "unix"]),
    st.sampled_from(["://", ":/", ""]),
    st.sampled_from(["127.0.0.1", "", "[::1]", "[::1", "h"]),
    st.sampled_from(["", ":80", ":0", ":99999", ":x"]),
    st.sampled_from(["", "/", "/health?x=1"]),
).map("".join)


@SETTINGS
@given(st.one_of(urls, st.text(max_size=12)))
def test_http_urls(url: str) -> None:
    result = _load_service([f"health: {{http: {_scalar(url)}}}"], value_line=4)
    if isinstance(result, ConfigFile):
        probe = result.services["a"].health
        assert probe is not None and probe.http == url
        parts = urlsplit(url)
        assert parts.scheme.lower() in ("http", "https") and parts.hostname
        assert parts.port is None or 1 <= parts.port <= 65535
    else:
        assert {(e.line, e.path) for e in result} == {(4, "services.a.health.http")}


@SETTINGS
@given(st.text(alphabet=st.sampled_from("ab()[]{}*+?|\\^.1,-"), max_size=12))
def test_log_regexes(pattern: str) -> None:
    result = _load_service([f"ready: {{log: {_scalar(pattern)}}}"], value_line=4)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(pattern)
        compiles = True
    except (re.error, OverflowError, RecursionError):
        compiles = False
    assert isinstance(result, ConfigFile) == compiles
    if not compiles:
        assert isinstance(result, list)
        (error,) = result
        assert (error.line, error.path) == (4, "services.a.ready.log")
        assert error.message.startswith("invalid regex: ")


@SETTINGS
@given(st.one_of(scalars, st.lists(scalars, max_size=3)))
def test_commands_name_a_program(command: Any) -> None:
    written = f"[{', '.join(map(_scalar, command))}]" if isinstance(command, list) else None
    text = f"services:\n  a:\n    command: {written or _scalar(command)}\n"
    try:
        config = load_config_text(text, "f.yaml", ENV)
    except ConfigError as exc:
        for error in exc.errors:  # `command: null` is no command: reported on the service
            assert error.line == 3 and error.path.startswith("services.a"), str(error)
        return
    argv = config.services["a"].command
    assert argv and all(isinstance(word, str) for word in argv)
    program = command[0] if isinstance(command, list) else command
    # Never a program named after a number; `true` and `false` are programs.
    assert isinstance(program, str | bool)
    if isinstance(program, bool):
        assert argv[0] == str(program).lower()
