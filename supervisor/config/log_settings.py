"""Where a process's output is written: the ``log`` section, and its ``log_dir`` default."""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field

from supervisor.config.base import StrictModel
from supervisor.config.values import PathText, Size


class LogSettings(StrictModel):
    """Where a process's output is written (the ``log`` section of a service)."""

    file: PathText | None = Field(
        None, description="Log file of stdout and stderr (its directory is created)."
    )
    stderr_file: PathText | None = Field(None, description="Separate log file of stderr.")
    max_size: Size = Field(
        50 * 1024 * 1024, description="Rotate a file past this size (512KB, 50MB, 1GB); 0: never."
    )
    keep: int = Field(5, ge=0, le=1000, description="Rotated files kept (NAME.log.1 ...).")
    compress: bool = Field(False, description="Gzip rotated files (NAME.log.1.gz).")
    timestamps: bool = Field(False, description="Start each line in the file with a UTC time.")
    echo: bool | None = Field(
        None,
        description="Also show the lines in the supervisor's log; default: only the streams "
        "without a file.",
    )


def with_log_dir(data: dict[str, Any]) -> dict[str, Any]:
    """Give each process service without a log file ``log_dir/NAME.log``."""
    settings = data.get("supervisor")
    log_dir = settings.get("log_dir") if isinstance(settings, dict) else None
    services = data.get("services")
    if not isinstance(log_dir, str) or not isinstance(services, dict):
        return data
    updated = dict(services)
    for name, service in services.items():
        if not isinstance(name, str) or not isinstance(service, dict) or "command" not in service:
            continue
        log = service.get("log")
        if log is None:
            log = {}
        if isinstance(log, dict) and log.get("file") is None:
            # each replica its own file, named like the replica: web.0.log, web.1.log
            stem = f"{name}.${{REPLICA}}" if service.get("replicas") is not None else name
            path = os.path.join(log_dir, f"{stem}.log")
            updated[name] = {**service, "log": {**log, "file": path}}
    return {**data, "services": updated}
