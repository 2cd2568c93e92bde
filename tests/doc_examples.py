"""Extract runnable examples from the docs, so the test suite keeps them true.

A fenced ```python block is an example unless its info string says ``skip``
(```python skip). A ```text block right after it is the output it must print.
Each example defines ``async def main()``; the tests run it on every backend.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent / "docs"

_FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\s*$", re.M | re.S)


@dataclass
class Example:
    """One runnable example of a doc page."""

    page: str
    line: int
    code: str
    expected_output: str | None

    @property
    def id(self) -> str:
        """A readable test id: page and line."""
        return f"{self.page}:{self.line}"


def examples(page: str) -> list[Example]:
    """Every runnable python example of ``docs/<page>``, with its expected output."""
    text = (DOCS / page).read_text(encoding="utf-8")
    found: list[Example] = []
    blocks = list(_FENCE.finditer(text))
    for index, block in enumerate(blocks):
        lang, info, body = block.group(1), block.group(2), block.group(3)
        if lang != "python" or "skip" in info.split():
            continue
        expected = None
        if index + 1 < len(blocks):
            following = blocks[index + 1]
            between = text[block.end() : following.start()]
            if following.group(1) == "text" and not between.strip():
                expected = following.group(3)
        line = text.count("\n", 0, block.start()) + 1
        found.append(Example(page, line, body, expected))
    return found


async def run_example(example: Example) -> str:
    """Execute the example, await its ``main()``, and return what it printed."""
    namespace: dict[str, Any] = {"__name__": f"docs_{example.page}_{example.line}"}
    code = compile(example.code, f"docs/{example.page}:{example.line}", "exec")
    exec(code, namespace)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        await namespace["main"]()
    return out.getvalue()
