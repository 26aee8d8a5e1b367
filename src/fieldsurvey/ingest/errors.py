"""The one exception type every ingest reader raises for bad input."""

from __future__ import annotations

from pathlib import Path

from fieldsurvey.errors import FieldsurveyError


class IngestError(FieldsurveyError, ValueError):
    """A file could not be read; names the file, the row and the column where known.

    Parameters
    ----------
    file : str or Path
        The file being read.
    row : int or None
        1-based record number in the file (header rows count), or None when the problem is not
        tied to one row.
    column : str or None
        Column name (or 1-based column number as text), or None.
    message : str
        What is wrong, in plain words.

    Examples
    --------
    >>> str(IngestError("a.csv", 3, "Q1", "value is not a number"))
    'a.csv: row 3, column Q1: value is not a number'
    """

    def __init__(self, file: str | Path, row: int | None, column: str | None, message: str) -> None:
        super().__init__(message, file=file, row=row, column=column)

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        place = ", ".join(where) if where else "whole file"
        return f"{self.file}: {place}: {self.message}"
