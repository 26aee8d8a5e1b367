"""Pre-registered analysis plans: hypotheses, tests, effect sizes and decision rules in YAML.

A plan (e.g. ``analysis/structural-burnout-plan.yaml``) fixes, before the data are seen, each
hypothesis's tests, the effect size each reports, its interval and the rule that turns the
interval into a decision. :func:`load_plan` validates it (every problem names the file, the
hypothesis, the test and the field); :func:`run_plan` runs it on a study's scored respondents.
See ``docs/analysis-plans.md``.

Test kinds
----------
``hierarchical_regression``
    Outcome on the covariates, then on covariates plus predictors. Effect: the gain in R^2
    (delta R^2), interval from a cluster bootstrap over organisations (percentile), p from a
    cluster-robust (CR1) Wald test of the predictor block, F with (q, G - 1) df.
``regression``
    Outcome on one predictor plus controls and covariates, all numeric variables z-scored, so the
    effect is a standardised coefficient (SD per SD). SEs clustered by organisation (CR1, from
    :func:`fieldsurvey.compare.cluster_ols`); interval and p from t with G - 1 df.
``mann_whitney``
    An ordinal variable between two groups. Effect: Cliff's delta (= rank-biserial correlation),
    first group minus second; interval from a cluster bootstrap over organisations; p from the
    Mann-Whitney U test (scipy, normal approximation with tie correction).
``welch_t``
    A score between two groups. Effect: Hedges' g, first minus second, with the pingouin
    normal-approximation interval (:func:`fieldsurvey.compare.welch_two_groups`); p from Welch's t.
``cross_level``
    A staff-level outcome on an organisation-level predictor (from the organisation profile)
    in a random-intercept model (REML, as ``lme4::lmer``); cluster-robust (CR1) interval, t with
    G - 1 - L df. See :mod:`fieldsurvey.reproduce.plan_multilevel`.
``organisation_regression``
    An organisation-level outcome (e.g. turnover) on an organisation-level predictor or an
    organisation's mean of a staff score, optionally ``lag`` waves earlier; OLS over
    organisations with HC3 intervals, t with G - p df.

Decisions
---------
A test is *supported* when its interval lies beyond ``threshold`` in the predicted
``direction`` and, for primary tests, its Holm-adjusted p (across all primary tests of the plan,
or of the hypothesis's ``family`` when the plan names families) is below ``alpha``; *inconclusive* when the study has fewer than ``min_organisations``
organisations (the reason says "too few organisations to decide") or the interval is wider than the test's ``max_ci_width`` (the study cannot tell);
*not computable* when a column is missing or a group has fewer than ``min_cell`` respondents;
otherwise *not supported*. A hypothesis is supported when all its tests are.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fieldsurvey.reproduce.plan_multilevel import cross_level, organisation_regression
from fieldsurvey.reproduce.plan_schema import (
    DECISIONS,
    EFFECTS,
    INTERVALS,
    KINDS,
    PLAN_COLUMNS,
    Groups,
    Hypothesis,
    Plan,
    PlanError,
    PlanTest,
    load_plan,
    plan_from_dict,
)
from fieldsurvey.reproduce.plan_tests import (
    Estimate,
    NotComputable,
    hierarchical,
    regression,
    two_groups,
)

__all__ = ["DECISIONS", "EFFECTS", "INTERVALS", "KINDS", "PLAN_COLUMNS", "Groups", "Hypothesis",
           "Plan", "PlanError", "PlanTest", "holm", "load_plan", "plan_from_dict", "run_plan"]


def run_plan(
    data: pd.DataFrame,
    plan: Plan,
    *,
    min_cell: int = 10,
    bootstrap_reps: int | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Run every test of a plan and decide each hypothesis by the plan's pre-registered rules.

    Parameters
    ----------
    data : DataFrame
        Scored respondents: scale scores (``burnout``, ``leadership``, ...) joined with the
        study columns the plan names (organisation, covariates, group columns).
    plan : Plan
        From :func:`load_plan`.
    min_cell : int
        Disclosure threshold: a test on fewer respondents, or comparing a group with fewer, is
        not computable (its numbers are not shown).
    bootstrap_reps, seed : int, optional
        Override the plan's bootstrap settings (tests use fewer reps to run fast).

    Returns
    -------
    DataFrame
        One row per test (columns ``PLAN_COLUMNS``): estimate, interval, n, organisations, p and
        Holm-adjusted p, the test's decision and its hypothesis's decision with the reason.
        ``attrs["multiple_testing"]`` holds a sentence on the Holm correction.

    Examples
    --------
    >>> from fieldsurvey.resources import data_dir
    >>> plan = load_plan(data_dir("analysis") / "structural-burnout-plan.yaml")
    >>> run_plan(scored, plan, bootstrap_reps=200)  # doctest: +SKIP
    """
    reps = bootstrap_reps if bootstrap_reps is not None else plan.bootstrap_reps
    rng_seed = seed if seed is not None else plan.bootstrap_seed
    rows = []
    for hyp in plan.hypotheses:
        for test in hyp.tests:
            row = {
                "hypothesis": hyp.id,
                "test": test.id,
                "kind": test.kind,
                "variable": test.outcome or test.variable,
                "effect": EFFECTS[test.kind],
                "ci_method": INTERVALS[test.kind],
                "primary": hyp.primary,
                "direction": test.direction,
                "threshold": test.threshold,
                "test_decision": None,
                "reason": "",
            }
            rng = np.random.default_rng([rng_seed, len(rows)])
            try:
                res = _run_test(data, plan, test, min_cell, reps, rng)
            except NotComputable as exc:
                row.update(test_decision="not computable", reason=str(exc))
                res = Estimate()
            row.update(
                estimate=res.estimate,
                ci_low=res.ci_low,
                ci_high=res.ci_high,
                n=res.n,
                n_orgs=res.n_orgs,
                p=res.p,
            )
            if res.detail:
                row["reason"] = res.detail
            rows.append(row)
    out = pd.DataFrame(rows)
    out["p_holm"] = np.nan
    sentence = _adjust(out, plan)
    for i, row in out.iterrows():
        if row["test_decision"] == "not computable":
            continue
        decision, reason = _decide(row, plan, _test_of(plan, row["test"]))
        out.at[i, "test_decision"] = decision
        out.at[i, "reason"] = "; ".join(r for r in (reason, row["reason"]) if r)
    out["decision"] = out.groupby("hypothesis", sort=False)["test_decision"].transform(_combine)
    out.attrs["multiple_testing"] = sentence
    return out[PLAN_COLUMNS]


def _adjust(out: pd.DataFrame, plan: Plan) -> str:
    """Fill ``p_holm`` of the primary tests, Holm within each family; return the sentence.

    The family is every registered primary test of the family: one that cannot be computed
    still counts, so losing a test never makes the correction for the others milder.
    """
    primary = out["primary"].astype(bool)
    if plan.multiple_testing != "holm":
        out.loc[primary, "p_holm"] = out.loc[primary, "p"]
        return "No correction for multiple testing (the plan says none)."
    family_of = {h.id: h.family for h in plan.hypotheses}
    families = out["hypothesis"].map(family_of)
    sizes = []
    for family in dict.fromkeys(families[primary]):
        rows = primary & (families == family)
        out.loc[rows, "p_holm"] = holm(out.loc[rows, "p"].to_numpy(float), m=int(rows.sum()))
        sizes.append(f"{int(rows.sum())} in {family}" if family else f"{int(rows.sum())}")
    if len(sizes) == 1 and not families[primary].iloc[0]:
        where = f"across the plan's {sizes[0]} primary tests"
    else:
        where = f"within each family of primary tests ({', '.join(sizes)})"
    return (f"Holm correction {where} at alpha = {plan.alpha:g}: a test counts as supported "
            "only when its Holm-adjusted p is below alpha.")


def holm(p: np.ndarray, m: int | None = None) -> np.ndarray:
    """Holm-adjusted p values; NaN stays NaN.

    Parameters
    ----------
    p : array of p values
    m : int, optional
        Size of the family. Default: the number of p values that are not NaN. A pre-registered
        family keeps its size when some tests cannot be run (their p is NaN).

    Examples
    --------
    >>> holm(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.06, 0.06]
    >>> holm(np.array([0.01, np.nan]), m=2).round(3).tolist()[0]
    0.02
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size if m is None else max(m, ok.size)
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        out[idx] = running
    return out


def _test_of(plan: Plan, test_id: str) -> PlanTest:
    for hyp in plan.hypotheses:
        for test in hyp.tests:
            if test.id == test_id:
                return test
    raise KeyError(test_id)


def _decide(row: pd.Series, plan: Plan, test: PlanTest) -> tuple[str, str]:
    lo, hi = float(row["ci_low"]), float(row["ci_high"])
    if math.isnan(lo) or math.isnan(hi):
        return "not computable", "no interval could be computed"
    n_orgs = row["n_orgs"]
    if pd.notna(n_orgs) and n_orgs < plan.min_organisations:
        return "inconclusive", (
            f"too few organisations to decide: {int(n_orgs)}, the plan needs "
            f"{plan.min_organisations} (with fewer, organisation-level intervals are too "
            "unstable)"
        )
    if test.max_ci_width is not None and hi - lo > test.max_ci_width:
        return "inconclusive", (
            f"interval width {hi - lo:.3f} exceeds the plan's {test.max_ci_width:g}: "
            "the study cannot tell"
        )
    t = test.threshold
    beyond = lo > t if test.direction == "positive" else hi < -t
    where = (
        f"lower bound > {t:g}"
        if test.direction == "positive"
        else f"upper bound < {-t if t else 0:g}"
    )
    if not beyond:
        return "not supported", f"interval does not meet the rule ({where})"
    if row["primary"] and plan.multiple_testing == "holm":
        if not row["p_holm"] < plan.alpha:
            return "not supported", f"interval meets the rule but Holm p >= {plan.alpha:g}"
    return "supported", f"interval meets the rule ({where})"


def _combine(decisions: pd.Series) -> str:
    values = set(decisions)
    for outcome in ("not computable", "inconclusive", "not supported"):
        if outcome in values:
            return outcome
    return "supported"


def _run_test(
    data: pd.DataFrame,
    plan: Plan,
    test: PlanTest,
    min_cell: int,
    reps: int,
    rng: np.random.Generator,
) -> Estimate:
    if test.kind == "hierarchical_regression":
        return hierarchical(data, plan, test, min_cell, reps, rng)
    if test.kind == "regression":
        return regression(data, plan, test, min_cell)
    if test.kind == "cross_level":
        return cross_level(data, plan, test, min_cell)
    if test.kind == "organisation_regression":
        return organisation_regression(data, plan, test, min_cell)
    return two_groups(data, plan, test, min_cell, reps, rng)

