"""Fuzzing the control socket: whatever a client sends, each line gets one well-formed
answer, nothing is logged as an error, and the server goes on serving (asyncio and trio).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor.concurrency import fail_after
from supervisor.control.protocol import COMMANDS, MAX_DEPTH, MAX_LINE
from tests.control_helpers import (
    FakeController,
    RecordingLogger,
    exchange,
    hang_up,
    serving,
    strict_json,
)

pytestmark = pytest.mark.anyio
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Harness:
    """A server on a fake controller, with what it logged and what the event loop reported."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.ctl = FakeController()
        self.log = RecordingLogger()
        self.loop_errors: list[dict[str, Any]] = []

    async def still_serves(self) -> None:
        """A new client gets its status: the server survived, and logged no error."""
        assert await exchange(self.path, b'{"cmd":"status","id":"next"}\n') == [
            {"ok": True, "id": "next", **self.ctl.status()}
        ]
        assert self.log.errors() == []
        assert self.loop_errors == []


@asynccontextmanager
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(str(tmp_path / "c.sock"))
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # trio: an error would be raised, not reported to a handler
        loop = None
    if loop is not None:
        loop.set_exception_handler(lambda _loop, context: h.loop_errors.append(context))
    try:
        with fail_after(30):
            async with serving(h.path, h.ctl, h.log):
                yield h
                await h.still_serves()
    finally:
        if loop is not None:
            loop.set_exception_handler(None)


# -- what a line is made of ---------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
FIELDS = ("cmd", "id", "names", "name", "service", "lines", "follow")
requests = st.fixed_dictionaries(
    {},
    optional={
        "cmd": st.sampled_from(COMMANDS) | json_values,
        "id": json_values,
        "names": st.lists(st.text(max_size=5), max_size=3) | json_values,
        "name": st.text(max_size=5) | json_values,
        "service": st.text(max_size=5) | json_values,
        "lines": st.integers(-2, 10**30) | json_values,
        "follow": st.booleans() | json_values,
    },
)


def streams(request: Any) -> bool:
    """A request that starts a stream (answered, then never closed by the server)."""
    return isinstance(request, dict) and (
        request.get("cmd") == "events"
        or (request.get("cmd") == "logs" and request.get("follow") is True)
    )


def echoes(request: Any) -> bool:
    """Whether the answer must carry the request's id."""
    if not isinstance(request, dict) or "id" not in request:
        return False
    value = request["id"]
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def check(answer: dict[str, Any], request: Any) -> None:
    """One answer is well formed: ``ok`` and, when not ok, an error; the id echoed."""
    assert isinstance(answer["ok"], bool)
    if not answer["ok"]:
        assert isinstance(answer["error"], str) and answer["error"]
    else:
        assert isinstance(request, dict) and request.get("cmd") in COMMANDS
    if echoes(request):
        assert answer["id"] == request["id"]
    else:
        assert "id" not in answer


def chunked(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    """``data`` cut at the given offsets."""
    start = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}):
        yield data[start:cut]
        start = cut
    yield data[start:]


# -- properties ---------------------------------------------------------------------------


@FUZZ
@given(
    messages=st.lists(requests | json_values, min_size=1, max_size=6),
    cuts=st.lists(st.integers(0, 10**6), max_size=4),
)
async def test_any_json_gets_one_answer_per_line(
    tmp_path: Path, messages: list[Any], cuts: list[int]
) -> None:
    messages = [m for m in messages if not streams(m)]
    try:
        data = b"".join(json.dumps(m).encode() + b"\n" for m in messages)
    except ValueError:  # an integer json cannot print; covered by the byte-level tests
        return
    async with harness(tmp_path) as h:
        answers = await exchange(h.path, *chunked(data, cuts))
        assert len(answers) == len(messages)
        for answer, message in zip(answers, messages, strict=True):
            check(answer, message)


lines = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")) | st.sampled_from(
    [
        b'{"cmd":"status"}',
        b'{"cmd":"status"}\r',
        b'{"cmd":"stop","names":["db"],"id":3}',
        b"\xff\xfe{\x00",
        b'{"cmd":"st\xc3\x28"}',
        b"\x00",
        b"\r",
        b"   ",
        b'{"cmd":NaN}',
        b"[" * 50,
    ]
)


@FUZZ
@given(
    raw=st.lists(lines, min_size=1, max_size=8),
    last_newline=st.booleans(),
    cuts=st.lists(st.integers(0, 10**6), max_size=6),
)
async def test_any_bytes_get_one_answer_per_line(
    tmp_path: Path, raw: list[bytes], last_newline: bool, cuts: list[int]
) -> None:
    data = b"\n".join(raw) + (b"\n" if last_newline else b"")
    # Blank lines are skipped; a last line without a newline is answered at end of stream.
    expected = [line for line in raw if line.strip()]
    async with harness(tmp_path) as h:
        answers = await exchange(h.path, *chunked(data, cuts))
        assert len(answers) == len(expected)
        for answer, line in zip(answers, expected, strict=True):
            try:
                request = strict_json(line)
            except ValueError:
                request = None
            check(answer, request)


@FUZZ
@given(
    field=st.sampled_from(FIELDS),
    value=json_values,
    cmd=st.sampled_from(COMMANDS),
)
async def test_a_field_of_any_type_is_an_answer_not_a_crash(
    tmp_path: Path, field: str, value: Any, cmd: str
) -> None:
    request: dict[str, Any] = {"cmd": cmd, "id": 1, "names": ["db"], field: value}
    if streams(request):
        return
    async with harness(tmp_path) as h:
        [answer] = await exchange(h.path, json.dumps(request).encode() + b"\n")
        check(answer, request)


# -- the boundary, case by case -----------------------------------------------------------


async def test_hostile_lines_each_get_an_error_and_the_connection_goes_on(
    tmp_path: Path,
) -> None:
    deep = b'{"cmd":"status","id":"deep","x":' + b"[" * (MAX_DEPTH + 5) + b"]" * (MAX_DEPTH + 5)
    hostile = [
        (b"[" * 100_000, "nested too deeply"),  # used to raise RecursionError: daemon exit 1
        (b'{"a":' * 100_000, "nested too deeply"),
        (deep + b"}", f"nested deeper than {MAX_DEPTH} levels"),
        (b'{"cmd":"status","id":NaN}', "NaN is not a JSON number"),
        (b'{"cmd":"status","id":-Infinity}', "-Infinity is not a JSON number"),
        (b'{"cmd":"status","id":1e999}', "number out of range"),
        (b'{"cmd":"status","id":' + b"9" * 5000 + b"}", "not JSON"),
        (b'{"cmd":"\xff\xfe"}', "not UTF-8"),
        ('{"cmd":"status"}'.encode("utf-16"), "not UTF-8"),
        (b'\xef\xbb\xbf{"cmd":"status"}', "not JSON"),
        (b'{"cmd":"' + b"x" * 100_000 + b'"}', "unknown command 'xxxx"),
        (b'{"cmd":"status","id":[1]}', '"id" must be a string, a number or null'),
        (b'{"cmd":"status","id":true}', '"id" must be a string, a number or null'),
        (b'{"cmd":"logs","lines":true,"id":2}', '"lines" must be a whole number >= 0'),
        (b'{"cmd":"logs","lines":100001,"id":2}', '"lines" must be at most 100000'),
        (b'{"cmd":"logs","follow":"yes","id":3}', '"follow" must be true or false'),
    ]
    async with harness(tmp_path) as h:
        data = b"".join(line + b"\n" for line, _ in hostile) + b'{"cmd":"status","id":9}\n'
        answers = await exchange(h.path, data)
        assert len(answers) == len(hostile) + 1
        for answer, (line, why) in zip(answers, hostile, strict=False):
            assert answer["ok"] is False and why in answer["error"], (line[:60], answer)
            assert len(answer["error"]) < 300  # a huge value is not copied into the error
        assert answers[-1] == {"ok": True, "id": 9, **h.ctl.status()}
        # The id is echoed wherever the line was a JSON object with a valid id.
        assert {i: a["id"] for i, a in enumerate(answers) if "id" in a} == {
            2: "deep",
            13: 2,
            14: 2,
            15: 3,
            16: 9,
        }


async def test_huge_valid_values_are_answered(tmp_path: Path) -> None:
    big = 10**4000
    async with harness(tmp_path) as h:
        answers = await exchange(
            h.path,
            # the most lines one request may ask for (more is refused: a bounded read)
            json.dumps({"cmd": "logs", "lines": 100_000, "id": big}).encode() + b"\n",
            json.dumps({"cmd": "stop", "names": ["é" * 100_000], "id": "x" * 100_000}).encode(),
        )
        assert answers[0] == {"ok": True, "lines": [{"service": "db", "line": "old"}], "id": big}
        assert answers[1]["ok"] is True and answers[1]["id"] == "x" * 100_000


async def test_a_line_over_max_line_is_refused_at_once_and_the_next_is_served(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h, await anyio.connect_unix(h.path) as stream:
        await stream.send(b"x" * (MAX_LINE + 1))  # no newline yet
        first = b""
        while not first.endswith(b"\n"):  # answered before the line is over
            first += await stream.receive()
        assert strict_json(first) == {
            "ok": False,
            "error": f"bad request: longer than {MAX_LINE} bytes",
        }
        for _ in range(8):  # the rest of the line (8 MiB more) is skipped, not buffered
            await stream.send(b"x" * MAX_LINE)
        fits = b'{"cmd":"status","id":1}'.ljust(MAX_LINE)  # exactly the limit: accepted
        await stream.send(b"\n" + fits + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            answer += await stream.receive()
        assert strict_json(answer) == {"ok": True, "id": 1, **h.ctl.status()}
        await hang_up(stream)


async def test_many_requests_on_one_connection_are_answered_in_order(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        data = b"".join(b'{"cmd":"status","id":%d}\n' % i for i in range(500))
        answers = await exchange(h.path, data)
        assert [a["id"] for a in answers] == list(range(500))


async def test_clients_vanishing_mid_line_and_mid_answers(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        async with await anyio.connect_unix(h.path) as stream:
            await stream.send(b'{"cmd":"sta')  # gone in the middle of a line
        async with await anyio.connect_unix(h.path) as stream:
            # 5000 requests, never reading an answer: the server's writes fail (EPIPE or
            # ECONNRESET) once the client is gone, and that is not an error.
            await stream.send(b'{"cmd":"status"}\n' * 5000)
        async with await anyio.connect_unix(h.path) as stream:
            await stream.send(b'{"cmd":"status"}\n')
            await stream.receive()
        await h.still_serves()


@pytest.mark.parametrize("request_line", [b'{"cmd":"logs","follow":true}', b'{"cmd":"events"}'])
async def test_a_follower_vanishing_mid_stream(tmp_path: Path, request_line: bytes) -> None:
    async with harness(tmp_path) as h:
        stream = await anyio.connect_unix(h.path)
        await stream.send(request_line + b"\n")
        await h.ctl.following.wait()
        received = b""
        while b"\n" not in received:
            received += await stream.receive()
        assert strict_json(received.split(b"\n")[0])["ok"] is True
        await stream.send(b'{"cmd":"status"}\n')  # ignored while streaming
        await stream.aclose()  # gone without a word
        for i in range(20):  # the server may be writing when it finds out
            await h.ctl.send.send({"service": "db", "line": f"after {i}"})
            if h.ctl.unfollowed.is_set():
                break
        await h.ctl.unfollowed.wait()  # it noticed and let go of the feed
        await h.still_serves()


class BrokenFeed(FakeController):
    """A controller whose event feed fails after one event (a bug on the daemon's side)."""

    @asynccontextmanager
    async def events(self) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        async def feed() -> AsyncIterator[dict[str, Any]]:
            yield {"event": 1}
            raise RuntimeError("feed broke")

        yield feed()


async def test_a_feed_that_breaks_ends_its_stream_not_the_server(tmp_path: Path) -> None:
    path, log = str(tmp_path / "c.sock"), RecordingLogger()
    with fail_after(10):
        async with serving(path, BrokenFeed(), log):
            answers = await exchange(path, b'{"cmd":"events","id":"e"}\n')
            assert answers == [{"ok": True, "id": "e"}, {"event": 1}]  # then closed
            assert [r[1] for r in log.errors()] == ["control stream failed"]
            assert (await exchange(path, b'{"cmd":"status"}\n'))[0]["ok"] is True
