"""``supervisor check``, ``supervisor graph`` and ``supervisor schema``: work on a config file."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from supervisor import graph
from supervisor.cli import EXIT_CONFIG_ERROR, EXIT_OK

if TYPE_CHECKING:
    from supervisor.config import ConfigFile

# The config package (pydantic) is imported by the handlers, not here: building the
# parser must stay light for `supervisor status`, which runs as a health check.


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``check``, ``graph`` and ``schema`` to the CLI."""
    check = subparsers.add_parser(
        "check",
        help="validate a service file",
        description="Validate a service file (or several, merged in order): exit 0 with a "
        "summary, or 2 with every error. "
        "The modules of `run:` services are imported (see --no-import).",
    )
    add_file_arguments(check)
    check.add_argument(
        "--no-import",
        dest="import_targets",
        action="store_false",
        help="do not import the modules of `run:` services (importing runs their code)",
    )
    check.set_defaults(handler=run_check)

    draw = subparsers.add_parser(
        "graph",
        help="print the dependency graph",
        description="Print the dependency graph (arrows point at dependencies).",
    )
    add_file_arguments(draw)
    draw.add_argument(
        "--format",
        choices=("text", "dot", "mermaid"),
        default="text",
        help="text (default), Graphviz dot, or Mermaid",
    )
    draw.set_defaults(handler=run_graph)

    schema = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of service files",
        description="Print the JSON Schema of service files (for editors: see docs/config.md).",
    )
    schema.set_defaults(handler=run_schema)


def add_file_arguments(parser: argparse.ArgumentParser) -> None:
    """The service files (one or more, merged in order) and ``--env-file``."""
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="the service file (YAML); several are merged in order, each over the ones "
        "before it (see docs/config.md)",
    )
    parser.add_argument(
        "--env-file",
        metavar="PATH",
        default=None,
        help="dotenv file of ${VAR} values (default: .env next to the first FILE, if any); "
        "the process environment wins over it",
    )


def files_label(files: Sequence[str]) -> str:
    """How a list of service files is named in messages: ``a.yaml`` or ``a.yaml + b.yaml``."""
    return " + ".join(files)


def load_or_report(
    files: str | Sequence[str], *, import_targets: bool = True, env_file: str | None = None
) -> ConfigFile | None:
    """Load the config (one file or several merged), or print every error to stderr and
    return ``None``.

    ``run:`` targets are imported (``import_targets``), so that ``check`` and ``run``
    report one that cannot be imported at its line, with every other error.
    """
    from supervisor.config import ConfigError, load_config

    names = [files] if isinstance(files, str) else list(files)
    try:
        return load_config(names, import_targets=import_targets, env_file=env_file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        count = len(exc.errors)
        print(f"{files_label(names)}: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
        return None


def edges_of(config: ConfigFile) -> dict[str, list[str]]:
    """``{service: [its dependencies]}`` of a validated config."""
    return {name: list(service.conditions) for name, service in config.services.items()}


def summary(path: str, config: ConfigFile) -> str:
    """What ``check`` prints for a valid file: the counts, then one line per layer."""
    services = config.services.values()
    processes = sum(1 for s in services if s.is_process)
    oneshots = sum(1 for s in services if s.oneshot)
    total = len(config.services)
    levels = graph.layers(edges_of(config))
    lines = [
        f"{path}: OK, {total} service{'s' if total != 1 else ''} "
        f"({processes} process{'es' if processes != 1 else ''}, "
        f"{total - processes} in-process, {oneshots} one-shot) "
        f"in {len(levels)} layer{'s' if len(levels) != 1 else ''}"
    ]
    lines.extend(f"  layer {level}: {', '.join(names)}" for level, names in enumerate(levels))
    return "\n".join(lines)


def run_check(args: argparse.Namespace) -> int:
    """Validate the file; print a summary (exit 0) or every error (exit 2)."""
    config = load_or_report(args.files, import_targets=args.import_targets, env_file=args.env_file)
    if config is None:
        return EXIT_CONFIG_ERROR
    print(summary(files_label(args.files), config))
    return EXIT_OK


def run_graph(args: argparse.Namespace) -> int:
    """Print the dependency graph as text, Graphviz dot or Mermaid."""
    # Drawing runs no service code: `run:` targets are not imported.
    config = load_or_report(args.files, import_targets=False, env_file=args.env_file)
    if config is None:
        return EXIT_CONFIG_ERROR
    print(render_graph(config, args.format))
    return EXIT_OK


def render_graph(config: ConfigFile, fmt: str) -> str:
    """The dependency graph in ``text``, ``dot`` or ``mermaid`` form (edges point at deps)."""
    order = graph.topological_order(edges_of(config))
    if fmt == "dot":
        return _dot(config, order)
    if fmt == "mermaid":
        return _mermaid(config, order)
    lines: list[str] = []
    for level, names in enumerate(graph.layers(edges_of(config))):
        lines.append(f"layer {level}:")
        for name in names:
            service = config.services[name]
            kind = "one-shot" if service.oneshot else "process" if service.is_process else "run"
            deps = ", ".join(f"{d} ({c})" for d, c in service.conditions.items())
            lines.append(f"  {name} [{kind}]" + (f" <- {deps}" if deps else ""))
    return "\n".join(lines)


def _dot(config: ConfigFile, order: list[str]) -> str:
    lines = ["digraph services {", "  rankdir=BT;", "  node [fontname=Helvetica];"]
    for name in order:
        service = config.services[name]
        shape = "box" if service.is_process else "ellipse"
        style = ", style=dashed" if service.oneshot else ""
        lines.append(f'  "{name}" [shape={shape}{style}];')
    for name in order:
        for dep, condition in config.services[name].conditions.items():
            lines.append(f'  "{name}" -> "{dep}" [label="{condition}"];')
    lines.append("}")
    return "\n".join(lines)


def _mermaid(config: ConfigFile, order: list[str]) -> str:
    ids = {name: f"s{index}" for index, name in enumerate(order)}
    lines = ["graph BT"]
    for name in order:
        service = config.services[name]
        left, right = (
            ("([", "])") if service.oneshot else ("[", "]") if service.is_process else ("(", ")")
        )
        lines.append(f'  {ids[name]}{left}"{name}"{right}')
    for name in order:
        for dep, condition in config.services[name].conditions.items():
            lines.append(f"  {ids[name]} -->|{condition}| {ids[dep]}")
    return "\n".join(lines)


def run_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of the service file."""
    from supervisor.config import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK
