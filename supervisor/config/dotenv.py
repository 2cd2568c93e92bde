"""Read ``.env`` files: ``NAME=value`` lines, with every bad line reported at file:line:column.

The syntax (docs/config.md, "Environment files"):

- blank lines and lines whose first non-blank character is ``#`` are ignored;
- ``NAME=value`` or ``export NAME=value``; ``NAME`` is letters, digits and ``_``, not
  starting with a digit; spaces around the name and the ``=`` are allowed;
- an unquoted value runs to the end of the line, trimmed; a ``#`` after a space or tab
  starts a comment (``a#b`` keeps its ``#``); ``NAME=`` is the empty string;
- ``'single quotes'`` keep every character as written, newlines included;
- ``"double quotes"`` may span lines and understand ``\\n``, ``\\r``, ``\\t``, ``\\"``
  and ``\\\\``; any other backslash is kept as written;
- after a closing quote only spaces and a ``# comment`` may follow;
- ``$`` is an ordinary character everywhere: values are never interpolated;
- a name given twice takes its last value, as in a shell.

The parser is ours rather than python-dotenv's: that library's public API logs a warning
and skips a line it cannot parse, where a service file must fail with the position, and
it would cost the cold start of every ``supervisor`` command that reads a config.
"""

from __future__ import annotations

import os
import re

from supervisor.config.errors import ErrorRecord

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What a variable name may look like (those a ``${NAME}`` reference can name)."""

_EXPORT = re.compile(r"export[ \t]+")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class _Scanner:
    """Walks the text once; tracks line and column for errors."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.values: dict[str, str] = {}
        self.errors: list[ErrorRecord] = []

    @property
    def column(self) -> int:
        return self.pos - self.line_start + 1

    def error(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.errors.append(
            ErrorRecord(
                self.line if line is None else line,
                self.column if column is None else column,
                "",
                message,
                self.filename,
            )
        )

    def skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def next_line(self) -> None:
        """Move past the end of the current line (what is left of it is dropped)."""
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end + 1
        if end >= 0:
            self.line += 1
            self.line_start = self.pos

    def at_line_end(self) -> bool:
        return self.pos >= len(self.text) or self.text[self.pos] == "\n"

    def parse(self) -> None:
        while self.pos < len(self.text):
            self.skip_blanks()
            if self.at_line_end() or self.text[self.pos] == "#":
                self.next_line()
                continue
            self.assignment()

    def assignment(self) -> None:
        export = _EXPORT.match(self.text, self.pos)
        if export is not None and NAME_RE.match(self.text, export.end()):
            self.pos = export.end()  # `export NAME=...`, not a variable named `export`
        name = NAME_RE.match(self.text, self.pos)
        if name is None:
            self.error("expected a variable name (letters, digits and _, not first a digit)")
            self.next_line()
            return
        self.pos = name.end()
        self.skip_blanks()
        if self.at_line_end() or self.text[self.pos] != "=":
            found = "the end of the line" if self.at_line_end() else repr(self.text[self.pos])
            self.error(f"expected '=' after {name.group(0)}, got {found}")
            self.next_line()
            return
        self.pos += 1
        self.skip_blanks()
        line, column = self.line, self.column
        value = self.value()
        if value is None:
            return
        if "\0" in value:
            self.error(
                f"{name.group(0)}: a NUL character cannot be in an environment value", line, column
            )
        else:
            self.values[name.group(0)] = value

    def value(self) -> str | None:
        """The value at ``pos``; ``None`` after reporting an error (past that line)."""
        quote = self.text[self.pos] if self.pos < len(self.text) else ""
        if quote not in ("'", '"'):
            end = self.text.find("\n", self.pos)
            raw = self.text[self.pos : len(self.text) if end < 0 else end]
            comment = re.search(r"[ \t]#", raw)
            if comment is not None:
                raw = raw[: comment.start()]
            self.next_line()
            return raw.strip(" \t")
        line, column = self.line, self.column
        value = self.quoted(quote)
        if value is None:
            kind = "single" if quote == "'" else "double"
            self.error(f"unterminated {kind}-quoted value", line, column)
            self.pos = len(self.text)
            return None
        self.skip_blanks()
        if not self.at_line_end() and self.text[self.pos] != "#":
            self.error("unexpected text after the closing quote (quote the whole value)")
            self.next_line()
            return None
        self.next_line()
        return value

    def quoted(self, quote: str) -> str | None:
        """The text up to the closing ``quote`` (``pos`` is on the opening one)."""
        self.pos += 1
        parts: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == quote:
                self.pos += 1
                return "".join(parts)
            if char == "\\" and quote == '"' and self.pos + 1 < len(text):
                escaped = text[self.pos + 1]
                parts.append(_ESCAPES.get(escaped, "\\" + escaped))
                self.pos += 2
                if escaped == "\n":
                    self.line += 1
                    self.line_start = self.pos
                continue
            parts.append(char)
            self.pos += 1
            if char == "\n":
                self.line += 1
                self.line_start = self.pos
        return None


def parse_dotenv(text: str, filename: str = "<string>") -> tuple[dict[str, str], list[ErrorRecord]]:
    """The variables of a ``.env`` text, and every error (at ``filename``:line:column)."""
    scanner = _Scanner(text.removeprefix("\ufeff").replace("\r\n", "\n"), filename)
    scanner.parse()
    return scanner.values, scanner.errors


def default_dotenv(config_path: str) -> str:
    """The ``.env`` file next to a service file."""
    return os.path.join(os.path.dirname(config_path), ".env")
