"""Status rendering over long runs and strange clocks: never an exception."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from supervisor.cli.control_commands import format_duration

YEAR = 365 * 86400


def test_uptimes_beyond_a_year_render_in_days() -> None:
    assert format_duration(5) == "0:00:05"
    assert format_duration(YEAR + 3723) == "365 days, 1:02:03"
    assert format_duration(10 * YEAR) == "3650 days, 0:00:00"


def test_a_wall_clock_that_stepped_back_or_broke_renders_calmly() -> None:
    assert format_duration(-86_400.0) == "0:00:00"
    assert format_duration(math.inf) == "?"
    assert format_duration(math.nan) == "?"


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_span_renders(seconds: float) -> None:
    text = format_duration(seconds)
    assert isinstance(text, str) and text
