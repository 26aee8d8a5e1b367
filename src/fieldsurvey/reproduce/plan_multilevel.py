"""The multilevel test kinds of an analysis plan: organisations as units.

``cross_level``
    A staff-level outcome on a predictor that may be an organisation-level one (from the
    organisation profile, e.g. ``org_peer_or_survivor_led``), with the plan's individual
    covariates, in a linear model with a random intercept per organisation fitted by REML
    (:func:`fieldsurvey.compare.random_intercept`, pinned to R ``lme4::lmer``):

    .. math::

        y_{ij} = \\beta_0 + \\beta_1 x_j + \\gamma' z_{ij} + u_j + e_{ij},\\quad
        u_j \\sim N(0, \\tau^2),\\ e_{ij} \\sim N(0, \\sigma^2)

    The outcome and numeric predictors are z-scored over staff; a 0/1 predictor stays 0/1, so
    the effect is the difference in outcome SDs. The interval and p use the cluster-robust
    (CR1) sandwich of the REML estimate and t with ``G - 1 - L`` degrees of freedom (``G``
    organisations, ``L`` predictors constant within organisations): a between-organisation
    effect has no more information than there are organisations.
``organisation_regression``
    An organisation-level outcome (e.g. ``org_turnover``, leavers / staff) on an
    organisation-level predictor, or on the organisation's mean of a staff-level one (e.g. mean
    ``burnout``). Each variable is averaged per organisation and wave; with ``lag: 1`` the
    outcome is that of the organisation's next wave (so the wave-2 profile's leavers of the
    last 12 months follow wave-1 burnout); an organisation with several such pairs is averaged
    over them, so each organisation is one unit. OLS over organisations, both sides z-scored
    (effect in SD per SD), with HC3 standard errors (MacKinnon & White 1985; R
    ``sandwich::vcovHC(type = "HC3")``) and t with ``G - p`` degrees of freedom.

References
----------
Liang, K.-Y., & Zeger, S. L. (1986). Longitudinal data analysis using generalized linear
models. Biometrika, 73(1), 13-22.
MacKinnon, J. G., & White, H. (1985). Some heteroskedasticity-consistent covariance matrix
estimators with improved finite sample properties. Journal of Econometrics, 29(3), 305-325.
Snijders, T. A. B., & Bosker, R. J. (2012). Multilevel analysis (2nd ed.). Sage. (Ch. 3, 6.)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from fieldsurvey.reproduce.plan_schema import Plan, PlanTest
from fieldsurvey.reproduce.plan_tests import Estimate, NotComputable, design, numeric, require

__all__ = ["cross_level", "hc3_ols", "organisation_means", "organisation_regression"]

#: The study's wave column (staff rows and profiles are keyed by organisation and wave).
WAVE = "wave"


def cross_level(data: pd.DataFrame, plan: Plan, test: PlanTest, min_cell: int) -> Estimate:
    """A ``cross_level`` test: REML random-intercept coefficient with a CR1 interval."""
    from fieldsurvey.compare import random_intercept  # the compare stage is heavy: import on use

    covariates = test.covariates if test.covariates is not None else plan.covariates
    predictors = [str(test.predictor), *test.controls]
    y, x, _, groups, k = design(data, plan, str(test.outcome), predictors, covariates, min_cell,
                                keep_binary=True)
    n_orgs = int(groups.max()) + 1
    between = sum(_constant_within(x[:, j], groups) for j in range(1, 1 + k))
    df = n_orgs - 1 - between
    if df < 1 or np.ptp(x[:, 1]) == 0:
        raise NotComputable("the predictor does not vary, or there are too few organisations "
                            "for a cluster-robust interval")
    fit = random_intercept(y, x, groups, reml=True)
    b, se = float(fit["coef"][1]), float(fit["se_cr"][1])
    if not math.isfinite(se) or se <= 0:
        raise NotComputable("no cluster-robust standard error could be computed")
    q = stats.t.ppf(0.5 + plan.confidence / 2, df)
    p = float(2 * stats.t.sf(abs(b / se), df))
    detail = f"random intercept (REML): residual ICC {float(fit['icc']):.2f}, {df} df"
    return Estimate(b, b - q * se, b + q * se, len(y), n_orgs, p, detail)


def _constant_within(values: np.ndarray, groups: np.ndarray) -> bool:
    frame = pd.DataFrame({"v": values, "g": groups})
    return bool((frame.groupby("g")["v"].nunique() <= 1).all())


def organisation_means(data: pd.DataFrame, columns: list[str], org: str) -> pd.DataFrame:
    """Per organisation and wave: the mean of each column over the rows that have it, and
    ``n`` (rows). An organisation-level column is constant within its organisation and wave,
    so its mean is its value.

    Examples
    --------
    >>> d = pd.DataFrame({"org": ["A", "A", "B"], "wave": [1, 1, 1], "burnout": [2.0, 4, 3],
    ...                   "org_turnover": [0.2, 0.2, 0.1]})
    >>> organisation_means(d, ["burnout", "org_turnover"], "org").values.tolist()
    [['A', '1', 3.0, 0.2, 2], ['B', '1', 3.0, 0.1, 1]]
    """
    frame = pd.DataFrame({c: numeric(data, c) for c in columns})
    frame[org] = data[org].astype(str).to_numpy()
    frame[WAVE] = data[WAVE].astype(str).to_numpy() if WAVE in data else "1"
    grouped = frame.groupby([org, WAVE], sort=True)
    means = grouped[columns].mean()
    means["n"] = grouped.size()
    return means.reset_index()


def _wave_order(waves: pd.Series) -> dict[str, int]:
    """Waves in order: numerically when every wave is a number, else as text."""
    labels = sorted(set(waves))
    try:
        labels = sorted(labels, key=float)
    except ValueError:
        pass
    return {w: i for i, w in enumerate(labels)}


def _pairs(means: pd.DataFrame, outcome: str, predictors: list[str], org: str,
           lag: int) -> pd.DataFrame:
    """One row per organisation: its predictors at a wave and its outcome ``lag`` waves later,
    averaged over the organisation's pairs of waves."""
    order = _wave_order(means[WAVE])
    means = means.assign(_t=means[WAVE].map(order))
    later = means[[org, "_t", outcome]].assign(_t=lambda f: f["_t"] - lag)
    paired = means[[org, "_t", "n", *predictors]].merge(later, on=[org, "_t"], how="inner")
    paired = paired.dropna(subset=[outcome, *predictors])
    return paired.groupby(org, sort=True).agg(
        {**{c: "mean" for c in [outcome, *predictors]}, "n": "sum"})


def organisation_regression(data: pd.DataFrame, plan: Plan, test: PlanTest,
                            min_cell: int) -> Estimate:
    """An ``organisation_regression`` test: OLS over organisations with HC3 intervals."""
    org = plan.organisation
    outcome, predictors = str(test.outcome), [str(test.predictor), *test.controls]
    require(data, [outcome, *predictors, org])
    if test.lag and (WAVE not in data or data[WAVE].nunique() < 2):
        raise NotComputable(f"a lag of {test.lag} wave(s) needs a study with at least two waves")
    means = organisation_means(data, [outcome, *predictors], org)
    units = _pairs(means, outcome, predictors, org, test.lag)
    p = 1 + len(predictors)
    if len(units) - p < 2:
        raise NotComputable(f"only {len(units)} organisations with the outcome and predictors")

    def z(v: pd.Series) -> np.ndarray:
        x = v.to_numpy(float)
        sd = x.std()
        return (x - x.mean()) / sd if sd > 0 else x - x.mean()

    if units[predictors[0]].nunique() < 2:
        raise NotComputable("the predictor does not vary between organisations")
    x = np.column_stack([np.ones(len(units)), *(z(units[c]) for c in predictors)])
    fit = hc3_ols(z(units[outcome]), x)
    b, se, df = float(fit["coef"][1]), float(fit["se"][1]), int(fit["df"])
    q = stats.t.ppf(0.5 + plan.confidence / 2, df)
    pval = float(2 * stats.t.sf(abs(b / se), df)) if se > 0 else math.nan
    detail = f"{len(units)} organisations, {df} df" + (f", outcome {test.lag} wave(s) later"
                                                       if test.lag else "")
    return Estimate(b, b - q * se, b + q * se, int(units["n"].sum()), len(units), pval, detail)


def hc3_ols(y: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray | int]:
    """OLS with HC3 standard errors and ``n - p`` residual degrees of freedom.

    .. math::

        \\widehat{V} = (X'X)^{-1} \\Big(\\sum_i \\frac{e_i^2}{(1 - h_{ii})^2} x_i x_i'\\Big)
        (X'X)^{-1}

    with leverages :math:`h_{ii}` (MacKinnon & White 1985), as statsmodels
    ``OLS(...).fit(cov_type="HC3")`` and R ``sandwich::vcovHC(type = "HC3")``.

    Examples
    --------
    >>> x = np.column_stack([np.ones(5), [0.0, 1, 2, 3, 4]])
    >>> fit = hc3_ols(np.array([0.1, 0.9, 2.2, 2.8, 4.1]), x)
    >>> np.round(fit["coef"], 3).tolist(), fit["df"]
    ([0.04, 0.99], 3)
    """
    n, k = x.shape
    xtx_inv = np.linalg.inv(x.T @ x)
    coef = xtx_inv @ (x.T @ y)
    resid = y - x @ coef
    leverage = np.einsum("ij,jk,ik->i", x, xtx_inv, x)
    weights = (resid / (1 - leverage)) ** 2
    cov = xtx_inv @ (x.T * weights) @ x @ xtx_inv
    return {"coef": coef, "se": np.sqrt(np.diag(cov)), "cov": cov, "df": n - k}
