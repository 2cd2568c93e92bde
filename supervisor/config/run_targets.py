"""``run:`` targets: imported when a file is checked, so that a typo is found at its line.

Importing a module runs its top-level code, so loading imports the targets only when
asked (``supervisor check`` and ``supervisor run`` ask; ``check --no-import`` does not).
The runtime imports them again (from ``sys.modules``) when it builds its services.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from supervisor.config.errors import ErrorRecord
from supervisor.config.yaml_tree import Document, dotted

RUN_TARGET_RE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
"""What a ``run:`` value looks like: ``package.module:callable`` (or ``:attr.path``)."""


class TargetError(Exception):
    """A ``run:`` target cannot be imported or is not callable; the message says why."""


def import_target(target: str) -> Callable[..., Any]:
    """Import ``'package.module:attr.path'`` and return the callable it names."""
    module_name, _, attr_path = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # the module's own code may fail in any way
        reason = str(exc).strip().splitlines()
        detail = f"{type(exc).__name__}: {reason[0]}" if reason else type(exc).__name__
        raise TargetError(f"cannot import module {module_name!r}: {detail}") from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"module {module_name!r} has no attribute {attr_path!r}") from None
    if not callable(obj):
        raise TargetError(f"{target!r} is not callable")
    return obj  # type: ignore[no-any-return]


def run_target_errors(doc: Document) -> list[ErrorRecord]:
    """Import every well-formed ``run:`` target of ``doc``; one record per failure, at
    the ``run:`` value (a malformed one is reported by the model validation)."""
    services = doc.data.get("services") if isinstance(doc.data, dict) else None
    if not isinstance(services, dict):
        return []
    errors: list[ErrorRecord] = []
    for name, service in services.items():
        target = service.get("run") if isinstance(service, dict) else None
        if not isinstance(target, str) or not RUN_TARGET_RE.fullmatch(target):
            continue
        try:
            import_target(target)
        except TargetError as exc:
            path = ("services", name, "run")
            file, line, column = doc.locate(path)
            errors.append(ErrorRecord(line, column, dotted(path), str(exc), file))
    return errors
