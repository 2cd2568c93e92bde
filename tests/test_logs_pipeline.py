"""The output pipeline: any bytes, cut anywhere, interleaved, give the same lines everywhere.

The reference for what a line is stays :class:`LineSplitter` (tests/test_robust_output.py
checks it against the raw bytes); here every consumer of the pipeline (listeners, the
ring buffer, the echo, the log file) is checked against it.
"""

from __future__ import annotations

import io
import json
import tempfile
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.logging import configure
from supervisor.logs import (
    ConsoleEcho,
    JsonEcho,
    LineSplitter,
    OutputBuffer,
    OutputPipeline,
    Rotation,
    echo_for,
    lines_of,
)
from supervisor.logs.echo import StructlogEcho
from supervisor.logs.files import LogFile
from supervisor.logs.pipeline import stamp

# Output as programs write it: text, newlines, CR, NUL, invalid and cut UTF-8, long runs.
pieces = st.sampled_from(
    [b"\n", b"\r\n", b"\r", b"\x00", b"\xff", b"\xc3", b"\xa9", "é€😀".encode(), b"ab", b" "]
)
outputs = st.lists(pieces | st.binary(max_size=12) | st.just(b"x" * 50), max_size=40).map(b"".join)


def reference(data: bytes, limit: int) -> list[str]:
    """The lines a LineSplitter emits for ``data`` then end of stream."""
    lines: list[str] = []
    splitter = LineSplitter("", lambda _stream, line: lines.append(line), limit)
    splitter.feed(data)
    splitter.flush()
    return lines


def cut(data: bytes, offsets: list[int]) -> list[bytes]:
    points = sorted({o % (len(data) + 1) for o in offsets})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


class Collect:
    """An echo that records what it is asked to show."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def write(self, service: str, stream: str, lines: list[str], when: float) -> None:
        self.lines.extend((stream, line) for line in lines)


@settings(max_examples=80, deadline=None)
@given(
    outputs,
    outputs,
    st.lists(st.integers(0, 10**6), max_size=8),
    st.lists(st.booleans(), max_size=20),
    st.integers(1, 40),
)
def test_every_consumer_sees_the_reference_lines_whatever_the_chunks(
    out: bytes, err: bytes, offsets: list[int], order: list[bool], limit: int
) -> None:
    """Two streams cut anywhere and interleaved: per stream, the listeners, the buffer and
    the echo get the reference lines in order (none lost, duplicated or reordered), and
    each stream's file holds its bytes exactly (plus a newline ending a last line)."""
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "stdout": LogFile(f"{tmp}/out.log", Rotation(max_size=0)),
            "stderr": LogFile(f"{tmp}/err.log", Rotation(max_size=0)),
        }
        heard: list[tuple[str, str]] = []
        echo = Collect()
        buffer = OutputBuffer(10_000, limit=limit)
        pipeline = OutputPipeline("svc", buffer=buffer, files=files, echo=echo, limit=limit)
        pipeline.listeners.append(lambda stream, line: heard.append((stream, line)))
        queues = {"stdout": cut(out, offsets), "stderr": cut(err, offsets[::-1])}
        turns = iter(order)
        while queues["stdout"] or queues["stderr"]:
            stream = "stdout" if next(turns, True) else "stderr"
            if not queues[stream]:
                stream = "stderr" if stream == "stdout" else "stdout"
            pipeline.feed(stream, queues[stream].pop(0))
        pipeline.end("stdout")
        pipeline.end("stderr")
        for file in files.values():
            file.close()
        for stream, data in (("stdout", out), ("stderr", err)):
            expected = reference(data, limit)
            assert [line for s, line in heard if s == stream] == expected
            assert [line for s, line in echo.lines if s == stream] == expected
            assert [line for s, line, _ in buffer.tail() if s == stream] == expected
            on_disk = Path(tmp, "out.log" if stream == "stdout" else "err.log").read_bytes()
            assert on_disk == (data if not data or data.endswith(b"\n") else data + b"\n")


@settings(max_examples=120, deadline=None)
@given(outputs, st.integers(1, 40))
def test_lines_of_a_block_are_the_reference_lines(data: bytes, limit: int) -> None:
    block = data[: data.rfind(b"\n") + 1]
    assert lines_of(block, limit) == reference(block, limit)


def test_a_line_past_the_limit_is_held_bounded_and_written_whole_to_the_file(
    tmp_path: Path,
) -> None:
    """10 MB with no newline: the file gets all of it, the buffer a cut, marked line,
    and memory stays about one chunk (nothing holds the line)."""
    file = LogFile(str(tmp_path / "svc.log"), Rotation(max_size=0))
    buffer = OutputBuffer(100, limit=1000)
    pipeline = OutputPipeline("svc", buffer=buffer, files={"stdout": file}, limit=1000)
    chunk = b"y" * 65536
    tracemalloc.start()
    try:
        for _ in range(160):
            pipeline.feed("stdout", chunk)
        pipeline.feed("stdout", b"\nnext\n")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    file.close()
    assert peak < 512 * 1024
    assert [line for _s, line, _t in buffer.tail()] == [
        "y" * 1000 + " …[truncated at 1000 bytes]",
        "next",
    ]
    assert (tmp_path / "svc.log").read_bytes() == b"y" * (65536 * 160) + b"\nnext\n"


def test_the_buffer_keeps_the_last_lines_within_its_bounds() -> None:
    buffer = OutputBuffer(5, max_bytes=1 << 20)
    for start in range(0, 100, 10):
        block = b"".join(b"%d\n" % i for i in range(start, start + 10))
        buffer.add("stdout", block, float(start))
    assert [line for _s, line, _t in buffer.tail()] == ["95", "96", "97", "98", "99"]
    assert [line for _s, line, _t in buffer.tail(2)] == ["98", "99"]
    assert buffer.tail(0) == []
    assert len(buffer) == 5
    # memory is bounded by max_bytes, not by the number of blocks added
    small = OutputBuffer(1_000_000, max_bytes=4096)
    for _ in range(10_000):
        small.add("stdout", b"z" * 1000 + b"\n", 0.0)
    assert small._bytes <= 4096 + 1001
    assert len(small.tail()) == 5


@dataclass
class Followers:
    """A follower of a buffer's output, for the tests (the runtime's is its OutputFeed)."""

    has_subscribers: Callable[[], bool]
    publish_lines: Callable[[str, list[str], float], None]


def test_a_big_block_keeps_only_its_last_lines_and_followers_get_all() -> None:
    buffer = OutputBuffer(5)
    published: list[str] = []
    buffer.followers = Followers(lambda: True, lambda _s, lines, _t: published.extend(lines))
    buffer.add("stdout", b"old\n", 0.0)
    big = b"".join(b"%d\n" % i for i in range(20_000))  # over SMALL_BLOCK
    buffer.add("stdout", big, 1.0)
    assert published == ["old", *map(str, range(20_000))]
    assert [line for _s, line, _t in buffer.tail()] == ["19995", "19996", "19997", "19998", "19999"]
    assert buffer._bytes <= 4096  # the rest of the block is not kept
    # longer lines than the last block's: the end looked at holds too few, all are counted
    longer = b"".join(b"%d %s\n" % (i, b"w" * 5000) for i in range(8))
    buffer.add("stdout", longer, 2.0)
    assert [line[:2] for _s, line, _t in buffer.tail()] == ["3 ", "4 ", "5 ", "6 ", "7 "]
    few = OutputBuffer(50_000)
    few.add("stderr", big, 1.0)
    assert len(few.tail()) == 20_000


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 3000), min_size=1, max_size=60), min_size=1, max_size=6),
    st.integers(0, 80),
)
def test_the_buffer_tail_is_the_last_lines_whatever_the_block_sizes(
    blocks: list[list[int]], maxlen: int
) -> None:
    """Blocks big and small, lines long and short: the buffer gives the last lines."""
    buffer = OutputBuffer(maxlen, limit=10_000, max_bytes=1 << 30)
    written: list[str] = []
    for block in blocks:
        lines = [f"{len(written) + i} {'x' * width}" for i, width in enumerate(block)]
        written.extend(lines)
        buffer.add("stdout", "".join(line + "\n" for line in lines).encode(), 0.0)
    expected = written[-maxlen:] if maxlen else []
    assert [line for _s, line, _t in buffer.tail()] == expected
    assert len(buffer) == len(expected)


def test_followers_get_lines_only_while_there_are_some() -> None:
    buffer = OutputBuffer(10)
    published: list[tuple[str, list[str]]] = []
    following = [False]
    buffer.followers = Followers(
        lambda: following[0], lambda s, lines, _t: published.append((s, lines))
    )
    buffer.add("stdout", b"a\nb\n", 1.0)
    following[0] = True
    buffer.add("stderr", b"c\n", 2.0)
    buffer.add_line("stdout", "d", 3.0)
    assert published == [("stderr", ["c"]), ("stdout", ["d"])]
    assert [(s, line) for s, line, _t in buffer.tail()] == [
        ("stdout", "a"),
        ("stdout", "b"),
        ("stderr", "c"),
        ("stdout", "d"),
    ]


def test_timestamps_start_every_line_in_the_file(tmp_path: Path) -> None:
    file = LogFile(str(tmp_path / "svc.log"), Rotation(max_size=0))
    pipeline = OutputPipeline(
        "svc", files={"stdout": file}, timestamps=True, clock=lambda: 1764098835.731
    )
    pipeline.feed("stdout", b"one\ntwo\nthr")
    pipeline.feed("stdout", b"ee\n")
    file.close()
    prefix = "2025-11-25T19:27:15.731Z "
    assert stamp(1764098835.731).decode() == prefix
    assert (tmp_path / "svc.log").read_text() == f"{prefix}one\n{prefix}two\n{prefix}three\n"


def test_json_echo_renders_what_structlog_renders() -> None:
    """The fast JSON echo writes, for each line, the object the structlog JSON renderer
    wrote for an ``output`` event (same keys, same order), the timestamp aside."""
    lines = ["plain", 'quote " and \\ backslash', "tab\tand\x00nul", "é€😀", ""]
    slow, fast = io.StringIO(), io.StringIO()
    try:
        configure("json", "info", stream=slow)
        log = structlog.get_logger("supervisor").bind(service="api")
        StructlogEcho(log).write("api", "stderr", lines, 0.0)
        configure("json", "info", stream=fast)
        echo = echo_for(log)
        assert isinstance(echo, JsonEcho)
        echo.write("api", "stderr", lines, 1764098835.731)
    finally:
        structlog.reset_defaults()
    slow_objects = [json.loads(text) for text in slow.getvalue().splitlines()]
    fast_objects = [json.loads(text) for text in fast.getvalue().splitlines()]
    for mine, theirs in zip(fast_objects, slow_objects, strict=True):
        assert list(mine) == list(theirs)
        assert mine.pop("timestamp") == "2025-11-25T19:27:15.731000Z"
        theirs.pop("timestamp")
        assert mine == theirs
    assert [o["line"] for o in fast_objects] == lines


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=8), st.text(min_size=1, max_size=5))
def test_json_echo_gives_one_object_per_line_whatever_the_text(
    lines: list[str], service: str
) -> None:
    """Quotes, backslashes, '", "' itself, newlines, any Unicode: one object per line."""
    out = io.StringIO()
    JsonEcho(out).write(service, "stdout", lines, 0.0)
    objects = [json.loads(text) for text in out.getvalue().split("\n")[:-1]]
    assert [o["line"] for o in objects] == lines
    assert {o["service"] for o in objects} == {service}


def test_console_echo_and_a_reconfigured_structlog() -> None:
    out = io.StringIO()
    try:
        configure("console", "info", stream=out, names=["api", "worker"])
        echo = echo_for(structlog.get_logger("supervisor"))
        assert isinstance(echo, ConsoleEcho)
        echo.write("api", "stdout", ["one", "two"], 0.0)
        assert out.getvalue() == "api    | one\napi    | two\n"
        # someone else configures structlog: output goes through their processors again
        structlog.configure(processors=[structlog.processors.JSONRenderer()])
        assert isinstance(echo_for(structlog.get_logger()), StructlogEcho)
        configure("console", "warning", stream=out)
        before = out.getvalue()
        echo_for(structlog.get_logger("supervisor")).write("api", "stdout", ["hidden"], 0.0)
        assert out.getvalue() == before  # output is logged at info: below warning
    finally:
        structlog.reset_defaults()
