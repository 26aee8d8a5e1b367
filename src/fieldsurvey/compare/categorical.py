"""Bands and other categories by group: distributions, chi-square or Fisher's exact, Cramer's V.

Test choice, per table of valid answers (group x category, empty rows/columns dropped):

* 2 x 2: Fisher's exact test (``scipy.stats.fisher_exact``), always;
* larger, with an expected count below 5: Fisher's exact test for r x c tables by Monte Carlo
  (``scipy.stats.fisher_exact`` with ``MonteCarloMethod``, 9,999 tables, fixed seed so results
  are reproducible);
* otherwise Pearson's chi-square (``pingouin.chi2_independence``, its ``"pearson"`` row).

Cramer's V is always ``sqrt(chi2 / (N (min(r, c) - 1)))`` with the *uncorrected* Pearson
chi-square (pingouin applies Yates' correction to 2 x 2 tables; we do not, so V is comparable
across table shapes).
"""

from __future__ import annotations

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
    require_columns,
)

#: pingouin 0.7.0 columns of the chi2_independence statistics table read here (tested).
PG_CHI2_COLUMNS = ("test", "chi2", "dof", "pval", "cramer")
_MONTE_CARLO_TABLES = 9_999


def category_distribution(
    data: pd.DataFrame,
    variable: str,
    by: str,
    *,
    within: str | None = None,
    groups: Sequence | None = None,
) -> pd.DataFrame:
    """Counts and proportions of each category of ``variable`` in each group.

    Parameters
    ----------
    data : DataFrame
    variable : str
        A band or category column (e.g. ``"burnout_band"``, ``"wf_payband"``).
    by : str
        Grouping column.
    within : str, optional
        Repeat inside each level of this unit column (e.g. ``"org"``).
    groups : sequence, optional
        Groups to give rows to (default: every group present). Respondents outside them (or
        with a missing group) still count in the "everyone" rows.

    Returns
    -------
    DataFrame
        One row per (unit x) group x category: ``within`` (NA = whole field), ``by`` (NA =
        everyone, whatever their group), ``variable`` (the category; these define the
        respondent set), ``n`` (respondents in the set with that category), ``n_group``
        (respondents in the set with any category) and ``proportion`` = n / n_group.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"g": ["a", "a", "b", "b"], "band": ["Low", "High", "Low", "Low"]})
    >>> category_distribution(d, "band", "g")[["g", "band", "n", "proportion"]]
          g  band  n  proportion
    0     a  High  1        0.50
    1     a   Low  1        0.50
    2     b  High  0        0.00
    3     b   Low  2        1.00
    4  <NA>  High  1        0.25
    5  <NA>   Low  3        0.75
    """
    cols = [variable, by] + ([within] if within else [])
    require_columns(data, cols)
    frame = data[cols]
    if within:
        frame = frame.loc[frame[within].notna()]
    frame = frame.loc[frame[variable].notna()]
    if isinstance(data[variable].dtype, pd.CategoricalDtype):
        categories = list(data[variable].cat.categories)  # declared order, empty ones too
    else:
        categories = sorted(pd.unique(frame[variable]), key=_sort_key)
    present = sorted(pd.unique(frame[by].dropna()), key=_sort_key)
    labels = list(groups) if groups is not None else present
    in_group = frame.loc[frame[by].isin(labels) & frame[by].notna()]
    everyone = frame.assign(**{by: _EVERYONE})
    parts = []
    for unit in [None, within] if within else [None]:
        keys = [unit] if unit else []
        unit_values = sorted(pd.unique(frame[within]), key=_sort_key) if unit else []
        for source, group_values in ((in_group, labels), (everyone, [_EVERYONE])):
            counts = source.groupby([*keys, by, variable], observed=True).size()
            index = pd.MultiIndex.from_product(
                ([unit_values] if unit else []) + [group_values, categories],
                names=[*keys, by, variable],
            )
            table = counts.reindex(index, fill_value=0).rename("n").reset_index()
            table["n_group"] = table.groupby([*keys, by])["n"].transform("sum")
            if within and not unit:
                table.insert(0, within, ALL)
            parts.append(table)
    out = pd.concat(parts, ignore_index=True)
    out = out.loc[out["n_group"] > 0].reset_index(drop=True)
    out["proportion"] = out["n"] / out["n_group"]
    out[by] = out[by].astype(object).where(out[by] != _EVERYONE, ALL)
    if within:
        out[within] = out[within].astype(object).where(out[within].notna(), ALL)
        out = field_rows_first(out, within)
    return out[([within] if within else []) + [by, variable, "n", "n_group", "proportion"]]


_EVERYONE = "\0everyone"


def _sort_key(value: object) -> tuple:
    return (0, value, "") if isinstance(value, int | float | np.number) else (1, 0, str(value))


def independence_test(table: np.ndarray) -> dict[str, object]:
    """Fisher's exact or Pearson's chi-square test of a contingency table, with Cramer's V.

    Parameters
    ----------
    table : 2-D array of counts (rows: groups, columns: categories)

    Returns
    -------
    dict
        ``test`` ("fisher_exact", "fisher_exact_monte_carlo" or "chi_square"), ``statistic``
        (chi-square, or the odds ratio for 2 x 2 Fisher), ``dof``, ``p``, ``cramers_v``,
        ``min_expected``.

    Examples
    --------
    >>> import numpy as np
    >>> r = independence_test(np.array([[8, 2], [1, 5]]))
    >>> r["test"], round(r["p"], 4)
    ('fisher_exact', 0.035)
    """
    table = np.asarray(table, dtype=np.int64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    r, c = table.shape
    out = {
        "test": pd.NA,
        "statistic": np.nan,
        "dof": np.nan,
        "p": np.nan,
        "cramers_v": np.nan,
        "min_expected": np.nan,
    }
    if r < 2 or c < 2:
        return out
    n = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    out.update(
        dof=float((r - 1) * (c - 1)),
        min_expected=float(expected.min()),
        cramers_v=float(np.sqrt(chi2 / (n * (min(r, c) - 1)))),
    )
    if (r, c) == (2, 2):
        res = stats.fisher_exact(table)
        out.update(test="fisher_exact", statistic=float(res.statistic), p=float(res.pvalue))
    elif expected.min() < 5:
        method = stats.MonteCarloMethod(
            n_resamples=_MONTE_CARLO_TABLES, rng=np.random.default_rng(20260)
        )
        res = stats.fisher_exact(table, method=method)
        out.update(test="fisher_exact_monte_carlo", statistic=chi2, p=float(res.pvalue))
    else:
        long = pd.DataFrame(
            {
                "row": np.repeat(np.repeat(np.arange(r), c), table.ravel()),
                "col": np.repeat(np.tile(np.arange(c), r), table.ravel()),
            }
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, _, st = pg.chi2_independence(long, "row", "col", correction=False)
        pearson = st.loc[st["test"] == "pearson"].iloc[0]
        out.update(
            test="chi_square",
            statistic=float(pearson["chi2"]),
            p=float(pearson["pval"]),
            cramers_v=float(pearson["cramer"]),
        )
    return out


def compare_categories(
    data: pd.DataFrame,
    variables: str | Sequence[str],
    by: str,
    *,
    within: str | None = None,
    correction: str = "holm",
) -> pd.DataFrame:
    """Test whether the category distribution of each variable differs between groups.

    Parameters
    ----------
    data : DataFrame
    variables : str or list of str
        Band or category columns.
    by : str
        Grouping column.
    within : str, optional
        Repeat inside each level of this unit column.
    correction : {"holm", "fdr_bh"}
        Correction over the variables within each unit.

    Returns
    -------
    DataFrame
        One row per (unit x) variable: ``within``, ``by`` (NA), ``variable``, ``n``
        (everyone in the unit), ``n_valid`` (with a group and a category), ``test``,
        ``statistic``, ``dof``, ``p``, ``p_adj``, ``cramers_v``, ``min_expected``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"g": list("aaaaabbbbb"), "band": list("LLLLHHHHHL")})
    >>> compare_categories(d, "band", "g")[["variable", "test", "n_valid"]]
      variable          test  n_valid
    0     band  fisher_exact       10
    """
    variables = as_list(variables)
    require_columns(data, [*variables, by] + ([within] if within else []))
    frame = data.loc[data[within].notna()] if within else data
    rows = []
    for unit, part in field_and_units(frame, within):
        unit_rows = []
        for variable in variables:
            valid = part.loc[part[variable].notna() & part[by].notna()]
            table = pd.crosstab(valid[by], valid[variable]).to_numpy()
            row = {
                "variable": variable,
                "n": len(part),
                "n_valid": len(valid),
                **independence_test(table),
            }
            unit_rows.append({within: unit, by: ALL, **row} if within else {by: ALL, **row})
        adj = adjust_pvalues(np.array([r["p"] for r in unit_rows], dtype=float), correction)
        for r, a in zip(unit_rows, adj, strict=True):
            r["p_adj"] = a
        rows.extend(unit_rows)
    if not rows:
        raise CompareError(f"no respondents have a value in {by!r}")
    out = pd.DataFrame(rows)
    cols = ([within] if within else []) + [
        by,
        "variable",
        "n",
        "n_valid",
        "test",
        "statistic",
        "dof",
        "p",
        "p_adj",
        "cramers_v",
        "min_expected",
    ]
    out = out[cols]
    out[by] = pd.Series([ALL] * len(out), dtype=object)
    return out
