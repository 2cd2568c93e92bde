"""YAML syntax errors in the same words with libyaml and without it.

PyYAML knows two places for most syntax errors: where the parser gave up (the problem)
and where the construct it was reading began (the context). Like a compiler, the error
is reported at the first and names the second when it explains it: an unclosed ``[`` is
noticed where the file ends, but it was opened much earlier.
"""

from __future__ import annotations

import re

import yaml

from supervisor.config.errors import ErrorRecord

_OPENERS = (
    ("flow sequence", "the sequence opened"),
    ("flow mapping", "the mapping opened"),
    ("quoted scalar", "the quoted string opened"),
)
"""(words in PyYAML's context, what the note calls the construct)."""

_FLOW_PROBLEM = re.compile(r"expected ',' or '([\]}])'")


def syntax_error(exc: yaml.MarkedYAMLError, text: str, *, max_depth: int) -> ErrorRecord:
    """The record of a PyYAML syntax error in ``text``, with where the construct opened."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = _problem(exc, text, max_depth)
    note = _opened(exc.context or "")
    context = exc.context_mark
    if not note or context is None or mark is None or context.index == mark.index:
        return ErrorRecord(line, column, "", f"invalid YAML: {problem}")
    return ErrorRecord(
        line,
        column,
        "",
        f"invalid YAML: {problem}",
        context=note,
        context_line=context.line + 1,
        context_column=context.column + 1,
    )


def _opened(context: str) -> str:
    return next((note for words, note in _OPENERS if words in context), "")


def _problem(exc: yaml.MarkedYAMLError, text: str, max_depth: int) -> str:
    problem = (exc.problem or "").strip()
    mark = exc.problem_mark
    if "nesting depth" in problem or "nested deeper" in problem:
        return f"nested deeper than {max_depth} levels"
    if mark is None:
        return problem or "cannot parse"
    if "cannot start any token" in problem:
        lines = text.splitlines()
        if mark.line < len(lines) and lines[mark.line][mark.column : mark.column + 1] == "\t":
            return "a tab character: YAML is indented with spaces, not tabs"
    flow = _FLOW_PROBLEM.search(problem)
    if flow:  # libyaml: "did not find expected ...", PyYAML: "expected ..., but got ..."
        return f"expected ',' or '{flow.group(1)}', found {_found(text, mark.index)}"
    if "node content" in problem:  # `[a,` or `{a: ` and then nothing
        return f"expected a value, found {_found(text, mark.index)}"
    if "quoted scalar" in (exc.context or "") and "end of stream" in problem:
        return "the file ended before the closing quote"
    return problem or "cannot parse"


def _found(text: str, index: int) -> str:
    return "the end of the file" if index >= len(text) else repr(text[index])
