"""Internal-consistency reliability of a scale, computed as R ``psych::alpha`` computes it.

:func:`scale_reliability` takes the item responses of one scale (already keyed: reverse-keyed
items reversed) and returns Cronbach's alpha (raw and standardised), Guttman's lambda 6 (G6 from
squared multiple correlations), the average and median inter-item correlation, a Feldt confidence
interval, an optional seeded bootstrap interval, McDonald's omega total and per-item statistics
(corrected item-total correlation, alpha if the item is deleted).
:func:`instrument_reliability` does this for every scale of an :class:`Instrument`, reversing
reverse-keyed items with the instrument's declared response bounds first.

Every statistic is a function of one item covariance matrix. With ``missing="pairwise"`` (the
default, as psych) each covariance uses the respondents who answered both items; with
``"listwise"`` only respondents who answered every item of the scale are used. The pairwise
covariances are computed from masked matrix products, so a million respondents take about a second.

Deliberate differences from psych are listed in docs/reliability.md and in the docstrings below.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import special

from fieldsurvey.instrument.model import Instrument
from fieldsurvey.psychometrics._blas import single_threaded_blas
from fieldsurvey.psychometrics.omega import omega_total_from_corr

Missing = Literal["pairwise", "listwise"]
MISSING_POLICIES: tuple[str, ...] = ("pairwise", "listwise")

# Rows the rough means that shift the data (so sums stay small) are taken from.
_SHIFT_ROWS = 65_536
# Bytes of one block of respondents when accumulating sums: a block (and its few temporaries)
# stays in a core's L2 cache, and temporary memory is a few MB whatever the number of
# respondents. On 60 items x 200,000 respondents 1 MB blocks (2,184 rows) took half the time of
# 65,536-row blocks (0.27 against 0.55 s) and 11 MB of temporaries instead of 95 MB.
_BLOCK_BYTES = 1 << 20


def _block_rows(k: int) -> int:
    """Respondents per block for ``k`` items (at least 1,024: few items, few Python steps)."""
    return max(1024, _BLOCK_BYTES // (8 * max(k, 1)))

SUMMARY_COLUMNS: tuple[str, ...] = (
    "scale", "n", "k", "alpha", "alpha_std", "g6", "average_r", "median_r", "alpha_ci_low",
    "alpha_ci_high", "ci_level", "boot_ci_low", "boot_ci_high", "omega_total", "missing", "note",
)  # fmt: skip
ITEM_COLUMNS: tuple[str, ...] = (
    "scale", "item", "reversed", "n", "mean", "sd", "r_drop", "alpha_if_deleted", "raw_r",
    "std_r", "r_cor",
)  # fmt: skip
#: Item statistics (every item column but the labels and ``n``).
ITEM_STATISTICS: tuple[str, ...] = (
    "mean", "sd", "r_drop", "alpha_if_deleted", "raw_r", "std_r", "r_cor",
)  # fmt: skip


class MiskeyedItemsWarning(UserWarning):
    """The items of a scale covary negatively on average: some are probably keyed the wrong way."""


@dataclass(frozen=True)
class ReliabilityResult:
    """Reliability of one scale.

    Attributes
    ----------
    summary : pd.Series
        One value per statistic, indexed by :data:`SUMMARY_COLUMNS`.
    items : pd.DataFrame
        One row per item: item, reversed, n, mean, sd, r_drop, alpha_if_deleted.
    covariance : pd.DataFrame
        The item covariance matrix every statistic was computed from.
    """

    summary: pd.Series
    items: pd.DataFrame
    covariance: pd.DataFrame


@dataclass(frozen=True)
class _Moments:
    """Sufficient statistics of the items: counts, means, covariance and correlation matrices."""

    n_rows: int  # respondents who answered at least one item (pairwise) or all items (listwise)
    n_item: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    corr: np.ndarray  # Pearson correlations on the same respondents as ``cov`` (as R's cor)


def scale_reliability(
    items: pd.DataFrame,
    *,
    missing: Missing = "pairwise",
    ci: float = 0.95,
    n_boot: int = 0,
    seed: int | None = None,
    scale: str = "",
    reversed_items: tuple[str, ...] = (),
) -> ReliabilityResult:
    """Cronbach's alpha and related statistics of one scale, as ``psych::alpha``.

    Parameters
    ----------
    items : pd.DataFrame
        One column per item, one row per respondent, numeric, missing as NaN. Reverse-keyed items
        must already be reversed (see :func:`instrument_reliability`, which does it).
    missing : {"pairwise", "listwise"}
        ``"pairwise"`` (default, as psych): each covariance uses the respondents who answered
        both items. ``"listwise"``: only respondents who answered every item.
    ci : float
        Level of the Feldt (and bootstrap) confidence interval, default 0.95.
    n_boot : int
        Bootstrap resamples of respondents for a percentile interval of alpha; 0 (default) = none.
    seed : int, optional
        Seed of the bootstrap, so the interval is reproducible.
    scale : str
        Name put in the ``scale`` field of the result.
    reversed_items : tuple of str
        Items the caller reversed; only recorded in the ``reversed`` column of ``items``.

    Returns
    -------
    ReliabilityResult
        ``summary`` (n, k, alpha, alpha_std, g6, average_r, median_r, alpha_ci_low/high,
        boot_ci_low/high, omega_total, ...) and ``items`` (n, mean, sd, r_drop,
        alpha_if_deleted, and psych's ``raw.r``, ``std.r``, ``r.cor`` as raw_r, std_r, r_cor).

    Notes
    -----
    Differences from psych: respondents who answered none of the items are dropped before
    anything is counted, so ``n`` and the Feldt interval use the respondents with at least one
    answer (psych counts every row). With two items, alpha if deleted is NaN (a single item has
    no alpha; psych reports a covariance ratio). An item without variance gives NaN statistics
    and a note (psych deletes the item and goes on). ``omega_total`` is from a one-factor minres
    solution of the same correlation matrix as ``psych::omega(x, nfactors=1)``.

    Warns
    -----
    MiskeyedItemsWarning
        When the average inter-item covariance is negative; the message names the items whose
        loading on the first principal component has the minority sign.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1, 2, 3, 4, 5], "b": [2, 2, 3, 5, 5], "c": [1, 3, 3, 4, 4]})
    >>> round(float(scale_reliability(df).summary["alpha"]), 4)
    0.9538
    """
    _check_options(missing, ci, n_boot)
    # Every matrix here is items by items or items by a block of respondents: threaded BLAS
    # only loses on them (a 59 x 59 pseudo-inverse for G6 took 77 ms of CPU with the default
    # threads on a busy machine, 0.8 ms on one thread).
    with single_threaded_blas():
        return _scale_reliability(items, missing, ci, n_boot, seed, scale, reversed_items)


def _scale_reliability(items: pd.DataFrame, missing: Missing, ci: float, n_boot: int,
                       seed: int | None, scale: str, reversed_items: tuple[str, ...]
                       ) -> ReliabilityResult:
    """:func:`scale_reliability` once its options are checked."""
    x = _numeric_matrix(items)
    names = [str(c) for c in items.columns]
    mom = _moments(x, missing)
    k = x.shape[1]
    variances = np.diag(mom.cov)
    flat = [n for n, v in zip(names, variances, strict=True) if np.isfinite(v) and v <= 0]
    usable = k >= 2 and not flat and np.isfinite(mom.cov).all()
    stats_ = _alpha_stats(mom.cov) if usable else _empty_alpha_stats()
    summary = {
        "scale": scale,
        "n": mom.n_rows,
        "k": k,
        **stats_,
        "ci_level": ci,
        "alpha_ci_low": np.nan,
        "alpha_ci_high": np.nan,
        "boot_ci_low": np.nan,
        "boot_ci_high": np.nan,
        "omega_total": np.nan,
        "missing": missing,
        "note": "",
    }
    if k < 2:
        summary["note"] = "a scale needs at least two items for reliability"
    elif flat:
        # psych drops such items and carries on; we say so and leave the decision to the user.
        summary["note"] = (
            f"no statistics: every respondent gave the same answer to {', '.join(flat)}"
        )
    elif not usable:
        summary["note"] = "too few respondents answered the items to estimate their covariances"
    else:
        summary["alpha_ci_low"], summary["alpha_ci_high"] = feldt_interval(
            stats_["alpha"], mom.n_rows, k, ci
        )
        summary["omega_total"] = _omega_total_from_corr(mom.corr)
        if n_boot > 0:
            summary["boot_ci_low"], summary["boot_ci_high"] = _bootstrap_interval(
                x, missing, ci, n_boot, seed
            )
        if stats_["average_cov"] < 0:
            warnings.warn(_miskeyed_message(scale, names, mom.cov), MiskeyedItemsWarning, 3)
    summary.pop("average_cov", None)
    item_table = _item_table(names, mom, reversed_items, scale)
    if usable:
        item_table["raw_r"] = _item_total_r(x, missing)
        item_table[["std_r", "r_cor"]] = _standardised_item_total_r(mom.cov)
    return ReliabilityResult(
        summary=pd.Series({c: summary[c] for c in SUMMARY_COLUMNS}, name=scale or None),
        items=item_table,
        covariance=pd.DataFrame(mom.cov, index=names, columns=names),
    )


def feldt_interval(alpha: float, n: int, k: int, level: float = 0.95) -> tuple[float, float]:
    """Feldt's confidence interval of Cronbach's alpha (as ``psych::alpha.ci``).

    Parameters
    ----------
    alpha : float
        The sample alpha.
    n : int
        Respondents.
    k : int
        Items.
    level : float
        Confidence level, default 0.95.

    Returns
    -------
    (float, float)
        Lower and upper limit.

    Examples
    --------
    >>> [round(v, 4) for v in feldt_interval(0.8, 100, 10)]
    [0.736, 0.8537]
    """
    if n < 2 or k < 2 or not np.isfinite(alpha):
        return (np.nan, np.nan)
    tail = (1.0 - level) / 2.0
    df1, df2 = n - 1, (n - 1) * (k - 1)
    # The F quantile (what scipy.stats.f.ppf computes) without importing scipy.stats.
    low = 1.0 - (1.0 - alpha) * special.fdtri(df1, df2, 1.0 - tail)
    high = 1.0 - (1.0 - alpha) * special.fdtri(df1, df2, tail)
    return (float(low), float(high))


def instrument_reliability(
    data: pd.DataFrame,
    instrument: Instrument,
    *,
    missing: Missing = "pairwise",
    ci: float = 0.95,
    n_boot: int = 0,
    seed: int | None = None,
    min_respondents: int = 10,
    scales: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reliability of every scale of an instrument: one summary row per scale, one row per item.

    Reverse-keyed items (``Instrument.item(id).reverse``) are reversed with the instrument's
    declared response bounds, ``min + max - x`` (psych reverses with the minimum and maximum found
    in the data, which differs whenever no respondent used an extreme answer). Codes listed as
    ``missing_codes`` of the response scale count as missing.

    Parameters
    ----------
    data : pd.DataFrame
        One column per item id; other columns are ignored.
    instrument : Instrument
    missing, ci, n_boot, seed
        As :func:`scale_reliability`.
    min_respondents : int
        Scales answered by fewer respondents get no statistics (NaN) and a note, so that results
        on very small groups are not disclosed. Default 10.
    scales : list of str, optional
        Scale ids to analyse; default all scales of the instrument.

    Returns
    -------
    (pd.DataFrame, pd.DataFrame)
        Summary (columns :data:`SUMMARY_COLUMNS`) and items (columns :data:`ITEM_COLUMNS`).
        A scale whose items are not all in ``data`` gets a row with a note naming the missing
        columns, and a warning.

    Raises
    ------
    ValueError
        If no scale's items are in ``data``, or an answer lies outside the declared bounds
        (the message names the column and row).

    Examples
    --------
    >>> summary, items = instrument_reliability(df, resolve_instrument("proqol5"))  # doctest: +SKIP
    """
    wanted = [instrument.scale(s) for s in scales] if scales else list(instrument.scales)
    rows: list[pd.Series] = []
    item_tables: list[pd.DataFrame] = []
    usable = 0
    for sc in wanted:
        absent = [i for i in sc.items if i not in data.columns]
        if absent:
            note = f"skipped: item columns missing from data: {', '.join(absent)}"
            warnings.warn(f"scale {sc.id!r} {note}", UserWarning, 2)
            rows.append(_empty_summary(sc.id, sc.k, missing, ci, note))
            continue
        usable += 1
        keyed, flipped = reverse_keyed(data[list(sc.items)], instrument)
        res = scale_reliability(
            keyed,
            missing=missing,
            ci=ci,
            n_boot=n_boot,
            seed=seed,
            scale=sc.id,
            reversed_items=flipped,
        )
        summary, item_table = res.summary.copy(), res.items.copy()
        if summary["n"] < min_respondents:
            summary, item_table = _withhold(summary, item_table, min_respondents)
        rows.append(summary)
        item_tables.append(item_table)
    if wanted and usable == 0:
        raise ValueError(
            f"none of the scales of {instrument.id!r} can be analysed: their item columns "
            f"({', '.join(wanted[0].items[:5])}, ...) are not in the data"
        )
    summary_df = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)).reset_index(drop=True)
    items_df = (
        pd.concat(item_tables, ignore_index=True)
        if item_tables
        else pd.DataFrame(columns=list(ITEM_COLUMNS))
    )
    return summary_df, items_df


def reverse_keyed(
    items: pd.DataFrame, instrument: Instrument
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Items as numbers with missing codes blanked and reverse-keyed items reversed.

    Reversal uses the declared bounds of each item's response scale: ``min + max - x``.

    Returns
    -------
    (pd.DataFrame, tuple of str)
        The keyed items (float) and the ids of the items that were reversed.

    Raises
    ------
    ValueError
        When a value is not a number or lies outside the declared bounds; names column and row.
    """
    if all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
           for t in items.dtypes):
        return _reverse_keyed_array(items, instrument)
    out = {}
    flipped: list[str] = []
    # Float answers with no missing code and no reversed item are returned as they came (no
    # copy of a scale's answers, which for 60 items x 200,000 respondents is 96 MB).
    unchanged = True
    for col in items.columns:
        rs = instrument.response_scale_of(str(col))
        values = _numeric_column(items[col], str(col))
        unchanged &= items[col].dtype == np.float64 and not rs.missing_codes
        if rs.missing_codes:
            values = values.mask(values.isin(list(rs.missing_codes)))
        if rs.min is not None and rs.max is not None:
            outside = values.notna() & ((values < rs.min) | (values > rs.max))
            if outside.any():
                row = _label(outside.idxmax())
                raise ValueError(
                    f"column {col!r}, row {row!r}: value {values[row]:g} lies outside the "
                    f"declared response range {rs.min:g}..{rs.max:g}"
                )
        if instrument.item(str(col)).reverse:
            if rs.min is None or rs.max is None:
                raise ValueError(
                    f"item {col!r} is reverse-keyed but its response scale has no bounds"
                )
            values = rs.min + rs.max - values
            flipped.append(str(col))
        out[col] = values
    if unchanged and not flipped:
        return items, ()
    return pd.DataFrame(out, index=items.index), tuple(flipped)


def _reverse_keyed_array(items: pd.DataFrame, instrument: Instrument
                         ) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """:func:`reverse_keyed` of numeric answers (numpy or nullable dtypes), keyed as one array.

    A report keys every organisation's answers to every scale: per-column pandas operations
    were most of its reliability time. Same checks in the same order, same result.
    """
    x = items.to_numpy(dtype=np.float64, na_value=np.nan)
    scales = [instrument.response_scale_of(str(c)) for c in items.columns]
    flipped = [str(c) for c in items.columns if instrument.item(str(c)).reverse]
    unchanged = all(t == np.float64 for t in items.dtypes) and not any(
        rs.missing_codes for rs in scales)
    if not (unchanged and not flipped):
        x = np.array(x, copy=True)  # never write into the caller's frame
    for j, (col, rs) in enumerate(zip(items.columns, scales, strict=True)):
        values = x[:, j]
        if rs.missing_codes:
            values[np.isin(values, list(rs.missing_codes))] = np.nan
        if rs.min is not None and rs.max is not None:
            with np.errstate(invalid="ignore"):
                outside = (values < rs.min) | (values > rs.max)
            if outside.any():
                at = int(np.argmax(outside))
                raise ValueError(
                    f"column {col!r}, row {_label(items.index[at])!r}: value {values[at]:g} "
                    f"lies outside the declared response range {rs.min:g}..{rs.max:g}"
                )
        if str(col) in flipped:
            if rs.min is None or rs.max is None:
                raise ValueError(
                    f"item {col!r} is reverse-keyed but its response scale has no bounds"
                )
            x[:, j] = rs.min + rs.max - values
    if unchanged and not flipped:
        return items, ()
    return pd.DataFrame(x, index=items.index, columns=items.columns), tuple(flipped)


# ---------------------------------------------------------------------------------------------
# Moments


def _moments(x: np.ndarray, missing: str) -> _Moments:
    k = x.shape[1]
    if missing == "pairwise":
        return _pairwise_moments(x)
    x = x[~np.isnan(x).any(axis=1)]
    n_rows = x.shape[0]
    n_item = np.full(k, n_rows, dtype=np.int64)
    mean = x.mean(axis=0) if n_rows else np.full(k, np.nan)
    cov = np.atleast_2d(np.cov(x, rowvar=False)) if n_rows >= 2 else np.full((k, k), np.nan)
    return _Moments(n_rows, n_item, mean, cov, _cov_to_corr(cov))


def _accumulate(items_by_row: np.ndarray, shift: np.ndarray, count: np.ndarray, sums: np.ndarray,
                squares: np.ndarray, products: np.ndarray) -> int:
    """Add each block of respondents' masked cross-products to the running sums (in place);
    returns the number of respondents who answered at least one item."""
    rows = _block_rows(items_by_row.shape[0])
    answering = 0
    for start in range(0, items_by_row.shape[1], rows):
        x0 = items_by_row[:, start : start + rows] - shift[:, None]
        mask = ~np.isnan(x0)
        answering += int(mask.any(axis=0).sum())
        np.nan_to_num(x0, copy=False, nan=0.0)
        m = mask.astype(np.float64)
        count += m @ m.T
        sums += x0 @ m.T
        squares += (x0 * x0) @ m.T
        products += x0 @ x0.T
    return answering


def _rough_means(x: np.ndarray) -> np.ndarray:
    """Each column's mean over its first respondents (0 for a column none of them answered):
    the shift that keeps the sums small. One column at a time: ``nanmean`` copies what it is
    given, and all columns at once made a 37 MB copy for 60 items."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-missing column in the first block
        shift = np.array([np.nanmean(x[:_SHIFT_ROWS, j]) for j in range(x.shape[1])])
    return np.where(np.isfinite(shift), shift, 0.0)


def _pairwise_moments(x: np.ndarray) -> _Moments:
    """Pairwise-complete covariances and correlations from masked matrix products.

    For items i, j and the respondents who answered both: N_ij = M'M, S_ij = sum of x_i
    = (X0'M)_ij, Q_ij = sum of x_i^2 = (X0^2'M)_ij, P_ij = sum of x_i x_j = (X0'X0)_ij, where X0
    is the data with missing set to 0 and M the answered mask. Columns are first shifted by a
    rough mean (from the first block) so the sums stay small and the subtractions below lose no
    precision; covariances do not depend on the shift. Respondents with no answer add nothing to
    the sums; they are only left out of ``n_rows``.
    """
    k = x.shape[1]
    shift = _rough_means(x)
    count = np.zeros((k, k))
    sums = np.zeros((k, k))
    squares = np.zeros((k, k))
    products = np.zeros((k, k))
    # Items as rows: a block of respondents is then one stretch of memory for the usual
    # pandas layout (one float64 block stored item by item), which keeps the passes cheap.
    items_by_row = x.T
    with single_threaded_blas():
        n_rows = _accumulate(items_by_row, shift, count, sums, squares, products)
    n_item = np.diag(count).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = shift + np.diag(sums) / np.diag(count)
        # sums[i, j] is the sum of item i over respondents answering i and j; sums.T of item j.
        centred = products - sums * sums.T / count
        cov = centred / (count - 1)
        ss_i = squares - sums**2 / count
        corr = centred / np.sqrt(ss_i * ss_i.T)
    cov[count < 2] = np.nan
    corr[count < 2] = np.nan
    np.fill_diagonal(corr, np.where(n_item >= 2, 1.0, np.nan))
    return _Moments(n_rows, n_item, mean, cov, corr)


def _cov_to_corr(cov: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.diag(cov))
        return cov / np.outer(sd, sd)


# ---------------------------------------------------------------------------------------------
# Alpha and friends (psych::alpha's alpha.1 and item statistics)


def _alpha_stats(cov: np.ndarray) -> dict[str, float]:
    k = cov.shape[0]
    if not np.isfinite(cov).all() or (np.diag(cov) <= 0).any():
        return _empty_alpha_stats()
    corr = _cov_to_corr(cov)
    total = cov.sum()
    sum_r = corr.sum()
    off = corr[np.tril_indices(k, -1)]
    # A total variance of 0 (items cancelling out) gives an infinite alpha: reported, not raised.
    with np.errstate(divide="ignore", invalid="ignore"):
        return _alpha_formulas(cov, corr, total, sum_r, off, k)


def _alpha_formulas(
    cov: np.ndarray, corr: np.ndarray, total: float, sum_r: float, off: np.ndarray, k: int
) -> dict[str, float]:
    return {
        "alpha": (1.0 - np.trace(cov) / total) * k / (k - 1),
        "alpha_std": (1.0 - k / sum_r) * k / (k - 1),
        "g6": 1.0 - (k - squared_multiple_correlations(corr).sum()) / sum_r,
        "average_r": (sum_r - k) / (k * (k - 1)),
        "median_r": float(np.median(off)),
        "average_cov": (total - np.trace(cov)) / (k * (k - 1)),
    }


def _empty_alpha_stats() -> dict[str, float]:
    keys = ("alpha", "alpha_std", "g6", "average_r", "median_r", "average_cov")
    return dict.fromkeys(keys, np.nan)


def squared_multiple_correlations(corr: np.ndarray) -> np.ndarray:
    """Squared multiple correlation of each item with all others: 1 - 1/diag(R^-1).

    Uses the pseudo-inverse and bounds the result to 0..1, as ``psych::smc``.
    """
    inv = np.linalg.pinv(corr)
    with np.errstate(divide="ignore"):
        smc = 1.0 - 1.0 / np.diag(inv)
    return np.clip(smc, 0.0, 1.0)


def _item_table(
    names: list[str], mom: _Moments, reversed_items: tuple[str, ...], scale: str
) -> pd.DataFrame:
    cov = mom.cov
    k = len(names)
    total = cov.sum() if k else np.nan
    r_drop = np.full(k, np.nan)
    alpha_drop = np.full(k, np.nan)
    for i in range(k):
        keep = np.arange(k) != i
        rest = cov[np.ix_(keep, keep)]
        with np.errstate(invalid="ignore", divide="ignore"):
            r_drop[i] = (cov[:, i].sum() - cov[i, i]) / np.sqrt(cov[i, i] * rest.sum())
        if k > 2:
            alpha_drop[i] = _alpha_stats(rest)["alpha"]
    del total
    return pd.DataFrame(
        {
            "scale": scale,
            "item": names,
            "reversed": [n in reversed_items for n in names],
            "n": mom.n_item,
            "mean": mom.mean,
            "sd": np.sqrt(np.diag(cov)),
            "r_drop": r_drop,
            "alpha_if_deleted": alpha_drop,
            "raw_r": np.nan,
            "std_r": np.nan,
            "r_cor": np.nan,
        },
        columns=list(ITEM_COLUMNS),
    )


def _item_total_r(x: np.ndarray, missing: str) -> np.ndarray:
    """psych's ``raw.r``: each item's correlation with the total score.

    The total is the mean of the items a respondent answered (psych: ``rowMeans(x, na.rm =
    TRUE)``), correlated with each item over the respondents who answered it. Listwise: on the
    complete rows only. Computed from sums gathered a block of respondents at a time (no
    per-item copy of the rows), with items and totals shifted by a rough mean so the sums stay
    small: for item i over its respondents, r = (S_xt - S_x S_t / n) / sqrt((S_xx - S_x^2 / n)
    (S_tt - S_t^2 / n)).
    """
    if missing == "listwise":
        x = x[~np.isnan(x).any(axis=1)]
    items_by_row = x.T  # a block of respondents is one stretch of memory (see _pairwise_moments)
    shift = _rough_means(x)
    sums = np.zeros((6, x.shape[1]))  # n, S_x, S_xx, S_t, S_tt, S_xt per item
    total_shift = None
    rows = _block_rows(x.shape[1])
    for start in range(0, items_by_row.shape[1], rows):
        x0 = items_by_row[:, start : start + rows] - shift[:, None]
        mask = ~np.isnan(x0)
        np.nan_to_num(x0, copy=False, nan=0.0)
        answered = mask.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            total = (x0.sum(axis=0) / answered) + shift @ mask / answered
        if total_shift is None:
            total_shift = float(np.nanmean(total)) if (answered > 0).any() else 0.0
        total = np.where(answered > 0, total - total_shift, 0.0)  # nobody: adds nothing
        m = mask.astype(np.float64)
        sums += np.stack([m.sum(axis=1), x0.sum(axis=1), (x0 * x0).sum(axis=1), m @ total,
                          m @ (total * total), x0 @ total])
    n, s_x, s_xx, s_t, s_tt, s_xt = sums
    with np.errstate(invalid="ignore", divide="ignore"):
        ss_x = s_xx - s_x**2 / n
        ss_t = s_tt - s_t**2 / n
        # A constant item (or total) has no variance: rounding must not pass for some.
        ss_x[ss_x <= 1e-12 * s_xx] = np.nan
        ss_t[ss_t <= 1e-12 * s_tt] = np.nan
        out = (s_xt - s_x * s_t / n) / np.sqrt(ss_x * ss_t)
    out[n <= 2] = np.nan
    return out


def _standardised_item_total_r(cov: np.ndarray) -> np.ndarray:
    """psych's ``std.r`` (correlation with the standardised total, item included) and ``r.cor``
    (the same with the item's own variance replaced by its squared multiple correlation,
    correcting for item overlap), both from ``R = cov2cor(C)``: ``colSums(R) / sqrt(sum(R))``
    and ``colSums(RC) / sqrt(sum(RC))`` with ``diag(RC) = smc(R)``."""
    corr = _cov_to_corr(cov)
    reduced = corr.copy()
    np.fill_diagonal(reduced, squared_multiple_correlations(corr))
    with np.errstate(invalid="ignore", divide="ignore"):
        std_r = corr.sum(axis=0) / np.sqrt(corr.sum())
        r_cor = reduced.sum(axis=0) / np.sqrt(reduced.sum())
    return np.column_stack([std_r, r_cor])


def _omega_total_from_corr(corr: np.ndarray) -> float:
    try:
        return omega_total_from_corr(corr, flip=True)
    except (ValueError, np.linalg.LinAlgError):
        return np.nan


def _bootstrap_interval(
    x: np.ndarray, missing: str, ci: float, n_boot: int, seed: int | None
) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    x = x[~np.isnan(x).all(axis=1)]
    n = x.shape[0]
    alphas = np.empty(n_boot)
    for b in range(n_boot):
        cov = _moments(x[rng.integers(0, n, n)], missing).cov
        alphas[b] = _alpha_stats(cov)["alpha"]
    tail = (1.0 - ci) / 2.0
    low, high = np.nanquantile(alphas, [tail, 1.0 - tail])
    return (float(low), float(high))


def _miskeyed_message(scale: str, names: list[str], cov: np.ndarray) -> str:
    corr = _cov_to_corr(cov)
    _, vectors = np.linalg.eigh(corr)
    first = vectors[:, -1]
    # The majority sign is the scale's direction; items loading the other way look mis-keyed.
    if (first > 0).sum() < (first < 0).sum():
        first = -first
    suspects = [n for n, v in zip(names, first, strict=True) if v < 0]
    label = f"scale {scale!r}: " if scale else ""
    return (
        f"{label}the items covary negatively on average (alpha < 0); items that look "
        f"mis-keyed (reverse-keyed but not declared so, or the reverse): "
        f"{', '.join(suspects) or 'none singled out'}"
    )


def _withhold(
    summary: pd.Series, items: pd.DataFrame, min_respondents: int
) -> tuple[pd.Series, pd.DataFrame]:
    stat_cols = [c for c in SUMMARY_COLUMNS if c not in ("scale", "n", "k", "ci_level", "missing")]
    summary = summary.copy()
    summary[stat_cols] = np.nan
    summary["note"] = (
        f"withheld: {summary['n']} respondents, fewer than the minimum of {min_respondents}"
    )
    items = items.copy()
    items[list(ITEM_STATISTICS)] = np.nan
    return summary, items


def _empty_summary(scale: str, k: int, missing: str, ci: float, note: str) -> pd.Series:
    row = dict.fromkeys(SUMMARY_COLUMNS, np.nan)
    row.update(scale=scale, n=0, k=k, ci_level=ci, missing=missing, note=note)
    return pd.Series(row)


# ---------------------------------------------------------------------------------------------
# Input checks


def _check_options(missing: str, ci: float, n_boot: int) -> None:
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {', '.join(MISSING_POLICIES)} (got {missing!r})")
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be a confidence level between 0 and 1 (got {ci!r})")
    if n_boot < 0:
        raise ValueError(f"n_boot must be 0 or more (got {n_boot!r})")


def _numeric_column(col: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(col) or not (
        pd.api.types.is_numeric_dtype(col) or col.isna().all()
    ):
        converted = pd.to_numeric(col, errors="coerce")
        bad = converted.isna() & col.notna()
        if bad.any():
            row = bad.idxmax()
            raise ValueError(f"column {name!r}, row {_label(row)!r}: {col[row]!r} is not a number")
        col = converted
    return col.astype("float64")


def _label(row: object) -> object:
    """An index label as a plain Python value, so messages read ``row 17``, not ``np.int64(17)``."""
    return row.item() if isinstance(row, np.generic) else row


def _numeric_matrix(items: pd.DataFrame) -> np.ndarray:
    if not isinstance(items, pd.DataFrame):
        raise TypeError("items must be a pandas DataFrame with one column per item")
    if all(pd.api.types.is_float_dtype(t) and t == np.float64 for t in items.dtypes):
        return items.to_numpy(dtype=np.float64, copy=False)
    cols = {c: _numeric_column(items[c], str(c)) for c in items.columns}
    return pd.DataFrame(cols).to_numpy(dtype=np.float64, na_value=np.nan)
