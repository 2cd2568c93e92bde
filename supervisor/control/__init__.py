"""The control socket: a Unix socket server in the daemon, and the client the CLI uses.

See docs/control.md for the protocol.
"""

from supervisor.control.client import ControlClient, ControlError, NoDaemon
from supervisor.control.controller import SupervisorController, service_dict
from supervisor.control.paths import (
    SOCKET_ENV,
    SocketPathError,
    client_socket_path,
    daemon_socket_path,
    default_directory,
)
from supervisor.control.protocol import COMMANDS, ProtocolError
from supervisor.control.server import Controller, ControlServer, SocketInUse, bind_unix_socket

__all__ = [
    "COMMANDS",
    "SOCKET_ENV",
    "ControlClient",
    "ControlError",
    "ControlServer",
    "Controller",
    "NoDaemon",
    "ProtocolError",
    "SocketInUse",
    "SocketPathError",
    "SupervisorController",
    "bind_unix_socket",
    "client_socket_path",
    "daemon_socket_path",
    "default_directory",
    "service_dict",
]
