"""The one exception base for every error a user can cause.

Every error fieldsurvey raises about its *input* (a file, a study, an instrument, an option) is a
:class:`FieldsurveyError`. It carries where the problem is (``file``, ``row``, ``column``) and a
stable ``code`` that scripts can test for, so the command line can catch this one type once, at
its top, and print one clear message (or a JSON object under ``--format json``) with exit code 2.
Anything else that escapes a command is a bug: the command line says so, writes the full trace
to a log file and names that file.

Each stage keeps its own subclass (``IngestError``, ``StudyError``, ``InstrumentError``,
``ScoringError``, ``CompareError``, ``DisclosureError``, ``CFAError``, ...), which also keeps its
old built-in base (``ValueError`` for most) so existing ``except ValueError`` code still works.

Examples
--------
>>> err = FieldsurveyError("value is not a number", file="a.csv", row=3, column="pq01")
>>> str(err)
'a.csv: row 3, column pq01: value is not a number'
>>> err.to_dict()["code"]
'fieldsurvey'
>>> str(FieldsurveyError("no instruments given"))
'no instruments given'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


class FieldsurveyError(Exception):
    """A problem with the user's input, reported as one message naming file, row and column.

    Parameters
    ----------
    message : str
        What is wrong and, where possible, what to do about it.
    file : str or Path, optional
        The file the problem is in (shown by name as given).
    row : int, optional
        1-based record number in that file (the header is row 1), when the problem is one row's.
    column : str, optional
        The column (or field) concerned.
    code : str, optional
        A stable identifier of the kind of problem (default: the class's ``code``), e.g.
        ``"ingest"``, ``"study_busy"``, ``"store"``.

    Attributes
    ----------
    message, file, row, column, code
        As given; ``file`` as text.
    """

    #: Stable identifier of this kind of error: by default the class name in snake case without
    #: "Error" (``IngestError`` -> "ingest", ``StudyBusyError`` -> "study_busy").
    code: str = "fieldsurvey"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            name = cls.__name__.removesuffix("Error") or cls.__name__
            cls.code = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()

    def __init__(
        self,
        message: str = "",
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        code: str | None = None,
    ) -> None:
        self.message = str(message)
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        if code is not None:
            self.code = code
        super().__init__(self.message)

    def location(self) -> str:
        """``"file: row R, column C"`` for the parts that are known ("" when none is)."""
        where = [f"row {self.row}"] if self.row is not None else []
        if self.column is not None:
            where.append(f"column {self.column}")
        parts = [p for p in (self.file, ", ".join(where)) if p]
        return ": ".join(parts)

    def __str__(self) -> str:
        place = self.location()
        if not place or self.message.startswith(place):
            return self.message
        return f"{place}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take different constructor arguments: rebuild from the state, not __init__
        # (errors cross process boundaries in parallel reports and in tests).
        return (_restore, (type(self), self.args, dict(self.__dict__)))

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data: code, message, file, row, column."""
        return {
            "code": self.code,
            "message": str(self),
            "file": self.file,
            "row": self.row,
            "column": self.column,
        }


def _restore(cls: type[FieldsurveyError], args: tuple[Any, ...], state: dict[str, Any]):
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class StudyBusyError(FieldsurveyError):
    """Another command is writing to the study store and did not finish within the wait."""


class StoreError(FieldsurveyError):
    """A study store that is missing, unreadable, truncated or not a fieldsurvey store."""


__all__ = ["FieldsurveyError", "StoreError", "StudyBusyError"]
