"""Respondent-level files safe to hand over: k-anonymity, l-diversity and the risk report.

Every guarantee is checked on the released file itself, recomputed here with plain pandas
group-bys (sdcMicro is not packaged for Debian, so there are no R golden values: the measures
are counts that the tests recompute independently).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldsurvey.cli import main
from fieldsurvey.disclosure.microdata import (
    KeyVariable,
    anonymise_microdata,
    export_microdata,
    grouped_recodes,
    individual_risk,
    key_frequencies,
    l_diversity,
    organisation_recodes,
    top_bottom_code,
)
from fieldsurvey.disclosure.policy import DisclosureError
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.store import init_study, load_responses, open_study
from fieldsurvey.synthetic import generate_coalition

INSTRUMENTS = ["workforce-context", "proqol5"]
KEYS = ["org", "wf_lived_exp", "wf_role", "wf_tenure", "wf_payband"]


def _classes_ok(frame: pd.DataFrame, keys: list[str], k: int, strata: list[str]) -> bool:
    return int(frame.groupby([*strata, *keys], dropna=False).size().min()) >= k


def _homogeneous_classes(frame: pd.DataFrame, keys: list[str], sensitive: str,
                         strata: list[str]) -> int:
    others = [*strata, *[c for c in keys if c != sensitive]]
    distinct = frame.groupby(others, dropna=False)[sensitive].nunique()  # NA not counted
    return int((distinct == 1).sum())


# -- measures ------------------------------------------------------------------------------


def test_key_frequencies_count_a_blank_as_a_value_of_its_own():
    df = pd.DataFrame({"org": ["A", "A", "A", "B"], "role": [1, 1, None, None]})
    assert key_frequencies(df, ["org", "role"]).tolist() == [2, 2, 1, 1]
    assert key_frequencies(df.assign(wave=[1, 2, 1, 1]), ["org"], ["wave"]).tolist() == [2, 1, 2, 1]


def test_l_diversity_counts_distinct_non_missing_values_without_the_sensitive_key():
    df = pd.DataFrame({"org": ["A"] * 4 + ["B"] * 3 + ["C"] * 2,
                       "lived": [1, 2, 2, None, 2, 2, None, None, None]})
    table = l_diversity(df, ["org", "lived"], "lived").set_index("org")
    assert table.loc["A", "l"] == 2 and table.loc["B", "l"] == 1 and table.loc["C", "l"] == 0
    assert table["n"].to_dict() == {"A": 4, "B": 3, "C": 2}


def test_individual_risk_follows_the_benedetti_franconi_approximation():
    df = pd.DataFrame({"org": ["A", "B", "B", "C", "C", "C"]})
    weights = pd.Series([4.0, 3.0, 3.0, 2.0, 2.0, 2.0])
    risk = individual_risk(df, ["org"], weights).to_numpy()
    p1, p2, p3 = 1 / 4, 2 / 6, 3 / 6
    assert risk[0] == pytest.approx(p1 / (1 - p1) * math.log(1 / p1))
    odds = p2 / (1 - p2)
    assert risk[1] == pytest.approx(odds - odds**2 * math.log(1 / p2))
    assert risk[3] == pytest.approx(p3 / (3 - (1 - p3)))
    assert individual_risk(df, ["org"]).tolist() == [1.0, 0.5, 0.5] + [1 / 3] * 3


def test_top_bottom_coding_leaves_k_at_each_extreme():
    values = pd.Series([1.0, 5, 6, 7, 8, 9, 10, 11, 12, 80, None])
    coded, top, bottom = top_bottom_code(values, 3)
    assert (top, bottom) == (11.0, 6.0)
    assert (coded == top).sum() == 3 and (coded == bottom).sum() == 3 and coded.isna().sum() == 1


def test_organisations_merge_into_other_size_bands_never_alone():
    orgs = pd.Series(["A"] * 3 + ["B"] * 12 + ["C"] * 14 + ["D"] * 200)
    first = organisation_recodes(orgs, 10)[0]
    # A alone is below 10: the next smallest joins it, so "other" never names one organisation.
    assert first.mapping == {"A": "other, fewer than 20 respondents",
                             "B": "other, fewer than 20 respondents"}


# -- the protection ------------------------------------------------------------------------


def _small_org_people(seed: int = 3) -> pd.DataFrame:
    """Staff of a coalition where small organisations and lived-experience staff are unique."""
    data = generate_coalition(n_orgs=14, seed=seed, waves=1,
                              instruments=("workforce-context",)).responses
    rng = np.random.default_rng(seed)
    tiny = data.iloc[:3].copy()
    tiny["org"] = "TINY"
    tiny["wf_lived_exp"] = [1, 2, 2]  # the only lived-experience person of a 3-person team
    data = pd.concat([data, tiny], ignore_index=True)
    data.loc[rng.choice(len(data), 5, replace=False), "wf_role"] = 6  # rare roles
    return data


def _keys(people: pd.DataFrame, k: int) -> list[KeyVariable]:
    return [
        KeyVariable("org", organisation_recodes(people["org"], k)),
        KeyVariable("wf_lived_exp"),
        KeyVariable("wf_role", grouped_recodes([{"front": [1, 2, 3], "lead": [4, 5, 6]}])),
        KeyVariable("wf_tenure", grouped_recodes([{"<3": [1, 2], "3+": [3, 4, 5]}])),
        KeyVariable("wf_payband", grouped_recodes([{"low": [1, 2, 3], "high": [4, 5, 6]}])),
    ]


def test_protection_reaches_k_and_l_and_counts_every_change():
    people = _small_org_people()
    assert (key_frequencies(people, KEYS) == 1).sum() > len(people) / 3  # many unique before
    out = anonymise_microdata(people, _keys(people, 10), ["wf_lived_exp"], k=10)
    data = out.data
    assert len(data) == len(people) and out.summary["rows_withheld"] == 0
    assert _classes_ok(data, KEYS, 10, [])
    assert _homogeneous_classes(data, KEYS, "wf_lived_exp", []) == 0
    assert "TINY" not in set(data["org"].dropna())
    # The counts in the variables table, recomputed cell by cell (rows keep their order).
    labels = {"wf_role": {1: "front", 2: "lead"}, "wf_tenure": {1: "<3", 2: "3+"},
              "wf_payband": {1: "low", 2: "high"}}
    table = out.variables.set_index("variable")
    changed_cells = 0
    for key in KEYS:
        before, after = people[key], data[key]
        suppressed = int((before.notna() & after.isna()).sum())
        assert table.loc[key, "suppressed"] == suppressed
        both = before.notna() & after.notna()
        if key == "org":
            recoded = int((both & (before.astype(str) != after.astype(str))).sum())
        elif table.loc[key, "recoding"]:
            recoded = int(both.sum())  # every one of these is now a wider group
            assert set(after.dropna().map(labels[key])) <= set(labels[key].values())
        else:
            recoded = 0
            assert (before[both] == after[both]).all()
        assert table.loc[key, "recoded"] == recoded
        changed_cells += recoded + suppressed
    summary = out.summary
    assert summary["key_cells_changed"] == changed_cells
    assert summary["key_cells_changed_share"] == round(changed_cells / (len(data) * 5), 4)
    fk_before = people.groupby(KEYS, dropna=False)["org"].transform("size")
    assert summary["before"]["unique"] == int((fk_before == 1).sum())
    assert summary["before"]["k"] == 1 and summary["after"]["k"] == int(
        data.groupby(KEYS, dropna=False).size().min())
    fk_after = data.groupby(KEYS, dropna=False)["org"].transform("size")
    assert summary["after"]["expected_reidentifications"] == round(float((1 / fk_after).sum()), 2)
    assert summary["after"]["l"]["wf_lived_exp"] >= 2


def test_local_suppression_blanks_only_the_rare_value_and_enough_company():
    # Two organisations of 30 and one person who is unique only by her rare role. A lone blank
    # would single her out (everyone else in A has role x), so four colleagues' roles are
    # blanked with hers; organisations and everyone else are untouched.
    people = pd.DataFrame({"org": ["A"] * 30 + ["B"] * 30,
                           "role": ["x"] * 29 + ["rare"] + ["x"] * 30})
    out = anonymise_microdata(people, ["org", "role"], k=5)
    assert out.variables.set_index("variable")["suppressed"].to_dict() == {"org": 0, "role": 5}
    blank = out.data[out.data["role"].isna()]
    assert len(blank) == 5 and set(blank["org"]) == {"A"} and out.summary["key_cells_changed"] == 5
    assert out.variables["recoded"].sum() == 0


def test_a_stratum_smaller_than_k_is_withheld_and_counted():
    people = pd.DataFrame({"org": ["A"] * 20 + ["B"] * 3, "wave": ["1"] * 20 + ["2"] * 3})
    out = anonymise_microdata(people, ["org"], k=5, strata=["wave"])
    assert out.summary["rows_withheld"] == 3 and len(out.data) == 20


def test_an_empty_file_is_protected_trivially():
    out = anonymise_microdata(pd.DataFrame({"org": pd.Series([], dtype=str)}), ["org"], k=5)
    assert out.data.empty and out.summary["after"]["k"] is None
    assert out.summary["information_loss"] == 0.0


def test_bad_settings_are_refused_with_a_message():
    people = pd.DataFrame({"org": ["A"] * 5})
    with pytest.raises(DisclosureError, match="k must be a whole number"):
        anonymise_microdata(people, ["org"], k=0)
    with pytest.raises(DisclosureError, match="columns not in the data: role"):
        anonymise_microdata(people, ["org", "role"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), k=st.integers(2, 8), n=st.integers(1, 300),
       n_keys=st.integers(1, 5), stratified=st.booleans(), secret_is_key=st.booleans())
def test_any_file_comes_out_k_anonymous_and_l_diverse(seed, k, n, n_keys, stratified,
                                                      secret_is_key):
    rng = np.random.default_rng(seed)
    people = pd.DataFrame({f"key{j}": rng.integers(0, rng.integers(1, 12), n) for j in range(n_keys)})
    people["key0"] = people["key0"].astype(float).where(rng.random(n) > 0.1)  # some blanks
    people["secret"] = pd.Series(rng.integers(0, 3, n)).where(rng.random(n) > 0.2)
    people["wave"] = rng.integers(1, 3, n) if stratified else 1
    keys = [KeyVariable(f"key{j}", grouped_recodes([{"low": list(range(6)),
                                                     "high": list(range(6, 12))}]))
            for j in range(n_keys)] + (["secret"] if secret_is_key else [])
    strata = ["wave"] if stratified else []
    out = anonymise_microdata(people, keys, ["secret"], k=k, strata=strata)
    names = [*[f"key{j}" for j in range(n_keys)], *(["secret"] if secret_is_key else [])]
    if len(out.data):
        assert _classes_ok(out.data, names, k, strata)
        assert _homogeneous_classes(out.data, names, "secret", strata) == 0
    small = people.groupby("wave").size()
    assert out.summary["rows_withheld"] == int(small[small < k].sum())


# -- a study's export ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_org_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("microdata")
    study = init_study(root / "study", INSTRUMENTS, org_column="wf_org", waves=["1", "2"])
    data = generate_coalition(n_orgs=12, seed=5, waves=2,
                              instruments=("workforce-context", "proqol5")).responses
    tiny = data[data["wave"] == 1].iloc[:2].copy()
    tiny["org"], tiny["wf_org"], tiny["wf_lived_exp"] = "Tiny", "Tiny", [1, 2]
    tiny["response_id"] = ["tiny-1", "tiny-2"]
    data = pd.concat([data, tiny], ignore_index=True)
    for wave in (1, 2):
        path = root / f"wave{wave}.csv"
        data[data["wave"] == wave].drop(columns=["org", "wave"]).to_csv(path, index=False)
        ingest_file(study, path, wave=str(wave))
    return study


def test_default_export_is_k_anonymous_within_waves_and_reports_true_numbers(small_org_study):
    study = small_org_study
    result = export_microdata(study, "csv", seed=7)
    released = pd.read_csv(result.path, dtype={"wave": str})
    stored = load_responses(study)
    k = study.config.min_cell
    assert len(released) == len(stored) and not result.identifiable
    assert _classes_ok(released, KEYS, k, ["wave"])
    assert _homogeneous_classes(released, KEYS, "wf_lived_exp", ["wave"]) == 0
    assert "Tiny" not in set(released["org"])
    for gone in ("response_id", "source_row", "wf_org", "wf_peer_role", "duration_seconds"):
        assert gone not in released.columns
    assert released["respondent"].tolist() == list(range(1, len(released) + 1))
    report = json.loads(result.metadata_path.read_text())
    assert report["identifiable"] is False and report["keys"] == KEYS
    assert report["after"]["k"] == int(released.groupby(["wave", *KEYS], dropna=False).size().min())
    before = stored.groupby(["wave", *KEYS], dropna=False)["org"].transform("size")
    assert report["before"]["unique"] == int((before == 1).sum())
    assert report["rows_withheld"] == 0
    variables = {v["variable"]: v for v in report["variables"]}
    for key in KEYS:
        assert variables[key]["suppressed"] == int(stored[key].notna().sum()
                                                   - released[key].notna().sum())
    assert variables["org"]["recoded"] == int(
        (released["org"].notna() & ~released["org"].isin(stored["org"])).sum())
    cells = int(released.drop(columns="respondent").size)
    assert report["cells"] == cells
    assert report["cells_changed_share"] == round(report["cells_changed"] / cells, 4)
    hours = report["top_bottom_coded"]["wf_hours"]
    assert (released["wf_hours"] == hours["top"]).sum() >= k
    assert released["wf_hours"].max() == hours["top"] and released["wf_hours"].min() == hours["bottom"]
    text = result.report_path.read_text()
    assert f"k reached (smallest group) | 1 | {report['after']['k']} |" in text


def test_the_study_can_declare_its_own_keys_and_groups(small_org_study, tmp_path):
    study = small_org_study
    path = study.root / "study.yaml"
    original = path.read_text()
    raw = yaml.safe_load(original)
    raw["microdata"] = {"key_variables": ["org", "wf_role"], "sensitive": [],
                        "recode": {"wf_role": [{"Any role": [1, 2, 3, 4, 5, 6]}]}}
    path.write_text(yaml.safe_dump(raw))
    try:
        result = export_microdata(open_study(study.root), "sav", tmp_path / "r.sav")
    finally:
        path.write_text(original)
    frame, meta = pyreadstat.read_sav(str(result.path))
    assert result.report["keys"] == ["org", "wf_role"] and "wf_lived_exp" not in frame.columns
    assert "Protected" in meta.file_label
    if result.report["variables"][1]["recoding"]:
        assert meta.variable_value_labels["wf_role"] == {1.0: "Any role"}


def test_microdata_settings_are_validated_with_the_field_named(tmp_path):
    from fieldsurvey.store import StudyError

    study = init_study(tmp_path / "s", INSTRUMENTS, org_column="wf_org")
    path = study.root / "study.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["microdata"] = {"key_variables": ["org", "wf_tenur"], "l_diversity": 0,
                        "recode": {"wf_role": {"a": [1]}}}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(StudyError) as err:
        open_study(study.root)
    message = str(err.value)
    assert "microdata.key_variables[1]: 'wf_tenur' is not org or an item" in message
    assert "microdata.l_diversity: must be a whole number of at least 1" in message
    assert "microdata.recode.wf_role: must map a key variable to a list of rungs" in message


def test_identifiable_export_needs_the_flag_and_says_so(small_org_study, tmp_path):
    runner = CliRunner()
    study_dir = str(small_org_study.root)
    out = tmp_path / "safe.csv"
    result = runner.invoke(main, ["export-data", study_dir, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "protected" in result.output and "IDENTIFIABLE" not in result.output
    assert "k reached: 10" in result.output.replace("\n", " ")
    assert json.loads((tmp_path / "safe.metadata.json").read_text())["identifiable"] is False
    out = tmp_path / "raw.sav"
    result = runner.invoke(main, ["export-data", study_dir, "--identifiable", "--format", "sav",
                                  "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.count("IDENTIFIABLE") >= 2
    metadata = json.loads((tmp_path / "raw.metadata.json").read_text())
    assert metadata["identifiable"] is True and "IDENTIFIABLE" in metadata["warning"]
    frame, meta = pyreadstat.read_sav(str(out))
    assert meta.file_label.startswith("IDENTIFIABLE") and "response_id" in frame.columns
    assert len(frame) == len(load_responses(small_org_study))


# -- safe cells ------------------------------------------------------------------------------

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+SUM(1,2)", "-2+3", "@cmd",
            "\tTAB", "=1+1", "＝1+1", "'=already quoted"]


@pytest.fixture(scope="module")
def formula_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("formulas")
    study = init_study(root / "study", INSTRUMENTS, org_column="wf_org", waves=["1"])
    data = generate_coalition(n_orgs=6, seed=9, waves=1,
                              instruments=("workforce-context", "proqol5")).responses
    data = data.drop(columns=["org", "wave"]).head(len(FORMULAS) * 12).reset_index(drop=True)
    data["wf_org"] = [FORMULAS[i % len(FORMULAS)] for i in range(len(data))]
    data["response_id"] = [f"=cmd|' /C calc'!A{i}" for i in range(len(data))]
    path = root / "formulas.csv"
    data.to_csv(path, index=False)
    summary = ingest_file(study, path, wave="1", platform="table")
    assert summary.stored == len(data)
    return study, data


@pytest.mark.parametrize("identifiable", [True, False])
def test_formula_leading_cells_round_trip_as_text(formula_study, tmp_path, identifiable):
    from openpyxl import load_workbook

    study, data = formula_study
    csv_path = export_microdata(study, "csv", tmp_path / "d.csv", identifiable=identifiable).path
    xlsx_path = export_microdata(study, "xlsx", tmp_path / "d.xlsx", identifiable=identifiable).path
    book = load_workbook(xlsx_path)
    cells = [cell for row in book["data"].iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = [c.value for c in cells if isinstance(c.value, str)]
    risky = ("=", "+", "-", "@", "\t", "\uff1d")
    assert not [t for t in texts if t.startswith(risky)]
    released = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    assert not [v for v in released.to_numpy().ravel() if v.startswith(risky)]
    if identifiable:  # every value comes back once the one added apostrophe is taken off
        unescape = lambda v: v[1:] if v.startswith("'") else v  # noqa: E731
        stored = {f.strip() for f in FORMULAS}  # ingest trims organisation codes
        assert set(released["wf_org"].map(unescape)) == stored
        assert set(released["response_id"].map(unescape)) == set(data["response_id"])
        header = [c.value for c in next(book["data"].iter_rows())]
        rows = [[c.value for c in row] for row in book["data"].iter_rows(min_row=2)]
        orgs = {unescape(r[header.index("wf_org")]) for r in rows}
        assert orgs == stored


def test_every_trigger_is_neutralised_and_comes_back(tmp_path):
    from openpyxl import load_workbook

    from fieldsurvey.store.export_data import FORMULA_TRIGGERS, write_data

    values = [t + "x" for t in FORMULA_TRIGGERS] + ["plain", "a=b", ""]
    frame = pd.DataFrame({"text": values, "number": range(len(values))})
    frame.loc[0, "number"] = -5  # a negative number is a number, not a formula
    write_data(frame, "csv", tmp_path / "t.csv")
    write_data(frame, "xlsx", tmp_path / "t.xlsx")
    back = pd.read_csv(tmp_path / "t.csv", dtype={"text": str}, keep_default_na=False)
    unescape = lambda v: v[1:] if v.startswith("'") else v  # noqa: E731
    assert back["text"].map(unescape).tolist() == values
    assert back["number"].tolist() == frame["number"].tolist()
    sheet = load_workbook(tmp_path / "t.xlsx")["data"]
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    in_xml = [v.replace("\0", "\ufffd") for v in values]  # XML cannot hold NUL
    assert [unescape(c.value or "") for c in cells] == in_xml
    assert sheet["B2"].value == -5
