"""The daemons bench/daemons.py compares, and what it reads from /proc about them.

Each :class:`Peer` writes a config of N :class:`Program` for its daemon, gives the argv to
launch it, and a readiness poll on the daemon's own control interface. supervisord and
circus are installed on first use into bench/.venv-supervisord and bench/.venv-circus.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.control.client import ControlClient, ControlError, NoDaemon

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Program:
    """One program in a generated config."""

    name: str
    argv: list[str]
    restart: bool = False


Ready = Callable[[], float | None]
"""Polled until it returns the ``time.monotonic()`` at which all programs were running."""


# -- /proc ------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, str, int] | None:
    """``(comm, state, ppid)`` of ``pid``, or ``None`` if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            data = file.read()
    except OSError:
        return None
    head, _, tail = data.rpartition(b")")
    fields = tail.split()
    return head.partition(b"(")[2].decode(errors="replace"), fields[0].decode(), int(fields[1])


def alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z"


def descendants(root: int) -> dict[int, str]:
    """``{pid: comm}`` of every live process below ``root``."""
    table: dict[int, tuple[str, str, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None and stat[1] != "Z":
            table[int(entry)] = stat
    children: dict[int, list[int]] = {}
    for pid, (_, _, ppid) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, str] = {}
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        found[pid] = table[pid][0]
        todo.extend(children.get(pid, ()))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by ``pid`` (all its threads; 0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rpartition(b")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` in KiB (0 if it is gone)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def kill_all(pids: list[int]) -> None:
    """SIGKILL each pid and its process group (cleanup; errors ignored)."""
    for pid in pids:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(pid, signal.SIGKILL)


# -- peers ------------------------------------------------------------------------------


class Peer:
    """A daemon under test: writes its config, launches it, tells when all are running."""

    name = ""

    def unavailable(self) -> str | None:
        """Why this peer cannot run here, or ``None``."""
        return None

    def launch(self, tmp: Path, programs: list[Program]) -> list[str]:
        """Write the config for ``programs`` into ``tmp``; the daemon's argv."""
        raise NotImplementedError

    def readiness(self, tmp: Path, n: int) -> Ready:
        """A poll that returns the time all ``n`` programs were seen running, else None."""
        raise NotImplementedError

    def status_command(self, tmp: Path) -> list[str] | None:
        """The command a user types to list the programs' states, or ``None``."""
        return None

    def close(self) -> None:
        """Release what :meth:`readiness` started (a poller process)."""


class Raw(Peer):
    """bench/raw_supervisor.py: posix_spawn, respawn, SIGTERM to all groups."""

    name = "raw"

    def launch(self, tmp: Path, programs: list[Program]) -> list[str]:
        spec = {
            "programs": [{"argv": p.argv, "restart": p.restart} for p in programs],
            "ready": str(tmp / "ready"),
        }
        (tmp / "raw.json").write_text(json.dumps(spec))
        return [sys.executable, str(HERE / "raw_supervisor.py"), str(tmp / "raw.json")]

    def readiness(self, tmp: Path, n: int) -> Ready:
        ready = tmp / "ready"
        return lambda: time.monotonic() if ready.exists() else None


def compile_bytecode() -> None:
    """Write the bytecode of this package, as ``pip install`` does for the peers.

    An editable install compiles on first import, and not at all under
    ``PYTHONDONTWRITEBYTECODE`` (set on some machines): each launch would then compile
    every module again, ~0.15 s of a cold start that no installed daemon pays.
    """
    import supervisor

    package = os.path.dirname(supervisor.__file__)
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True)


class Ours(Peer):
    """``python -m supervisor run FILE --backend B``, asked over its control socket."""

    def __init__(self, backend: str, python_flags: tuple[str, ...] = ()) -> None:
        self.backend = backend
        self.python_flags = python_flags
        self.name = f"ours-{backend}"
        compile_bytecode()

    def launch(self, tmp: Path, programs: list[Program]) -> list[str]:
        services: dict[str, Any] = {}
        for program in programs:
            service: dict[str, Any] = {"command": program.argv}
            if program.restart:
                service["restart"] = {
                    "policy": "always",
                    "backoff": {"initial": "0s", "jitter": 0},
                    "max_restarts": 1_000_000,
                    "within": "1s",
                }
            services[program.name] = service
        config = tmp / "services.yaml"
        config.write_text(json.dumps({"version": 1, "services": services}))  # JSON is YAML
        socket_path = str(tmp / "ours.sock")
        return [
            *[sys.executable, *self.python_flags, "-m", "supervisor", "run", str(config)],
            *["--socket", socket_path, "--backend", self.backend],
        ]

    def status_command(self, tmp: Path) -> list[str] | None:
        return [sys.executable, "-m", "supervisor", "status", "--socket", str(tmp / "ours.sock")]

    def readiness(self, tmp: Path, n: int) -> Ready:
        client = ControlClient(str(tmp / "ours.sock"), timeout=10)

        def ready() -> float | None:
            try:
                services = client.request("status")["services"]
            except (NoDaemon, ControlError):
                return None
            if len(services) == n and all(s["state"] == "ready" for s in services):
                return time.monotonic()
            return None

        return ready


def ensure_venv(peer: str, requirement: str, exe: str, venv: Path | None = None) -> Path | None:
    """``VENV/bin/EXE``, installing ``requirement`` with pip the first time; ``None`` if
    that fails. ``venv`` defaults to ``bench/.venv-PEER``."""
    venv = venv or HERE / f".venv-{peer}"
    path = venv / "bin" / exe
    if path.exists():
        return path
    print(f"installing {requirement} into {venv} ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        pip = [str(venv / "bin" / "pip"), "install", "-q", requirement]
        subprocess.run(pip, check=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"{peer}: install failed: {exc}", flush=True)
        return None
    return path if path.exists() else None


class _UnixConnection(http.client.HTTPConnection):
    """An HTTP connection over a unix socket (supervisord's XML-RPC)."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self._path)
        self.sock = sock


class UnixTransport(xmlrpc.client.Transport):
    """An XML-RPC transport to ``path``, a unix socket: ``ServerProxy("http://localhost",
    transport=UnixTransport(path))`` talks to supervisord's ``[unix_http_server]``."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self._path)


class Supervisord(Peer):
    """supervisord 4.x, asked with XML-RPC ``getAllProcessInfo`` on its unix socket."""

    name = "supervisord"

    def __init__(self) -> None:
        self.exe = ensure_venv("supervisord", "supervisor>=4,<5", "supervisord")

    def unavailable(self) -> str | None:
        return None if self.exe else "could not install supervisor>=4 with pip"

    def launch(self, tmp: Path, programs: list[Program]) -> list[str]:
        assert self.exe is not None
        sections = [
            f"[unix_http_server]\nfile={tmp}/supervisord.sock\n",
            f"[supervisord]\nnodaemon=true\nlogfile={tmp}/supervisord.log\n"
            f"pidfile={tmp}/supervisord.pid\nchildlogdir={tmp}\n",
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            f"[supervisorctl]\nserverurl=unix://{tmp}/supervisord.sock\n",
        ]
        for program in programs:
            sections.append(
                f"[program:{program.name}]\ncommand={' '.join(program.argv)}\n"
                f"autostart=true\nautorestart={str(program.restart).lower()}\nstartsecs=0\n"
                "stdout_logfile=NONE\nstderr_logfile=NONE\n"
            )
        conf = tmp / "supervisord.conf"
        conf.write_text("\n".join(sections))
        return [str(self.exe), "-c", str(conf)]

    def status_command(self, tmp: Path) -> list[str] | None:
        assert self.exe is not None
        return [str(self.exe.with_name("supervisorctl")), "-c", f"{tmp}/supervisord.conf", "status"]

    def readiness(self, tmp: Path, n: int) -> Ready:
        rpc = xmlrpc.client.ServerProxy(
            "http://localhost", transport=UnixTransport(f"{tmp}/supervisord.sock")
        )

        def ready() -> float | None:
            try:
                infos: list[dict[str, Any]] = rpc.supervisor.getAllProcessInfo()  # type: ignore[assignment]
            except (OSError, xmlrpc.client.Fault, http.client.HTTPException):
                return None
            if len(infos) == n and all(i["statename"] == "RUNNING" for i in infos):
                return time.monotonic()
            return None

        return ready


CIRCUS_POLLER = """\
import json, os, sys, time
from circus.client import CircusClient
path, n, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
print("armed", flush=True)
while not os.path.exists(path):
    time.sleep(interval)
client = CircusClient(endpoint="ipc://" + path, timeout=30)
while True:
    statuses = client.send_message("status").get("statuses", {})
    if len(statuses) == n and all(s == "active" for s in statuses.values()):
        print(json.dumps(time.monotonic()), flush=True)
        break
    time.sleep(interval)
"""


class Circus(Peer):
    """circus 0.19, asked ``status`` (all watchers ``active``) by a poller in its venv."""

    name = "circus"

    def __init__(self, poll: float) -> None:
        self.exe = ensure_venv("circus", "circus>=0.19,<0.20", "circusd")
        self.poll = poll
        self.poller: subprocess.Popen[str] | None = None

    def unavailable(self) -> str | None:
        return None if self.exe else "could not install circus>=0.19 (and pyzmq) with pip"

    def launch(self, tmp: Path, programs: list[Program]) -> list[str]:
        assert self.exe is not None
        # circus notices exits only when its controller checks, every check_delay (5 s
        # by default): 0.1 s where a program restarts, so it is not measuring its default.
        restarts = any(p.restart for p in programs)
        sections = [
            f"[circus]\nendpoint = ipc://{tmp}/circus.sock\n"
            f"pubsub_endpoint = ipc://{tmp}/circus-pubsub.sock\nstatsd = False\n"
            + ("check_delay = 0.1\n" if restarts else "")
        ]
        for program in programs:
            sections.append(
                f"[watcher:{program.name}]\ncmd = {program.argv[0]}\n"
                f"args = {' '.join(program.argv[1:])}\nnumprocesses = 1\n"
                + ("max_retry = -1\ncheck_flapping = False\n" if program.restart else "")
            )
        conf = tmp / "circus.ini"
        conf.write_text("\n".join(sections))
        return [str(self.exe), str(conf)]

    def status_command(self, tmp: Path) -> list[str] | None:
        assert self.exe is not None
        ctl = str(self.exe.with_name("circusctl"))
        return [ctl, "--endpoint", f"ipc://{tmp}/circus.sock", "status"]

    def readiness(self, tmp: Path, n: int) -> Ready:
        assert self.exe is not None
        python = str(self.exe.parent / "python")
        argv = [python, "-c", CIRCUS_POLLER, f"{tmp}/circus.sock", str(n), str(self.poll)]
        self.poller = poller = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert poller.stdout is not None
        if poller.stdout.readline().strip() != "armed":
            raise RuntimeError("the circus poller did not start")

        def ready() -> float | None:
            assert poller.stdout is not None
            if not select.select([poller.stdout], [], [], 0)[0]:
                return None
            line = poller.stdout.readline()
            if not line:
                raise RuntimeError(f"the circus poller exited with {poller.wait()}")
            return float(line)

        return ready

    def close(self) -> None:
        if self.poller is not None:
            if self.poller.poll() is None:
                self.poller.kill()
            self.poller.wait()
            if self.poller.stdout is not None:
                self.poller.stdout.close()
            self.poller = None
