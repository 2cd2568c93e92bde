"""``supervisor check``, ``supervisor graph`` and ``supervisor schema``: work on a config file."""

from __future__ import annotations

import argparse
import json
import sys

from supervisor import graph
from supervisor.cli import EXIT_CONFIG_ERROR, EXIT_OK
from supervisor.config import ConfigError, ConfigFile, load_config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``check``, ``graph`` and ``schema`` to the CLI."""
    check = subparsers.add_parser("check", help="validate a service file")
    check.add_argument("file", help="the service file (YAML)")
    check.set_defaults(handler=run_check)

    draw = subparsers.add_parser("graph", help="print the dependency graph")
    draw.add_argument("file", help="the service file (YAML)")
    draw.add_argument("--format", choices=("text", "dot", "mermaid"), default="text")
    draw.set_defaults(handler=run_graph)

    schema = subparsers.add_parser("schema", help="print the JSON Schema of service files")
    schema.set_defaults(handler=run_schema)


def load_or_report(path: str) -> ConfigFile | None:
    """Load a config file, or print every error to stderr and return ``None``."""
    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        count = len(exc.errors)
        print(f"{path}: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
        return None


def edges_of(config: ConfigFile) -> dict[str, list[str]]:
    """``{service: [its dependencies]}`` of a validated config."""
    return {name: list(service.depends_on) for name, service in config.services.items()}


def run_check(args: argparse.Namespace) -> int:
    """Validate the file; print a summary (exit 0) or every error (exit 2)."""
    config = load_or_report(args.file)
    if config is None:
        return EXIT_CONFIG_ERROR
    processes = sum(1 for s in config.services.values() if s.is_process)
    print(
        f"{args.file}: OK, {len(config.services)} services "
        f"({processes} processes, {len(config.services) - processes} in-process)"
    )
    for level, names in enumerate(graph.layers(edges_of(config))):
        print(f"  layer {level}: {', '.join(names)}")
    return EXIT_OK


def run_graph(args: argparse.Namespace) -> int:
    """Print the dependency graph as text, Graphviz dot or Mermaid."""
    config = load_or_report(args.file)
    if config is None:
        return EXIT_CONFIG_ERROR
    print(render_graph(config, args.format))
    return EXIT_OK


def render_graph(config: ConfigFile, fmt: str) -> str:
    """The dependency graph in ``text``, ``dot`` or ``mermaid`` form (edges point at deps)."""
    order = graph.topological_order(edges_of(config))
    lines: list[str] = []
    if fmt == "dot":
        lines.append("digraph services {")
        lines.append("  rankdir=BT;")
        for name in order:
            shape = "box" if config.services[name].is_process else "ellipse"
            lines.append(f'  "{name}" [shape={shape}];')
            for dep, condition in config.services[name].depends_on.items():
                lines.append(f'  "{name}" -> "{dep}" [label="{condition}"];')
        lines.append("}")
    elif fmt == "mermaid":
        lines.append("graph BT")
        for name in order:
            lines.append(f"  {_mermaid_id(name)}[{name}]")
            for dep, condition in config.services[name].depends_on.items():
                lines.append(f"  {_mermaid_id(name)} -->|{condition}| {_mermaid_id(dep)}")
    else:
        for name in order:
            deps = config.services[name].depends_on
            text = ", ".join(f"{d} ({c})" for d, c in deps.items()) if deps else "-"
            lines.append(f"{name} <- {text}")
    return "\n".join(lines)


def _mermaid_id(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def run_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of the service file."""
    schema = ConfigFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "structured-supervisor service file"
    print(json.dumps(schema, indent=2))
    return EXIT_OK
