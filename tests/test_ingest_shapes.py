"""Real platform exports in the shapes third parties publish: REDCap longitudinal projects and
repeating instruments, KoboToolbox groups renamed across form versions, SPSS/Stata declared
missing codes, spreadsheets with merged cells, exports named by question wording, re-sent files
with a renamed id column, and study settings naming columns no instrument defines."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest
import yaml
from click.testing import CliRunner

from conftest import real_fixture
from fieldsurvey.cli import main
from fieldsurvey.disclosure.microdata import export_microdata
from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.files import read_records
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.scoring import score_scales
from fieldsurvey.store import StudyError, init_study, load_responses
from fieldsurvey.store.database import load_declared_missing
from fieldsurvey.store.export_data import export_data

VITALS = """
id: vitals
title: Vitals (test instrument)
version: "1"
citation: test
licence: {holder: test, terms: CC0, notice: test, url: "https://example.org", wording_included: true}
response_scales:
  kg: {type: numeric, min: 0, max: 500}
  mmhg: {type: numeric, min: 0, max: 300}
items:
  - {id: weight, scale: kg, text: {en: "Weight"}}
  - {id: bp_systolic, scale: mmhg, text: {en: "Systolic"}}
  - {id: bp_diastolic, scale: mmhg, text: {en: "Diastolic"}}
"""

HOUSEHOLD = """
id: household
title: Household (test instrument)
version: "1"
citation: test
licence: {holder: test, terms: CC0, notice: test, url: "https://example.org", wording_included: true}
response_scales:
  sex: {type: categorical, labels: {1: Female, 2: Male}}
  freq: {type: likert, min: 1, max: 5, labels: {1: Never, 2: Rarely, 3: Sometimes, 4: Often, 5: Very often}}
  org: {type: categorical}
items:
  - {id: hh_org, scale: org, text: {en: "Organisation"}}
  - {id: hh_sex, scale: sex, text: {en: "Sex of the head of household"}}
  - {id: hh_tired, scale: freq, text: {en: "How often do you feel tired at work?"}}
  - {id: hh_happy, scale: freq, text: {en: "How often are you happy at work?"}}
scales:
  - {id: hh_strain, label: Strain, items: [hh_tired, hh_happy], method: mean, min_answered: 1,
     higher_is: worse}
"""


def _instrument(folder: Path, text: str, name: str) -> str:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _study(tmp_path: Path, text: str, name: str, **kwargs):
    return init_study(tmp_path / "study", [_instrument(tmp_path, text, name)], **kwargs)


def _table(study, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(study.store_path), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


# ----------------------------------------------------------------------------- REDCap events


def test_redcap_longitudinal_events_become_waves_real_export(tmp_path):
    study = _study(tmp_path, VITALS, "vitals")
    path = real_fixture("redcap/REDCapR_arm-single-longitudinal_data.csv")
    summary = ingest_file(study, path, org="A")
    assert (summary.rows_read, summary.stored, summary.quarantined) == (9, 9, 0)
    stored = _table(study, "SELECT wave, response_id, weight FROM responses ORDER BY weight")
    assert stored["wave"].tolist()[:3] == ["intake_arm_1", "dischage_arm_1", "follow_up_arm_1"]
    assert stored["response_id"].tolist() == ["1"] * 3 + ["2"] * 3 + ["3"] * 3
    assert stored["weight"].tolist() == [11, 12, 13, 21, 22, 23, 31, 32, 33]
    assert any("REDCap events stored as waves" in n for n in summary.notes)
    batch = _table(study, "SELECT wave FROM batches")["wave"].iloc[0]
    assert batch == "intake_arm_1, dischage_arm_1, follow_up_arm_1"


def test_redcap_events_mapped_to_the_studys_waves(tmp_path):
    study = _study(tmp_path, VITALS, "vitals", waves=["2001-intake", "2001-discharge", "2001-fu"])
    path = real_fixture("redcap/REDCapR_arm-single-longitudinal_data.csv")
    mapping = tmp_path / "events.yaml"
    mapping.write_text(yaml.safe_dump({"events": {
        "intake_arm_1": "2001-intake", "dischage_arm_1": "2001-discharge",
        "follow_up_arm_1": "2001-fu"}}))
    result = CliRunner().invoke(main, ["ingest", str(study.root), str(path), "--org", "A",
                                       "--map", str(mapping), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["stored"] == 9
    counts = _table(study, "SELECT wave, count(*) AS n FROM responses GROUP BY wave ORDER BY wave")
    assert counts.to_dict("list") == {"wave": ["2001-discharge", "2001-fu", "2001-intake"],
                                      "n": [3, 3, 3]}


def test_redcap_event_that_is_no_study_wave_is_refused_saying_how_to_map_it(tmp_path):
    study = _study(tmp_path, VITALS, "vitals", waves=["2001"])
    path = real_fixture("redcap/REDCapR_arm-single-longitudinal_data.csv")
    with pytest.raises(IngestError, match="events: {event_name: wave}") as caught:
        ingest_file(study, path, org="A")
    assert caught.value.column == "redcap_event_name"
    assert "intake_arm_1" in str(caught.value)
    assert _table(study, "SELECT count(*) AS n FROM responses")["n"].iloc[0] == 0


def test_wave_option_on_a_file_with_several_events_is_refused(tmp_path):
    study = _study(tmp_path, VITALS, "vitals")
    path = real_fixture("redcap/REDCapR_arm-single-longitudinal_data.csv")
    result = CliRunner().invoke(main, ["ingest", str(study.root), str(path), "--org", "A",
                                       "--wave", "1"])
    assert result.exit_code == 2
    assert "has 3 events" in result.output and "leave out --wave" in result.output


def test_redcap_repeating_instances_are_separate_responses_real_export(tmp_path):
    study = _study(tmp_path, VITALS, "vitals")
    path = real_fixture("redcap/REDCapR_repeating-instruments_data.csv")
    summary = ingest_file(study, path, org="A")
    assert (summary.rows_read, summary.stored, summary.quarantined) == (6, 4, 2)
    stored = _table(study, "SELECT response_id, bp_systolic, finished FROM responses "
                           "ORDER BY response_id")
    assert stored["response_id"].tolist() == ["1:bp:1", "1:bp:2", "1:bp:3", "2:bp:1"]
    assert stored["bp_systolic"].tolist() == [110, 111, 112, 114]
    assert stored["finished"].tolist() == [True] * 4  # bp_complete = 2; the other form is not theirs
    quarantined = _table(study, "SELECT source_row, response_id, reason FROM quarantine "
                                "ORDER BY source_row")
    assert quarantined["source_row"].tolist() == [2, 6]
    assert quarantined["response_id"].tolist() == ["1", "2"]
    assert quarantined["reason"].str.contains("no answer to any of the study's items").all()
    assert "duplicate" not in " ".join(summary.quarantine_reasons)


def test_redcap_longitudinal_with_repeating_instrument_built_file(tmp_path):
    study = _study(tmp_path, VITALS, "vitals")
    path = tmp_path / "long.csv"
    path.write_text(
        "record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,weight,"
        "visit_complete,bp_systolic,bp_diastolic,bp_complete\n"
        "1,visit_1_arm_1,,,70,2,,,\n"
        "1,visit_1_arm_1,bp,1,,,120,80,2\n"
        "1,visit_1_arm_1,bp,2,,,121,81,2\n"
        "1,visit_2_arm_1,,,71,2,,,\n"
        "1,visit_2_arm_1,bp,1,,,122,82,0\n"
        "2,visit_1_arm_1,,,60,2,,,\n"
        "2,visit_1_arm_1,,,61,2,,,\n"  # a real duplicate: same record, event, no instance
    )
    summary = ingest_file(study, path, org="A")
    assert (summary.rows_read, summary.stored, summary.quarantined) == (7, 6, 1)
    assert summary.quarantine_reasons == {"duplicate response id": 1}
    stored = _table(study, "SELECT wave, response_id, finished FROM responses ORDER BY wave, "
                           "response_id")
    assert list(zip(stored["wave"], stored["response_id"], strict=True)) == [
        ("visit_1_arm_1", "1"), ("visit_1_arm_1", "1:bp:1"), ("visit_1_arm_1", "1:bp:2"),
        ("visit_1_arm_1", "2"), ("visit_2_arm_1", "1"), ("visit_2_arm_1", "1:bp:1")]
    assert stored["finished"].tolist() == [True, True, True, True, True, False]


# ----------------------------------------------------------------------- several columns per item


KOBO_VERSIONS = (
    "_uuid,_submission_time,__version__,v0/hh_sex,v1/hh_sex,v2/hh_sex,grp/hh_tired\n"
    "u1,2024-01-01,v0,1,,,3\n"
    "u2,2024-01-02,v1,,2,,4\n"
    "u3,2024-01-03,v2,,,1,5\n"
    "u4,2024-01-04,v2,,2,1,5\n"
    "u5,2024-01-05,v2,,1,1,2\n"
)


def test_kobo_group_renamed_across_versions_is_coalesced(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    path = tmp_path / "kobo.csv"
    path.write_text(KOBO_VERSIONS)
    summary = ingest_file(study, path, org="A")
    assert summary.platform == "kobo"
    assert (summary.stored, summary.quarantined) == (4, 1)
    assert summary.unmapped_columns == []
    assert any("v0/hh_sex, v1/hh_sex, v2/hh_sex all answer hh_sex" in n for n in summary.notes)
    stored = _table(study, "SELECT response_id, hh_sex, hh_tired FROM responses ORDER BY 1")
    assert stored["hh_sex"].tolist() == [1, 2, 1, 1]  # every version's answer kept
    assert stored["hh_tired"].tolist() == [3, 4, 5, 2]
    reason = _table(study, "SELECT response_id, reason, cells FROM quarantine")
    assert reason["response_id"].tolist() == ["u4"]
    assert reason["reason"].iloc[0] == (
        "columns v1/hh_sex and v2/hh_sex answer the same item differently (value '2' vs '1')")
    # the quarantine keeps the two disagreeing cells only, never the rest of the row
    assert json.loads(reason["cells"].iloc[0]) == {"v1/hh_sex": "2", "v2/hh_sex": "1"}


def test_personal_data_in_one_of_several_columns_is_withheld_from_the_quarantine(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    path = tmp_path / "kobo.csv"
    path.write_text(KOBO_VERSIONS.replace("u4,2024-01-04,v2,,2,1,5",
                                          "u4,2024-01-04,v2,,jo.bloggs@example.org,1,5"))
    summary = ingest_file(study, path, org="A")
    assert (summary.rows_read, summary.stored, summary.quarantined) == (5, 4, 1)
    quarantined = _table(study, "SELECT response_id, reason, cells FROM quarantine")
    assert quarantined["reason"].tolist() == [
        "column v1/hh_sex: personal data (e-mail address); the value was not kept"]
    assert json.loads(quarantined["cells"].iloc[0]) == {"v1/hh_sex": "[withheld: e-mail address]"}
    con = duckdb.connect(str(study.store_path), read_only=True)
    try:
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            assert "bloggs" not in json.dumps(con.execute(f"SELECT * FROM {table}").fetchall(),
                                              default=str)
    finally:
        con.close()


def test_ingest_summary_names_columns_dropped_as_personal_data(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    path = tmp_path / "plain.csv"
    path.write_text("response_id,hh_sex,hh_tired,Email,jo.bloggs@example.org\n"
                    "r1,1,3,a@example.org,1\nr2,2,4,b@example.org,1\n")
    result = CliRunner().invoke(main, ["ingest", str(study.root), str(path), "--org", "A"])
    assert result.exit_code == 0, result.output
    assert "dropped as personal data (never stored):" in result.output
    assert "    Email: " in result.output
    # a column whose name is itself personal data is listed, its name withheld (not eaten as
    # console markup)
    assert "[column name withheld: e-mail address]" in result.output
    assert "bloggs" not in result.output


def test_mapping_file_may_send_several_columns_to_one_item(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    path = tmp_path / "plain.csv"
    path.write_text("response_id,tired_2023,tired_2024\nr1,3,\nr2,,4\nr3,2,2\n")
    mapping = tmp_path / "map.yaml"
    mapping.write_text(yaml.safe_dump({"columns": {"tired_2023": "hh_tired",
                                                   "tired_2024": "hh_tired"}}))
    summary = ingest_file(study, path, org="A", mapping=mapping)
    assert (summary.stored, summary.quarantined) == (3, 0)
    assert _table(study, "SELECT hh_tired FROM responses ORDER BY response_id")[
        "hh_tired"].tolist() == [3, 4, 2]


def test_mapping_file_unknown_section_is_refused(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    path = tmp_path / "plain.csv"
    path.write_text("response_id,hh_tired\nr1,3\n")
    mapping = tmp_path / "map.yaml"
    mapping.write_text(yaml.safe_dump({"colums": {"a": "hh_tired"}}))
    with pytest.raises(IngestError, match="colums: unknown section"):
        ingest_file(study, path, org="A", mapping=mapping)


# ---------------------------------------------------------------------- declared missing codes


def _sav_with_user_missing(path: Path) -> Path:
    frame = pd.DataFrame({"response_id": ["a", "b", "c", "d"],
                          "hh_tired": [3.0, -1.0, -3.0, np.nan],
                          "hh_happy": [2.0, 4.0, 99.0, 1.0]})
    pyreadstat.write_sav(
        frame, str(path),
        variable_value_labels={"hh_tired": {-1: "Refused", -3: "Not asked", 3: "Sometimes"},
                               "hh_happy": {99: "Don't know"}},
        missing_ranges={"hh_tired": [-1, -3], "hh_happy": [{"lo": 90, "hi": 99}]},
    )
    return path


def test_spss_user_missing_codes_are_stored_as_declared_and_missing_when_scoring(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    summary = ingest_file(study, _sav_with_user_missing(tmp_path / "t.sav"), org="A")
    assert (summary.stored, summary.quarantined) == (4, 0)
    data = load_responses(study).set_index("response_id")
    assert data["hh_tired"].isna().tolist() == [False, True, True, True]
    declared = load_declared_missing(study).sort_values(["response_id", "item"])
    assert declared[["response_id", "item", "code", "label"]].values.tolist() == [
        ["b", "hh_tired", "-1", "Refused"],
        ["c", "hh_happy", "99", "Don't know"],
        ["c", "hh_tired", "-3", "Not asked"],
    ]  # a refusal (b) is told from a skip (d: no declared code)
    scores = score_scales(data, _instrument(tmp_path, HOUSEHOLD, "household"))
    strain = scores["hh_strain"].tolist()
    assert strain[0] == 2.5 and strain[1] == 4.0 and strain[3] == 1.0  # b, d: one answer each
    assert np.isnan(strain[2])  # c: both answers declared missing, so no score


def test_stata_extended_missing_values_are_stored_as_declared(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    frame = pd.DataFrame({"response_id": ["a", "b", "c"],
                          "hh_tired": pd.Series([3.0, "a", "b"], dtype=object)})
    path = tmp_path / "t.dta"
    pyreadstat.write_dta(frame, str(path), missing_user_values={"hh_tired": ["a", "b"]},
                         variable_value_labels={"hh_tired": {3: "Sometimes", "a": "Refused",
                                                             "b": "Not asked"}})
    ingest_file(study, path, org="B")
    declared = load_declared_missing(study).sort_values("response_id")
    assert declared[["response_id", "code", "label"]].values.tolist() == [
        ["b", ".a", "Refused"], ["c", ".b", "Not asked"]]


def test_identifiable_spss_export_carries_the_declared_missing_codes(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    ingest_file(study, _sav_with_user_missing(tmp_path / "t.sav"), org="A")
    out = export_data(study, "sav", tmp_path / "out.sav")
    kept, meta = pyreadstat.read_sav(str(out), user_missing=True)
    kept = kept.set_index("response_id")
    assert kept["hh_tired"].tolist()[:3] == [3, -1, -3] and np.isnan(kept.loc["d", "hh_tired"])
    assert kept.loc["c", "hh_happy"] == 99
    assert meta.variable_value_labels["hh_tired"][-1] == "Refused"
    assert meta.variable_value_labels["hh_happy"][99] == "Don't know"
    assert {r["lo"] for r in meta.missing_ranges["hh_tired"]} == {-1, -3}
    as_missing, _ = pyreadstat.read_sav(str(out))  # SPSS, R and pandas read them as missing
    assert as_missing["hh_tired"].isna().tolist() == [False, True, True, True]
    # the CLI's --identifiable file is the same; CSV has no declared missing values: empty cells
    result = export_microdata(study, "sav", tmp_path / "cli.sav", identifiable=True)
    assert pyreadstat.read_sav(str(result.path), user_missing=True)[0]["hh_tired"].tolist()[:3] \
        == [3, -1, -3]
    csv = pd.read_csv(export_data(study, "csv", tmp_path / "out.csv")).set_index("response_id")
    assert csv["hh_tired"].isna().tolist() == [False, True, True, True]


def test_identifiable_stata_export_carries_extended_missing_values(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    frame = pd.DataFrame({"response_id": ["a", "b", "c"],
                          "hh_tired": pd.Series([3.0, "a", None], dtype=object)})
    path = tmp_path / "t.dta"
    pyreadstat.write_dta(frame, str(path), missing_user_values={"hh_tired": ["a"]},
                         variable_value_labels={"hh_tired": {3: "Sometimes", "a": "Refused"}})
    ingest_file(study, path, org="B")
    out = export_data(study, "dta", tmp_path / "out.dta")
    kept, meta = pyreadstat.read_dta(str(out), user_missing=True)
    assert kept["hh_tired"].tolist()[:2] == [3, "a"] and pd.isna(kept["hh_tired"].iloc[2])
    assert meta.missing_user_values["hh_tired"] == ["a"]
    assert meta.value_labels[meta.variable_to_label["hh_tired"]]["a"] == "Refused"
    # the protected file never gets them back (a refusal would be a category of its own)
    protected = export_microdata(study, "dta", tmp_path / "p.dta")
    assert not pyreadstat.read_dta(str(protected.path), user_missing=True)[1].missing_user_values


# -------------------------------------------------------------------------------- merged cells


def _merged_workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["hh_org", "response_id", "hh_tired", "hh_happy"])
    orgs = ["North"] * 4 + ["South"] * 3
    for i, org in enumerate(orgs):
        sheet.append([org if i in (0, 4) else None, f"r{i}", i % 5 + 1, 5 - i % 5])
    sheet.merge_cells("A2:A5")
    sheet.merge_cells("A6:A8")
    sheet.merge_cells("C1:D1")  # one row: a heading spread over columns stays as it is
    book.save(path)
    return path


def test_vertically_merged_cells_take_the_ranges_value(tmp_path):
    records = read_records(_merged_workbook(tmp_path / "m.xlsx"))
    assert records.records[0].tolist() == ["hh_org", "North", "North", "North", "North",
                                           "South", "South", "South"]
    assert records.notes == ["5 empty cell(s) inside vertically merged ranges read as the "
                             "merged range's value"]
    study = _study(tmp_path, HOUSEHOLD, "household", org_column="hh_org")
    summary = ingest_file(study, tmp_path / "m.xlsx")
    assert (summary.stored, summary.quarantined) == (7, 0)
    counts = _table(study, "SELECT org, count(*) AS n FROM responses GROUP BY org ORDER BY org")
    assert counts.to_dict("list") == {"org": ["North", "South"], "n": [4, 3]}


# ----------------------------------------------------------------------- mapping by wording


SURVEYMONKEY_CSV = (
    "Respondent ID,Collector ID,Start Date,End Date,IP Address,Email Address,First Name,"
    "Last Name,Custom Data 1,How often do you feel the following?,,Sex of the head of household\n"
    ",,,,,,,,,How often do you feel tired at work?,How often are you happy at work?,Response\n"
    "111,9,01/02/2024 10:00:00,01/02/2024 10:05:00,192.0.2.1,,,,,Often,Never,Female\n"
    "112,9,01/02/2024 11:00:00,01/02/2024 11:05:00,192.0.2.2,,,,,Sometimes,Very often,Male\n"
)


def test_surveymonkey_csv_is_mapped_by_question_wording(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    path = tmp_path / "sm.csv"
    path.write_text(SURVEYMONKEY_CSV)
    summary = ingest_file(study, path, org="A")
    assert summary.platform == "surveymonkey" and summary.stored == 2
    note = next(n for n in summary.notes if "question wording" in n)
    assert "Q1_1 -> hh_tired" in note and "Q1_2 -> hh_happy" in note and "Q2 -> hh_sex" in note
    stored = _table(study, "SELECT hh_sex, hh_tired, hh_happy FROM responses ORDER BY 1")
    assert stored.values.tolist() == [[1, 4, 1], [2, 3, 5]]


def test_surveymonkey_csv_with_other_wording_says_what_is_needed(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    path = tmp_path / "sm.csv"
    path.write_text(SURVEYMONKEY_CSV.replace("How often are you happy at work?", "Happy?")
                    .replace("How often do you feel tired at work?", "Tired?")
                    .replace("Sex of the head of household", "Sex"))
    with pytest.raises(IngestError) as caught:
        ingest_file(study, path, org="A")
    message = str(caught.value)
    assert "SurveyMonkey names questions by position" in message
    assert "--map" in message and "fieldsurvey instrument wording" in message
    assert "Q1_1 'How often do you feel the following? [Tired?]'" in message


def test_redcap_labels_export_without_dictionary(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    matched = tmp_path / "labels.csv"
    matched.write_text("Record ID,How often do you feel tired at work?,"
                       "How often are you happy at work?,Household Complete?\n"
                       "1,Often,Never,Complete\n2,Rarely,Sometimes,Incomplete\n")
    summary = ingest_file(study, matched, org="B")
    assert summary.platform == "redcap" and summary.stored == 2
    tired = _table(study, "SELECT hh_tired FROM responses ORDER BY response_id")["hh_tired"]
    assert tired.tolist() == [4, 2]
    other = tmp_path / "labels2.csv"
    other.write_text("Record ID,Tired,Happy,Household Complete?\n1,Often,Never,Complete\n")
    with pytest.raises(IngestError, match="REDCap 'labels' export.*--dictionary"):
        ingest_file(study, other, org="B")


# ------------------------------------------------------------------------- renamed id column


def test_same_responses_with_the_id_column_renamed_are_not_stored_twice(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    rows = [f"r{i},{i % 5 + 1},{(i * 3) % 5 + 1}" for i in range(1, 60)]
    first = tmp_path / "first.csv"
    first.write_text("response_id,hh_tired,hh_happy\n" + "\n".join(rows) + "\n")
    renamed = tmp_path / "renamed.csv"
    renamed.write_text("participant,hh_tired,hh_happy\n" + "\n".join(rows) + "\nr60,2,2\n")
    assert ingest_file(study, first, org="A").stored == 59
    summary = ingest_file(study, renamed, org="A")
    assert (summary.rows_read, summary.stored, summary.quarantined) == (60, 1, 59)
    assert summary.quarantine_reasons == {
        "identical response already stored in batch 1 (same row, same answers: was the id "
        "column renamed?)": 59}
    assert _table(study, "SELECT count(*) AS n FROM responses")["n"].iloc[0] == 60
    reason = _table(study, "SELECT reason FROM quarantine WHERE response_id = 'row-2'")
    assert "as response id 'r1'" in reason["reason"].iloc[0]


def test_files_with_ids_of_their_own_are_never_taken_for_a_resend(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    body = "\n".join(f"{{p}}{i},{i % 5 + 1},{(i * 3) % 5 + 1}" for i in range(1, 30))
    for prefix in ("a", "b"):  # same answers at the same rows, but other people's ids
        path = tmp_path / f"{prefix}.csv"
        path.write_text("response_id,hh_tired,hh_happy\n" + body.format(p=prefix) + "\n")
        assert ingest_file(study, path, org="A").stored == 29


def test_a_few_alike_answers_in_another_file_are_not_taken_for_a_resend(tmp_path):
    study = _study(tmp_path, HOUSEHOLD, "household")
    first = tmp_path / "first.csv"
    first.write_text("response_id,hh_tired,hh_happy\n" + "\n".join(
        f"a{i},{i % 5 + 1},{(i * 3) % 5 + 1}" for i in range(1, 11)) + "\n")
    other = tmp_path / "other.csv"
    other.write_text("response_id,hh_tired,hh_happy\n" + "\n".join(
        f"b{i},{i % 5 + 1 if i < 3 else 3},3" for i in range(1, 11)) + "\n")
    ingest_file(study, first, org="A")
    assert ingest_file(study, other, org="A").stored == 10


# --------------------------------------------------------------------------- study settings


def test_init_refuses_group_columns_no_instrument_defines(tmp_path):
    result = CliRunner().invoke(main, [
        "init", str(tmp_path / "s"), "-i", "workforce-context", "-i", "proqol5",
        "--org-column", "wf_org", "--group-column", "lived_experience"])
    assert result.exit_code == 2
    assert "'lived_experience' are not items" in result.output
    assert "wf_lived_exp" in result.output  # the item that would do
    assert not (tmp_path / "s" / "study.yaml").exists()
    with pytest.raises(StudyError, match="not items"):
        init_study(tmp_path / "s2", ["workforce-context"], group_columns=["team"])


def test_init_warns_when_the_org_column_is_no_item_and_ingest_uses_it(tmp_path):
    result = CliRunner().invoke(main, [
        "init", str(tmp_path / "s"), "-i", _instrument(tmp_path, HOUSEHOLD, "household"),
        "--org-column", "organisation"])
    assert result.exit_code == 0
    assert "warning: org column 'organisation' is not an item" in result.output
    path = tmp_path / "d.csv"
    path.write_text("response_id,organisation,hh_tired\nr1,North,3\nr2,South,4\n")
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "s"), str(path),
                                       "--format", "json"])
    doc = json.loads(result.output)
    assert doc["stored"] == 2 and "organisation" not in doc["unmapped_columns"]
