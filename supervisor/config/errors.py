"""Config errors that people can act on: file, line, column, key path, what was expected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ErrorRecord:
    """One problem in a config file.

    ``context`` names a second place that explains the first, like a compiler's note:
    an unclosed ``[`` is reported where the file ends, with ``context="the sequence
    opened"`` at ``context_line:context_column``.
    """

    line: int
    column: int
    path: str
    message: str
    file: str = ""
    context: str = ""
    context_line: int = 0
    context_column: int = 0

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        if self.context:
            text += f"; {self.context} at {self.file}:{self.context_line}:{self.context_column}"
        return text


class ConfigError(Exception):
    """A config file is invalid; ``errors`` lists every problem found, in file order.

    With several files, the errors of each file come together, files in the order in
    which they first have an error.
    """

    def __init__(self, errors: Iterable[ErrorRecord]) -> None:
        records = list(errors)
        rank: dict[str, int] = {}
        for record in records:
            rank.setdefault(record.file, len(rank))
        self.errors = sorted(records, key=lambda record: (rank[record.file], record))
        super().__init__("\n".join(str(error) for error in self.errors))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or an empty string."""
    import difflib  # only on an error: not part of every start-up

    options = [choice for choice in choices if isinstance(choice, str)]
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""
