"""Service output: any bytes, cut anywhere, become the same bounded lines."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.concurrency import fail_after
from supervisor.services._child import Child
from supervisor.services._io import ChildIO, LineSplitter


def split(chunks: list[bytes], limit: int) -> list[tuple[str, str]]:
    """What a splitter emits for ``chunks``, then end of stream."""
    lines: list[tuple[str, str]] = []
    splitter = LineSplitter("stdout", lambda stream, line: lines.append((stream, line)), limit)
    for chunk in chunks:
        splitter.feed(chunk)
    splitter.flush()
    return lines


def texts(chunks: list[bytes], limit: int) -> list[str]:
    return [line for _stream, line in split(chunks, limit)]


def marker(limit: int) -> str:
    return f" …[truncated at {limit} bytes]"


def cut(data: bytes, offsets: list[int]) -> list[bytes]:
    points = sorted({o % (len(data) + 1) for o in offsets})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


# Output as programs write it: text, newlines, CR, NUL, invalid and cut UTF-8.
pieces = st.sampled_from(
    [b"\n", b"\r\n", b"\r", b"\x00", b"\xff", b"\xc3", b"\xa9", "é€😀".encode(), b"ab", b" "]
)
outputs = st.lists(pieces | st.binary(max_size=12), max_size=40).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(outputs, st.lists(st.integers(0, 10**6), max_size=8), st.integers(1, 40))
def test_any_chunking_gives_the_same_lines(data: bytes, offsets: list[int], limit: int) -> None:
    assert texts(cut(data, offsets), limit) == texts([data], limit)
    assert texts([data[i : i + 1] for i in range(len(data))], limit) == texts([data], limit)


@settings(max_examples=300, deadline=None)
@given(outputs, st.integers(1, 40))
def test_lines_are_bounded_and_marked_when_cut(data: bytes, limit: int) -> None:
    raw_lines = data.split(b"\n")
    if not raw_lines[-1]:
        raw_lines.pop()  # the output ended with a newline: no last partial line
    lines = texts([data], limit)
    assert len(lines) == len(raw_lines)
    for line, raw in zip(lines, raw_lines, strict=True):
        assert "\n" not in line
        if len(raw.removesuffix(b"\r")) > limit:  # the CR of a CRLF does not count
            assert line.endswith(marker(limit))
            assert len(line.removesuffix(marker(limit)).encode()) <= limit * 3  # U+FFFD: 3 bytes
        else:
            assert line == raw.decode("utf-8", "replace").rstrip("\r")


def test_crlf_cr_nul_and_invalid_utf8() -> None:
    assert texts([b"a\r\nb\r\n"], 100) == ["a", "b"]  # CRLF: the CR goes
    assert texts([b"10%\r50%\r100%\n"], 100) == ["10%\r50%\r100%"]  # CR alone ends no line
    assert texts([b"nul\x00inside\n"], 100) == ["nul\x00inside"]
    assert texts([b"bad \xff\xfe utf8\n"], 100) == ["bad \ufffd\ufffd utf8"]
    assert texts([b"no newline at the end"], 100) == ["no newline at the end"]
    assert texts([b"\n\n"], 100) == ["", ""]  # empty lines are lines
    assert texts([b""], 100) == []


def test_a_cut_never_splits_a_character() -> None:
    euro = "€".encode()  # 3 bytes
    assert texts([euro * 3 + b"\n"], 7) == ["€€" + marker(7)]
    assert texts([b"x" + euro, b"yz\n"], 2) == ["x" + marker(2)]


def test_a_line_of_exactly_the_limit_is_whole() -> None:
    assert texts([b"x" * 10 + b"\n"], 10) == ["x" * 10]
    assert texts([b"x" * 10 + b"\r\n"], 10) == ["x" * 10]  # the CR of CRLF does not count
    assert texts([b"x" * 11 + b"\n"], 10) == ["x" * 10 + marker(10)]


@pytest.mark.anyio
async def test_a_100_mb_line_through_a_pipe_keeps_memory_bounded() -> None:
    """A child writes 100 MB of NULs with no newline, then a line: the first line is
    cut at the limit and marked, the rest of it dropped while reading, never held."""
    limit = 64 * 1024
    lines: list[tuple[str, str]] = []
    script = "head -c 100000000 /dev/zero; echo; echo after"
    child = Child.spawn(["sh", "-c", script], env=None, cwd=None)
    io = ChildIO(child, lambda stream, line: lines.append((stream, line)), limit)
    tracemalloc.start()
    try:
        with fail_after(30):
            await io.run(lambda: io.drained and child.exited)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        io.close()
    assert child.returncode == 0
    assert lines == [("stdout", "\x00" * limit + marker(limit)), ("stdout", "after")]
    assert peak < 2 * 1024 * 1024  # the limit plus a read or two, not 100 MB
