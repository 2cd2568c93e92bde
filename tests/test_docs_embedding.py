"""docs/embedding.md: each example is a real program (asyncio.run / trio.run) run as is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.doc_examples import Example, examples

EXAMPLES = examples("embedding.md")
ROOT = Path(__file__).resolve().parent.parent


def test_the_guide_has_an_asyncio_and_a_trio_application() -> None:
    runners = [("asyncio.run(main())" in e.code, "trio.run(main)" in e.code) for e in EXAMPLES]
    assert (True, False) in runners and (False, True) in runners
    assert all(example.expected_output is not None for example in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_example_prints_what_the_guide_shows(example: Example) -> None:
    done = subprocess.run(
        [sys.executable, "-c", example.code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == example.expected_output
