"""Each organisation against the rest of the field (leave-one-out), bands, and waves.

All per-organisation work is done on grouped sums, so 500 organisations cost about as much as
five. The comparator of an organisation is the field *without* it: its own staff would
otherwise pull the benchmark toward themselves, most strongly in large organisations.

Variances are combined with the parallel (Chan et al.) formula on centred sums of squares,
``M2_total = M2_org + M2_rest + n_org n_rest / N (mean_org - mean_rest)^2``, solved for the rest,
which keeps precision on long score columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from fieldsurvey._distributions import t_ppf, t_sf
from fieldsurvey.compare._common import (
    ALL,
    CompareError,
    as_list,
    numeric_column,
    require_columns,
    text_sort_key,
)


def _groups(data: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.Index]:
    """Each row's group number (groups in sorted key order) and the groups' keys: found once
    for every scale, as grouping by text keys costs more than the sums."""
    g = data[keys].groupby(keys, sort=True, observed=True)
    return g.ngroup().to_numpy(), g.size().index


def _moments(data: pd.DataFrame, scale: str, keys: list[str],
             groups: tuple[np.ndarray, pd.Index] | None = None) -> pd.DataFrame:
    """Per group: n (rows), n_valid, mean and centred sum of squares M2 of ``scale``
    (``groups``: from :func:`_groups`, when several scales share them)."""
    y = numeric_column(data, scale)
    if groups is None:
        frame = data[keys].copy()
        by: list[str] | np.ndarray = keys
    else:
        frame, by = pd.DataFrame(index=data.index), groups[0]
    frame["_y"] = y
    frame["_y2"] = y * y
    g = frame.groupby(by, sort=True, observed=True)
    out = pd.DataFrame(
        {"n": g.size(), "n_valid": g["_y"].count(), "sum": g["_y"].sum(), "sumsq": g["_y2"].sum()}
    )
    if groups is not None:
        out.index = groups[1]
    out["mean"] = out["sum"] / out["n_valid"].where(out["n_valid"] > 0)
    # Centred within each group: sumsq - n mean^2 is exact enough per group (small groups).
    out["m2"] = (out["sumsq"] - out["n_valid"] * out["mean"] ** 2).clip(lower=0)
    return out.drop(columns=["sum", "sumsq"]).reset_index()


def _combine(parts: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Pool group moments (n, n_valid, mean, m2) within ``by`` (all rows when ``by`` is empty)."""
    keys = by or ["_all"]
    p = parts.assign(_all=0, _s=parts["mean"].fillna(0) * parts["n_valid"])
    tot = p.groupby(keys, sort=True)[["n", "n_valid", "_s"]].sum()
    tot["mean"] = tot["_s"] / tot["n_valid"].where(tot["n_valid"] > 0)
    pooled_mean = p[keys].merge(tot["mean"].reset_index(), on=keys, how="left")["mean"]
    between = p["n_valid"] * (p["mean"].fillna(0) - pooled_mean.to_numpy()) ** 2
    p = p.assign(_m2=p["m2"].fillna(0) + between.fillna(0))
    tot["m2"] = p.groupby(keys, sort=True)["_m2"].sum()
    tot = tot.drop(columns=["_s"]).reset_index()
    return tot.drop(columns=["_all"]) if not by else tot


def _t_ci(mean, sd, n, level):
    with np.errstate(invalid="ignore", divide="ignore"):
        crit = t_ppf(0.5 + level / 2, n - 1)
        half = crit * sd / np.sqrt(n)
    return mean - half, mean + half


def benchmark_organisations(
    data: pd.DataFrame,
    scales: str | Sequence[str],
    *,
    org: str = "org",
    wave: str | None = None,
    min_cell: int = 10,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Each organisation's mean against the field without it (leave-one-out).

    Parameters
    ----------
    data : DataFrame
        One row per respondent with scale scores and the organisation column.
    scales : str or list of str
    org : str
        Organisation column.
    wave : str, optional
        Benchmark each wave separately (the field is then the same wave's other organisations).
    min_cell : int
        Organisations with fewer valid scores take no part in the percentile ranking (their
        rank would be noise and their mean is not shown); all numbers are still computed and
        marked with ``n``/``n_valid`` for the disclosure gate, and ``reportable`` says
        whether ``n_valid >= min_cell``.
    ci : float
        Confidence level.

    Returns
    -------
    DataFrame
        One row per (wave x) organisation x scale plus field rows (``org`` NA, everyone):
        ``org``, ``wave``, ``scale``, ``n`` (respondents), ``n_valid``, ``mean``, ``sd``,
        ``ci_low``, ``ci_high``; against the rest of the field: ``field_n_valid``,
        ``field_mean``, ``field_sd``, ``diff`` (org minus rest), ``diff_ci_low``,
        ``diff_ci_high``, ``t``, ``df`` (Welch-Satterthwaite), ``p``, ``std_diff`` (diff over the
        pooled SD of org and rest), ``percentile_rank`` (0-100, share of ranked organisations
        with a lower mean, ties and itself counted half), ``n_ranked``, ``reportable``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"org": ["A"] * 3 + ["B"] * 3, "x": [1.0, 2, 3, 5, 6, 7]})
    >>> b = benchmark_organisations(d, "x", min_cell=2)
    >>> b[["org", "mean", "field_mean", "diff"]]
        org  mean  field_mean  diff
    0     A   2.0         6.0  -4.0
    1     B   6.0         2.0   4.0
    2  <NA>   4.0         NaN   NaN
    """
    scales, keys = _unit_keys(data, scales, org, wave)
    if not 0 < ci < 1:
        raise CompareError(f"ci must be between 0 and 1, got {ci}")
    frames = []
    wave_keys = [wave] if wave else []
    groups = _groups(data, keys)
    for scale in scales:
        per_org = _moments(data, scale, keys, groups)
        field = _combine(per_org, wave_keys)
        field_cols = field.rename(columns={"n": "_N", "n_valid": "_Nv", "mean": "_M", "m2": "_M2"})
        d = (
            per_org.merge(field_cols, on=wave_keys, how="left")
            if wave
            else per_org.merge(field_cols, how="cross")
        )
        n_j, m_j, m2_j = d["n_valid"].to_numpy(float), d["mean"].to_numpy(), d["m2"].to_numpy()
        n_r = d["_Nv"].to_numpy(float) - n_j
        with np.errstate(invalid="ignore", divide="ignore"):
            m_r = (d["_Nv"] * d["_M"] - np.nan_to_num(m_j) * n_j).to_numpy() / n_r
            m2_r = d["_M2"].to_numpy() - m2_j - n_j * n_r / d["_Nv"].to_numpy() * (m_j - m_r) ** 2
            v_j = m2_j / (n_j - 1)
            v_r = np.clip(m2_r, 0, None) / (n_r - 1)
            se = np.sqrt(v_j / n_j + v_r / n_r)
            df = (v_j / n_j + v_r / n_r) ** 2 / (
                (v_j / n_j) ** 2 / (n_j - 1) + (v_r / n_r) ** 2 / (n_r - 1)
            )
            diff = m_j - m_r
            t = diff / se
            crit = t_ppf(0.5 + ci / 2, df)
            pooled = np.sqrt((m2_j + np.clip(m2_r, 0, None)) / (n_j + n_r - 2))
        sd_j = np.sqrt(v_j)
        lo, hi = _t_ci(m_j, sd_j, n_j, ci)
        out = d[keys].copy()
        out["scale"] = scale
        out["n"] = d["n"].to_numpy()
        out["n_valid"] = d["n_valid"].to_numpy()
        out["mean"], out["sd"], out["ci_low"], out["ci_high"] = m_j, sd_j, lo, hi
        out["field_n_valid"] = n_r.astype(np.int64)
        out["field_mean"], out["field_sd"] = m_r, np.sqrt(v_r)
        out["diff"], out["diff_ci_low"], out["diff_ci_high"] = (
            diff,
            diff - crit * se,
            diff + crit * se,
        )
        out["t"], out["df"] = t, df
        out["p"] = 2 * t_sf(np.abs(t), df)
        out["std_diff"] = diff / pooled
        out["reportable"] = out["n_valid"] >= min_cell
        ranked = out["mean"].where(out["reportable"])
        grp = ranked.groupby([out[k] for k in wave_keys]) if wave else None
        rank = grp.rank(method="average") if grp is not None else ranked.rank(method="average")
        count = (
            grp.transform("count")
            if grp is not None
            else pd.Series(ranked.count(), index=ranked.index)
        )
        out["percentile_rank"] = 100 * (rank - 0.5) / count
        out["n_ranked"] = count.astype(np.int64)
        total = field.copy()
        total[org] = ALL
        total["scale"] = scale
        total["sd"] = np.sqrt(total["m2"] / (total["n_valid"] - 1))
        total["ci_low"], total["ci_high"] = _t_ci(total["mean"], total["sd"], total["n_valid"], ci)
        total["reportable"] = total["n_valid"] >= min_cell
        frames += [out, total.drop(columns=["m2"])]
    result = pd.concat(frames, ignore_index=True)
    cols = keys + [
        "scale",
        "n",
        "n_valid",
        "mean",
        "sd",
        "ci_low",
        "ci_high",
        "field_n_valid",
        "field_mean",
        "field_sd",
        "diff",
        "diff_ci_low",
        "diff_ci_high",
        "t",
        "df",
        "p",
        "std_diff",
        "percentile_rank",
        "n_ranked",
        "reportable",
    ]
    result = result[cols]
    result[org] = result[org].astype(object).where(result[org].notna(), ALL)
    order = ([wave] if wave else []) + ["scale"]
    result["_field"] = result[org].isna()
    result = result.sort_values([*order, "_field", org], kind="stable", key=text_sort_key)
    return result.drop(columns="_field").reset_index(drop=True)


def _check_units(data: pd.DataFrame, keys: list[str]) -> None:
    for k in keys:
        missing = data[k].isna().to_numpy()
        if missing.any():
            raise CompareError(
                f"column {k!r} is missing at row {data.index[missing.argmax()]!r}; "
                "every respondent needs an organisation (and wave)"
            )


def _unit_keys(
    data: pd.DataFrame, columns: str | Sequence[str], org: str, wave: str | None
) -> tuple[list[str], list[str]]:
    """``columns`` as a list and the unit keys (``[wave,] org``), once every column exists and
    every respondent has a unit."""
    columns = as_list(columns)
    keys = ([wave] if wave else []) + [org]
    require_columns(data, [*keys, *columns])
    _check_units(data, keys)
    return columns, keys


def _wave_moments(
    data: pd.DataFrame, scales: list[str], keys: list[str], wave: str | None, min_valid: int
) -> Iterator[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """Per scale (and wave): the organisations' moments with at least ``min_valid`` scores, and
    the start of their output rows (unit keys, ``scale``, ``n``, ``n_valid``)."""
    groups = _groups(data, keys)
    for scale in scales:
        mom = _moments(data, scale, keys, groups)
        mom = mom.loc[mom["n_valid"] >= min_valid]
        for _, part in mom.groupby(wave, sort=True) if wave else [(None, mom)]:
            out = part[keys + ["n", "n_valid"]].reset_index(drop=True)
            out.insert(len(keys), "scale", scale)
            yield scale, part, out


def _stack_org_rows(frames: list[pd.DataFrame], org: str) -> pd.DataFrame:
    """The per-part frames as one, with the "everyone" marker in the organisation column."""
    out = pd.concat(frames, ignore_index=True)
    out[org] = out[org].astype(object).where(out[org].notna(), ALL)
    return out


def benchmark_bands(
    data: pd.DataFrame,
    bands: str | Sequence[str],
    *,
    org: str = "org",
    wave: str | None = None,
    order: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """Band (or any category) distribution of each organisation against the rest of the field.

    Parameters
    ----------
    data : DataFrame
    bands : str or list of str
        Band columns, e.g. ``"burnout_band"``.
    org, wave : str
    order : mapping, optional
        Category order per band column. Default: by the mean of the underlying score
        (``burnout`` for ``burnout_band``) when present, else alphabetical.

    Returns
    -------
    DataFrame
        One row per (wave x) organisation x band column x category, plus field rows (``org``
        NA): ``variable``, ``category``, ``n`` (org respondents in the category),
        ``n_org`` (org respondents with a band), ``pct``, ``field_n`` and ``field_total`` (the
        rest of the field), ``field_pct``, ``diff_pct`` (percentage points, org minus rest).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"org": list("AABB"), "b": ["Low", "High", "Low", "Low"]})
    >>> benchmark_bands(d, "b", order={"b": ["Low", "High"]})[["org", "category", "pct"]]
        org category    pct
    0     A      Low   50.0
    1     A     High   50.0
    2     B      Low  100.0
    3     B     High    0.0
    4  <NA>      Low   75.0
    5  <NA>     High   25.0
    """
    bands, keys = _unit_keys(data, bands, org, wave)
    frames = []
    for band in bands:
        cats = _category_order(data, band, (order or {}).get(band))
        valid = data.loc[data[band].notna(), keys + [band]]
        counts = valid.groupby(keys + [band], observed=True).size()
        units = data[keys].drop_duplicates().sort_values(keys)
        idx = pd.MultiIndex.from_frame(units.merge(pd.DataFrame({band: cats}), how="cross"))
        full = counts.reindex(idx, fill_value=0).rename("n").reset_index()
        full["n_org"] = full.groupby(keys)["n"].transform("sum")
        wk = ([wave] if wave else []) + [band]
        full["_field_cat"] = full.groupby(wk)["n"].transform("sum")
        full["_field_all"] = full.groupby([wave])["n"].transform("sum") if wave else full["n"].sum()
        full["field_n"] = full["_field_cat"] - full["n"]
        full["field_total"] = full["_field_all"] - full["n_org"]
        with np.errstate(invalid="ignore", divide="ignore"):
            full["pct"] = 100 * full["n"] / full["n_org"].where(full["n_org"] > 0)
            full["field_pct"] = (
                100 * full["field_n"] / full["field_total"].where(full["field_total"] > 0)
            )
        full["diff_pct"] = full["pct"] - full["field_pct"]
        tot = full.groupby(wk, sort=False)[["n"]].sum().reset_index()
        tot["n_org"] = tot.groupby([wave])["n"].transform("sum") if wave else tot["n"].sum()
        tot["pct"] = 100 * tot["n"] / tot["n_org"]
        tot[org] = ALL
        part = pd.concat([full, tot], ignore_index=True).rename(columns={band: "category"})
        part["variable"] = band
        frames.append(part)
    out = pd.concat(frames, ignore_index=True)
    cols = keys + [
        "variable",
        "category",
        "n",
        "n_org",
        "pct",
        "field_n",
        "field_total",
        "field_pct",
        "diff_pct",
    ]
    out = out[cols]
    out[org] = out[org].astype(object).where(out[org].notna(), ALL)
    return out


def _category_order(data: pd.DataFrame, band: str, given: Sequence[str] | None) -> list:
    present = list(pd.unique(data[band].dropna()))
    if given is not None:
        unknown = [c for c in present if c not in given]
        if unknown:
            raise CompareError(f"column {band!r} has categories {unknown} not in the given order")
        return list(given)
    if isinstance(data[band].dtype, pd.CategoricalDtype):
        return list(data[band].cat.categories)
    base = band.removesuffix("_band")
    if base != band and base in data.columns:
        means = pd.Series(numeric_column(data, base), index=data.index).groupby(data[band]).mean()
        return list(means.sort_values().index)
    return sorted(present, key=str)


def organisation_trend(
    data: pd.DataFrame,
    scales: str | Sequence[str],
    *,
    org: str = "org",
    wave: str = "wave",
    ci: float = 0.95,
) -> pd.DataFrame:
    """Per organisation x wave means and the change since the organisation's previous wave.

    Waves are treated as independent samples (staff surveys are usually anonymous, so the same
    person cannot be linked across waves): the change has a Welch interval.

    Returns
    -------
    DataFrame
        One row per organisation x wave x scale, plus field rows (``org`` NA): ``n``,
        ``n_valid``, ``mean``, ``sd``, ``previous_wave``, ``change``, ``change_ci_low``,
        ``change_ci_high``, ``p``; and one row per organisation x scale with ``wave`` NA giving
        the change from the first wave (``previous_wave``) to the last; its ``n`` counts the
        organisation's respondents in all waves and ``mean``/``sd`` are empty.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"org": ["A"] * 4, "wave": [1, 1, 2, 2], "x": [1.0, 3, 4, 6]})
    >>> t = organisation_trend(d, "x")
    >>> t.loc[t["org"].notna(), ["wave", "n", "mean", "change"]]
       wave  n  mean  change
    2     1  2   2.0     NaN
    3     2  2   5.0     3.0
    5  <NA>  4   NaN     3.0
    """
    scales = as_list(scales)
    require_columns(data, [org, wave, *scales])
    _check_units(data, [org, wave])
    frames = []
    groups = _groups(data, [org, wave])
    for scale in scales:
        per = _moments(data, scale, [org, wave], groups)
        field = _combine(per, [wave])
        field[org] = ALL
        both = pd.concat([per, field], ignore_index=True)
        both["_unit"] = both[org].astype(object).where(both[org].notna(), "\0field")
        both = both.sort_values(["_unit", wave]).reset_index(drop=True)
        both = both.loc[both["n_valid"] > 0].reset_index(drop=True)
        both["sd"] = np.sqrt(both["m2"] / (both["n_valid"] - 1))
        prev = both.groupby("_unit")[[wave, "n_valid", "mean", "sd"]].shift(1)
        first = both.groupby("_unit")[[wave, "n_valid", "mean", "sd"]].transform("first")
        both["previous_wave"] = prev[wave]
        both = _change(both, prev, ci)
        last = both.groupby("_unit").tail(1).copy()
        last = last.loc[last[wave] != first.loc[last.index, wave]]
        overall = _change(
            last.assign(previous_wave=first.loc[last.index, wave]), first.loc[last.index], ci
        )
        # The change row describes the unit over all its waves: count everyone in them.
        overall["n"] = both.groupby("_unit")["n"].transform("sum").loc[last.index].to_numpy()
        overall["n_valid"] = (
            last["n_valid"].to_numpy() + first.loc[last.index, "n_valid"].to_numpy()
        )
        overall[["mean", "sd"]] = np.nan
        overall[wave] = ALL
        part = pd.concat([both, overall], ignore_index=True)
        part["scale"] = scale
        frames.append(part)
    out = pd.concat(frames, ignore_index=True)
    cols = [
        org,
        wave,
        "scale",
        "n",
        "n_valid",
        "mean",
        "sd",
        "previous_wave",
        "change",
        "change_ci_low",
        "change_ci_high",
        "p",
    ]
    out = out[cols]
    out[org] = out[org].astype(object).where(out[org].notna(), ALL)
    out[wave] = out[wave].astype(object).where(out[wave].notna(), ALL)
    return out


def _change(cur: pd.DataFrame, prev: pd.DataFrame, ci: float) -> pd.DataFrame:
    cur = cur.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        a = cur["sd"].to_numpy() ** 2 / cur["n_valid"].to_numpy()
        b = prev["sd"].to_numpy() ** 2 / prev["n_valid"].to_numpy()
        se = np.sqrt(a + b)
        df = (a + b) ** 2 / (
            a**2 / (cur["n_valid"].to_numpy() - 1) + b**2 / (prev["n_valid"].to_numpy() - 1)
        )
        change = cur["mean"].to_numpy() - prev["mean"].to_numpy()
        crit = t_ppf(0.5 + ci / 2, df)
        cur["change"] = change
        cur["change_ci_low"] = change - crit * se
        cur["change_ci_high"] = change + crit * se
        cur["p"] = 2 * t_sf(np.abs(change / se), df)
    return cur
