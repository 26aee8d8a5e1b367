"""compare and benchmark commands: JSON shape, and nothing under the minimum cell size escapes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.outputs import benchmark
from fieldsurvey.scoring import score_scales
from fieldsurvey.store import init_study
from fieldsurvey.synthetic import generate_coalition

INSTRUMENTS = ("workforce-context", "proqol5", "structural-conditions")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmp")
    responses = generate_coalition(n_orgs=10, seed=21, instruments=INSTRUMENTS).responses
    # Adversarial members: an organisation of 12 with one lived-experience respondent, and two
    # organisations of 4.
    big = responses[responses["org"] != "O01"]
    org12 = responses.head(12).assign(wf_org="X12", wf_lived_exp=[1] + [2] * 11)
    tiny = pd.concat([responses.head(4).assign(wf_org="T1"), responses.iloc[4:8].assign(wf_org="T2")])
    data = pd.concat([big, org12, tiny], ignore_index=True)
    data["response_id"] = [f"R{i}" for i in range(len(data))]
    study = init_study(root / "s", list(INSTRUMENTS), org_column="wf_org")
    path = root / "data.csv"
    data.drop(columns=["org", "wave"]).to_csv(path, index=False)
    ingest_file(study, path)
    return study, data


def _json(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_compare_json_has_the_documented_keys(study):
    out = _json(["compare", str(study[0].root), "--by", "wf_lived_exp", "--group", "Yes",
                 "--group", "No", "--scale", "burnout", "--format", "json"])
    assert out["by"] == "wf_lived_exp"
    scale = out["scales"][0]
    assert scale["scale"] == "burnout"
    assert set(scale["groups"][0]) == {"group", "n", "mean", "sd", "suppressed"}
    assert set(scale["test"]) == {"name", "statistic", "df1", "df2", "p"}
    assert scale["test"]["name"] == "welch_t"
    assert set(scale["effect_size"]) == {"name", "value", "ci"} and scale["effect_size"]["name"] == "hedges_g"
    data = study[1]
    yes = score_scales(data[data["wf_lived_exp"] == 1], "proqol5")["burnout"]
    shown = {g["group"]: g for g in scale["groups"]}
    assert shown["Yes"]["mean"] == pytest.approx(yes.mean())


def test_suppressed_groups_show_null_statistics(study):
    out = _json(["compare", str(study[0].root), "--by", "wf_lived_exp", "--format", "json"])
    for scale in out["scales"]:
        for group in scale["groups"]:
            if group["suppressed"]:
                assert group["n"] is None and group["mean"] is None and group["sd"] is None
            else:
                assert group["n"] >= 10


def _rows(out, table):
    return {(r["org"], r["scale"]): r for r in out[table]}


def test_benchmark_never_shows_small_organisations(study):
    out = _json(["benchmark", str(study[0].root), "--format", "json"])
    for table, columns in (("organisations", ("n_valid", "mean", "sd")),
                           ("differences", ("diff", "t", "df", "p")),
                           ("fairness", ("percentile_rank", "shrunk_mean", "z_adjusted"))):
        rows = _rows(out, table)
        for org in ("T1", "T2"):
            for scale in ("burnout", "sts"):
                row = rows.get((org, scale))
                assert row is None or all(row[c] is None for c in columns), (table, org)
    # Nothing the two small organisations alone produce appears anywhere in the output.
    data = study[1]
    text = json.dumps(out)
    for org in ("T1", "T2"):
        mean = score_scales(data[data["wf_org"] == org], "proqol5")["burnout"].mean()
        assert f"{mean:.6f}"[:8] not in text


def test_statistics_withheld_when_valid_scores_are_too_few(tmp_path):
    responses = generate_coalition(n_orgs=6, seed=4, instruments=INSTRUMENTS).responses
    org = responses["org"].value_counts()
    big = org[org >= 12].index[0]
    rows = responses.index[responses["org"] == big]
    items = [f"pq{i:02d}" for i in range(1, 31)]
    responses.loc[rows[: len(rows) - 9], items] = np.nan  # 9 valid scores in a cell of >= 12
    study = init_study(tmp_path / "s", list(INSTRUMENTS), org_column="wf_org")
    path = tmp_path / "d.csv"
    responses.drop(columns=["org", "wave"]).to_csv(path, index=False)
    ingest_file(study, path)
    out = benchmark(study.root, scales=["burnout"])
    for table, columns in (("organisations", ("mean", "sd")), ("differences", ("diff", "std_diff")),
                           ("fairness", ("shrunk_mean", "z_adjusted"))):
        frame = out.tables[table]
        row = frame[frame["org"] == big]
        assert row.empty or all(pd.isna(row[c].iloc[0]) for c in columns), table


def test_benchmark_of_one_organisation_carries_no_other_organisation(study):
    out = _json(["benchmark", str(study[0].root), "--org", "O02", "--format", "json"])
    for table in ("organisations", "differences", "fairness"):
        assert {r["org"] for r in out[table]} <= {"O02"}, table


def test_compare_a_data_file_with_instruments(tmp_path):
    responses = generate_coalition(n_orgs=5, seed=8, instruments=INSTRUMENTS).responses
    path = tmp_path / "d.csv"
    responses.to_csv(path, index=False)
    out = _json(["compare", str(path), "-i", "proqol5", "-i", "workforce-context", "--by", "wf_role",
                 "--scale", "sts", "--format", "json"])
    assert out["scales"][0]["test"]["name"] == "welch_anova"  # six roles
    result = CliRunner().invoke(main, ["compare", str(path), "--by", "wf_role"])
    assert result.exit_code == 2 and "give -i INSTRUMENT" in result.output


def test_compare_reports_whether_scalar_invariance_holds(tmp_path):
    responses = generate_coalition(n_orgs=30, seed=31, instruments=INSTRUMENTS).responses
    path = tmp_path / "ok.csv"
    responses.to_csv(path, index=False)
    args = ["compare", str(path), "-i", "proqol5", "-i", "workforce-context", "--by", "wf_lived_exp",
            "--group", "Yes", "--group", "No", "--scale", "sts", "--format", "json"]
    assert _json(args)["scales"][0]["invariance"]["comparable"] is True
    # An item that lived-experience staff answer two points higher whatever their STS: the
    # intercepts differ, so their STS means cannot be compared with other staff's.
    biased = responses.copy()
    lived = biased["wf_lived_exp"] == 1
    for item in ("pq02", "pq05"):
        biased.loc[lived, item] = (biased.loc[lived, item] + 2).clip(upper=5)
    biased.to_csv(path, index=False)
    result = _json(args)["scales"][0]["invariance"]
    assert result["comparable"] is False and result["highest_level"] in ("configural", "metric")
    assert "scalar invariance does not hold" in result["note"]


def test_trend_change_withheld_unless_both_waves_are_shown(tmp_path):
    responses = generate_coalition(n_orgs=8, seed=6, waves=2, instruments=INSTRUMENTS).responses
    study = init_study(tmp_path / "s", list(INSTRUMENTS), org_column="wf_org")
    for wave, part in responses.groupby("wave"):
        path = tmp_path / f"w{wave}.csv"
        part.drop(columns=["org", "wave"]).to_csv(path, index=False)
        ingest_file(study, path, wave=str(wave))
    counts = responses.groupby(["org", "wave"]).size().unstack()
    out = benchmark(study.root, scales=["burnout"])
    change = out.tables["change"].set_index("org")
    trend = out.tables["trend"]
    for org, row in counts.iterrows():
        if row.min() < 10:
            assert pd.isna(change.loc[org, "change"]), org
        shown = trend[(trend["org"] == org) & trend["mean"].notna()]
        assert (shown["n_valid"] >= 10).all()
    assert change["change"].notna().any()
    assert set(out.tables["organisations"]["wave"].dropna()) == {"2"}  # the latest wave


def test_benchmark_standardises_to_the_field_role_mix(study):
    out = _json(["benchmark", str(study[0].root), "--standardise-roles", "wf_role", "--scale",
                 "burnout", "--format", "json"])
    means = _rows(out, "organisations")
    rows = _rows(out, "standardised")
    for key, row in rows.items():
        if row["standardised_mean"] is not None:  # every role cell it weighs is shown
            assert means[key]["mean"] is not None
    hidden = [key for key, r in means.items() if r["mean"] is None]
    assert all(rows[k]["standardised_mean"] is None for k in hidden if k in rows)


def test_benchmark_is_survey_weighted_when_the_study_gives_staff_counts(tmp_path):
    import yaml

    responses = generate_coalition(n_orgs=6, seed=41, instruments=INSTRUMENTS).responses
    responses = responses[responses["wf_role"].notna()]
    # Two roles, so that the weighting cells (organisation x role) are large enough to show:
    # a weighted mean is shown only where every cell it weighs is.
    responses = responses.assign(wf_role=np.where(responses["wf_role"] == 1, 1, 2))
    responses = responses[responses.groupby(["wf_org", "wf_role"])["wf_org"].transform("size") >= 10]
    study = init_study(tmp_path / "s", list(INSTRUMENTS), org_column="wf_org")
    path = tmp_path / "d.csv"
    responses.drop(columns=["org", "wave"]).to_csv(path, index=False)
    ingest_file(study, path)
    # Direct-service staff are three times as many as those who answered; everyone else as answered.
    staff = responses.groupby(["wf_org", "wf_role"]).size().rename("staff").reset_index()
    staff.loc[staff["wf_role"] == 1, "staff"] *= 3
    staff.rename(columns={"wf_org": "org", "wf_role": "role"}).to_csv(study.root / "staff.csv", index=False)
    raw = yaml.safe_load((study.root / "study.yaml").read_text())
    raw["staff_counts"] = "staff.csv"
    (study.root / "study.yaml").write_text(yaml.safe_dump(raw))
    out = _json(["benchmark", str(study.root), "--scale", "burnout", "--format", "json"])
    field = next(r for r in out["weighted"] if r["org"] is None)
    assert field["weighted_mean"] is not None
    scores = responses.join(score_scales(responses, "proqol5").drop(columns="row"))
    w = np.where(scores["wf_role"] == 1, 3.0, 1.0)
    ok = scores["burnout"].notna().to_numpy()
    expected = np.average(scores["burnout"][ok], weights=w[ok])
    assert field["weighted_mean"] == pytest.approx(expected)
    assert field["weighted_mean"] != pytest.approx(out["field"][0]["mean"])
    means = _rows(out, "organisations")
    for row in out["weighted"]:
        if row["org"] is None:
            continue
        if means[(row["org"], row["scale"])]["mean"] is None:
            assert row["weighted_mean"] is None and row["weighted_diff"] is None
            continue
        if row["weighted_mean"] is None:
            continue  # a weighting cell (organisation x role) is too small to show
        own = (scores["wf_org"] == row["org"]).to_numpy() & ok
        rest = (scores["wf_org"] != row["org"]).to_numpy() & ok
        mine = np.average(scores["burnout"][own], weights=w[own])
        others = np.average(scores["burnout"][rest], weights=w[rest])
        assert row["weighted_mean"] == pytest.approx(mine)
        assert row["field_weighted_mean"] == pytest.approx(others)
        assert row["weighted_diff"] == pytest.approx(mine - others)
        assert row["weighted_diff_ci_low"] < row["weighted_diff"] < row["weighted_diff_ci_high"]
        half = (row["weighted_diff_ci_high"] - row["weighted_diff_ci_low"]) / 2
        assert row["weighted_z"] == pytest.approx(row["weighted_diff"] / (half / 1.959963984540054))
    # Group comparisons of the same study are weighted too.
    result = CliRunner().invoke(main, ["compare", str(study.root), "--by", "wf_lived_exp",
                                       "--scale", "burnout", "--format", "json"])
    assert result.exit_code == 0, result.output
    from fieldsurvey.compare import survey_weights
    from fieldsurvey.outputs import compare
    from fieldsurvey.scoring import scored_responses
    from fieldsurvey.store import open_study

    opened = open_study(study.root)
    data = scored_responses(opened)
    weights = survey_weights(data, opened.staff_table())
    groups = compare(study.root, "wf_lived_exp", scales=["burnout"]).tables["weighted"]
    yes = groups[groups["wf_lived_exp"] == "Yes"].iloc[0]
    mask = data["wf_lived_exp"].eq(1).fillna(False).to_numpy(dtype=bool) & data["burnout"].notna().to_numpy()
    expected = np.average(data["burnout"].to_numpy(dtype=float)[mask], weights=weights.to_numpy()[mask])
    if pd.notna(yes["weighted_mean"]):  # shown only when every weighting cell is
        assert yes["weighted_mean"] == pytest.approx(expected)


def test_benchmark_bands_are_gated_counts_with_shares_of_shown_numbers(study):
    out = _json(["benchmark", str(study[0].root), "--bands", "--scale", "burnout", "--format",
                 "json"])
    rows = out["bands"]
    assert {r["band"] for r in rows} >= {"Low", "Moderate"}
    for row in rows:
        assert row["n"] is None or row["n"] >= 10
        if row["pct"] is not None:
            assert row["n"] is not None and 0 <= row["pct"] <= 100
    assert all(r["n"] is None for r in rows if r["org"] in ("T1", "T2"))
