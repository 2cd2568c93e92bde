"""A leak tracker: which tracked objects are still alive, named, and since when.

A debugging aid. Tracking holds only a weak reference: when a tracked object is garbage
collected its entry disappears by itself, so whatever :meth:`LeakTracker.live` still lists
is alive, and if it should not be, it leaks. The tracker is thread-safe (a
``threading.Lock`` held for a few dictionary operations, never across an ``await``).
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LeakInfo:
    """What is known of one tracked object."""

    name: str
    """Human-readable identifier (``obj-<id>`` when none was given)."""
    kind: str | None
    """Optional classification, e.g. ``"connection"`` or ``"file"``."""
    created_at: float
    """Wall-clock time (``time.time()``) when tracking started."""


class LeakTracker:
    """Tracks live objects through weak references, for leak detection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[int, tuple[LeakInfo, weakref.finalize[..., object]]] = {}

    def track(self, obj: object, *, name: str | None, kind: str | None) -> None:
        """Start tracking ``obj`` (again: its entry is replaced).

        Raises ``TypeError`` for an object that cannot be weakly referenced (``object()``,
        ``int``, ``tuple``...): its end could never be observed.
        """
        key = id(obj)
        info = LeakInfo(name if name is not None else f"obj-{key}", kind, time.time())
        try:
            finalizer = weakref.finalize(obj, self._forget, key)
        except TypeError:
            raise TypeError(
                f"cannot track a {type(obj).__name__}: it does not support weak references"
            ) from None
        finalizer.atexit = False
        with self._lock:
            previous = self._live.pop(key, None)
            self._live[key] = (info, finalizer)
        if previous is not None:
            previous[1].detach()

    def untrack(self, obj: object) -> None:
        """Stop tracking ``obj`` (nothing happens if it is not tracked)."""
        with self._lock:
            # While ``obj`` is alive, an entry under its id is its own: the entry of an earlier
            # object with that id went when that object died, through its finalizer.
            entry = self._live.pop(id(obj), None)
        if entry is not None:
            entry[1].detach()

    def live(self) -> list[LeakInfo]:
        """A snapshot of what is tracked and still alive, oldest first."""
        with self._lock:
            infos = [info for info, _ in self._live.values()]
        return sorted(infos, key=lambda info: info.created_at)

    def clear(self) -> None:
        """Forget every tracked object (the objects themselves are untouched)."""
        with self._lock:
            entries = list(self._live.values())
            self._live.clear()
        for _, finalizer in entries:
            finalizer.detach()

    def _forget(self, key: int) -> None:
        with self._lock:
            self._live.pop(key, None)


_TRACKER = LeakTracker()


def track_resource(obj: object, name: str | None = None, kind: str | None = None) -> None:
    """Track ``obj`` in the process-wide tracker (see :func:`live_resources`)."""
    _TRACKER.track(obj, name=name, kind=kind)


def untrack_resource(obj: object) -> None:
    """Stop tracking ``obj`` in the process-wide tracker."""
    _TRACKER.untrack(obj)


def live_resources() -> list[LeakInfo]:
    """What the process-wide tracker still sees alive, oldest first."""
    return _TRACKER.live()
