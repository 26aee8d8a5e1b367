"""Consistency checks on published values: GRIM, GRIMMER, percentages, p values, ranges."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from fieldsurvey.instrument import instrument_from_dict
from fieldsurvey.reproduce import (
    FindingValue,
    check_findings,
    check_p_value,
    findings_from_dict,
    grim,
    grimmer,
    load_findings,
    p_range,
    parse_number,
    parse_published_value,
    percent_possible,
    recompute_p,
    value_in_range,
)

# ---------------------------------------------------------------- GRIM (hand-worked)


def test_grim_hand_worked_inconsistent_mean():
    # n = 28 whole-number scores: 145/28 = 5.1786 -> 5.18, 146/28 = 5.2143 -> 5.21; 5.19 is unreachable.
    result = grim("5.19", 28)
    assert result.verdict == "inconsistent"
    assert result.expected == "5.18 or 5.21"
    assert "5.17857" in result.explanation and "5.21429" in result.explanation


def test_grim_hand_worked_consistent_mean():
    result = grim("5.18", 28)
    assert result.verdict == "consistent"
    assert result.expected == "mean 5.17857 (145/28)"


def test_grim_mean_of_items_uses_n_times_items():
    # 10 people, mean of 3 items: means step by 1/30. 73/30 = 2.4333, 74/30 = 2.4667.
    assert grim("2.43", 10, items=3).verdict == "consistent"
    assert grim("2.45", 10, items=3).verdict == "inconsistent"
    # The same 2.45 is fine for 20 people (49/20 = 2.45).
    assert grim("2.45", 20, items=1).verdict == "consistent"


def test_grim_step_for_answers_scored_in_25s():
    # Answers scored 0/25/50/75/100, 4 people: means step by 6.25.
    assert grim("56.3", 4, items=1, step=25).verdict == "consistent"  # 56.25
    result = grim("56.0", 4, items=1, step=25)
    assert result.verdict == "inconsistent"
    assert "50.0000 and 56.2500" in result.explanation


def test_grim_accepts_either_rounding_of_an_exact_half():
    # 1/8 = 0.125 prints as 0.12 (half to even) or 0.13 (half up): both are consistent.
    assert grim("0.12", 8).verdict == "consistent"
    assert grim("0.13", 8).verdict == "consistent"
    assert grim("0.14", 8).verdict == "inconsistent"


def test_grim_says_when_it_has_no_power():
    result = grim("3.47", 500)
    assert result.verdict == "consistent"
    assert "little power" in result.explanation


# ---------------------------------------------------------------- GRIMMER (hand-worked)


def test_grimmer_hand_worked_consistent_sd():
    # 1, 2, 3, 4, 5: mean 3, SD sqrt(2.5) = 1.5811.
    result = grimmer("3.00", "1.58", 5)
    assert result.verdict == "consistent"
    assert "sum of squares of 55" in result.explanation


def test_grimmer_hand_worked_parity_failure():
    # Sum 15 (odd). SD 1.50 needs a sum of squares of 4 * 2.25 + 45 = 54 (even): impossible,
    # because the sum of squares of integers has the parity of their sum.
    result = grimmer("3.00", "1.50", 5)
    assert result.verdict == "inconsistent"
    assert "parity" in result.explanation
    assert result.expected == "1.41 or 1.58"


def test_grimmer_hand_worked_no_integer_sum_of_squares():
    # SD 1.515..1.525 needs a sum of squares of 54.18..54.30: no whole number.
    result = grimmer("3.00", "1.52", 5)
    assert result.verdict == "inconsistent"
    assert "no whole-number sum of squares" in result.explanation


def test_grimmer_sd_below_the_least_possible_spread():
    # 20 whole numbers summing to 70 are at least ten 3s and ten 4s: SD >= sqrt(5/19) = 0.513.
    result = grimmer("3.50", "0.4", 20)
    assert result.verdict == "inconsistent"
    assert "smaller than any set of whole numbers" in result.explanation
    assert result.expected == "at least 0.5"
    assert grimmer("3.50", "0.5", 20).verdict == "consistent"
    printed = set()
    for data in itertools.combinations_with_replacement(range(1, 6), 20):
        if sum(data) == 70:
            printed.add(f"{np.std(data, ddof=1):.1f}")
    assert "0.4" not in printed and "0.5" in printed


def test_grimmer_fails_when_the_mean_fails_grim():
    result = grimmer("5.19", "1.00", 28)
    assert result.verdict == "inconsistent"
    assert "see GRIM" in result.explanation


def test_grimmer_hand_worked_cases_agree_with_brute_force():
    # Every data set of 5 answers on 1..5: which (mean, SD) pairs print at 2 decimals.
    printed = set()
    for data in itertools.combinations_with_replacement(range(1, 6), 5):
        arr = np.array(data, dtype=float)
        printed.add((f"{arr.mean():.2f}", f"{arr.std(ddof=1):.2f}"))
    assert ("3.00", "1.58") in printed
    assert ("3.00", "1.50") not in printed
    assert ("3.00", "1.52") not in printed


def test_grimmer_is_sound_on_every_small_data_set():
    # No real data set may ever be flagged (n = 2..6, answers 1..5, means of 1 or 2 items).
    for n in range(2, 7):
        for data in itertools.combinations_with_replacement(range(1, 6), n):
            arr = np.array(data, dtype=float)
            for items in (1, 2):
                scores = arr / items
                mean, sd = f"{scores.mean():.2f}", f"{scores.std(ddof=1):.2f}"
                assert grim(mean, n, items).verdict == "consistent", (data, items)
                assert grimmer(mean, sd, n, items).verdict == "consistent", (data, items)


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(st.integers(min_value=1, max_value=5), min_size=2, max_size=60),
    items=st.integers(min_value=1, max_value=10),
    decimals=st.integers(min_value=1, max_value=3),
)
def test_real_integer_data_always_passes_grim_and_grimmer(data, items, decimals):
    # Scores built from whole-number item sums divided by the number of items.
    sums = np.array(data) * items - np.arange(len(data)) % items
    scores = sums / items
    mean = f"{scores.mean():.{decimals}f}"
    sd = f"{scores.std(ddof=1):.{decimals}f}"
    assert grim(mean, len(data), items).verdict == "consistent"
    assert grimmer(mean, sd, len(data), items).verdict == "consistent"


# ---------------------------------------------------------------- percentages against n


def test_percent_38_of_41_is_impossible():
    # 15/41 = 36.59%, 16/41 = 39.02%.
    result = percent_possible("38%", 41)
    assert result.verdict == "inconsistent"
    assert result.expected == "37% or 39%"
    assert "15/41 = 36.59%" in result.explanation


def test_percent_consistent_names_the_count():
    result = percent_possible("39%", 41)
    assert result.verdict == "consistent"
    assert result.expected == "16/41 = 39.02%"


def test_percent_with_decimals():
    assert percent_possible("36.6%", 41).verdict == "consistent"  # 15/41 = 36.585
    assert percent_possible("36.7%", 41).verdict == "inconsistent"


def test_percent_with_large_n_is_always_possible():
    assert percent_possible("38%", 1322).verdict == "consistent"


def test_every_count_prints_a_consistent_percentage():
    for n in (7, 41, 89, 250):
        for count in range(n + 1):
            assert percent_possible(f"{100 * count / n:.0f}", n).verdict == "consistent"


# ---------------------------------------------------------------- p values against scipy


def test_recompute_p_t_matches_scipy_ttest():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 15), rng.normal(0.8, 1, 15)
    res = stats.ttest_ind(a, b)
    assert recompute_p("t", res.statistic, (28,)) == pytest.approx(res.pvalue, rel=1e-10)
    one_sided = stats.ttest_ind(a, b, alternative="less").pvalue
    assert recompute_p("t", res.statistic, (28,), tails=1) == pytest.approx(one_sided, rel=1e-10)


def test_recompute_p_f_matches_scipy_anova():
    rng = np.random.default_rng(2)
    groups = [rng.normal(m, 1, 14) for m in (0, 0.3, 0.7)]
    res = stats.f_oneway(*groups)
    assert recompute_p("F", res.statistic, (2, 39)) == pytest.approx(res.pvalue, rel=1e-10)


def test_recompute_p_chi2_matches_scipy_contingency():
    table = np.array([[20, 25], [10, 35]])
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    assert recompute_p("chi2", chi2, (dof,)) == pytest.approx(p, rel=1e-10)


def test_recompute_p_r_matches_scipy_pearsonr():
    rng = np.random.default_rng(3)
    x = rng.normal(size=89)
    y = 0.3 * x + rng.normal(size=89)
    res = stats.pearsonr(x, y)
    assert recompute_p("r", res.statistic, (87,)) == pytest.approx(res.pvalue, rel=1e-9)


def test_recompute_p_z_matches_normal_distribution():
    assert recompute_p("z", 1.96) == pytest.approx(2 * stats.norm.sf(1.96), rel=1e-12)
    assert recompute_p("z", -2.5, tails=1) == pytest.approx(stats.norm.sf(2.5), rel=1e-12)


def test_recompute_p_rejects_unknown_test():
    with pytest.raises(ValueError, match="unknown test 'w'"):
        recompute_p("w", 1.0)


@pytest.mark.parametrize(
    "printed",
    [
        "t(28) = 2.20, p = .04",
        "t(28) = -2.20, p = .036",
        "F(2, 40) = 3.1, p = .06",
        "chi2(1, N = 90) = 4.2, p = .04",
        "r(87) = .31, p = .003",
        "z = 1.96, p = .05",
        "z = 1.96, p < .05",
        "t(45) = 4.80, p < .001",
        "F(1, 120) = 0.50, p > .05",
    ],
)
def test_p_values_that_match_are_consistent(printed):
    assert check_p_value(parse_published_value(printed)).verdict == "consistent"


@pytest.mark.parametrize(
    "printed",
    [
        "t(28) = 2.20, p = .02",
        "F(2, 40) = 3.1, p = .03",
        "chi2(1, N = 90) = 4.2, p = .01",
        "r(87) = .31, p = .03",
        "z = 1.50, p < .05",
        "F(1, 120) = 8.00, p > .05",
    ],
)
def test_p_values_that_do_not_match_are_inconsistent(printed):
    assert check_p_value(parse_published_value(printed)).verdict == "inconsistent"


@settings(max_examples=200, deadline=None)
@given(
    family=st.sampled_from(["t", "F", "chi2", "r", "z"]),
    raw=st.floats(min_value=0.01, max_value=6.0),
    df1=st.integers(min_value=1, max_value=6),
    df2=st.integers(min_value=3, max_value=300),
    stat_decimals=st.integers(min_value=1, max_value=3),
    p_decimals=st.integers(min_value=2, max_value=4),
)
def test_correctly_printed_p_values_are_always_consistent(
    family, raw, df1, df2, stat_decimals, p_decimals
):
    # Any true statistic, printed at any precision with its p rounded from the true value.
    statistic = raw / 7 if family == "r" else raw
    df = {"t": (df2,), "F": (df1, df2), "chi2": (df1,), "r": (df2,), "z": ()}[family]
    p = recompute_p(family, statistic, df)
    df_text = {"t": f"({df2})", "F": f"({df1}, {df2})", "chi2": f"({df1})", "r": f"({df2})"}
    printed = (
        f"{family}{df_text.get(family, '')} = {statistic:.{stat_decimals}f}, p = {p:.{p_decimals}f}"
    )
    assert check_p_value(parse_published_value(printed)).verdict == "consistent", printed


def test_rounding_of_the_statistic_is_allowed_for():
    # t(28) = 2.2 covers 2.15..2.25, p .0325 to .0403: p = .03 is reachable.
    assert check_p_value(parse_published_value("t(28) = 2.2, p = .03")).verdict == "consistent"
    # Printed with two decimals the range narrows to .0358-.0366 and .03 is no longer reachable.
    result = check_p_value(parse_published_value("t(28) = 2.20, p = .03"))
    assert result.verdict == "inconsistent"
    assert result.expected == "p = 0.0358 to 0.0366 (two-sided)"


def test_p_range_brackets_the_exact_p():
    stat = parse_number("2.20")
    p_min, p_max = p_range("t", stat, (28,))
    assert p_min < recompute_p("t", 2.20, (28,)) < p_max
    assert p_min == pytest.approx(recompute_p("t", 2.205, (28,)))


def test_one_sided_hint_and_decision_error():
    result = check_p_value(parse_published_value("t(28) = 1.80, p < .05"))
    assert result.verdict == "inconsistent"
    assert "one-sided" in result.explanation
    assert "decision error" in result.explanation
    assert check_p_value(parse_published_value("t(28) = 1.80, p < .05"), tails=1).verdict == (
        "consistent"
    )


def test_test_without_p_is_not_checkable():
    result = check_p_value(parse_published_value("r(87) = .31"))
    assert result.verdict == "not_checkable"
    assert result.explanation == "no p value printed with the test"


# ---------------------------------------------------------------- ranges


def _value(printed: str) -> FindingValue:
    return FindingValue(printed, parse_published_value(printed))


def test_mean_outside_scale_range_is_inconsistent():
    result = value_in_range(_value("M = 52.0, SD = 4.0"), (10, 50), 30)
    assert result.verdict == "inconsistent"
    assert result.expected == "mean within 10 to 50"


def test_sd_above_the_largest_possible_is_inconsistent():
    # On 10..50 the largest sample SD for n = 20 and a mean printed 45.0 (as low as 44.95) is
    # sqrt(34.95 * 5.05 * 20/19) = 13.630 (Bhatia-Davis, half the people at each end).
    result = value_in_range(_value("M = 45.0, SD = 13.7"), (10, 50), 20)
    assert result.verdict == "inconsistent"
    assert result.expected == "SD at most 13.630"
    assert value_in_range(_value("M = 45.0, SD = 13.5"), (10, 50), 20).verdict == "consistent"


def test_correlation_and_percentage_ranges():
    assert value_in_range(_value("r(87) = 1.20"), None, None).verdict == "inconsistent"
    assert value_in_range(_value("r(87) = -.99"), None, None).verdict == "consistent"
    assert value_in_range(_value("120%"), None, None).verdict == "inconsistent"
    assert value_in_range(_value("chi2(1) = -3.0"), None, None).verdict == "inconsistent"


def test_mean_without_known_range_is_not_checkable():
    result = value_in_range(_value("M = 27.3, SD = 6.1, n = 41"), None, 41)
    assert result.verdict == "not_checkable"
    assert "range: [lowest, highest]" in result.explanation


# ---------------------------------------------------------------- check_findings end to end


BANDS = [
    {"label": "Low", "max": 22},
    {"label": "Moderate", "min": 23, "max": 41},
    {"label": "High", "min": 42},
]


def _instrument(method: str):
    return instrument_from_dict(_instrument_dict(method), filename="toy.yaml")


def _instrument_dict(method: str) -> dict:
    items = [{"id": f"q{i:02d}", "scale": "freq"} for i in range(1, 11)]
    return {
        "id": "toy",
        "title": "Toy instrument",
        "version": "1",
        "citation": "Test fixture.",
        "licence": {"holder": "none", "terms": "test", "wording_included": False},
        "response_scales": {"freq": {"type": "likert", "min": 1, "max": 5}},
        "items": items,
        "scales": [
            {
                "id": "strain",
                "label": "Strain",
                "items": [it["id"] for it in items],
                "method": method,
                "bands": BANDS if method == "sum" else None,
            }
        ],
    }


def _findings(values, scale="toy.strain", n=41, recipe=None):
    recipe = recipe or {"statistic": "mean", "scale": scale}
    return findings_from_dict(
        {
            "title": "Test",
            "findings": [
                {
                    "id": "doe-2020",
                    "citation": "Doe (2020). Journal.",
                    "statement": "Staff reported strain.",
                    "population": {"description": "advocates", "n": n},
                    "values": values,
                    "recipe": recipe,
                }
            ],
        },
        filename="test.yaml",
    )


def test_check_findings_uses_the_instruments_sum_scale():
    # Sum of 10 items 1..5: scores 10..50, whole numbers, so GRIM steps by 1/41.
    # 1119/41 = 27.29 -> 27.3 consistent; 27.31 is between 1119/41 and 1120/41 = 27.317.
    ff = _findings(["M = 27.3, SD = 6.1", "M = 27.31, SD = 6.10", "M = 55.0, SD = 2.0"])
    out = check_findings(ff, instruments={"toy": _instrument("sum")})
    table = {(r.value, r.check): r.verdict for r in out.itertuples()}
    assert table[("M = 27.3, SD = 6.1", "grim")] == "consistent"
    assert table[("M = 27.3, SD = 6.1", "grimmer")] == "consistent"
    assert table[("M = 27.3, SD = 6.1", "range")] == "consistent"
    assert table[("M = 27.31, SD = 6.10", "grim")] == "inconsistent"
    assert table[("M = 55.0, SD = 2.0", "range")] == "inconsistent"
    assert list(out.columns) == [
        "finding_id",
        "value",
        "check",
        "verdict",
        "expected",
        "reported",
        "explanation",
    ]


def test_check_findings_uses_items_for_a_mean_scale():
    # Mean of 10 items: means step by 1/(41 * 10); 2.731 = 1119.71/410 is not reachable at 3 dp.
    ff = _findings(["M = 2.731", "M = 2.732"])
    out = check_findings(ff, instruments={"toy": _instrument("mean")})
    grim_rows = out[out["check"] == "grim"].set_index("value")["verdict"]
    assert grim_rows["M = 2.731"] == "inconsistent"  # 1119/410 = 2.7293, 1120/410 = 2.7317
    assert grim_rows["M = 2.732"] == "consistent"
    ranges = out[out["check"] == "range"].set_index("value")["expected"]
    assert ranges["M = 2.731"] == "mean within 1 to 5"


def test_check_findings_without_the_instrument_is_not_checkable():
    ff = _findings(["M = 27.3, SD = 6.1", "38%"], scale="nosuchinstrument.strain")
    out = check_findings(ff)
    grim_row = out[out["check"] == "grim"].iloc[0]
    assert grim_row["verdict"] == "not_checkable"
    assert "nosuchinstrument" in grim_row["explanation"]
    pct = out[(out["value"] == "38%") & (out["check"] == "percent_n")].iloc[0]
    assert pct["verdict"] == "inconsistent"


def test_value_level_items_and_range_override_the_instrument():
    # 10 people, mean of 4 items: means step by 1/40; 138/40 = 3.450, 139/40 = 3.475.
    value = {"printed": "M = 3.46, SD = 0.80", "n": 10, "items": 4, "range": [1, 5]}
    out = check_findings(_findings([value], scale="strain")).set_index("check")
    assert out.loc["grim", "verdict"] == "inconsistent"
    assert out.loc["range", "verdict"] == "consistent"


def test_statement_only_finding_gets_one_not_checkable_row():
    ff = _findings([], scale="strain")
    out = check_findings(ff)
    assert out[["check", "verdict"]].values.tolist() == [["values", "not_checkable"]]


def test_bundled_proqol5_scale_when_available():
    from fieldsurvey.instrument import InstrumentError, resolve_instrument

    try:
        inst = resolve_instrument("proqol5")
    except (InstrumentError, FileNotFoundError):
        pytest.skip("bundled proqol5 not present yet")
    assert inst.score_range("burnout") == (10.0, 50.0)
    out = check_findings(_findings(["M = 27.3, SD = 6.1"], scale="proqol5.burnout"))
    assert set(out["verdict"]) == {"consistent"}


def test_recipe_row_confirms_scale_and_band():
    recipe = {"statistic": "proportion_in_band", "scale": "toy.strain", "band": "High"}
    out = check_findings(_findings(["38%"], recipe=recipe), instruments={"toy": _instrument("sum")})
    row = out[out["check"] == "recipe"].iloc[0]
    assert row["verdict"] == "consistent"
    assert row["explanation"] == "toy.strain scores 10 to 50; band High is 42 or more"


@pytest.mark.parametrize(
    ("recipe", "expected", "explanation"),
    [
        (
            {"statistic": "proportion_in_band", "scale": "toy.strain", "band": "Severe"},
            "one of Low, Moderate, High",
            "toy.strain has no band 'Severe' (its bands: Low, Moderate, High)",
        ),
        (
            {"statistic": "proportion_above_cut", "scale": "toy.strain", "cut": 60},
            "a cut within 10 to 50",
            "the cut 60 lies outside toy.strain's scores (10 to 50)",
        ),
        (
            {"statistic": "mean", "scale": "toy.stress"},
            "a scale of the instrument",
            "instrument 'toy' has no scale 'stress' (it has strain)",
        ),
        (
            {"statistic": "correlation", "scale": "toy.strain", "with": "toy.other"},
            "a scale of the instrument",
            "instrument 'toy' has no scale 'other' (it has strain)",
        ),
    ],
)
def test_recipe_row_names_what_does_not_exist(recipe, expected, explanation):
    out = check_findings(_findings(["38%"], recipe=recipe), instruments={"toy": _instrument("sum")})
    row = out[out["check"] == "recipe"].iloc[0]
    assert (row["verdict"], row["expected"], row["explanation"]) == (
        "inconsistent",
        expected,
        explanation,
    )


def test_recipe_row_without_the_instrument_is_not_checkable():
    out = check_findings(_findings(["38%"], scale="nosuchinstrument.strain"))
    row = out[out["check"] == "recipe"].iloc[0]
    assert row["verdict"] == "not_checkable"
    assert "instrument 'nosuchinstrument' is not available" in row["explanation"]


def test_instrument_file_is_found_next_to_the_findings_file(tmp_path):
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(_instrument_dict("sum")), encoding="utf-8")
    findings = {
        "title": "Mine",
        "findings": [
            {
                "id": "own-2024",
                "citation": "Own survey (2024). Internal report.",
                "statement": "Mean strain was 27.3.",
                "population": {"description": "our staff", "n": 41},
                "values": ["M = 27.3, SD = 6.1"],
                "recipe": {"statistic": "mean", "instrument": "toy.yaml", "scale": "strain"},
            }
        ],
    }
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(findings), encoding="utf-8")
    out = check_findings(load_findings(path)).set_index("check")
    # Largest SD at the mean closest to the midpoint 30 (27.35): sqrt(17.35 * 22.65 * 41/40).
    assert out.loc["range", "expected"] == "mean within 10 to 50; SD at most 20.070"
    assert out.loc["grim", "verdict"] == "consistent"
    assert out.loc["recipe", "verdict"] == "consistent"


def test_bare_number_is_grim_checked_when_the_recipe_is_a_mean():
    ff = _findings([{"printed": "5.19", "items": 1}], scale="strain", n=28)
    out = check_findings(ff).set_index("check")
    assert out.loc["grim", "verdict"] == "inconsistent"
    assert out.loc["grim", "expected"] == "5.18 or 5.21"
