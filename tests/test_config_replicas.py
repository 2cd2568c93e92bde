"""``replicas``, ``port``, ``enabled`` and the long ``depends_on`` form in the service file."""

from __future__ import annotations

import textwrap

import pytest

from supervisor.cli.config_commands import render_graph
from supervisor.config import ConfigError, load_config_text


def load(text: str, environ: dict[str, str] | None = None) -> object:
    return load_config_text(textwrap.dedent(text), "s.yaml", environ or {})


def errors(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(text, environ)
    return [str(e) for e in caught.value.errors]


def test_each_instance_gets_its_port_and_index() -> None:
    config = load_config_text(
        textwrap.dedent(
            """
            services:
              web:
                command: [serve, "--port=${PORT}", "--literal=$${PORT}", "${HOME}"]
                port: 8000
                replicas: 2
                env: {NAME: "web-${REPLICA}", PORT: "${PORT}"}
                cwd: /srv/${REPLICA}
                ready: {http: "http://127.0.0.1:${PORT}/health"}
            """
        ),
        "s.yaml",
        {"HOME": "/home/me", "PORT": "1", "REPLICA": "9"},
    )
    web = config.services["web"]
    assert web.command == ["serve", "--port=${PORT}", "--literal=$${PORT}", "/home/me"]
    second = web.instance(1)
    assert second.command == ["serve", "--port=8001", "--literal=${PORT}", "/home/me"]
    assert second.env == {"PORT": "8001", "REPLICA": "1", "NAME": "web-1"}
    assert second.cwd == "/srv/1" and second.replicas is None
    assert second.ready is not None and second.ready.http == "http://127.0.0.1:8001/health"


def test_a_port_without_replicas_is_the_port_itself() -> None:
    config = load_config_text(
        "services:\n  api: {command: [serve, '${PORT}'], port: 9000}\n", "s.yaml", {}
    )
    api = config.services["api"].instance(None)
    assert api.command == ["serve", "9000"] and api.env == {"PORT": "9000"}


def test_a_service_without_port_takes_port_from_the_environment() -> None:
    text = """
        supervisor: {control_socket: "/run/${PORT}.sock"}
        services:
          api: {command: [serve, "${PORT}", "${REPLICA:-0}", "$${PORT}"]}
        """
    config = load(text, {"PORT": "5000"})
    assert config.services["api"].command == ["serve", "5000", "0", "${PORT}"]  # type: ignore[attr-defined]
    assert config.supervisor.control_socket == "/run/5000.sock"  # type: ignore[attr-defined]
    assert errors(text) == [
        "s.yaml:2:30: supervisor.control_socket: environment variable ${PORT} is not set "
        "and has no default",
        "s.yaml:4:26: services.api.command[1]: environment variable ${PORT} is not set and "
        "has no default (a service with `port: P` sets it per instance)",
    ]


def test_a_service_named_like_a_replica_is_an_error_at_its_name() -> None:
    assert errors(
        """
        services:
          web: {command: [serve], replicas: 2}
          web.1: {command: [other]}
          api.1: {command: [other]}
        """
    ) == [
        "s.yaml:4:3: services.web.1: 'web.1' is the name of a replica of 'web' (replicas: ...); "
        "choose another name"
    ]


def test_bad_replicas_and_ports_are_reported_where_written() -> None:
    assert errors(
        """
        services:
          a: {command: [serve], replicas: 0}
          b: {command: [serve], port: 65535, replicas: 2}
          c: {command: [serve], port: 8000, ready: {tcp: "127.0.0.1:${PORT}x"}}
        """
    ) == [
        "s.yaml:3:35: services.a.replicas: expected an integer >= 1, got 0",
        "s.yaml:4:31: services.b.port: expected a port such that port + replicas - 1 <= 65535 "
        "(replicas: 2)",
        "s.yaml:5:50: services.c.ready.tcp: expected host:port with a port from 1 to 65535, "
        "got '127.0.0.1:${PORT}x'",
    ]


def test_the_long_depends_on_form() -> None:
    config = load(
        """
        services:
          redis: {command: [redis]}
          api:
            command: [api]
            depends_on: {redis: {condition: started, restart: false}}
        """
    )
    api = config.services["api"]  # type: ignore[attr-defined]
    assert api.conditions == {"redis": "started"}
    assert api.survives_restart_of == {"redis"}
    assert "api [process] <- redis (started)" in render_graph(config, "text")  # type: ignore[arg-type]
    assert errors(
        """
        services:
          redis: {command: [redis]}
          api:
            command: [api]
            depends_on: {redis: {condition: up, restrat: false}, cache: {restart: false}}
        """
    ) == [
        "s.yaml:6:37: services.api.depends_on.redis.condition: expected one of 'started', "
        "'ready' or 'completed', got 'up'",
        "s.yaml:6:41: services.api.depends_on.redis.restrat: unknown key (did you mean 'restart'?)",
        "s.yaml:6:58: services.api.depends_on: unknown service 'cache'",
    ]
