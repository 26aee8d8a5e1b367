"""Multi-group CFA and measurement invariance against R lavaan golden values."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.psychometrics.cfa import CFAConvergenceError, CFAError, fit_cfa
from fieldsurvey.psychometrics.invariance import ChenCriteria, _settle, measurement_invariance
from golden import HS_DATA as DATA
from golden import LAVAAN_GOLDEN as GOLDEN
from golden import LAVAAN_GROUPS_GOLDEN, assert_fit_matches, assert_params_match

MODEL = GOLDEN["model"]


GROUPS = GOLDEN["group_levels"]  # lavaan's group order: first appearance in the data
PARTIAL = GOLDEN["partial"]["group_partial"]
STEP_EQUAL = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
}


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def full(hs):
    return measurement_invariance(hs, MODEL, "school", strict=True)


@pytest.fixture(scope="module")
def partial(hs):
    return measurement_invariance(hs, MODEL, "school", partial=PARTIAL)


@pytest.mark.parametrize("level", list(STEP_EQUAL))
def test_each_step_matches_lavaan(full, level):
    fit = full.fits[level]
    assert fit.converged and not fit.heywood
    assert fit.group_levels == GROUPS
    assert_fit_matches(fit, GOLDEN["invariance"][level])
    assert_params_match(fit, GOLDEN["invariance"][level], groups=GROUPS)


def test_fit_cfa_group_equal_is_the_same_model(hs, full):
    direct = fit_cfa(hs, MODEL, group="school", group_equal=STEP_EQUAL["scalar"])
    assert direct.fit["chisq"] == pytest.approx(full.fits["scalar"].fit["chisq"], rel=1e-9)
    assert list(direct.loadings.columns) == ["group", "factor", "item", "est", "se", "std"]


def test_steps_frame(full):
    steps = full.steps
    assert list(steps["level"]) == ["configural", "metric", "scalar", "strict"]
    assert list(steps["df"]) == [48, 54, 60, 69]
    for row in steps.itertuples(index=False):
        block = GOLDEN["invariance"][row.level]["fit"]
        assert row.chisq == pytest.approx(block["chisq"], rel=1e-5)
        assert row.cfi == pytest.approx(block["cfi"], abs=1e-5)
        assert row.srmr == pytest.approx(block["srmr"], abs=1e-5)


def test_comparisons_match_lavaan_lrt_and_fit_changes(full):
    comparisons = full.comparisons.set_index("to")
    for lrt in GOLDEN["lrt"][:3]:
        row = comparisons.loc[lrt["to"]]
        assert row["from"] == lrt["from"]
        assert row["delta_chisq"] == pytest.approx(lrt["delta_chisq"], rel=1e-4)
        assert row["delta_df"] == lrt["delta_df"]
        assert row["p"] == pytest.approx(lrt["p"], rel=1e-4, abs=1e-9)
        before = GOLDEN["invariance"][lrt["from"]]["fit"]
        after = GOLDEN["invariance"][lrt["to"]]["fit"]
        for name in ("cfi", "rmsea", "srmr"):
            assert row[f"delta_{name}"] == pytest.approx(after[name] - before[name], abs=1e-5)


def test_chen_criteria_decide_each_step(full):
    comparisons = full.comparisons.set_index("to")
    assert comparisons.loc["metric", "supported"]
    # Scalar fails: dCFI -0.038 < -0.010 and dSRMR 0.011 > 0.010 (dRMSEA 0.0145 passes).
    scalar = comparisons.loc["scalar"]
    assert not scalar["supported"]
    assert (scalar["cfi_ok"], scalar["rmsea_ok"], scalar["srmr_ok"]) == (False, True, False)
    assert "dSRMR <= 0.030" in comparisons.loc["metric", "criteria"]
    assert "dSRMR <= 0.010" in scalar["criteria"]
    assert full.highest_level == "metric"
    assert full.latent_means.empty
    assert any("not comparable" in note for note in full.notes)


def test_looser_criteria_change_the_decision(hs):
    loose = ChenCriteria(delta_cfi=-0.05, delta_srmr_scalar=0.02)
    result = measurement_invariance(hs, MODEL, "school", criteria=loose)
    assert result.highest_level == "scalar"
    assert len(result.latent_means) == 3


def test_partial_invariance_matches_lavaan(partial):
    assert_fit_matches(partial.fits["metric"], GOLDEN["partial_metric"])
    assert_params_match(partial.fits["metric"], GOLDEN["partial_metric"], groups=GROUPS)
    assert_fit_matches(partial.fits["scalar"], GOLDEN["partial"])
    assert_params_match(partial.fits["scalar"], GOLDEN["partial"], groups=GROUPS)
    comparisons = partial.comparisons.set_index("to")
    for lrt, to in zip(GOLDEN["lrt"][3:], ("metric", "scalar"), strict=True):
        assert comparisons.loc[to, "delta_chisq"] == pytest.approx(lrt["delta_chisq"], rel=1e-4)
        assert comparisons.loc[to, "delta_df"] == lrt["delta_df"]
    assert partial.highest_level == "scalar"


def test_latent_means_once_scalar_holds(partial):
    means = partial.latent_means
    assert list(means["group"]) == [GROUPS[1]] * 3
    expected = pd.DataFrame(GOLDEN["partial"]["params"]).query("op == '~1' and group == 2")
    expected = expected[expected["lhs"].isin(["visual", "textual", "speed"])].set_index("lhs")
    for row in means.itertuples(index=False):
        assert row.est == pytest.approx(expected.loc[row.factor, "est"], abs=1e-4)
        assert row.se == pytest.approx(expected.loc[row.factor, "se"], abs=1e-4)
        assert row.std_all == pytest.approx(expected.loc[row.factor, "std_all"], abs=1e-4)
    textual = means.set_index("factor").loc["textual"]
    assert textual["pvalue"] < 0.001  # Grant-White is ahead on the textual factor
    assert any("reference group 'Pasteur'" in note for note in partial.notes)


def test_levels_subset_and_unknown_level(hs):
    two = measurement_invariance(hs, MODEL, "school", levels=("configural", "metric"))
    assert list(two.steps["level"]) == ["configural", "metric"]
    assert len(two.comparisons) == 1
    with pytest.raises(CFAError, match="unknown invariance level"):
        measurement_invariance(hs, MODEL, "school", levels=("configural", "weak"))


def test_small_group_refused_with_disclosure_threshold(hs):
    data = pd.concat([hs, hs.head(6).assign(school="Tiny")], ignore_index=True)
    with pytest.raises(CFAError, match=r"'Tiny' \(n=6\).*min_group_size=10"):
        measurement_invariance(data, MODEL, "school")
    with pytest.raises(CFAError, match="min_group_size=200"):
        fit_cfa(hs, MODEL, group="school", min_group_size=200)


def test_partial_that_matches_nothing_is_refused(hs):
    with pytest.raises(Exception, match="match"):
        measurement_invariance(hs, MODEL, "school", partial=["visual=~x9"])


def test_rows_without_group_are_dropped_and_noted(hs):
    data = hs.copy()
    data.loc[[0, 1], "school"] = np.nan
    result = fit_cfa(data, MODEL, group="school")
    assert result.n == 299
    assert any("without a value of 'school'" in note for note in result.notes)


def test_cli_invariance_json():
    out = CliRunner().invoke(
        main,
        [
            "invariance",
            str(DATA),
            "--model",
            MODEL,
            "--group",
            "school",
            "--strict",
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["group"] == "school"
    assert [s["level"] for s in payload["steps"]] == ["configural", "metric", "scalar", "strict"]
    assert set(payload["steps"][0]) >= {
        "level",
        "chisq",
        "df",
        "pvalue",
        "cfi",
        "tli",
        "rmsea",
        "srmr",
    }
    first = payload["comparisons"][0]
    assert set(first) >= {"from", "to", "delta_chisq", "delta_df", "p", "delta_cfi", "delta_rmsea"}
    assert first["delta_chisq"] == pytest.approx(GOLDEN["lrt"][0]["delta_chisq"], rel=1e-4)
    assert payload["highest_level"] == "metric"


def test_cli_invariance_table_and_refusal():
    out = CliRunner().invoke(
        main,
        [
            "invariance",
            str(DATA),
            "--model",
            MODEL,
            "--group",
            "school",
            "--partial",
            "visual=~x2",
            "--partial",
            "x3~1",
            "--partial",
            "x7~1",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "Highest level supported: scalar" in out.output
    assert "Latent means" in out.output
    refused = CliRunner().invoke(
        main,
        ["invariance", str(DATA), "--model", MODEL, "--group", "school", "--min-group-size", "500"],
    )
    assert refused.exit_code == 2
    assert "disclosure threshold" in refused.output


# -- a step without a minimum is never reported ------------------------------------------------
def test_non_converged_step_raises_naming_it(hs):
    with pytest.raises(CFAConvergenceError, match="the configural model did not converge") as err:
        measurement_invariance(hs, MODEL, "school", max_iter=2)
    assert err.value.step == "configural"
    assert not err.value.result.converged


def test_step_stopped_short_is_refitted_from_the_constrained_solution(hs, full):
    # A configural fit that stopped short of its minimum, so it seems to fit worse than the
    # metric model (the chi-square difference would be negative): made by hand here.
    fit = full.fits["configural"].fit.copy()
    fit["chisq"] = full.fits["metric"].fit["chisq"] + 5.0
    short = dataclasses.replace(full.fits["configural"], fit=fit)
    fits = {"configural": short, "metric": full.fits["metric"]}

    def fit_step(level, start=None):
        return fit_cfa(hs, MODEL, group="school", group_equal=STEP_EQUAL[level], start=start)

    notes = _settle(fits, ["configural", "metric"], fit_step)
    assert fits["configural"].fit["chisq"] == pytest.approx(
        GOLDEN["invariance"]["configural"]["fit"]["chisq"], rel=1e-6
    )
    assert notes == [
        "the configural model was refitted from the metric estimates (it had stopped short "
        "of its minimum)"
    ]

    def stuck(level, start=None):
        return short

    fits = {"configural": short, "metric": full.fits["metric"]}
    with pytest.raises(CFAConvergenceError, match="configural model did not reach its minimum"):
        _settle(fits, ["configural", "metric"], stuck)


def test_cli_invariance_exits_3_naming_the_failed_step():
    out = CliRunner().invoke(
        main,
        ["invariance", str(DATA), "--model", MODEL, "--group", "school", "--max-iter", "2"],
    )
    assert out.exit_code == 3, out.output
    assert "configural model did not converge" in out.output
    assert "Highest level" not in out.output and "supported" not in out.output


# -- group order ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def moved(hs):
    """A Grant-White pupil with a missing x1 at the top: the first complete row is Pasteur's."""
    row = LAVAAN_GROUPS_GOLDEN["moved_row"] - 1
    data = pd.concat([hs.iloc[[row]], hs.drop(index=row)], ignore_index=True)
    data.loc[0, "x1"] = np.nan
    return data


def test_groups_in_lavaan_order_first_appearance_in_all_rows(moved):
    block = LAVAAN_GROUPS_GOLDEN["lavaan_order"]
    fit = fit_cfa(moved, MODEL, group="school", group_equal=STEP_EQUAL["scalar"])
    assert fit.group_levels == block["group_levels"] == ["Grant-White", "Pasteur"]
    assert_fit_matches(fit, block["fit"])
    assert_params_match(fit, block["fit"], groups=block["group_levels"])
    assert list(fit.latent_means["group"].unique()) == ["Pasteur"]


@pytest.mark.parametrize(
    "how", [{"reference_group": "Pasteur"}, {"group_order": ["Pasteur", "Grant-White"]}]
)
def test_user_sets_the_reference_group(moved, how):
    block = LAVAAN_GROUPS_GOLDEN["pasteur_first"]
    fit = fit_cfa(moved, MODEL, group="school", group_equal=STEP_EQUAL["scalar"], **how)
    assert fit.group_levels == block["group_levels"]
    assert_fit_matches(fit, block["fit"])
    assert_params_match(fit, block["fit"], groups=block["group_levels"])
    result = measurement_invariance(moved, MODEL, "school", **how)
    assert result.group_levels == ["Pasteur", "Grant-White"]


def test_unknown_reference_group_is_named(hs):
    with pytest.raises(CFAError, match="'Eton' of group_order are not in column 'school'"):
        fit_cfa(hs, MODEL, group="school", reference_group="Eton")
    with pytest.raises(CFAError, match="not both"):
        fit_cfa(hs, MODEL, group="school", reference_group="Pasteur", group_order=["Pasteur"])


def test_cli_reference_group():
    out = CliRunner().invoke(
        main,
        ["invariance", str(DATA), "--model", MODEL, "--group", "school",
         "--reference-group", "Grant-White", "--format", "json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["groups"] == ["Grant-White", "Pasteur"]
