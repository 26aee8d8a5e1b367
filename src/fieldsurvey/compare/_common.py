"""Shared helpers of the compare stage: column checks, the "everyone" marker, corrections."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from fieldsurvey.errors import FieldsurveyError

#: Value written into a dimension column when a row describes every respondent of that
#: dimension (the whole field, all groups, all waves). The disclosure gate reads NA as "all".
ALL = pd.NA

CORRECTIONS = ("holm", "fdr_bh")


class CompareError(FieldsurveyError, ValueError):
    """Data or arguments that the compare stage cannot analyse as given."""


def text_sort_key(col: pd.Series) -> pd.Series:
    """``sort_values`` key: object columns (mixed labels) sort as text, others as they are."""
    return col.astype(str) if col.dtype == object else col


def field_and_units(
    frame: pd.DataFrame, within: str | None
) -> Iterator[tuple[object, pd.DataFrame]]:
    """The whole field first (unit :data:`ALL`), then each level of ``within``."""
    yield ALL, frame
    if within:
        yield from frame.groupby(within, sort=True)


def field_rows_first(out: pd.DataFrame, within: str) -> pd.DataFrame:
    """The rows describing the whole field (NA in ``within``) first, then each unit in order."""
    field_first = out[within].isna().map({True: 0, False: 1})
    return (
        out.assign(_f=field_first)
        .sort_values(["_f", within], kind="stable", key=text_sort_key)
        .drop(columns="_f")
        .reset_index(drop=True)
    )


def as_list(value: str | Iterable[str]) -> list[str]:
    """A single column name or an iterable of them, as a list."""
    return [value] if isinstance(value, str) else list(value)


def require_columns(data: pd.DataFrame, columns: Sequence[str], what: str = "data") -> None:
    """Raise :class:`CompareError` naming the missing columns and the ones that exist."""
    if not isinstance(data, pd.DataFrame):
        raise CompareError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        shown = list(data.columns)[:30]
        raise CompareError(f"{what} has no column(s) {missing}; columns are {shown}")


def numeric_column(data: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64 with NaN for missing, or an error naming the first bad row."""
    values = pd.to_numeric(data[column], errors="coerce")
    bad = values.isna() & data[column].notna()
    if bad.any():
        row = data.index[bad.to_numpy().argmax()]
        raise CompareError(
            f"column {column!r} row {row!r}: {data[column].loc[row]!r} is not a number"
        )
    return values.to_numpy(dtype=float, na_value=np.nan)


def adjust_pvalues(p: np.ndarray, method: str) -> np.ndarray:
    """Holm or Benjamini-Hochberg adjusted p-values; NaN p-values stay NaN and are not counted.

    Uses ``pingouin.multicomp`` so the adjustment matches pingouin's.
    """
    import pingouin as pg

    if method not in CORRECTIONS:
        raise CompareError(f"correction must be one of {CORRECTIONS}, got {method!r}")
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = pg.multicomp(p[ok], method=method)[1]
    return out
