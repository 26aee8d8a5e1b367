"""The random-intercept model against R lme4 (tests/reference/lme4_reference.R)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fieldsurvey.compare import organisation_icc, random_intercept
from golden import HERE

GOLDEN = json.loads((HERE / "reference" / "lme4_golden.json").read_text())
DATA = pd.read_csv(HERE / "data" / "drivers_sample.csv")


def _design(name: str) -> np.ndarray:
    if name == "null":
        return np.ones((len(DATA), 1))
    return np.column_stack([np.ones(len(DATA)), DATA["workload"], DATA["supervision"]])


@pytest.mark.parametrize("name", ["null", "predictors"])
@pytest.mark.parametrize("reml", [True, False])
def test_random_intercept_matches_lmer(name, reml):
    gold = GOLDEN[f"{name}_{'reml' if reml else 'ml'}"]
    fit = random_intercept(DATA["burnout"].to_numpy(), _design(name), DATA["org"], reml=reml)
    if reml:
        assert fit["reml_criterion"] == pytest.approx(gold["reml_criterion"], abs=1e-4)
        assert np.isnan(fit["deviance"])
    else:
        assert fit["deviance"] == pytest.approx(gold["deviance"], abs=1e-4)
        assert np.isnan(fit["reml_criterion"])
    assert fit["loglik"] == pytest.approx(gold["loglik"], abs=1e-4)
    assert fit["tau2"] == pytest.approx(gold["tau2"], abs=1e-4)
    assert fit["sigma2"] == pytest.approx(gold["sigma2"], abs=1e-4)
    np.testing.assert_allclose(fit["coef"], np.ravel(gold["coef"]), atol=1e-4)
    np.testing.assert_allclose(fit["se"], np.ravel(gold["se"]), atol=1e-3)


def test_organisation_icc_reports_the_reml_criterion():
    icc = organisation_icc(DATA, "burnout").iloc[0]
    gold = GOLDEN["null_reml"]
    assert icc["reml_criterion"] == pytest.approx(gold["reml_criterion"], abs=1e-4)
    assert icc["icc_model"] == pytest.approx(
        gold["tau2"] / (gold["tau2"] + gold["sigma2"]), abs=1e-4
    )


def test_criterion_at_the_boundary_is_the_linear_model():
    # No between-group variation: gamma = 0 and the REML criterion is that of OLS,
    # (n - p)(1 + log(2 pi RSS / (n - p))) + log|X'X|.
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(10), 8)
    y = rng.normal(size=80)
    y -= pd.Series(y).groupby(groups).transform("mean").to_numpy()  # group means all 0
    x = np.ones((80, 1))
    fit = random_intercept(y, x, groups)
    assert fit["tau2"] == 0
    rss = ((y - y.mean()) ** 2).sum()
    expected = 79 * (1 + np.log(2 * np.pi * rss / 79)) + np.log(80)
    assert fit["reml_criterion"] == pytest.approx(expected, rel=1e-9)
