"""Run ``python -m supervisor run`` in a subprocess and drive it, for end-to-end tests.

Every wait is bounded and waits on a condition (the control socket's answer, a log line,
the process exiting), never on a fixed sleep.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from supervisor.cli import main
from supervisor.control.client import ControlClient, ControlError, NoDaemon

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def cli(
    *args: str, timeout: float = 20.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m supervisor ARGS`` to completion."""
    return subprocess.run(
        [PYTHON, "-m", "supervisor", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def cli_inline(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI's ``main(ARGS)`` in this process (the same code path, without the
    interpreter start-up a subprocess costs); stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``condition`` (every 10 ms) until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


class Daemon:
    """A ``supervisor run`` subprocess with JSON logs collected from its stderr."""

    def __init__(
        self,
        directory: Path,
        config: str,
        *args: str,
        name: str = "services",
        env: dict[str, str] | None = None,
        prefix: Sequence[str] = (),
        files: Sequence[str] = (),
    ) -> None:
        self.directory = directory
        self.files = list(files)
        """More service files, merged over ``config`` (``run FILE FILES...``)."""
        self.config = directory / f"{name}.yaml"
        self.config.write_text(textwrap.dedent(config))
        self.socket = str(directory / f"{name}.sock")
        self.args = args
        self.env = {**os.environ, **(env or {})}
        self.env.pop("NOTIFY_SOCKET", None)
        self.env.pop("SUPERVISOR_SOCKET", None)
        self.prefix = list(prefix)
        self.proc: subprocess.Popen[str] | None = None
        self.records: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None

    def write_config(self, config: str) -> None:
        """Replace the service file (for reloads)."""
        self.config.write_text(textwrap.dedent(config))

    def start(self) -> Daemon:
        """Start the daemon (JSON logs, the socket in the test's directory)."""
        assert self.proc is None, "this daemon was already started"
        argv = [
            *self.prefix,
            PYTHON,
            "-m",
            "supervisor",
            "run",
            str(self.config),
            *self.files,
            "--socket",
            self.socket,
            "--log-format",
            "json",
            *self.args,
        ]
        self.proc = subprocess.Popen(
            argv,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=self.env,
            cwd=ROOT,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self.raw.append(line)
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if isinstance(record, dict):
                        self.records.append(record)

    def logs(self) -> list[dict[str, Any]]:
        """The JSON log records so far."""
        with self._lock:
            return list(self.records)

    def text(self) -> str:
        """Everything written to stderr so far."""
        with self._lock:
            return "".join(self.raw)

    def find(self, **fields: Any) -> list[dict[str, Any]]:
        """Log records whose fields have the given values."""
        return [r for r in self.logs() if all(r.get(k) == v for k, v in fields.items())]

    def wait_log(self, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        """Wait for a log record with the given fields."""
        found: list[dict[str, Any]] = wait_for(
            lambda: self.find(**fields) or self._dead(), timeout, f"log {fields}\n{self.text()}"
        )
        return found[0]

    def _dead(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            if self._reader is not None:
                self._reader.join(2)
            raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.text()}")
        return False

    @property
    def client(self) -> ControlClient:
        """A control client on the daemon's socket."""
        return ControlClient(self.socket, timeout=10)

    def status(self) -> dict[str, Any] | None:
        """The status answer, or ``None`` while nothing listens."""
        try:
            return self.client.request("status")
        except (NoDaemon, ControlError):
            return None

    def services(self) -> dict[str, dict[str, Any]]:
        """``{name: status}`` of every service."""
        answer = self.status()
        assert answer is not None
        return {s["name"]: s for s in answer["services"]}

    def wait_running(self, timeout: float = 10.0) -> dict[str, dict[str, Any]]:
        """Wait until the supervisor reports ``running`` (every service settled)."""

        def running() -> bool:
            answer = self.status()
            return bool(answer and answer["supervisor"]["state"] == "running") or self._dead()

        wait_for(running, timeout, f"the daemon to run\n{self.text()}")
        return self.services()

    def wait_state(self, name: str, state: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until service ``name`` is in ``state``; return its status."""

        def reached() -> dict[str, Any] | None:
            self._dead()
            with contextlib.suppress(AssertionError):
                service = self.services().get(name)
                if service and service["state"] == state:
                    return service
            return None

        result: dict[str, Any] = wait_for(reached, timeout, f"{name} to be {state}")
        return result

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a client command of the CLI against this daemon (in this process)."""
        return cli_inline(*args, "--socket", self.socket)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the daemon."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 15.0) -> int:
        """Wait for the daemon to exit; its exit code."""
        assert self.proc is not None
        code = self.proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(5)
        return code

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()


def sleeper(text: str = "up", seconds: int = 1000) -> str:
    """A YAML flow list for a Python process that prints ``text`` then sleeps."""
    code = f"import time; print({text!r}, flush=True); time.sleep({seconds})"
    return json.dumps([PYTHON, "-u", "-c", code])
