"""The statistics of each single-level test kind of an analysis plan.

One function per kind, each returning a :class:`Estimate` (estimate, interval, n,
organisations, p) or raising :class:`NotComputable` with the reason shown to users:
``hierarchical_regression`` (:func:`hierarchical`), ``regression`` (:func:`regression`),
``mann_whitney`` and ``welch_t`` (:func:`two_groups`). The formulas are in
:mod:`fieldsurvey.reproduce.plan`; the multilevel kinds are
:mod:`fieldsurvey.reproduce.plan_multilevel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from fieldsurvey.reproduce.plan_schema import Groups, Plan, PlanTest

__all__ = ["NotComputable", "Estimate", "design", "hierarchical", "numeric", "regression",
           "require", "two_groups"]


class NotComputable(Exception):  # noqa: N818 - a reason shown to users
    """A test that cannot be computed on these data; the message says why."""


@dataclass
class Estimate:
    """What a test computed: effect estimate, interval, n, organisations, p."""

    estimate: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int | None = None
    n_orgs: int | None = None
    p: float = math.nan
    detail: str = ""


def require(data: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in dict.fromkeys(columns) if c not in data.columns]
    if missing:
        raise NotComputable(f"column(s) missing from the study: {', '.join(missing)}")


def numeric(data: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(data[column], errors="coerce").astype(float)


def design(
    data: pd.DataFrame,
    plan: Plan,
    outcome: str,
    predictors: list[str],
    covariates: dict[str, str],
    min_cell: int,
    *,
    keep_binary: bool = False,
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, int]:
    """Complete cases, z-scored numeric columns, dummy-coded categories (most common = reference).

    Returns y, X (intercept, predictors, covariate columns), names, organisation codes and the
    number of predictor columns. With ``keep_binary`` a 0/1 predictor stays 0/1, so its
    coefficient is a difference in outcome SDs.
    """
    org = plan.organisation
    require(data, [outcome, *predictors, *covariates, org])
    frame = pd.DataFrame({c: numeric(data, c) for c in [outcome, *predictors]})
    for c, kind in covariates.items():
        frame[c] = numeric(data, c) if kind == "numeric" else data[c].astype(object)
    frame[org] = data[org].astype(object)
    frame = frame.dropna()
    if len(frame) < max(min_cell, 10):
        raise NotComputable(f"fewer than {max(min_cell, 10)} complete cases (min_cell)")

    def z(v: pd.Series) -> np.ndarray:
        x = v.to_numpy(float)
        sd = x.std()
        return (x - x.mean()) / sd if sd > 0 else x - x.mean()

    def scaled(c: str) -> np.ndarray:
        binary = keep_binary and set(frame[c].unique()) <= {0.0, 1.0}
        return frame[c].to_numpy(float) if binary else z(frame[c])

    columns = [np.ones(len(frame))] + [scaled(c) for c in predictors]
    names = ["intercept", *predictors]
    for c, kind in covariates.items():
        if kind == "numeric":
            columns.append(z(frame[c]))
            names.append(c)
            continue
        levels = frame[c].map(str).value_counts()
        for level in sorted(levels.index[1:]):
            columns.append((frame[c].map(str) == level).to_numpy(float))
            names.append(f"{c}[{level}]")
    codes, _ = pd.factorize(frame[org], sort=True)
    return z(frame[outcome]), np.column_stack(columns), names, codes, len(predictors)


def regression(data: pd.DataFrame, plan: Plan, test: PlanTest, min_cell: int) -> Estimate:
    covariates = test.covariates if test.covariates is not None else plan.covariates
    predictors = [str(test.predictor), *test.controls]
    from fieldsurvey.compare import cluster_ols  # the compare stage is heavy: import on use

    y, x, _, groups, _ = design(data, plan, str(test.outcome), predictors, covariates, min_cell)
    fit = cluster_ols(y, x, groups)
    b, se, df = float(fit["coef"][1]), float(fit["se"][1]), int(fit["df"])
    if not df or not math.isfinite(se) or se <= 0:
        raise NotComputable("clustered standard errors need at least 2 organisations")
    q = stats.t.ppf(0.5 + plan.confidence / 2, df)
    p = float(2 * stats.t.sf(abs(b / se), df))
    return Estimate(b, b - q * se, b + q * se, int(fit["n"]), int(fit["n_groups"]), p)


def hierarchical(
    data: pd.DataFrame,
    plan: Plan,
    test: PlanTest,
    min_cell: int,
    reps: int,
    rng: np.random.Generator,
) -> Estimate:
    covariates = test.covariates if test.covariates is not None else plan.covariates
    y, x, _, groups, k = design(
        data, plan, str(test.outcome), list(test.predictors), covariates, min_cell
    )
    full = np.arange(x.shape[1])
    reduced = np.array([0, *range(1 + k, x.shape[1])])
    n_orgs = int(groups.max()) + 1
    # Per-organisation sufficient statistics make each bootstrap replicate a weighted sum.
    xtx = np.einsum("ni,nj->nij", x, x)
    xtx_g = np.zeros((n_orgs, x.shape[1], x.shape[1]))
    np.add.at(xtx_g, groups, xtx)
    xty_g = np.zeros((n_orgs, x.shape[1]))
    np.add.at(xty_g, groups, x * y[:, None])
    yy_g = np.bincount(groups, y * y, n_orgs)
    ys_g = np.bincount(groups, y, n_orgs)
    n_g = np.bincount(groups, minlength=n_orgs).astype(float)

    def delta(w: np.ndarray) -> float:
        a, b = np.tensordot(w, xtx_g, 1), w @ xty_g
        yy, ys, n = w @ yy_g, w @ ys_g, w @ n_g
        sst = yy - ys * ys / n
        out = []
        for cols in (full, reduced):
            coef = np.linalg.lstsq(a[np.ix_(cols, cols)], b[cols], rcond=None)[0]
            out.append(1 - (yy - coef @ b[cols]) / sst)
        return float(out[0] - out[1])

    estimate = delta(np.ones(n_orgs))
    boot = np.array(
        [delta(rng.multinomial(n_orgs, np.full(n_orgs, 1 / n_orgs))) for _ in range(reps)]
    )
    a = (1 - plan.confidence) / 2
    lo, hi = np.quantile(boot, [a, 1 - a])
    p = _block_wald_p(y, x, groups, np.arange(1, 1 + k))
    return Estimate(estimate, float(lo), float(hi), len(y), n_orgs, p)


def _block_wald_p(y: np.ndarray, x: np.ndarray, groups: np.ndarray, block: np.ndarray) -> float:
    """p of a cluster-robust (CR1) Wald test that a block of coefficients is zero, F(q, G - 1).

    Written here because :func:`fieldsurvey.compare.cluster_ols` returns SEs, not the full
    covariance matrix the joint test needs; the CR1 factor is the same.
    """
    n, k = x.shape
    g = int(groups.max()) + 1
    q = block.size
    if g - 1 < q:
        return math.nan
    xtx_inv = np.linalg.pinv(x.T @ x)
    coef = xtx_inv @ (x.T @ y)
    resid = y - x @ coef
    scores = np.zeros((g, k))
    np.add.at(scores, groups, x * resid[:, None])
    cov = g / (g - 1) * (n - 1) / (n - k) * xtx_inv @ (scores.T @ scores) @ xtx_inv
    b = coef[block]
    wald = float(b @ np.linalg.pinv(cov[np.ix_(block, block)]) @ b)
    return float(stats.f.sf(wald / q, q, g - 1))


def _group_rows(data: pd.DataFrame, groups: Groups) -> tuple[np.ndarray, np.ndarray]:
    def key(v: object) -> str:
        try:
            x = float(v)  # type: ignore[arg-type]
            return str(int(x)) if x.is_integer() else repr(x)
        except (TypeError, ValueError):
            return str(v)

    labels = data[groups.column].map(lambda v: "" if pd.isna(v) else key(v))
    return (labels == key(groups.first)).to_numpy(), (labels == key(groups.second)).to_numpy()


def two_groups(
    data: pd.DataFrame,
    plan: Plan,
    test: PlanTest,
    min_cell: int,
    reps: int,
    rng: np.random.Generator,
) -> Estimate:
    assert test.groups is not None and test.variable is not None
    org = plan.organisation
    require(data, [test.variable, test.groups.column, org])
    first, second = _group_rows(data, test.groups)
    values = numeric(data, test.variable)
    valid = values.notna().to_numpy() & data[org].notna().to_numpy()
    first, second = first & valid, second & valid
    _gate_groups(first, second, min_cell, test)
    a, b = values[first].to_numpy(), values[second].to_numpy()
    n = int(a.size + b.size)
    n_orgs = int(data.loc[first | second, org].nunique())
    detail = ""
    if test.kind == "welch_t":
        from fieldsurvey.compare import welch_two_groups

        res = welch_two_groups(a, b, plan.confidence)
        return Estimate(
            res["effect"], res["effect_ci_low"], res["effect_ci_high"], n, n_orgs, res["p"], detail
        )
    # Cliff's delta from per-organisation counts of each ordinal level: a bootstrap replicate
    # over organisations is then a weighted sum of count tables.
    levels = np.unique(np.concatenate([a, b]))
    codes, _ = pd.factorize(data.loc[first | second, org], sort=True)
    rows = np.flatnonzero(first | second)
    level_idx = np.searchsorted(levels, values.to_numpy()[rows])
    in_first = first[rows]
    counts = np.zeros((codes.max() + 1, 2, levels.size))
    np.add.at(counts, (codes, np.where(in_first, 0, 1), level_idx), 1)

    def delta(w: np.ndarray) -> float:
        ca, cb = w @ counts[:, 0, :], w @ counts[:, 1, :]
        below_b = np.concatenate([[0.0], np.cumsum(cb)[:-1]])
        above_b = cb.sum() - np.cumsum(cb)
        total = ca.sum() * cb.sum()
        return float((ca @ below_b - ca @ above_b) / total) if total else math.nan

    g = counts.shape[0]
    estimate = delta(np.ones(g))
    boot = np.array([delta(rng.multinomial(g, np.full(g, 1 / g))) for _ in range(reps)])
    boot = boot[~np.isnan(boot)]
    q = (1 - plan.confidence) / 2
    lo, hi = np.quantile(boot, [q, 1 - q])
    p = float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    return Estimate(estimate, float(lo), float(hi), n, n_orgs, p, detail)


def _gate_groups(first: np.ndarray, second: np.ndarray, min_cell: int, test: PlanTest) -> None:
    """A comparison with a group under the minimum cell size is not computed at all.

    Whether a computed test may be shown is for the disclosure gate (its sources are the two
    groups); the reason given here says nothing about how small the group is.
    """
    if int(first.sum()) < min_cell or int(second.sum()) < min_cell:
        assert test.groups is not None
        raise NotComputable(
            f"a group of {test.groups.column} is too small to show safely (minimum cell size "
            f"{min_cell})"
        )
