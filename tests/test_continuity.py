"""Hand-off estimator (fieldsurvey.compare.continuity) against base R's gamma and negative
binomial quantiles (tests/reference/continuity_reference.R), its field row, and its guards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fieldsurvey.compare import CompareError
from fieldsurvey.compare.continuity import handoff_estimates

GOLDEN = json.loads((Path(__file__).parent / "reference" / "continuity_golden.json").read_text())
COLUMNS = ["rate", "rate_ci_low", "rate_ci_high", "handoffs", "handoffs_se", "handoffs_ci_low",
           "handoffs_ci_high", "handoffs_pi_low", "handoffs_pi_high"]


def _orgs() -> pd.DataFrame:
    return pd.DataFrame(GOLDEN["organisations"]).astype({"respondents": float, "intending": float})


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda c: f"rho={c['realisation']}")
def test_organisation_rows_match_r(case):
    ours = handoff_estimates(_orgs(), realisation=case["realisation"]).iloc[:-1]
    theirs = pd.DataFrame(case["rows"])
    assert ours["org"].tolist() == theirs["org"].tolist()
    np.testing.assert_allclose(ours[COLUMNS].to_numpy(float), theirs[COLUMNS].to_numpy(float),
                               rtol=1e-10, atol=1e-10)
    assert ours["basis"].tolist() == ["leavers and intention"] * 3 + ["leavers",
                                                                      "leavers and intention"]


def test_field_row_sums_and_covers_the_organisations():
    out = handoff_estimates(_orgs(), n_draws=40_000)
    orgs, field = out.iloc[:-1], out.iloc[-1]
    assert pd.isna(field["org"]) and field["organisations"] == 5
    assert field["handoffs"] == pytest.approx(orgs["handoffs"].sum())
    assert field["staff"] == orgs["staff"].sum()
    assert field["handoffs_se"] == pytest.approx(np.sqrt((orgs["handoffs_se"] ** 2).sum()))
    assert field["handoffs_ci_low"] < field["handoffs"] < field["handoffs_ci_high"]
    assert field["handoffs_pi_low"] < field["handoffs_ci_low"]
    assert field["handoffs_pi_high"] > field["handoffs_ci_high"]
    assert field["basis"] == "mixed"
    orgs_in = _orgs()
    events = orgs_in["leavers"] + orgs_in["intending"].fillna(0)
    exposure = orgs_in["staff"] + orgs_in["respondents"].fillna(0)
    assert field["rate"] == pytest.approx(events.sum() / exposure.sum())
    assert field["caseload"] == pytest.approx(
        (orgs_in["caseload"] * orgs_in["case_managers"]).sum() / orgs_in["case_managers"].sum())


def test_field_intervals_of_one_organisation_are_its_own():
    one = _orgs().iloc[[2]]
    out = handoff_estimates(one, n_draws=200_000, seed=1)
    org, field = out.iloc[0], out.iloc[1]
    for col in ("handoffs_ci_low", "handoffs_ci_high"):
        assert field[col] == pytest.approx(org[col], rel=0.01)
    for col in ("handoffs_pi_low", "handoffs_pi_high"):  # counts: within one caseload step
        assert abs(field[col] - org[col]) <= org["caseload"]


def test_leavers_only_ignores_the_survey_and_says_so():
    out = handoff_estimates(_orgs(), intention=False).iloc[:-1]
    assert set(out["basis"]) == {"leavers"}
    expected = _orgs()
    rate = expected["leavers"] / expected["staff"]
    np.testing.assert_allclose(out["handoffs"], expected["case_managers"] * expected["caseload"]
                               * rate)
    assert out["respondents"].isna().all()


def test_missing_profile_inputs_keep_the_row_and_name_the_gap():
    orgs = _orgs()
    orgs.loc[1, "caseload"] = np.nan
    orgs.loc[2, "staff"] = 0
    out = handoff_estimates(orgs)
    assert out["basis"].tolist()[:3] == ["leavers and intention", "no caseload", "no staff"]
    assert out.loc[[1, 2], ["handoffs", "handoffs_ci_high", "handoffs_pi_high"]].isna().all(
        axis=None)
    field = out.iloc[-1]
    assert field["organisations"] == 3
    assert field["handoffs"] == pytest.approx(out.loc[[0, 3, 4], "handoffs"].sum())


def test_no_departures_anywhere_gives_zero_lower_limits():
    orgs = pd.DataFrame({"org": ["A", "B"], "staff": [10, 5], "leavers": [0, 0],
                         "case_managers": [3, 1], "caseload": [10, 10]})
    out = handoff_estimates(orgs)
    assert out["handoffs"].tolist() == [0.0, 0.0, 0.0]
    assert out["handoffs_ci_low"].tolist() == [0.0, 0.0, 0.0]
    assert (out["handoffs_ci_high"] > 0).all()


@pytest.mark.parametrize("kwargs", [{"realisation": 0}, {"realisation": 1.5}, {"level": 1}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(CompareError):
        handoff_estimates(_orgs(), **kwargs)


def test_missing_columns_are_named():
    with pytest.raises(CompareError, match="caseload"):
        handoff_estimates(_orgs().drop(columns=["caseload"]))
