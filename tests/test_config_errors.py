"""Bad service files and the exact errors they produce: file:line:column: key.path: message."""

from __future__ import annotations

import time
from textwrap import dedent

import pytest
import yaml

from supervisor.config import ConfigError, ErrorRecord, load_config, load_config_text, yaml_tree

ENV = {"HOME": "/home/me", "PORT": "8001"}

# (id, YAML text, the exact error lines). The text is dedented; line 1 is its first line.
CASES: list[tuple[str, str, list[str]]] = [
    (
        "empty file",
        "",
        ["s.yaml:1:1: the file is empty: expected a mapping with `services:`"],
    ),
    (
        "only comments",
        "# nothing here\n",
        ["s.yaml:1:1: the file is empty: expected a mapping with `services:`"],
    ),
    (
        "not a mapping",
        "- api\n- db\n",
        ["s.yaml:1:1: expected a mapping with `services:`, got a list"],
    ),
    (
        "a scalar",
        "hello\n",
        ["s.yaml:1:1: expected a mapping with `services:`, got a string"],
    ),
    (
        "no services",
        "version: 1\n",
        ["s.yaml:1:1: services: required key is missing"],
    ),
    (
        "services not a mapping",
        "services: [api, db]\n",
        ["s.yaml:1:11: services: expected a mapping"],
    ),
    (
        "service not a mapping",
        """
        services:
          api: 3
        """,
        ["s.yaml:2:8: services.api: expected a mapping, got 3"],
    ),
    (
        "unknown version",
        "version: 2\nservices: {}\n",
        ["s.yaml:1:10: version: expected one of 1, got 2"],
    ),
    (
        "unknown key with did-you-mean",
        """
        services:
          api:
            command: [x]
            restrat: always
        """,
        ["s.yaml:4:5: services.api.restrat: unknown key (did you mean 'restart'?)"],
    ),
    (
        "unknown top-level key lists the known ones",
        """
        defaults: {}
        services: {}
        """,
        ["s.yaml:1:1: defaults: unknown key; expected one of: version, supervisor, services"],
    ),
    (
        "unknown settings key",
        """
        supervisor:
          shutdown_timout: 5s
        services: {}
        """,
        ["s.yaml:2:3: supervisor.shutdown_timout: unknown key (did you mean 'shutdown_timeout'?)"],
    ),
    (
        "wrong type: the example from the issue",
        """
        services:
          api:
            run: myapp.api:serve
            restart:
              max_restarts: many
        """,
        ["s.yaml:5:21: services.api.restart.max_restarts: expected an integer >= 0, got 'many'"],
    ),
    (
        "negative integer",
        """
        services:
          api:
            run: myapp.api:serve
            restart: {max_restarts: -1}
        """,
        ["s.yaml:4:29: services.api.restart.max_restarts: expected an integer >= 0, got -1"],
    ),
    (
        "wrong type: boolean",
        """
        services:
          api:
            command: [x]
            oneshot: sometimes
        """,
        ["s.yaml:4:14: services.api.oneshot: expected true or false, got 'sometimes'"],
    ),
    (
        "wrong type: list for a string",
        """
        services:
          api:
            command: [x]
            cwd: [a, b]
        """,
        ["s.yaml:4:10: services.api.cwd: expected a path (a string)"],
    ),
    (
        "a number for a command (issue 9)",
        """
        services:
          api:
            command: 42
        """,
        [
            "s.yaml:3:14: services.api.command: expected a command: a list of strings or "
            "one string, got 42"
        ],
    ),
    (
        "a number for the program",
        """
        services:
          api:
            command: [010, --port, 8000]
        """,
        ["s.yaml:3:15: services.api.command[0]: expected a program name (a string), got 010"],
    ),
    (
        "a number for the program of an exec probe",
        """
        services:
          api:
            command: [x]
            ready: {exec: [42]}
        """,
        ["s.yaml:4:20: services.api.ready.exec[0]: expected a program name (a string), got 42"],
    ),
    (
        "a number for a path",
        """
        services:
          api:
            command: [x]
            cwd: 2020
            health: {file: 1.5}
        """,
        [
            "s.yaml:4:10: services.api.cwd: expected a path (a string; quote it), got 2020",
            "s.yaml:5:20: services.api.health.file: expected a path (a string; quote it), got 1.5",
        ],
    ),
    (
        "a tcp port that is a name (issue 15)",
        """
        services:
          api:
            command: [x]
            ready: {tcp: "localhost:http"}
        """,
        [
            "s.yaml:4:18: services.api.ready.tcp: expected host:port with a port from 1 to "
            "65535, got 'localhost:http'"
        ],
    ),
    (
        "a tcp port out of range",
        """
        services:
          api:
            command: [x]
            health: {tcp: "127.0.0.1:65536"}
        """,
        [
            "s.yaml:4:19: services.api.health.tcp: expected host:port with a port from 1 to "
            "65535, got '127.0.0.1:65536'"
        ],
    ),
    (
        "an invalid log regex (issue 15)",
        """
        services:
          api:
            command: [x]
            ready: {log: "(unclosed"}
        """,
        [
            "s.yaml:4:18: services.api.ready.log: invalid regex: missing ), unterminated "
            "subpattern at position 0, got '(unclosed'"
        ],
    ),
    (
        "an http probe that is not a URL (issue 15)",
        """
        services:
          api:
            command: [x]
            ready: {http: "not a url"}
        """,
        [
            "s.yaml:4:19: services.api.ready.http: expected an http:// or https:// URL with "
            "a host, got 'not a url'"
        ],
    ),
    (
        "an http probe without a host, one with a bad port",
        """
        services:
          api:
            command: [x]
            ready: {http: "http:///health"}
            health: {http: "http://127.0.0.1:99999/"}
        """,
        [
            "s.yaml:4:19: services.api.ready.http: expected an http:// or https:// URL with "
            "a host, got 'http:///health'",
            "s.yaml:5:20: services.api.health.http: expected an http:// or https:// URL with "
            "a host and a port from 1 to 65535, got 'http://127.0.0.1:99999/'",
        ],
    ),
    (
        "a watchdog without the notify protocol (issue 15)",
        """
        services:
          api:
            command: [x]
            ready: {tcp: "127.0.0.1:8000", watchdog: 30s}
        """,
        [
            "s.yaml:4:46: services.api.ready.watchdog: applies to the notify protocol only "
            "(`notify: true`), not to a tcp probe"
        ],
    ),
    (
        "a watchdog on a health probe",
        """
        services:
          api:
            command: [x]
            ready: {notify: true}
            health: {notify: true, watchdog: 30s}
        """,
        [
            "s.yaml:5:38: services.api.health.watchdog: a health probe has no watchdog: set "
            "it in `ready: {notify: true, watchdog: ...}`"
        ],
    ),
    (
        "backoff initial longer than max (issue 15)",
        """
        services:
          api:
            command: [x]
            restart:
              backoff: {initial: 1m, max: 30s}
        """,
        [
            "s.yaml:5:26: services.api.restart.backoff.initial: expected a duration <= max "
            "(30s), got 60s"
        ],
    ),
    (
        "backoff max shorter than the default initial",
        """
        services:
          api:
            command: [x]
            restart: {backoff: {max: 50ms}}
        """,
        [
            "s.yaml:4:30: services.api.restart.backoff.max: expected a duration >= initial "
            "(100ms), got 50ms"
        ],
    ),
    (
        "non-finite backoff numbers",
        """
        services:
          api:
            command: [x]
            restart: {backoff: {multiplier: .inf, jitter: .nan}}
        """,
        [
            "s.yaml:4:37: services.api.restart.backoff.multiplier: expected a finite number, "
            "got .inf",
            "s.yaml:4:51: services.api.restart.backoff.jitter: expected a finite number, got .nan",
        ],
    ),
    (
        "a duration past the largest float",
        f"""
        services:
          api:
            command: [x]
            start_timeout: 1{"0" * 400}
        """,
        [
            "s.yaml:4:20: services.api.start_timeout: expected a finite duration, got "
            + "1"
            + "0" * 56
            + "..."
        ],
    ),
    (
        "a negative uid, a boolean gid",
        """
        services:
          api:
            command: [x]
            user: -1
            group: true
        """,
        [
            "s.yaml:4:11: services.api.user: expected a user name or a uid from 0 to "
            "4294967294, got -1",
            "s.yaml:5:12: services.api.group: expected a group name or a gid from 0 to "
            "4294967294, got true",
        ],
    ),
    (
        "SIGSTOP as the stop signal",
        """
        services:
          api:
            command: [x]
            stop: {signal: STOP}
        """,
        [
            "s.yaml:4:20: services.api.stop.signal: SIGSTOP suspends a process instead of "
            "ending it: expected a signal such as SIGTERM, SIGINT, SIGQUIT or SIGKILL, "
            "got 'STOP'"
        ],
    ),
    (
        "bad duration",
        """
        services:
          api:
            command: [x]
            start_timeout: 5 parsecs
        """,
        [
            "s.yaml:4:20: services.api.start_timeout: expected a duration such as 250ms, "
            "5s, 2m, 1h, 1m30s or a number of seconds, got '5 parsecs'"
        ],
    ),
    (
        "negative duration",
        """
        services:
          api:
            command: [x]
            stop: {timeout: -3}
        """,
        ["s.yaml:4:21: services.api.stop.timeout: expected a duration >= 0, got -3"],
    ),
    (
        "not-a-number duration",
        """
        services:
          api:
            command: [x]
            restart: {backoff: {max: .nan}}
        """,
        ["s.yaml:4:30: services.api.restart.backoff.max: expected a finite duration, got .nan"],
    ),
    (
        "bad signal",
        """
        services:
          api:
            command: [x]
            stop: {signal: SIGFOO}
        """,
        [
            "s.yaml:4:20: services.api.stop.signal: expected a signal name such as SIGTERM, "
            "SIGINT, SIGQUIT, SIGHUP or SIGKILL, got 'SIGFOO'"
        ],
    ),
    (
        "bad restart policy shorthand",
        """
        services:
          api:
            command: [x]
            restart: sometimes
        """,
        [
            "s.yaml:4:14: services.api.restart: expected one of 'no', 'on-failure' or "
            "'always', got 'sometimes'"
        ],
    ),
    (
        "both command and run",
        """
        services:
          api:
            command: [x]
            run: myapp.api:serve
        """,
        [
            "s.yaml:3:5: services.api: expected exactly one of `command` (a process) "
            "or `run` (an async callable)"
        ],
    ),
    (
        "neither command nor run",
        """
        services:
          api:
            env: {A: b}
        """,
        [
            "s.yaml:3:5: services.api: expected exactly one of `command` (a process) "
            "or `run` (an async callable)"
        ],
    ),
    (
        "empty command",
        """
        services:
          api:
            command: []
        """,
        ["s.yaml:3:14: services.api.command: expected a non-empty command"],
    ),
    (
        "command that does not split",
        """
        services:
          api:
            command: "echo 'unterminated"
        """,
        [
            's.yaml:3:14: services.api.command: cannot split "echo \'unterminated" '
            "like a shell: No closing quotation"
        ],
    ),
    (
        "shell with a list",
        """
        services:
          api:
            command: [echo, hi]
            shell: true
        """,
        ["s.yaml:3:5: services.api: `shell: true` expects `command` as one string"],
    ),
    (
        "bad run path",
        """
        services:
          api:
            run: myapp.api
        """,
        ["s.yaml:3:10: services.api.run: expected 'package.module:callable', got 'myapp.api'"],
    ),
    (
        "two probe kinds",
        """
        services:
          api:
            command: [x]
            ready: {tcp: "127.0.0.1:1", http: "http://127.0.0.1:1/"}
        """,
        [
            "s.yaml:4:12: services.api.ready: expected exactly one probe kind of tcp, "
            "http, exec, log, file, notify, got 2: tcp, http"
        ],
    ),
    (
        "bad service name",
        """
        services:
          my api:
            command: [x]
        """,
        [
            "s.yaml:2:3: services: invalid service name 'my api': expected letters, "
            "digits, '_', '-' or '.', starting with a letter or digit"
        ],
    ),
    (
        "duplicate service",
        """
        services:
          api:
            command: [x]
          api:
            command: [y]
        """,
        ["s.yaml:4:3: services.api: duplicate key (first defined at line 2)"],
    ),
    (
        "duplicate nested key",
        """
        services:
          api:
            command: [x]
            stop: {timeout: 1s, timeout: 2s}
        """,
        ["s.yaml:4:25: services.api.stop.timeout: duplicate key (first defined at line 4)"],
    ),
    (
        "unknown dependency with a suggestion",
        """
        services:
          database:
            command: [x]
          api:
            run: myapp.api:serve
            depends_on: [databse]
        """,
        [
            "s.yaml:6:18: services.api.depends_on: unknown service 'databse' "
            "(did you mean 'database'?)"
        ],
    ),
    (
        "unknown dependency without a near name",
        """
        services:
          db:
            command: [x]
          api:
            run: myapp.api:serve
            depends_on: {cache: ready}
        """,
        ["s.yaml:6:18: services.api.depends_on: unknown service 'cache'"],
    ),
    (
        "self dependency",
        """
        services:
          api:
            command: [x]
            depends_on: [api]
        """,
        ["s.yaml:4:18: services.api.depends_on: 'api' cannot depend on itself"],
    ),
    (
        "cycle",
        """
        services:
          a:
            command: [x]
            depends_on: [b]
          b:
            command: [x]
            depends_on: [c]
          c:
            command: [x]
            depends_on: {a: started}
        """,
        ["s.yaml:4:18: services.a.depends_on: dependency cycle: a -> b -> c -> a"],
    ),
    (
        "two separate cycles, both reported",
        """
        services:
          a: {command: [x], depends_on: [b]}
          b: {command: [x], depends_on: [a]}
          c: {command: [x], depends_on: [d]}
          d: {command: [x], depends_on: [c]}
        """,
        [
            "s.yaml:2:34: services.a.depends_on: dependency cycle: a -> b -> a",
            "s.yaml:4:34: services.c.depends_on: dependency cycle: c -> d -> c",
        ],
    ),
    (
        "completed on a service that is not a one-shot",
        """
        services:
          db:
            command: [x]
          api:
            command: [x]
            depends_on: {db: completed}
        """,
        [
            "s.yaml:6:18: services.api.depends_on: 'db' is not a one-shot (oneshot: true), "
            "so it never completes; use 'started' or 'ready'"
        ],
    ),
    (
        "bad condition",
        """
        services:
          db:
            command: [x]
          api:
            command: [x]
            depends_on: {db: finished}
        """,
        [
            "s.yaml:6:22: services.api.depends_on.db: expected one of 'started', 'ready' "
            "or 'completed', got 'finished'"
        ],
    ),
    (
        "missing environment variable",
        """
        services:
          api:
            command: [serve, "--token=${API_TOKEN}"]
        """,
        [
            "s.yaml:3:22: services.api.command[1]: environment variable ${API_TOKEN} "
            "is not set and has no default"
        ],
    ),
    (
        "malformed variable reference",
        """
        services:
          api:
            command: [serve, "${PORT"]
        """,
        [
            "s.yaml:3:22: services.api.command[1]: invalid variable reference '${PORT': "
            "expected ${NAME} or ${NAME:-default} (write $$ for a literal $)"
        ],
    ),
    (
        "tab indentation",
        "services:\n\tapi: {}\n",
        ["s.yaml:2:1: invalid YAML: a tab character: YAML is indented with spaces, not tabs"],
    ),
    (
        "two documents",
        "services: {}\n---\nservices: {}\n",
        ["s.yaml:2:1: invalid YAML: but found another document"],
    ),
    (
        "recursive alias",
        "x-loop: &loop [*loop]\nservices: {}\n",
        ["s.yaml:1:9: recursive YAML alias (a node contains itself): rejected"],
    ),
    (
        "merge of a scalar",
        """
        x-base: &base 3
        services:
          api:
            <<: *base
            command: [x]
        """,
        ["s.yaml:1:9: services.api: expected a mapping (or a list of them) after <<"],
    ),
]


# libyaml and PyYAML's pure-Python parser word this one differently.
PARSER_WORDING = {"two documents"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            text,
            expected,
            id=name,
            marks=[
                pytest.mark.skipif(
                    name in PARSER_WORDING and not yaml.__with_libyaml__,
                    reason="libyaml wording",
                )
            ],
        )
        for name, text, expected in CASES
    ],
)
def test_bad_config_reports_exact_errors(text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(dedent(text).lstrip("\n"), "s.yaml", ENV)
    assert str(info.value).splitlines() == expected
    assert [str(error) for error in info.value.errors] == expected


# Syntax errors: reported in the same words by libyaml and by PyYAML's own parser, at
# the place the parser gave up, naming where the unclosed construct was opened.
SYNTAX_CASES: list[tuple[str, str, str]] = [
    (
        "unclosed flow sequence at the end of the file",
        "services:\n  db: [unclosed\n",
        "s.yaml:3:1: invalid YAML: expected ',' or ']', found the end of the file; "
        "the sequence opened at s.yaml:2:7",
    ),
    (
        "unclosed flow sequence, noticed at the next key",
        "services:\n  db: {command: [sleep, 5}\n",
        "s.yaml:2:26: invalid YAML: expected ',' or ']', found '}'; "
        "the sequence opened at s.yaml:2:17",
    ),
    (
        "flow sequence over several lines",
        "services:\n  db:\n    command: [sleep,\n      5\n",
        "s.yaml:5:1: invalid YAML: expected ',' or ']', found the end of the file; "
        "the sequence opened at s.yaml:3:14",
    ),
    (
        "a trailing comma and nothing after it",
        "services:\n  db:\n    command: [sleep,\n",
        "s.yaml:4:1: invalid YAML: expected a value, found the end of the file",
    ),
    (
        "unclosed flow mapping",
        "services:\n  db: {command: x\nother: 1\n",
        "s.yaml:3:6: invalid YAML: expected ',' or '}', found ':'; "
        "the mapping opened at s.yaml:2:7",
    ),
    (
        "unclosed quote",
        'services:\n  db: {command: "sleep 5}\n',
        "s.yaml:3:1: invalid YAML: the file ended before the closing quote; "
        "the quoted string opened at s.yaml:2:17",
    ),
    (
        "no second place to name",
        "services:\n  db: x: y\n",
        None,
    ),
]


@pytest.fixture(params=["libyaml", "pure-python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with PyYAML's libyaml loader and with its pure-Python one."""
    if request.param == "libyaml" and not yaml.__with_libyaml__:
        pytest.skip("PyYAML without libyaml")
    if request.param == "pure-python":
        monkeypatch.setattr(yaml_tree, "_FAST_LOADER", None)
    return str(request.param)


@pytest.mark.parametrize(
    ("text", "expected"), [pytest.param(t, e, id=name) for name, t, e in SYNTAX_CASES]
)
def test_syntax_errors_name_where_the_construct_opened(
    parser: str, text: str, expected: str | None
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "s.yaml", ENV)
    (error,) = info.value.errors
    if expected is None:
        assert (error.line, error.column, error.context) == (2, 8, "")
        assert str(error).startswith("s.yaml:2:8: invalid YAML: mapping values are not allowed")
    else:
        assert str(error) == expected


ISSUE_9_VALUES = [
    "a number for a command (issue 9)",
    "a number for the program",
    "a number for a path",
]


@pytest.mark.parametrize("name", ISSUE_9_VALUES)
def test_values_written_as_numbers_on_both_parsers(parser: str, name: str) -> None:
    # Raw scalar text comes from the node tree, which either parser builds.
    text, expected = next((t, e) for n, t, e in CASES if n == name)
    with pytest.raises(ConfigError) as info:
        load_config_text(dedent(text).lstrip("\n"), "s.yaml", ENV)
    assert str(info.value).splitlines() == expected


def test_every_error_in_the_file_is_reported_at_once() -> None:
    text = dedent(
        """\
        supervisor:
          log_level: loud
        services:
          db:
            command: [x]
            restart: {max_restarts: many}
          db:
            command: [y]
          api:
            run: myapp.api:serve
            depends_on: {dbb: ready, worker: completed}
            stop: {signal: SIGNOPE}
          worker:
            command: ["${MISSING}"]
            depends_on: [api]
            ready: {}
        """
    )
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "all.yaml", {})
    assert str(info.value).splitlines() == [
        "all.yaml:2:14: supervisor.log_level: expected one of 'debug', 'info', 'warning' "
        "or 'error', got 'loud'",
        "all.yaml:6:29: services.db.restart.max_restarts: expected an integer >= 0, got 'many'",
        "all.yaml:7:3: services.db: duplicate key (first defined at line 4)",
        "all.yaml:11:18: services.api.depends_on: unknown service 'dbb' (did you mean 'db'?)",
        "all.yaml:11:30: services.api.depends_on: 'worker' is not a one-shot "
        "(oneshot: true), so it never completes; use 'started' or 'ready'",
        "all.yaml:11:30: services.api.depends_on: dependency cycle: api -> worker -> api",
        "all.yaml:12:20: services.api.stop.signal: expected a signal name such as SIGTERM, "
        "SIGINT, SIGQUIT, SIGHUP or SIGKILL, got 'SIGNOPE'",
        "all.yaml:14:15: services.worker.command[0]: environment variable ${MISSING} is not "
        "set and has no default",
        "all.yaml:16:12: services.worker.ready: expected exactly one probe kind of tcp, http, "
        "exec, log, file, notify, got none",
    ]


def test_error_records_carry_file_line_column_path_and_message() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text("services:\n  api:\n    run: a.b:c\n    oneshot: 3\n", "f.yaml", {})
    assert info.value.errors == [
        ErrorRecord(4, 14, "services.api.oneshot", "expected true or false, got 3", "f.yaml")
    ]


def test_alias_bomb_is_rejected_fast_without_expanding() -> None:
    # Nine levels of nine: 9**9 (387 million) strings once expanded.
    lines = ['x-0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"x-{level}: &a{level} [{refs}]")
    text = "\n".join(lines) + "\nservices: {}\n"
    start = time.process_time()
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "bomb.yaml", {})
    elapsed = time.process_time() - start
    assert elapsed < 0.2, elapsed
    (error,) = info.value.errors
    assert "expands to more than 100000 nodes" in error.message
    assert (error.file, error.line) == ("bomb.yaml", 6)  # x-5: 9**5 strings, past the bound


def test_deep_nesting_is_rejected_fast() -> None:
    start = time.process_time()
    with pytest.raises(ConfigError) as info:
        load_config_text("services: " + "[" * 50_000 + "]" * 50_000, "deep.yaml", {})
    assert time.process_time() - start < 0.5
    (error,) = info.value.errors
    assert error.message == "invalid YAML: nested deeper than 200 levels"


def test_a_file_that_cannot_be_read(tmp_path: pytest.TempPathFactory) -> None:
    missing = f"{tmp_path}/nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert str(info.value) == f"{missing}:1:1: cannot read the file: No such file or directory"


def test_a_file_that_is_not_utf8(tmp_path: pytest.TempPathFactory) -> None:
    path = f"{tmp_path}/latin1.yaml"
    with open(path, "wb") as file:
        file.write(b"services:\n  caf\xe9: {command: [x]}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (error,) = info.value.errors
    assert error.message.startswith("cannot read the file: 'utf-8' codec can't decode")
