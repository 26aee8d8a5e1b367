"""The empirical-Bayes step against R metafor (tests/reference/metafor_reference.R)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fieldsurvey.compare import empirical_bayes, shrink_organisation_means
from fieldsurvey.scoring import score_scales
from fieldsurvey.synthetic import generate_coalition
from golden import HERE

GOLDEN = json.loads((HERE / "reference" / "metafor_golden.json").read_text())
MEANS = pd.read_csv(HERE / "data" / "org_means.csv")


@pytest.mark.parametrize("name", list(GOLDEN["sets"]))
def test_random_effects_summary_matches_metafor_rma(name):
    gold = GOLDEN["sets"][name]
    data = MEANS[MEANS["scale"] == gold["scale"]]
    assert list(data["org"]) == gold["org"]
    eb = empirical_bayes(data["yi"].to_numpy(), data["vi"].to_numpy(), method=gold["method"])
    row = eb.iloc[0]
    for ours, theirs in (("mu", "mu"), ("tau2", "tau2"), ("i2", "i2"), ("h2", "h2"),
                         ("qe", "qe"), ("qe_p", "qep")):  # fmt: skip
        assert row[ours] == pytest.approx(gold[theirs], abs=1e-4), ours
    assert row["mu_se"] == pytest.approx(gold["se"], abs=1e-4)
    assert row["tau2_se"] == pytest.approx(gold["se_tau2"], abs=1e-3)
    assert row["k"] == gold["k"]
    # metafor's blup(): the shrunken means and their standard errors
    np.testing.assert_allclose(eb["shrunk_mean"], gold["blup"], atol=1e-4)
    np.testing.assert_allclose(eb["shrunk_se"], gold["blup_se"], atol=1e-3)


def test_homogeneous_units_sit_at_the_boundary():
    gold = GOLDEN["sets"]["homogeneous_REML"]
    data = MEANS[MEANS["scale"] == "homogeneous"]
    eb = empirical_bayes(data["yi"].to_numpy(), data["vi"].to_numpy())
    assert gold["tau2"] == 0 and (eb["tau2"] == 0).all() and (eb["i2"] == 0).all()
    np.testing.assert_allclose(eb["shrunk_mean"], gold["mu"], atol=1e-12)  # all pulled to mu


def test_shrink_organisation_means_carries_the_summary_per_scale():
    study = generate_coalition(n_orgs=25, seed=7, waves=1)
    scores = score_scales(study.responses, ["proqol5"], id_column="response_id")
    data = pd.concat([scores, study.responses[["org"]].reset_index(drop=True)], axis=1)
    res = shrink_organisation_means(data, ["burnout", "sts"])
    for scale in ("burnout", "sts"):
        gold = GOLDEN["sets"][f"{scale}_REML"]
        rows = res[res["scale"] == scale]
        assert list(rows["org"]) == gold["org"]
        assert rows["i2"].iloc[0] == pytest.approx(gold["i2"], abs=1e-4)
        assert rows["qe"].iloc[0] == pytest.approx(gold["qe"], abs=1e-4)
        assert rows["mu_se"].iloc[0] == pytest.approx(gold["se"], abs=1e-4)
        assert (rows["k"] == gold["k"]).all()
