"""A parent that runs one ProcessService (``sleep 1000`` or fork_grandchild.py) and then
blocks; it prints ``child <pid>`` once the service is started. The PDEATHSIG-style test
SIGKILLs this parent and checks that the service does not live on.

Usage: run_service.py BACKEND [grandchild]
"""

import sys
from pathlib import Path

import anyio

from supervisor.config.models import ServiceConfig
from supervisor.services.context import ServiceContext
from supervisor.services.process import ProcessService


async def main() -> None:
    if len(sys.argv) > 2 and sys.argv[2] == "grandchild":
        command = [sys.executable, str(Path(__file__).with_name("fork_grandchild.py"))]
    else:
        command = ["sleep", "1000"]
    config = ServiceConfig.model_validate({"command": command, "stop": {"timeout": 0.5}})
    service = ProcessService("victim", config)

    def output(stream: str, line: str) -> None:
        print(line, flush=True)

    ctx = ServiceContext("victim", on_output=output)
    async with anyio.create_task_group() as tg:
        info = await tg.start(service, ctx)
        print(f"child {info.pid}", flush=True)


anyio.run(main, backend=sys.argv[1])
