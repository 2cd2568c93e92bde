"""``file``: the probe passes when a path exists."""

from __future__ import annotations

import os

import anyio

from supervisor.probes._base import Checker, ProbeFailed


class FileChecker(Checker):
    """Pass when ``path`` exists; a relative path is taken from the service's ``cwd``."""

    kind = "file"

    def __init__(self, path: str, cwd: str | None = None) -> None:
        super().__init__()
        expanded = os.path.expanduser(path)
        self.path = os.path.join(cwd, expanded) if cwd else expanded

    @property
    def description(self) -> str:
        """``file path``."""
        return f"file {self.path}"

    async def check(self) -> None:
        """One ``stat``, in a worker thread (a hung network mount must not stall the loop)."""
        if not await anyio.Path(self.path).exists():
            raise ProbeFailed(f"{self.path} does not exist")
