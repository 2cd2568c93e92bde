"""Several files, ``include:``, ``.env`` and ``env_file:``: merged values, positioned errors."""

from __future__ import annotations

import os
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from supervisor import Supervisor
from supervisor.config import (
    ConfigError,
    ConfigFile,
    compose,
    load_config,
    load_config_data,
    load_config_text,
)


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return str(path)


def errors_of(*paths: str, environ: dict[str, str] | None = None, **options: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(list(paths), {} if environ is None else environ, **options)  # type: ignore[arg-type]
    return [str(error) for error in info.value.errors]


BASE = """
supervisor:
  shutdown_timeout: 20s
services:
  db:
    command: [sleep, "100"]
    env: {A: "1", B: "2"}
    restart: {policy: always, max_restarts: 3, backoff: {initial: 1s}}
    ready: {tcp: 5432}
  api:
    command: [sleep, "100"]
    depends_on: [db]
  worker:
    command: [sleep, "100"]
"""


def test_later_files_merge_mappings_and_replace_lists_and_scalars(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE)
    over = write(
        tmp_path,
        "over.yaml",
        """
        services:
          db:
            command: [sleep, "5"]
            env: {B: "two", C: "3"}
            restart: {max_restarts: 7}
          api:
            depends_on: {worker: started}
          cache:
            command: [sleep, "1"]
        """,
    )
    config = load_config([base, over], {})
    db = config.services["db"]
    assert db.command == ["sleep", "5"]  # a list replaces
    assert db.env == {"A": "1", "B": "two", "C": "3"}  # a mapping merges
    assert (db.restart.policy, db.restart.max_restarts) == ("always", 7)
    assert db.restart.backoff.initial == 1.0 and db.ready is not None
    # depends_on: a list replaced by a mapping is the mapping alone.
    assert config.services["api"].depends_on == {"worker": "started"}
    assert list(config.services) == ["db", "api", "worker", "cache"]
    assert config.supervisor.shutdown_timeout == 20.0


def test_null_removes_a_key_a_variable_or_a_service(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE)
    over = write(
        tmp_path,
        "over.yaml",
        """
        services:
          db: {env: {A: null}, ready: null, restart: {backoff: null}, nothing: null}
          api: {depends_on: null}
          worker: null
        """,
    )
    config = load_config([base, over], {})
    db = config.services["db"]
    assert db.env == {"B": "2"} and db.ready is None
    assert db.restart.backoff.initial == 0.1  # back to the default
    assert config.services["api"].depends_on == {}
    assert set(config.services) == {"db", "api"}


def test_a_later_file_that_removes_a_dependency_is_reported_at_the_dependent(
    tmp_path: Path,
) -> None:
    base = write(tmp_path, "base.yaml", BASE)
    over = write(tmp_path, "over.yaml", "services:\n  db: null\n")
    assert errors_of(base, over) == [f"{base}:11:18: services.api.depends_on: unknown service 'db'"]


def test_errors_name_the_file_line_and_column_that_set_the_value(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE.replace("max_restarts: 3", "max_restarts: lots"))
    over = write(
        tmp_path,
        "over.yaml",
        """
        services:
          db:
            stop: {signal: SIGNOPE}
          api:
            depends_on: [dbb]
          extra:
            comand: [x]
        """,
    )
    assert errors_of(base, over) == [
        f"{base}:7:45: services.db.restart.max_restarts: expected an integer >= 0, got 'lots'",
        f"{over}:3:20: services.db.stop.signal: expected a signal name such as SIGTERM, "
        "SIGINT, SIGQUIT, SIGHUP or SIGKILL, got 'SIGNOPE'",
        f"{over}:5:18: services.api.depends_on: unknown service 'dbb' (did you mean 'db'?)",
        f"{over}:7:5: services.extra.comand: unknown key (did you mean 'command'?)",
    ]


def test_instance_variables_work_across_files_and_errors_name_their_file(
    tmp_path: Path,
) -> None:
    """``${PORT}`` in one file is set by ``port:`` in a later one; a ``${REPLICA}`` in a
    service without ``replicas:`` is reported in the file that wrote it."""
    web = write(tmp_path, "web.yaml", 'services:\n  web:\n    command: [serve, "${PORT}"]\n')
    scale = write(tmp_path, "scale.yaml", "services:\n  web: {replicas: 2, port: 8100}\n")
    config = load_config([web, scale], {})
    assert config.services["web"].command == ["serve", "${PORT}"]  # set per instance
    other = write(
        tmp_path, "other.yaml", 'services:\n  other:\n    command: [echo, "${REPLICA}"]\n'
    )
    (error,) = errors_of(scale, other, web)
    assert error.startswith(f"{other}:3:") and "${REPLICA} is not set" in error


def test_a_value_replaced_by_a_later_file_is_reported_there_not_in_the_first(
    tmp_path: Path,
) -> None:
    base = write(tmp_path, "base.yaml", BASE)
    over = write(tmp_path, "over.yaml", "services:\n  db:\n    restart: {within: soon}\n")
    assert errors_of(base, over) == [
        f"{over}:3:23: services.db.restart.within: expected a duration such as 250ms, 5s, "
        "2m, 1h, 1m30s or a number of seconds, got 'soon'"
    ]
    # A third file fixing it: the value of the last file counts.
    fix = write(tmp_path, "fix.yaml", "services:\n  db:\n    restart: {within: 5s}\n")
    assert load_config([base, over, fix], {}).services["db"].restart.within == 5.0


def test_syntax_errors_of_each_file_are_all_reported(tmp_path: Path) -> None:
    one = write(tmp_path, "one.yaml", "services:\n  a: {command: [x]\n")
    two = write(tmp_path, "two.yaml", "services:\n  b:\n\tcommand: [x]\n")
    reported = errors_of(one, two)
    assert reported[0].startswith(f"{one}:3:1: invalid YAML")
    assert reported[1].startswith(f"{two}:3:1: ")
    assert len(reported) == 2


def test_a_later_or_included_file_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE)
    listed = write(tmp_path, "list.yaml", "- services\n")
    text = write(tmp_path, "text.yaml", "include: [list.yaml]\nservices: {}\n")
    expected = "1:1: expected a mapping with `services:` (or other top-level keys), got a list"
    assert errors_of(base, listed) == [f"{listed}:{expected}"]
    assert errors_of(text) == [f"{listed}:{expected}"]


def test_a_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE)
    missing = str(tmp_path / "nope.yaml")
    assert errors_of(base, missing) == [
        f"{missing}:1:1: cannot read the file: No such file or directory"
    ]


def test_include_merges_the_included_files_first_relative_to_the_includer(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "conf/defaults.yaml",
        """
        include: [more/shared.yaml]
        supervisor: {shutdown_timeout: 5s}
        services:
          db: {command: [sleep, "1"], env: {FROM: defaults, KEEP: "yes"}}
        """,
    )
    write(tmp_path, "conf/more/shared.yaml", "services:\n  shared: {command: [true]}\n")
    main = write(
        tmp_path,
        "main.yaml",
        """
        include: conf/defaults.yaml
        services:
          db: {env: {FROM: main}}
        """,
    )
    config = load_config(main, {})
    assert set(config.services) == {"shared", "db"}
    assert config.services["db"].env == {"FROM": "main", "KEEP": "yes"}
    assert config.supervisor.shutdown_timeout == 5.0


def test_an_error_in_an_included_file_is_reported_in_that_file(tmp_path: Path) -> None:
    shared = write(tmp_path, "shared.yaml", "services:\n  db: {command: [x], start_timeout: -1}\n")
    main = write(tmp_path, "main.yaml", "include: [shared.yaml]\nservices: {}\n")
    assert errors_of(main) == [
        f"{shared}:2:37: services.db.start_timeout: expected a duration >= 0, got -1"
    ]


def test_an_include_cycle_is_an_error_naming_the_chain(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "include: [b.yaml]\nservices: {x: {command: [true]}}\n")
    b = write(tmp_path, "b.yaml", "include:\n  - sub/c.yaml\n")
    c = write(tmp_path, "sub/c.yaml", "include: [../a.yaml]\n")
    assert errors_of(a) == [
        f"{c}:1:11: include[0]: include cycle: {a} -> {b} -> {c} -> {tmp_path}/sub/../a.yaml"
    ]


def test_a_file_including_itself_is_a_cycle(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "include: a.yaml\nservices: {}\n")
    assert errors_of(a) == [f"{a}:1:10: include: include cycle: {a} -> {a}"]


def test_the_same_file_included_twice_is_not_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, "common.yaml", "services:\n  c: {command: [true]}\n")
    write(tmp_path, "left.yaml", "include: [common.yaml]\n")
    main = write(tmp_path, "main.yaml", "include: [left.yaml, common.yaml]\n")
    assert set(load_config(main, {}).services) == {"c"}


def test_a_missing_include_is_reported_at_the_including_line(tmp_path: Path) -> None:
    main = write(tmp_path, "main.yaml", "services: {}\ninclude:\n  - there.yaml\n  - 3\n")
    assert errors_of(main) == [
        f"{main}:3:5: include[0]: cannot read the included file "
        f"'{tmp_path}/there.yaml': No such file or directory",
        f"{main}:4:5: include[1]: expected a file name (a string)",
    ]


def test_an_include_or_env_file_that_is_not_a_regular_file_is_an_error(tmp_path: Path) -> None:
    """A FIFO would block the load (and a reload, on the daemon's loop); /dev/zero would
    never end: neither is read."""
    os.mkfifo(tmp_path / "fifo")
    main = write(tmp_path, "main.yaml", "services: {}\ninclude: [fifo, /dev/zero]\n")
    assert errors_of(main) == [
        f"{main}:2:11: include[0]: cannot read the included file '{tmp_path}/fifo': "
        "not a regular file",
        f"{main}:2:17: include[1]: cannot read the included file '/dev/zero': not a regular file",
    ]
    big = tmp_path / "big.env"
    big.write_bytes(b"A=" + b"x" * compose.MAX_FILE_SIZE + b"\n")
    reported = errors_of(write(tmp_path, "s.yaml", "services: {}\n"), env_file=str(big))
    assert reported and all("larger than 16 MiB" in error for error in reported)


def test_include_of_a_mapping_is_an_error(tmp_path: Path) -> None:
    main = write(tmp_path, "main.yaml", "include: {a: b}\nservices: {}\n")
    assert errors_of(main) == [
        f"{main}:1:10: include: expected a file name or a list of file names"
    ]


def test_include_in_text_is_relative_to_the_filename(tmp_path: Path) -> None:
    write(tmp_path, "shared.yaml", "services:\n  s: {command: [true]}\n")
    config = load_config_text("include: [shared.yaml]\n", str(tmp_path / "main.yaml"), {})
    assert set(config.services) == {"s"}


# -- .env and --env-file ------------------------------------------------------------------

INTERPOLATED = """
services:
  app:
    command: [sleep, "${NAP}"]
    env: {GREETING: "${GREETING:-hello}", USER_NAME: "${NAME}"}
"""


def test_dot_env_next_to_the_first_file_supplies_variables(tmp_path: Path) -> None:
    main = write(tmp_path, "main.yaml", INTERPOLATED)
    write(tmp_path, ".env", "NAP=7\nexport NAME='Ada L.'\n")
    app = load_config(main, {}).services["app"]
    assert app.command == ["sleep", "7"]
    assert app.env == {"GREETING": "hello", "USER_NAME": "Ada L."}
    # The .env values are for interpolation: not added to the process environment.
    assert "NAP" not in app.env


def test_the_process_environment_wins_over_dot_env(tmp_path: Path) -> None:
    main = write(tmp_path, "main.yaml", INTERPOLATED)
    write(tmp_path, ".env", "NAP=7\nNAME=file\n")
    app = load_config(main, {"NAP": "1"}).services["app"]
    assert app.command == ["sleep", "1"] and app.env["USER_NAME"] == "file"


def test_env_file_option_picks_another_file_and_false_none(tmp_path: Path) -> None:
    main = write(tmp_path, "main.yaml", INTERPOLATED)
    write(tmp_path, ".env", "NAP=7\nNAME=default\n")
    other = write(tmp_path, "ci/other.env", "NAP=2\nNAME=other\n")
    assert load_config(main, {}, env_file=other).services["app"].command == ["sleep", "2"]
    assert errors_of(main, env_file=False) == [
        f"{main}:3:22: services.app.command[1]: environment variable ${{NAP}} is not set "
        "and has no default",
        f"{main}:4:54: services.app.env.USER_NAME: environment variable ${{NAME}} is not set "
        "and has no default",
    ]


def test_a_missing_env_file_option_is_an_error_but_a_missing_dot_env_is_not(
    tmp_path: Path,
) -> None:
    main = write(tmp_path, "main.yaml", "services:\n  a: {command: [true]}\n")
    assert load_config(main, {}).services["a"].command == ["true"]
    missing = str(tmp_path / "missing.env")
    assert errors_of(main, env_file=missing) == [
        f"{missing}:1:1: cannot read the env file: No such file or directory"
    ]


def test_a_bad_line_in_dot_env_is_an_error_at_its_line(tmp_path: Path) -> None:
    main = write(tmp_path, "main.yaml", INTERPOLATED)
    dotenv = write(tmp_path, ".env", "NAP=7\n\nNAME = 'unterminated\n")
    assert errors_of(main) == [f"{dotenv}:3:8: unterminated single-quoted value"]


def test_included_and_later_files_use_the_same_variables(tmp_path: Path) -> None:
    write(tmp_path, "inc/shared.yaml", "services:\n  s: {command: [sleep, '${NAP}']}\n")
    main = write(tmp_path, "main.yaml", "include: [inc/shared.yaml]\n")
    over = write(tmp_path, "other/over.yaml", "services:\n  t: {command: [sleep, '${NAP}']}\n")
    write(tmp_path, ".env", "NAP=3\n")
    write(tmp_path, "other/.env", "NAP=999\n")  # only the first file's directory counts
    config = load_config([main, over], {})
    assert config.services["s"].command == config.services["t"].command == ["sleep", "3"]


# -- env_file: of a service -----------------------------------------------------------------


def test_env_file_adds_variables_under_env_in_order(tmp_path: Path) -> None:
    write(tmp_path, "env/common.env", "SHARED=common\nLEVEL=info\nONLY_COMMON=1\n")
    write(tmp_path, "env/local.env", "LEVEL=debug\nSECRET='s3cr$t'\n")
    main = write(
        tmp_path,
        "main.yaml",
        """
        services:
          one:
            command: [true]
            env_file: [env/common.env, env/local.env]
            env: {SHARED: from-env}
          two:
            command: [true]
            env_file: env/local.env
        """,
    )
    config = load_config(main, {})
    one, two = config.services["one"], config.services["two"]
    assert one.env == {
        "SHARED": "from-env",
        "LEVEL": "debug",
        "ONLY_COMMON": "1",
        "SECRET": "s3cr$t",
    }
    assert one.env_file == [str(tmp_path / "env/common.env"), str(tmp_path / "env/local.env")]
    assert two.env == {"LEVEL": "debug", "SECRET": "s3cr$t"}


def test_env_file_is_relative_to_the_file_that_names_it(tmp_path: Path) -> None:
    write(tmp_path, "base/app.env", "WHERE=base\n")
    write(tmp_path, "local/app.env", "WHERE=local\n")
    base = write(
        tmp_path, "base/base.yaml", "services:\n  a: {command: [true], env_file: app.env}\n"
    )
    over = write(
        tmp_path, "local/over.yaml", "services:\n  b: {command: [true], env_file: app.env}\n"
    )
    config = load_config([base, over], {})
    assert config.services["a"].env == {"WHERE": "base"}
    assert config.services["b"].env == {"WHERE": "local"}


def test_env_file_errors_are_positioned(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.env", "OK=1\nNOT OK\n")
    main = write(
        tmp_path,
        "main.yaml",
        """
        services:
          a: {command: [true], env_file: [broken.env, missing.env]}
          b: {command: [true], env_file: 5}
        """,
    )
    assert errors_of(main) == [
        f"{broken}:2:5: services.a.env_file[0]: expected '=' after NOT, got 'O'",
        f"{main}:2:47: services.a.env_file[1]: cannot read the env file "
        f"'{tmp_path}/missing.env': No such file or directory",
        f"{main}:3:34: services.b.env_file: expected a list, got 5",
    ]


# -- the embedding API ---------------------------------------------------------------------


def test_supervisor_from_file_takes_several_files_and_an_env_file(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE)
    over = write(tmp_path, "over.yaml", "services:\n  worker: null\n  api: null\n")
    sup = Supervisor.from_file([base, over], env_file=False)
    assert sup.services == ["db"]


def test_load_config_with_one_path_still_reads_one_file(tmp_path: Path) -> None:
    path = write(tmp_path, "one.yaml", BASE)
    assert isinstance(load_config(Path(path), {}), ConfigFile)
    assert isinstance(load_config(os.fspath(path), {}), ConfigFile)


def test_a_relative_control_socket_is_relative_to_the_file_that_sets_it(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE.replace("20s", "20s\n  control_socket: first.sock"))
    local = write(tmp_path, "site/local.yaml", "supervisor: {control_socket: run/s.sock}\n")
    assert load_config(base, {}).supervisor.control_socket == "first.sock"  # as written
    merged = load_config([base, local], {}).supervisor.control_socket
    assert merged == str(tmp_path / "site/run/s.sock")


def test_a_relative_token_file_is_relative_to_the_included_file_that_sets_it(
    tmp_path: Path,
) -> None:
    main = write(tmp_path, "main.yaml", "include: [sub/http.yaml]\n" + BASE)
    write(tmp_path, "sub/http.yaml", "supervisor: {http: {token_file: token.txt}}\n")
    http = load_config(main, {}).supervisor.http
    assert http is not None and http.token_file == str(tmp_path / "sub/token.txt")
    with_token = BASE.replace("20s", "20s\n  http: {token_file: token.txt}")
    write(tmp_path, "first.yaml", with_token)
    http = load_config(str(tmp_path / "first.yaml"), {}).supervisor.http
    assert http is not None and http.token_file == "token.txt"  # the first file's: as written


# -- merging, for any pair of files ------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c"])
SCALARS = st.one_of(st.none(), st.integers(0, 9), st.sampled_from(["x", "5s", "always", "a"]))
VALID_SERVICE = st.fixed_dictionaries(
    {"command": st.lists(st.sampled_from(["true", "a", "7"]), min_size=1, max_size=2)},
    optional={
        "env": st.dictionaries(st.sampled_from(["K", "L"]), st.one_of(st.none(), st.just("v"))),
        "restart": st.fixed_dictionaries(
            {}, optional={"policy": st.sampled_from(["always", "no"]), "max_restarts": SCALARS}
        ),
        "depends_on": st.lists(NAMES, max_size=1),
        "oneshot": st.booleans(),
    },
)
SERVICE = st.one_of(
    VALID_SERVICE,
    st.dictionaries(
        st.sampled_from(["command", "env", "restart", "depends_on", "oneshot", "cwd", "bogus"]),
        st.one_of(
            SCALARS,
            st.lists(st.sampled_from(["true", "a", "b"]), max_size=2),
            st.dictionaries(
                st.sampled_from(["K", "policy", "max_restarts", "a"]),
                st.one_of(SCALARS, st.just({"initial": "1s"})),
                max_size=3,
            ),
        ),
        max_size=4,
    ),
)
FILE = st.fixed_dictionaries(
    {},
    optional={
        "services": st.one_of(st.none(), st.dictionaries(NAMES, st.one_of(st.none(), SERVICE))),
        "supervisor": st.one_of(st.none(), st.just({"shutdown_timeout": "1s"})),
    },
)


def reference_merge(base: Any, over: Any) -> Any:
    """The rules of docs/config.md on plain data: mappings merge, null removes."""
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return over
    merged = dict(base)
    for key, value in over.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = reference_merge(merged.get(key), value) if key in merged else value
    return merged


def outcome(
    load: Callable[[], ConfigFile], files: list[str] | None = None
) -> ConfigFile | list[tuple[str, str]]:
    """The config, or what its errors say (without their positions, each in ``files``)."""
    try:
        return load()
    except ConfigError as exc:
        assert exc.errors
        assert files is None or all(error.file in files for error in exc.errors), exc
        return sorted((error.path, error.message) for error in exc.errors)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(FILE, FILE, FILE)
@example(  # a cycle is reported from the service written first, so key order must hold
    first={},
    second={},
    third={
        "services": {
            "b": {"command": ["true"], "depends_on": ["a"]},
            "a": {"command": ["true"], "depends_on": ["b"]},
        }
    },
)
def test_any_files_merge_as_their_data_would(first: Any, second: Any, third: Any) -> None:
    with tempfile.TemporaryDirectory() as directory:
        paths = []
        for index, data in enumerate((first, second, third)):
            path = os.path.join(directory, f"{index}.yaml")
            with open(path, "w") as file:
                # as written (safe_dump sorts keys: the order decides where a cycle is reported)
                file.write(yaml.safe_dump(data, sort_keys=False) if data else "{}\n")
            paths.append(path)
        from_files = outcome(lambda: load_config(paths, {}, env_file=False), paths)
    # The first file's nulls are values, as in a single file; later files' nulls remove.
    expected = reference_merge(reference_merge(first, second), third)
    assert from_files == outcome(lambda: load_config_data(expected))


def test_include_paths_are_interpolated(tmp_path: Path) -> None:
    write(tmp_path, "sites/eu.yaml", "services:\n  eu: {command: [true]}\n")
    main = write(tmp_path, "main.yaml", "include: ['sites/${SITE}.yaml']\n")
    assert set(load_config(main, {"SITE": "eu"}).services) == {"eu"}


def test_includes_that_would_read_files_exponentially_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compose, "MAX_INCLUDED_FILES", 50)  # 1000 by default: a faster test
    # Each level includes the next one twice: 2**20 reads without a bound.
    for level in range(20):
        write(tmp_path, f"l{level}.yaml", f"include: [l{level + 1}.yaml, l{level + 1}.yaml]\n")
    write(tmp_path, "l20.yaml", "services:\n  s: {command: [true]}\n")
    start = time.process_time()
    reported = errors_of(str(tmp_path / "l0.yaml"))
    assert time.process_time() - start < 2.0
    assert reported and all("more than 50 files included in all" in e for e in reported)
