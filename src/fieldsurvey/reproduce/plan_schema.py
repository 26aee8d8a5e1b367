"""The analysis-plan format: hypotheses, tests, effect sizes and decision rules in YAML.

:func:`load_plan` reads and validates a plan (every problem names the file, the hypothesis, the
test and the field) into frozen dataclasses: :class:`Plan` holds :class:`Hypothesis` entries,
each with its :class:`PlanTest` rows. Running a plan is :mod:`fieldsurvey.reproduce.plan`; the
statistics of each test kind are :mod:`fieldsurvey.reproduce.plan_tests` and
:mod:`fieldsurvey.reproduce.plan_multilevel`. See ``docs/analysis-plans.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldsurvey.validation import (
    Problems,
    ProblemsError,
    column_names,
    read_yaml,
    unknown_keys,
)

__all__ = ["DECISIONS", "EFFECTS", "INTERVALS", "KINDS", "PLAN_COLUMNS", "Groups", "Hypothesis",
           "Plan", "PlanError", "PlanTest", "load_plan", "plan_from_dict"]

KINDS: dict[str, tuple[str, ...]] = {
    "hierarchical_regression": ("outcome", "predictors"),
    "regression": ("outcome", "predictor"),
    "mann_whitney": ("variable", "groups"),
    "welch_t": ("variable", "groups"),
    "cross_level": ("outcome", "predictor"),
    "organisation_regression": ("outcome", "predictor"),
}
EFFECTS = {
    "hierarchical_regression": "delta_r2",
    "regression": "standardised_coefficient",
    "mann_whitney": "cliffs_delta",
    "welch_t": "hedges_g",
    "cross_level": "standardised_coefficient",
    "organisation_regression": "standardised_coefficient",
}
INTERVALS = {
    "hierarchical_regression": "cluster bootstrap (percentile)",
    "regression": "t, SEs clustered by organisation (CR1)",
    "mann_whitney": "cluster bootstrap (percentile)",
    "welch_t": "normal approximation (pingouin)",
    "cross_level": "t (G - 1 - L df), cluster-robust (CR1) SEs of the REML random-intercept fit",
    "organisation_regression": "t (G - p df), heteroskedasticity-robust (HC3) SEs",
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
_HYP_KEYS = ("id", "title", "rationale", "decision", "primary", "family", "tests")
_TEST_KEYS = (
    "id", "kind", "outcome", "predictors", "predictor", "controls", "covariates", "variable",
    "groups", "effect", "direction", "threshold", "max_ci_width", "rationale", "lag",
)  # fmt: skip
_COMMON_KEYS = ("id", "kind", "effect", "direction", "threshold", "max_ci_width", "rationale")
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "hierarchical_regression": ("outcome", "predictors", "covariates"),
    "regression": ("outcome", "predictor", "controls", "covariates"),
    "mann_whitney": ("variable", "groups"),
    "welch_t": ("variable", "groups"),
    "cross_level": ("outcome", "predictor", "controls", "covariates"),
    "organisation_regression": ("outcome", "predictor", "controls", "lag"),
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
    #: organisation_regression: the outcome is taken this many waves after the predictors.
    lag: int = 0


@dataclass(frozen=True)
class Hypothesis:
    id: str
    title: str
    rationale: str
    decision: str
    tests: tuple[PlanTest, ...]
    primary: bool = True
    #: Holm family of its primary tests ("": the plan's one family).
    family: str = ""


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
    ['H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'H7', 'H8', 'H9']
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
    family = spec.get("family", "")
    if not isinstance(family, str):
        p.add(f"{where}.family", "must be a short name (the Holm family of its primary tests)")
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
        family=family.strip() if isinstance(family, str) else "",
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
        lag=_whole(spec.get("lag", 0), f"{where}.lag", p, 0),
    )
    return test if len(p.lines) == before else None
