"""``plan-study``: simulated power through scoring, the gate and the plan agrees with the
analytic power of a two-level design (design effect 1 + (m - 1) ICC), and the organisations the
disclosure rules withhold are counted."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.compare import random_intercept
from fieldsurvey.compare.organisations import organisation_variables, with_organisation_variables
from fieldsurvey.reproduce import plan_from_dict
from fieldsurvey.scoring import score_scales
from fieldsurvey.synthetic import generate_coalition
from fieldsurvey.synthetic.planning import PlanStudyError, StudyDesign, analytic_power, plan_study

INSTRUMENTS = ("workforce-context", "proqol5")  # burnout only: keeps 200 replicates fast
FAST = {"instruments": INSTRUMENTS, "item_nonresponse": 0.0}
PEER_LED = plan_from_dict({"title": "two-level mean difference", "min_organisations": 10,
                           "covariates": {}, "hypotheses": [{
                               "id": "H6", "title": "t", "rationale": "r", "decision": "d",
                               "tests": [{"id": "H6", "kind": "cross_level",
                                          "outcome": "burnout",
                                          "predictor": "org_peer_or_survivor_led",
                                          "direction": "negative"}]}]})


def _score_scale_design(icc: float, effect: float, m: int) -> tuple[float, float]:
    """The effect (in residual SDs) and ICC of the *scored* burnout, from one very large
    coalition: the design effect's inputs on the scale the plan tests. Scores carry
    measurement error, so both are smaller than on the latent scale the simulation is given."""
    # 4,000 organisations: the calibration's own error (SE of the effect ~0.013) stays small
    # next to the Monte Carlo error of the power.
    study = generate_coalition(n_orgs=4000, seed=1, waves=1, icc=icc, staff_per_org=m,
                               response_rate=1.0, org_effects={"H6": effect}, **FAST)
    responses = study.responses.reset_index(drop=True)
    scores = score_scales(responses, ["proqol5"]).set_index(responses.index)
    data = with_organisation_variables(responses.assign(burnout=scores["burnout"]),
                                       organisation_variables(study.profiles, living_wage=False))
    data = data.dropna(subset=["burnout"])
    y = data["burnout"].to_numpy(float)
    x = np.column_stack([np.ones(len(data)), data["org_peer_or_survivor_led"]])
    fit = random_intercept((y - y.mean()) / y.std(), x, data["org"].to_numpy())
    total = fit["tau2"] + fit["sigma2"]
    return -float(fit["coef"][1]) / math.sqrt(total), float(fit["tau2"] / total)


def test_power_agrees_with_the_design_effect_formula():
    n_orgs, m, icc, effect, reps = 30, 10, 0.1, 0.4, 200
    d_score, icc_score = _score_scale_design(icc, effect, m)
    expected = analytic_power(d_score, icc_score, n_orgs, m)
    power = plan_study(PEER_LED, StudyDesign(n_orgs, m, 1.0, icc, {"H6": effect}, waves=1),
                       reps=reps, seed=7, **FAST)
    got = float(power.tests["power"].iloc[0])
    se = math.sqrt(expected * (1 - expected) / reps)
    assert 0.3 < expected < 0.9  # a power where the check has teeth
    assert abs(got - expected) < 3 * se, (got, expected, d_score, icc_score)
    assert (power.organisations["withheld"] == 0).all()
    assert power.hypotheses["power"].iloc[0] == pytest.approx(got)


def test_analytic_power_matches_the_textbook_formula():
    # Balanced two-arm design: SE^2 = 4 DE / (m J); normal approximation for large J.
    deff = 1 + 19 * 0.05
    se = math.sqrt(4 * deff / (20 * 400))
    from scipy import stats

    normal = stats.norm.sf(1.959964 - 0.3 / se) + stats.norm.cdf(-1.959964 - 0.3 / se)
    assert analytic_power(0.3, 0.05, 400, 20) == pytest.approx(normal, abs=2e-3)


def test_organisations_the_gate_withholds_are_counted():
    # 6 staff who all answer, one wave: every organisation is under the minimum cell of 10.
    small = plan_study(PEER_LED, StudyDesign(12, 6, 1.0, 0.1, {"H6": 0.5}, waves=1), reps=2,
                       **FAST)
    assert small.organisations["withheld"].tolist() == [12, 12]
    assert small.tests["power"].iloc[0] == 0
    assert small.tests["withheld"].iloc[0] + small.tests["not_computable"].iloc[0] == 1
    large = plan_study(PEER_LED, StudyDesign(12, 30, 1.0, 0.1, {"H6": 0.5}, waves=1), reps=2,
                       **FAST)
    assert large.organisations["withheld"].tolist() == [0, 0]
    assert (large.tests["inconclusive"] == 0).all()


def test_bad_designs_are_refused():
    with pytest.raises(PlanStudyError, match="ICC must be"):
        plan_study(PEER_LED, StudyDesign(10, 10, 0.5, 1.5), reps=1)
    with pytest.raises(PlanStudyError, match="effects can be given for H6, H7, H8, H9"):
        plan_study(PEER_LED, StudyDesign(10, 10, 0.5, 0.1, {"H1": 0.2}), reps=1)


def test_cli_json_and_errors():
    runner = CliRunner()
    result = runner.invoke(main, ["plan-study", "--orgs", "16", "--staff", "12", "--reps", "2",
                                  "--effect", "H6=0.5", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [h["hypothesis"] for h in doc["hypotheses"]] == [f"H{i}" for i in range(1, 10)]
    assert doc["organisations_withheld"]["of"] == 16
    assert {"power", "power_se", "withheld"} <= set(doc["tests"][0])
    bad = runner.invoke(main, ["plan-study", "--orgs", "16", "--staff", "12", "--effect", "H6"])
    assert bad.exit_code == 2 and "HYPOTHESIS=SIZE" in bad.output
    unknown = runner.invoke(main, ["plan-study", "--orgs", "16", "--staff", "12", "--effect",
                                   "H2=0.3"])
    assert unknown.exit_code == 2 and "effects can be given for" in unknown.output
