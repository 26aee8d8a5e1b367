"""Scale scores from item answers, with explicit missing-data rules and banding."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fieldsurvey.errors import FieldsurveyError
from fieldsurvey.instrument import Instrument, assign_bands, resolve_instrument
from fieldsurvey.instrument.answers import InvalidAnswer, numeric_answers
from fieldsurvey.instrument.model import Scale

_MAX_LISTED = 20
_ADVICE = "use invalid='missing' / --invalid missing to treat them as missing"


class ScoringError(FieldsurveyError, ValueError):
    """Answers that cannot be scored, or data that does not fit the instruments.

    ``invalid`` lists the answers concerned; the first one gives the error's row and column.
    """

    def __init__(self, message: str, invalid: Sequence[InvalidAnswer] = (), *,
                 file: str | None = None) -> None:
        self.invalid = list(invalid)
        first = self.invalid[0] if self.invalid else None
        super().__init__(message, file=file, row=first.row if first else None,
                         column=first.column if first else None)

    def __str__(self) -> str:  # the message already lists every answer with its row and column
        return self.message


InstrumentRef = str | Path | Instrument


def score_scales(
    data: pd.DataFrame,
    instruments: InstrumentRef | Iterable[InstrumentRef],
    *,
    id_column: str | None = None,
    invalid: str = "error",
    source: str | None = None,
    row_numbers: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Score every scale of the given instruments.

    Reverse-keyed items are reversed with the declared bounds (min + max - x). A respondent who
    answered fewer than the scale's ``min_answered`` items gets a missing score, never zero.

    Parameters
    ----------
    data : DataFrame
        One row per respondent; columns named by item id. Answers may be numbers or text.
    instruments : instrument id, YAML path, Instrument, or a list of them
    id_column : str, optional
        Column identifying respondents, copied to the output first. Without it the output's first
        column is ``row``, the row number in the file (see ``row_numbers``).
    invalid : {"error", "missing"}
        Non-numeric, out-of-range or non-whole answers raise :class:`ScoringError` naming row and
        column ("error", default), or are treated as missing and counted in
        ``result.attrs["invalid_answers"]`` ("missing", with a warning).
    source : str, optional
        File name to prefix error messages with.
    row_numbers : sequence of int, optional
        The file row of each row of ``data``, named in errors and the ``row`` column
        (:attr:`fieldsurvey.io.DataTable.row_numbers`); default: the index when it is named
        ``row``, else 2, 3, ... (header = row 1).

    Returns
    -------
    DataFrame
        The id column, then per scale ``<scale>``, ``<scale>_answered``, ``<scale>_band`` (when the
        scale has bands) and ``<scale>_t`` or ``<scale>_z`` (when it has norms).

    Examples
    --------
    >>> import pandas as pd
    >>> answers = pd.DataFrame({f"pq{i:02d}": [3, 4] for i in range(1, 31)})
    >>> scores = score_scales(answers, "proqol5")
    >>> scores[["burnout", "burnout_answered", "burnout_band"]]
       burnout  burnout_answered burnout_band
    0     30.0                10     Moderate
    1     30.0                10     Moderate
    """
    if invalid not in ("error", "missing"):
        raise ValueError("invalid must be 'error' or 'missing'")
    insts = _resolve_all(instruments)
    file_rows = _file_rows(data, row_numbers)
    if data.attrs:
        # pandas deep-copies attrs on every operation; scoring needs none of them.
        data = data.copy(deep=False)
        data.attrs = {}
    prefix = f"{source}: " if source else ""
    scales = _scales_of(insts)
    needed = list(dict.fromkeys(item for _, sc in scales for item in sc.items))
    missing_columns = [c for c in needed if c not in data.columns]
    if missing_columns:
        by_scale = {}
        for inst, sc in scales:
            absent = [c for c in sc.items if c in missing_columns]
            if absent:
                by_scale[f"{inst.id}.{sc.id}"] = absent
        detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in by_scale.items())
        raise ScoringError(f"{prefix}data has no column for items of {detail}")
    if id_column is not None and id_column not in data.columns:
        raise ScoringError(f"{prefix}no id column {id_column!r} in the data")

    ids = data[id_column].to_numpy() if id_column else None
    columns, counts = _answer_columns(data, insts, needed, file_rows=file_rows, ids=ids,
                                      invalid=invalid, prefix=prefix, advice=_ADVICE)
    # Every array below is the result's own (the ids and row numbers copied), so the frame is
    # built around them as they are: stacking same-typed columns into 2-D blocks copied them all.
    out: dict[str, object] = {}
    if id_column:
        out[id_column] = data[id_column].to_numpy(copy=True)
    else:
        out["row"] = np.array(file_rows, dtype=np.int64)
    for inst, sc in scales:
        score, answered = _score_block(inst, sc, [columns[i] for i in sc.items])
        out[sc.id] = score
        out[f"{sc.id}_answered"] = answered
        if sc.bands:
            out[f"{sc.id}_band"] = assign_bands(score, sc)
        if sc.norms is not None:
            z = (score - sc.norms.mean) / sc.norms.sd
            out[f"{sc.id}_{sc.norms.metric}"] = 50.0 + 10.0 * z if sc.norms.metric == "t" else z
    result = pd.DataFrame(out, index=data.index, copy=False)
    result.attrs["invalid_answers"] = counts
    return result


def checked_answers(
    data: pd.DataFrame,
    instruments: InstrumentRef | Iterable[InstrumentRef],
    *,
    source: str | None = None,
    invalid: str = "error",
    advice: str = "correct them, or leave them blank to count them as missing",
    row_numbers: Sequence[int] | None = None,
) -> pd.DataFrame:
    """The instruments' item columns of ``data`` as numbers, checked as :func:`score_scales`
    checks them: one answer parser for every command (a "3.5" on a Likert item, a label, an
    answer outside the declared bounds is refused naming its row and column, or with
    ``invalid="missing"`` counted and made missing).

    Items without a column in ``data`` are left out. Row numbers in errors come from
    ``row_numbers`` as in :func:`score_scales`.

    Examples
    --------
    >>> import pandas as pd
    >>> checked_answers(pd.DataFrame({"pq01": ["3", " 4 "]}), "proqol5")["pq01"].tolist()
    [3.0, 4.0]
    """
    insts = _resolve_all(instruments)
    file_rows = _file_rows(data, row_numbers)
    items = [it.id for inst in insts for it in inst.items
             if it.id in data.columns and inst.response_scales[it.scale].type != "text"]
    items = list(dict.fromkeys(items))
    prefix = f"{source}: " if source else ""
    columns, _ = _answer_columns(data, insts, items, file_rows=file_rows, ids=None,
                                 invalid=invalid, prefix=prefix, advice=advice)
    if all(_same_memory(columns[i], data[i].to_numpy()) for i in items):
        # Every answer was a valid number already: the frame's own columns are the checked
        # answers (a view when they sit side by side, as a file's items do: no second copy).
        return data[items]
    return pd.DataFrame(columns, index=data.index, columns=items)


def _same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """True when ``a`` and ``b`` are the same numbers in the same memory (``a`` a view of ``b``)."""
    return (a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides
            and a.ctypes.data == b.ctypes.data)


def _file_rows(data: pd.DataFrame, row_numbers: Sequence[int] | None) -> Sequence[int]:
    """The file's own row numbers of ``data``, so errors name the row to fix."""
    if row_numbers is not None and len(row_numbers) == len(data):
        return row_numbers
    if data.index.name == "row" and pd.api.types.is_integer_dtype(data.index.dtype):
        return data.index.to_numpy()
    return range(2, len(data) + 2)


def _answer_columns(data: pd.DataFrame, insts: list[Instrument], needed: list[str], *,
                    file_rows, ids, invalid: str, prefix: str, advice: str
                    ) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Numeric answers, one array per item, raising or counting the invalid ones.

    A column of valid numbers comes back as a read-only view of the frame's own column, so
    scoring a million respondents holds their answers once, not twice.
    """
    item_scale = {it.id: inst.response_scales[it.scale] for inst in insts for it in inst.items}
    columns: dict[str, np.ndarray] = {}
    problems: list[InvalidAnswer] = []
    counts: dict[str, int] = {}
    for item_id in needed:
        values, bad, reasons = numeric_answers(data[item_id], item_scale[item_id])
        columns[item_id] = values
        if bad.any():
            rows = np.flatnonzero(bad)
            counts[item_id] = int(rows.size)
            for r in rows[: _MAX_LISTED - len(problems)] if len(problems) < _MAX_LISTED else []:
                problems.append(
                    InvalidAnswer(
                        row=int(file_rows[r]),
                        column=item_id,
                        value=_plain(data[item_id].iloc[r]),
                        reason=str(reasons[r]),
                        response_id=None if ids is None else ids[r],
                    )
                )
    problems.sort(key=lambda p: p.row)
    total_bad = sum(counts.values())
    if total_bad and invalid == "error":
        listed = "\n".join(f"  {prefix}{p.describe()}" for p in problems)
        more = f"\n  ... and {total_bad - len(problems)} more" if total_bad > len(problems) else ""
        raise ScoringError(
            f"{prefix}{total_bad} answer(s) cannot be scored ({advice}):\n{listed}{more}",
            problems,
        )
    if total_bad:
        warnings.warn(f"{prefix}{total_bad} invalid answer(s) treated as missing", stacklevel=3)
    return columns, counts


def _plain(value: object) -> object:
    """numpy scalars as plain Python values, whole floats as integers, so messages read ``6``,
    not ``np.int64(6)`` or ``6.0`` (a column of numbers is read as floats)."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def reverse_keyed(inst: Instrument, item_ids: Sequence[str], block: np.ndarray) -> np.ndarray:
    """Reverse the reverse-keyed columns of ``block`` using the declared bounds (min + max - x)."""
    out = block.copy()
    for j, item_id in enumerate(item_ids):
        item = inst.item(item_id)
        if item.reverse:
            rs = inst.response_scales[item.scale]
            out[:, j] = rs.min + rs.max - out[:, j]
    return out


def _score_block(inst: Instrument, sc: Scale, columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Score one scale from its item columns (one contiguous array per item, in scale order).

    Works column by column: a scale has few items and many respondents, so this avoids
    respondent-by-item temporaries entirely. Each item is reversed, rescaled and summed in two
    reused buffers (the same operations in the same order as ``total += where(present, x, 0)``,
    without five new arrays per item).
    """
    n = columns[0].shape[0] if columns else 0
    total = np.zeros(n)
    answered = np.zeros(n, dtype=np.int16)
    scratch = np.empty(n)
    present = np.empty(n, dtype=bool)
    for item_id, values in zip(sc.items, columns, strict=True):
        rs = inst.response_scale_of(item_id)
        if inst.item(item_id).reverse:
            values = np.subtract(rs.min + rs.max, values, out=scratch)
        if sc.method == "mean_0_100":
            values = np.subtract(values, rs.min, out=scratch)
            np.divide(values, rs.max - rs.min, out=values)
            np.multiply(values, 100.0, out=values)
        np.logical_not(np.isnan(values, out=present), out=present)
        answered += present
        np.add(total, values, out=total, where=present)
    del scratch, present
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / answered
    if sc.method == "sum":
        score = total
    elif sc.method == "prorated_sum":
        score = mean * sc.k
    else:
        score = mean
    score = np.where((answered >= sc.min_answered) & (answered > 0), score, np.nan)
    return score, answered


def _resolve_all(instruments: InstrumentRef | Iterable[InstrumentRef]) -> list[Instrument]:
    if isinstance(instruments, str | Path | Instrument):
        instruments = [instruments]
    insts = [resolve_instrument(ref) for ref in instruments]
    if not insts:
        raise ScoringError("no instruments given")
    return insts


def _scales_of(insts: list[Instrument]) -> list[tuple[Instrument, Scale]]:
    seen: dict[str, str] = {}
    pairs = []
    for inst in insts:
        for sc in inst.scales:
            if sc.id in seen:
                raise ScoringError(
                    f"scale id {sc.id!r} is defined by both {seen[sc.id]!r} and {inst.id!r}; "
                    "scale ids must be unique across the instruments scored together"
                )
            seen[sc.id] = inst.id
            pairs.append((inst, sc))
    return pairs
