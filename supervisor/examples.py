"""Small in-process services used by ``configs/example.yaml`` (and handy to copy).

An in-process service is an async callable ``fn(ctx, *, task_status)``: it calls
``task_status.started(value)`` once it is ready (``value`` goes to its dependents as
``ctx.deps[name]``), then runs until it is cancelled. Its ``args:`` from the config file
are in ``ctx.args``.
"""

from __future__ import annotations

from typing import Any

import httpx

from supervisor.concurrency import TASK_STATUS_IGNORED, TaskStatus, current_time, sleep
from supervisor.config.models import parse_duration


async def heartbeat(ctx: Any, *, task_status: TaskStatus[Any] = TASK_STATUS_IGNORED) -> None:
    """Log a heartbeat every ``args.interval`` (default 5s); hands dependents its start time.

    ``args.beats`` (optional) stops it, successfully, after that many beats.
    """
    interval = parse_duration(ctx.args.get("interval", 5))
    beats = ctx.args.get("beats")
    started_at = current_time()
    task_status.started({"started_at": started_at, "interval": interval})
    count = 0
    while beats is None or count < int(beats):
        await sleep(interval)
        count += 1
        ctx.log.info("heartbeat", count=count, uptime=round(current_time() - started_at, 1))
        ctx.set_status(f"{count} beats")


async def web_client(ctx: Any, *, task_status: TaskStatus[Any] = TASK_STATUS_IGNORED) -> None:
    """Fetch ``args.url`` every ``args.interval`` (default 5s) and log the answer.

    Ready after the first successful fetch. Three failures in a row raise, so the
    supervisor restarts it with backoff (its ``restart:`` policy).
    """
    url = str(ctx.args["url"])
    interval = parse_duration(ctx.args.get("interval", 5))
    failures = 0
    ready = False
    async with httpx.AsyncClient(timeout=interval) as client:
        while True:
            try:
                response = await client.get(url)
            except httpx.HTTPError as exc:
                failures += 1
                ctx.log.warning("fetch failed", url=url, error=str(exc), failures=failures)
                if failures >= 3:
                    raise RuntimeError(f"{url}: {failures} failures in a row") from exc
            else:
                failures = 0
                ctx.log.info(
                    "fetched", url=url, status=response.status_code, size=len(response.content)
                )
                ctx.set_status(f"last answer: HTTP {response.status_code}")
                if not ready:
                    ready = True
                    task_status.started(url)
            await sleep(interval)
