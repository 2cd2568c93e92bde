"""Cost of one supervisor log event (a process's output line) by logging route, same run.

Times ``log.info("output", stream=..., line=...)``, the event a process logs for each line
it writes, on the logger the library uses (:func:`supervisor.loggers.get_logger`), against
the same call on a logger taken from structlog directly:

* ``structlog``: the application configured structlog (filtering at WARNING); the
  supervisor's logger against ``structlog.get_logger().bind()`` (target ratio <= 1.10: the
  choice of route costs nothing per event once made);
* ``stdlib dropped``: structlog not configured, ``logging.getLogger("supervisor")`` at
  WARNING, so the event is dropped; against the structlog baseline above;
* ``stdlib handled``: the same at INFO with a ``NullHandler``: what a kept record costs
  (stdlib builds a ``LogRecord``), for scale;
* ``structlog defaults``: what such an application paid before the stdlib route, when
  every event was rendered by structlog's default processors and printed (here to
  ``/dev/null``).

Rounds interleave the variants so that machine noise hits all alike.

    python bench/logging_overhead.py [--events 100000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import structlog

from supervisor.loggers import get_logger


def _time(log: Any, events: int) -> float:
    info = log.info
    start = time.perf_counter()
    for _ in range(events):
        info("output", stream="stdout", line="listening on 8000")
    return (time.perf_counter() - start) / events


def _configured() -> tuple[Any, Any]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    ours = get_logger("supervisor").bind(service="api")
    ours.debug("choose the route now")
    return ours, structlog.get_logger("supervisor").bind(service="api")


def _defaults(sink: Any) -> Any:
    structlog.reset_defaults()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sink))
    return structlog.get_logger("supervisor").bind(service="api")


def _stdlib(level: int) -> Any:
    structlog.reset_defaults()
    logger = logging.getLogger("supervisor")
    logger.setLevel(level)
    logger.handlers = [logging.NullHandler()]
    logger.propagate = False
    ours = get_logger("supervisor").bind(service="api")
    ours.debug("choose the route now")
    return ours


def main() -> None:
    """Measure and print nanoseconds per event and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    results: dict[str, list[float]] = {
        "structlog, direct": [],
        "structlog, supervisor's logger": [],
        "stdlib at WARNING (dropped)": [],
        "stdlib at INFO (NullHandler)": [],
        "structlog defaults, printed": [],
    }
    sink = open(os.devnull, "w")  # noqa: SIM115 (closed at the end)
    runs: dict[str, Callable[[], float]] = {
        "structlog, direct": lambda: _time(_configured()[1], args.events),
        "structlog, supervisor's logger": lambda: _time(_configured()[0], args.events),
        "stdlib at WARNING (dropped)": lambda: _time(_stdlib(logging.WARNING), args.events),
        "stdlib at INFO (NullHandler)": lambda: _time(_stdlib(logging.INFO), args.events // 10),
        "structlog defaults, printed": lambda: _time(_defaults(sink), args.events // 10),
    }
    for _ in range(args.rounds):
        for name, run in runs.items():
            results[name].append(run())
    sink.close()
    medians = {name: statistics.median(values) for name, values in results.items()}
    base = medians["structlog, direct"]
    for name, value in medians.items():
        print(f"{name:32} {value * 1e9:8.0f} ns/event   x{value / base:.2f}")


if __name__ == "__main__":
    main()
