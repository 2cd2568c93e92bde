"""A supervisor that has run leaves nothing for Python's cyclic garbage collector.

A long-lived application that runs supervisors (or a daemon that reloads, restarts and
crash-loops services for months) must not pay for them after they are gone: the runners,
their specs, contexts, attempts and the exceptions of crashed services are freed by
reference counting alone. Otherwise the collector walks them later, at a moment of its
choosing (it once made a 300-service start right after such a supervisor 3x slower).

Each test runs the event loop itself (``anyio.run``) with the collector disabled, and
compares what ``gc.collect()`` finds afterwards with what a bare run of the same event
loop leaves (trio's own run leaves a fixed handful).
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from supervisor import TASK_STATUS_IGNORED, ServiceContext, Supervisor

BACKENDS = ["asyncio", "trio"]


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The collector disabled for the test (and whatever earlier tests left collected)."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _garbage_after(backend: str, main: Callable[[], Any]) -> int:
    """What the cyclic collector finds after ``anyio.run(main)``, beyond a bare run's."""

    async def bare() -> None:
        await anyio.sleep(0)

    anyio.run(bare, backend=backend)
    baseline = gc.collect()
    anyio.run(main, backend=backend)
    return gc.collect() - baseline


async def _ready(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
    task_status.started(ctx.name)
    await anyio.sleep_forever()


def _crashing_once() -> Callable[..., Any]:
    crashed: set[str] = set()

    async def service(ctx: ServiceContext, *, task_status: Any = TASK_STATUS_IGNORED) -> None:
        if ctx.name not in crashed:
            crashed.add(ctx.name)
            raise RuntimeError("boom")
        task_status.started()
        await anyio.sleep_forever()

    return service


def _python_supervisor(n: int) -> Supervisor:
    """``n`` services in pairs (each odd one depends on the even one before it); every
    third one crashes once and is restarted."""
    crashing = _crashing_once()
    sup = Supervisor(log_lines=10)
    fast = {"backoff": {"initial": "1ms", "max": "1ms"}}
    for i in range(n):
        crashes = i % 3 == 0
        sup.add(
            f"s{i}",
            crashing if crashes else _ready,
            depends_on=[f"s{i - 1}"] if i % 2 else None,
            restart=fast if crashes else None,
        )
    return sup


@pytest.mark.parametrize("backend", BACKENDS)
def test_python_services_leave_no_cycles_behind(backend: str, collector_off: None) -> None:
    refs: list[weakref.ref[Supervisor]] = []

    def main(n: int) -> Callable[[], Any]:
        async def run() -> None:
            sup = _python_supervisor(n)
            refs.append(weakref.ref(sup))
            async with sup:
                await sup.restart("s0")  # a restart that bounces its dependent too
                assert sup.status()["s1"].state == "ready"
            assert sup.status()["s3"].restarts == 1  # the crash was seen and healed

        return run

    small = _garbage_after(backend, main(6))
    large = _garbage_after(backend, main(200))
    assert refs[-1]() is None, "the supervisor outlived its last reference"
    # Nothing per service: 200 services leave what 6 do (25 objects each, before).
    assert large <= small + 10, (small, large)


def _process_config(n: int, log_dir: Path) -> dict[str, Any]:
    """``n`` sleeping programs (half of them writing to a log file first), one crashing
    in a loop, one ready on a log line."""
    crash = [sys.executable, "-c", "print('bye', flush=True); raise SystemExit(3)"]
    services: dict[str, Any] = {
        f"p{i}": {"command": ["sleep", "60"], "stop": {"timeout": "5s"}} for i in range(n)
    }
    for i in range(0, n, 2):
        services[f"p{i}"]["command"] = ["sh", "-c", "echo hello; exec sleep 60"]
        services[f"p{i}"]["log"] = {"file": str(log_dir / f"p{i}.log"), "max_size": "1KB"}
    services["crashing"] = {
        "command": crash,
        "restart": {"policy": "always", "backoff": {"initial": "1ms", "max": "1ms"}},
    }
    services["logged"] = {
        "command": ["sh", "-c", "echo ready; exec sleep 60"],
        "ready": {"log": "ready"},
    }
    return {"services": services}


@pytest.mark.parametrize("backend", BACKENDS)
def test_process_services_leave_no_cycles_behind(
    backend: str, collector_off: None, tmp_path: Path
) -> None:
    def main(n: int) -> Callable[[], Any]:
        async def run() -> None:
            sup = Supervisor.from_dict(_process_config(n, tmp_path))
            async with sup:
                runner = sup._runner("crashing")
                await runner.until(lambda: runner.restarts >= 3)
                await sup.restart("logged")

        return run

    small = _garbage_after(backend, main(1))
    large = _garbage_after(backend, main(12))
    assert (tmp_path / "p10.log").read_text() == "hello\n"  # the log files were used
    assert large <= small + 10, (small, large)
