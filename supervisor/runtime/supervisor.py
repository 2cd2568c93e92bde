"""The :class:`Supervisor`: the one object users touch."""

from __future__ import annotations

import importlib
import math
import os
import random
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import anyio
import structlog

from supervisor import graph
from supervisor.concurrency import (
    CancelScope,
    Event,
    MemoryObjectReceiveStream,
    MemoryObjectSendStream,
    TaskGroup,
    create_memory_channel,
    create_task_group,
    get_cancelled_exc_class,
    sleep_forever,
)
from supervisor.config import (
    ConfigFile,
    ServiceConfig,
    SupervisorSettings,
    check_graph,
    load_config,
    load_config_data,
)
from supervisor.runtime.runner import ServiceFunction, ServiceRunner
from supervisor.runtime.state import ServiceEvent, ServiceStatus, State

LOG_LINES = 1000
"""Recent output lines kept per service (for ``supervisor logs``)."""


class SupervisorError(Exception):
    """Base of the supervisor's own errors."""


class SupervisorFailed(SupervisorError):
    """A service failed for good and the escalation policy stopped everything."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"service '{service}' failed: {reason}; all services were stopped")
        self.service = service
        self.reason = reason


class UnknownService(SupervisorError, KeyError):
    """No service has that name."""

    def __str__(self) -> str:
        return str(self.args[0])


class EventStream:
    """An async iterator of :class:`ServiceEvent`; subscribed from the moment it is made."""

    def __init__(self, sup: Supervisor, receive: MemoryObjectReceiveStream[ServiceEvent]):
        self._sup = sup
        self._receive = receive

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> ServiceEvent:
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving events."""
        self._receive.close()


class Supervisor:
    """Starts services in dependency order, keeps them running, stops them in reverse.

    Build it from a file (:meth:`from_file`), a dict (:meth:`from_dict`), or empty and
    add services in Python (:meth:`service`, :meth:`add`). Then ``async with sup:``
    (returns once every service is ready) or ``await sup.run()``.

    ``clock``, ``sleep`` and ``rng`` drive restart backoff and intensity; inject them to
    test restart behavior exactly without real sleeps.
    """

    def __init__(
        self,
        config: ConfigFile | None = None,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        logger: Any = None,
    ) -> None:
        self.settings: SupervisorSettings = (
            config.supervisor if config else SupervisorSettings.model_validate({})
        )
        self.configs: dict[str, ServiceConfig] = dict(config.services) if config else {}
        self._functions: dict[str, ServiceFunction] = {}
        self.clock = clock or anyio.current_time
        self.sleep = sleep or anyio.sleep
        self.rng = rng or random.Random()
        self.logger = logger or structlog.get_logger("supervisor")
        self.runners: dict[str, ServiceRunner] = {}
        self._subscribers: list[MemoryObjectSendStream[ServiceEvent]] = []
        self._logs: dict[str, deque[tuple[float, str, str]]] = {}
        self._log_followers: list[MemoryObjectSendStream[tuple[str, float, str, str]]] = []
        self._tg: TaskGroup | None = None
        self._failure: SupervisorFailed | None = None
        self._stopping = False
        self._closed = Event()
        self._shutdown_done = Event()

    # -- building -------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **options: Any) -> Supervisor:
        """A supervisor for the services of a YAML file (raises ``ConfigError``)."""
        return cls(load_config(path), **options)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **options: Any) -> Supervisor:
        """A supervisor for services given as a dict shaped like the YAML file."""
        return cls(load_config_data(dict(data)), **options)

    def service(
        self, fn: ServiceFunction | None = None, /, *, name: str | None = None, **options: Any
    ) -> Any:
        """Decorator form of :meth:`add`: ``@sup.service(depends_on=["db"])``."""

        def register(func: ServiceFunction) -> ServiceFunction:
            self.add(name or func.__name__, func, **options)
            return func

        return register(fn) if fn is not None else register

    def add(
        self,
        name: str,
        fn: ServiceFunction,
        *,
        depends_on: Iterable[str] | Mapping[str, str] = (),
        restart: str | Mapping[str, Any] = "on-failure",
        oneshot: bool = False,
        start_timeout: float | str = 30.0,
        stop_timeout: float | str = 10.0,
        args: Mapping[str, Any] | None = None,
    ) -> None:
        """Add an in-process service: ``async def fn(ctx, *, task_status=...)``.

        ``restart`` is a policy name or a mapping like the YAML ``restart:`` section.
        """
        if self._tg is not None:
            raise SupervisorError("services are added before the supervisor starts")
        if name in self.configs:
            raise SupervisorError(f"a service named '{name}' already exists")
        deps = dict(depends_on) if isinstance(depends_on, Mapping) else list(depends_on)
        self.configs[name] = ServiceConfig.model_validate(
            {
                "run": "python:" + re.sub(r"\W", "_", name),
                "depends_on": deps,
                "restart": restart,
                "oneshot": oneshot,
                "start_timeout": start_timeout,
                "stop": {"timeout": stop_timeout},
                "args": dict(args or {}),
            }
        )
        self._functions[name] = fn

    def _function_for(self, name: str, config: ServiceConfig) -> ServiceFunction:
        if name in self._functions:
            return self._functions[name]
        if config.command is not None:
            from supervisor.services.process import ProcessService

            return ProcessService(name, config)
        assert config.run is not None
        spec = config.run

        async def run_imported(ctx: Any, *, task_status: Any) -> None:
            # Imported when the service starts: an import error is a start failure of
            # this service, not a crash of the supervisor.
            await import_callable(spec)(ctx, task_status=task_status)

        return run_imported

    # -- observing ------------------------------------------------------------------

    def status(self) -> list[ServiceStatus]:
        """A snapshot of every service, in start order."""
        return [self.runners[name].snapshot() for name in self._order()]

    def events(self) -> EventStream:
        """State transitions from now on, as an async iterator (ends when the supervisor stops)."""
        send, receive = create_memory_channel[ServiceEvent](math.inf)
        if self._closed.is_set():
            send.close()
        else:
            self._subscribers.append(send)
        return EventStream(self, receive)

    def publish(self, event: ServiceEvent) -> None:
        """Hand an event to every subscriber (used by the runners)."""
        for send in list(self._subscribers):
            try:
                send.send_nowait(event)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._subscribers.remove(send)

    def output_sink(self, name: str) -> Callable[[str, str], None]:
        """The callback a service's output lines go to (kept in a bounded buffer)."""
        buffer = self._logs.setdefault(name, deque(maxlen=LOG_LINES))

        def sink(stream: str, line: str) -> None:
            now = anyio.current_time()
            buffer.append((now, stream, line))
            for send in list(self._log_followers):
                try:
                    send.send_nowait((name, now, stream, line))
                except anyio.WouldBlock:
                    pass  # a slow follower loses lines rather than slowing services
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    self._log_followers.remove(send)

        return sink

    def recent_logs(self, name: str | None = None) -> list[tuple[str, float, str, str]]:
        """Recent output lines ``(service, time, stream, line)``, oldest first."""
        names = [name] if name else list(self._logs)
        lines = [(n, t, s, text) for n in names for (t, s, text) in self._logs.get(n, ())]
        return sorted(lines, key=lambda item: item[1])

    def follow_logs(self) -> MemoryObjectReceiveStream[tuple[str, float, str, str]]:
        """A stream of output lines ``(service, time, stream, line)`` from now on."""
        send, receive = create_memory_channel[tuple[str, float, str, str]](10_000)
        self._log_followers.append(send)
        return receive

    def loop_time(self) -> float:
        """The event loop's clock (deadlines of stop timeouts use it, not ``clock``)."""
        return anyio.current_time()

    # -- running --------------------------------------------------------------------

    async def __aenter__(self) -> Supervisor:
        check_graph(self.configs)
        self._tg = create_task_group()
        await self._tg.__aenter__()
        try:
            for name in self._order():
                self._spawn(name)
            for name in self._order():
                await self.runners[name].wait_settled()
        except BaseException as exc:
            if not await self.__aexit__(type(exc), exc, exc.__traceback__):
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        tg = self._tg
        if tg is None:
            return False
        with CancelScope(shield=True):
            await self.shutdown()
        tg.cancel_scope.cancel()
        cancelled = exc is not None and isinstance(exc, get_cancelled_exc_class())
        try:
            # Only a cancellation goes into the group (it may be the group's own, from an
            # escalation); anything else propagates as it is, unwrapped.
            suppressed = await tg.__aexit__(*((exc_type, exc, tb) if cancelled else (None,) * 3))
        finally:
            self._tg = None
            self._close_streams()
        if self._failure is not None:
            raise self._failure
        return bool(suppressed) if cancelled else False

    async def run(self) -> None:
        """Run until cancelled; raises :class:`SupervisorFailed` if a failure escalated."""
        async with self:
            await sleep_forever()

    def _spawn(self, name: str) -> None:
        assert self._tg is not None
        runner = ServiceRunner(
            self, name, self.configs[name], self._function_for(name, self.configs[name])
        )
        self.runners[name] = runner
        self._tg.start_soon(runner.supervise, name=f"runner:{name}")

    def _order(self) -> list[str]:
        return graph.topological_order(self._edges())

    def _edges(self) -> dict[str, list[str]]:
        return {name: list(cfg.depends_on) for name, cfg in self.configs.items()}

    def _close_streams(self) -> None:
        self._closed.set()
        for send in self._subscribers:
            send.close()
        for follower in self._log_followers:
            follower.close()
        self._subscribers.clear()
        self._log_followers.clear()

    # -- control --------------------------------------------------------------------

    def _runner(self, name: str) -> ServiceRunner:
        try:
            return self.runners[name]
        except KeyError:
            hint = ", ".join(sorted(self.runners)) or "none"
            raise UnknownService(f"no service named '{name}' (services: {hint})") from None

    async def stop(self, name: str) -> None:
        """Stop a service, after stopping everything that depends on it."""
        self._runner(name)
        targets = {name} | graph.transitive_dependents(self._edges(), name)
        for target in targets:
            self.runners[target].want(False)
        await self._halt(targets)

    async def start(self, name: str) -> None:
        """Start a stopped service (and what it depends on); returns once it settled."""
        runner = self._runner(name)
        for dep in graph.transitive_dependencies(self._edges(), name):
            if not self.runners[dep].wanted or self.runners[dep].done:
                self.runners[dep].want(True)
        if runner.wanted and not runner.done:
            await runner.wait_settled()
            return
        changed = runner.wait_change()  # subscribed before the runner can move
        runner.want(True)
        await changed
        await runner.wait_settled()

    async def restart(self, name: str) -> None:
        """Restart a service; its dependents stop first and start again once it is ready."""
        runner = self._runner(name)
        dependents = graph.transitive_dependents(self._edges(), name)
        await self._halt({name} | dependents)
        runner.want(True)
        for dependent in dependents:
            if self.runners[dependent].wanted:
                self.runners[dependent].want(True)
        await runner.wait_settled()
        for dependent in self._order():
            if dependent in dependents and self.runners[dependent].wanted:
                await self.runners[dependent].wait_settled()

    async def halt_dependents(self, name: str) -> None:
        """Stop what depends on ``name`` (reverse order) but keep it wanted, to restart."""
        await self._halt(graph.transitive_dependents(self._edges(), name))

    async def _halt(self, targets: set[str]) -> None:
        """Stop ``targets``, each one as soon as its dependents among them have stopped."""
        if not targets:
            return
        dependents = graph.dependents_of(self._edges())
        halted = {name: Event() for name in targets}
        for name in targets:
            self.runners[name].hold(True)
        try:
            async with create_task_group() as tg:

                async def halt_one(name: str) -> None:
                    for dependent in dependents.get(name, ()):
                        if dependent in halted:
                            await halted[dependent].wait()
                    await self.runners[name].halt()
                    halted[name].set()

                for name in targets:
                    tg.start_soon(halt_one, name, name=f"stop:{name}")
        finally:
            for name in targets:
                self.runners[name].hold(False)

    async def shutdown(self) -> None:
        """Stop every service in reverse dependency order, within ``shutdown_timeout``."""
        if self._stopping:
            await self._shutdown_done.wait()
            return
        self._stopping = True
        for runner in self.runners.values():
            runner.want(False)
        with anyio.move_on_after(self.settings.shutdown_timeout) as scope:
            await self._halt(set(self.runners))
        if scope.cancelled_caught:
            late = [n for n, r in self.runners.items() if r.state == State.STOPPING]
            self.logger.error(
                "shutdown timeout",
                reason=f"still stopping after {self.settings.shutdown_timeout:g}s",
                services=late,
            )
        self._shutdown_done.set()

    def escalate(self, name: str, reason: str) -> None:
        """A service failed for good: apply ``on_failure`` (shutdown or isolate)."""
        if self._stopping or self._tg is None:
            return
        if self.settings.on_failure == "isolate":
            self._tg.start_soon(self.halt_dependents, name, name=f"isolate:{name}")
            return
        if self._failure is None:
            self._failure = SupervisorFailed(name, reason)
            self.logger.error("escalating", service=name, reason=reason, action="shutdown")
            tg = self._tg

            async def stop_everything() -> None:
                await self.shutdown()
                tg.cancel_scope.cancel()

            tg.start_soon(stop_everything, name="escalation")


def import_callable(spec: str) -> ServiceFunction:
    """Import ``package.module:callable`` (raises ``ImportError`` with a clear message)."""
    module_name, _, attr = spec.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"cannot import module '{module_name}' for run: '{spec}': {exc}") from exc
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ImportError(f"module '{module_name}' has no '{attr}' (run: '{spec}')") from None
    if not callable(target):
        raise ImportError(f"run: '{spec}' is not callable")
    return target  # type: ignore[no-any-return]
