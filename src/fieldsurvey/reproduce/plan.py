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

Decisions
---------
A test is *supported* when its interval lies beyond ``threshold`` in the predicted
``direction`` and, for primary tests, its Holm-adjusted p (across all primary tests of the plan)
is below ``alpha``; *inconclusive* when the study has fewer than ``min_organisations``
organisations or the interval is wider than the test's ``max_ci_width`` (the study cannot tell);
*not computable* when a column is missing or a group has fewer than ``min_cell`` respondents;
otherwise *not supported*. A hypothesis is supported when all its tests are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from fieldsurvey.validation import (
    Problems,
    ProblemsError,
    column_names,
    read_yaml,
    unknown_keys,
)

KINDS: dict[str, tuple[str, ...]] = {
    "hierarchical_regression": ("outcome", "predictors"),
    "regression": ("outcome", "predictor"),
    "mann_whitney": ("variable", "groups"),
    "welch_t": ("variable", "groups"),
}
EFFECTS = {
    "hierarchical_regression": "delta_r2",
    "regression": "standardised_coefficient",
    "mann_whitney": "cliffs_delta",
    "welch_t": "hedges_g",
}
INTERVALS = {
    "hierarchical_regression": "cluster bootstrap (percentile)",
    "regression": "t, SEs clustered by organisation (CR1)",
    "mann_whitney": "cluster bootstrap (percentile)",
    "welch_t": "normal approximation (pingouin)",
}
DECISIONS = ("supported", "not supported", "inconclusive", "not computable")
PLAN_COLUMNS = [
    "hypothesis", "test", "kind", "variable", "effect", "estimate", "ci_low", "ci_high",
    "ci_method", "n", "n_orgs", "p", "p_holm", "primary", "direction", "threshold",
    "test_decision", "decision", "reason",
]  # fmt: skip

_TOP_KEYS = (
    "title", "description", "registered", "confidence", "alpha", "multiple_testing",
    "bootstrap", "min_organisations", "organisation", "covariates", "hypotheses",
)  # fmt: skip
_HYP_KEYS = ("id", "title", "rationale", "decision", "primary", "tests")
_TEST_KEYS = (
    "id", "kind", "outcome", "predictors", "predictor", "controls", "covariates", "variable",
    "groups", "effect", "direction", "threshold", "max_ci_width", "rationale",
)  # fmt: skip
_COMMON_KEYS = ("id", "kind", "effect", "direction", "threshold", "max_ci_width", "rationale")
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "hierarchical_regression": ("outcome", "predictors", "covariates"),
    "regression": ("outcome", "predictor", "controls", "covariates"),
    "mann_whitney": ("variable", "groups"),
    "welch_t": ("variable", "groups"),
}
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class PlanError(ProblemsError):
    """An analysis plan is invalid. ``problems`` holds one message per problem."""


@dataclass(frozen=True)
class Groups:
    """Two groups compared: rows with ``column`` equal to ``first`` against ``second``."""

    column: str
    first: Any
    second: Any


@dataclass(frozen=True)
class PlanTest:
    id: str
    kind: str
    direction: str
    threshold: float = 0.0
    max_ci_width: float | None = None
    outcome: str | None = None
    predictors: tuple[str, ...] = ()
    predictor: str | None = None
    controls: tuple[str, ...] = ()
    covariates: dict[str, str] | None = None
    variable: str | None = None
    groups: Groups | None = None
    rationale: str = ""


@dataclass(frozen=True)
class Hypothesis:
    id: str
    title: str
    rationale: str
    decision: str
    tests: tuple[PlanTest, ...]
    primary: bool = True


@dataclass(frozen=True)
class Plan:
    title: str
    hypotheses: tuple[Hypothesis, ...]
    description: str = ""
    registered: str = ""
    confidence: float = 0.95
    alpha: float = 0.05
    multiple_testing: str = "holm"
    bootstrap_reps: int = 2000
    bootstrap_seed: int = 1
    min_organisations: int = 15
    organisation: str = "org"
    covariates: dict[str, str] = field(default_factory=dict)
    source: Path | None = None


# --------------------------------------------------------------------------------------------
# Loading and validation


def load_plan(path: str | Path) -> Plan:
    """Load and validate an analysis plan.

    Parameters
    ----------
    path : str or Path
        The YAML file.

    Returns
    -------
    Plan

    Raises
    ------
    PlanError
        Listing every problem, each naming the file, hypothesis, test and field, e.g.
        ``plan.yaml: hypotheses[1] (H2).tests[0] (H2a).direction: must be positive or negative``.

    Examples
    --------
    >>> from fieldsurvey.resources import data_dir
    >>> plan = load_plan(data_dir("analysis") / "structural-burnout-plan.yaml")
    >>> [h.id for h in plan.hypotheses]
    ['H1', 'H2', 'H3', 'H4', 'H5']
    """
    path = Path(path)
    return plan_from_dict(read_yaml(path, PlanError), filename=path.name, source=path)


def plan_from_dict(raw: Any, filename: str = "<plan>", source: Path | None = None) -> Plan:
    """Validate a parsed plan mapping and build a :class:`Plan` (see :func:`load_plan`).

    Examples
    --------
    >>> plan = plan_from_dict({"title": "t", "hypotheses": [{"id": "H4", "title": "peers",
    ...     "rationale": "r", "decision": "d", "tests": [{"id": "H4", "kind": "regression",
    ...     "outcome": "sts", "predictor": "peer_support", "direction": "negative"}]}]})
    >>> plan.hypotheses[0].tests[0].predictor
    'peer_support'
    """
    p = Problems(filename)
    if not isinstance(raw, Mapping):
        p.add("(top level)", "must be a mapping with 'title' and 'hypotheses'")
        raise PlanError(p.lines)
    unknown_keys(raw, _TOP_KEYS, "", p)
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        p.add("title", "is required and must be non-empty text")
    confidence = _number(raw, "confidence", 0.95, "", p, 0.5, 0.999)
    alpha = _number(raw, "alpha", 0.05, "", p, 0.0001, 0.5)
    correction = raw.get("multiple_testing", "holm")
    if correction not in ("holm", "none"):
        p.add("multiple_testing", f"must be holm or none (got {correction!r})")
    boot = raw.get("bootstrap") or {}
    reps, seed = 2000, 1
    if not isinstance(boot, Mapping):
        p.add("bootstrap", "must be a mapping {reps: 2000, seed: 1}")
    else:
        for key in boot:
            if key not in ("reps", "seed"):
                p.add(f"bootstrap.{key}", "unknown key (expected reps, seed)")
        reps = _whole(boot.get("reps", 2000), "bootstrap.reps", p, 100)
        seed = _whole(boot.get("seed", 1), "bootstrap.seed", p, 0)
    min_orgs = _whole(raw.get("min_organisations", 15), "min_organisations", p, 2)
    org = raw.get("organisation", "org")
    if not isinstance(org, str) or not org:
        p.add("organisation", "must be the organisation column name")
    covariates = _covariates(raw.get("covariates"), "covariates", p) or {}
    hyps = raw.get("hypotheses")
    hypotheses: list[Hypothesis] = []
    if not isinstance(hyps, list) or not hyps:
        p.add("hypotheses", "is required: a non-empty list of hypotheses")
        hyps = []
    seen: set[str] = set()
    for i, spec in enumerate(hyps):
        hyp = _hypothesis(spec, i, p, seen)
        if hyp is not None:
            hypotheses.append(hyp)
    if p.lines:
        raise PlanError(p.lines)
    return Plan(
        title=str(title).strip(),
        hypotheses=tuple(hypotheses),
        description=str(raw.get("description") or "").strip(),
        registered=str(raw.get("registered") or ""),
        confidence=confidence,
        alpha=alpha,
        multiple_testing=str(correction),
        bootstrap_reps=reps,
        bootstrap_seed=seed,
        min_organisations=min_orgs,
        organisation=str(org),
        covariates=covariates,
        source=source,
    )


def _number(
    spec: Mapping, key: str, default: float, where: str, p: Problems, lo: float, hi: float
) -> float:
    value = spec.get(key, default)
    at = f"{where}.{key}" if where else key
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        p.add(at, f"must be a number from {lo:g} to {hi:g} (got {value!r})")
        return default
    return float(value)


def _whole(value: Any, where: str, p: Problems, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        p.add(where, f"must be a whole number of at least {minimum} (got {value!r})")
        return minimum
    return value


def _covariates(value: Any, where: str, p: Problems) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        p.add(where, "must map each covariate column to numeric or categorical")
        return None
    out = {}
    for column, kind in value.items():
        if kind not in ("numeric", "categorical"):
            p.add(f"{where}.{column}", f"must be numeric or categorical (got {kind!r})")
        else:
            out[str(column)] = str(kind)
    return out


def _entry_id(
    spec: Mapping, where: str, p: Problems, seen: set[str], what: str, example: str
) -> tuple[Any, str]:
    """The entry's id and its place named with it (``hypotheses[1] (H2)``), once the id is checked
    to be a short name not already ``seen``."""
    eid = spec.get("id")
    if isinstance(eid, str) and _ID_RE.fullmatch(eid):
        where = f"{where} ({eid})"
        if eid in seen:
            p.add(f"{where}.id", f"duplicate {what} id {eid!r}")
        seen.add(eid)
    else:
        p.add(f"{where}.id", f"must be a short name such as {example} (got {eid!r})")
    return eid, where


def _hypothesis(spec: Any, i: int, p: Problems, seen: set[str]) -> Hypothesis | None:
    where = f"hypotheses[{i}]"
    if not isinstance(spec, Mapping):
        p.add(where, "must be a mapping with id, title, rationale, decision, tests")
        return None
    hid, where = _entry_id(spec, where, p, seen, "hypothesis", "H1")
    before = len(p.lines)
    unknown_keys(spec, _HYP_KEYS, where, p)
    texts = {}
    for key in ("title", "rationale", "decision"):
        value = spec.get(key)
        if not isinstance(value, str) or not value.strip():
            p.add(f"{where}.{key}", "is required and must be non-empty text")
        texts[key] = str(value or "").strip()
    primary = spec.get("primary", True)
    if not isinstance(primary, bool):
        p.add(f"{where}.primary", "must be true or false")
    tests_raw = spec.get("tests")
    tests: list[PlanTest] = []
    if not isinstance(tests_raw, list) or not tests_raw:
        p.add(f"{where}.tests", "is required: a non-empty list of tests")
        tests_raw = []
    test_ids: set[str] = set()
    for j, t in enumerate(tests_raw):
        test = _test(t, f"{where}.tests[{j}]", p, test_ids)
        if test is not None:
            tests.append(test)
    if len(p.lines) > before or not isinstance(hid, str):
        return None
    return Hypothesis(
        id=hid,
        title=texts["title"],
        rationale=texts["rationale"],
        decision=texts["decision"],
        tests=tuple(tests),
        primary=primary if isinstance(primary, bool) else True,
    )


def _test(spec: Any, where: str, p: Problems, seen: set[str]) -> PlanTest | None:
    if not isinstance(spec, Mapping):
        p.add(where, "must be a mapping with id, kind, direction and the kind's fields")
        return None
    tid, where = _entry_id(spec, where, p, seen, "test", "H2a")
    before = len(p.lines)
    unknown_keys(spec, _TEST_KEYS, where, p)
    kind = spec.get("kind")
    if kind not in KINDS:
        p.add(f"{where}.kind", f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
        return None
    effect = spec.get("effect", EFFECTS[kind])
    if effect != EFFECTS[kind]:
        p.add(f"{where}.effect", f"a {kind} test reports {EFFECTS[kind]} (got {effect!r})")
    direction = spec.get("direction")
    if direction not in ("positive", "negative"):
        p.add(f"{where}.direction", f"must be positive or negative (got {direction!r})")
    threshold = _number(spec, "threshold", 0.0, where, p, 0.0, 1.0)
    width = spec.get("max_ci_width")
    if width is not None:
        width = _number(spec, "max_ci_width", 1.0, where, p, 0.0001, 10.0)
    for name in KINDS[kind]:
        if spec.get(name) in (None, "", []):
            p.add(f"{where}.{name}", f"is required for a {kind} test")
    for name in spec:
        if name in _TEST_KEYS and name not in _COMMON_KEYS and name not in _KIND_FIELDS[kind]:
            p.add(f"{where}.{name}", f"is not used by a {kind} test")
    groups = None
    if spec.get("groups") is not None:
        g = spec["groups"]
        if (
            not isinstance(g, Mapping)
            or set(g) != {"column", "first", "second"}
            or not isinstance(g.get("column"), str)
        ):
            p.add(f"{where}.groups", "must be {column: ..., first: value, second: value}")
        else:
            groups = Groups(g["column"], g["first"], g["second"])
    for single in ("outcome", "predictor", "variable"):
        value = spec.get(single)
        if value is not None and (not isinstance(value, str) or not value):
            p.add(f"{where}.{single}", f"must be a column name (got {value!r})")
    rationale = spec.get("rationale")
    if rationale is not None and not isinstance(rationale, str):
        p.add(f"{where}.rationale", "must be text")
    test = PlanTest(
        id=str(tid),
        kind=kind,
        direction=str(direction),
        threshold=threshold,
        max_ci_width=width,
        outcome=spec.get("outcome"),
        predictors=column_names(spec.get("predictors"), f"{where}.predictors", p),
        predictor=spec.get("predictor"),
        controls=column_names(spec.get("controls"), f"{where}.controls", p),
        covariates=_covariates(spec.get("covariates"), f"{where}.covariates", p),
        variable=spec.get("variable"),
        groups=groups,
        rationale=str(rationale or "").strip(),
    )
    return test if len(p.lines) == before else None


# --------------------------------------------------------------------------------------------
# Running


class _NotComputable(Exception):  # noqa: N818 - a reason shown to users
    pass


@dataclass
class _Result:
    estimate: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int | None = None
    n_orgs: int | None = None
    p: float = math.nan
    detail: str = ""


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
            except _NotComputable as exc:
                row.update(test_decision="not computable", reason=str(exc))
                res = _Result()
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
    primary = out["primary"].astype(bool)
    # The family is every registered primary test: one that cannot be computed still counts, so
    # losing a test never makes the correction for the others milder.
    n_primary = int(primary.sum())
    out["p_holm"] = np.nan
    if plan.multiple_testing == "holm":
        out.loc[primary, "p_holm"] = holm(out.loc[primary, "p"].to_numpy(float), m=n_primary)
    else:
        out.loc[primary, "p_holm"] = out.loc[primary, "p"]
    for i, row in out.iterrows():
        if row["test_decision"] == "not computable":
            continue
        decision, reason = _decide(row, plan, _test_of(plan, row["test"]))
        out.at[i, "test_decision"] = decision
        out.at[i, "reason"] = "; ".join(r for r in (reason, row["reason"]) if r)
    out["decision"] = out.groupby("hypothesis", sort=False)["test_decision"].transform(_combine)
    out.attrs["multiple_testing"] = (
        f"Holm correction across the plan's {n_primary} primary tests at alpha = {plan.alpha:g}: "
        "a test counts as supported only when its Holm-adjusted p is below alpha."
        if plan.multiple_testing == "holm"
        else "No correction for multiple testing (the plan says none)."
    )
    return out[PLAN_COLUMNS]


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
            f"only {int(n_orgs)} organisations (the plan needs {plan.min_organisations}: with "
            "fewer, clustered intervals are too unstable to decide)"
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
) -> _Result:
    if test.kind == "hierarchical_regression":
        return _hierarchical(data, plan, test, min_cell, reps, rng)
    if test.kind == "regression":
        return _regression(data, plan, test, min_cell)
    return _two_groups(data, plan, test, min_cell, reps, rng)


def _require(data: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in dict.fromkeys(columns) if c not in data.columns]
    if missing:
        raise _NotComputable(f"column(s) missing from the study: {', '.join(missing)}")


def _numeric(data: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(data[column], errors="coerce").astype(float)


def _design(
    data: pd.DataFrame,
    plan: Plan,
    outcome: str,
    predictors: list[str],
    covariates: dict[str, str],
    min_cell: int,
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, int]:
    """Complete cases, z-scored numeric columns, dummy-coded categories (most common = reference).

    Returns y, X (intercept, predictors, covariate columns), names, organisation codes and the
    number of predictor columns.
    """
    org = plan.organisation
    _require(data, [outcome, *predictors, *covariates, org])
    frame = pd.DataFrame({c: _numeric(data, c) for c in [outcome, *predictors]})
    for c, kind in covariates.items():
        frame[c] = _numeric(data, c) if kind == "numeric" else data[c].astype(object)
    frame[org] = data[org].astype(object)
    frame = frame.dropna()
    if len(frame) < max(min_cell, 10):
        raise _NotComputable(f"fewer than {max(min_cell, 10)} complete cases (min_cell)")

    def z(v: pd.Series) -> np.ndarray:
        x = v.to_numpy(float)
        sd = x.std()
        return (x - x.mean()) / sd if sd > 0 else x - x.mean()

    columns = [np.ones(len(frame))] + [z(frame[c]) for c in predictors]
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


def _regression(data: pd.DataFrame, plan: Plan, test: PlanTest, min_cell: int) -> _Result:
    covariates = test.covariates if test.covariates is not None else plan.covariates
    predictors = [str(test.predictor), *test.controls]
    from fieldsurvey.compare import cluster_ols  # the compare stage is heavy: import on use

    y, x, _, groups, _ = _design(data, plan, str(test.outcome), predictors, covariates, min_cell)
    fit = cluster_ols(y, x, groups)
    b, se, df = float(fit["coef"][1]), float(fit["se"][1]), int(fit["df"])
    if not df or not math.isfinite(se) or se <= 0:
        raise _NotComputable("clustered standard errors need at least 2 organisations")
    q = stats.t.ppf(0.5 + plan.confidence / 2, df)
    p = float(2 * stats.t.sf(abs(b / se), df))
    return _Result(b, b - q * se, b + q * se, int(fit["n"]), int(fit["n_groups"]), p)


def _hierarchical(
    data: pd.DataFrame,
    plan: Plan,
    test: PlanTest,
    min_cell: int,
    reps: int,
    rng: np.random.Generator,
) -> _Result:
    covariates = test.covariates if test.covariates is not None else plan.covariates
    y, x, _, groups, k = _design(
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
    return _Result(estimate, float(lo), float(hi), len(y), n_orgs, p)


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


def _two_groups(
    data: pd.DataFrame,
    plan: Plan,
    test: PlanTest,
    min_cell: int,
    reps: int,
    rng: np.random.Generator,
) -> _Result:
    assert test.groups is not None and test.variable is not None
    org = plan.organisation
    _require(data, [test.variable, test.groups.column, org])
    first, second = _group_rows(data, test.groups)
    values = _numeric(data, test.variable)
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
        return _Result(
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
    return _Result(estimate, float(lo), float(hi), n, n_orgs, p, detail)


def _gate_groups(first: np.ndarray, second: np.ndarray, min_cell: int, test: PlanTest) -> None:
    """A comparison with a group under the minimum cell size is not computed at all.

    Whether a computed test may be shown is for the disclosure gate (its sources are the two
    groups); the reason given here says nothing about how small the group is.
    """
    if int(first.sum()) < min_cell or int(second.sum()) < min_cell:
        assert test.groups is not None
        raise _NotComputable(
            f"a group of {test.groups.column} is too small to show safely (minimum cell size "
            f"{min_cell})"
        )
