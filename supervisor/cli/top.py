"""``supervisor top``: a full-screen live view of a running daemon, built on Textual.

A client of the control socket like the other commands: one ``events`` subscription
updates the table as transitions happen, a ``status`` request every second brings pids,
CPU and memory, and a ``logs`` follow shows the selected service's output below. Start,
stop and restart ask for a confirmation first.

The socket client blocks, so each feed runs in a daemon thread and hands what it reads
to the app as a message (``post_message`` is thread-safe); the app's own loop only
draws. This module imports Textual, so only ``supervisor top`` imports it (the other
commands never pay for it).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Log, Static

from supervisor.cli.top_model import COLUMNS, TopModel, printable
from supervisor.control.client import ControlClient, ControlError, NoDaemon, Subscription

REFRESH = 1.0
"""Seconds between two status requests (pids, CPU, memory, uptime)."""

LOG_LINES = 200
"""Output lines of the selected service fetched when it is selected, and kept on screen."""

ACTIONS = {"s": "start", "x": "stop", "r": "restart"}
"""Keys that act on the selected service, and the control command each sends."""


class StatusArrived(Message):
    """A ``status`` answer."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__()
        self.answer = answer


class EventArrived(Message):
    """One transition from the ``events`` stream."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event


class OutputArrived(Message):
    """Output lines of the service followed by subscription number ``generation``."""

    def __init__(self, generation: int, lines: list[dict[str, Any]]) -> None:
        super().__init__()
        self.generation = generation
        self.lines = lines


class Notice(Message):
    """A line for the message bar (an action's result, a lost connection)."""

    def __init__(self, text: str, *, error: bool = False) -> None:
        super().__init__()
        self.text = text
        self.error = error


class Confirm(ModalScreen[bool]):
    """``Restart api? (y/n)``: dismissed with ``True`` on y, ``False`` on n or escape."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n", "answer(False)", "no"),
        Binding("escape", "answer(False)", "no", show=False),
    ]
    DEFAULT_CSS = """
    Confirm { align: center middle; }
    Confirm > Static { width: auto; padding: 1 3; border: round $warning; background: $panel; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        yield Static(Text(f"{self.question}  (y/n)"))

    def action_answer(self, yes: bool) -> None:
        """Close the dialog with the answer."""
        self.dismiss(yes)


class TopApp(App[int]):
    """The live view of the daemon behind ``client``."""

    TITLE = "supervisor top"
    ENABLE_COMMAND_PALETTE = False  # every action has its key, shown in the footer
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "act('start')", "start"),
        Binding("x", "act('stop')", "stop"),
        Binding("r", "act('restart')", "restart"),
        Binding("q", "quit_top", "quit"),
    ]
    DEFAULT_CSS = """
    #header { height: 1; background: $boost; padding: 0 1; }
    #services { height: auto; max-height: 50%; }
    #output-title { height: 1; background: $boost; padding: 0 1; }
    #output { height: 1fr; padding: 0 1; }
    #message { height: 1; padding: 0 1; }
    #message.error { color: $error; }
    """

    def __init__(self, client: ControlClient, first_status: dict[str, Any]) -> None:
        super().__init__()
        self.client = client
        self.model = TopModel()
        self.model.apply_status(first_status)
        self.selected: str | None = None
        self._lock = threading.Lock()
        self._generation = 0  # of the output subscription; stale lines are dropped
        self._follow: Subscription | None = None
        self._events: Subscription | None = None
        self._status_busy = False
        self._quitting = False
        self._shown: dict[str, tuple[str, ...]] = {}  # the cells on screen, by service

    # -- layout and start ------------------------------------------------------------

    def compose(self) -> ComposeResult:
        """Header line, service table, output of the selected service, message bar."""
        with Vertical():
            yield Static(id="header")
            yield DataTable(id="services", cursor_type="row", zebra_stripes=True)
            yield Static("output", id="output-title")
            yield Log(id="output", max_lines=LOG_LINES * 5)
            yield Static(id="message")
        yield Footer()

    def on_mount(self) -> None:
        """Fill the table, start the feeds and the periodic refresh."""
        table = self.query_one("#services", DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self._redraw()
        table.focus()
        self._spawn(self._read_events)
        self.set_interval(REFRESH, self._tick)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        threading.Thread(target=target, args=args, daemon=True, name="top feed").start()

    def _post(self, message: Message) -> None:
        if self._quitting:
            return
        with contextlib.suppress(RuntimeError):  # the loop is gone: the app has exited
            self.post_message(message)

    # -- feeds (threads) ---------------------------------------------------------------

    def _read_events(self) -> None:
        try:
            subscription = self.client.subscribe("events")
        except (NoDaemon, ControlError, OSError) as exc:
            self._post(Notice(f"no live updates: {exc}", error=True))
            return
        with self._lock:
            if self._quitting:
                subscription.close()
                return
            self._events = subscription
        self._request_status()  # what changed between the first status and the stream
        try:
            for event in subscription:
                self._post(EventArrived(event))
                self._request_status()
        except (OSError, ValueError) as exc:
            self._post(Notice(f"live updates lost: {exc}", error=True))
            return
        self._post(Notice("the supervisor closed the connection (it stopped)", error=True))

    def _request_status(self) -> None:
        with self._lock:
            if self._status_busy or self._quitting:
                return
            self._status_busy = True
        self._spawn(self._read_status)

    def _read_status(self) -> None:
        try:
            self._post(StatusArrived(self.client.request("status")))
        except (NoDaemon, ControlError, OSError):
            pass  # the events feed reports a lost daemon
        finally:
            with self._lock:
                self._status_busy = False

    def _read_output(self, generation: int, name: str) -> None:
        try:
            subscription = self.client.subscribe("logs", service=name, lines=LOG_LINES, follow=True)
        except (NoDaemon, ControlError, OSError) as exc:
            self._post(Notice(f"no output of {name}: {exc}", error=True))
            return
        with self._lock:
            if generation != self._generation or self._quitting:
                subscription.close()
                return
            self._follow = subscription
        self._post(OutputArrived(generation, list(subscription.answer.get("lines", []))))
        with contextlib.suppress(OSError, ValueError):
            for line in subscription:
                self._post(OutputArrived(generation, [line]))

    def _act(self, action: str, name: str) -> None:
        try:
            answer = self.client.request(action, names=[name])
        except (NoDaemon, ControlError, OSError) as exc:
            self._post(Notice(f"{action} {name}: {exc}", error=True))
            return
        states = [f"{s.get('name')}: {s.get('state')}" for s in answer.get("services", [])]
        self._post(Notice(f"{action} {name}: done ({', '.join(states)})"))
        self._request_status()

    # -- messages (the app's loop) -----------------------------------------------------

    @on(StatusArrived)
    def _status_arrived(self, message: StatusArrived) -> None:
        self.model.apply_status(message.answer)
        self._redraw()

    @on(EventArrived)
    def _event_arrived(self, message: EventArrived) -> None:
        self.model.apply_event(message.event)
        self._redraw()

    @on(OutputArrived)
    def _output_arrived(self, message: OutputArrived) -> None:
        if message.generation != self._generation:
            return
        output = self.query_one("#output", Log)
        for line in message.lines:
            stamp = time.strftime("%H:%M:%S", time.localtime(float(line.get("time", 0))))
            output.write_line(f"{stamp} {printable(str(line.get('line', '')))}")

    @on(Notice)
    def _notice(self, message: Notice) -> None:
        bar = self.query_one("#message", Static)
        bar.update(Text(printable(message.text)))
        bar.set_class(message.error, "error")

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        name = message.row_key.value
        if name is not None and name != self.selected:
            self._select(name)

    def _tick(self) -> None:
        self._redraw()
        self._request_status()

    # -- drawing -----------------------------------------------------------------------

    def _redraw(self) -> None:
        """Bring the table in line with the model (rows added, removed, cells changed)."""
        self.query_one("#header", Static).update(Text(printable(self.model.header())))
        table = self.query_one("#services", DataTable)
        names = self.model.names()
        now = time.time()
        rows = {name: self.model.row(name, now) for name in names}
        # Cells are Text, not str: a str cell is read as Rich markup, and a reason is
        # whatever a service wrote.
        if list(self._shown) != names:
            table.clear()
            for name in names:
                table.add_row(*map(Text, rows[name]), key=name)
            if self.selected in names:
                table.move_cursor(row=names.index(self.selected))
        else:
            for name in names:
                for column, cell, old in zip(COLUMNS, rows[name], self._shown[name], strict=True):
                    if cell != old:
                        table.update_cell(name, column, Text(cell), update_width=True)
        self._shown = rows
        if names and self.selected not in names:
            self._select(names[min(table.cursor_row, len(names) - 1)])

    def _select(self, name: str) -> None:
        """Follow the output of ``name`` instead of the previous selection."""
        self.selected = name
        with self._lock:
            self._generation += 1
            generation = self._generation
            previous, self._follow = self._follow, None
        if previous is not None:
            previous.close()
        self.query_one("#output", Log).clear()
        self.query_one("#output-title", Static).update(Text(f"output of {name}"))
        self._spawn(self._read_output, generation, name)

    # -- keys --------------------------------------------------------------------------

    def action_act(self, action: str) -> None:
        """Ask, then start, stop or restart the selected service."""
        name = self.selected
        if name is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._notice(Notice(f"{action} {name}..."))
                self._spawn(self._act, action, name)
            else:
                self._notice(Notice(f"{action} {name}: cancelled"))

        self.push_screen(Confirm(f"{action.capitalize()} {name}?"), answered)

    def action_quit_top(self) -> None:
        """Close every feed and leave."""
        with self._lock:
            self._quitting = True
            subscriptions = [self._events, self._follow]
        for subscription in subscriptions:
            if subscription is not None:
                subscription.close()
        self.exit(0)


def run(client: ControlClient, first_status: dict[str, Any]) -> int:
    """Show the live view of the daemon behind ``client`` until ``q``; the exit code.

    ``first_status`` is the daemon's answer to ``status``, asked before the screen is
    taken (so that a daemon that is not running is reported like by the other commands).
    """
    result = TopApp(client, first_status).run()
    return int(result or 0)
