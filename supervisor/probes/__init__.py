"""Readiness and liveness probes: tcp, http, exec, log, file and notify.

Every probe is a :class:`Checker`: ``check()`` is one attempt and raises
:class:`ProbeFailed`; ``attempt(timeout)`` bounds it and records ``last_error``;
``wait_ready()`` repeats attempts until one passes. This package is a leaf: it imports
only ``supervisor.concurrency`` and ``supervisor.config``.
"""

from supervisor.config.probe_targets import parse_address
from supervisor.probes._base import Checker, ProbeFailed
from supervisor.probes.command import CommandChecker
from supervisor.probes.file import FileChecker
from supervisor.probes.http import HttpChecker
from supervisor.probes.logline import LogChecker
from supervisor.probes.notify import NotifyChecker, NotifySocket, parse_message
from supervisor.probes.runner import build_checker, watch_liveness
from supervisor.probes.tcp import TcpChecker

__all__ = [
    "Checker",
    "CommandChecker",
    "FileChecker",
    "HttpChecker",
    "LogChecker",
    "NotifyChecker",
    "NotifySocket",
    "ProbeFailed",
    "TcpChecker",
    "build_checker",
    "parse_address",
    "parse_message",
    "watch_liveness",
]
