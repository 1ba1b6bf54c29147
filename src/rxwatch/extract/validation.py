"""Problems found in an extract, reported all together (up to a cap) with file, line and column.

Lines count as a text editor does: the header is line 1, the first data row line 2. For FHIR NDJSON the
line is the resource's line; for a Bundle, the entry's index is given in ``column`` (``entry[3].resource``).
A problem's ``value`` is the offending field only, never a whole row, so no other patient data leaks
into a message or a log.
"""

from __future__ import annotations

from dataclasses import dataclass

from rxwatch.errors import RxWatchError

MAX_PROBLEMS = 50  # per extract: enough to fix a batch at once, few enough to read


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    column: str | None
    value: str | None
    message: str
    unit: str = "line"  # "row" for Parquet, where a row is not a line of text

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f": {self.unit} {self.line}"
        if self.column:
            where += f": column {self.column}"
        shown = "" if self.value is None else f" (value {self.value!r})"
        return f"{where}: {self.message}{shown}"


class ExtractError(RxWatchError):
    """An extract that failed validation; nothing from it was stored."""

    def __init__(self, problems: list[Problem], truncated: bool = False):
        self.problems = problems
        self.truncated = truncated
        super().__init__(self._message())

    def _message(self) -> str:
        n = len(self.problems)
        head = f"the extract has {n}{'+' if self.truncated else ''} problem{'s' if n != 1 else ''}; nothing was stored"
        lines = [head, *(f"  {p}" for p in self.problems)]
        if self.truncated:
            lines.append(f"  … stopped after {MAX_PROBLEMS} problems")
        return "\n".join(lines)
