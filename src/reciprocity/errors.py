"""Errors raised at the edges of the toolkit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One invalid record: where it is and what is wrong with it."""

    source: str
    location: str  # e.g. "line 12" or "row 4"
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}, {self.location}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


class InputError(ValueError):
    """Invalid input: names the file, the line/row and the field of every problem found."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        first = str(self.problems[0]) if self.problems else "invalid input"
        more = len(self.problems) - 1
        super().__init__(first + (f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""))
