"""``depends_on``: what a service waits for, and whether it restarts with its dependency."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from supervisor.config.base import StrictModel

Condition = Literal["started", "ready", "completed"]
"""What a dependent waits for: the dependency started, became ready, or (a one-shot) completed."""


class Dependency(StrictModel):
    """The long form of one ``depends_on`` entry: ``{condition: ready, restart: false}``."""

    condition: Condition = Field("ready", description="started | ready | completed.")
    restart: bool = Field(
        True,
        description="Restart this service when the dependency restarts (it may hold what "
        "the dependency handed it); false keeps it running.",
    )


def _dependency_form(value: Any) -> str:
    return "Dependency" if isinstance(value, dict | Dependency) else "Condition"


DependencyEntry = Annotated[
    Annotated[Condition, Tag("Condition")] | Annotated[Dependency, Tag("Dependency")],
    Discriminator(_dependency_form),
]
"""A ``depends_on`` value: a condition, or the long form (the tags are union tags the
loader drops from error paths)."""
