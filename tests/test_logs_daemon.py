"""Log files through `supervisor run`: log_dir, echo, `logs -n` from the file, and
`supervisor reopen-logs` after a logrotate-style rename, over the control socket."""

from __future__ import annotations

import json
from pathlib import Path

from tests.daemon_helpers import Daemon, wait_for


def test_log_dir_logs_from_the_file_and_reopen_logs(tmp_path: Path) -> None:
    go = tmp_path / "go"
    logs = tmp_path / "logs"
    script = f"seq 1 3000; while [ ! -e {go} ]; do sleep 0.01; done; echo after; exec sleep 30"
    config = f"""
        supervisor:
          log_dir: {logs}
        services:
          counter:
            command: [sh, -c, '{script}']
          echoed:
            command: [sh, -c, 'echo shown; exec sleep 30']
            log: {{echo: true}}
    """
    with Daemon(tmp_path, config) as daemon:
        daemon.wait_running()
        counter = logs / "counter.log"
        wait_for(lambda: counter.exists() and counter.stat().st_size >= 13893, what="3000 lines")
        daemon.wait_log(event="output", service="echoed", line="shown")
        assert (logs / "echoed.log").read_text() == "shown\n"

        # more lines than the buffer's 1000: the file's older ones, then the buffer's
        answer = daemon.ctl("logs", "counter", "-n", "2500", "--json")
        assert answer.returncode == 0, answer.stderr
        lines = [json.loads(text) for text in answer.stdout.splitlines()]
        assert [x["line"] for x in lines] == [str(i) for i in range(501, 3001)]
        assert [x["stream"] for x in lines] == ["file"] * 1500 + ["stdout"] * 1000
        recent = daemon.ctl("logs", "counter", "-n", "2", "--json")
        assert [json.loads(x)["stream"] for x in recent.stdout.splitlines()] == ["stdout"] * 2

        counter.rename(logs / "counter.log.1")
        reopened = daemon.ctl("reopen-logs")
        assert (reopened.returncode, reopened.stdout) == (0, "reopened 2 log files\n")
        go.touch()
        wait_for(lambda: counter.exists() and counter.read_text() == "after\n", what="after")
        assert (logs / "counter.log.1").read_text().splitlines()[-1] == "3000"
    # the lines of a service with a file are not in the supervisor's log
    assert not daemon.find(event="output", service="counter")
