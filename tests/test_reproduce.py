"""Recomputing published findings from study data: verdicts, intervals, disclosure, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

from fieldsurvey.cli import main
from fieldsurvey.outputs.findings import reproduce_findings
from fieldsurvey.reproduce import findings_from_dict
from fieldsurvey.reproduce.recompute import (
    REPRODUCE_COLUMNS,
    compute_findings,
    reproduce_table,
    wilson_interval,
)

CITATION = "Doe, A. (2020). A test study. Journal of Tests, 1, 1-10."


def _finding(fid: str, printed: str | None, recipe: dict, **extra) -> dict:
    return {
        "id": fid,
        "citation": CITATION,
        "statement": f"statement of {fid}",
        "population": {"description": "staff"},
        "values": [printed] if printed else [],
        "recipe": recipe,
        **extra,
    }


def _findings(*items: dict):
    return findings_from_dict({"title": "test findings", "findings": list(items)})


@pytest.fixture
def known() -> pd.DataFrame:
    """100 staff: exactly 38 in the High burnout band; 20 with lived experience (8 High)."""
    n = 100
    band = np.array(["High"] * 38 + ["Moderate"] * 62, dtype=object)
    lived = np.full(n, 2)
    lived[:8] = 1  # 8 High with lived experience
    lived[38:50] = 1  # 12 Moderate with lived experience
    burnout = np.where(band == "High", 45.0, 25.0)
    role = np.array([1, 2] * 50)
    return pd.DataFrame(
        {
            "burnout": burnout,
            "burnout_band": band,
            "wf_lived_exp": lived,
            "wf_role": role,
            "org": ["A"] * 50 + ["B"] * 50,
        }
    )


def _band(fid: str, printed: str, **recipe) -> dict:
    return _finding(
        fid,
        printed,
        {"statistic": "proportion_in_band", "scale": "proqol5.burnout", "band": "High", **recipe},
    )


def test_verdicts_match_close_differ_and_not_computable(known):
    ff = _findings(
        _band("exact", "38%"),
        _band("close", "42%"),
        _band("far", "60%"),
        _finding(
            "no-scale", "30%", {"statistic": "proportion_above_cut", "scale": "sts", "cut": 40}
        ),
        _band("no-filter-col", "38%", filters={"team": ["night"]}),
        _finding(
            "recipe-no",
            "34%",
            {
                "statistic": "proportion_above_cut",
                "computable": "no",
                "computable_note": "threshold not stated",
            },
        ),
    )
    out = reproduce_findings(known, ff, min_cell=10).set_index("id")
    assert list(out.reset_index().columns) == REPRODUCE_COLUMNS
    assert out.loc["exact", "verdict"] == "matches"
    assert out.loc["exact", "study_value"] == pytest.approx(38.0)
    assert out.loc["exact", "difference"] == pytest.approx(0.0)
    lo, hi = wilson_interval(38, 100)
    assert out.loc["exact", ["ci_low", "ci_high"]].tolist() == pytest.approx([100 * lo, 100 * hi])
    assert out.loc["exact", "ci_method"] == "wilson"
    # 42 lies outside [41.5, 42.5) of 38 but inside its Wilson interval [29.1, 47.8].
    assert out.loc["close", "verdict"] == "close"
    assert out.loc["close", "difference"] == pytest.approx(-4.0)
    assert out.loc["far", "verdict"] == "differs"
    assert out.loc["no-scale", "verdict"] == "not computable"
    assert out.loc["no-scale", "reason"] == "no scale 'sts' in the study"
    assert "filter column 'team' missing" in out.loc["no-filter-col", "reason"]
    assert out.loc["recipe-no", "reason"].startswith("recipe computable: no")
    assert "threshold not stated" in out.loc["recipe-no", "reason"]
    # Lived experience: 8 of 20 High. 40% of 20 is a count of 8, below min_cell 10: withheld.
    assert out.loc["exact", "lived_value"] is None
    assert out.loc["exact", "lived_suppressed"]


def test_lived_experience_value_is_shown_when_every_count_behind_it_is_large(known):
    # 15 of 37 with lived experience High, 23 of 63 without: no count below 10.
    lived = np.full(100, 2)
    lived[:15] = 1
    lived[38:60] = 1
    out = reproduce_findings(known.assign(wf_lived_exp=lived), _findings(_band("exact", "38%")),
                             min_cell=10).iloc[0]
    assert out["lived_value"] == pytest.approx(100 * 15 / 37)
    assert out["lived_n"] == 37
    assert not out["lived_suppressed"]


def test_matches_uses_the_rounding_interval_half_open(known):
    # 38.0 is the lower end of "38.0%"'s interval [37.95, 38.05) and outside "37.9%"'s.
    ff = _findings(_band("a", "38.0%"), _band("b", "37.9%"), _band("c", "38.5%"))
    out = reproduce_findings(known, ff).set_index("id")["verdict"]
    assert out.tolist() == ["matches", "close", "close"]


def test_none_is_an_exact_count_not_a_rounded_figure():
    data = pd.DataFrame(
        {"burnout_band": ["High"] * 10 + ["Moderate"] * 990, "burnout": 1.0, "wf_lived_exp": 2}
    )
    out = reproduce_findings(data, _findings(_band("none", "none"))).iloc[0]
    # 1% would round to 0% and "match" if "none" were a rounded figure; it counts nobody.
    assert out["study_value"] == pytest.approx(1.0)
    assert out["verdict"] == "differs"
    nobody = data.assign(burnout_band="Moderate")
    (cell,) = compute_findings(nobody, _findings(_band("none", "none")), min_cell=10)
    assert cell.row["verdict"] == "matches"  # computed...
    shown = reproduce_findings(nobody, _findings(_band("none", "none"))).iloc[0]
    assert shown["verdict"] == "not computable"  # ...but a zero is withheld like a small count
    assert shown["study_value"] is None


def test_filters_compare_yaml_values_with_data_codes(known):
    ff = _findings(_band("role1", "38%", filters={"wf_role": [1]}))
    out = reproduce_findings(known, ff).iloc[0]
    expected = known.loc[known["wf_role"] == 1, "burnout_band"].eq("High").mean() * 100
    assert out["n"] == 50
    assert out["study_value"] == pytest.approx(expected)


def test_mean_sd_and_correlation_intervals():
    rng = np.random.default_rng(3)
    x = rng.normal(25, 6, 200)
    y = 0.5 * x + rng.normal(0, 4, 200)
    data = pd.DataFrame({"burnout": x, "sts": y, "wf_lived_exp": [1, 2] * 100})
    r = float(np.corrcoef(x, y)[0, 1])
    ff = _findings(
        _finding("m", f"M = {x.mean():.2f}", {"statistic": "mean", "scale": "burnout"}),
        _finding(
            "sd", f"M = 25.0, SD = {x.std(ddof=1):.2f}", {"statistic": "sd", "scale": "burnout"}
        ),
        _finding(
            "r",
            f"r(198) = {r:.2f}",
            {"statistic": "correlation", "scale": "burnout", "with": "sts"},
        ),
    )
    out = reproduce_findings(data, ff).set_index("id")
    assert (out["verdict"] == "matches").all()
    ci = stats.t.interval(0.95, 199, loc=x.mean(), scale=stats.sem(x))
    assert out.loc["m", ["ci_low", "ci_high"]].tolist() == pytest.approx(list(ci))
    z = math.atanh(r)
    assert out.loc["r", "ci_low"] == pytest.approx(math.tanh(z - 1.959964 / math.sqrt(197)))
    s = x.std(ddof=1)
    assert out.loc["sd", "ci_high"] == pytest.approx(
        s * math.sqrt(199 / stats.chi2.ppf(0.025, 199))
    )


def test_group_difference_by_lived_experience_is_welch_and_has_no_lived_column():
    rng = np.random.default_rng(5)
    lived = np.array([1] * 40 + [2] * 60)
    strain = np.where(lived == 1, 3.5, 3.0) + rng.normal(0, 0.5, 100)
    data = pd.DataFrame({"financial_strain": strain, "wf_lived_exp": lived})
    diff = strain[:40].mean() - strain[40:].mean()
    ff = _findings(
        _finding(
            "gap",
            f"{diff:.2f}",
            {
                "statistic": "group_difference",
                "scale": "financial_strain",
                "groups": "lived_experience",
            },
        )
    )
    out = reproduce_findings(data, ff).iloc[0]
    assert out["verdict"] == "matches"
    welch = stats.ttest_ind(strain[:40], strain[40:], equal_var=False)
    lo, hi = welch.confidence_interval(0.95)
    assert [out["ci_low"], out["ci_high"]] == pytest.approx([lo, hi])
    assert pd.isna(out["lived_value"])
    assert "compares lived-experience" in out["lived_reason"]


def test_lived_subset_below_min_cell_is_suppressed(known):
    data = known.assign(wf_lived_exp=[1] * 5 + [2] * 95)  # 5 lived-experience staff
    out = reproduce_findings(data, _findings(_band("a", "38%")), min_cell=10).iloc[0]
    assert out["verdict"] == "matches"  # the overall value is still shown
    assert out["lived_suppressed"]
    assert pd.isna(out["lived_value"]) and pd.isna(out["lived_n"])
    assert "min_cell" in out["lived_reason"]


def test_lived_value_withheld_when_the_rest_could_be_derived(known):
    # 95 lived-experience staff and 5 others: "all" minus "lived" would reveal the 5.
    data = known.assign(wf_lived_exp=[1] * 95 + [2] * 5)
    out = reproduce_findings(data, _findings(_band("a", "38%")), min_cell=10).iloc[0]
    assert out["lived_suppressed"] and pd.isna(out["lived_value"])


def test_population_below_min_cell_is_not_computable(known):
    data = known.assign(wf_role=[3] * 6 + [1] * 94)
    ff = _findings(_band("tiny", "50%", filters={"wf_role": 3}))
    out = reproduce_findings(data, ff, min_cell=10).iloc[0]
    assert out["verdict"] == "not computable"
    assert "too few respondents" in out["reason"]
    assert pd.isna(out["study_value"]) and pd.isna(out["n"]) and pd.isna(out["ci_low"])
    assert out["lived_suppressed"]


def test_value_on_fewer_valid_scores_than_min_cell_is_withheld(known):
    data = known.assign(burnout=[30.0] * 6 + [np.nan] * 94)  # 100 staff, 6 scored
    ff = _findings(_finding("m", "M = 30.0", {"statistic": "mean", "scale": "burnout"}))
    out = reproduce_findings(data, ff, min_cell=10).iloc[0]
    assert out["verdict"] == "not computable" and "too few respondents" in out["reason"]
    assert pd.isna(out["study_value"]) and out["lived_suppressed"]


def test_welch_t_statistic_matches_scipy():
    rng = np.random.default_rng(8)
    lived = np.array([1] * 30 + [2] * 70)
    score = rng.normal(0, 1, 100) + 0.8 * (lived == 1)
    data = pd.DataFrame({"sts": score, "wf_lived_exp": lived})
    t = stats.ttest_ind(score[:30], score[30:], equal_var=False).statistic
    recipe = {"statistic": "test", "test": "welch_t", "scale": "sts", "groups": "lived_experience"}
    ff = _findings(
        _finding("t", f"t(60) = {t:.2f}", recipe), _finding("t2", f"t(60) = {t + 0.5:.2f}", recipe)
    )
    out = reproduce_findings(data, ff).set_index("id")
    assert out.loc["t", "study_value"] == pytest.approx(t)
    assert out.loc["t", "verdict"] == "matches"
    assert out.loc["t2", "verdict"] == "differs"  # a test statistic has no interval
    assert pd.isna(out.loc["t2", "ci_low"])


def test_reproduce_table_shows_suppressed_and_reasons(known):
    data = known.assign(wf_lived_exp=[1] * 5 + [2] * 95)
    ff = _findings(_band("a", "38%"), _band("b", "38%", filters={"team": 1}))
    table = reproduce_table(reproduce_findings(data, ff))
    assert table.loc[0, "Verdict"] == "matches"
    assert table.loc[0, "Lived experience"] == "suppressed"
    assert table.loc[0, "This study"] == "38.0 [29.1, 47.8]"
    assert table.loc[1, "Verdict"].startswith("not computable: filter column 'team'")


# --------------------------------------------------------------------------------------------
# Study folder and CLI


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory) -> Path:
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.store import init_study
    from fieldsurvey.synthetic import generate_coalition

    root = tmp_path_factory.mktemp("repro")
    synthetic = generate_coalition(n_orgs=8, seed=11, instruments=("workforce-context", "proqol5"))
    study = init_study(root / "s", ["workforce-context", "proqol5"], org_column="wf_org")
    csv = root / "data.csv"
    synthetic.responses.drop(columns=["org", "wave"]).to_csv(csv, index=False)
    ingest_file(study, csv)
    return root / "s"


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_cli_json_has_every_key(study_dir, tmp_path):
    raw = {
        "title": "mine",
        "findings": [
            _band("high", "5%", band="Low"),  # nobody is High in this study: a zero
            _finding("cbi", "30%", {"statistic": "mean", "scale": "cbi.cbi_work"}),
        ],
    }
    result = CliRunner().invoke(
        main, ["reproduce", str(study_dir), str(_write(tmp_path, raw)), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    first = doc["findings"][0]
    for key in (
        "id",
        "citation",
        "statement",
        "published",
        "study_value",
        "ci",
        "n",
        "difference",
        "verdict",
        "reason",
        "lived_experience",
    ):
        assert key in first
    assert set(first["lived_experience"]) >= {"value", "n", "suppressed"}
    assert first["verdict"] in ("matches", "close", "differs")
    assert len(first["ci"]) == 2 and first["ci"][0] <= first["study_value"] <= first["ci"][1]
    second = doc["findings"][1]
    assert second["verdict"] == "not computable"
    assert "does not use instrument 'cbi'" in second["reason"]


def test_cli_table_runs_on_shipped_findings(study_dir):
    from fieldsurvey.resources import data_dir

    shipped = data_dir("analysis") / "field-findings.yaml"
    result = CliRunner().invoke(main, ["reproduce", str(study_dir), str(shipped)])
    assert result.exit_code == 0, result.output
    assert "not computable" in result.output


def test_cli_bad_findings_file_exits_2_naming_file_and_field(study_dir, tmp_path):
    raw = {"title": "mine", "findings": [_band("bad", "38%", statistic="median2")]}
    result = CliRunner().invoke(main, ["reproduce", str(study_dir), str(_write(tmp_path, raw))])
    assert result.exit_code == 2
    assert "mine.yaml: findings[0] (bad).recipe.statistic" in result.output


def test_cli_not_a_study_exits_2(tmp_path):
    raw = {"title": "mine", "findings": [_band("a", "38%")]}
    result = CliRunner().invoke(main, ["reproduce", str(tmp_path), str(_write(tmp_path, raw))])
    assert result.exit_code == 2
    assert "not a study folder" in result.output


def test_already_scored_frame_is_not_rescored_and_instruments_are_checked():
    from fieldsurvey.instrument import resolve_instrument
    from fieldsurvey.scoring import score_scales
    from fieldsurvey.synthetic import generate_coalition

    synthetic = generate_coalition(n_orgs=6, seed=4, instruments=("workforce-context", "proqol5"))
    responses = synthetic.responses.reset_index(drop=True)
    scores = score_scales(responses, ["proqol5"]).drop(columns="row")
    frame = pd.concat([responses[["org", "wf_lived_exp"]], scores], axis=1)  # no item columns
    ff = _findings(
        _band("high", "1%", band="Low"),
        _finding("cbi", "30%", {"statistic": "mean", "scale": "cbi.cbi_work"}),
    )
    out = reproduce_findings(frame, ff, [resolve_instrument("proqol5")]).set_index("id")
    expected = 100 * (scores["burnout_band"] == "Low").sum() / scores["burnout_band"].notna().sum()
    assert out.loc["high", "study_value"] == pytest.approx(expected)
    assert "does not use instrument 'cbi' (it uses proqol5)" in out.loc["cbi", "reason"]


# --------------------------------------------------------------------------------------------
# Handing the findings to another output's release (a report gates them with its other tables)


def test_a_proportion_is_never_handed_to_a_release_as_a_statistic(known):
    from fieldsurvey.disclosure import Results
    from fieldsurvey.reproduce.recompute import add_finding_table, compute_findings

    # "40% of 20" is the count 8: a proportion goes to the gate as the counts it divides.
    cell = compute_findings(known, _findings(_band("exact", "38%")), min_cell=10)[0]
    assert cell.row["study_value"] == pytest.approx(38.0)  # ungated, before any release
    assert cell.hit is not None and (cell.hit == "yes").sum() == 38
    release = Results(pd.DataFrame({"lived": ["yes"] * 20 + ["other"] * 80}), ["lived"])
    with pytest.raises(ValueError, match="release its counts"):
        add_finding_table(release, "f0", cell, {}, {"lived": "yes"})


def test_a_table_of_the_same_release_can_withhold_a_finding_value():
    from fieldsurvey.disclosure import DisclosurePolicy, Results, audit, gate
    from fieldsurvey.reproduce.recompute import (
        add_finding_table,
        compute_findings,
        gated_finding_row,
    )

    # 95 staff in team a and 5 in team b (withheld): the finding over everyone (100) next to
    # the shown count of team a (95) would give team b's 5 by subtraction.
    data = pd.DataFrame(
        {"burnout": [30.0] * 100, "team": ["a"] * 95 + ["b"] * 5, "wf_lived_exp": [2] * 100}
    )
    ff = _findings(_finding("m", "M = 30.0", {"statistic": "mean", "scale": "burnout"}))
    cell = compute_findings(data, ff, min_cell=10)[0]
    policy = DisclosurePolicy(min_cell=10)

    def release(with_finding: bool):
        rel = Results(data[["team"]], ["team"])
        rel.add_table("teams", pd.DataFrame({"team": ["a", "b"]}))
        if with_finding:
            add_finding_table(rel, "f", cell, {}, None)
        return gate(rel, policy)

    assert release(False)["teams"]["n"].tolist()[0] == 95  # on its own, team a is shown
    gated = release(True)
    assert audit(gated).passed
    row = gated_finding_row(cell, gated["f"], 10)
    team_a = gated["teams"]["n"].iat[0]
    assert pd.isna(team_a) or pd.isna(row["study_value"])  # never both shown
    # Gated on its own, the finding would be shown: the other table made the difference.
    assert reproduce_findings(data, ff, min_cell=10)["verdict"].iat[0] == "matches"


def test_shown_row_rebuilds_intervals_from_gated_numbers_and_withholds_the_rest(known):
    from fieldsurvey.reproduce.recompute import (
        compute_findings,
        mean_estimate,
        proportion_estimate,
        shown_finding_row,
    )

    cell = compute_findings(known, _findings(_band("a", "38%")), min_cell=10)[0]
    row = shown_finding_row(cell, proportion_estimate(38, 100), None, 10)
    lo, hi = wilson_interval(38, 100)
    assert [row["study_value"], row["ci_low"], row["ci_high"]] == pytest.approx(
        [38.0, 100 * lo, 100 * hi]
    )
    assert row["verdict"] == "matches" and row["lived_suppressed"] and row["lived_value"] is None
    hidden = shown_finding_row(cell, None, proportion_estimate(8, 20), 10)
    assert hidden["verdict"] == "not computable" and "too few" in hidden["reason"]
    assert hidden["study_value"] is None and hidden["lived_value"] is None
    est = mean_estimate(25.0, 6.0, 36)
    expected = stats.t.interval(0.95, 35, loc=25.0, scale=6.0 / 6)
    assert [est.ci_low, est.ci_high] == pytest.approx(list(expected))


def test_reproduce_table_gives_correlations_two_decimals_and_names_withheld():
    r = pd.DataFrame(
        [
            {"id": "r", "published": "r(98) = .31", "study_value": 0.3456, "ci_low": 0.16,
             "ci_high": 0.51, "n": 100, "difference": 0.0356, "verdict": "close", "reason": "",
             "lived_value": None, "lived_n": None, "lived_suppressed": True,
             "statistic": "correlation"},
            {"id": "p", "published": None, "study_value": None, "verdict": "not computable",
             "reason": "x", "lived_suppressed": False, "statistic": "mean"},
        ]
    )  # fmt: skip
    table = reproduce_table(r, withheld="withheld")
    assert table.loc[0, "This study"] == "0.35 [0.16, 0.51]"
    assert table.loc[0, "Difference"] == "+0.04"
    assert table.loc[0, "Lived experience"] == "withheld"
    assert table.loc[1, "Published"] == "-"
