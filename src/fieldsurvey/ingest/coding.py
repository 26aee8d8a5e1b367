"""Turn the answer columns of an export into the codes the store holds, one item at a time.

* Each column is coded with :func:`fieldsurvey.ingest.mapping.code_answers` (numbers stay, answer
  labels become codes, anything else is invalid and quarantines its row, naming the column and
  value).
* **Declared missing codes.** Codes the source file declares as missing (SPSS user-missing
  values such as -1 "Refused", Stata extended missing values ``.a``) are not answers: the item is
  stored as missing (NULL) so no analysis or score can use them, and the declared code with its
  label is kept beside it in the store's ``declared_missing`` table, so a refusal can still be
  told from a skip.
* **Several columns for one item** (renamed groups across form versions, e.g. ``v1/hh_sex`` and
  ``v2/hh_sex``) are coalesced row by row: the row's answer is whichever column holds one. A row
  where two columns hold *different* answers is quarantined with both columns and values named;
  nothing is silently lost.

A value named in a reason or kept as an offending cell is shown with
:func:`~fieldsurvey.ingest.personal_data.shown_value`: personal data (and long text) withheld.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.ingest.mapping import code_answers
from fieldsurvey.ingest.personal_data import shown_value
from fieldsurvey.instrument.model import ResponseScale


def _code_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def declared_missing_mask(column: pd.Series, codes: Sequence[Any]) -> tuple[np.ndarray, pd.Series]:
    """Cells holding a declared missing code: ``(mask, code as text)``.

    ``codes`` are numbers, ``(low, high)`` ranges (SPSS) or letters (Stata ``.a`` ... ``.z``).

    Examples
    --------
    >>> mask, code = declared_missing_mask(pd.Series(["3", "-1.0", "a", None]), [-1, "a"])
    >>> mask.tolist(), code[mask].tolist()
    ([False, True, True, False], ['-1', '.a'])
    """
    if not codes:  # the usual case (text exports declare none): no per-cell work at all
        return np.zeros(len(column), dtype=bool), pd.Series(pd.NA, index=column.index,
                                                            dtype="string")
    text = column.astype("string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    mask = pd.Series(False, index=column.index)
    for code in codes:
        if isinstance(code, tuple):
            mask |= numbers.between(code[0], code[1]).fillna(False).astype(bool)
        elif isinstance(code, int | float) and not isinstance(code, bool):
            mask |= (numbers == code).fillna(False).astype(bool)
        else:
            mask |= (text == str(code)).fillna(False).astype(bool)
    shown = numbers.map(_code_text, na_action="ignore").astype("string").fillna(text)
    letters = shown.str.fullmatch(r"[a-z]").fillna(False).astype(bool)
    shown = shown.where(~letters, "." + shown)  # Stata's extended missing values read .a, .b
    return mask.to_numpy(dtype=bool), shown


def code_item(
    columns: Mapping[str, pd.Series],
    scale: ResponseScale,
    *,
    extra_labels: Mapping[str, int],
    missing_codes: Mapping[str, Sequence[Any]],
    value_labels: Mapping[str, Mapping[str, str]],
    open_coded: bool,
) -> tuple[np.ndarray | pd.Series, np.ndarray | None, np.ndarray | None,
           list[tuple[int, str, str]]]:
    """Code one item from its column(s): ``(values, reasons, cells, declared)``.

    ``reasons`` has "" where the row is fine; ``cells`` has, where it is not, the offending
    cells as ``{column: value shown}`` (None elsewhere); both are None when every row is fine
    (the usual case: no million-element arrays of Python objects per item). ``declared`` lists
    ``(position, code, label)`` of declared missing codes met (the first column holding one
    wins).
    """
    n = len(next(iter(columns.values())))
    reasons = cells = None
    declared: list[tuple[int, str, str]] = []
    coded: dict[str, np.ndarray | pd.Series] = {}
    for name, raw in columns.items():
        raw = raw.reset_index(drop=True)
        codes = missing_codes.get(name, ())
        mask, code = declared_missing_mask(raw, codes) if codes else (None, None)
        if mask is not None and mask.any():
            labels = value_labels.get(name, {})
            for position in np.flatnonzero(mask):
                if not any(p == position for p, _, _ in declared):
                    text = str(code.iloc[position])
                    declared.append((int(position), text, labels.get(text.lstrip("."), "")))
            raw = raw.mask(pd.Series(mask, index=raw.index))
        if open_coded:
            text = raw.astype("string").str.strip()
            coded[name] = text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True).replace("", pd.NA)
            continue
        result = code_answers(raw, scale, extra_labels)
        coded[name] = result.values
        if result.invalid.any():
            if reasons is None:
                reasons, cells = np.full(n, "", dtype=object), np.full(n, None, dtype=object)
            shown = raw.map(shown_value).to_numpy(dtype=object)
            bad = result.invalid & (reasons == "")
            reasons[bad] = [f"column {name}: {r} (value {v!r})"
                            for r, v in zip(result.reasons[bad], shown[bad], strict=True)]
            cells[bad] = [{name: v} for v in shown[bad]]
    values, conflicts, pairs = _coalesce(coded, open_coded)
    if pairs and reasons is None:
        reasons, cells = np.full(n, "", dtype=object), np.full(n, None, dtype=object)
    for row, (a, b) in pairs.items():
        if reasons[row] == "":
            reasons[row] = conflicts[row]
            cells[row] = {c: shown_value(columns[c].iloc[row]) for c in (a, b)}
    return values, reasons, cells, declared


def _coalesce(coded: Mapping[str, np.ndarray | pd.Series], open_coded: bool
              ) -> tuple[np.ndarray | pd.Series, np.ndarray, dict[int, tuple[str, str]]]:
    """One value per row from several columns; a reason, and the two columns, where two
    columns disagree."""
    names = list(coded)
    first = coded[names[0]]
    n = len(first)
    pairs: dict[int, tuple[str, str]] = {}
    if len(names) == 1:
        return first, np.empty(0, dtype=object), pairs  # no pairs: no conflict to look up
    conflicts = np.full(n, "", dtype=object)
    if open_coded:
        frame = pd.DataFrame({name: pd.Series(coded[name]).reset_index(drop=True) for name in names})
        values = frame.bfill(axis=1).iloc[:, 0].astype("string")
        present = frame.notna().to_numpy()
        cells = frame.astype("string").to_numpy(dtype=object, na_value=None)
    else:
        matrix = np.column_stack([np.asarray(coded[name], dtype=float) for name in names])
        present = ~np.isnan(matrix)
        filled = np.where(present, matrix, np.inf)
        chosen = np.argmax(present, axis=1)
        values = np.where(present.any(axis=1), filled[np.arange(n), chosen], np.nan)
        cells = matrix.astype(object)
    for row in np.flatnonzero(present.sum(axis=1) > 1):
        seen = [(names[j], cells[row, j]) for j in np.flatnonzero(present[row])]
        if len({v for _, v in seen}) > 1:
            (a, va), (b, vb) = next((x, y) for x in seen for y in seen if x[1] != y[1])
            conflicts[row] = (f"columns {a} and {b} answer the same item differently "
                              f"(value {shown_value(_code_text(va))!r} vs "
                              f"{shown_value(_code_text(vb))!r})")
            pairs[int(row)] = (a, b)
    return values, conflicts, pairs
