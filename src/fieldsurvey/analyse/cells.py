"""n, mean and SD of scales in cells of respondents (``None``: all, ``Except(v)``: all but v).

Every table of the analysis layer describes cells; this module finds each cell's rows once per
dimension instead of comparing every row with every cell (500 organisations x 5 waves is 2,500
cells over 200,000 respondents), so a benchmark costs about as much per organisation as the
organisation is large.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.results import Except

__all__ = ["cell_mask", "cell_statistics", "object_dims", "rest_statistics"]


def cell_statistics(
    frame: pd.DataFrame, cells: Sequence[dict[str, Any]], scales: Sequence[str]
) -> pd.DataFrame:
    """n, mean and SD of each scale in each cell (``None`` means "all", ``Except`` "all but").

    Returns one row per cell: the cell's dimension columns, then ``<scale>_n``,
    ``<scale>_mean``, ``<scale>_sd`` per scale. The mean is the sum of valid scores over n and
    the SD ``sqrt(sum((x - mean)^2) / (n - 1))`` (two passes, so long columns keep precision).

    Examples
    --------
    >>> f = pd.DataFrame({"wave": ["1", "1", "2"], "x": [1.0, 3.0, 5.0]})
    >>> cell_statistics(f, [{"wave": "1"}, {"wave": Except("1")}], ["x"])["x_mean"].tolist()
    [2.0, 5.0]
    """
    dims = list(dict.fromkeys(k for cell in cells for k in cell))
    values = frame[list(scales)].to_numpy(dtype=float)
    rows_of = CellRows(frame)
    rows = []
    for cell in cells:
        # Rows in the frame's order, as a mask would give them: sums are the same to the bit.
        n, _, mean, squares = _moments(values[rows_of(cell)])
        rows.append(_row(cell, dims, scales, n, mean, squares))
    return object_dims(pd.DataFrame(rows), dims)


def rest_statistics(
    frame: pd.DataFrame, dim: str, units: Sequence[object], scales: Sequence[str],
    within: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """:func:`cell_statistics` of each unit's complement (``{dim: Except(u), **within}``).

    Worked out as the whole (``within``) less the unit, as the gate reads such a cell: with
    n_r = N - n_u, the mean is ``(sum_N - sum_u) / n_r`` and the centred sum of squares
    ``M2_r = M2_N - M2_u - n_u n_r / N (mean_u - mean_r)^2`` (Chan, Golub and LeVeque 1979),
    so 500 complements cost one pass over the data instead of 500. The results agree with
    :func:`cell_statistics` of the complements to rounding (the last bits of a mean or SD).

    Examples
    --------
    >>> f = pd.DataFrame({"org": ["A", "A", "B", "C"], "x": [1.0, 3.0, 5.0, np.nan]})
    >>> rest_statistics(f, "org", ["A", "B", "C"], ["x"])[["x_n", "x_mean", "x_sd"]]
       x_n  x_mean      x_sd
    0    1     5.0       NaN
    1    2     2.0  1.414214
    2    3     3.0  2.000000
    """
    within = dict(within or {})
    values = frame[list(scales)].to_numpy(dtype=float)
    rows_of = CellRows(frame)
    n_all, total_all, _, m2_all = _moments(values[rows_of(within)])
    cells = [{dim: Except(u), **within} for u in units]
    dims = list(dict.fromkeys(k for cell in cells for k in cell))
    rows = []
    for unit, cell in zip(units, cells, strict=True):
        n_u, total_u, mean_u, m2_u = _moments(values[rows_of({**within, dim: unit})])
        n = n_all - n_u
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, (total_all - total_u) / np.maximum(n, 1), np.nan)
            between = np.where((n_u > 0) & (n > 0),
                               n_u * n / np.maximum(n_all, 1) * (mean_u - mean) ** 2, 0.0)
            squares = np.clip(m2_all - m2_u - np.nan_to_num(between), 0.0, None)
        rows.append(_row(cell, dims, scales, n, mean, squares))
    return object_dims(pd.DataFrame(rows), dims)


def _moments(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column: valid n, sum, mean and centred sum of squares (two passes)."""
    valid = ~np.isnan(block)
    n = valid.sum(axis=0)
    total = np.where(valid, block, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        squares = np.where(valid, (block - mean) ** 2, 0.0).sum(axis=0)
    return n, total, mean, squares


def _row(cell: dict[str, Any], dims: Sequence[str], scales: Sequence[str], n: np.ndarray,
         mean: np.ndarray, squares: np.ndarray) -> dict[str, Any]:
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.where(n > 1, np.sqrt(squares / np.maximum(n - 1, 1)), np.nan)
    row: dict[str, Any] = {d: cell.get(d) for d in dims}
    for j, scale in enumerate(scales):
        row[f"{scale}_n"] = int(n[j])
        row[f"{scale}_mean"] = float(mean[j])
        row[f"{scale}_sd"] = float(sd[j])
    return row


def cell_mask(frame: pd.DataFrame, cell: dict[str, Any]) -> np.ndarray:
    """Which rows of ``frame`` a cell covers."""
    mask = np.ones(len(frame), dtype=bool)
    for dim, value in cell.items():
        if isinstance(value, Except):
            mask &= (frame[dim] != value.value).to_numpy()
        elif value is not None:
            mask &= (frame[dim] == value).to_numpy()
    return mask


class CellRows:
    """The rows of a frame each cell covers (ascending positions), many cells at a time.

    Each dimension is coded once; the rows of every combination of values the cells fix are
    grouped once per set of fixed dimensions. A cell's rows are then its group's rows, less
    the rows of the values it leaves out (``Except``).

    Examples
    --------
    >>> rows = CellRows(pd.DataFrame({"org": ["A", "B", "A"], "wave": ["1", "1", "2"]}))
    >>> rows({"org": "A"}).tolist(), rows({"wave": "1", "org": Except("A")}).tolist()
    ([0, 2], [1])
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame
        self._codes: dict[str, tuple[np.ndarray, dict[Any, int]]] = {}
        self._groups: dict[tuple[str, ...], dict[tuple[int, ...], np.ndarray]] = {}

    def __call__(self, cell: dict[str, Any]) -> np.ndarray:
        try:
            return self._rows(cell)
        except TypeError:  # a value that cannot be looked up (unhashable): compare every row
            return np.flatnonzero(cell_mask(self._frame, cell))

    def _rows(self, cell: dict[str, Any]) -> np.ndarray:
        fixed = tuple(sorted(d for d, v in cell.items()
                             if v is not None and not isinstance(v, Except)))
        key = []
        for d in fixed:
            code = self._coded(d)[1].get(cell[d])
            if code is None:  # a value nobody has: an empty cell
                return np.zeros(0, dtype=np.intp)
            key.append(code)
        rows = self._grouped(fixed).get(tuple(key), np.zeros(0, dtype=np.intp))
        for d, v in cell.items():
            if isinstance(v, Except):
                codes, lookup = self._coded(d)
                code = lookup.get(v.value)
                if code is not None:
                    rows = rows[codes[rows] != code]
        return rows

    def _coded(self, dim: str) -> tuple[np.ndarray, dict[Any, int]]:
        if dim not in self._codes:
            # Missing values get -1 and are never equal to a cell's value (as with ==).
            codes, uniques = pd.factorize(self._frame[dim], use_na_sentinel=True)
            self._codes[dim] = (np.asarray(codes), {u: i for i, u in enumerate(uniques)})
        return self._codes[dim]

    def _grouped(self, dims: tuple[str, ...]) -> dict[tuple[int, ...], np.ndarray]:
        if dims not in self._groups:
            n = len(self._frame)
            if not dims:
                self._groups[dims] = {(): np.arange(n)}
                return self._groups[dims]
            coded = [self._coded(d) for d in dims]
            combined = np.zeros(n, dtype=np.int64)
            for codes, lookup in coded:  # one number per combination (-1 codes shifted to 0)
                combined = combined * (len(lookup) + 1) + (codes + 1)
            order = np.argsort(combined, kind="stable")  # stable: each group in frame order
            ordered = combined[order]
            starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
            groups = {}
            for start, stop in zip(starts, [*starts[1:], n], strict=True):
                packed, parts = int(ordered[start]), []
                for _codes, lookup in reversed(coded):
                    packed, part = divmod(packed, len(lookup) + 1)
                    parts.append(part - 1)
                if -1 not in parts:
                    groups[tuple(reversed(parts))] = order[start:stop]
            self._groups[dims] = groups
        return self._groups[dims]


def object_dims(out: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    """Dimension columns as objects with ``None`` for "all" (how the gate reads cells)."""
    for d in dims:
        out[d] = out[d].astype(object).where(out[d].notna(), None)
    return out
