"""Planning a study: the power of each hypothesis of a plan, through the real pipeline.

:func:`plan_study` simulates the synthetic coalition in its organisation-effects mode
(:mod:`fieldsurvey.synthetic.org_effects`) with the design given (organisations, staff per
organisation, response rate, ICC, effect sizes), ``reps`` times. Each replicate goes through
what a real study goes through: scale scoring, organisation profiles turned into organisation
variables, the plan's tests computed after the disclosure gate on the organisations it shows,
and the plan's decision rules (Holm, ``min_organisations``, ``max_ci_width``). The power of a
test is the share of replicates in which it is *supported*; its Monte Carlo standard error is
``sqrt(power (1 - power) / reps)``. The gate's part is counted too: how many organisations it
withholds (too few respondents, or withheld to protect another), so no organisation-level
result of theirs would be shown and the plan's tests run without them. No other power tool
accounts for suppression.

Effects of H6-H9 are those of the organisation-effects mode (SD units for H6 and H7, log-odds
per SD for H8 and H9); H1-H5 keep the coalition's own structure (``structural_effect``).

References
----------
Hox, J. J., Moerbeek, M., & van de Schoot, R. (2018). Multilevel analysis (3rd ed.), ch. 12
(power of two-level designs; the design effect ``1 + (m - 1) ICC``). Routledge.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from fieldsurvey.analyse.frame import AnalysisFrame, respondent_keys
from fieldsurvey.analyse.plan import join_profiles, plan_results
from fieldsurvey.disclosure import publish
from fieldsurvey.errors import FieldsurveyError
from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.reproduce import Plan
from fieldsurvey.scoring import score_scales
from fieldsurvey.synthetic.coalition import CoalitionParams, generate_coalition
from fieldsurvey.synthetic.org_effects import HYPOTHESES

__all__ = ["PlanStudyError", "StudyDesign", "StudyPower", "analytic_power", "plan_study"]

_OUTCOMES = ("supported", "not supported", "inconclusive", "not computable")


class PlanStudyError(FieldsurveyError, ValueError):
    """A study design that cannot be simulated."""


@dataclass(frozen=True)
class StudyDesign:
    """The design to plan: organisations, staff, response rate, ICC and effects (H6-H9)."""

    n_orgs: int
    staff_per_org: int
    response_rate: float = 0.7
    icc: float = 0.1
    effects: Mapping[str, float] = field(default_factory=dict)
    waves: int = 2

    def check(self) -> None:
        problems = []
        if self.n_orgs < 2:
            problems.append(f"number of organisations must be at least 2 (got {self.n_orgs})")
        if self.staff_per_org < 1:
            problems.append(f"staff per organisation must be at least 1 (got {self.staff_per_org})")
        if not 0 < self.response_rate <= 1:
            problems.append(f"response rate must be above 0 and at most 1 (got {self.response_rate})")
        if not 0 <= self.icc < 1:
            problems.append(f"ICC must be from 0 to below 1 (got {self.icc})")
        unknown = sorted(set(self.effects) - set(HYPOTHESES))
        if unknown:
            problems.append(f"effects can be given for {', '.join(HYPOTHESES)} (got {unknown})")
        if self.waves < 1:
            problems.append(f"waves must be at least 1 (got {self.waves})")
        if problems:
            raise PlanStudyError("; ".join(problems))


@dataclass
class StudyPower:
    """What :func:`plan_study` found.

    ``tests``: per test, the share of replicates with each decision (``power`` = supported),
    its Monte Carlo SE, the share withheld by the gate and the mean estimate. ``hypotheses``:
    per hypothesis, the share of replicates in which it was supported. ``organisations``: per
    replicate, the organisations simulated, those the gate withheld and the mean respondents
    per organisation.
    """

    tests: pd.DataFrame
    hypotheses: pd.DataFrame
    organisations: pd.DataFrame
    design: StudyDesign
    reps: int


def plan_study(plan: Plan, design: StudyDesign, *, reps: int = 200, seed: int = 1,
               min_cell: int = 10, bootstrap_reps: int = 200,
               on_replicate: Callable[[int], None] | None = None,
               **coalition: Any) -> StudyPower:
    """The power of each hypothesis of ``plan`` under ``design``, with suppression counted.

    Parameters
    ----------
    plan : Plan
    design : StudyDesign
    reps : int
        Replicates (simulated studies). The power's Monte Carlo SE is at most
        ``0.5 / sqrt(reps)``.
    seed : int
        Replicate ``r`` is the coalition of seed ``seed * 100000 + r``.
    min_cell : int
        The minimum cell size the study will use (the gate's rule).
    bootstrap_reps : int
        Bootstrap replicates of the plan's bootstrap intervals in each simulated study.
    on_replicate : callable, optional
        Called with the replicate's number after each one (progress bars).
    **coalition
        Other :class:`~fieldsurvey.synthetic.CoalitionParams` fields (e.g. ``instruments``).

    Examples
    --------
    >>> from fieldsurvey.reproduce import load_plan
    >>> power = plan_study(load_plan("plan.yaml"), StudyDesign(30, 15, 0.7, 0.1, {"H6": 0.4}))  # doctest: +SKIP
    >>> power.hypotheses  # doctest: +SKIP
    """
    design.check()
    if reps < 1:
        raise PlanStudyError(f"replicates must be at least 1 (got {reps})")
    rows, orgs = [], []
    for r in range(reps):
        params = CoalitionParams(
            n_orgs=design.n_orgs, seed=seed * 100_000 + r, waves=design.waves,
            response_rate=design.response_rate, staff_per_org=design.staff_per_org,
            icc=design.icc, org_effects=dict(design.effects))
        table, withheld, per_org = _replicate(plan, params, coalition, min_cell, bootstrap_reps)
        rows.append(table.assign(replicate=r))
        orgs.append({"replicate": r, "organisations": design.n_orgs,
                     "withheld": withheld, "respondents_per_org": per_org})
        if on_replicate is not None:
            on_replicate(r)
    runs = pd.concat(rows, ignore_index=True)
    return StudyPower(_test_power(runs, reps), _hypothesis_power(runs, plan, reps),
                      pd.DataFrame(orgs), design, reps)


def _replicate(plan: Plan, params: CoalitionParams, coalition: Mapping[str, Any],
               min_cell: int, bootstrap_reps: int) -> tuple[pd.DataFrame, int, float]:
    """One simulated study through scoring, the gate and the plan: its gated test rows, the
    number of organisations withheld and the mean respondents per organisation."""
    synthetic = generate_coalition(replace(params, **coalition))
    responses = synthetic.responses.reset_index(drop=True)
    instruments = [resolve_instrument(i) for i in synthetic.params.instruments]
    scores = score_scales(responses, [i for i in instruments if i.scales])
    scores.index = responses.index
    new = [c for c in scores.columns if c not in responses.columns and c != "row"]
    data = pd.concat([responses, scores[new]], axis=1)
    data = join_profiles(data, synthetic.profiles, plan)
    frame = AnalysisFrame(data, instruments, None, respondent_keys(data))
    results = plan_results(frame, plan, min_cell=min_cell, bootstrap_reps=bootstrap_reps,
                           seed=params.seed)
    gated = publish(results, None, min_cell=min_cell, output="plan-study", record=False)
    shown = gated.tables["_organisations"]
    per_org = float(responses.groupby("org").size().mean()) if len(responses) else 0.0
    return gated.tables["tests"], int(shown["suppressed"].sum()), per_org


def _share(values: pd.Series, what: str) -> float:
    return float((values == what).mean())


def _test_power(runs: pd.DataFrame, reps: int) -> pd.DataFrame:
    out = []
    for (hyp, test), rows in runs.groupby(["hypothesis", "test"], sort=False):
        decisions = rows["test_decision"]
        power = _share(decisions, "supported")
        out.append({"hypothesis": hyp, "test": test, "kind": rows["kind"].iloc[0],
                    "power": power, "power_se": math.sqrt(power * (1 - power) / reps),
                    **{d.replace(" ", "_"): _share(decisions, d) for d in _OUTCOMES[1:]},
                    "withheld": float(rows["suppressed"].astype(bool).mean()),
                    "mean_estimate": float(pd.to_numeric(rows["estimate"]).mean())})
    return pd.DataFrame(out)


def _hypothesis_power(runs: pd.DataFrame, plan: Plan, reps: int) -> pd.DataFrame:
    first = runs.drop_duplicates(["replicate", "hypothesis"])
    out = []
    for hyp in plan.hypotheses:
        decisions = first.loc[first["hypothesis"] == hyp.id, "decision"]
        power = _share(decisions, "supported")
        out.append({"hypothesis": hyp.id, "title": hyp.title, "power": power,
                    "power_se": math.sqrt(power * (1 - power) / reps),
                    "inconclusive": _share(decisions, "inconclusive"),
                    "withheld": float(decisions.isna().mean())})
    return pd.DataFrame(out)


def analytic_power(effect: float, icc: float, n_orgs: int, staff_per_org: float,
                   alpha: float = 0.05, treated_share: float = 0.5) -> float:
    """Power of a two-level mean difference (organisations assigned to two arms), from the
    design effect ``1 + (m - 1) ICC``.

    .. math::

        \\mathrm{SE} = \\sqrt{\\frac{1 + (m - 1)\\rho}{m J\\, p (1 - p)}}, \\qquad
        \\text{power} = P(|T_{J - 2}(\\delta / \\mathrm{SE})| > t_{1 - \\alpha/2,\\, J - 2})

    with :math:`J` organisations of :math:`m` staff, a share :math:`p` in the first arm, the
    difference :math:`\\delta` in SDs of the outcome and the noncentral t (Hox et al. 2018).

    Examples
    --------
    >>> round(analytic_power(0.5, 0.1, 30, 10), 3)
    0.858
    """
    from scipy import stats

    deff = 1 + (staff_per_org - 1) * icc
    se = math.sqrt(deff / (staff_per_org * n_orgs * treated_share * (1 - treated_share)))
    df = n_orgs - 2
    crit = stats.t.ppf(1 - alpha / 2, df)
    ncp = effect / se
    return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))

