"""The dotenv parser: the syntax docs/config.md promises, positioned errors, never a crash."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.config.dotenv import NAME_RE, parse_dotenv


def values(text: str) -> dict[str, str]:
    found, errors = parse_dotenv(text, "t.env")
    assert errors == []
    return found


def errors(text: str) -> list[str]:
    return [str(error) for error in parse_dotenv(text, "t.env")[1]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1\n", {"A": "1"}),
        ("A=1", {"A": "1"}),  # no final newline
        ("# comment\n\n   \n  # indented comment\nA=1\n", {"A": "1"}),
        ("export A=1\n", {"A": "1"}),
        ("export   A = 1\n", {"A": "1"}),
        ("export=1\n", {"export": "1"}),  # a variable named export
        ("  A  =  spaced value  \n", {"A": "spaced value"}),
        ("A=\n", {"A": ""}),
        ("A=   \n", {"A": ""}),
        ("A=''\nB=\"\"\n", {"A": "", "B": ""}),
        ("A=value # comment\n", {"A": "value"}),
        ("A=value\t# comment\n", {"A": "value"}),
        ("A=a#b\n", {"A": "a#b"}),
        ("A=#\n", {"A": "#"}),
        ("A=it's\n", {"A": "it's"}),
        ("A='$HOME \\n \"x\"'\n", {"A": '$HOME \\n "x"'}),
        ('A="a\\nb\\tc\\r\\"d\\"\\\\e"\n', {"A": 'a\nb\tc\r"d"\\e'}),
        ('A="\\x \\$ \\q"\n', {"A": "\\x \\$ \\q"}),  # other escapes kept as written
        ('A="x # not a comment"\n', {"A": "x # not a comment"}),
        ('A="x"   # a comment\n', {"A": "x"}),
        ("A='multi\nline'\nB=2\n", {"A": "multi\nline", "B": "2"}),
        ('A="multi\nline"\n', {"A": "multi\nline"}),
        ("A=$HOME/${USER}\n", {"A": "$HOME/${USER}"}),  # never interpolated
        ("A=1\nA=2\n", {"A": "2"}),  # the last one wins, as in a shell
        ("\ufeffA=1\r\nB=2\r\n", {"A": "1", "B": "2"}),  # BOM, Windows line ends
        ("A=é ünïcode ✓\n", {"A": "é ünïcode ✓"}),
        ("A=x=y\n", {"A": "x=y"}),
        ("_a9=1\n", {"_a9": "1"}),
    ],
)
def test_what_a_line_means(text: str, expected: dict[str, str]) -> None:
    assert values(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1\nnot an assignment\n", "t.env:2:5: expected '=' after not, got 'a'"),
        ("A\n", "t.env:1:2: expected '=' after A, got the end of the line"),
        ("export A\n", "t.env:1:9: expected '=' after A, got the end of the line"),
        (
            "1A=x\n",
            "t.env:1:1: expected a variable name (letters, digits and _, not first a digit)",
        ),
        ("A-B=x\n", "t.env:1:2: expected '=' after A, got '-'"),
        ("=x\n", "t.env:1:1: expected a variable name (letters, digits and _, not first a digit)"),
        ("A=1\nB='open\nC=2\n", "t.env:2:3: unterminated single-quoted value"),
        ('\n\n  B="open\n', "t.env:3:5: unterminated double-quoted value"),
        ("A='x'y\n", "t.env:1:6: unexpected text after the closing quote (quote the whole value)"),
        (
            "A='a\\'b'\n",
            "t.env:1:7: unexpected text after the closing quote (quote the whole value)",
        ),
        ("A=a\0b\n", "t.env:1:3: A: a NUL character cannot be in an environment value"),
    ],
)
def test_a_bad_line_is_an_error_at_its_line_and_column(text: str, expected: str) -> None:
    assert errors(text) == [expected]


def test_every_bad_line_is_reported_and_the_good_ones_still_read() -> None:
    found, problems = parse_dotenv("A=1\nbad\nB=2\nworse line\nC='x'\n", "t.env")
    assert found == {"A": "1", "B": "2", "C": "x"}
    assert [(e.line, e.column) for e in problems] == [(2, 4), (4, 7)]


def test_an_error_after_a_multiline_value_has_the_right_line() -> None:
    assert errors('A="one\ntwo\nthree"\nbroken\n') == [
        "t.env:4:7: expected '=' after broken, got the end of the line"
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("AB_=#'\"\\ \t\n\r\0$x{}é\ufeff"), max_size=60))
def test_any_text_gives_values_or_positioned_errors_never_a_crash(text: str) -> None:
    found, problems = parse_dotenv(text, "f.env")
    lines = text.count("\n") + 1
    for name, value in found.items():
        assert NAME_RE.fullmatch(name) and "\0" not in value
    for problem in problems:
        assert problem.file == "f.env"
        assert 1 <= problem.line <= lines and problem.column >= 1
        assert problem.message


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=40))
def test_any_unicode_text_never_crashes(text: str) -> None:
    parse_dotenv(text, "f.env")


def _double_quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\r", "\\r").replace("\t", "\\t") + '"'


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.builds(str.__add__, st.sampled_from("AZ_x"), st.text("AZ_x09", max_size=6)),
        st.text(st.characters(exclude_characters="\0"), max_size=30),
        max_size=8,
    )
)
def test_double_quoted_values_round_trip(variables: dict[str, str]) -> None:
    text = "".join(f"{name}={_double_quoted(value)}\n" for name, value in variables.items())
    assert values(text) == variables


def test_the_example_in_the_docs_means_what_it_says() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "config.md").read_text()
    section = doc[doc.index("## Environment files") :]
    example = re.search(r"```sh\n(.*?)```", section, re.S)
    assert example is not None
    assert values(example.group(1)) == {
        "PLAIN": "value with spaces",
        "EXPORTED": "1",
        "EMPTY": "",
        "HASH": "a#b",
        "SINGLE": "kept $AS \\n written",
        "DOUBLE": "line one\nline two",
        "MULTI": "first line\nsecond line",
    }
