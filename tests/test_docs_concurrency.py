"""Every example of docs/concurrency.md runs on both backends and prints what the page says;
the migration section lists every name of lionherd-core's library, and each is ours."""

from __future__ import annotations

import re

import pytest

import supervisor.concurrency as concurrency
from tests.doc_examples import DOCS, Example, examples, run_example
from tests.test_concurrency_surface import SEED

EXAMPLES = examples("concurrency.md")


def test_the_guide_has_examples_for_every_pattern() -> None:
    code = "\n".join(example.code for example in EXAMPLES)
    for name in (
        "start_soon",
        "start(",
        "create_task(",
        "return_handle=True",
        "fail_after",
        "move_on_after",
        "effective_deadline",
        "non_cancel_subgroup",
        "shield",
        "gather",
        "race",
        "bounded_map",
        "retry",
        "CompletionStream",
        "create_memory_channel",
        "PriorityQueue",
        "Queue.with_maxsize",
        "run_sync",
        "run_async",
        "is_coro_func",
        "track_resource",
    ):
        assert name in code, name
    assert all(example.expected_output is not None for example in EXAMPLES)


def _migration_table() -> str:
    text = (DOCS / "concurrency.md").read_text(encoding="utf-8")
    section = text.split("## Migrating from lionherd-core", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `"))


def test_the_migration_section_lists_every_seed_name_and_each_is_importable() -> None:
    listed = {
        name
        for line in _migration_table().splitlines()
        for name in re.findall(r"`(\w+)`", line.split("|")[1])
    }
    assert listed == set(SEED)
    for name in listed:
        assert getattr(concurrency, name) is not None


@pytest.mark.anyio
@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
async def test_example_prints_what_the_guide_shows(example: Example) -> None:
    assert await run_example(example) == example.expected_output
