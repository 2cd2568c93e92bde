"""Overhead of supervisor.concurrency's TaskGroup against raw anyio, in the same run.

Starts N tasks with ``start_soon``, ``create_task`` (a coroutine object) and ``start`` (a
task that calls ``task_status.started()``), through the wrapper and through raw anyio, on
asyncio and trio,
interleaving the two so that machine noise hits both alike, and prints the ratios
(wrapper / raw; target <= 1.10).

    python bench/concurrency_overhead.py [--tasks 10000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import anyio.abc

from supervisor.concurrency import TASK_STATUS_IGNORED, create_task_group

Factory = Callable[[], Any]


async def _noop() -> None:
    return None


async def _ready(*, task_status: anyio.abc.TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
    task_status.started()


def _start_soon(factory: Factory, n: int) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        async with factory() as tg:
            for _ in range(n):
                tg.start_soon(_noop)

    return run


def _create_task(factory: Factory, n: int) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        async with factory() as tg:
            for _ in range(n):
                tg.create_task(_noop())

    return run


def _start(factory: Factory, n: int) -> Callable[[], Coroutine[Any, Any, None]]:
    async def run() -> None:
        async with factory() as tg:
            for _ in range(n):
                await tg.start(_ready)

    return run


def _time(backend: str, fn: Callable[[], Coroutine[Any, Any, None]]) -> float:
    async def timed() -> float:
        began = time.perf_counter()
        await fn()
        return time.perf_counter() - began

    return float(anyio.run(timed, backend=backend))


def main() -> None:
    """Run the benchmark and print a table of times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    print(f"{args.tasks} tasks, median of {args.rounds} rounds (wrapper / raw anyio)")
    print(f"{'backend':8} {'call':11} {'raw ms':>9} {'wrapper ms':>11} {'ratio':>7}")
    worst = 0.0
    for backend in ("asyncio", "trio"):
        for label, make in (
            ("start_soon", _start_soon),
            ("create_task", _create_task),
            ("start", _start),
        ):
            raw_times: list[float] = []
            ours_times: list[float] = []
            for _ in range(args.rounds):
                raw_times.append(_time(backend, make(anyio.create_task_group, args.tasks)))
                ours_times.append(_time(backend, make(create_task_group, args.tasks)))
            raw = statistics.median(raw_times)
            ours = statistics.median(ours_times)
            worst = max(worst, ours / raw)
            print(f"{backend:8} {label:11} {raw * 1e3:9.1f} {ours * 1e3:11.1f} {ours / raw:7.3f}")
    print(f"worst ratio: {worst:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
