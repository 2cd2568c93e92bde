"""``run:`` targets are imported by ``check`` and ``run`` and reported at their line (issue 15)."""

from __future__ import annotations

import sys
from pathlib import Path
from textwrap import dedent

import pytest

from supervisor.cli import EXIT_CONFIG_ERROR, EXIT_OK, main
from supervisor.config import ConfigError, load_config, load_config_data

FILE = dedent(
    """\
    services:
      beat:
        run: supervisor.examples:heartbeat
      api:
        run: no_such_package_for_the_test.api:serve
        depends_on: [beat]
      web:
        run: supervisor.examples:no_such_function
      name:
        run: "supervisor.examples:__name__"
      db:
        command: [sleep, "60"]
        restart: {max_restarts: many}
    """
)


@pytest.fixture
def services(tmp_path: Path) -> str:
    path = tmp_path / "services.yaml"
    path.write_text(FILE)
    return str(path)


def test_check_reports_each_target_at_its_line_with_every_other_error(
    services: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", services]) == EXIT_CONFIG_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{services}:5:10: services.api.run: cannot import module "
        "'no_such_package_for_the_test.api': ModuleNotFoundError: No module named "
        "'no_such_package_for_the_test'",
        f"{services}:8:10: services.web.run: module 'supervisor.examples' has no attribute "
        "'no_such_function'",
        f"{services}:10:10: services.name.run: 'supervisor.examples:__name__' is not callable",
        f"{services}:13:29: services.db.restart.max_restarts: expected an integer >= 0, got 'many'",
        f"{services}: 4 errors",
    ]


def test_check_no_import_skips_the_targets(
    services: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--no-import", services]) == EXIT_CONFIG_ERROR
    assert capsys.readouterr().err.splitlines() == [
        f"{services}:13:29: services.db.restart.max_restarts: expected an integer >= 0, got 'many'",
        f"{services}: 1 error",
    ]


def test_run_reports_a_bad_target_at_its_line_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("services:\n  api:\n    run: supervisor.examples:nope\n")
    assert main(["run", str(path)]) == EXIT_CONFIG_ERROR
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:3:10: services.api.run: module 'supervisor.examples' has no attribute 'nope'",
        f"{path}: 1 error",
    ]


def test_a_module_that_fails_while_importing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "needs_a_database_for_the_test.py").write_text(
        "raise RuntimeError('DATABASE_URL is not set\\nsecond line')\n"
    )
    (tmp_path / "exits_for_the_test.py").write_text("import sys\nsys.exit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "s.yaml"
    path.write_text(
        "services:\n"
        "  api: {run: 'needs_a_database_for_the_test:serve'}\n"
        "  cli: {run: 'exits_for_the_test:main'}\n"
    )
    assert main(["check", str(path)]) == EXIT_CONFIG_ERROR
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:2:14: services.api.run: cannot import module "
        "'needs_a_database_for_the_test': RuntimeError: DATABASE_URL is not set",
        f"{path}:3:14: services.cli.run: cannot import module 'exits_for_the_test': SystemExit: 3",
        f"{path}: 2 errors",
    ]
    assert "needs_a_database_for_the_test" not in sys.modules


def test_graph_and_the_library_do_not_import(
    services: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # graph only draws; the library imports when it builds its services (the runtime's job).
    fixed = FILE.replace("restart: {max_restarts: many}", "restart: {max_restarts: 3}")
    Path(services).write_text(fixed)
    assert main(["graph", services]) == EXIT_OK
    assert "api [run] <- beat (ready)" in capsys.readouterr().out
    assert load_config(services).services["api"].run == "no_such_package_for_the_test.api:serve"
    with pytest.raises(ConfigError, match=r"services\.api\.run: cannot import module"):
        load_config(services, import_targets=True)


def test_a_valid_file_imports_and_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("services:\n  beat:\n    run: supervisor.examples:heartbeat\n")
    assert main(["check", str(path)]) == EXIT_OK
    assert capsys.readouterr().out.startswith(f"{path}: OK, 1 service")
    config = load_config_data({"services": {"beat": {"run": "supervisor.examples:heartbeat"}}})
    assert config.services["beat"].run == "supervisor.examples:heartbeat"
