"""ProcessService driven directly in a task group, with real child processes."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog

from supervisor.concurrency import Event, create_task_group, current_time, fail_after
from supervisor.config.models import ServiceConfig
from supervisor.services.context import ServiceContext
from supervisor.services.process import (
    HealthCheckFailed,
    ProcessFailed,
    ProcessInfo,
    ProcessService,
    StartTimeout,
    WatchdogTimeout,
)
from tests.ports import free_port

pytestmark = pytest.mark.anyio

SCRIPTS = Path(__file__).parent / "scripts"
PY = sys.executable


def script(name: str, *args: str) -> list[str]:
    """Command running one of tests/scripts with this interpreter."""
    return [PY, str(SCRIPTS / name), *args]


def make(command: list[str], **fields: Any) -> ProcessService:
    """A ProcessService named ``svc`` with a short stop timeout unless told otherwise."""
    fields.setdefault("stop", {"timeout": 1})
    return ProcessService("svc", ServiceConfig.model_validate({"command": command, **fields}))


class Recorder:
    """A ServiceContext whose output, status and pid changes are recorded and awaitable."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.statuses: list[str] = []
        self.pids: list[int | None] = []
        self._changed = Event()
        self.ctx = ServiceContext(
            "svc", on_output=self._output, on_status=self._status, on_pid=self.pids.append
        )

    def _wake(self) -> None:
        self._changed.set()
        self._changed = Event()

    def _output(self, stream: str, line: str) -> None:
        self.lines.append((stream, line))
        self._wake()

    def _status(self, text: str) -> None:
        self.statuses.append(text)
        self._wake()

    async def line(self, pattern: str) -> re.Match[str]:
        """Wait for an output line matching ``pattern`` (bounded: 5 s)."""
        with fail_after(5):
            while True:
                for _stream, text in self.lines:
                    if match := re.search(pattern, text):
                        return match
                await self._changed.wait()


def alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


async def test_default_readiness_then_stop_on_cancel() -> None:
    svc = make(["sleep", "1000"])
    rec = Recorder()
    async with create_task_group() as tg:
        info = await tg.start(svc, rec.ctx)
        assert isinstance(info, ProcessInfo)
        assert info.pid == svc.pid and alive(info.pid)
        assert rec.pids == [info.pid]
        tg.cancel_scope.cancel()
    assert svc.ended == "killed by SIGTERM"
    assert svc.returncode == -signal.SIGTERM
    assert rec.pids == [info.pid, None]
    assert not alive(info.pid)


async def test_exit_code_and_output_recorded() -> None:
    svc = make(script("crash.py", "3"))
    rec = Recorder()
    with pytest.raises(ProcessFailed) as caught:
        await svc(rec.ctx)
    assert str(caught.value) == "exited 3"
    assert caught.value.returncode == 3 and caught.value.signal is None
    assert svc.ended == "exited 3"
    assert sorted(rec.lines) == [("stderr", "boom"), ("stdout", "about to crash")]


async def test_exit_zero_returns_normally() -> None:
    svc = make(["true"])
    await svc(Recorder().ctx)
    assert svc.ended == "exited 0" and svc.returncode == 0


async def test_killed_by_signal_is_named() -> None:
    svc = make(["sh", "-c", "kill -SEGV $$"])
    with pytest.raises(ProcessFailed) as caught:
        await svc(Recorder().ctx)
    assert str(caught.value) == "killed by SIGSEGV"
    assert caught.value.signal == signal.SIGSEGV


async def test_command_not_found_is_a_start_failure() -> None:
    svc = make(["/nonexistent/program"])
    with pytest.raises(ProcessFailed, match="cannot start '/nonexistent/program'"):
        await svc(Recorder().ctx)


async def test_child_ignoring_sigterm_is_killed_after_stop_timeout() -> None:
    svc = make(script("ignore_term.py"), ready={"log": "ignoring SIGTERM"}, stop={"timeout": 0.3})
    rec = Recorder()
    with structlog.testing.capture_logs() as logs:
        async with create_task_group() as tg:
            info = await tg.start(svc, rec.ctx)
            began = current_time()
            tg.cancel_scope.cancel()
    assert current_time() - began >= 0.3
    assert svc.ended == "killed by SIGKILL"
    assert not alive(info.pid)
    exits = [e for e in logs if e["event"] == "process exited"]
    assert exits and exits[-1]["how"] == "killed by SIGKILL" and exits[-1]["stopped"]
    assert any(e["event"] == "stop timeout: killing the process group" for e in logs)


async def test_grandchild_is_stopped_with_its_group() -> None:
    svc = make(script("fork_grandchild.py"), ready={"log": r"grandchild \d+"})
    rec = Recorder()
    async with create_task_group() as tg:
        await tg.start(svc, rec.ctx)
        grandchild = int((await rec.line(r"grandchild (\d+)")).group(1))
        assert alive(grandchild)
        tg.cancel_scope.cancel()
    assert svc.ended == "killed by SIGTERM"
    with fail_after(2):
        while alive(grandchild):
            await anyio.sleep(0.01)


async def test_leftover_group_members_are_stopped_when_the_main_process_exits() -> None:
    # The shell exits 0 at once, leaving a background `sleep` in its group.
    svc = make(["sh", "-c", "sleep 1000 & echo $!"])
    rec = Recorder()
    await svc(rec.ctx)
    assert svc.ended == "exited 0"
    orphan = int(rec.lines[0][1])
    with fail_after(2):
        while alive(orphan):
            await anyio.sleep(0.01)


async def test_notify_ready_and_status_end_to_end() -> None:
    svc = make(script("notify_ready.py"), ready={"notify": True})
    rec = Recorder()
    async with create_task_group() as tg:
        info = await tg.start(svc, rec.ctx)
        assert info.notify_socket and info.notify_socket.endswith("notify.sock")
        await rec.line("pings done")
        assert rec.statuses[:2] == ["starting", "serving"]
        assert svc.status == "serving"
        assert ("stdout", "watchdog_usec=") in rec.lines
        tg.cancel_scope.cancel()
    assert not os.path.exists(info.notify_socket)


async def test_watchdog_timeout_stops_a_silent_service() -> None:
    svc = make(script("notify_ready.py", "--pings", "3"), ready={"notify": True, "watchdog": 0.3})
    rec = Recorder()
    began = current_time()
    with pytest.raises(WatchdogTimeout, match=r"no WATCHDOG=1 within 0.3s") as caught:
        await svc(rec.ctx)
    # Three pings 50 ms apart kept it alive; then 0.3 s of silence.
    assert current_time() - began >= 0.45
    assert ("stdout", "watchdog_usec=300000") in rec.lines
    assert caught.value.ended == "killed by SIGTERM"
    assert isinstance(caught.value, HealthCheckFailed)


async def test_failing_health_check_raises_after_n_failures() -> None:
    svc = make(
        ["sleep", "1000"],
        health={"exec": ["false"], "interval": 0.05, "timeout": 1, "failures": 3},
    )
    with structlog.testing.capture_logs() as logs, pytest.raises(HealthCheckFailed) as caught:
        await svc(Recorder().ctx)
    assert "health check failed 3 times in a row" in str(caught.value)
    assert "exec false: exited 1" in str(caught.value)
    assert caught.value.ended == "killed by SIGTERM"
    counts = [e["count"] for e in logs if e["event"] == "health check failed"]
    assert counts == [1, 2, 3]


async def test_health_check_passing_keeps_the_service(tmp_path: Path) -> None:
    checks = tmp_path / "checks"
    svc = make(
        ["sleep", "1000"],
        health={"exec": ["sh", "-c", f"echo ok >> {checks}"], "interval": 0.02, "failures": 1},
    )
    with structlog.testing.capture_logs() as logs:
        async with create_task_group() as tg:
            await tg.start(svc, Recorder().ctx)
            with fail_after(5):
                while not checks.exists() or len(checks.read_text().split()) < 3:
                    await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    assert svc.ended == "killed by SIGTERM"
    assert not any(e["event"] == "health check failed" for e in logs)


async def test_readiness_timeout_is_a_start_failure() -> None:
    port = free_port()
    svc = make(
        ["sleep", "1000"], ready={"tcp": f"127.0.0.1:{port}", "interval": 0.05}, start_timeout=0.3
    )
    rec = Recorder()
    async with create_task_group() as tg:
        with pytest.raises(StartTimeout, match=r"0.3s \(tcp 127.0.0.1:\d+: connection refused"):
            await tg.start(svc, rec.ctx)
    assert svc.ended == "killed by SIGTERM"
    assert rec.pids[-1] is None


async def test_exit_before_ready_is_a_start_failure() -> None:
    svc = make(script("crash.py", "4"), ready={"tcp": f"127.0.0.1:{free_port()}"})
    async with create_task_group() as tg:
        with pytest.raises(ProcessFailed, match="exited 4 before becoming ready"):
            await tg.start(svc, Recorder().ctx)


async def test_oneshot_exiting_zero_before_ready_completes(tmp_path: Path) -> None:
    svc = make(["true"], oneshot=True, ready={"file": str(tmp_path / "never")})
    async with create_task_group() as tg:
        info = await tg.start(svc, Recorder().ctx)
    assert info.pid == svc.pid and svc.ended == "exited 0"


async def test_ready_by_tcp() -> None:
    port = free_port()
    svc = make(
        script("tcp_server.py", str(port), "0.1"),
        ready={"tcp": f"127.0.0.1:{port}", "interval": 0.02},
    )
    rec = Recorder()
    async with create_task_group() as tg:
        await tg.start(svc, rec.ctx)
        await rec.line(f"listening on {port}")
        tg.cancel_scope.cancel()


async def test_ready_by_http_with_expected_status() -> None:
    port = free_port()
    svc = make(
        script("http_server.py", str(port), "204"),
        ready={"http": f"http://127.0.0.1:{port}/health", "status": 204, "interval": 0.02},
    )
    rec = Recorder()
    async with create_task_group() as tg:
        await tg.start(svc, rec.ctx)
        await rec.line(f"serving on {port}")
        tg.cancel_scope.cancel()


async def test_ready_by_http_times_out_on_wrong_status() -> None:
    port = free_port()
    svc = make(
        script("http_server.py", str(port), "503"),
        ready={"http": f"http://127.0.0.1:{port}/", "interval": 0.02},
        start_timeout=2.0,  # the server must start and answer at least once (a loaded machine)
    )
    async with create_task_group() as tg:
        with pytest.raises(StartTimeout, match="status 503, expected 200"):
            await tg.start(svc, Recorder().ctx)


async def test_ready_by_file_and_exec(tmp_path: Path) -> None:
    command = ["sh", "-c", "sleep 0.1; touch ready.flag; exec sleep 1000"]
    for ready in ({"file": "ready.flag"}, {"exec": "test -f ready.flag"}):
        (tmp_path / "ready.flag").unlink(missing_ok=True)
        svc = make(command, cwd=str(tmp_path), ready={**ready, "interval": 0.02})
        async with create_task_group() as tg:
            await tg.start(svc, Recorder().ctx)
            assert (tmp_path / "ready.flag").exists()
            tg.cancel_scope.cancel()


async def test_long_lines_are_bounded() -> None:
    code = "import sys; sys.stdout.write('x' * 200000 + '\\nafter\\n' + 'y' * 50 + '\\n' + 'tail')"
    svc = ProcessService(
        "svc", ServiceConfig.model_validate({"command": [PY, "-c", code]}), max_line=1000
    )
    rec = Recorder()
    await svc(rec.ctx)
    texts = [text for _stream, text in rec.lines]
    assert len(texts) == 4
    assert texts[0] == "x" * 1000 + " …[truncated at 1000 bytes]"
    assert texts[1:] == ["after", "y" * 50, "tail"]


async def test_env_and_cwd_are_applied(tmp_path: Path) -> None:
    code = "import os; print(os.environ['GREETING'], os.environ['HOME'] != '', os.getcwd())"
    svc = make([PY, "-c", code], env={"GREETING": "hello"}, cwd=str(tmp_path))
    rec = Recorder()
    await svc(rec.ctx)
    assert rec.lines == [("stdout", f"hello True {tmp_path.resolve()}")]


async def test_output_is_logged_as_structured_events() -> None:
    svc = make(script("crash.py", "0"))
    with structlog.testing.capture_logs() as logs:
        await svc(ServiceContext("svc"))
    outputs = [e for e in logs if e["event"] == "output"]
    assert {(e["service"], e["stream"], e["line"]) for e in outputs} == {
        ("svc", "stdout", "about to crash"),
        ("svc", "stderr", "boom"),
    }


async def test_a_requested_stop_logs_its_process_lines_at_debug_an_exit_at_info() -> None:
    """An operator's log at info shows a stop once (the runner's transitions), not four
    lines per process; a process that exits by itself is news and stays at info."""
    svc = make(["sleep", "60"])
    rec = Recorder()
    with structlog.testing.capture_logs() as logs:
        async with create_task_group() as tg:
            await tg.start(svc, rec.ctx)
            tg.cancel_scope.cancel()
        levels = {e["event"]: e["log_level"] for e in logs}
        assert levels["stopping process"] == "debug"
        assert levels["process exited"] == "debug"
        logs.clear()
        with pytest.raises(ProcessFailed):
            await make(["sh", "-c", "exit 4"])(Recorder().ctx)
    (exited,) = [e for e in logs if e["event"] == "process exited"]
    assert exited["log_level"] == "info" and exited["how"] == "exited 4"
