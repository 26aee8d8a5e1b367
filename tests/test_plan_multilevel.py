"""The multilevel tests of an analysis plan against R (tests/reference/lme4_crosslevel_reference.R):
cross-level random-intercept fits with cluster-robust intervals, organisation-level OLS with HC3
intervals, lags over waves, and the plain "too few organisations" decision."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from fieldsurvey.compare import random_intercept
from fieldsurvey.reproduce.plan import plan_from_dict, run_plan
from fieldsurvey.reproduce.plan_multilevel import hc3_ols
from golden import HERE

GOLDEN = json.loads((HERE / "reference" / "lme4_crosslevel_golden.json").read_text())
STAFF = pd.read_csv(HERE / "data" / "crosslevel_sample.csv")
ORGS = pd.read_csv(HERE / "data" / "crosslevel_orgs.csv")


def z(v) -> np.ndarray:
    v = np.asarray(v, float)
    return (v - v.mean()) / v.std()


def _plan(test: dict, covariates: dict | None = None, min_orgs: int = 15):
    return plan_from_dict({"title": "t", "min_organisations": min_orgs,
                           "covariates": covariates or {}, "multiple_testing": "none",
                           "hypotheses": [{"id": "H", "title": "t", "rationale": "r",
                                           "decision": "d", "tests": [{"id": "T", **test}]}]})


def _peer_led_design() -> np.ndarray:
    role = STAFF["wf_role"].astype(str)
    reference = role.value_counts().index[0]
    dummies = [(role == level).to_numpy(float) for level in sorted(set(role) - {reference})]
    return np.column_stack([np.ones(len(STAFF)), STAFF["org_peer_or_survivor_led"],
                            z(STAFF["wf_tenure"]), *dummies])


@pytest.mark.parametrize("name", ["peer_led_burnout", "below_wage_strain"])
def test_random_intercept_and_cr1_match_lmer(name):
    gold = GOLDEN[name]
    if name == "peer_led_burnout":
        y, x = z(STAFF["burnout"]), _peer_led_design()
    else:
        y = z(STAFF["financial_strain"])
        x = np.column_stack([np.ones(len(STAFF)), STAFF["org_below_living_wage"]])
    fit = random_intercept(y, x, STAFF["org"].to_numpy())
    assert fit["reml_criterion"] == pytest.approx(gold["reml_criterion"], abs=1e-4)
    assert fit["tau2"] == pytest.approx(gold["tau2"], abs=1e-4)
    assert fit["sigma2"] == pytest.approx(gold["sigma2"], abs=1e-4)
    np.testing.assert_allclose(fit["coef"], gold["coef"], atol=1e-4)
    np.testing.assert_allclose(fit["se"], gold["se"], atol=1e-4)
    np.testing.assert_allclose(fit["se_cr"], gold["se_cr"], atol=1e-4)


def test_cross_level_plan_test_is_the_lmer_coefficient_with_a_cr1_interval():
    gold = GOLDEN["peer_led_burnout"]
    plan = _plan({"kind": "cross_level", "outcome": "burnout",
                  "predictor": "org_peer_or_survivor_led", "direction": "negative"},
                 covariates={"wf_tenure": "numeric", "wf_role": "categorical"})
    row = run_plan(STAFF, plan).iloc[0]
    b, se, g = gold["coef"][1], gold["se_cr"][1], gold["n_orgs"]
    q = stats.t.ppf(0.975, g - 2)  # G - 1 - L, L = 1 organisation-level predictor
    assert row["estimate"] == pytest.approx(b, abs=1e-4)
    assert row["ci_low"] == pytest.approx(b - q * se, abs=1e-4)
    assert row["ci_high"] == pytest.approx(b + q * se, abs=1e-4)
    assert row["p"] == pytest.approx(2 * stats.t.sf(abs(b / se), g - 2), abs=1e-4)
    assert (row["n"], row["n_orgs"]) == (len(STAFF), g)
    assert "22 df" in row["reason"] and row["test_decision"] == "supported"


@pytest.mark.parametrize("name,predictor", [("training_turnover", "org_log_train_hours"),
                                            ("burnout_turnover", "burnout")])
def test_organisation_regression_matches_r_hc3(name, predictor):
    gold = GOLDEN[name]
    fit = hc3_ols(z(ORGS["org_turnover"]), np.column_stack([np.ones(len(ORGS)),
                                                            z(ORGS[predictor])]))
    np.testing.assert_allclose(fit["coef"], gold["coef"], atol=1e-4)
    np.testing.assert_allclose(fit["se"], gold["se"], atol=1e-4)
    assert fit["df"] == gold["df"]
    plan = _plan({"kind": "organisation_regression", "outcome": "org_turnover",
                  "predictor": predictor, "direction": "negative"})
    row = run_plan(ORGS, plan).iloc[0]
    b, se = gold["coef"][1], gold["se"][1]
    q = stats.t.ppf(0.975, gold["df"])
    assert row["estimate"] == pytest.approx(b, abs=1e-4)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((b - q * se, b + q * se), abs=1e-4)
    assert row["n_orgs"] == len(ORGS)


def test_hc3_matches_statsmodels():
    rng = np.random.default_rng(4)
    x = sm.add_constant(rng.normal(size=(30, 2)))
    y = x @ [0.5, 1.0, -0.3] + rng.normal(size=30) * (1 + np.abs(x[:, 1]))
    ours = hc3_ols(y, x)
    theirs = sm.OLS(y, x).fit(cov_type="HC3")
    np.testing.assert_allclose(ours["se"], theirs.bse, rtol=1e-10)


def test_lag_pairs_each_organisation_with_its_next_wave():
    # Burnout of wave 1 predicts turnover of wave 2; averaged per organisation over pairs.
    rng = np.random.default_rng(0)
    orgs = [f"O{i:02d}" for i in range(20)]
    burnout = {(o, w): rng.normal() for o in orgs for w in (1, 2, 3)}
    rows = []
    for o in orgs:
        for w in (1, 2, 3):
            turnover = burnout.get((o, w - 1), np.nan)  # exactly last wave's burnout
            for _ in range(3):
                rows.append({"org": o, "wave": str(w), "burnout": burnout[(o, w)],
                             "org_turnover": turnover})
    data = pd.DataFrame(rows)
    plan = _plan({"kind": "organisation_regression", "outcome": "org_turnover",
                  "predictor": "burnout", "lag": 1, "direction": "positive"})
    row = run_plan(data, plan).iloc[0]
    assert row["estimate"] == pytest.approx(1.0) and row["n_orgs"] == 20
    assert "1 wave(s) later" in row["reason"]
    same_wave = _plan({"kind": "organisation_regression", "outcome": "org_turnover",
                       "predictor": "burnout", "direction": "positive"})
    assert abs(run_plan(data, same_wave).iloc[0]["estimate"]) < 0.6
    one_wave = run_plan(data[data["wave"] == "2"], plan).iloc[0]
    assert one_wave["test_decision"] == "not computable"
    assert "at least two waves" in one_wave["reason"]


def test_too_few_organisations_to_decide():
    plan = _plan({"kind": "cross_level", "outcome": "burnout",
                  "predictor": "org_peer_or_survivor_led", "direction": "negative"}, min_orgs=30)
    row = run_plan(STAFF, plan).iloc[0]
    assert row["test_decision"] == "inconclusive"
    assert row["reason"].startswith("too few organisations to decide: 24, the plan needs 30")


def test_lag_is_only_for_organisation_regressions():
    with pytest.raises(Exception, match=r"\(T\)\.lag: is not used by a cross_level test"):
        _plan({"kind": "cross_level", "outcome": "burnout", "predictor": "x", "lag": 1,
               "direction": "negative"})
