"""Resource figures read from /proc: process trees, the CPU window, and bounded memory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisor.config.listen import parse_listen
from supervisor.control import resources
from supervisor.control.resources import MIN_WINDOW, ProcStat, ResourceMonitor, tree

CHILD = "import time; print('up', flush=True); time.sleep(1000)"
PARENT = (
    "import subprocess, sys, time\n"
    f"child = subprocess.Popen([sys.executable, '-c', {CHILD!r}])\n"
    "print('up', flush=True); child.wait()\n"
)


@pytest.fixture
def parent_and_child() -> Iterator[tuple[int, int]]:
    """A parent process and its child, both running (pids)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "up\n" and proc.stdout.readline() == "up\n"
        kids = resources._children(proc.pid)
        assert kids is not None and len(kids) == 1
        yield proc.pid, kids[0]
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_tree_is_the_process_and_its_descendants(parent_and_child: tuple[int, int]) -> None:
    parent, child = parent_and_child
    assert {s.pid for s in tree(parent)} == {parent, child}
    assert [s.pid for s in tree(child)] == [child]
    assert tree(2**22 + 12345) == []  # no such process: nothing, no error


def test_without_the_children_file_the_tree_comes_from_one_scan(
    parent_and_child: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    parent, child = parent_and_child
    monkeypatch.setattr(resources, "_children", lambda pid: None)  # no CONFIG_PROC_CHILDREN
    assert {s.pid for s in tree(parent)} == {parent, child}


def fake_tree(cpu: list[float]) -> object:
    """``tree()`` returning one process whose CPU time is the last value of ``cpu``."""
    return lambda pid, parents=None: [ProcStat(pid, 1, cpu[-1], 0.0, 42, 4096)]


def test_cpu_percent_is_the_delta_between_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, cpu = [100.0], [2.0]
    monkeypatch.setattr(resources, "tree", fake_tree(cpu))
    monkeypatch.setattr(resources, "_age", lambda stat: 10.0)
    monitor = ResourceMonitor(now=lambda: clock[-1])

    def percent() -> float | None:
        return monitor.services({"a": 7})["a"].cpu_percent

    assert percent() == 20.0  # first request: 2 s of CPU in 10 s since the start
    cpu.append(3.5)
    clock.append(100.0 + MIN_WINDOW / 2)
    assert percent() == 20.0  # too soon for a new window: the previous figure
    clock.append(102.0)
    assert percent() == 75.0  # 1.5 s of CPU in 2 s
    cpu.append(1.0)  # a process of the tree went away with its CPU time
    clock.append(103.0)
    assert percent() == 0.0  # never negative
    assert monitor.services({"a": None})["a"].cpu_percent is None


def test_windows_of_gone_processes_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "tree", fake_tree([1.0]))
    monkeypatch.setattr(resources, "_age", lambda stat: 1.0)
    monitor = ResourceMonitor()
    for pid in range(1000, 1500):  # a service restarted 500 times: a new pid each time
        monitor.services({"a": pid})
    monitor.own()
    assert len(monitor._windows) <= 2  # the current process of `a`, and the supervisor


def test_the_supervisor_figures_leave_its_children_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # its children are the services, measured on their own: their reaped CPU time is not its
    me = ProcStat(os.getpid(), 1, 1.5, 50.0, 42, 8 << 20)
    monkeypatch.setattr(resources, "read_stat", lambda pid: me if pid == me.pid else None)
    monkeypatch.setattr(resources, "_age", lambda stat: 10.0)
    own = ResourceMonitor().own()
    assert (own.cpu_seconds, own.memory_bytes, own.cpu_percent) == (1.5, 8 << 20, 15.0)


@given(st.text(max_size=40))
def test_any_listen_text_parses_or_says_what_was_expected(text: str) -> None:
    try:
        host, port = parse_listen(text)
    except ValueError as exc:
        assert str(exc).startswith("expected host:port")
    else:
        assert host and 0 <= port < 65536


def test_the_status_table_shows_figures_or_a_dash() -> None:
    from supervisor.cli.control_commands import format_table

    rows = [
        {"name": "api", "state": "ready", "pid": 7, "uptime": 5, "restarts": 0}
        | {"cpu_percent": 12.345, "memory_bytes": 31 << 20},
        {"name": "tick", "state": "ready", "pid": None, "uptime": 5, "restarts": 0}
        | {"cpu_percent": None, "memory_bytes": None},  # a Python service
        {"name": "big", "state": "ready", "pid": 8, "uptime": 5, "restarts": 0}
        | {"cpu_percent": 250.0, "memory_bytes": 3 << 40},
    ]
    table = [line.split() for line in format_table(rows).splitlines()]
    assert table[0][5:7] == ["CPU", "MEM"]
    assert [row[5:7] for row in table[1:]] == [["12.3%", "31.0M"], ["-", "-"], ["250.0%", "3.0T"]]
