"""Turn raw answer columns into a numeric matrix, finding every answer that cannot be scored.

Answers arrive as numbers or text (CSV, spreadsheets, SPSS). An answer is invalid when it is not a
number, or lies outside its response scale's declared bounds, or is not a whole-number code on a
coded scale. Declared missing codes (e.g. 99 = prefer not to say) become missing, never scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fieldsurvey.instrument.model import ResponseScale

_NO_REASONS = np.empty(0, dtype=object)


@dataclass(frozen=True)
class InvalidAnswer:
    """One answer that could not be scored; ``row`` counts as a spreadsheet does (header = row 1)."""

    row: int
    column: str
    value: object
    reason: str
    response_id: object = None

    def describe(self) -> str:
        who = f" (id {self.response_id})" if self.response_id is not None else ""
        return f"row {self.row}{who}, column {self.column!r}: {self.reason} (value {self.value!r})"


def numeric_answers(column: pd.Series, scale: ResponseScale) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Numeric values of one answer column, a mask of invalid answers, and the reason for each.

    Returns
    -------
    values : float64 array with NaN for missing or invalid answers
    invalid : bool array, True where the answer was present but cannot be scored
    reasons : object array with the reason for each invalid answer ("" elsewhere); empty when
        no answer is invalid
    """
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        non_numeric = np.zeros(values.shape, dtype=bool)
    else:
        as_text = column.astype("string").str.strip()
        blank = as_text.isna() | (as_text == "")
        converted = pd.to_numeric(as_text.where(~blank), errors="coerce")
        values = converted.to_numpy(dtype=float, na_value=np.nan)
        non_numeric = (~blank.to_numpy()) & np.isnan(values)
    if scale.missing_codes:
        values = np.where(np.isin(values, scale.missing_codes), np.nan, values)
    present = ~np.isnan(values)
    out_of_range = np.zeros(values.shape, dtype=bool)
    if scale.min is not None:
        out_of_range |= present & (values < scale.min)
    if scale.max is not None:
        out_of_range |= present & (values > scale.max)
    not_whole = np.zeros(values.shape, dtype=bool)
    if scale.is_coded:
        not_whole = present & ~out_of_range & (values != np.floor(values))
    invalid = non_numeric | out_of_range | not_whole
    values = np.where(invalid, np.nan, values)
    if not invalid.any():  # the usual case: skip building a million-element reason array
        return values, invalid, _NO_REASONS
    reasons = np.full(values.shape, "", dtype=object)
    if invalid.any():
        reasons[non_numeric] = "not a number"
        reasons[out_of_range] = f"outside the response scale {scale.min:g}..{scale.max:g}"
        reasons[not_whole] = "not a whole-number answer code"
    return values, invalid, reasons
