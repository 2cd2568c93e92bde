"""The base class of every config model: unknown keys are errors, instances are immutable.

A typo in the service file is then an error rather than a silently ignored setting.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, instances are immutable."""

    # Deferred: a model's validator is built at its first use, not when its module is
    # imported. Loading a file then builds the file's model (with every model inside it in
    # the same pass) instead of each model apart first: ~45 ms of the daemon's cold start.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
