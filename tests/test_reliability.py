"""Reliability statistics against R psych golden values (tests/reference/psych_reference.R),
pingouin, and cases that can be checked by hand."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import yaml
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.instrument import instrument_from_dict
from fieldsurvey.psychometrics import (
    MiskeyedItemsWarning,
    feldt_interval,
    instrument_reliability,
    scale_reliability,
)
from golden import BFI_DATA, BFI_KEYS, PSYCH_ITEMS_GOLDEN, keyed, read_bfi, unkeyed
from golden import PSYCH_GOLDEN as GOLDEN

TOL = 1e-4


@pytest.fixture(scope="module")
def bfi() -> pd.DataFrame:
    return read_bfi()


def bfi_instrument_dict(low: int = 1, high: int = 6) -> dict:
    items = [
        {"id": key.lstrip("-"), "scale": "six", "reverse": key.startswith("-")}
        for keys in BFI_KEYS.values()
        for key in keys
    ]
    return {
        "id": "bfi",
        "title": "SAPA Big Five items (psychTools bfi)",
        "version": "1",
        "citation": "Revelle, psychTools",
        "licence": {"holder": "public", "terms": "public domain items", "wording_included": False},
        "response_scales": {"six": {"type": "likert", "min": low, "max": high}},
        "items": items,
        "scales": [
            {"id": sc, "label": sc, "items": [k.lstrip("-") for k in keys], "method": "mean"}
            for sc, keys in BFI_KEYS.items()
        ],
    }


def assert_matches_psych(result, gold: dict) -> None:
    s = result.summary
    for ours, theirs in [
        ("alpha", "alpha"),
        ("alpha_std", "alpha_std"),
        ("g6", "g6"),
        ("average_r", "average_r"),
        ("median_r", "median_r"),
    ]:
        assert s[ours] == pytest.approx(gold[theirs], abs=TOL), ours
    assert [s["alpha_ci_low"], s["alpha_ci_high"]] == pytest.approx(gold["feldt_95"], abs=TOL)
    items = result.items
    gi = gold["items"]
    assert list(items["item"]) == gi["item"]
    assert list(items["n"]) == gi["n"]
    for col in ("mean", "sd", "r_drop", "alpha_if_deleted"):
        np.testing.assert_allclose(items[col], gi[col], atol=TOL, err_msg=col)


# --- R psych golden values -------------------------------------------------------------------


@pytest.mark.parametrize("scale", list(BFI_KEYS))
def test_pairwise_matches_psych_alpha(bfi, scale):
    result = scale_reliability(keyed(bfi, scale), scale=scale)
    assert_matches_psych(result, GOLDEN["scales"][scale])
    assert result.summary["n"] == GOLDEN["scales"][scale]["n_rows"] == 2800


@pytest.mark.parametrize("scale", list(BFI_KEYS))
def test_listwise_matches_psych_on_complete_cases(bfi, scale):
    result = scale_reliability(keyed(bfi, scale), missing="listwise", scale=scale)
    assert_matches_psych(result, GOLDEN["listwise"][scale])
    assert result.summary["n"] == GOLDEN["listwise"][scale]["n_rows"]


@pytest.mark.parametrize("scale", list(BFI_KEYS))
@pytest.mark.parametrize("case", ["items_pairwise", "items_listwise", "items_raw"])
def test_item_total_correlations_match_psych(bfi, scale, case):
    gold = PSYCH_ITEMS_GOLDEN[case][scale]
    x = unkeyed(bfi, scale) if case == "items_raw" else keyed(bfi, scale)
    missing = "listwise" if case == "items_listwise" else "pairwise"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MiskeyedItemsWarning)
        result = scale_reliability(x, missing=missing, scale=scale)
    items = result.items
    assert list(items["item"]) == gold["item"]
    for ours, theirs in (("raw_r", "raw_r"), ("std_r", "std_r"), ("r_cor", "r_cor"),
                         ("r_drop", "r_drop")):  # fmt: skip
        np.testing.assert_allclose(items[ours], gold[theirs], atol=TOL, err_msg=ours)
    assert result.summary["alpha"] == pytest.approx(gold["alpha"], abs=TOL)


def test_feldt_interval_level_is_configurable(bfi):
    gold = GOLDEN["scales"]["agree"]
    s = scale_reliability(keyed(bfi, "agree"), ci=0.90).summary
    assert [s["alpha_ci_low"], s["alpha_ci_high"]] == pytest.approx(gold["feldt_90"], abs=TOL)
    assert s["ci_level"] == 0.90


def test_feldt_interval_matches_psych_alpha_ci():
    # psych::alpha.ci(0.8, 100, 10): 0.736048459061, 0.853691819091
    assert feldt_interval(0.8, 100, 10) == pytest.approx((0.736048459061, 0.853691819091), abs=1e-9)


def test_pairwise_covariances_equal_pandas_across_blocks_and_offsets():
    # More rows than one accumulation block, large offsets, C- and Fortran-ordered input.
    rng = np.random.default_rng(2)
    raw = rng.normal(size=(140_000, 4)) @ np.array([[1, 0.5, 0, 0], [0, 1, 0.3, 0]] * 2)
    raw[:, 2] += 1e6
    raw[rng.random(raw.shape) < 0.1] = np.nan
    frame = pd.DataFrame(raw, columns=list("abcd"))
    expected = frame.cov().to_numpy()
    for data in (frame, pd.DataFrame(np.ascontiguousarray(raw), columns=list("abcd"))):
        got = scale_reliability(data).covariance.to_numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_listwise_and_pairwise_differ_with_missing_data(bfi):
    x = keyed(bfi, "agree")
    pairwise = scale_reliability(x).summary
    listwise = scale_reliability(x, missing="listwise").summary
    assert pairwise["n"] == 2800
    assert listwise["n"] == len(x.dropna()) < 2800
    assert abs(pairwise["alpha"] - listwise["alpha"]) > 1e-4
    # Without missing answers the two policies are the same computation.
    complete = x.dropna()
    a = scale_reliability(complete).summary
    b = scale_reliability(complete, missing="listwise").summary
    assert a["alpha"] == pytest.approx(b["alpha"], abs=1e-12)


# --- pingouin ----------------------------------------------------------------------------------


def test_agrees_with_pingouin_on_its_example_data():
    long = pg.read_dataset("cronbach_alpha")
    wide = long.pivot(index="Subj", columns="Items", values="Scores")
    for level in (0.95, 0.90):
        alpha, (low, high) = pg.cronbach_alpha(data=wide, ci=level)
        s = scale_reliability(wide, ci=level).summary
        assert s["alpha"] == pytest.approx(alpha, abs=1e-12)
        # pingouin rounds its interval to 3 decimals.
        assert s["alpha_ci_low"] == pytest.approx(low, abs=5e-4)
        assert s["alpha_ci_high"] == pytest.approx(high, abs=5e-4)


def test_agrees_with_pingouin_pairwise_with_holes():
    long = pg.read_dataset("cronbach_alpha")
    wide = long.pivot(index="Subj", columns="Items", values="Scores").astype(float)
    wide.iloc[[1, 4, 9], [0, 3, 7]] = np.nan
    alpha, _ = pg.cronbach_alpha(data=wide)
    assert scale_reliability(wide).summary["alpha"] == pytest.approx(alpha, abs=1e-12)
    alpha_lw, _ = pg.cronbach_alpha(data=wide, nan_policy="listwise")
    assert scale_reliability(wide, missing="listwise").summary["alpha"] == pytest.approx(
        alpha_lw, abs=1e-12
    )


# --- by hand ---------------------------------------------------------------------------------


def test_two_items_by_hand():
    # var(a) = var(b) = 5/3, cov(a, b) = 1: alpha = 2 * 1 / (5/3 + 1) = 0.75, r = 0.6.
    df = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 1, 4, 3]})
    res = scale_reliability(df)
    s = res.summary
    assert s["alpha"] == pytest.approx(0.75)
    assert s["alpha_std"] == pytest.approx(0.75)
    assert s["average_r"] == pytest.approx(0.6)
    assert s["median_r"] == pytest.approx(0.6)
    assert s["g6"] == pytest.approx(1 - (2 - 2 * 0.36) / 3.2)  # smc = r^2 with two items
    assert list(res.items["r_drop"]) == pytest.approx([0.6, 0.6])
    assert res.items["alpha_if_deleted"].isna().all()  # a single item has no alpha
    assert list(res.items["mean"]) == [2.5, 2.5]
    assert s["n"] == 4 and s["k"] == 2


def test_equal_correlations_give_spearman_brown():
    # Three items with every correlation 0.5 (compound symmetry): alpha = 3r / (1 + 2r) = 0.75.
    cov = np.full((3, 3), 0.5) + np.eye(3) * 0.5
    rng = np.random.default_rng(3)
    raw = rng.standard_normal((200, 3))
    # Whiten then colour, so the sample covariance is exactly ``cov``.
    raw -= raw.mean(axis=0)
    raw = raw @ np.linalg.inv(np.linalg.cholesky(np.cov(raw, rowvar=False)).T)
    data = pd.DataFrame(raw @ np.linalg.cholesky(cov).T, columns=["a", "b", "c"])
    s = scale_reliability(data).summary
    assert s["alpha"] == pytest.approx(0.75)
    assert s["alpha_std"] == pytest.approx(0.75)
    assert s["average_r"] == pytest.approx(0.5)
    assert s["omega_total"] == pytest.approx(0.75)  # loadings sqrt(.5): 3 * .5 / (3 + 3)... = .75


def test_respondents_without_any_answer_are_not_counted():
    df = pd.DataFrame({"a": [1, 2, 3, 4, np.nan], "b": [2, 1, 4, 3, np.nan]})
    s = scale_reliability(df).summary
    assert s["n"] == 4
    assert s["alpha"] == pytest.approx(0.75)


def test_item_without_variance_gives_a_note_not_a_crash():
    df = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 1, 4, 3], "c": [3, 3, 3, 3]})
    res = scale_reliability(df)
    assert np.isnan(res.summary["alpha"]) and np.isnan(res.summary["alpha_ci_low"])
    assert "same answer to c" in res.summary["note"]
    assert list(res.items["sd"]) == pytest.approx([np.sqrt(5 / 3), np.sqrt(5 / 3), 0.0])


def test_bootstrap_interval_is_seeded(bfi):
    x = keyed(bfi, "agree").iloc[:400]
    a = scale_reliability(x, n_boot=200, seed=7).summary
    b = scale_reliability(x, n_boot=200, seed=7).summary
    c = scale_reliability(x, n_boot=200, seed=8).summary
    assert (a["boot_ci_low"], a["boot_ci_high"]) == (b["boot_ci_low"], b["boot_ci_high"])
    assert a["boot_ci_low"] != c["boot_ci_low"]
    assert a["boot_ci_low"] < a["alpha"] < a["boot_ci_high"]
    assert np.isnan(scale_reliability(x).summary["boot_ci_low"])


def test_miskeyed_items_are_named_in_a_warning():
    rng = np.random.default_rng(11)
    a = rng.integers(1, 6, 300).astype(float)
    b = np.clip(a + rng.integers(-1, 2, 300), 1, 5)
    df = pd.DataFrame({"a": a, "b": b, "c": 6 - a})  # c is a reversed a, not declared so
    with pytest.warns(MiskeyedItemsWarning, match=r"items that look mis-keyed.*: c$"):
        res = scale_reliability(df, scale="demo")
    assert res.summary["alpha"] < 0


def test_well_keyed_scale_gives_no_warning(bfi):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scale_reliability(keyed(bfi, "agree"))


def test_bad_options_and_input_are_refused():
    df = pd.DataFrame({"a": [1, 2, 3], "b": [1, 3, 2]})
    with pytest.raises(ValueError, match="missing must be one of"):
        scale_reliability(df, missing="everything")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ci must be"):
        scale_reliability(df, ci=95)
    with pytest.raises(ValueError, match=r"column 'b', row 1: 'x' is not a number"):
        scale_reliability(pd.DataFrame({"a": [1, 2, 3], "b": ["1", "x", "2"]}))


# --- instruments -------------------------------------------------------------------------------


def test_instrument_reverses_with_declared_bounds_and_matches_psych(bfi):
    inst = instrument_from_dict(bfi_instrument_dict())
    summary, items = instrument_reliability(bfi, inst)
    assert list(summary["scale"]) == list(BFI_KEYS)
    for row in summary.itertuples():
        gold = GOLDEN["scales"][row.scale]
        assert row.alpha == pytest.approx(gold["alpha"], abs=TOL)
        assert row.g6 == pytest.approx(gold["g6"], abs=TOL)
        its = items[items["scale"] == row.scale]
        np.testing.assert_allclose(its["mean"], gold["items"]["mean"], atol=TOL)
        np.testing.assert_allclose(its["r_drop"], gold["items"]["r_drop"], atol=TOL)
    assert items.set_index("item").loc[["A1", "C4", "O5"], "reversed"].all()
    assert not items.set_index("item").loc[["A2", "N1"], "reversed"].any()


def test_declared_bounds_not_data_range_are_used_for_reversal(bfi):
    # Declared 1..7 (as if a seventh answer existed): A1 becomes 8 - x, whatever the data show.
    inst = instrument_from_dict(bfi_instrument_dict(1, 7))
    _, items = instrument_reliability(bfi, inst, scales=["agree"])
    a1 = items.set_index("item").loc["A1"]
    assert a1["mean"] == pytest.approx(8 - bfi["A1"].mean())


def test_answers_outside_declared_bounds_are_an_error(bfi):
    data = bfi.copy()
    data.loc[data.index[2], "A3"] = 9
    inst = instrument_from_dict(bfi_instrument_dict())
    with pytest.raises(ValueError, match=r"column 'A3', row 61620: value 9 lies outside .*1\.\.6"):
        instrument_reliability(data, inst)


def test_scales_with_absent_items_are_skipped_with_a_note(bfi):
    inst = instrument_from_dict(bfi_instrument_dict())
    data = bfi.drop(columns=["E2", "E5"])
    with pytest.warns(UserWarning, match="'extraversion' skipped: .*E2, E5"):
        summary, items = instrument_reliability(data, inst)
    row = summary.set_index("scale").loc["extraversion"]
    assert np.isnan(row["alpha"]) and "E2, E5" in row["note"]
    assert "E1" not in set(items["item"])
    with pytest.raises(ValueError, match="none of the scales of 'bfi'"), pytest.warns(UserWarning):
        instrument_reliability(pd.DataFrame({"x": [1, 2]}), inst)


def test_small_groups_are_withheld(bfi):
    inst = instrument_from_dict(bfi_instrument_dict())
    summary, items = instrument_reliability(bfi.iloc[:9], inst, scales=["agree"])
    row = summary.iloc[0]
    assert row["n"] == 9 and np.isnan(row["alpha"]) and np.isnan(row["omega_total"])
    assert "fewer than the minimum of 10" in row["note"]
    assert items["r_drop"].isna().all()
    summary, _ = instrument_reliability(bfi.iloc[:9], inst, scales=["agree"], min_respondents=5)
    assert np.isfinite(summary.iloc[0]["alpha"])


def test_missing_codes_count_as_missing(bfi):
    spec = bfi_instrument_dict()
    spec["response_scales"]["six"]["missing_codes"] = [99]
    inst = instrument_from_dict(spec)
    data = bfi.copy()
    data.loc[data.index[:5], "A2"] = 99
    _, items = instrument_reliability(data, inst, scales=["agree"])
    assert items.set_index("item").loc["A2", "n"] == bfi["A2"].iloc[5:].notna().sum()


# --- CLI ---------------------------------------------------------------------------------------


@pytest.fixture()
def bfi_yaml(tmp_path) -> Path:
    path = tmp_path / "bfi.yaml"
    path.write_text(yaml.safe_dump(bfi_instrument_dict()))
    return path


def test_cli_json_has_the_documented_keys_and_psych_values(bfi_yaml):
    data = BFI_DATA
    out = CliRunner().invoke(
        main, ["reliability", str(data), "-i", str(bfi_yaml), "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert list(doc) == ["scales"]
    scale_keys = {"scale", "n", "k", "alpha", "alpha_std", "g6", "average_r", "alpha_ci",
                  "omega_total", "note", "items"}  # fmt: skip
    item_keys = {"item", "reversed", "n", "mean", "sd", "r_drop", "alpha_if_deleted"}
    for sc in doc["scales"]:
        assert set(sc) == scale_keys
        assert all(set(it) == item_keys for it in sc["items"])
    agree = doc["scales"][0]
    assert agree["scale"] == "agree" and agree["n"] == 2800 and agree["k"] == 5
    assert agree["alpha"] == pytest.approx(GOLDEN["scales"]["agree"]["alpha"], abs=TOL)
    assert agree["alpha_ci"] == pytest.approx(GOLDEN["scales"]["agree"]["feldt_95"], abs=TOL)
    assert agree["omega_total"] == pytest.approx(GOLDEN["omega_total"]["agree"], abs=1e-3)
    assert agree["items"][0] == {**agree["items"][0], "item": "A1", "reversed": True}


def test_cli_withholds_small_groups_as_null(bfi_yaml, tmp_path, bfi):
    small = tmp_path / "small.csv"
    bfi.iloc[:6].to_csv(small)
    out = CliRunner().invoke(
        main, ["reliability", str(small), "-i", str(bfi_yaml), "--format", "json", "--missing",
               "listwise"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    first = json.loads(out.stdout)["scales"][0]
    assert first["alpha"] is None and first["alpha_ci"] == [None, None]
    assert "withheld" in first["note"]


def test_cli_table_and_errors(bfi_yaml, tmp_path):
    data = BFI_DATA
    out = CliRunner().invoke(main, ["reliability", str(data), "-i", str(bfi_yaml)])
    assert out.exit_code == 0, out.output
    assert "agree" in out.output and "0.703" in out.output
    bad = tmp_path / "bad.csv"
    bad.write_text("A1,A2\n1,x\n")
    out = CliRunner().invoke(main, ["reliability", str(bad), "-i", str(bfi_yaml)])
    assert out.exit_code == 2
    assert "none of the scales" in out.output or "not a number" in out.output


def test_cli_names_file_row_and_column_of_a_bad_answer(bfi_yaml, tmp_path, bfi):
    bad = tmp_path / "answers.csv"
    data = bfi.copy()
    data.loc[data.index[3], "A3"] = 9  # fourth respondent: line 5 of the file, after the header
    data.to_csv(bad)
    out = CliRunner().invoke(main, ["reliability", str(bad), "-i", str(bfi_yaml)])
    assert out.exit_code == 2
    # the answer parser `score` uses (fieldsurvey.scoring.checked_answers), with its wording
    assert "answers.csv: row 5, column 'A3': outside the response scale 1..6 (value 9)" in out.output


def test_cli_warnings_go_to_stderr_so_json_stays_valid(bfi_yaml, tmp_path, bfi):
    partial = tmp_path / "partial.csv"
    bfi.drop(columns=["E2"]).to_csv(partial)
    out = CliRunner().invoke(
        main, ["reliability", str(partial), "-i", str(bfi_yaml), "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    assert "skipped" in out.stderr
    scales = {s["scale"]: s for s in json.loads(out.stdout)["scales"]}
    assert scales["extraversion"]["alpha"] is None
    assert "E2" in scales["extraversion"]["note"]
    assert scales["extraversion"]["items"] == []


def test_cli_reads_spss_and_treats_user_missing_codes_as_missing(bfi_yaml, tmp_path, bfi):
    import pyreadstat

    data = bfi.iloc[:200].reset_index(drop=True).copy()
    data.loc[:9, "A2"] = 99.0  # "refused", declared user-missing in the file
    path = tmp_path / "answers.sav"
    pyreadstat.write_sav(data, str(path), missing_ranges={"A2": [99]})
    out = CliRunner().invoke(
        main, ["reliability", str(path), "-i", str(bfi_yaml), "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    agree = json.loads(out.stdout)["scales"][0]
    a2 = next(it for it in agree["items"] if it["item"] == "A2")
    assert a2["n"] == bfi["A2"].iloc[10:200].notna().sum()
    assert a2["mean"] == pytest.approx(bfi["A2"].iloc[10:200].mean())
