"""Overhead of the supervision runtime against raw anyio, measured in the same run.

    python bench/runtime.py [--services 10000] [--chain 1000] [--dag 500] [--rounds 3]

On asyncio and on trio:

1. ``independent``: N services started and stopped through ``async with sup`` against raw
   anyio (``await tg.start(task)`` where the task calls ``task_status.started()`` and then
   sleeps until the group is cancelled). Target <= 2.0x.
2. ``chain``: a chain of M services, each depending on the previous, started and stopped,
   against M raw ``tg.start`` calls in sequence followed by a stop in reverse order (each
   task cancelled through its own scope once the next one has finished): the shape a
   chain must have. The ratio is the per-service overhead. Target <= 2.0x.
3. ``dag``: a random DAG of K services (seeded) whose readiness takes 0-20 ms each:
   time until ``async with sup`` returns, against the critical path computed from the
   delays (target <= 1.05x) and against a hand-written raw anyio version of the same DAG
   (events per node), which shows what sleep granularity alone costs.
4. ``dag after``: a DAG of 300 services started right after a 10,000-service supervisor
   ran in the same process: what that supervisor left for the cyclic collector (if
   anything) slows this start down. Target: critical path x 1.05 + 20 ms.
5. ``idle``: CPU time used by a started supervisor of 1,000 services over 2 s of idling
   (no health checks): ~0 means no periodic wake-ups.

The rounds of the supervisor and of the baseline are interleaved, and the median ratio is
reported. The application (this script) sets structlog to warnings only, as a daemon
writing to a file at info level would pay for its own log lines either way.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
import anyio.abc
import structlog

from supervisor import TASK_STATUS_IGNORED, ServiceContext, Supervisor

Bench = Callable[[], Coroutine[Any, Any, float]]


async def _raw_task(*, task_status: anyio.abc.TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await anyio.sleep_forever()


async def _service(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
    task_status.started()
    await anyio.sleep_forever()


def raw_starts(n: int) -> Bench:
    async def run() -> float:
        began = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(n):
                await tg.start(_raw_task)
            tg.cancel_scope.cancel()
        return time.perf_counter() - began

    return run


def raw_chain(n: int) -> Bench:
    """``n`` sequential ``tg.start`` calls, then each task stopped in reverse order (its
    own cancel scope cancelled, and its cleanup waited for): the raw shape of a chain."""

    async def task(
        *, task_status: anyio.abc.TaskStatus[tuple[anyio.CancelScope, anyio.Event]]
    ) -> None:
        done = anyio.Event()
        try:
            with anyio.CancelScope() as scope:
                task_status.started((scope, done))
                await anyio.sleep_forever()
        finally:
            done.set()

    async def run() -> float:
        began = time.perf_counter()
        async with anyio.create_task_group() as tg:
            handles = [await tg.start(task) for _ in range(n)]
            for scope, done in reversed(handles):
                scope.cancel()
                await done.wait()
        return time.perf_counter() - began

    return run


def sup_independent(n: int) -> Bench:
    async def run() -> float:
        sup = Supervisor()
        for i in range(n):
            sup.add(f"s{i}", _service)
        began = time.perf_counter()
        async with sup:
            pass
        return time.perf_counter() - began

    return run


def sup_chain(n: int) -> Bench:
    async def run() -> float:
        sup = Supervisor()
        for i in range(n):
            sup.add(f"s{i}", _service, depends_on=[f"s{i - 1}"] if i else None)
        began = time.perf_counter()
        async with sup:
            pass
        return time.perf_counter() - began

    return run


def make_dag(n: int, seed: int = 1) -> tuple[dict[str, list[str]], dict[str, float], float]:
    """``{name: deps}``, ``{name: delay}`` and the critical path (seconds)."""
    rng = random.Random(seed)
    edges: dict[str, list[str]] = {}
    delays: dict[str, float] = {}
    finish: dict[str, float] = {}
    for i in range(n):
        name = f"s{i}"
        deps = sorted({f"s{rng.randrange(i)}" for _ in range(rng.randint(0, 3))}) if i else []
        edges[name] = deps
        delays[name] = rng.uniform(0.0, 0.020)
        finish[name] = max((finish[d] for d in deps), default=0.0) + delays[name]
    return edges, delays, max(finish.values())


def sup_dag(edges: dict[str, list[str]], delays: dict[str, float]) -> Bench:
    def delayed(delay: float) -> Any:
        async def service(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
            await anyio.sleep(delay)
            task_status.started()
            await anyio.sleep_forever()

        return service

    async def run() -> float:
        sup = Supervisor()
        for name, deps in edges.items():
            sup.add(name, delayed(delays[name]), depends_on=deps)
        began = time.perf_counter()
        async with sup:
            elapsed = time.perf_counter() - began
        return elapsed

    return run


def raw_dag(edges: dict[str, list[str]], delays: dict[str, float]) -> Bench:
    async def run() -> float:
        ready = {name: anyio.Event() for name in edges}
        began = time.perf_counter()
        async with anyio.create_task_group() as tg:

            async def node(name: str) -> None:
                for dep in edges[name]:
                    await ready[dep].wait()
                await anyio.sleep(delays[name])
                ready[name].set()
                await anyio.sleep_forever()

            for name in edges:
                tg.start_soon(node, name)
            for event in ready.values():
                await event.wait()
            elapsed = time.perf_counter() - began
            tg.cancel_scope.cancel()
        return elapsed

    return run


async def idle_cpu(n: int, seconds: float) -> float:
    sup = Supervisor()
    for i in range(n):
        sup.add(f"s{i}", _service)
    async with sup:
        await anyio.sleep(0.2)
        cpu = time.process_time()
        await anyio.sleep(seconds)
        return time.process_time() - cpu


def measure(backend: str, bench: Bench) -> float:
    return float(anyio.run(bench, backend=backend))


def ratio(backend: str, ours: Bench, base: Bench, rounds: int) -> tuple[float, float, float]:
    pairs = []
    for _ in range(rounds):
        a = measure(backend, ours)
        b = measure(backend, base)
        pairs.append((a, b))
    ours_t = statistics.median(a for a, _ in pairs)
    base_t = statistics.median(b for _, b in pairs)
    return ours_t, base_t, statistics.median(a / b for a, b in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--chain", type=int, default=1_000)
    parser.add_argument("--dag", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=float, default=2.0)
    parser.add_argument("--dag-after", type=int, default=300)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    edges, delays, critical = make_dag(args.dag)
    for backend in ("asyncio", "trio"):
        print(f"== {backend}")
        ours, base, r = ratio(
            backend, sup_independent(args.services), raw_starts(args.services), args.rounds
        )
        print(
            f"independent {args.services:>6}: supervisor {ours * 1e3:8.1f} ms, "
            f"raw {base * 1e3:8.1f} ms, ratio {r:.2f}x (target <= 2.0x)"
        )
        ours, base, r = ratio(backend, sup_chain(args.chain), raw_chain(args.chain), args.rounds)
        print(
            f"chain       {args.chain:>6}: supervisor {ours / args.chain * 1e6:6.1f} us/service, "
            f"raw {base / args.chain * 1e6:6.1f} us/service, ratio {r:.2f}x (target <= 2.0x)"
        )
        runs = [
            (measure(backend, sup_dag(edges, delays)), measure(backend, raw_dag(edges, delays)))
            for _ in range(args.rounds)
        ]
        ours = statistics.median(a for a, _ in runs)
        base = statistics.median(b for _, b in runs)
        print(
            f"dag         {args.dag:>6}: supervisor {ours * 1e3:8.1f} ms, critical path "
            f"{critical * 1e3:.1f} ms, ratio {ours / critical:.3f}x (target <= 1.05x); "
            f"raw anyio DAG {base * 1e3:.1f} ms ({base / critical:.3f}x)"
        )
        after = args.dag_after
        edges2, delays2, critical2 = make_dag(after, seed=2)
        runs = []
        for _ in range(args.rounds):
            measure(backend, sup_independent(args.services))  # leaves its garbage, if any
            runs.append(measure(backend, sup_dag(edges2, delays2)))
        ours = statistics.median(runs)
        limit = critical2 * 1.05 + 0.020
        verdict = "met" if ours <= limit else "NOT met"
        print(
            f"dag after   {after:>6}: a {after}-service DAG right after a {args.services}-service "
            f"supervisor ran in the same process: {ours * 1e3:.1f} ms, critical path "
            f"{critical2 * 1e3:.1f} ms, ratio {ours / critical2:.3f}x "
            f"(target <= 1.05x + 20 ms = {limit * 1e3:.1f} ms: {verdict})"
        )
        cpu = anyio.run(idle_cpu, 1000, args.idle, backend=backend)
        print(f"idle        {1000:>6}: {cpu * 1e3:.1f} ms CPU over {args.idle:g} s")


if __name__ == "__main__":
    main()
