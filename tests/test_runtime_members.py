"""The plain-attribute mirrors of the runtime's enums hold every member, and only them."""

from __future__ import annotations

from enum import Enum

import pytest

from supervisor.runtime.phase import Phase, Phases
from supervisor.runtime.state import ServiceState, States


@pytest.mark.parametrize(("enum", "mirror"), [(ServiceState, States), (Phase, Phases)])
def test_a_mirror_has_each_member_of_its_enum_under_its_name(
    enum: type[Enum], mirror: type
) -> None:
    mirrored = {name: value for name, value in vars(mirror).items() if name.isupper()}
    assert mirrored == dict(enum.__members__)
    assert all(mirrored[name] is member for name, member in enum.__members__.items())
