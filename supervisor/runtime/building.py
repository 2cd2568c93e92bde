"""Declaring Python services in code: :meth:`~ServiceDeclarations.add` and the
:meth:`~ServiceDeclarations.service` decorator of the
:class:`~supervisor.runtime.supervisor.Supervisor`.

They turn keyword options into a :class:`~supervisor.runtime.spec.ServiceSpec`; the
supervisor registers it (``_add_spec``), as it does for the services of a config file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from supervisor.runtime.spec import DependsOn, RestartOption, ServiceCallable, ServiceSpec

F = TypeVar("F", bound=ServiceCallable)

__all__ = ["ServiceDeclarations"]


class ServiceDeclarations:
    """The part of :class:`~supervisor.runtime.supervisor.Supervisor` that declares
    Python services; the supervisor provides :meth:`_add_spec`."""

    def _add_spec(self, spec: ServiceSpec) -> None:
        raise NotImplementedError

    def add(
        self,
        name: str,
        fn: ServiceCallable,
        *,
        depends_on: DependsOn = None,
        restart: RestartOption = None,
        oneshot: bool = False,
        start_timeout: float | str | None = 30.0,
        stop_timeout: float | str = 10.0,
        args: Mapping[str, Any] | None = None,
    ) -> None:
        """Add a Python service: ``async def fn(ctx, *, task_status=TASK_STATUS_IGNORED)``.

        ``depends_on`` is a name, a list of names (condition ``ready``) or a mapping
        ``{name: "started" | "ready" | "completed"}``; ``restart`` a policy
        (``"no"``, ``"on-failure"``, ``"always"``) or a mapping like the YAML
        ``restart:`` section; durations are seconds or strings such as ``"5s"``.
        """
        self._add_spec(
            ServiceSpec.from_options(
                name,
                fn,
                depends_on=depends_on,
                restart=restart,
                oneshot=oneshot,
                start_timeout=start_timeout,
                stop_timeout=stop_timeout,
                args=args,
            )
        )

    @overload
    def service(self, fn: F, /) -> F: ...

    @overload
    def service(
        self,
        *,
        name: str | None = None,
        depends_on: DependsOn = None,
        restart: RestartOption = None,
        oneshot: bool = False,
        start_timeout: float | str | None = 30.0,
        stop_timeout: float | str = 10.0,
        args: Mapping[str, Any] | None = None,
    ) -> Callable[[F], F]: ...

    def service(
        self,
        fn: Any = None,
        *,
        name: str | None = None,
        depends_on: DependsOn = None,
        restart: RestartOption = None,
        oneshot: bool = False,
        start_timeout: float | str | None = 30.0,
        stop_timeout: float | str = 10.0,
        args: Mapping[str, Any] | None = None,
    ) -> F | Callable[[F], F]:
        """Decorator form of :meth:`add` (the service is named after the function)."""

        def register(func: F) -> F:
            self.add(
                name or str(getattr(func, "__name__", repr(func))),
                func,
                depends_on=depends_on,
                restart=restart,
                oneshot=oneshot,
                start_timeout=start_timeout,
                stop_timeout=stop_timeout,
                args=args,
            )
            return func

        return register(fn) if fn is not None else register
