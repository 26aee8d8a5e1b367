"""Group comparisons, categories and the lived-experience lens: values checked by hand and scipy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats

from fieldsurvey.compare import (
    CompareError,
    category_distribution,
    compare_categories,
    compare_groups,
    comparison_to_json,
    group_descriptives,
    independence_test,
    lived_experience_lens,
    omega_squared,
)
from fieldsurvey.compare.categorical import PG_CHI2_COLUMNS
from fieldsurvey.compare.groups import (
    PG_GAMESHOWELL_COLUMNS,
    PG_MWU_COLUMNS,
    PG_TTEST_COLUMNS,
    PG_WELCH_ANOVA_COLUMNS,
)
from fieldsurvey.scoring import score_scales
from fieldsurvey.synthetic import generate_coalition

CONTEXT = ["org", "wave", "wf_role", "wf_lived_exp", "wf_payband", "wf_tenure", "wf_hours"]
A = np.array([1.0, 2.0, 3.0, 4.0])
B = np.array([3.0, 4.0, 5.0, 7.0])


def _study(**overrides) -> pd.DataFrame:
    params = {"n_orgs": 25, "seed": 11, "waves": 1, **overrides}
    study = generate_coalition(**params)
    scores = score_scales(
        study.responses, ["proqol5", "structural-conditions"], id_column="response_id"
    )
    return pd.concat([scores, study.responses[CONTEXT].reset_index(drop=True)], axis=1)


@pytest.fixture(scope="module")
def coalition() -> pd.DataFrame:
    return _study()


def test_pingouin_070_column_names_we_rely_on():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=15), rng.normal(size=12)
    assert list(pg.ttest(x, y, correction=True).columns) == [
        "T",
        "dof",
        "alternative",
        "p_val",
        "CI95",
        "cohen_d",
        "power",
        "BF10",
    ]
    assert list(pg.mwu(x, y).columns) == ["U_val", "alternative", "p_val", "RBC", "CLES"]
    long = pd.DataFrame({"v": rng.normal(size=30), "g": np.repeat([0, 1, 2], 10)})
    assert list(pg.welch_anova(long, dv="v", between="g").columns) == [
        "Source",
        "ddof1",
        "ddof2",
        "F",
        "p_unc",
        "np2",
    ]
    assert tuple(pg.pairwise_gameshowell(long, dv="v", between="g").columns) == (
        PG_GAMESHOWELL_COLUMNS
    )
    cats = pd.DataFrame({"a": np.repeat([0, 1], 15), "b": np.tile([0, 1, 2], 10)})
    _, _, chi = pg.chi2_independence(cats, "a", "b")
    assert list(chi.columns) == ["test", "lambda", "chi2", "dof", "pval", "cramer", "power"]
    for names, frame in (
        (PG_TTEST_COLUMNS, pg.ttest(x, y)),
        (PG_MWU_COLUMNS, pg.mwu(x, y)),
        (PG_WELCH_ANOVA_COLUMNS, pg.welch_anova(long, dv="v", between="g")),
        (PG_CHI2_COLUMNS, chi),
    ):
        assert set(names) <= set(frame.columns)


def test_two_groups_welch_t_and_hedges_g_by_hand():
    data = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 4, "x": np.r_[A, B]})
    row = compare_groups(data, "x", "g").iloc[0]
    va, vb = A.var(ddof=1), B.var(ddof=1)
    se = np.sqrt(va / 4 + vb / 4)
    t = (A.mean() - B.mean()) / se
    df = (va / 4 + vb / 4) ** 2 / ((va / 4) ** 2 / 3 + (vb / 4) ** 2 / 3)
    assert row["test"] == "welch_t"
    assert row["statistic"] == pytest.approx(t, rel=1e-12)
    assert row["statistic"] == pytest.approx(-2.101947149236112, rel=1e-12)
    assert row["df2"] == pytest.approx(df, rel=1e-10)
    scipy_res = stats.ttest_ind(A, B, equal_var=False)
    assert row["p"] == pytest.approx(scipy_res.pvalue, rel=1e-10)
    d = (A.mean() - B.mean()) / np.sqrt((3 * va + 3 * vb) / 6)
    g = d * (1 - 3 / (4 * 8 - 9))
    assert row["effect_size"] == "hedges_g"
    assert row["effect"] == pytest.approx(g, rel=1e-12)
    se_g = np.sqrt(8 / 16 + g**2 / 16)
    crit = stats.t.ppf(0.975, 6)
    assert row["effect_ci_low"] == pytest.approx(g - crit * se_g, abs=1e-9)
    assert row["effect_ci_high"] == pytest.approx(g + crit * se_g, abs=1e-9)
    mw = stats.mannwhitneyu(A, B, alternative="two-sided")
    assert row["robust_statistic"] == mw.statistic
    assert row["robust_p"] == pytest.approx(mw.pvalue, rel=1e-6)
    assert (row["n"], row["n_valid"], row["min_group_n"]) == (8, 8, 4)


def test_three_groups_welch_anova_and_omega_squared_by_hand():
    groups = [np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 4, 6, 8]), np.array([7.0, 8, 9, 9, 12])]
    data = pd.DataFrame({"g": np.repeat(["a", "b", "c"], [5, 4, 5]), "x": np.concatenate(groups)})
    res = compare_groups(data, "x", "g")
    row = res.iloc[0]
    n = np.array([g.size for g in groups], float)
    m = np.array([g.mean() for g in groups])
    w = n / np.array([g.var(ddof=1) for g in groups])
    mw = (w * m).sum() / w.sum()
    lam = ((1 - w / w.sum()) ** 2 / (n - 1)).sum()
    f = ((w * (m - mw) ** 2).sum() / 2) / (1 + 2 * (3 - 2) / (9 - 1) * lam)
    assert row["test"] == "welch_anova"
    assert row["statistic"] == pytest.approx(f, rel=1e-10)
    assert row["df2"] == pytest.approx((9 - 1) / (3 * lam), rel=1e-10)
    allv = np.concatenate(groups)
    ssb = (n * (m - allv.mean()) ** 2).sum()
    ssw = sum(((g - g.mean()) ** 2).sum() for g in groups)
    msw = ssw / (allv.size - 3)
    assert row["effect"] == pytest.approx((ssb - 2 * msw) / (ssb + ssw + msw), rel=1e-12)
    assert omega_squared(groups) == pytest.approx(row["effect"])
    pairs = res.attrs["pairs"].frame
    assert len(pairs) == 3 and set(pairs["group_a"]) == {"a", "b"}


def test_holm_and_bh_corrections_over_scales():
    rng = np.random.default_rng(5)
    data = pd.DataFrame({"g": np.repeat(["a", "b"], 30)})
    for i, shift in enumerate([0.0, 0.5, 1.0]):
        data[f"s{i}"] = rng.normal(size=60) + shift * (data["g"] == "b")
    res = compare_groups(data, ["s0", "s1", "s2"], "g")
    p = res["p"].to_numpy()
    order = np.argsort(p)
    holm = np.maximum.accumulate(np.minimum(1, (3 - np.arange(3)) * p[order]))
    expected = np.empty(3)
    expected[order] = holm
    np.testing.assert_allclose(res["p_adj"], expected, rtol=1e-12)
    bh = compare_groups(data, ["s0", "s1", "s2"], "g", correction="fdr_bh")["p_adj"]
    assert (bh.to_numpy() <= res["p_adj"].to_numpy() + 1e-15).all()
    with pytest.raises(CompareError, match="correction"):
        compare_groups(data, "s0", "g", correction="bonferroni")


def test_descriptives_carry_respondent_sets_and_counts():
    data = pd.DataFrame(
        {
            "org": ["A"] * 5 + ["B"] * 5,
            "g": ["x", "x", "y", "y", None, "x", "y", "y", "y", "x"],
            "s": [1.0, np.nan, 3.0, 4.0, 9.0, 2.0, 2.0, 5.0, np.nan, 1.0],
        }
    )
    desc = group_descriptives(data, "s", "g", within="org")
    field = desc.loc[desc["org"].isna()]
    assert field["g"].isna().tolist() == [False, False, True]
    # The "everyone" row (g NA) counts the respondent without a group, as the gate would.
    assert field["n"].tolist() == [4, 5, 10]
    assert field["n_valid"].tolist() == [3, 4, 8]
    a_x = desc.loc[(desc["org"] == "A") & (desc["g"] == "x")].iloc[0]
    assert (a_x["n"], a_x["n_valid"], a_x["mean"]) == (2, 1, 1.0)
    res = compare_groups(data, "s", "g", within="org")
    assert res["org"].isna().sum() == 1 and res["g"].isna().all()
    field_test = res.loc[res["org"].isna()].iloc[0]
    assert (field_test["n"], field_test["n_compared"], field_test["n_excluded"]) == (10, 9, 1)
    a_test = res.loc[res["org"] == "A"].iloc[0]
    assert (a_test["n"], a_test["n_compared"], a_test["n_valid"]) == (5, 4, 3)


def test_comparison_json_shape():
    data = pd.DataFrame({"g": ["a"] * 4 + ["b"] * 4, "x": np.r_[A, B], "y": np.r_[B, A]})
    out = comparison_to_json(compare_groups(data, ["x", "y"], "g"))
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text)["by"] == "g"
    first = out["scales"][0]
    assert first["scale"] == "x"
    assert [g["group"] for g in first["groups"]] == ["a", "b"]
    assert first["groups"][0] == {
        "group": "a",
        "n": 4,
        "mean": 2.5,
        "sd": pytest.approx(A.std(ddof=1)),
        "suppressed": False,
    }
    assert first["test"]["name"] == "welch_t" and first["test"]["df1"] == 1.0
    assert first["effect_size"]["name"] == "hedges_g" and len(first["effect_size"]["ci"]) == 2


def test_bad_input_errors_name_the_problem():
    data = pd.DataFrame({"g": ["a", "b"], "x": ["1", "two"]})
    with pytest.raises(CompareError, match="'burnout'"):
        compare_groups(data, "burnout", "g")
    with pytest.raises(CompareError, match=r"column 'x' row 1: 'two' is not a number"):
        compare_groups(data, "x", "g")
    with pytest.raises(CompareError, match="at least two groups"):
        compare_groups(data.assign(g="a", x=1.0), "x", "g")


def test_fisher_for_2x2_and_chi_square_for_large_tables():
    table = np.array([[8, 2], [1, 5]])
    res = independence_test(table)
    assert res["test"] == "fisher_exact"
    assert res["p"] == pytest.approx(stats.fisher_exact(table).pvalue)
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    assert res["cramers_v"] == pytest.approx(np.sqrt(chi2 / 16))
    big = np.array([[30, 45, 25], [40, 20, 40]])
    res = independence_test(big)
    chi2, p, dof, _ = stats.chi2_contingency(big, correction=False)
    assert res["test"] == "chi_square"
    assert (res["statistic"], res["p"], res["dof"]) == (pytest.approx(chi2), pytest.approx(p), dof)
    assert res["cramers_v"] == pytest.approx(np.sqrt(chi2 / big.sum()))
    small = np.array([[5, 0, 1], [1, 6, 0]])
    assert independence_test(small)["test"] == "fisher_exact_monte_carlo"


def test_category_distribution_and_band_tests(coalition):
    dist = category_distribution(coalition, "burnout_band", "wf_lived_exp")
    field = dist.loc[dist["wf_lived_exp"].isna()]
    # "everyone" rows count respondents with no lived-experience answer too
    assert field["n"].sum() == coalition["burnout_band"].notna().sum()
    assert field["burnout_band"].tolist() == ["Low", "Moderate", "High"]
    assert np.allclose(dist.groupby(dist["wf_lived_exp"].astype(str))["proportion"].sum(), 1)
    res = compare_categories(coalition, ["burnout_band", "wf_payband"], "wf_lived_exp")
    assert res["variable"].tolist() == ["burnout_band", "wf_payband"]
    assert res["p_adj"].notna().all() and (res["cramers_v"] > 0).all()


def test_lived_experience_lens_finds_the_pay_gap(coalition):
    lens = lived_experience_lens(coalition, ["burnout", "financial_strain"], min_cell=10)
    field_cells = lens.cells.loc[lens.cells["org"].isna()].iloc[0]
    assert field_cells["n_prefer_not_to_say"] == (coalition["wf_lived_exp"] == 3).sum()
    assert field_cells["n_yes"] == (coalition["wf_lived_exp"] == 1).sum()
    analysed = lens.cells.loc[lens.cells["analysed"] & lens.cells["org"].notna()]
    assert (analysed[["n_yes", "n_no"]] >= 10).all().all()
    assert set(lens.tests["org"].dropna()) == set(analysed["org"])
    pay = lens.payband_test.loc[lens.payband_test["org"].isna()].iloc[0]
    assert pay["rank_biserial"] < -0.2 and pay["p"] < 1e-6  # lived-experience staff paid less
    strain = lens.tests.loc[lens.tests["org"].isna() & (lens.tests["scale"] == "financial_strain")]
    assert strain["effect"].iloc[0] > 0.3
    assert lens.tests["n_compared"].iloc[0] == field_cells["n_yes"] + field_cells["n_no"]
    assert lens.tests["n"].iloc[0] == len(coalition)


def test_lived_experience_lens_without_a_gap():
    data = _study(lived_pay_gap=0.0, lived_strain=0.0)
    lens = lived_experience_lens(data, ["financial_strain"])
    pay = lens.payband_test.loc[lens.payband_test["org"].isna()].iloc[0]
    assert abs(pay["rank_biserial"]) < 0.1
    assert abs(lens.tests["effect"].iloc[0]) < 0.2


def test_mann_whitney_large_sample_path_agrees_with_pingouin(monkeypatch):
    from fieldsurvey.compare import groups as groups_module

    rng = np.random.default_rng(9)
    a, b = rng.integers(1, 6, 300).astype(float), rng.integers(1, 6, 200).astype(float) + 0.3
    via_pingouin = groups_module.mann_whitney(a, b)
    monkeypatch.setattr(groups_module, "_MWU_PINGOUIN_MAX_PAIRS", 0)
    via_scipy = groups_module.mann_whitney(a, b)
    assert via_scipy == pytest.approx(via_pingouin, rel=1e-12)
    assert via_scipy[0] == stats.mannwhitneyu(a, b).statistic


def test_within_unit_fast_path_equals_per_unit_pingouin(coalition):
    from fieldsurvey.compare.groups import welch_two_groups

    data = coalition.loc[coalition["wf_lived_exp"].isin([1, 2])]
    res = compare_groups(data, ["burnout", "sts"], "wf_lived_exp", within="org", groups=[1, 2])
    checked = exact = 0
    for row in res.loc[res["org"].notna()].itertuples(index=False):
        part = data.loc[data["org"] == row.org]
        a = part.loc[part["wf_lived_exp"] == 1, row.scale].dropna().to_numpy(float)
        b = part.loc[part["wf_lived_exp"] == 2, row.scale].dropna().to_numpy(float)
        assert row.n == len(part) and row.n_valid == a.size + b.size
        if min(a.size, b.size) < 2:
            assert np.isnan(row.statistic) and np.isnan(row.robust_p)
            continue
        ref = welch_two_groups(a, b)
        for col in (
            "statistic",
            "df2",
            "p",
            "effect",
            "effect_ci_low",
            "effect_ci_high",
            "robust_statistic",
            "robust_effect",
            "robust_p",
        ):
            assert getattr(row, col) == pytest.approx(ref[col], rel=1e-9, abs=1e-12), col
        checked += 1
        exact += min(a.size, b.size) <= 8 and np.unique(np.r_[a, b]).size == a.size + b.size
    assert checked >= 10
    for _, unit in res.groupby(res["org"].astype(str)):
        assert unit["p_adj"].dropna().ge(unit["p"].dropna()).all()


def _cell_count(people: pd.DataFrame, row: pd.Series, dims: list[str]) -> int:
    """Respondents in the cell a row describes; NA in a dimension means everyone."""
    mask = pd.Series(True, index=people.index)
    for dim in dims:
        if not pd.isna(row[dim]):
            mask &= people[dim] == row[dim]
    return int(mask.sum())


def test_every_lens_row_counts_its_respondent_set_as_the_gate_does(coalition):
    people = coalition.assign(
        lived_experience=coalition["wf_lived_exp"].map({1: "yes", 2: "no", 3: "prefer not"})
    )
    lens = lived_experience_lens(coalition, ["burnout"], min_cell=10)
    tables = [
        (lens.groups, ["org", "lived_experience"]),
        (lens.tests, ["org", "lived_experience"]),
        (lens.payband, ["org", "lived_experience", "wf_payband"]),
        (lens.payband_test, ["org", "lived_experience"]),
        (lens.cells, ["org"]),
    ]
    for table, dims in tables:
        for _, row in table.iterrows():
            assert row["n"] == _cell_count(people, row, dims), (dims, row.to_dict())
