"""Service output: the pipeline from pipes to log files, the ring buffer and the echo.

Used by :mod:`supervisor.services` (a process's output) and by the runtime (the buffer
behind ``supervisor logs``); knows nothing of either. See docs/logs.md.
"""

from supervisor.logs.buffer import MAX_LINE, OutputBuffer
from supervisor.logs.compress import finish_compressions
from supervisor.logs.echo import ConsoleEcho, Echo, JsonEcho, StructlogEcho, echo_for, install
from supervisor.logs.files import (
    LogFile,
    LogFileError,
    Rotation,
    open_log_file,
    release_log_file,
    reopen_all,
)
from supervisor.logs.lines import LineSink, LineSplitter, lines_of
from supervisor.logs.pipeline import OutputPipeline
from supervisor.logs.tail import tail_file

__all__ = [
    "MAX_LINE",
    "ConsoleEcho",
    "Echo",
    "JsonEcho",
    "LineSink",
    "LineSplitter",
    "LogFile",
    "LogFileError",
    "OutputBuffer",
    "OutputPipeline",
    "Rotation",
    "StructlogEcho",
    "echo_for",
    "finish_compressions",
    "install",
    "lines_of",
    "open_log_file",
    "release_log_file",
    "reopen_all",
    "tail_file",
]
