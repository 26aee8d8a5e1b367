"""Shared helpers for CLI output."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, TypeVar

import click
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from fieldsurvey.errors import FieldsurveyError

F = TypeVar("F", bound=Callable[..., Any])

# soft_wrap: messages are one line each, not broken at 80 columns when the output is a file or
# a pipe (a terminal still wraps them where it must).
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


class UserError(FieldsurveyError, click.ClickException):
    """An expected problem with the user's input: printed as one message, exit code 2.

    Raise it (or any :class:`~fieldsurvey.errors.FieldsurveyError`) from a command; the command
    line's top level prints it (see :mod:`fieldsurvey.cli.failure`).
    """

    exit_code = 2


def friendly_errors(*error_types: type[BaseException]) -> Callable[[F], F]:
    """Treat the listed exception types as user errors (exit code 2, one message).

    Only needed for exceptions that are not a :class:`~fieldsurvey.errors.FieldsurveyError`
    (those are handled at the command line's top level already).
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except FieldsurveyError:
                raise
            except error_types as exc:
                raise UserError(str(exc)) from exc

        return wrapper  # type: ignore[return-value]

    return decorate


def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas values to plain JSON types; NaN and missing become null."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if value is pd.NA or value is pd.NaT or value is None:
        return None
    return value


def whole_numbers_as_integers(values: pd.Series) -> pd.Series:
    """A float column whose values are all whole numbers as integers (ids read as 2.0 show 2).

    Examples
    --------
    >>> whole_numbers_as_integers(pd.Series([2.0, None, 7.0])).tolist()
    [2, <NA>, 7]
    """
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if (finite == finite.round()).all() and (finite.abs() < 2**53).all():
            return values.astype("Int64")
    return values


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table's rows as dicts for JSON output; missing values stay missing (printed null).

    Reads each column once as a list: ``astype(object).where(...).to_dict("records")`` took
    ~1 s for the 60,000 rows of a 500-organisation benchmark.

    Examples
    --------
    >>> records(pd.DataFrame({"org": ["A", None], "n": pd.array([3, None], dtype="Int64")}))
    [{'org': 'A', 'n': 3}, {'org': nan, 'n': <NA>}]
    """
    names = [str(c) for c in table.columns]
    columns = [table[c].tolist() for c in table.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def print_json(payload: Any) -> None:
    click.echo(json_text(payload))


def json_text(payload: Any) -> str:
    """``json.dumps(to_jsonable(payload), indent=2, ensure_ascii=False)``, about 4x faster.

    With an indent, :mod:`json` uses its pure-Python encoder: 2.5 million values of a
    500-organisation ``benchmark --format json`` took ~2 s. This writes the same text in
    one pass (values converted as :func:`to_jsonable` does); anything it does not know
    goes the standard way.

    Examples
    --------
    >>> print(json_text({"n": np.int64(3), "rows": [{"mean": np.nan, "org": "Ö"}], "e": []}))
    {
      "n": 3,
      "rows": [
        {
          "mean": null,
          "org": "Ö"
        }
      ],
      "e": []
    }
    """
    parts: list[str] = []
    try:
        _json_parts(payload, "\n", parts)
    except _NotPlain:
        return json.dumps(to_jsonable(payload), indent=2, ensure_ascii=False)
    return "".join(parts)


class _NotPlain(Exception):
    """A value :func:`json_text` leaves to :func:`json.dumps`."""


def _json_scalar(value: Any) -> str | None:
    """The JSON text of a scalar, or None when ``value`` is a container."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return "null"
    if kind is bool or kind is np.bool_:
        return "true" if value else "false"
    if kind is float or isinstance(value, np.floating):
        return "null" if math.isnan(value) or math.isinf(value) else float.__repr__(float(value))
    if kind is int or isinstance(value, np.integer):
        return int.__repr__(int(value))
    if isinstance(value, dict | list | tuple | np.ndarray):
        return None
    raise _NotPlain


def _json_parts(value: Any, newline: str, out: list[str]) -> None:
    """Append ``value``'s indented JSON text to ``out`` (``newline``: its line break and
    indent)."""
    text = _json_scalar(value)
    if text is not None:
        out.append(text)
        return
    inner = newline + "  "
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{")
        first = True
        for key, item in value.items():
            out.append(inner if first else "," + inner)
            first = False
            out.append(encode_basestring(str(key)) + ": ")
            _json_parts(item, inner, out)
        out.append(newline + "}")
        return
    items = value.tolist() if isinstance(value, np.ndarray) else value
    if not len(items):
        out.append("[]")
        return
    out.append("[")
    for i, item in enumerate(items):
        out.append(inner if i == 0 else "," + inner)
        _json_parts(item, inner, out)
    out.append(newline + "]")


def print_table(df: pd.DataFrame, title: str | None = None, digits: int = 3) -> None:
    """Print a table whole: no cell is cut short ("[-2.…"). Written to a file or a pipe it takes
    the width it needs; in a terminal too narrow for it, cells wrap instead of being cut."""
    table = Table(title=title)
    for col in df.columns:
        table.add_column(str(col), overflow="fold",
                         justify="right" if pd.api.types.is_numeric_dtype(df[col]) else "left")
    for row in df.itertuples(index=False):
        table.add_row(*[_fmt(v, digits) for v in row])
    if console.is_terminal:
        console.print(table)
        return
    wide = console.options.update(max_width=100_000)
    width = max(console.width, console.measure(table, options=wide).maximum)
    # rich caps a print's width at the console's: a console as wide as the table prints it whole.
    Console(width=width, soft_wrap=True).print(table)


def _fmt(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "-"
    if isinstance(value, float | np.floating):
        return f"{value:.{digits}f}"
    return str(value)
