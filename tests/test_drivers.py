"""Structural drivers: estimators against statsmodels/pingouin, and the structural story."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import statsmodels.api as sm

from fieldsurvey.compare import (
    CompareError,
    block_tests,
    cluster_ols,
    organisation_icc,
    random_intercept,
    structural_drivers,
    variance_shares,
)
from fieldsurvey.scoring import score_scales
from fieldsurvey.synthetic import generate_coalition

CONTEXT = ["org", "wave", "wf_role", "wf_lived_exp", "wf_payband", "wf_tenure", "wf_hours"]
INSTRUMENTS = ["proqol5", "structural-conditions"]


def _study(structural_effect: float, seed: int = 21) -> pd.DataFrame:
    study = generate_coalition(n_orgs=30, seed=seed, structural_effect=structural_effect)
    scores = score_scales(study.responses, INSTRUMENTS, id_column="response_id")
    return pd.concat([scores, study.responses[CONTEXT].reset_index(drop=True)], axis=1)


@pytest.fixture(scope="module")
def structural() -> pd.DataFrame:
    return _study(1.0)


@pytest.fixture(scope="module")
def no_structure() -> pd.DataFrame:
    return _study(0.0)


@pytest.fixture(scope="module")
def small_problem():
    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(12), rng.integers(5, 30, 12))
    n = groups.size
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n) + 0.3 * groups])
    y = x @ np.array([1.0, 0.5, -0.2]) + rng.normal(0, 0.7, 12)[groups] + rng.normal(size=n)
    return y, x, groups


def test_cluster_ols_matches_statsmodels(small_problem):
    y, x, groups = small_problem
    ours = cluster_ols(y, x, groups)
    ref = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": groups})
    np.testing.assert_allclose(ours["coef"], ref.params, rtol=1e-10)
    np.testing.assert_allclose(ours["se"], ref.bse, rtol=1e-8)
    np.testing.assert_allclose(ours["cov"], ref.cov_params(), rtol=1e-8)
    assert ours["r2"] == pytest.approx(ref.rsquared)
    assert ours["df"] == 11


def test_random_intercept_matches_statsmodels_mixedlm(small_problem):
    y, x, groups = small_problem
    ours = random_intercept(y, x, groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.MixedLM(y, x, groups=groups).fit(reml=True)
    tau2 = float(np.asarray(ref.cov_re)[0, 0])
    np.testing.assert_allclose(ours["coef"], ref.fe_params, rtol=1e-4)
    assert ours["tau2"] == pytest.approx(tau2, rel=1e-4)
    assert ours["sigma2"] == pytest.approx(ref.scale, rel=1e-5)
    # Our SEs are the GLS ones, sigma^2 (X' H^-1 X)^-1 (as R nlme/lme4); statsmodels inverts
    # the observed Hessian of all parameters, which differs by a fraction of a percent.
    gamma = tau2 / ref.scale
    w = x.T @ x
    for g in np.unique(groups):
        s = x[groups == g].sum(axis=0)
        w -= gamma / (1 + (groups == g).sum() * gamma) * np.outer(s, s)
    np.testing.assert_allclose(
        ours["se"], np.sqrt(np.diag(ref.scale * np.linalg.inv(w))), rtol=1e-5
    )
    np.testing.assert_allclose(ours["se"], ref.bse_fe, rtol=1e-2)
    ml = random_intercept(y, x, groups, reml=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_ml = sm.MixedLM(y, x, groups=groups).fit(reml=False)
    assert ml["tau2"] == pytest.approx(float(np.asarray(ref_ml.cov_re)[0, 0]), rel=1e-4)


def test_anova_icc1_equals_pingouin_on_balanced_data():
    rng = np.random.default_rng(8)
    j, k = 15, 6
    data = pd.DataFrame({"org": np.repeat(np.arange(j), k), "pos": np.tile(np.arange(k), j)})
    data["x"] = rng.normal(0, 0.8, j)[data["org"]] + rng.normal(size=j * k)
    ours = organisation_icc(data, "x").iloc[0]
    ref = pg.intraclass_corr(data, targets="org", raters="pos", ratings="x")
    icc1 = ref.loc[ref["Type"] == "ICC(1,1)"].iloc[0]
    assert ours["icc_anova"] == pytest.approx(icc1["ICC"], rel=1e-10)
    assert ours["f"] == pytest.approx(icc1["F"], rel=1e-10)
    assert ours["k0"] == pytest.approx(k)
    assert [round(ours["ci_low"], 2), round(ours["ci_high"], 2)] == list(icc1["CI95"])


def test_model_icc_matches_null_mixedlm(structural):
    ours = organisation_icc(structural, "burnout").iloc[0]
    data = structural.dropna(subset=["burnout"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.MixedLM(
            data["burnout"].to_numpy(), np.ones(len(data)), groups=data["org"].to_numpy()
        ).fit(reml=True)
    tau2 = float(np.asarray(ref.cov_re)[0, 0])
    assert ours["icc_model"] == pytest.approx(tau2 / (tau2 + ref.scale), rel=1e-4)


def test_structural_conditions_drive_burnout(structural):
    coefs = structural_drivers(structural, "burnout")
    ols = coefs.loc[coefs["model"] == "ols_cluster"].set_index("term")
    for term in ("workload", "supervision", "leadership"):
        assert ols.loc[term, "coef"] < 0, term  # better conditions, less burnout
    drivers = [
        "workload",
        "caseload",
        "supervision",
        "leadership",
        "training_timing",
        "pay_adequacy",
        "shared_power",
    ]
    assert ols.loc[drivers, "coef"].sum() < -0.3
    assert ols.loc["financial_strain", "coef"] > 0
    assert (ols["n_orgs"] == 30).all() and (ols["block"].loc["workload"] == "condition")
    mixed = coefs.loc[coefs["model"] == "random_intercept"].set_index("term")
    assert mixed.loc["workload", "coef"] < 0 and mixed["tau2"].iloc[0] >= 0
    icc = organisation_icc(structural, "burnout").iloc[0]
    assert icc["ci_low"] > 0 and icc["icc_model"] > 0.05


def test_structural_share_is_substantial(structural):
    shares = variance_shares(structural, "burnout", n_boot=100).set_index("component")
    total = shares.loc["total", "r2"]
    assert shares.loc[
        ["organisation_conditions", "individual_conditions", "personal"], "r2"
    ].sum() == pytest.approx(total)
    assert shares.loc["organisation_conditions", "r2"] > 0.06
    assert shares.loc["organisation_conditions", "share"] > 0.4
    assert shares.loc["organisation_conditions", "ci_low"] > 0.03


def test_without_structure_the_structural_block_explains_almost_nothing(no_structure):
    shares = variance_shares(no_structure, "burnout", n_boot=100).set_index("component")
    assert shares.loc["organisation_conditions", "r2"] < 0.03
    icc = organisation_icc(no_structure, "burnout").iloc[0]
    assert icc["ci_low"] <= 0 <= icc["ci_high"]
    coefs = structural_drivers(no_structure, "burnout")
    ols = coefs.loc[(coefs["model"] == "ols_cluster") & (coefs["block"] == "condition")]
    assert (ols["coef"].abs() < 0.15).all()


def test_total_r2_matches_the_split_regression(structural):
    shares = variance_shares(structural, "sts", covariates={}, n_boot=0).set_index("component")
    data = structural.dropna(
        subset=[
            "sts",
            "financial_strain",
            "pay_adequacy",
            "workload",
            "caseload",
            "supervision",
            "training_timing",
            "leadership",
            "shared_power",
            "peer_support",
            "psych_safety",
        ]
    )
    conds = [
        "pay_adequacy",
        "workload",
        "caseload",
        "supervision",
        "training_timing",
        "leadership",
        "shared_power",
        "peer_support",
        "psych_safety",
    ]
    means = data.groupby("org")[conds].transform("mean")
    x = sm.add_constant(
        pd.concat(
            [means.add_suffix("_m"), data[conds] - means, data[["financial_strain"]]], axis=1
        ).to_numpy(float)
    )
    ref = sm.OLS(data["sts"].to_numpy(float), x).fit()
    assert shares.loc["total", "r2"] == pytest.approx(ref.rsquared, rel=1e-9)
    assert np.isnan(shares.loc["total", "ci_low"])


def test_driver_errors_name_columns(structural):
    with pytest.raises(CompareError, match="'wf_hours_per_week'"):
        structural_drivers(structural, "burnout", covariates={"wf_hours_per_week": "numeric"})
    with pytest.raises(CompareError, match="kind must be"):
        structural_drivers(structural, "burnout", covariates={"wf_hours": "ordinal"})


def test_joint_condition_test_separates_structure_from_none(structural, no_structure):
    with_effect = block_tests(structural, "burnout").set_index("model")
    without = block_tests(no_structure, "burnout").set_index("model")
    assert (with_effect["p"] < 1e-4).all()
    assert (without["p"] > 0.05).all()
    assert with_effect.loc["ols_cluster", "df2"] == 29 and with_effect["terms"].eq(9).all()
    # With one condition the joint statistic is that coefficient's t squared.
    one = block_tests(structural, "burnout", conditions=["workload"]).set_index("model")
    fit = structural_drivers(structural, "burnout", conditions=["workload"])
    for model in ("ols_cluster", "random_intercept"):
        row = fit.loc[(fit["model"] == model) & (fit["term"] == "workload")].iloc[0]
        assert one.loc[model, "statistic"] == pytest.approx((row["coef"] / row["se"]) ** 2)
        assert one.loc[model, "p"] == pytest.approx(row["p"])
