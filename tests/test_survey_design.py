"""Design-correct standard errors of calibrated survey-weighted means against R survey
(tests/reference/survey_reference.R)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fieldsurvey.compare.standardise import (
    Calibration,
    calibrated_variance,
    survey_weights,
    weighted_means,
)
from golden import HERE

GOLDEN = json.loads((HERE / "reference" / "survey_golden.json").read_text())
DATA = pd.read_csv(HERE / "data" / "weights_sample.csv")
STAFF = pd.read_csv(HERE / "data" / "weights_staff.csv")
METHOD = {"poststratify": "poststratify", "poststratify_calibrate": "poststratify",
          "rake": "rake"}  # fmt: skip


@pytest.mark.parametrize("design", list(GOLDEN["respondents"]))
def test_calibrated_means_and_se_match_survey_svymean(design):
    gold = GOLDEN["respondents"][design]
    weights = survey_weights(DATA, STAFF, method=METHOD[design])
    assert weights.attrs["calibration"] == Calibration(METHOD[design], ("org", "wf_role"))
    np.testing.assert_allclose(weights, gold["weights"], rtol=1e-8)
    res = weighted_means(DATA, "burnout", weights, by="org")
    field = res[res["org"].isna()].iloc[0]
    assert field["weighted_mean"] == pytest.approx(gold["mean"], abs=1e-8)
    assert field["calibrated_se"] == pytest.approx(np.ravel(gold["se"])[0], abs=1e-6)
    orgs = res[res["org"].notna()]
    assert list(orgs["org"]) == gold["by_org"]["org"]
    np.testing.assert_allclose(orgs["weighted_mean"], gold["by_org"]["mean"], atol=1e-8)
    np.testing.assert_allclose(orgs["calibrated_se"], gold["by_org"]["se"], atol=1e-6)


def test_calibration_matters_fixed_weights_se_is_the_old_one():
    weights = survey_weights(DATA, STAFF)
    field = weighted_means(DATA, "burnout", weights).iloc[0]
    assert field["se"] == pytest.approx(np.ravel(GOLDEN["fixed_weights_se"])[0], rel=1e-2)
    gold = np.ravel(GOLDEN["respondents"]["poststratify"]["se"])[0]
    assert field["calibrated_se"] == pytest.approx(gold, abs=1e-6)
    assert field["calibrated_se"] < field["se"]
    lo, hi = field["calibrated_ci_low"], field["calibrated_ci_high"]
    assert lo < field["weighted_mean"] < hi and hi - lo < field["ci_high"] - field["ci_low"]


@pytest.mark.parametrize("design", ["poststratify", "rake"])
def test_clustered_by_organisation_matches_survey(design):
    weights = survey_weights(DATA, STAFF, method=design)
    field = weighted_means(DATA, "burnout", weights, cluster="org").iloc[0]
    gold = GOLDEN["clustered"][design]
    # post-stratifying within organisations leaves no between-organisation variation: ~0
    assert field["calibrated_se"] == pytest.approx(np.ravel(gold["se"])[0], abs=1e-6)


def test_without_calibration_no_calibrated_columns():
    weights = pd.Series(np.ones(len(DATA)))
    assert "calibrated_se" not in weighted_means(DATA, "burnout", weights).columns


def test_calibrated_variance_of_a_saturated_cell_model_is_within_cell_variation():
    # One post-stratum: the calibrated mean is the plain mean and its variance the usual
    # n/(n-1) sum (y - ybar)^2 / n^2 with respondents as units.
    y = np.array([1.0, 2.0, 4.0, 7.0])
    mean, var, k = calibrated_variance(y, np.full(4, 2.5), np.ones(4, bool), [np.zeros(4)])
    assert mean == 3.5 and k == 4
    assert var == pytest.approx(4 / 3 * ((y - 3.5) ** 2).sum() / 16)
