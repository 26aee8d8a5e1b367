"""Group comparisons of scale scores: Welch t / Welch ANOVA with effect sizes, tidy output.

Two groups: Welch's t (``pingouin.ttest`` with ``correction=True``), Hedges' g with a confidence
interval (``pingouin.compute_effsize`` / ``compute_esci``) and the Mann-Whitney U test
(``pingouin.mwu``) as a robustness check. Three or more groups: Welch's ANOVA
(``pingouin.welch_anova``), Games-Howell pairs (``pingouin.pairwise_gameshowell``) and omega
squared. p-values are corrected across the scales of one comparison (Holm by default).

Every row carries the respondent set it describes, so the disclosure gate can judge it: the
``by`` column holds the group (NA = all compared groups together), the optional ``within``
column holds the organisation or other unit (NA = the whole field), ``n`` counts the
respondents in that set and ``n_valid`` those with a score on the row's scale.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pingouin as pg
from scipy import stats

from fieldsurvey.compare._common import (
    ALL,
    CompareError,
    adjust_pvalues,
    as_list,
    field_and_units,
    field_rows_first,
    numeric_column,
    require_columns,
)

#: pingouin 0.7.0 column names this module reads (pinned and tested).
PG_TTEST_COLUMNS = ("T", "dof", "p_val")
PG_MWU_COLUMNS = ("U_val", "p_val", "RBC")
PG_WELCH_ANOVA_COLUMNS = ("ddof1", "ddof2", "F", "p_unc")
PG_GAMESHOWELL_COLUMNS = ("A", "B", "mean_A", "mean_B", "diff", "se", "T", "df", "pval", "hedges")

#: compare_groups' result columns after the unit and ``by`` columns, in output order.
_RESULT_COLUMNS = (
    "scale",
    "n",
    "n_compared",
    "n_valid",
    "n_excluded",
    "min_group_n",
    "groups",
    "test",
    "statistic",
    "df1",
    "df2",
    "p",
    "p_adj",
    "effect_size",
    "effect",
    "effect_ci_low",
    "effect_ci_high",
    "robust_test",
    "robust_statistic",
    "robust_effect",
    "robust_p",
    "note",
)


def _prepare(
    data: pd.DataFrame, scales: Sequence[str], by: str, within: str | None, groups: Sequence | None
) -> tuple[pd.DataFrame, list]:
    """Everyone (with a unit, when ``within``), their scores, and ``_in`` = in a compared group.

    Respondents outside the compared groups stay in the frame: rows describing "everyone"
    (NA in the ``by`` column) must count them, as the disclosure gate does.
    """
    cols = [by, *scales] + ([within] if within else [])
    require_columns(data, cols)
    frame = pd.DataFrame({s: numeric_column(data, s) for s in scales}, index=data.index)
    frame[by] = data[by]
    if within:
        frame[within] = data[within]
    if within:
        frame = frame.loc[frame[within].notna()]
    present = frame[by].dropna()
    order = list(groups) if groups is not None else sorted(pd.unique(present), key=str)
    if len(order) < 2:
        raise CompareError(f"column {by!r} needs at least two groups to compare, found {order}")
    frame["_in"] = frame[by].isin(order) & frame[by].notna()
    return frame, order


def group_descriptives(
    data: pd.DataFrame,
    scales: str | Sequence[str],
    by: str,
    *,
    within: str | None = None,
    groups: Sequence | None = None,
) -> pd.DataFrame:
    """n, mean and SD of each scale in each group (and for all compared groups together).

    Parameters
    ----------
    data : DataFrame
        One row per respondent with the scale scores and the ``by`` column.
    scales : str or list of str
    by : str
        Grouping column. Rows with a missing group (or outside ``groups``) get no group row
        but are counted in the "everyone" rows.
    within : str, optional
        A unit column such as ``"org"``: descriptives are repeated inside each unit.
    groups : sequence, optional
        Which groups to keep, in this order.

    Returns
    -------
    DataFrame
        One row per (unit x) scale x group: ``within`` (if given; NA = whole field), ``by``
        (NA = everyone in the unit, including respondents outside the compared groups, so the
        row matches the disclosure gate's reading of NA), ``scale``, ``n`` (respondents in the
        set), ``n_valid`` (with a score), ``mean``, ``sd``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"g": ["a", "a", "b", "b"], "x": [1.0, 3.0, 2.0, 6.0]})
    >>> group_descriptives(d, "x", "g")[["g", "n", "mean"]]
          g  n  mean
    0     a  2   2.0
    1     b  2   4.0
    2  <NA>  4   3.0
    """
    scales = as_list(scales)
    everyone, order = _prepare(data, scales, by, within, groups)
    group_pos = {g: i for i, g in enumerate(order)}
    everyone = everyone.assign(_g=everyone[by].map(group_pos), _all=0)
    frame = everyone.loc[everyone["_in"]].astype({"_g": np.int64})
    units = sorted(pd.unique(frame[within]), key=str) if within else []
    parts = []
    for scale in scales:
        # Per (unit x) group, then all groups together, for the field and for each unit.
        for unit_keys, unit_values in (([], [ALL]), ([within], units) if within else ((), ())):
            if not unit_values:
                continue
            for grp_key, grp_values in (("_g", range(len(order))), ("_all", [0])):
                keys = [*unit_keys, grp_key] if unit_keys else ["_all", grp_key]
                source = frame if grp_key == "_g" else everyone
                g = source.groupby(keys, sort=True)[scale]
                stat = pd.DataFrame(
                    {"n": g.size(), "n_valid": g.count(), "mean": g.mean(), "sd": g.std(ddof=1)}
                )
                if unit_keys:
                    index = pd.MultiIndex.from_product([unit_values, list(grp_values)])
                else:
                    index = pd.MultiIndex.from_product([[0], list(grp_values)])
                stat = stat.reindex(index)
                stat[["n", "n_valid"]] = stat[["n", "n_valid"]].fillna(0).astype(np.int64)
                stat = stat.reset_index(drop=True)
                stat.insert(
                    0,
                    "_unit",
                    np.repeat(np.arange(len(unit_values)) if unit_keys else [-1], len(grp_values)),
                )
                stat.insert(
                    1,
                    "_grp",
                    np.tile(list(grp_values), len(unit_values)) if grp_key == "_g" else len(order),
                )
                stat.insert(2, "scale", scale)
                stat.insert(3, "_scale", scales.index(scale))
                if within:
                    stat.insert(
                        0, within, [unit_values[i] if i >= 0 else ALL for i in stat["_unit"]]
                    )
                parts.append(stat)
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["_unit", "_scale", "_grp"], kind="stable").reset_index(drop=True)
    labels = np.array([*order, ALL], dtype=object)
    out.insert(1 if within else 0, by, labels[out["_grp"].to_numpy()])
    out = out.drop(columns=["_unit", "_grp", "_scale"])
    for col in [by] + ([within] if within else []):
        out[col] = out[col].astype(object).where(out[col].notna(), ALL)
    return out


def compare_groups(
    data: pd.DataFrame,
    scales: str | Sequence[str],
    by: str,
    *,
    within: str | None = None,
    groups: Sequence | None = None,
    correction: str = "holm",
    ci: float = 0.95,
) -> pd.DataFrame:
    """Compare scale scores between groups: one row per scale with the test and effect size.

    Two groups: Welch's t-test, Hedges' g (first group minus second) with a ``ci`` interval
    (pingouin's normal-theory standard error with t critical values, as R ``effsize::cohen.d``
    with ``noncentral=FALSE``) and Mann-Whitney U with the rank-biserial correlation. Three or
    more: Welch's ANOVA and omega squared, ``(SS_between - (k-1) MS_within) /
    (SS_total + MS_within)`` from the classic one-way decomposition (it can be slightly
    negative; we do not truncate it). Groups with fewer than two valid scores take no part
    in the test. p-values are corrected over the scales within each unit (``p_adj``).

    Parameters
    ----------
    data : DataFrame
        One row per respondent.
    scales : str or list of str
        Score columns.
    by : str
        Grouping column; respondents with a missing group (or outside ``groups``) take no part
        in the tests and are counted in ``n_excluded``.
    within : str, optional
        Repeat the comparison inside each level of this column (e.g. ``"org"``).
    groups : sequence, optional
        Groups to compare, in order (the first is group A of the difference).
    correction : {"holm", "fdr_bh"}
        Multiple-testing correction across scales.
    ci : float
        Confidence level of the effect-size interval.

    Returns
    -------
    DataFrame
        Columns: ``within`` (if given), ``by`` (always NA), ``scale``, ``n`` (everyone in the
        unit, the count the disclosure gate checks for a row with ``by`` NA), ``n_compared``
        (in the compared groups), ``n_valid`` (compared, with a score), ``n_excluded``
        (``n - n_compared``), ``min_group_n`` (smallest group's valid scores: a test is only
        as safe as its smallest group, so withhold it with its group cells), ``groups``, ``test``
        ("welch_t"/"welch_anova"), ``statistic``, ``df1``, ``df2``, ``p``, ``p_adj``,
        ``effect_size`` ("hedges_g"/"omega_squared"), ``effect``, ``effect_ci_low``,
        ``effect_ci_high``, ``robust_test``, ``robust_statistic``, ``robust_effect``,
        ``robust_p``, ``note`` (why a test is not computable, e.g. no variance in a group of a
        Welch ANOVA; "" when it is). ``attrs["groups"].frame`` holds the :func:`group_descriptives` rows and
        ``attrs["pairs"].frame`` the Games-Howell pairs (three or more groups: ``group_a``,
        ``group_b``, ``mean_a``, ``mean_b``, ``diff``, ``se``, ``t``, ``df``, ``p``,
        ``hedges_g``, ``n_a``, ``n_b``, ``scale``, and ``within`` if given).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 4, "x": [1, 2, 3, 4, 3, 4, 5, 7]})
    >>> r = compare_groups(d, "x", "g")
    >>> r[["test", "n", "statistic"]].round(3)
          test  n  statistic
    0  welch_t  8     -2.102
    """
    if not 0 < ci < 1:
        raise CompareError(f"ci must be between 0 and 1, got {ci}")
    scales = as_list(scales)
    everyone, order = _prepare(data, scales, by, within, groups)
    frame = everyone.loc[everyone["_in"]]
    unit_n = everyone.groupby(within, sort=True).size() if within else None
    compared_n = frame.groupby(within, sort=True).size() if within else None
    rows, pair_rows = [], []
    # Two groups inside many units: one vectorised pass per scale instead of a loop of
    # pingouin calls per unit (500 organisations would otherwise take tens of seconds).
    fast_units = bool(within) and len(order) == 2
    for unit, part in field_and_units(frame, within):
        if fast_units and unit is not ALL:
            break
        for scale in scales:
            samples = {g: part.loc[part[by] == g, scale].to_numpy() for g in order}
            samples = {g: v[~np.isnan(v)] for g, v in samples.items()}
            row, pairs = _compare_one(samples, ci)
            n_all = len(everyone) if unit is ALL else int(unit_n[unit])
            n_compared = len(frame) if unit is ALL else int(compared_n[unit])
            row = {
                by: ALL,
                "scale": scale,
                "n": n_all,
                "n_compared": n_compared,
                "n_valid": int(sum(v.size for v in samples.values())),
                "n_excluded": n_all - n_compared,
                "min_group_n": int(min(v.size for v in samples.values())),
                "groups": " | ".join(str(g) for g in order),
                **row,
            }
            if within:
                row = {within: unit, **row}
                for p in pairs:
                    p[within] = unit
            for p in pairs:
                p["scale"] = scale
            pair_rows.extend(pairs)
            rows.append(row)
    frames = [pd.DataFrame(rows)]
    if fast_units:
        for scale in scales:
            unit_rows = two_groups_by_unit(everyone, within, by, order, scale, ci)
            unit_rows.insert(1, by, ALL)
            unit_rows["groups"] = " | ".join(str(g) for g in order)
            unit_rows["n_excluded"] = unit_rows["n"] - unit_rows["n_compared"]
            frames.append(unit_rows)
    out = pd.concat(frames, ignore_index=True)
    unit_key = (
        out[within].astype(object).where(out[within].notna(), "\0field")
        if within
        else pd.Series(0, index=out.index)
    )
    out["p_adj"] = np.nan
    for _, idx in out.groupby(unit_key, sort=False).groups.items():
        out.loc[idx, "p_adj"] = adjust_pvalues(out.loc[idx, "p"].to_numpy(float), correction)
    if within:
        out = field_rows_first(out, within)
    rows = out
    cols = ([within] if within else []) + [by, *_RESULT_COLUMNS]
    out = rows.reindex(columns=cols)
    out["note"] = _fast_notes(out).where(out["note"].isna(), out["note"])
    out[by] = pd.Series([ALL] * len(out), dtype=object)
    if within:
        out[within] = out[within].astype(object).where(out[within].notna(), ALL)
    out.attrs["by"] = by
    out.attrs["correction"] = correction
    out.attrs["groups"] = AttachedTable(
        group_descriptives(data, scales, by, within=within, groups=groups)
    )
    out.attrs["pairs"] = AttachedTable(pd.DataFrame(pair_rows))
    return out


class AttachedTable:
    """A table riding along in a result's ``attrs``; read it with ``.frame``.

    pandas copies and compares ``attrs`` on most operations; a bare DataFrame there makes
    the comparison raise and large tables make every copy slow. This holder is shared, not
    copied, and compares by identity.
    """

    __slots__ = ("frame",)

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __deepcopy__(self, memo: dict) -> AttachedTable:
        return self

    def __repr__(self) -> str:
        return f"AttachedTable({self.frame.shape[0]} rows x {self.frame.shape[1]} columns)"


def two_groups_by_unit(
    frame: pd.DataFrame, within: str, by: str, order: Sequence, scale: str, ci: float = 0.95
) -> pd.DataFrame:
    """Welch t, Hedges' g and Mann-Whitney U of two groups inside every unit, vectorised.

    The same statistics as :func:`welch_two_groups` (tested against it), computed from
    grouped moments and within-unit ranks. Mann-Whitney p-values use the normal
    approximation with tie and continuity corrections, as ``scipy.stats.mannwhitneyu``
    (method "auto") does whenever there are ties or both groups exceed 8; the remaining
    units (small and tie-free) are sent to scipy for the exact p-value.

    Returns
    -------
    DataFrame
        One row per unit: ``within``, ``scale``, ``n`` (everyone in the unit), ``n_compared``
        (in the two groups), ``n_valid``, ``min_group_n`` and the test columns of
        :func:`compare_groups` (without ``p_adj``).
    """
    a_label, b_label = order
    members = frame.loc[frame[by].isin(order) & frame[by].notna(), [within, by, scale]]
    n_set = frame.groupby(within, sort=True).size()
    n_compared = members.groupby(within, sort=True).size().reindex(n_set.index, fill_value=0)
    valid = members.loc[members[scale].notna()].copy()
    valid["_a"] = (valid[by] == a_label).to_numpy()
    g = valid.groupby([within, "_a"], sort=True)[scale]
    mom = pd.DataFrame({"n": g.size(), "mean": g.mean(), "var": g.var(ddof=1)}).unstack("_a")
    full = pd.MultiIndex.from_product([["n", "mean", "var"], [False, True]])
    mom = mom.reindex(index=n_set.index, columns=full)
    na = mom[("n", True)].fillna(0).to_numpy(float)
    nb = mom[("n", False)].fillna(0).to_numpy(float)
    ma, mb = mom[("mean", True)].to_numpy(), mom[("mean", False)].to_numpy()
    va, vb = mom[("var", True)].to_numpy(), mom[("var", False)].to_numpy()
    usable = (na >= 2) & (nb >= 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(va / na + vb / nb)
        t = (ma - mb) / se
        df = (va / na + vb / nb) ** 2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
        p = 2 * stats.t.sf(np.abs(t), df)
        pooled = np.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
        hedges = (ma - mb) / pooled * (1 - 3 / (4 * (na + nb) - 9))
        se_g = np.sqrt((na + nb) / (na * nb) + hedges**2 / (2 * (na + nb)))
        crit = stats.t.ppf(0.5 + ci / 2, na + nb - 2)
        # Mann-Whitney from within-unit ranks.
        valid["_rank"] = valid.groupby(within, sort=True)[scale].rank(method="average")
        rank_a = valid.loc[valid["_a"]].groupby(within)["_rank"].sum().reindex(n_set.index)
        u_a = rank_a.fillna(0).to_numpy() - na * (na + 1) / 2
        ties = valid.groupby([within, scale]).size()
        tie_sum = (ties**3 - ties).groupby(level=0).sum().reindex(n_set.index).to_numpy(float)
        n_tot = na + nb
        mu = na * nb / 2
        sigma = np.sqrt(na * nb / 12 * ((n_tot + 1) - tie_sum / (n_tot * (n_tot - 1))))
        u_big = np.maximum(u_a, na * nb - u_a)
        u_p = np.clip(2 * stats.norm.sf((u_big - mu - 0.5) / sigma), 0, 1)
        rbc = 2 * u_a / (na * nb) - 1
    exact = usable & (tie_sum == 0) & ((na <= 8) | (nb <= 8))
    for i in np.flatnonzero(exact):
        unit = n_set.index[i]
        part = valid.loc[valid[within] == unit]
        u_p[i] = stats.mannwhitneyu(
            part.loc[part["_a"], scale], part.loc[~part["_a"], scale], alternative="two-sided"
        ).pvalue
    nan = np.where(usable, 1.0, np.nan)
    return pd.DataFrame(
        {
            within: n_set.index.to_numpy(),
            "scale": scale,
            "n": n_set.to_numpy(),
            "n_compared": n_compared.to_numpy(),
            "n_valid": (na + nb).astype(np.int64),
            "min_group_n": np.minimum(na, nb).astype(np.int64),
            "test": "welch_t",
            "statistic": t * nan,
            "df1": nan,
            "df2": df * nan,
            "p": p * nan,
            "effect_size": "hedges_g",
            "effect": hedges * nan,
            "effect_ci_low": (hedges - crit * se_g) * nan,
            "effect_ci_high": (hedges + crit * se_g) * nan,
            "robust_test": "mann_whitney_u",
            "robust_statistic": u_a * nan,
            "robust_effect": rbc * nan,
            "robust_p": u_p * nan,
        }
    )


def _compare_one(samples: dict[object, np.ndarray], ci: float) -> tuple[dict, list[dict]]:
    usable = {g: v for g, v in samples.items() if v.size >= 2}
    empty = {
        "test": "welch_t" if len(samples) == 2 else "welch_anova",
        "statistic": np.nan,
        "df1": np.nan,
        "df2": np.nan,
        "p": np.nan,
        "effect_size": "hedges_g" if len(samples) == 2 else "omega_squared",
        "effect": np.nan,
        "effect_ci_low": np.nan,
        "effect_ci_high": np.nan,
        "robust_test": "mann_whitney_u" if len(samples) == 2 else pd.NA,
        "robust_statistic": np.nan,
        "robust_effect": np.nan,
        "robust_p": np.nan,
    }
    reason = _not_computable(samples, usable)
    if reason:
        return {**empty, "note": reason}, []
    if len(samples) == 2:
        a, b = usable.values()
        return {**welch_two_groups(a, b, ci), "note": ""}, []
    row, pairs = welch_k_groups(usable)
    return {**row, "note": ""}, pairs


def _fast_notes(out: pd.DataFrame) -> pd.Series:
    """Notes for rows of the vectorised two-group path (which gives none of its own)."""
    few = (out["min_group_n"] < 2) & out["statistic"].isna()
    return pd.Series(np.where(few, "not computable: fewer than two scores in a group",
                              np.where(out["statistic"].isna(), "not computable", "")),
                     index=out.index, dtype=object)


def _not_computable(samples: dict[object, np.ndarray], usable: dict[object, np.ndarray]) -> str:
    """Why the test of these samples cannot be computed ("" when it can).

    Welch's t needs two scores per group and variance in at least one group; Welch's ANOVA
    needs two scores and some variance in every group (its weights are n / variance).
    """
    few = [str(g) for g, v in samples.items() if v.size < 2]
    if len(usable) < 2:
        return f"not computable: fewer than two scores in group(s) {', '.join(few)}"
    flat = [str(g) for g, v in usable.items() if np.ptp(v) == 0]
    if len(samples) == 2 and len(flat) == 2:
        return "not computable: no variance in either group (every score the same)"
    if len(samples) > 2 and flat:
        return ("not computable: Welch's ANOVA needs variance in every group; none in group(s) "
                + ", ".join(flat))
    return ""


def welch_two_groups(a: np.ndarray, b: np.ndarray, ci: float = 0.95) -> dict[str, object]:
    """Welch's t, Hedges' g (a minus b) with its interval, and Mann-Whitney U for two samples.

    Examples
    --------
    >>> import numpy as np
    >>> r = welch_two_groups(np.array([1.0, 2, 3, 4]), np.array([3.0, 4, 5, 7]))
    >>> round(r["statistic"], 3), round(r["effect"], 3)
    (-2.102, -1.292)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tt = pg.ttest(a, b, correction=True)
        g = float(pg.compute_effsize(a, b, eftype="hedges"))
        lo, hi = pg.compute_esci(
            stat=g, nx=a.size, ny=b.size, eftype="hedges", confidence=ci, decimals=12
        )
        u, u_p, rbc = mann_whitney(a, b)
    return {
        "test": "welch_t",
        "statistic": float(tt["T"].iloc[0]),
        "df1": 1.0,
        "df2": float(tt["dof"].iloc[0]),
        "p": float(tt["p_val"].iloc[0]),
        "effect_size": "hedges_g",
        "effect": g,
        "effect_ci_low": float(lo),
        "effect_ci_high": float(hi),
        "robust_test": "mann_whitney_u",
        "robust_statistic": u,
        "robust_effect": rbc,
        "robust_p": u_p,
    }


#: Above this many pairs pingouin.mwu would build an nx x ny matrix (for CLES); use scipy.
_MWU_PINGOUIN_MAX_PAIRS = 4_000_000


def mann_whitney(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Mann-Whitney U of ``a``, its two-sided p-value and the rank-biserial correlation.

    ``pingouin.mwu`` for ordinary samples; for very large ones (where pingouin would build an
    ``nx x ny`` matrix) ``scipy.stats.mannwhitneyu``, which pingouin calls for U and p anyway,
    with the same rank-biserial ``2 U / (nx ny) - 1`` (positive: ``a`` tends to be larger).

    Examples
    --------
    >>> import numpy as np
    >>> u, p, rbc = mann_whitney(np.array([1.0, 2, 3, 4]), np.array([3.0, 4, 5, 7]))
    >>> u, round(rbc, 3)
    (2.0, -0.75)
    """
    if a.size * b.size <= _MWU_PINGOUIN_MAX_PAIRS:
        mw = pg.mwu(a, b)
        return float(mw["U_val"].iloc[0]), float(mw["p_val"].iloc[0]), float(mw["RBC"].iloc[0])
    res = stats.mannwhitneyu(a, b, alternative="two-sided", use_continuity=True)
    return float(res.statistic), float(res.pvalue), 2 * float(res.statistic) / (a.size * b.size) - 1


def omega_squared(samples: Sequence[np.ndarray]) -> float:
    """One-way omega squared from the classic sums of squares.

    Examples
    --------
    >>> import numpy as np
    >>> round(omega_squared([np.array([1.0, 2, 3]), np.array([4.0, 5, 6])]), 4)
    0.6757
    """
    allv = np.concatenate(samples)
    k, n = len(samples), allv.size
    ss_total = ((allv - allv.mean()) ** 2).sum()
    ss_within = sum(((s - s.mean()) ** 2).sum() for s in samples)
    ms_within = ss_within / (n - k)
    return float((ss_total - ss_within - (k - 1) * ms_within) / (ss_total + ms_within))


def welch_k_groups(samples: dict[object, np.ndarray]) -> tuple[dict[str, object], list[dict]]:
    """Welch's ANOVA, omega squared and Games-Howell pairs for three or more samples."""
    long = pd.DataFrame(
        {
            "value": np.concatenate(list(samples.values())),
            "group": np.repeat(np.arange(len(samples)), [v.size for v in samples.values()]),
        }
    )
    labels = list(samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        aov = pg.welch_anova(long, dv="value", between="group")
        gh = pg.pairwise_gameshowell(long, dv="value", between="group")
    row = {
        "test": "welch_anova",
        "statistic": float(aov["F"].iloc[0]),
        "df1": float(aov["ddof1"].iloc[0]),
        "df2": float(aov["ddof2"].iloc[0]),
        "p": float(aov["p_unc"].iloc[0]),
        "effect_size": "omega_squared",
        "effect": omega_squared(list(samples.values())),
        "effect_ci_low": np.nan,
        "effect_ci_high": np.nan,
        "robust_test": pd.NA,
        "robust_statistic": np.nan,
        "robust_effect": np.nan,
        "robust_p": np.nan,
    }
    pairs = [
        {
            "group_a": labels[int(r.A)],
            "group_b": labels[int(r.B)],
            "mean_a": r.mean_A,
            "mean_b": r.mean_B,
            "diff": r.diff,
            "se": r.se,
            "t": r.T,
            "df": r.df,
            "p": r.pval,
            "hedges_g": r.hedges,
            "n_a": samples[labels[int(r.A)]].size,
            "n_b": samples[labels[int(r.B)]].size,
        }
        for r in gh.itertuples()
    ]
    return row, pairs


def comparison_to_json(result: pd.DataFrame, groups: pd.DataFrame | None = None) -> dict:
    """A JSON-ready dict of one comparison (one unit) for reports and the CLI.

    Parameters
    ----------
    result : DataFrame
        Output of :func:`compare_groups`. When it was run ``within`` units, pass the rows of
        one unit (for example the field rows, where the unit column is NA).
    groups : DataFrame, optional
        The matching :func:`group_descriptives` rows; defaults to
        ``result.attrs["groups"].frame``.

    Returns
    -------
    dict
        ``{"by", "scales": [{"scale", "groups": [{"group", "n", "mean", "sd", "suppressed"}],
        "test": {"name", "statistic", "df1", "df2", "p", "p_adj"}, "effect_size": {"name",
        "value", "ci": [lo, hi]}}]}``; ``n`` is the number of valid scores, ``suppressed`` is
        False until the disclosure gate sets it; NaN becomes None.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 4, "x": [1, 2, 3, 4, 3, 4, 5, 7]})
    >>> comparison_to_json(compare_groups(d, "x", "g"))["scales"][0]["test"]["name"]
    'welch_t'
    """
    by = result.attrs.get("by")
    if by is None:
        raise CompareError("result has no attrs['by']: pass the output of compare_groups")
    groups = result.attrs.get("groups") if groups is None else groups
    if groups is None:
        raise CompareError("no group descriptives: pass groups=group_descriptives(...)")
    if isinstance(groups, AttachedTable):
        groups = groups.frame
    units = [c for c in result.columns if c not in _RESULT_COLUMNS and c != by]
    for unit in units:
        levels = result[unit].dropna().unique()
        if result[unit].isna().any():
            result = result.loc[result[unit].isna()]
            groups = groups.loc[groups[unit].isna()] if unit in groups else groups
        elif len(levels) == 1:
            groups = groups.loc[groups[unit] == levels[0]] if unit in groups else groups
        else:
            raise CompareError(f"result holds several {unit!r} units; pass the rows of one")
    scales = []
    for r in result.itertuples(index=False):
        row = r._asdict()
        g = groups.loc[(groups["scale"] == row["scale"]) & groups[by].notna()]
        scales.append(
            {
                "scale": row["scale"],
                "groups": [
                    {
                        "group": _plain(x[by]),
                        "n": int(x["n_valid"]),
                        "mean": _plain(x["mean"]),
                        "sd": _plain(x["sd"]),
                        "suppressed": False,
                    }
                    for _, x in g.iterrows()
                ],
                "test": {
                    "name": row["test"],
                    "statistic": _plain(row["statistic"]),
                    "df1": _plain(row["df1"]),
                    "df2": _plain(row["df2"]),
                    "p": _plain(row["p"]),
                    "p_adj": _plain(row["p_adj"]),
                },
                "effect_size": {
                    "name": row["effect_size"],
                    "value": _plain(row["effect"]),
                    "ci": [_plain(row["effect_ci_low"]), _plain(row["effect_ci_high"])],
                },
            }
        )
    return {"by": by, "scales": scales}


def _plain(value: object) -> object:
    """Numbers and labels as JSON-safe Python values; NaN/NA as None."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
