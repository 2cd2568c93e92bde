"""Prometheus metrics of a running supervisor, read from its status at scrape time.

:class:`StatusCollector` turns the controller's status (one call per scrape, resource
figures included) into gauges and counters; nothing is sampled between scrapes. Time to
ready is a histogram, so it needs every observation, not a snapshot: :class:`StartTimes`
reads the event stream (``starting`` then ``ready`` of the same service) and observes the
difference.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from supervisor.runtime.state import ServiceState

UP_STATES = frozenset({"ready", "completed"})
"""States in which ``supervisor_service_up`` is 1 (a one-shot that completed is up)."""

START_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
"""Upper bounds, in seconds, of the time-to-ready histogram buckets (+Inf is added)."""


class StatusCollector(Collector):
    """The ``supervisor_service_*`` gauges and counters, from ``status()`` at each scrape."""

    def __init__(self, status: Callable[[], Mapping[str, Any]]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        """One family per metric, a sample per service."""
        services = list(self._status().get("services", []))
        up = GaugeMetricFamily(
            "supervisor_service_up",
            "1 when the service is ready (a one-shot: completed), else 0.",
            labels=["service"],
        )
        state = GaugeMetricFamily(
            "supervisor_service_state",
            "1 for the state the service is in, 0 for the others.",
            labels=["service", "state"],
        )
        restarts = CounterMetricFamily(
            "supervisor_service_restarts",
            "Restarts of the service since the supervisor started (or reloaded it).",
            labels=["service"],
        )
        cpu = CounterMetricFamily(
            "supervisor_service_cpu_seconds",
            "CPU time (user + system) of the process tree of a process service.",
            labels=["service"],
        )
        memory = GaugeMetricFamily(
            "supervisor_service_memory_bytes",
            "Resident memory summed over the process tree of a process service.",
            labels=["service"],
        )
        for service in services:
            name = str(service["name"])
            current = str(service.get("state"))
            up.add_metric([name], 1.0 if current in UP_STATES else 0.0)
            for candidate in ServiceState:
                state.add_metric([name, str(candidate)], 1.0 if candidate == current else 0.0)
            restarts.add_metric([name], float(service.get("restarts") or 0))
            if isinstance(service.get("cpu_seconds"), int | float):
                cpu.add_metric([name], float(service["cpu_seconds"]))
            if isinstance(service.get("memory_bytes"), int):
                memory.add_metric([name], float(service["memory_bytes"]))
        yield from (up, state, restarts, cpu, memory)


class StartTimes:
    """``supervisor_service_start_seconds``: seconds from ``starting`` to ``ready``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.histogram = Histogram(
            "supervisor_service_start_seconds",
            "Seconds from a service's start (state starting) to ready.",
            labelnames=["service"],
            buckets=START_BUCKETS,
            registry=registry,
        )
        self._starting: dict[str, float] = {}

    def record(self, event: Mapping[str, Any]) -> None:
        """Take one transition (``ServiceEvent.to_dict()``) into account."""
        service, state, when = str(event["service"]), event["state"], float(event["time"])
        if state == "starting":
            self._starting[service] = when
        elif state == "ready":
            began = self._starting.pop(service, None)
            if began is not None:
                self.histogram.labels(service).observe(max(0.0, when - began))
        else:  # it will go through starting again before it is ready
            self._starting.pop(service, None)

    async def follow(self, events: AsyncIterator[Mapping[str, Any]]) -> None:
        """Record every transition of ``events`` until it ends."""
        async for event in events:
            self.record(event)


def build_registry(status: Callable[[], Mapping[str, Any]]) -> tuple[CollectorRegistry, StartTimes]:
    """A registry of its own (not prometheus_client's global one): the status collector,
    the start-time histogram, and the supervisor process's own ``process_*`` metrics."""
    from prometheus_client import ProcessCollector

    registry = CollectorRegistry()
    registry.register(StatusCollector(status))
    ProcessCollector(registry=registry)
    return registry, StartTimes(registry)
