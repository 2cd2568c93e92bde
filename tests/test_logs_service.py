"""Log files of running services: log_dir, echo, `logs -n` from the file, reopen, a full
disk under a live process, backpressure, and bad paths."""

from __future__ import annotations

import hashlib
import mmap
import os
import re
import struct
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import structlog

from supervisor import ServiceState, Supervisor
from supervisor.concurrency import fail_after
from supervisor.config import ConfigError, load_config_text
from supervisor.config.models import ServiceConfig
from supervisor.control.controller import SupervisorController
from supervisor.control.protocol import parse_request
from supervisor.services._child import Child
from supervisor.services._io import ChildIO
from supervisor.services.context import ServiceContext
from supervisor.services.process import ProcessFailed, ProcessService
from tests.runtime_helpers import wait_state
from tests.test_logs_files import fill, needs_root, small_tmpfs

pytestmark = pytest.mark.anyio


def waiter(*steps: str) -> list[str]:
    """A shell service that prints each step once the file named after it exists
    (``echo NAME`` for a plain step): the test says when, no sleeps on its side."""
    script = []
    for step in steps:
        if step.startswith("after:"):
            path = step.removeprefix("after:")
            script.append(f"while [ ! -e {path} ]; do sleep 0.005; done")
        else:
            script.append(f"echo {step}")
    script.append("exec sleep 30")
    return ["sh", "-c", "; ".join(script)]


async def next_line(follow: Any) -> str:
    with fail_after(5):
        line = await follow.__anext__()
    return str(line.line)


async def test_log_dir_gives_each_process_a_file_that_logs_reads_back(tmp_path: Path) -> None:
    """With `supervisor.log_dir` the output lands in DIR/NAME.log (the directory is
    created) and is not echoed; `logs` serves the buffer, and the file when more lines
    are asked for than the buffer holds."""
    sup = Supervisor.from_dict(
        {
            "supervisor": {"log_dir": str(tmp_path / "logs")},
            "services": {"seq": {"command": ["seq", "1", "200"], "oneshot": True}},
        },
        log_lines=10,
    )
    with structlog.testing.capture_logs() as events:
        async with sup:
            await wait_state(sup, "seq", ServiceState.COMPLETED)
            kept = sup.logs("seq")
            more = sup.logs("seq", 50)
            few = sup.logs("seq", 3)
    assert (tmp_path / "logs" / "seq.log").read_text() == "".join(f"{i}\n" for i in range(1, 201))
    assert [line.line for line in kept] == [str(i) for i in range(191, 201)]
    assert {line.stream for line in kept} == {"stdout"}
    assert [line.line for line in few] == ["198", "199", "200"]
    assert [line.line for line in more] == [str(i) for i in range(151, 201)]
    assert [line.stream for line in more] == ["file"] * 40 + ["stdout"] * 10
    assert more[39].time <= more[40].time  # a file's lines stay before the buffer's
    assert not [e for e in events if e["event"] == "output"]


REPLICA_LINES = ["sh", "-c", 'seq 1 30 | sed "s/^/r$REPLICA /"; exec sleep 60']


async def _never() -> dict[str, Any]:
    raise AssertionError("no reload here")


async def test_a_replicated_services_logs_past_the_buffers_come_from_every_replica(
    tmp_path: Path,
) -> None:
    """Each replica's file lines come before the buffered ones of all replicas, not the
    file modified last taking the whole answer."""
    web = {"command": REPLICA_LINES, "replicas": 2, "ready": {"log": " 30$"}}
    sup = Supervisor.from_dict(
        {"supervisor": {"log_dir": str(tmp_path)}, "services": {"web": web}}, log_lines=10
    )
    controller = SupervisorController(sup, reload=_never, shutdown=lambda: None)
    async with sup:
        lines = [(line["service"], line["line"]) for line in controller.recent_logs("web", 50)]
    assert len(lines) == 50
    buffered = lines[-20:]  # the last ten of each replica, merged by time
    assert sorted(buffered) == sorted(
        [(f"web.{r}", f"r{r} {i}") for r in (0, 1) for i in range(21, 31)]
    )
    older = lines[:30]
    assert {name for name, _ in older} == {"web.0", "web.1"}
    for replica in ("web.0", "web.1"):  # each replica's own lines, in order, no repeat
        own = [text for name, text in lines if name == replica]
        numbers = [int(text.split()[1]) for text in own]
        assert numbers == sorted(set(numbers)) and numbers[-1] == 30


async def test_a_log_file_shared_by_replicas_is_not_read_back_as_one_replicas(
    tmp_path: Path,
) -> None:
    shared = str(tmp_path / "web.log")
    web = {
        "command": REPLICA_LINES,
        "replicas": 2,
        "ready": {"log": " 30$"},
        "log": {"file": shared},
    }
    sup = Supervisor.from_dict({"services": {"web": web}}, log_lines=10)
    async with sup:
        lines = [line.line for line in sup.logs("web.1", 40)]
    assert lines == [f"r1 {i}" for i in range(21, 31)]  # its buffer only
    written = Path(shared).read_text().splitlines()
    assert sorted(written) == sorted(f"r{r} {i}" for r in (0, 1) for i in range(1, 31))


async def test_echo_true_keeps_the_lines_in_the_supervisor_log_too(tmp_path: Path) -> None:
    sup = Supervisor.from_dict(
        {
            "services": {
                "hello": {
                    "command": ["sh", "-c", "echo out; echo err >&2"],
                    "oneshot": True,
                    "log": {"file": str(tmp_path / "hello.log"), "echo": True},
                }
            }
        }
    )
    with structlog.testing.capture_logs() as events:
        async with sup:
            await wait_state(sup, "hello", ServiceState.COMPLETED)
    shown = {(e["stream"], e["line"]) for e in events if e["event"] == "output"}
    assert shown == {("stdout", "out"), ("stderr", "err")}
    assert sorted((tmp_path / "hello.log").read_text().splitlines()) == ["err", "out"]


async def test_stderr_file_and_followers_while_writing_files(tmp_path: Path) -> None:
    go = tmp_path / "go"
    sup = Supervisor.from_dict(
        {
            "services": {
                "api": {
                    "command": waiter(f"after:{go}", "one", "oops >&2", "two"),
                    "log": {
                        "file": str(tmp_path / "out.log"),
                        "stderr_file": str(tmp_path / "err.log"),
                    },
                }
            }
        }
    )
    async with sup:
        async with sup.follow_logs("api") as follow:
            go.touch()
            seen = {await next_line(follow) for _ in range(3)}
        await sup.stop("api")
    assert seen == {"one", "oops", "two"}
    assert (tmp_path / "out.log").read_text() == "one\ntwo\n"
    assert (tmp_path / "err.log").read_text() == "oops\n"


async def test_reopen_logs_after_logrotate_moved_the_file(tmp_path: Path) -> None:
    """The file is renamed away (logrotate), `reopen-logs` is sent: what the service
    writes next goes to a new file at the configured path."""
    go = tmp_path / "go"
    log = tmp_path / "api.log"
    sup = Supervisor.from_dict(
        {
            "services": {
                "api": {"command": waiter("one", f"after:{go}", "two"), "log": {"file": str(log)}}
            }
        }
    )
    controller = SupervisorController(sup, reload=_never, shutdown=lambda: None)
    assert parse_request(b'{"cmd": "reopen-logs"}')["cmd"] == "reopen-logs"
    async with sup:
        async with sup.follow_logs("api") as follow:
            with fail_after(5):
                while sup.logs("api") == []:
                    await follow.__anext__()
            follow.pending()  # "one", if it came through the follower too
            log.rename(tmp_path / "api.log.1")
            assert controller.reopen_logs() == {"files": [str(log)]}
            go.touch()
            assert await next_line(follow) == "two"
        await sup.stop("api")
    assert (tmp_path / "api.log.1").read_text() == "one\n"
    assert log.read_text() == "two\n"


async def _never() -> dict[str, Any]:
    raise AssertionError("not called")


@needs_root
async def test_a_full_disk_never_stops_the_service(tmp_path: Path) -> None:
    """ENOSPC under a live process: its lines still reach the buffer and followers, the
    service stays ready, the error is logged once; when space returns the file resumes."""
    with small_tmpfs(tmp_path / "disk", "64k") as disk:
        go, filler = tmp_path / "go", disk / "filler"
        fill(filler)
        sup = Supervisor.from_dict(
            {
                "services": {
                    "api": {
                        "command": waiter("lost-1", "lost-2", f"after:{go}", "kept"),
                        "log": {"file": str(disk / "api.log")},
                    }
                }
            }
        )
        with structlog.testing.capture_logs() as events:
            async with sup:
                async with sup.follow_logs("api") as follow:
                    with fail_after(5):
                        while [line.line for line in sup.logs("api")] != ["lost-1", "lost-2"]:
                            await follow.__anext__()
                    follow.pending()  # lines already seen through the buffer
                    assert sup.status()["api"].state is ServiceState.READY
                    filler.unlink()
                    go.touch()
                    assert await next_line(follow) == "kept"
                assert sup.status()["api"].state is ServiceState.READY
                await sup.stop("api")
        assert (disk / "api.log").read_text() == "kept\n"
    failures = [e for e in events if e["event"].startswith("log file write failed")]
    assert len(failures) == 1 and failures[0]["error"] == "No space left on device"
    resumed = [e for e in events if e["event"] == "log file writing resumed"]
    assert len(resumed) == 1 and resumed[0]["lost_bytes"] == len(b"lost-1\nlost-2\n")


async def test_an_unusable_log_path_fails_the_start_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a directory")
    config = ServiceConfig.model_validate(
        {"command": ["true"], "log": {"file": str(tmp_path / "plain" / "x.log")}}
    )
    with pytest.raises(ProcessFailed, match=r"cannot open log file .*x\.log: Not a directory"):
        await ProcessService("svc", config)(ServiceContext("svc"))


def test_the_examples_of_the_logs_page_load() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "logs.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", page, re.S) if "services:" in b]
    assert blocks
    for block in blocks:
        config = load_config_text(block, "docs/logs.md", {})
        assert config.services["api"].log is not None
        assert config.services["api"].log.file == "/var/log/myapp/api.log"


def test_bad_log_settings_are_config_errors_at_their_place() -> None:
    text = (
        "services:\n"
        "  api:\n"
        "    command: [x]\n"
        "    log: {file: a.log, max_size: 10 parsecs, keep: -1}\n"
        "  py:\n"
        "    run: 'pkg.mod:fn'\n"
        "    log: {file: b.log}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "s.yaml")
    assert str(info.value).splitlines() == [
        "s.yaml:4:34: services.api.log.max_size: expected a size such as 512KB, 50MB, 1GB or "
        "a number of bytes, got '10 parsecs'",
        "s.yaml:4:52: services.api.log.keep: expected an integer >= 0, got -1",
        "s.yaml:6:5: services.py: `log` applies to processes (`command`) only",
    ]


# -- backpressure ----------------------------------------------------------------------

WRITER = r"""
import mmap, os, struct, sys
counter = mmap.mmap(os.open(sys.argv[1], os.O_RDWR), 8)
line = b"%08d" + b"." * 55 + b"\n"
block = b"".join(line % i for i in range(1024))  # 64 KiB
written = 0
for _ in range(int(sys.argv[2])):
    view = memoryview(block)
    while view:
        n = os.write(1, view)
        view = view[n:]
        written += n
        counter[:8] = struct.pack("Q", written)
"""


class SlowSink:
    """An output reader slower than the child: each chunk takes a millisecond."""

    def __init__(self, counter: mmap.mmap) -> None:
        self.counter = counter
        self.received = 0
        self.ahead = 0
        self.digest = hashlib.sha256()

    def feed(self, stream: str, chunk: bytes) -> None:
        assert stream == "stdout"
        self.received += len(chunk)
        self.digest.update(chunk)
        (written,) = struct.unpack("Q", self.counter[:8])
        self.ahead = max(self.ahead, written - self.received)
        time.sleep(0.001)  # a slow disk or terminal: the supervisor's thread is busy

    def end(self, stream: str) -> None:
        pass


async def test_a_slow_sink_blocks_the_child_on_its_pipe(tmp_path: Path) -> None:
    """The child writes 16 MiB as fast as it can; the sink takes its time. The child is
    never more than a pipe's capacity ahead of what the sink received (it blocks on its
    pipe), memory stays flat, and every byte arrives once, in order."""
    blocks = 256
    path = tmp_path / "counter"
    path.write_bytes(b"\0" * 8)
    fd = os.open(path, os.O_RDWR)
    counter = mmap.mmap(fd, 8)
    os.close(fd)
    sink = SlowSink(counter)
    child = Child.spawn([sys.executable, "-c", WRITER, str(path), str(blocks)], env=None, cwd=None)
    io = ChildIO(child, sink)
    tracemalloc.start()
    try:
        with fail_after(30):
            await io.run(lambda: io.drained and child.exited)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        io.close()
        counter.close()
    line = b"%08d" + b"." * 55 + b"\n"
    expected = hashlib.sha256(b"".join(line % i for i in range(1024)) * blocks)
    assert child.returncode == 0
    assert sink.received == 64 * 1024 * blocks
    assert sink.digest.hexdigest() == expected.hexdigest()
    assert sink.ahead <= 1024 * 1024 + 64 * 1024  # the pipe's capacity (1 MiB asked for)
    assert peak < 4 * 1024 * 1024
