"""Valid service files: defaults, shorthands, interpolation, merge keys, speed."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from textwrap import dedent

import pytest

from supervisor import graph
from supervisor.config import (
    ConfigError,
    ServiceConfig,
    check_graph,
    load_config,
    load_config_data,
    load_config_text,
    parse_duration,
    parse_signal,
)

ROOT = Path(__file__).resolve().parent.parent


def load(text: str, environ: dict[str, str] | None = None) -> dict[str, ServiceConfig]:
    return load_config_text(dedent(text), "t.yaml", environ or {}).services


def test_the_shape_from_the_issue_loads_with_every_value_typed() -> None:
    services = load(
        """
        version: 1
        supervisor:
          shutdown_timeout: 20s
        services:
          db:
            command: ["python3", "-m", "http.server", "8001"]
            env: {KEY: value}
            cwd: ./srv
            ready: {tcp: "127.0.0.1:8001", timeout: 10s}
            health: {http: "http://127.0.0.1:8001/", interval: 5s, failures: 3}
            restart: {policy: on-failure, backoff: {initial: 100ms, max: 30s},
                      max_restarts: 5, within: 60s}
            stop: {signal: SIGTERM, timeout: 10s}
          migrate:
            command: "python3 migrate.py"
            oneshot: true
            depends_on: [db]
          api:
            run: "myapp.api:serve"
            args: {port: 8000}
            depends_on: {db: ready, migrate: completed}
        """
    )
    db, migrate, api = services["db"], services["migrate"], services["api"]
    assert db.command == ["python3", "-m", "http.server", "8001"]
    assert db.is_process and not api.is_process
    assert db.ready is not None and db.ready.kind == "tcp" and db.ready.timeout == 10.0
    assert db.health is not None and db.health.kind == "http" and db.health.interval == 5.0
    assert db.restart.backoff.initial == 0.1 and db.restart.backoff.max == 30.0
    assert db.stop.signal is signal.SIGTERM and db.stop.timeout == 10.0
    assert migrate.command == ["python3", "migrate.py"] and migrate.oneshot
    assert migrate.depends_on == {"db": "ready"}
    assert api.run == "myapp.api:serve" and api.args == {"port": 8000}
    assert api.depends_on == {"db": "ready", "migrate": "completed"}


def test_defaults() -> None:
    config = load_config_text("services:\n  a: {run: 'm:f'}\n", "t.yaml", {})
    service = config.services["a"]
    assert config.version == 1
    assert config.supervisor.shutdown_timeout == 60.0
    assert config.supervisor.on_failure == "shutdown"
    assert service.restart.policy == "on-failure"
    assert service.restart.max_restarts == 5 and service.restart.within == 60.0
    assert service.restart.backoff.multiplier == 2.0
    assert service.stop.signal is signal.SIGTERM and service.stop.timeout == 10.0
    assert service.start_timeout == 30.0
    assert service.depends_on == {} and service.env == {} and service.args == {}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("5s", 5.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("1h 2m 3s", 3723.0),
        ("1.5s", 1.5),
        ("7", 7.0),
        (3, 3.0),
        (0.5, 0.5),
    ],
)
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5 parsecs", "s", "-1s", "1.s", "5sm", True, None, [1]])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("SIGTERM", signal.SIGTERM),
        ("term", signal.SIGTERM),
        ("SIGINT", signal.SIGINT),
        (9, signal.SIGKILL),
        ("15", signal.SIGTERM),
        ("sigkill", signal.SIGKILL),
    ],
)
def test_signals(value: object, expected: signal.Signals) -> None:
    assert parse_signal(value) is expected


def test_shorthands() -> None:
    services = load(
        """
        services:
          a: {command: "echo 'hello world' $HOME", restart: always}
          b: {command: "echo $$HOME | tr a-z A-Z", shell: true, restart: no, depends_on: a}
          c: {run: "m:f", restart: {policy: no}, depends_on: [a, b]}
        """,
        {"HOME": "/home/me"},
    )
    assert services["a"].command == ["echo", "hello world", "$HOME"]
    assert services["a"].restart.policy == "always"
    assert services["b"].command == ["/bin/sh", "-c", "echo $HOME | tr a-z A-Z"]
    assert services["b"].restart.policy == "no"
    assert services["b"].depends_on == {"a": "ready"}
    assert services["c"].restart.policy == "no"
    assert services["c"].depends_on == {"a": "ready", "b": "ready"}


def test_numbers_in_commands_and_env_are_kept_as_written() -> None:
    services = load(
        """
        services:
          a:
            command: [sleep, 010, 1.50, 0x1F, true]
            env: {PORT: 8000, DEBUG: yes, RATIO: 0.10}
            cwd: "2020"
            ready: {exec: [test, 1, -eq, 1]}
          b:
            command: [true]
            ready: {tcp: 8001}
          c:
            command: yes
        """
    )
    a = services["a"]
    assert a.command == ["sleep", "010", "1.50", "0x1F", "true"]
    assert a.env == {"PORT": "8000", "DEBUG": "yes", "RATIO": "0.10"}
    assert a.cwd == "2020"
    assert a.ready is not None and a.ready.exec == ["test", "1", "-eq", "1"]
    # A program named like a YAML boolean is that program; a port is its digits.
    assert services["b"].command == ["true"]
    assert services["b"].ready is not None and services["b"].ready.tcp == "8001"
    assert services["c"].command == ["yes"]


def test_interpolation() -> None:
    services = load(
        """
        services:
          a:
            command: ["serve", "--port=${PORT}", "${HOST:-127.0.0.1}", "$$literal", "a$b"]
            env:
              EMPTY_DEFAULT: "${NOPE:-}"
              SET_BUT_EMPTY: "${BLANK:-fallback}"
        """,
        {"PORT": "8001", "BLANK": ""},
    )
    assert services["a"].command == ["serve", "--port=8001", "127.0.0.1", "$literal", "a$b"]
    # `${VAR:-default}` uses the default only when VAR is unset (set but empty stays empty).
    assert services["a"].env == {"EMPTY_DEFAULT": "", "SET_BUT_EMPTY": ""}


def test_interpolation_leaves_keys_and_quoted_non_strings_alone() -> None:
    services = load(
        """
        services:
          a:
            run: "m:f"
            args: {"${KEY}": "${VALUE}", count: 3}
        """,
        {"VALUE": "v"},
    )
    assert services["a"].args == {"${KEY}": "v", "count": 3}


def test_merge_keys_and_extension_fields() -> None:
    services = load(
        """
        x-process: &process
          restart: {policy: always, max_restarts: 10}
          stop: {signal: SIGINT}
          env: {MODE: base}
        services:
          a:
            <<: *process
            command: [x]
            env: {MODE: a}
          b:
            <<: [*process, {cwd: /tmp}]
            command: [y]
        """
    )
    a, b = services["a"], services["b"]
    assert a.restart.policy == "always" and a.restart.max_restarts == 10
    assert a.stop.signal is signal.SIGINT
    assert a.env == {"MODE": "a"}  # keys written next to `<<` win
    assert b.env == {"MODE": "base"} and b.cwd == "/tmp"


def test_errors_inside_a_merged_anchor_point_at_the_anchor() -> None:
    text = dedent(
        """\
        x-base: &base
          stop: {timeout: soon}
        services:
          a: {<<: *base, command: [x]}
        """
    )
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "t.yaml", {})
    assert [str(e) for e in info.value.errors] == [
        "t.yaml:2:19: services.a.stop.timeout: expected a duration such as 250ms, 5s, 2m, "
        "1h, 1m30s or a number of seconds, got 'soon'"
    ]


def test_numeric_service_names_are_names() -> None:
    assert list(load("services:\n  1: {command: [x]}\n  yes: {command: [y]}\n")) == ["1", "yes"]


def test_load_config_data_checks_like_the_file() -> None:
    config = load_config_data({"services": {"a": {"run": "m:f"}, "b": {"command": "x y"}}})
    assert config.services["b"].command == ["x", "y"]
    with pytest.raises(ConfigError) as info:
        load_config_data({"services": {"a": {"run": "m:f", "depends_on": ["c"]}}})
    assert str(info.value) == "<dict>:1:1: services.a.depends_on: unknown service 'c'"


def test_load_config_data_applies_the_same_value_rules() -> None:
    def errors(service: dict[str, object]) -> list[str]:
        with pytest.raises(ConfigError) as info:
            load_config_data({"services": {"a": service}})
        return [f"{e.path}: {e.message}" for e in info.value.errors]

    assert errors({"command": 42}) == [
        "services.a.command: expected a command: a list of strings or one string, got 42"
    ]
    assert errors({"command": [42, "x"]}) == [
        "services.a.command[0]: expected a program name (a string), got 42"
    ]
    assert errors({"command": ["x"], "cwd": 5}) == [
        "services.a.cwd: expected a path (a string; quote it), got 5"
    ]
    assert errors({"command": ["x"], "ready": {"exec": "echo 'x"}}) == [
        'services.a.ready.exec: cannot split "echo \'x" like a shell: No closing quotation'
    ]
    # Arguments, environment values and a port alone may be numbers (their text).
    config = load_config_data(
        {"services": {"a": {"command": ["sleep", 5], "env": {"N": 1}, "ready": {"tcp": 80}}}}
    )
    service = config.services["a"]
    assert (service.command, service.env) == (["sleep", "5"], {"N": "1"})
    assert service.ready is not None and service.ready.tcp == "80"


def test_stop_signal_may_be_sigkill_but_not_sigstop() -> None:
    (service,) = load("services:\n  a: {command: [x], stop: {signal: KILL}}\n").values()
    assert service.stop.signal is signal.SIGKILL
    with pytest.raises(ConfigError, match="SIGSTOP suspends a process"):
        load(f"services:\n  a: {{command: [x], stop: {{signal: {int(signal.SIGSTOP)}}}}}\n")


def test_check_graph_on_services_built_in_python() -> None:
    a = ServiceConfig(run="m:f", depends_on={"b": "ready"})  # type: ignore[call-arg]
    b = ServiceConfig(command=["x"], depends_on={"a": "ready"})  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match=r"unknown service .b."):
        check_graph({"a": a})
    with pytest.raises(ConfigError, match=r"dependency cycle: a -> b -> a"):
        check_graph({"a": a, "b": b})


def test_models_are_immutable_and_round_trip() -> None:
    config = load_config_text(
        "services:\n  a: {command: [x], stop: {signal: SIGINT, timeout: 2s}}\n", "t", {}
    )
    dumped = config.model_dump(mode="json")
    assert dumped["services"]["a"]["stop"] == {"signal": "SIGINT", "timeout": 2.0}
    assert load_config_data(dumped) == config
    with pytest.raises(ValueError):
        config.services["a"].oneshot = True  # type: ignore[misc]


def _big_file(count: int) -> str:
    lines = ["services:"]
    for index in range(count):
        lines += [
            f"  svc{index}:",
            f"    command: [python3, -m, http.server, '{10000 + index}']",
            f"    ready: {{tcp: '127.0.0.1:{10000 + index}', timeout: 5s}}",
            "    restart: {policy: on-failure, backoff: {initial: 100ms, max: 10s}}",
            "    stop: {signal: SIGTERM, timeout: 5s}",
            "    env: {MODE: '${MODE:-prod}'}",
        ]
        deps = [f"svc{d}" for d in (index - 1, index // 2, index - 7) if 0 <= d < index]
        if deps:
            lines.append(f"    depends_on: [{', '.join(dict.fromkeys(deps))}]")
    return "\n".join(lines) + "\n"


def test_a_thousand_services_load_well_under_a_second(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(_big_file(1000))
    start = time.process_time()  # CPU time: other processes on the machine do not count
    config = load_config(path)
    order = graph.topological_order({n: list(s.depends_on) for n, s in config.services.items()})
    elapsed = time.process_time() - start
    assert len(config.services) == 1000 and len(order) == 1000
    assert elapsed < 1.0, f"loading 1,000 services took {elapsed:.2f}s"


def test_a_thousand_broken_services_report_quickly() -> None:
    text = _big_file(1000).replace("policy: on-failure", "policy: sometimes")
    start = time.process_time()
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "big.yaml", {})
    assert time.process_time() - start < 1.0
    assert len(info.value.errors) == 1000


@pytest.mark.parametrize("name", ["example.yaml", "minimal.yaml"])
def test_bundled_configs_are_valid(name: str) -> None:
    config = load_config(ROOT / "configs" / name, environ={})
    assert config.services
