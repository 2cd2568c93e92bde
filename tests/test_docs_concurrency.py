"""Every example of docs/concurrency.md runs on both backends and prints what the page says."""

from __future__ import annotations

import pytest

from tests.doc_examples import Example, examples, run_example

EXAMPLES = examples("concurrency.md")


def test_the_guide_has_examples_for_every_pattern() -> None:
    code = "\n".join(example.code for example in EXAMPLES)
    for name in (
        "start_soon",
        "start(",
        "fail_after",
        "move_on_after",
        "shield",
        "gather",
        "race",
        "bounded_map",
        "retry",
        "create_memory_channel",
    ):
        assert name in code, name
    assert all(example.expected_output is not None for example in EXAMPLES)


@pytest.mark.anyio
@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
async def test_example_prints_what_the_guide_shows(example: Example) -> None:
    assert await run_example(example) == example.expected_output
