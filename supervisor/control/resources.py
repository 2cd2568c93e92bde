"""CPU and memory of the supervisor and of each process service's tree, read on request.

Figures come from ``/proc`` (Linux) and are computed only when someone asks (``status``,
``/metrics``): nothing samples in the background, so an idle daemon spends nothing on them.
Elsewhere (no ``/proc``) every figure is ``None``.

A process service's figures cover its whole tree: the main process and every descendant
(found through ``/proc/PID/task/TID/children``, or one scan of ``/proc`` where the kernel
lacks that file). ``memory_bytes`` is the sum of their resident set sizes (pages shared
between them count once per process, as ``ps`` shows them). CPU time includes the children
that a process of the tree has already waited for (``cutime``/``cstime``), so the time of a
short-lived helper is not lost when it exits.

``cpu_percent`` is the CPU time used between two requests divided by the wall time between
them (100 = one core busy; a tree using two cores reads 200). Requests closer than
:data:`MIN_WINDOW` share the previous figure instead of starting a window too short to mean
anything; the first request about a process reads its average since it started. Reading
``/proc`` directly costs a fraction of what psutil does for the same figures (see
``bench/resources.py``): one read of ``/proc/PID/stat`` per process gives its parent, CPU
times and RSS at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MIN_WINDOW = 0.5
"""Shortest span, in seconds, over which ``cpu_percent`` is measured anew."""

_PROC = "/proc"


def _sysconf(name: str, default: int) -> int:
    try:
        value = os.sysconf(name)
    except (ValueError, OSError, AttributeError):
        return default
    return value if value > 0 else default


CLOCK_TICKS = _sysconf("SC_CLK_TCK", 100)
PAGE_SIZE = _sysconf("SC_PAGE_SIZE", 4096)


@dataclass(frozen=True, slots=True)
class ProcStat:
    """What one read of ``/proc/PID/stat`` says about a process."""

    pid: int
    ppid: int
    cpu_seconds: float
    """User + system time of the process itself."""
    children_cpu_seconds: float
    """User + system time of the children it has waited for."""
    start_ticks: int
    """Start time in clock ticks since boot (with the pid, identifies the process)."""
    rss_bytes: int


def read_stat(pid: int) -> ProcStat | None:
    """``/proc/PID/stat`` of ``pid``, or ``None`` when it is gone (or unreadable)."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as f:
            data = f.read()
        fields = data[data.rindex(b")") + 2 :].split()
        # fields[0] is field 3 (state) of proc(5): field n is fields[n - 3]
        return ProcStat(
            pid=pid,
            ppid=int(fields[1]),
            cpu_seconds=(int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
            children_cpu_seconds=(int(fields[13]) + int(fields[14])) / CLOCK_TICKS,
            start_ticks=int(fields[19]),
            rss_bytes=int(fields[21]) * PAGE_SIZE,
        )
    except (OSError, ValueError, IndexError):
        return None


def _children(pid: int) -> list[int] | None:
    """Children of ``pid`` from its tasks' ``children`` files (``None``: not supported)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"{_PROC}/{pid}/task")
    except FileNotFoundError:
        return []  # gone
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"{_PROC}/{pid}/task/{tid}/children", "rb") as f:
                found.extend(int(child) for child in f.read().split())
        except FileNotFoundError:
            if not os.path.exists(f"{_PROC}/{pid}/task/{tid}"):
                continue  # the thread ended meanwhile
            return None
        except (OSError, ValueError):
            return None
    return found


class _ParentMap:
    """``{ppid: [pid, ...]}`` of every process, read once when a kernel lacks ``children``."""

    def __init__(self) -> None:
        self._map: dict[int, list[int]] | None = None

    def children(self, pid: int) -> list[int]:
        if self._map is None:
            self._map = {}
            for entry in os.listdir(_PROC):
                if entry.isdigit():
                    stat = read_stat(int(entry))
                    if stat is not None:
                        self._map.setdefault(stat.ppid, []).append(stat.pid)
        return self._map.get(pid, [])


def tree(pid: int, parents: _ParentMap | None = None) -> list[ProcStat]:
    """``pid`` and its live descendants (empty when ``pid`` is gone)."""
    parents = parents or _ParentMap()
    found: list[ProcStat] = []
    seen: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        stat = read_stat(current)
        if stat is None:
            continue
        found.append(stat)
        kids = _children(current)
        todo.extend(parents.children(current) if kids is None else kids)
    return found


@dataclass(frozen=True, slots=True)
class Usage:
    """The resource figures of one process (or tree) now."""

    cpu_seconds: float | None
    """CPU time used so far (user + system), ``None`` when unknown."""
    cpu_percent: float | None
    """Share of one core used lately (see the module docstring)."""
    memory_bytes: int | None
    """Resident memory (summed over the tree)."""

    def to_dict(self) -> dict[str, float | int | None]:
        """``cpu_percent``, ``memory_bytes`` and ``cpu_seconds``: fields of the status JSON."""
        cpu = None if self.cpu_seconds is None else round(self.cpu_seconds, 3)
        return {
            "cpu_percent": self.cpu_percent,
            "memory_bytes": self.memory_bytes,
            "cpu_seconds": cpu,
        }


UNKNOWN = Usage(None, None, None)
"""The figures of something that does not run as a process of its own."""


@dataclass(slots=True)
class _Window:
    since: float
    cpu_seconds: float
    percent: float


class ResourceMonitor:
    """Turns ``/proc`` readings into :class:`Usage`, remembering the previous request's."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._windows: dict[tuple[int, int], _Window] = {}

    def own(self) -> Usage:
        """The supervisor process itself (its services excluded)."""
        stat = read_stat(os.getpid())
        if stat is None:
            return UNKNOWN
        return self._usage(stat, stat.cpu_seconds, stat.rss_bytes)

    def services(self, pids: dict[str, int | None]) -> dict[str, Usage]:
        """``{name: usage}`` for each process service's main pid (``None``: not running).

        Windows of processes not asked about any more are forgotten, so the memory kept
        does not grow with restarts.
        """
        parents = _ParentMap()
        result: dict[str, Usage] = {}
        keep: set[tuple[int, int]] = set()
        for name, pid in pids.items():
            stats = tree(pid, parents) if pid else []
            if not stats:
                result[name] = UNKNOWN
                continue
            root = stats[0]
            cpu = sum(s.cpu_seconds + s.children_cpu_seconds for s in stats)
            rss = sum(s.rss_bytes for s in stats)
            result[name] = self._usage(root, cpu, rss)
            keep.add((root.pid, root.start_ticks))
        own = read_stat(os.getpid())
        if own is not None:
            keep.add((own.pid, own.start_ticks))
        for key in set(self._windows) - keep:
            del self._windows[key]
        return result

    def _usage(self, root: ProcStat, cpu_seconds: float, rss: int) -> Usage:
        now = self._now()
        key = (root.pid, root.start_ticks)
        window = self._windows.get(key)
        if window is None:
            age = _age(root)
            percent = 100.0 * cpu_seconds / age if age and age > 0 else 0.0
            self._windows[key] = _Window(now, cpu_seconds, percent)
        elif now - window.since >= MIN_WINDOW:
            used = max(0.0, cpu_seconds - window.cpu_seconds)
            percent = 100.0 * used / (now - window.since)
            self._windows[key] = _Window(now, cpu_seconds, percent)
        else:
            percent = window.percent
        return Usage(cpu_seconds, round(percent, 1), rss)


def _age(stat: ProcStat) -> float | None:
    """Seconds since the process started (``/proc/uptime`` and start times share a clock)."""
    try:
        with open(f"{_PROC}/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(uptime - stat.start_ticks / CLOCK_TICKS, 1.0 / CLOCK_TICKS)


def process_pids(statuses: Iterable[dict[str, object]]) -> dict[str, int | None]:
    """``{name: pid}`` of the process services in status dicts (``kind == "process"``)."""
    pids: dict[str, int | None] = {}
    for status in statuses:
        if status.get("kind") == "process":
            pid = status.get("pid")
            pids[str(status["name"])] = pid if isinstance(pid, int) else None
    return pids
