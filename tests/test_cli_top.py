"""``supervisor top``: driven for real in a terminal (tmux), plus its model and its refusals.

The terminal test starts a daemon, runs ``supervisor top`` in a tmux session of fixed
size, reads the screen with ``capture-pane`` and types with ``send-keys``; every wait polls
the screen (or the daemon) until a deadline, never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisor.cli import main
from supervisor.cli.top_model import COLUMNS, TopModel, format_bytes, format_cpu
from supervisor.control.client import ControlClient
from tests.daemon_helpers import PYTHON, ROOT, Daemon, cli_inline, sleeper, wait_for

TMUX = shutil.which("tmux")
EXITED = re.compile(r"^\[exited (\d+)\]", re.MULTILINE)

CONFIG = f"""
services:
  db:
    command: {sleeper("db up")}
  api:
    command: {sleeper("api up")}
    depends_on: [db]
"""


class Terminal:
    """A tmux server of its own (socket in ``directory``) with one window of fixed size."""

    def __init__(self, directory: Path, width: int = 110, height: int = 30) -> None:
        assert TMUX is not None
        self.base = [TMUX, "-S", str(directory / "tmux.sock"), "-f", str(directory / "tmux.conf")]
        # The pane stays after its program exits, so that what it printed last can be read.
        (directory / "tmux.conf").write_text("set -g remain-on-exit on\nset -g status off\n")
        self.size = (width, height)
        # The server (and what runs in it) gets this environment; a COLUMNS or LINES set
        # for the test process would override the window's size.
        self.env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}

    def tmux(self, *args: str) -> str:
        """Run one tmux command on this server; its output."""
        done = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=10, check=True,
            env=self.env,
        )  # fmt: skip
        return done.stdout

    def run(self, argv: list[str]) -> None:
        """Start ``argv`` in the window (from the repository, like the other CLI tests);
        once it exits, the shell prints ``[exited N]`` below what it left on the screen."""
        width, height = self.size
        command = shlex.join(argv) + '; echo "[exited $?]"'
        self.tmux(
            "new-session", "-d", "-s", "top", "-x", str(width), "-y", str(height),
            "-c", str(ROOT), command,
        )  # fmt: skip

    def screen(self) -> str:
        """The text on the screen now."""
        return self.tmux("capture-pane", "-p", "-t", "top")

    def history(self) -> str:
        """The screen and the lines that scrolled off it, wrapped lines joined."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "top")

    def exited(self) -> re.Match[str] | None:
        """``[exited N]`` once the program has exited (searched in the history: the line
        may have scrolled off when tmux wrote that the pane is dead)."""
        return EXITED.search(self.history())

    def wait_screen(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Wait until the screen matches ``pattern`` (a multi-line regex); fail at once if
        the program exits first."""

        def found() -> re.Match[str] | None:
            screen = self.screen()
            if self.exited():
                raise AssertionError(f"the program exited:\n{screen}")
            return re.search(pattern, screen, re.MULTILINE)

        match: re.Match[str] = wait_for(found, timeout, f"{pattern!r} on the screen")
        return match

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Wait until the program has exited; its exit status."""
        match: re.Match[str] = wait_for(self.exited, timeout, "the program to exit")
        return int(match.group(1))

    def keys(self, *keys: str) -> None:
        """Type ``keys`` (tmux key names: ``Down``, ``q``...)."""
        self.tmux("send-keys", "-t", "top", *keys)

    def close(self) -> None:
        """Stop the server and what runs in it."""
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    if TMUX is None:
        pytest.skip("tmux is not installed: `supervisor top` is tested in a tmux terminal")
    term = Terminal(tmp_path)
    try:
        yield term
    finally:
        term.close()


def row(name: str) -> str:
    """A regex for a service row, capturing STATE, PID, UPTIME, RESTARTS, CPU and MEM."""
    return rf"^\s*{name}\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)"


def test_top_shows_the_services_and_restarts_one_after_confirmation(
    tmp_path: Path, terminal: Terminal
) -> None:
    with Daemon(tmp_path, CONFIG) as daemon:
        before = daemon.wait_running()
        terminal.run([PYTHON, "-m", "supervisor", "top", "--socket", daemon.socket])

        terminal.wait_screen(r"^\s*NAME\s+STATE\s+PID\s+UPTIME\s+RESTARTS\s+CPU\s+MEM\s+REASON")
        api = terminal.wait_screen(row("api"))
        assert api.group(1) == "ready"
        assert api.group(2) == str(before["api"]["pid"])
        assert api.group(4) == "0"
        terminal.wait_screen(r"supervisor running")
        # The first service is selected: its output follows below the table.
        terminal.wait_screen(r"output of db(.|\n)*db up")

        terminal.keys("Down")
        terminal.wait_screen(r"output of api(.|\n)*api up")

        terminal.keys("x")  # stop, then think better of it
        terminal.wait_screen(r"Stop api\?\s+\(y/n\)")
        terminal.keys("n")
        terminal.wait_screen(r"stop api: cancelled")
        assert daemon.services()["api"]["state"] == "ready"

        terminal.keys("r")
        terminal.wait_screen(r"Restart api\?\s+\(y/n\)")
        terminal.keys("y")
        restarted = wait_for(
            lambda: (
                (m := re.search(row("api"), terminal.screen(), re.MULTILINE))
                and m.group(4) == "1"
                and m.group(1) == "ready"
                and m.group(2) != str(before["api"]["pid"])
                and m
            ),
            10,
            "api restarted in the view",
        )
        now = daemon.services()["api"]
        assert now["restarts"] == 1
        assert restarted.group(2) == str(now["pid"])
        terminal.wait_screen(r"restart api: done")
        # The output keeps following the service across the restart.
        terminal.wait_screen(r"output of api\n.*api up\n.*api up")
        if os.environ.get("TOP_CAPTURE"):  # how docs/top.md's capture is made
            Path(os.environ["TOP_CAPTURE"]).write_text(terminal.screen())

        # The daemon stops under the view: it says so and still quits on q.
        assert daemon.client.wait_closed(10)
        terminal.wait_screen(r"the supervisor closed the connection")
        terminal.keys("q")
        assert terminal.wait_exit() == 0


def test_top_without_a_daemon_says_so_and_exits_1(tmp_path: Path, terminal: Terminal) -> None:
    terminal.run([PYTHON, "-m", "supervisor", "top", "--socket", str(tmp_path / "none.sock")])
    assert terminal.wait_exit() == 1
    assert f"no supervisor is listening on {tmp_path / 'none.sock'}" in terminal.history()


def test_top_refuses_when_stdout_is_not_a_terminal() -> None:
    done = cli_inline("top", "--socket", "/nonexistent/supervisor.sock")
    assert done.returncode == 1
    assert "not a terminal" in done.stderr
    assert "supervisor status" in done.stderr and "logs -f" in done.stderr
    assert done.stdout == ""


class Tty(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_the_guide_shows_the_message_outside_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guide = (ROOT / "docs" / "top.md").read_text()
    shown = guide.split("$ supervisor top | cat\n", 1)[1].split("\n", 1)[0]
    monkeypatch.setattr(sys, "stdin", Tty())
    out, err = io.StringIO(), Tty()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["top", "--socket", "/nonexistent/supervisor.sock"])
    assert (code, out.getvalue(), err.getvalue()) == (1, "", shown + "\n")


def test_the_guide_lists_every_key_and_column() -> None:
    pytest.importorskip("textual", reason="the tui extra is not installed")
    from supervisor.cli.top import Confirm, TopApp

    guide = (ROOT / "docs" / "top.md").read_text()
    keys = {getattr(b, "key", None) for b in [*TopApp.BINDINGS, *Confirm.BINDINGS]}
    assert keys == {"s", "x", "r", "q", "y", "n", "escape"}
    for key in keys - {"escape"}:
        assert f"| `{key}` |" in guide or f"`{key}` /" in guide or f"/ `{key}`" in guide, key
    assert "(or `Esc`)" in guide
    for column in COLUMNS:
        assert f"`{column}`" in guide, column


class FakeSubscription:
    """A stream that has sent its answer and nothing after it."""

    def __init__(self, answer: dict[str, object]) -> None:
        self.answer = answer

    def __iter__(self) -> Iterator[dict[str, object]]:
        return iter(())

    def close(self) -> None:
        pass


class FakeClient:
    """Answers ``status`` with ``answer``; each stream answers with ``lines``, then ends."""

    def __init__(self, answer: dict[str, object], lines: list[dict[str, object]]) -> None:
        self.answer = answer
        self.lines = lines

    def request(self, cmd: str, **args: object) -> dict[str, object]:
        return self.answer

    def subscribe(self, cmd: str, **args: object) -> FakeSubscription:
        return FakeSubscription({"ok": True, "lines": self.lines})


def test_what_services_write_is_shown_as_text_not_markup_or_escapes() -> None:
    pytest.importorskip("textual", reason="the tui extra is not installed")
    import asyncio

    from textual.widgets import DataTable, Log

    from supervisor.cli.top import TopApp

    hostile = "[bold]x[/] \x1b[2J"
    answer = status(
        {"name": "api", "state": "stopped", "since": 1.0, "reason": hostile, "restarts": 0}
    )
    client = FakeClient(answer, [{"time": 0, "stream": "stdout", "line": hostile}])
    app = TopApp(client, answer)  # type: ignore[arg-type]

    async def look() -> tuple[str, list[str]]:
        async with app.run_test(size=(100, 20)) as pilot:
            log = app.query_one(Log)
            for _ in range(200):
                if log.lines:
                    break
                await pilot.pause(0.01)
            cell = app.query_one(DataTable).get_cell("api", "REASON")
            await pilot.press("q")
            return cell.plain, list(log.lines)

    reason, lines = asyncio.run(look())
    assert reason == "[bold]x[/] \ufffd[2J"
    assert lines and lines[-1].endswith(" [bold]x[/] \ufffd[2J")


def test_other_commands_do_not_import_the_terminal_library() -> None:
    code = (
        "import sys; from supervisor.cli import main; "
        "main(['status', '--socket', '/nonexistent/supervisor.sock']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


# -- the model behind the view ----------------------------------------------------------


def status(*services: dict[str, object]) -> dict[str, object]:
    return {"supervisor": {"state": "running", "pid": 1, "uptime": 5.0}, "services": services}


def test_events_update_a_row_and_an_older_status_answer_does_not_undo_them() -> None:
    model = TopModel()
    model.apply_status(
        status({"name": "api", "state": "ready", "since": 100.0, "pid": 42, "restarts": 0})
    )
    model.apply_event(
        {"service": "api", "state": "backoff", "time": 101.0, "reason": "exited 1", "restarts": 1}
    )
    assert model.row("api", now=102.0)[:5] == ("api", "backoff", "-", "-", "1")
    assert model.row("api", now=102.0)[-1] == "exited 1"
    # A status answer from before the transition keeps the event's state...
    model.apply_status(
        status({"name": "api", "state": "ready", "since": 100.0, "pid": 42, "restarts": 0})
    )
    assert model.row("api", now=102.0)[1:3] == ("backoff", "-")
    # ...and a newer one wins.
    model.apply_status(
        status({"name": "api", "state": "ready", "since": 103.0, "pid": 43, "restarts": 1})
    )
    assert model.row("api", now=110.0)[1:5] == ("ready", "43", "0:00:07", "1")
    # An event older than what is shown, or of an unknown service, changes nothing.
    model.apply_event({"service": "api", "state": "stopping", "time": 99.0})
    model.apply_event({"service": "ghost", "state": "ready", "time": 200.0})
    assert model.names() == ["api"]
    assert model.row("api", now=110.0)[1] == "ready"


def test_cpu_and_memory_show_a_dash_until_the_daemon_reports_them() -> None:
    model = TopModel()
    model.apply_status(
        status(
            {"name": "old", "state": "ready", "since": 1.0},
            {"name": "new", "state": "ready", "since": 1.0, "cpu_percent": 12.345,
             "memory_bytes": 25 * 1024 * 1024},
            {"name": "idle", "state": "ready", "since": 1.0, "cpu_percent": None,
             "memory_bytes": None},
        )
    )  # fmt: skip
    cpu, mem = COLUMNS.index("CPU"), COLUMNS.index("MEM")
    assert (model.row("old")[cpu], model.row("old")[mem]) == ("-", "-")
    assert (model.row("new")[cpu], model.row("new")[mem]) == ("12.3%", "25.0M")
    assert (model.row("idle")[cpu], model.row("idle")[mem]) == ("-", "-")
    assert "cpu -" in model.header() and "mem -" in model.header()


@given(st.one_of(st.integers(), st.floats(), st.none(), st.booleans(), st.text()))
def test_figures_format_any_value_in_a_few_characters(value: object) -> None:
    for text in (format_cpu(value), format_bytes(value)):
        assert text == "-" or len(text) <= 6


def test_format_bytes_units() -> None:
    values = (0, 1023, 2048, 5 * 1024**3, 1_048_523_572, 3 * 1024**5, 10**30)
    expected = ["0B", "1023B", "2K", "5.0G", "1.0G", "3.0P", ">999P"]
    assert [format_bytes(v) for v in values] == expected
    assert [format_cpu(v) for v in (0, 12.345, 999.96, 1234.5, 9999.7)] == [
        "0.0%",
        "12.3%",
        "1000%",
        "1234%",
        ">9999%",
    ]


# -- the client side of a stream ---------------------------------------------------------


def test_a_subscription_closed_from_another_thread_ends_its_reader(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    accepted: list[socket.socket] = []

    def answer_then_stay_silent() -> None:
        conn, _ = server.accept()
        accepted.append(conn)
        conn.recv(1024)
        conn.sendall(b'{"ok":true}\n{"service":"a","state":"ready"}\n')

    peer = threading.Thread(target=answer_then_stay_silent)
    peer.start()
    try:
        subscription = ControlClient(path, timeout=5).subscribe("events")
        assert subscription.answer == {"ok": True}
        got: list[dict[str, object]] = []
        reader = threading.Thread(target=lambda: got.extend(subscription))
        reader.start()
        wait_for(lambda: got, 5, "the first event")
        subscription.close()
        reader.join(5)
        assert not reader.is_alive()
        assert got == [{"service": "a", "state": "ready"}]
    finally:
        peer.join(5)
        for conn in accepted:
            conn.close()
        server.close()
