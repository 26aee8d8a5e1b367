"""Benchmarking sections of the reports (issue 18): per question, comparator group, response
rate, change since the last wave and priorities. Values are checked against computations
made here from the stored responses with pandas, not against the module's own helpers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fieldsurvey.analyse import load_study_data
from fieldsurvey.analyse.comparators import MIN_GROUP, NONE, comparator_groups
from fieldsurvey.analyse.report_benchmarking import (
    correlation,
    favourable_items,
    priority_rows,
    welch_difference,
)
from fieldsurvey.compare.proportions import newcombe_difference, two_proportion_test, wilson
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.ingest.profiles import ingest_profiles
from fieldsurvey.report.release import gate_reports
from fieldsurvey.store import init_study, open_study
from fieldsurvey.synthetic import generate_coalition

GOLDEN = json.loads((Path(__file__).parent / "reference" / "proportions_golden.json").read_text())
INSTRUMENTS = ["workforce-context", "proqol5", "cbi", "stss", "structural-conditions"]


# --------------------------------------------------------------------------------------------
# Statistics against R


@pytest.mark.parametrize("case", GOLDEN["proportions"])
def test_proportion_intervals_and_test_match_r(case):
    k1, n1, k2, n2 = case["k1"], case["n1"], case["k2"], case["n2"]
    assert np.allclose(wilson(k1, n1), case["wilson1"], atol=1e-10)
    diff, low, high = newcombe_difference(k1, n1, k2, n2)
    assert np.allclose([diff, low, high], [case["diff"], case["low"], case["high"]], atol=1e-10)
    assert float(two_proportion_test(k1, n1, k2, n2)) == pytest.approx(case["p"], abs=1e-10)


def test_welch_difference_and_correlation_match_r():
    w = GOLDEN["welch"]
    got = welch_difference(np.array(w["a"]), np.array(w["b"]))
    assert [got["diff"], got["diff_ci_low"], got["diff_ci_high"], got["p"]] == pytest.approx(
        [w["diff"], w["low"], w["high"], w["p"]], abs=1e-10)
    c = GOLDEN["correlation"]
    r, low, high, n = correlation(np.array(c["x"]), np.array(c["y"]))
    assert [r, low, high] == pytest.approx([c["r"], c["low"], c["high"]], abs=1e-10)
    assert n == len(c["x"])


# --------------------------------------------------------------------------------------------
# Definitions


def test_comparator_groups_are_a_partition_with_enough_members():
    attrs = pd.DataFrame({
        "size_band": ["s"] * 9 + ["m"] * 5 + ["l"] * 2,
        "service": ["a"] * 5 + ["b"] * 4 + ["a"] * 5 + ["a"] * 2,
        "region": ["1"] * 16,
    }, index=[f"O{i:02d}" for i in range(16)])
    groups = comparator_groups(attrs)
    sizes = groups[groups != NONE].value_counts()
    assert (sizes >= MIN_GROUP).all()
    assert set(groups[attrs["size_band"] == "l"]) == {NONE}  # two large ones: no group
    # Members of one group share their size band.
    for g in sizes.index:
        assert attrs.loc[groups == g, "size_band"].nunique() == 1


def test_priority_matrix_classes_follow_importance_and_gap():
    gaps = pd.DataFrame({"scale": ["a", "b", "c", "d"], "diff": [-0.5, -0.4, 0.1, 0.0],
                         "diff_ci_low": [-0.8, -0.7, -0.2, -0.3],
                         "diff_ci_high": [-0.2, -0.1, 0.4, 0.3], "p": [0.01] * 4})
    importance = pd.DataFrame({"scale": ["a", "b", "c", "d"], "r_burnout": [-0.5, -0.1, -0.6, -0.05],
                               "r_intention_to_leave": [-0.4, -0.1, -0.5, -0.05]})
    out = priority_rows(gaps, importance, dict.fromkeys("abcd", "better"),
                        ["burnout", "intention_to_leave"]).set_index("scale")
    assert out.loc["a", "priority"] == "act first" and out.loc["a", "priority_rank"] == 1
    assert out.loc["b", "priority"] == "also behind"
    assert out.loc["c", "priority"] == "keep up"
    assert out.loc["d", "priority"] == "lower priority"
    assert out.loc["a", "importance"] == pytest.approx(0.45)
    # A condition that is worse when higher: a positive difference is a shortfall.
    flipped = priority_rows(gaps.assign(diff=[0.5, -0.4, 0.1, 0.0], diff_ci_low=[0.2, -0.7, -0.2, -0.3],
                                        diff_ci_high=[0.8, -0.1, 0.4, 0.3]),
                            importance.assign(r_burnout=[0.5, -0.1, -0.6, -0.05],
                                              r_intention_to_leave=[0.4, -0.1, -0.5, -0.05]),
                            {"a": "worse", "b": "better", "c": "better", "d": "better"},
                            ["burnout", "intention_to_leave"]).set_index("scale")
    assert flipped.loc["a", "gap"] == pytest.approx(-0.5)
    assert flipped.loc["a", "priority"] == "act first"


# --------------------------------------------------------------------------------------------
# Through the gate, against the stored data


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    s = init_study(root / "study", INSTRUMENTS, org_column="wf_org", waves=["1", "2"])
    synthetic = generate_coalition(n_orgs=14, seed=11, waves=2)
    for wave in ("1", "2"):
        path = root / f"wave{wave}.csv"
        rows = synthetic.responses[synthetic.responses["wave"].astype(str) == wave]
        rows.drop(columns=["org", "wave"]).to_csv(path, index=False)
        ingest_file(s, path, wave=wave)
        profiles = synthetic.profiles[synthetic.profiles["wave"].astype(str) == wave]
        profiles.drop(columns=["org", "wave"]).to_csv(root / f"profiles{wave}.csv", index=False)
        ingest_profiles(s, root / f"profiles{wave}.csv", wave=wave)
    return {"study": s, "synthetic": synthetic}


@pytest.fixture(scope="module")
def gated(study):
    data = load_study_data(open_study(study["study"].root))
    counts = data.current["org"].value_counts()
    big = counts.index[0]  # the largest organisation this wave: its own cells are shown
    reports = gate_reports(data, [None, big], record=False)
    return {"data": data, "org": big, "reports": reports, "counts": counts}




def test_response_rate_is_responses_over_profile_staff(study, gated):
    org = gated["org"]
    table = gated["reports"][org].tables["response_rate"]
    profiles = study["synthetic"].profiles
    responses = study["synthetic"].responses
    for row in table.to_dict(orient="records"):
        staff = profiles.loc[(profiles["org"] == org) & (profiles["wave"].astype(str) == row["wave"]),
                             "op_staff"].iat[0]
        assert row["staff"] == staff
        n = int(((responses["org"] == org) & (responses["wave"].astype(str) == row["wave"])).sum())
        # The ingest drops nothing from this synthetic export.
        assert row["response_rate"] == pytest.approx(n / staff)


def _share(values: pd.Series, scored: pd.Series, codes) -> tuple[int, int]:
    n = int(scored.sum())
    k = int((values[scored].isin(codes)).sum())
    return k, n


def test_per_question_shares_and_differences_recomputed_with_pandas(gated):
    data, org = gated["data"], gated["org"]
    tables = gated["reports"][org].tables
    items = {i.id: i for i in favourable_items(data)}
    frame = data.frame
    now = frame["wave"] == data.latest
    mine, rest = now & (frame["org"] == org), now & (frame["org"] != org)
    shares = tables["items"]
    this_row = shares[(shares["focus"] == "this") & (shares["wave"] == data.latest)].iloc[0]
    rest_row = shares[shares["focus"] == "other"].iloc[0]
    tests = tables["item_tests_rest"].iloc[0]
    checked = 0
    for item_id in ("sc_work1", "sc_fin1", "sc_leave3", "pq01", "pq08", "cbi13"):
        item = items[item_id]
        scored = frame[item.scale].notna()
        k1, n1 = _share(frame[f"item:{item_id}"], mine & scored, item.codes)
        k2, n2 = _share(frame[f"item:{item_id}"], rest & scored, item.codes)
        assert this_row[item_id] == pytest.approx(k1 / n1)
        assert rest_row[item_id] == pytest.approx(k2 / n2)
        assert tests[f"{item_id}_diff"] == pytest.approx(k1 / n1 - k2 / n2)
        checked += 1
    assert checked == 6
    # The favourable end: agreement for workload, disagreement for financial strain and for
    # the reverse-keyed "still here a year from now"... which is favourable when agreed.
    assert items["sc_work1"].codes == (4.0, 5.0)
    assert items["sc_fin1"].codes == (1.0, 2.0)
    assert items["sc_leave3"].codes == (4.0, 5.0)
    assert items["pq08"].codes == (1.0, 2.0)  # a burnout symptom: never or rarely
    # Licensed wording is printed only where the licence allows it.
    assert items["sc_work1"].text and items["pq01"].text is None


def test_change_and_gaps_recomputed_with_pandas(gated):
    data, org = gated["data"], gated["org"]
    tables = gated["reports"][org].tables
    frame = data.frame
    mine = frame["org"] == org
    change = tables["scale_change"].set_index("scale")
    gaps = tables["condition_gaps"].set_index("scale")
    for scale in ("burnout", "workload", "intention_to_leave"):
        now = frame.loc[mine & (frame["wave"] == "2"), scale].mean()
        before = frame.loc[mine & (frame["wave"] == "1"), scale].mean()
        assert change.at[scale, "diff"] == pytest.approx(now - before)
    for scale in ("workload", "supervision"):
        rest = frame.loc[~mine & (frame["wave"] == "2"), scale].mean()
        mean = frame.loc[mine & (frame["wave"] == "2"), scale].mean()
        assert gaps.at[scale, "diff"] == pytest.approx(mean - rest)
    priorities = tables["priorities"].set_index("scale")
    assert priorities.at["workload", "gap"] == pytest.approx(gaps.at["workload", "diff"])
    assert priorities.at["financial_strain", "gap"] == pytest.approx(
        -gaps.at["financial_strain", "diff"])
    importance = tables["driver_importance"].set_index("scale")
    now = frame[frame["wave"] == "2"]
    assert importance.at["workload", "r_burnout"] == pytest.approx(
        now["workload"].corr(now["burnout"]))


def test_comparator_group_is_its_shown_peers(gated):
    data, org = gated["data"], gated["org"]
    tables = gated["reports"][org].tables
    group = data.org_attributes.at[org, "peer_group"]
    if group == NONE:
        assert "comparator" not in tables
        return
    row = tables["comparator"].iloc[0]
    members = [o for o, g in data.org_attributes["peer_group"].items() if g == group and o != org]
    shown = tables.get("respondents_by_wave")  # own report: no other org's counts
    assert shown is not None
    peers = int(row["comparator_orgs"])
    assert 0 < peers <= len(members)
    if peers == len(members):
        frame = data.frame
        now = frame[(frame["wave"] == data.latest) & frame["org"].isin(members)]
        assert row["burnout_mean"] == pytest.approx(now["burnout"].mean())


def test_a_withheld_organisation_shows_nothing_derivable(study):
    data = load_study_data(open_study(study["study"].root))
    counts = data.current["org"].value_counts()
    small = counts.index[-1]
    assert counts[small] < data.min_cell
    tables = gate_reports(data, [small], record=False)[small].tables
    items = tables["items"]
    mine = items[(items["focus"] == "this") & (items["wave"] == data.latest)]
    shares = [c for c in items.columns if c.startswith(("sc_", "pq", "cbi", "stss"))]
    assert mine[shares].isna().all(axis=None)
    tests = tables["item_tests_rest"]
    assert tests.drop(columns=["org", "wave", "focus", "suppressed", "n"],
                      errors="ignore").isna().all(axis=None)
    rate = tables["response_rate"]
    assert rate.loc[rate["wave"] == data.latest, "response_rate"].isna().all()
    if "priorities" in tables:
        assert tables["priorities"]["gap"].isna().all()
    if "comparator" in tables:
        values = tables["comparator"].drop(columns=["org", "wave", "focus", "suppressed", "n",
                                                    "comparator_orgs"], errors="ignore")
        assert values.isna().all(axis=None)


def test_a_chosen_wave_is_reported_and_benchmarked(study):
    from fieldsurvey.outputs import benchmark

    root = study["study"].root
    data = load_study_data(open_study(root), wave="1")
    assert data.latest == "1" and data.waves == ["1"]
    assert set(data.frame["wave"]) == {"1"}
    responses = study["synthetic"].responses
    org = responses.loc[responses["wave"] == 1, "org"].value_counts().index[0]
    out = benchmark(root, org=org, wave="1", scales=["burnout"], command="test")
    row = out.tables["organisations"].iloc[0]
    frame = load_study_data(open_study(root)).frame
    expected = frame.loc[(frame["org"] == org) & (frame["wave"] == "1"), "burnout"].mean()
    assert row["org"] == org and row["mean"] == pytest.approx(expected)
    with pytest.raises(Exception, match="no responses in wave"):
        benchmark(root, wave="9", command="test")


def test_lived_experience_pay_bands_and_coarser_view_recomputed(gated):
    data, org = gated["data"], gated["org"]
    frame = data.frame
    now = frame["wave"] == data.latest
    burden = gated["reports"][None].tables["burden"].set_index("lived_experience")
    for group in ("yes", "no"):
        staff = frame.loc[now & (frame["lived_experience"] == group)]
        value = burden.at[group, "low_pay"]
        assert pd.isna(value) or value == pytest.approx(staff["wf_payband"].isin([1, 2]).mean())
        value = burden.at[group, "financial_strain_mean"]
        assert pd.isna(value) or value == pytest.approx(staff["financial_strain"].mean())
    assert burden["low_pay"].notna().all()
    coarser = gated["reports"][org].tables["lived_experience_coarser"]
    field = coarser[coarser["lived_experience"] == "yes"]
    expected = frame.loc[now & (frame["lived_experience"] == "yes"), "burnout"]
    assert field["burnout_mean"].iat[0] == pytest.approx(expected.mean())
