"""A pre-registered analysis plan as results: every test, judged by the gate.

The plan's tests are models over organisations (cluster-robust regressions) and comparisons
of two groups. Both are computed after the gate, on the organisations whose cells it shows
(a model of every organisation would carry the withheld ones' data); a comparison of two
groups names the groups as its sources, so it is shown only where both are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.analyse.frame import NOT_STATED, AnalysisFrame
from fieldsurvey.compare.organisations import (
    ORGANISATION_VARIABLES,
    organisation_variables,
    with_organisation_variables,
)
from fieldsurvey.compare.wage_reference import WageReference
from fieldsurvey.reproduce.plan import PLAN_COLUMNS, Plan, run_plan
from fieldsurvey.results import ROW_VARIABLE, Results
from fieldsurvey.store.profiles import has_profiles, load_profiles

__all__ = ["PLAN_STATS", "join_profiles", "organisation_columns", "plan_results", "with_profiles"]

#: The numbers of a plan's test row, withheld with their sources.
PLAN_STATS = ("estimate", "ci_low", "ci_high", "n_respondents", "n_orgs", "p", "p_holm",
              "test_decision", "decision")
_GROUP = "group:"


def _key(value: object) -> str:
    """A group value as the plan compares it: ``3`` and ``3.0`` are the same group."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return NOT_STATED
    try:
        x = float(value)  # type: ignore[arg-type]
        return str(int(x)) if x.is_integer() else repr(x)
    except (TypeError, ValueError):
        return str(value)


def plan_results(frame: AnalysisFrame, plan: Plan, *, min_cell: int,
                 bootstrap_reps: int | None = None, seed: int | None = None,
                 wage_reference: WageReference | None = None) -> Results:
    """Every test of ``plan`` on the study, as results computed on what the gate shows.

    A study with organisation profiles has their variables (``org_*``, see
    :mod:`fieldsurvey.compare.organisations`) joined onto its staff rows by organisation and
    wave, for the plan's multilevel tests; ``wage_reference`` is the living-wage table they
    compare pay with (default: the shipped example).

    Examples
    --------
    >>> results = plan_results(load_frame("my-study"), load_plan("plan.yaml"), min_cell=10)  # doctest: +SKIP
    """
    data = with_profiles(frame, plan, wage_reference)
    org = plan.organisation
    tests = [t for h in plan.hypotheses for t in h.tests]
    group_columns = sorted({t.groups.column for t in tests if t.groups is not None
                            and t.groups.column in data})
    respondents = pd.DataFrame({"org": data[org].astype("string").fillna(NOT_STATED)
                                .astype(object)})
    for column in group_columns:
        respondents[f"{_GROUP}{column}"] = data[column].map(_key).astype(object)
    variables = sorted({v for t in tests for v in (t.outcome, t.variable) if v and v in data})
    results = Results(respondents, list(respondents.columns), keys=frame.keys,
                      measures=data[variables] if variables else None)
    results.add_table("_field", pd.DataFrame({"org": [None]}, dtype=object))
    orgs = sorted(respondents["org"].unique())
    results.add_table("_organisations", pd.DataFrame({"org": orgs}, dtype=object))
    pairs = []
    for t in tests:
        if t.groups is not None and t.groups.column in data and t.variable in variables:
            for value in (t.groups.first, t.groups.second):
                pairs.append({f"{_GROUP}{t.groups.column}": _key(value), "measure": t.variable})
    if pairs:
        groups = pd.DataFrame(pairs).drop_duplicates().reset_index(drop=True)
        for column in groups.columns:
            groups[column] = groups[column].astype(object).where(groups[column].notna(), None)
        groups["n_valid"] = [_count(respondents, data, r) for r in groups.to_dict("records")]
        _add_groups(results, groups)

    def compute(view: Any) -> tuple[pd.DataFrame, list]:
        shown = view.table("_organisations")
        kept = shown.loc[shown["n"].notna(), "org"].astype(str).tolist()
        subset = data[data[org].astype("string").isin(kept).to_numpy()]
        table = run_plan(subset, plan, min_cell=min_cell, bootstrap_reps=bootstrap_reps,
                         seed=seed)
        note = table.attrs.get("multiple_testing", "")
        # "n" is the gate's own column (the cell's count): the test's n travels as a statistic.
        table = table.rename(columns={"n": "n_respondents"})
        table["note"] = note
        sources = []
        for row in table.itertuples():
            test = next(t for t in tests if t.id == row.test)
            refs: list[Any] = [{"org": o} for o in kept]
            if test.groups is not None and test.groups.column in group_columns:
                dim = f"{_GROUP}{test.groups.column}"
                refs += [{dim: _key(test.groups.first)}, {dim: _key(test.groups.second)}]
            sources.append(refs)
        return table, sources

    labels = [c for c in PLAN_COLUMNS if c not in PLAN_STATS and c not in ("test", "n")]
    labels.append("note")
    results.add_derived("tests", compute, dict.fromkeys(PLAN_STATS, "other"), variable="test",
                        labels=labels)
    return results


def with_profiles(frame: AnalysisFrame, plan: Plan,
                  wage_reference: WageReference | None = None) -> pd.DataFrame:
    """The frame's rows, with the organisation variables a plan uses joined on (when the study
    has organisation profiles)."""
    data = frame.data.reset_index(drop=True)
    if frame.study is None or not organisation_columns(plan) or not has_profiles(frame.study):
        return data
    return join_profiles(data, load_profiles(frame.study), plan, wage_reference)


def organisation_columns(plan: Plan) -> list[str]:
    """The organisation variables (:data:`ORGANISATION_VARIABLES`) the plan's tests name."""
    named = {c for t in (t for h in plan.hypotheses for t in h.tests)
             for c in (t.outcome, t.predictor, *t.controls, *t.predictors) if c}
    return sorted(named & set(ORGANISATION_VARIABLES))


def join_profiles(data: pd.DataFrame, profiles: pd.DataFrame, plan: Plan,
                  wage_reference: WageReference | None = None) -> pd.DataFrame:
    """Staff rows with the organisation variables the plan uses, from ``profiles``, joined on
    by organisation and wave (the living-wage comparison only when the plan uses it)."""
    wanted = organisation_columns(plan)
    if not wanted:
        return data
    variables = organisation_variables(profiles, wage_reference,
                                       living_wage=any("living_wage" in c for c in wanted))
    return with_organisation_variables(data, variables[["org", "wave", *wanted]],
                                       org=plan.organisation)


def _count(respondents: pd.DataFrame, data: pd.DataFrame, row: dict[str, Any]) -> int:
    dim = next(k for k in row if k.startswith(_GROUP))
    mask = (respondents[dim] == row[dim]).to_numpy() & data[row["measure"]].notna().to_numpy()
    return int(mask.sum())


def _add_groups(results: Results, groups: pd.DataFrame) -> None:
    """The compared groups' cells, so the gate judges them before the tests that use them."""
    results.add_table("_groups", groups, {"n_valid": "sum"}, measures={"n_valid": ROW_VARIABLE},
                      variable="measure")
