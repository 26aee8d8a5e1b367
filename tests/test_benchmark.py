"""Benchmarking organisations: leave-one-out, bands, trend, shrinkage, funnels, weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize, stats

from fieldsurvey.compare import (
    CompareError,
    benchmark_bands,
    benchmark_organisations,
    between_variance,
    empirical_bayes,
    funnel_curves,
    funnel_limits,
    organisation_trend,
    overdispersion,
    shrink_organisation_means,
    standardise_role_mix,
    survey_weights,
    weighted_means,
)
from fieldsurvey.compare.funnel import Z95, Z998
from fieldsurvey.scoring import score_scales
from fieldsurvey.synthetic import generate_coalition

SMALL = pd.DataFrame(
    {
        "org": ["A"] * 4 + ["B"] * 5 + ["C"] * 3,
        "wave": [1, 1, 2, 2, 1, 1, 1, 2, 2, 1, 2, 2],
        "x": [1.0, 2, 3, 4, 5, 6, 7, 8, np.nan, 2, 3, 9],
        "band": [
            "Low",
            "Low",
            "High",
            "Low",
            "High",
            "High",
            "Low",
            "High",
            None,
            "Low",
            "Low",
            "High",
        ],
    }
)


@pytest.fixture(scope="module")
def coalition() -> pd.DataFrame:
    study = generate_coalition(n_orgs=25, seed=7, waves=2)
    scores = score_scales(study.responses, ["proqol5"], id_column="response_id")
    ctx = study.responses[["org", "wave", "wf_role"]].reset_index(drop=True)
    return pd.concat([scores, ctx], axis=1)


def test_leave_one_out_difference_matches_scipy_welch():
    res = benchmark_organisations(SMALL, "x", min_cell=3)
    for org in "ABC":
        row = res.loc[res["org"] == org].iloc[0]
        own = SMALL.loc[SMALL["org"] == org, "x"].dropna()
        rest = SMALL.loc[SMALL["org"] != org, "x"].dropna()
        welch = stats.ttest_ind(own, rest, equal_var=False)
        assert row["n"] == (SMALL["org"] == org).sum()
        assert row["n_valid"] == own.size and row["field_n_valid"] == rest.size
        assert row["mean"] == pytest.approx(own.mean())
        assert row["field_mean"] == pytest.approx(rest.mean())
        assert row["field_sd"] == pytest.approx(rest.std(ddof=1))
        assert row["t"] == pytest.approx(welch.statistic)
        assert row["p"] == pytest.approx(welch.pvalue)
        ci = welch.confidence_interval(0.95)
        assert (row["diff_ci_low"], row["diff_ci_high"]) == (
            pytest.approx(ci.low),
            pytest.approx(ci.high),
        )
        pooled = np.sqrt(
            ((own.size - 1) * own.var() + (rest.size - 1) * rest.var()) / (own.size + rest.size - 2)
        )
        assert row["std_diff"] == pytest.approx((own.mean() - rest.mean()) / pooled)
    ranks = res.set_index("org")["percentile_rank"]
    # means A 2.5, B 6.5, C 4.67: ranks 1, 3, 2 of 3 -> (rank - 0.5) / 3
    assert ranks["A"] == pytest.approx(100 / 6) and ranks["B"] == pytest.approx(500 / 6)
    field = res.loc[res["org"].isna()].iloc[0]
    assert (field["n"], field["n_valid"]) == (12, 11)
    assert field["mean"] == pytest.approx(SMALL["x"].mean())


def test_small_organisations_are_not_ranked_but_still_marked():
    res = benchmark_organisations(SMALL, "x", min_cell=4)
    c = res.loc[res["org"] == "C"].iloc[0]
    assert not c["reportable"] and np.isnan(c["percentile_rank"]) and c["n_valid"] == 3
    assert res.loc[res["org"] == "A", "n_ranked"].iloc[0] == 2


def test_benchmark_per_wave_uses_same_wave_field(coalition):
    res = benchmark_organisations(coalition, ["burnout", "sts"], wave="wave")
    assert set(res["wave"]) == {1, 2}
    row = res.loc[(res["org"] == "O02") & (res["wave"] == 2) & (res["scale"] == "sts")].iloc[0]
    rest = coalition.loc[(coalition["wave"] == 2) & (coalition["org"] != "O02"), "sts"].dropna()
    assert row["field_mean"] == pytest.approx(rest.mean())
    assert row["field_sd"] == pytest.approx(rest.std(ddof=1))
    with pytest.raises(CompareError, match="'nope'"):
        benchmark_organisations(coalition, "nope")


def test_band_distribution_against_the_rest():
    res = benchmark_bands(SMALL, "band", order={"band": ["Low", "High"]})
    a_low = res.loc[(res["org"] == "A") & (res["category"] == "Low")].iloc[0]
    assert (a_low["n"], a_low["n_org"], a_low["pct"]) == (3, 4, 75.0)
    # rest of field: B Low 1 of 4 valid, C Low 2 of 3 -> 3 of 7
    assert (a_low["field_n"], a_low["field_total"]) == (3, 7)
    assert a_low["diff_pct"] == pytest.approx(75 - 300 / 7)
    field = res.loc[res["org"].isna()]
    assert field["n"].tolist() == [6, 5] and field["pct"].sum() == pytest.approx(100)


def test_trend_change_has_welch_interval():
    res = organisation_trend(SMALL, "x")
    a2 = res.loc[(res["org"] == "A") & (res["wave"] == 2)].iloc[0]
    w1, w2 = np.array([1.0, 2]), np.array([3.0, 4])
    welch = stats.ttest_ind(w2, w1, equal_var=False)
    assert a2["change"] == pytest.approx(2.0)
    assert a2["p"] == pytest.approx(welch.pvalue)
    assert a2["change_ci_low"] == pytest.approx(welch.confidence_interval().low)
    overall = res.loc[(res["org"] == "A") & res["wave"].isna()].iloc[0]
    assert overall["n"] == 4 and overall["change"] == pytest.approx(2.0)


def test_dersimonian_laird_and_shrinkage_by_hand():
    y, v = np.array([1.0, 2.0, 4.0]), np.array([0.5, 0.5, 0.5])
    # w = 2, mu = 7/3, Q = 2 * 42/9, tau2 = (Q - 2) / (6 - 2) = 11/6
    assert between_variance(y, v, "dl") == pytest.approx(11 / 6)
    res = empirical_bayes(y, v, method="dl")
    b = (11 / 6) / (11 / 6 + 0.5)
    np.testing.assert_allclose(res["shrunk_mean"], 7 / 3 + b * (y - 7 / 3))
    np.testing.assert_allclose(res["weight"], b)
    np.testing.assert_allclose(
        res["shrunk_se"], np.sqrt(b * 0.5 + (1 - b) ** 2 / (3 / (11 / 6 + 0.5)))
    )


def test_reml_maximises_the_restricted_likelihood():
    y = np.array([0.2, 1.5, -0.7, 2.2, 0.9, -1.1])
    v = np.array([0.3, 0.8, 0.2, 1.5, 0.4, 0.6])

    def neg_reml(tau2: float) -> float:
        w = 1 / (v + tau2)
        mu = (w * y).sum() / w.sum()
        return 0.5 * (np.log(v + tau2).sum() + np.log(w.sum()) + (w * (y - mu) ** 2).sum())

    best = optimize.minimize_scalar(
        neg_reml, bounds=(0, 20), method="bounded", options={"xatol": 1e-12}
    )
    assert between_variance(y, v, "reml") == pytest.approx(best.x, abs=1e-6)


def test_small_organisations_shrink_more(coalition):
    res = shrink_organisation_means(coalition, "burnout")
    assert res["weight"].corr(res["n_valid"], method="spearman") > 0.99
    moved = (res["shrunk_mean"] - res["mean"]).abs()
    assert moved.iloc[res["n_valid"].argmin()] > moved.iloc[res["n_valid"].argmax()]
    assert (res["tau2"] > 0).all() and res["mu"].nunique() == 1


def test_funnel_limits_known_case():
    # Two organisations of 100 with SD 1 inside, means -0.1 and +0.1: target 0, sigma 1.
    base = np.r_[np.full(50, -1.0), np.full(50, 1.0)]
    scale = np.sqrt(100 / 99)  # makes each organisation's SD exactly 1
    data = pd.DataFrame(
        {"org": np.repeat(["A", "B"], 100), "x": np.r_[base / scale - 0.1, base / scale + 0.1]}
    )
    res = funnel_limits(data, "x", method="none")
    assert res["target"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    assert res["sigma"].iloc[0] == pytest.approx(1.0)
    assert res["upper95"].iloc[0] == pytest.approx(Z95 / 10)
    assert res["lower998"].iloc[0] == pytest.approx(-3.090232306167813 / 10)
    assert Z998 == pytest.approx(3.090232306167813)
    assert res["z"].tolist() == pytest.approx([-1.0, 1.0])
    assert not res["outside95"].any()
    curves = funnel_curves(res, sizes=[25, 100])
    assert curves["upper95"].tolist() == pytest.approx([Z95 / 5, Z95 / 10])


def test_overdispersion_by_hand_and_additive_widening():
    z = np.array([-4.0, -1.0, 0.0, 0.5, 1.0, 2.0, 6.0, 0.2, -0.3, 0.1])
    se = np.full(10, 0.5)
    lo, hi = np.quantile(z, [0.1, 0.9])
    phi = np.mean(np.clip(z, lo, hi) ** 2)
    w = 1 / se**2
    tau2 = (10 * phi - 9) / (w.sum() - (w**2).sum() / w.sum())
    assert overdispersion(z, se) == (pytest.approx(phi), pytest.approx(max(tau2, 0)))


def test_funnel_flags_with_overdispersion(coalition):
    add = funnel_limits(coalition, "burnout")
    none = funnel_limits(coalition, "burnout", method="none")
    assert add["tau2"].iloc[0] > 0
    assert add["outside95"].sum() <= none["outside95"].sum()
    widened = np.sqrt(add["se"] ** 2 + add["tau2"])
    np.testing.assert_allclose(add["upper95"] - add["target"], Z95 * widened)
    assert set(add["direction"].dropna()) <= {"above", "below"}
    mult = funnel_limits(coalition, "burnout", method="multiplicative")
    np.testing.assert_allclose(
        mult["upper998"] - mult["target"], Z998 * mult["se"] * np.sqrt(max(mult["phi"].iloc[0], 1))
    )


def test_direct_standardisation_to_field_role_mix():
    data = pd.DataFrame(
        {
            "org": list("AAAABBBBCC"),
            "role": [1, 1, 1, 2, 1, 2, 2, 2, 1, 1],
            "x": [1.0, 1, 1, 5, 1, 5, 5, 5, 2, 4],
        }
    )
    res = standardise_role_mix(data, "x", role="role").set_index("org")
    # field shares: role 1 = 6/10, role 2 = 4/10
    assert res.loc["A", "standardised_mean"] == pytest.approx(0.6 * 1 + 0.4 * 5)
    assert res.loc["B", "standardised_mean"] == pytest.approx(0.6 * 1 + 0.4 * 5)
    assert res.loc["A", "crude_mean"] == 2.0
    assert not res.loc["C", "complete"] and res.loc["C", "roles_missing"] == "2"
    assert res.loc["C", "role_coverage"] == pytest.approx(0.6)
    merged = standardise_role_mix(data, "x", role="role", collapse={2: 1})
    assert merged["complete"].all()


def test_poststratification_and_raking_weights():
    data = pd.DataFrame({"org": ["A", "A", "A", "B", "B"], "wf_role": [1, 1, 2, 1, 2]})
    staff = pd.DataFrame(
        {"org": ["A", "A", "B", "B"], "wf_role": [1, 2, 1, 2], "staff": [10, 3, 4, 8]}
    )
    w = survey_weights(data, staff)
    assert w.tolist() == [5.0, 5.0, 3.0, 4.0, 8.0]
    raked = survey_weights(data, staff, method="rake")
    assert raked.groupby(data["org"]).sum().tolist() == pytest.approx([13, 12])
    assert raked.groupby(data["wf_role"]).sum().tolist() == pytest.approx([14, 11])
    with pytest.raises(CompareError, match="no respondents"):
        survey_weights(data.iloc[:3], staff)
    with pytest.raises(CompareError, match="not in the staff table"):
        survey_weights(data.assign(org=["A", "A", "A", "B", "Z"]), staff)


def test_weighted_mean_se_equals_cluster_robust_wls(coalition):
    data = coalition.dropna(subset=["burnout", "wf_role"]).reset_index(drop=True)
    w = 1 + (data["wf_role"].astype(float) % 3)
    res = weighted_means(data, "burnout", w, cluster="org").iloc[0]
    fit = sm.WLS(data["burnout"].to_numpy(), np.ones(len(data)), weights=w.to_numpy()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(data["org"])[0]}
    )
    assert res["weighted_mean"] == pytest.approx(fit.params[0])
    assert res["se"] == pytest.approx(fit.bse[0], rel=1e-9)
    assert res["clusters"] == data["org"].nunique()


def test_every_benchmark_row_counts_its_respondent_set(coalition):
    def count(row: pd.Series, dims: list[str]) -> int:
        mask = pd.Series(True, index=coalition.index)
        for dim in dims:
            if not pd.isna(row[dim]):
                mask &= coalition[dim] == row[dim]
        return int(mask.sum())

    tables = [
        (benchmark_organisations(coalition, "burnout", wave="wave"), ["org", "wave"]),
        (organisation_trend(coalition, "burnout"), ["org", "wave"]),
        (shrink_organisation_means(coalition, "burnout"), ["org"]),
        (funnel_limits(coalition, "burnout", wave="wave"), ["org", "wave"]),
        (standardise_role_mix(coalition, "burnout"), ["org"]),
    ]
    for table, dims in tables:
        for _, row in table.iterrows():
            assert row["n"] == count(row, dims), (dims, row.to_dict())
