"""Platform readers against real third-party exports (tests/data/real, and optional ones in
../shared) and synthetic files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import real_fixture
from fieldsurvey.ingest import (
    IngestError,
    detect_platform,
    read_export,
    read_kobo,
    read_limesurvey,
    read_limesurvey_structure,
    read_qualtrics,
    read_redcap,
    read_redcap_dictionary,
    read_surveymonkey,
)
from fieldsurvey.ingest.files import read_records


def dropped(export) -> dict[str, str]:
    return {d["column"]: d["reason"] for d in export.dropped_personal}


def assert_invariant(export) -> None:
    assert export.rows_read == len(export.data) + len(export.quarantine)
    assert len(export.meta) == len(export.data) == len(export.row_numbers)
    assert export.data.columns[0] == export.response_id_column


# --------------------------------------------------------------------------------- Qualtrics


def test_qualtrics_importid_export_real_sample():
    export = read_export(real_fixture("qualtrics/qualtRics_sample.csv"))
    assert export.platform == "qualtrics"
    assert_invariant(export)
    assert export.rows_read == 1
    assert list(export.data.columns) == ["ResponseId", "Q1"]
    assert export.data.loc[0, "Q1"] == "2"
    assert export.data.loc[0, "ResponseId"] == "R_2YPOQ602ER1jkf1"
    # QID2_TEXT and its Topics column are text entry: kept out of data.
    assert export.free_text.loc[0, "Q2"] == "Hello World!"
    assert "Q2 - Topics" in export.free_text.columns
    gone = dropped(export)
    for column in ["IPAddress", "RecipientEmail", "LocationLatitude", "LocationLongitude"]:
        assert column in gone
    assert "130.92.34.66" not in export.data.to_string() + export.meta.to_string()
    meta = export.meta.iloc[0]
    assert bool(meta["finished"]) is True
    assert meta["progress"] == 100.0
    assert meta["duration_seconds"] == 38.0
    assert meta["submitted_at"] == "2017-07-18 08:28:48"
    assert bool(meta["preview"]) is False
    assert export.labels["Q1"] == "This is a multiple choice question."
    assert export.row_numbers.tolist() == [4]


def test_qualtrics_legacy_v1_v10_real_sample():
    export = read_qualtrics(real_fixture("qualtrics/qualtRics_sample_legacy.csv"))
    assert_invariant(export)
    assert export.response_id_column == "ResponseID"
    assert export.field_paths["ResponseID"] == "V1"
    assert list(export.data.columns) == ["ResponseID", "Q1", "Q2"]
    assert export.data.loc[0, "Q2"] == "Hello World!"
    assert {"Name", "EmailAddress", "IPAddress", "LocationLatitude"} <= set(dropped(export))
    assert export.meta.loc[0, "ResponseSet"] == "Standard-Antwortsatz"
    assert any("trailing delimiter" in note for note in export.notes)


def test_qualtrics_legacy_no_basis_keeps_negative_recodes():
    export = read_export(real_fixture("qualtrics/QualtricsTools_No_Basis_for_Evaluation_Legacy.csv"))
    assert_invariant(export)
    assert export.rows_read == 15
    first = export.data.iloc[0]
    assert first["ResponseID"] == "R_ebopwASnJ6p0KSp"
    assert first["Q3_1"] == "-1" and first["Q4_2"] == "-2"
    assert "Q6_3_4" in export.data.columns
    assert export.meta["finished"].all()


def test_qualtrics_insights_python_dict_importid_row():
    export = read_export(
        real_fixture("qualtrics/QualtricsTools_Multiple_Answer_MC_Questions_Insights.csv")
    )
    assert_invariant(export)
    assert export.rows_read == 5
    assert "mc_question_five_2_TEXT" in export.free_text.columns
    assert export.free_text.loc[0, "mc_question_five_2_TEXT"].startswith("Gravida pellentesque")
    gone = dropped(export)
    assert gone["RecipientEmail"] == "Qualtrics panel/location field"
    assert "LocationAccuracy" in gone
    assert export.data.loc[1, "Q2_1"] == "1"


def _write_qualtrics_cp1252_semicolon(path: Path) -> None:
    rows = [
        "StartDate;EndDate;Status;IPAddress;Progress;Duration (in seconds);Finished;ResponseId;"
        "RecipientEmail;Q1;Q2_TEXT",
        "Start Date;End Date;Response Type;IP Address;Progress;Duration;Finished;Response ID;"
        "Recipient Email;Je me sens épuisé(e);Commentaires",
        ";".join(
            f'"{{""ImportId"":""{i}""}}"'
            for i in [
                "startDate",
                "endDate",
                "status",
                "ipAddress",
                "progress",
                "duration",
                "finished",
                "_recordId",
                "recipientEmail",
                "QID1",
                "QID2_TEXT",
            ]
        ),
        "2024-01-01 10:00:00;2024-01-01 10:05:00;0;10.0.0.1;100;300;1;R_a;a@x.org;4;Très bien",
        "2024-01-01 11:00:00;2024-01-01 11:01:00;Survey Preview;10.0.0.2;50;60;0;R_b;;2;",
        "2024-01-01 12:00:00;2024-01-01 12:01:00;0;10.0.0.3;100;61;True;R_c;;5",
    ]
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp1252"))


def test_qualtrics_synthetic_cp1252_semicolon_preview_and_short_row(tmp_path):
    path = tmp_path / "qualtrics_cp1252.csv"
    _write_qualtrics_cp1252_semicolon(path)
    assert detect_platform(path) == "qualtrics"
    export = read_export(path)
    assert (export.encoding, export.delimiter) == ("cp1252", ";")
    assert export.labels["Q1"] == "Je me sens épuisé(e)"
    assert export.rows_read == 3
    assert export.data["ResponseId"].tolist() == ["R_a", "R_b"]
    assert export.meta["preview"].tolist() == [False, True]
    assert export.meta["status"].tolist() == ["0", "Survey Preview"]
    assert export.meta["finished"].tolist() == [True, False]
    assert export.meta["progress"].tolist() == [100.0, 50.0]
    assert export.free_text.loc[0, "Q2_TEXT"] == "Très bien"
    # the third response lacks its last field: quarantined with its row and reason
    bad = export.quarantine.iloc[0]
    assert bad["row"] == 6 and "10 fields" in bad["reason"] and "R_c" in bad["raw"]
    assert export.row_numbers.tolist() == [4, 5]
    assert "IPAddress" in dropped(export) and "RecipientEmail" in dropped(export)
    summary = json.loads(json.dumps(export.summary()))
    assert summary["rows_read"] == 3 and summary["quarantined"] == 1
    assert summary["preview_rows"] == 1
    assert summary["answer_columns"] == ["Q1"]


def test_qualtrics_text_entry_numbers_stay_answers_and_declared_answers_come_back(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text(
        "ResponseId,wf_org,wf_hours,Q9\nResponse ID,Organisation,Hours,Anything else?\n"
        '"{""ImportId"":""_recordId""}","{""ImportId"":""QID1_TEXT""}",'
        '"{""ImportId"":""QID2_TEXT""}","{""ImportId"":""QID3_TEXT""}"\n'
        "R_1,North Shelter,37.5,no\nR_2,South Hub,40,\n"
    )
    export = read_export(path)
    assert "wf_hours" in export.data.columns  # numeric text entry is an answer
    assert list(export.free_text.columns) == ["ResponseId", "wf_org", "Q9"]
    export = read_export(path, answer_columns=["wf_org"])
    assert export.data["wf_org"].tolist() == ["North Shelter", "South Hub"]
    assert list(export.free_text.columns) == ["ResponseId", "Q9"]


def test_qualtrics_choice_text_utf16_tab(tmp_path):
    path = tmp_path / "qualtrics_utf16.tsv"
    text = (
        "ResponseId\tStatus\tFinished\tQ1\n"
        "Response ID\tResponse Type\tFinished\tI feel burned out\n"
        '{"ImportId":"_recordId"}\t{"ImportId":"status"}\t{"ImportId":"finished"}\t'
        '{"ImportId":"QID1"}\n'
        "R_1\tIP Address\tTrue\tStrongly agree\n"
    )
    path.write_text(text, encoding="utf-16")
    export = read_qualtrics(path)
    assert (export.encoding, export.delimiter) == ("utf-16", "\t")
    assert export.data.loc[0, "Q1"] == "Strongly agree"
    assert bool(export.meta.loc[0, "finished"]) is True


# ------------------------------------------------------------------------------------ REDCap


def test_redcap_checkbox_project_ui_dictionary_18_columns():
    folder = "redcap"
    export = read_export(
        real_fixture(f"{folder}/REDCapR_checkboxes-1_data.csv"),
        dictionary=real_fixture(f"{folder}/REDCapR_checkboxes-1_dictionary.csv"),
    )
    assert export.platform == "redcap"
    assert_invariant(export)
    assert export.rows_read == 4
    assert export.data.loc[0, "check_two___a"] == "1"
    assert export.data.loc[2, "check_one___4"] == "1"
    assert export.labels["check_two___c"] == "check two (choice=C)"
    assert export.value_labels["check_one___2"] == {"0": "Unchecked", "1": "Checked"}
    assert export.meta["form_2_complete"].tolist() == ["2", "0", "2", "0"]
    assert "desired_result" in export.free_text.columns


def test_redcap_simple_project_identifiers_and_multiline_fields():
    folder = "redcap"
    export = read_redcap(
        real_fixture(f"{folder}/REDCapR_simple-data.csv"), real_fixture(f"{folder}/REDCapR_simple_data_dictionary.csv")
    )
    assert_invariant(export)
    assert export.rows_read == 5
    gone = dropped(export)
    for column in ["name_first", "name_last", "address", "telephone", "email", "dob"]:
        assert gone[column] == "REDCap dictionary marks it as an identifier"
    assert "nutty@mouse.com" not in export.data.to_string()
    assert export.value_labels["sex"] == {"0": "Female", "1": "Male"}
    assert export.labels["race___5"].endswith("(choice=White)")
    assert export.data.loc[4, "race___1"] == "1"
    # the embedded newlines of a multi-line comment stay in one response (record 5 of 6)
    assert export.free_text.loc[3, "comments"].startswith("This record doesn't have a DAG")
    assert export.row_numbers.tolist() == [2, 3, 4, 5, 6]


def test_redcap_api_metadata_dictionary_and_quoted_values():
    folder = "redcap"
    dictionary = read_redcap_dictionary(real_fixture(f"{folder}/redcapAPI_extdata_metadata.csv"))
    assert "select_choices_or_calculations" in dictionary.columns
    export = read_redcap(real_fixture(f"{folder}/redcapAPI_extdata_data.csv"), dictionary)
    assert_invariant(export)
    assert export.rows_read == 24
    assert export.meta.loc[0, "redcap_event_name"] == "event_1_arm_1"
    assert "prereq_checkbox___abc" in export.data.columns
    assert export.value_labels["prereq_radio"]["ABC"] == "RadioABC"
    gone = dropped(export)
    assert "email_test" in gone and "phone_test" in gone and "zipcode_test" in gone
    comma = export.data["number_1dp_comma_test"].dropna()
    assert "41,7" in comma.tolist()  # values as exported, comma decimals untouched


def test_redcap_survey_project_timestamps_and_survey_identifier():
    folder = "redcap"
    export = read_redcap(
        real_fixture(f"{folder}/REDCapR_survey-data.csv"), real_fixture(f"{folder}/REDCapR_survey-data-dictionary.csv")
    )
    assert_invariant(export)
    assert export.meta["submitted_at"].tolist() == ["2018-03-06 15:52:43", "2018-03-06 15:53:15"]
    assert "redcap_survey_identifier" in dropped(export)
    assert "email" in dropped(export)
    assert export.data["consent___1"].tolist() == ["1", "0"]
    assert export.value_labels["has_diabetes"] == {"1": "True", "0": "False"}


def test_redcap_without_dictionary_uses_generic_rules():
    export = read_redcap(real_fixture("redcap/REDCapR_simple-data.csv"))
    gone = dropped(export)
    assert gone["email"] == "generic pattern: e-mail address"
    assert gone["telephone"] == "generic pattern: phone number"
    assert gone["name_first"] == "generic pattern: name of a person"
    # no dictionary: the prose comments are found by the free-text rule and noted
    assert "comments" in export.free_text.columns
    assert any("comments" in note for note in export.notes)
    assert export.value_labels == {}


def test_redcap_labels_export_mapped_through_dictionary(tmp_path):
    dictionary = tmp_path / "dict.csv"
    dictionary.write_text(
        "field_name,form_name,section_header,field_type,field_label,select_choices_or_calculations,"
        "field_note,text_validation_type_or_show_slider_number,text_validation_min,"
        "text_validation_max,identifier\n"
        "record_id,wellbeing,,text,Record ID,,,,,,\n"
        'pq01,wellbeing,,radio,I am happy,"1, Never | 5, Very often",,,,,\n'
        'supports,wellbeing,,checkbox,Supports used,"1, Supervision | 2, Peer support",,,,,\n'
    )
    data = tmp_path / "labels.csv"
    data.write_text(
        "Record ID,I am happy,Supports used (choice=Supervision),Supports used (choice=Peer support),"
        "Wellbeing Complete?\n1,Never,Checked,Unchecked,Complete\n"
    )
    export = read_redcap(data, dictionary)
    assert list(export.data.columns) == ["record_id", "pq01", "supports___1", "supports___2"]
    assert export.data.loc[0, "pq01"] == "Never"
    assert export.field_paths["supports___1"] == "Supports used (choice=Supervision)"
    assert bool(export.meta.loc[0, "finished"]) is True
    assert export.value_labels["pq01"] == {"1": "Never", "5": "Very often"}


def test_redcap_labels_export_without_dictionary_is_detected(tmp_path):
    data = tmp_path / "labels.csv"
    data.write_text(
        "Record ID,I am happy,Wellbeing Complete?\n1,Never,Complete\n2,Often,Incomplete\n"
    )
    export = read_export(data)
    assert export.platform == "redcap"
    assert export.meta["finished"].tolist() == [True, False]
    assert export.data["I am happy"].tolist() == ["Never", "Often"]


# ------------------------------------------------------------------------------ Kobo / ODK


def test_kobo_legacy_wide_export_na_groups_and_gps():
    export = read_export(real_fixture("kobo/kobocat_tutorial_w_repeats.csv"))
    assert export.platform == "kobo"
    assert_invariant(export)
    assert export.response_id_column == "_uuid"
    row = export.data.iloc[0]
    assert row["age"] == "25"
    assert pd.isna(row["picture"])  # "n/a" (skipped) is missing
    assert row["children[2]/childs_name"] == "Dick"
    assert "web_browsers/firefox" in export.data.columns
    gone = dropped(export)
    assert gone["name"] == "generic pattern: name of a person"
    assert gone["gps"] == "location (geopoint)"
    assert {"_gps_latitude", "_gps_longitude", "_gps_altitude", "_gps_precision"} <= set(gone)
    assert export.meta.loc[0, "submitted_at"] == "2013-02-18T15:54:01"
    assert export.field_paths["instanceID"] == "meta/instanceID"


def test_kobo_select_multiple_both_layouts():
    export = read_kobo(real_fixture("kobo/kobocat_expected_tutorial_w_repeats.csv"))
    assert_invariant(export)
    assert {"web_browsers", "web_browsers/chrome", "web_browsers/safari"} <= set(
        export.data.columns
    )
    assert export.meta.loc[0, "_parent_index"] == "-1"


def test_kobo_repeat_child_table_uses_index_when_uuid_empty():
    export = read_kobo(real_fixture("kobo/kobocat_expected_children.csv"))
    assert export.response_id_column == "_index"
    assert export.data["childs_name"].tolist() == ["Tom", "Dick"]
    assert export.field_paths["childs_age"] == "children/childs_age"


def test_kobo_api_json_with_asset_form():
    folder = "kobo"
    export = read_export(
        real_fixture(f"{folder}/formpack_or_other_data.json"),
        form=real_fixture(f"{folder}/formpack_or_other_asset.json"),
    )
    assert export.platform == "kobo"
    assert_invariant(export)
    assert export.rows_read == 7
    assert export.data["s1"].tolist()[:2] == ["abc", "def"]
    assert export.value_labels["s1"] == {"abc": "abc", "def": "def"}
    assert "s1_other" in export.free_text.columns
    assert "_submitted_by" in dropped(export)


def test_odk_central_dash_paths_ragged_rows_and_personal_data():
    export = read_export(real_fixture("odk/ruODK_build_Flora-Quadrat-0-2_1558575936.csv"))
    assert export.platform == "odk"
    assert_invariant(export)
    assert export.rows_read == 2
    assert export.response_id_column == "KEY"
    assert export.data.loc[1, "area_name"] == "Kens02"
    assert export.field_paths["area_name"] == "location-area_name"
    gone = dropped(export)
    assert {"reporter", "device_id", "SubmitterName", "SubmitterID"} <= set(gone)
    assert "corner1/Latitude" in gone
    assert "Florian Mayer" not in export.data.to_string() + export.meta.to_string()
    assert any("header has 32" in note for note in export.notes)


def test_odk_central_repeat_table():
    export = read_export(
        real_fixture("odk/ruODK_build_Flora-Quadrat-0-2_1558575936-taxon_encounter.csv")
    )
    assert export.platform == "odk"
    assert export.data["canonical_name"].tolist()[:2] == ["Grevillea", "Dontknowsiana sp."]
    assert export.meta["PARENT_KEY"].iloc[0].startswith("uuid:c0f9ce58")
    assert "Latitude" in dropped(export)


# ------------------------------------------------------------------------------- LimeSurvey


def test_limesurvey_structure_real_export():
    structure = read_limesurvey_structure(real_fixture("limesurvey/limonaid_testing-export.txt"))
    assert structure.title == "Test Survey"
    assert structure.question_types == {"onlyQuestion": "L"}
    assert structure.value_labels["onlyQuestion"] == {
        "1": "This is the first answer option",
        "2": "This is the second answer option",
    }
    with pytest.raises(IngestError, match="survey-structure"):
        read_export(real_fixture("limesurvey/limonaid_testing-export.txt"))


def test_limesurvey_responses_with_real_structure(tmp_path):
    path = tmp_path / "results-survey1.csv"
    path.write_text(
        '"id","submitdate","lastpage","startlanguage","seed","ipaddr","onlyQuestion",'
        '"G1Q2[SQ001]","G1Q3[other]","interviewtime"\n'
        '"1","2024-03-01 09:00:00","1","en","123","10.1.1.1","2","A1","my own words","45.2"\n'
        '"2","","0","en","456","10.1.1.2","1","","",""\n',
        encoding="utf-8-sig",
    )
    assert detect_platform(path) == "limesurvey"
    export = read_export(path, structure=real_fixture("limesurvey/limonaid_testing-export.txt"))
    assert_invariant(export)
    assert list(export.data.columns) == ["id", "onlyQuestion", "G1Q2[SQ001]"]
    assert export.meta["finished"].tolist() == [True, False]
    assert export.meta.loc[0, "duration_seconds"] == 45.2
    assert export.labels["onlyQuestion"].startswith("This is the question text")
    assert export.value_labels["onlyQuestion"]["2"] == "This is the second answer option"
    assert "G1Q3[other]" in export.free_text.columns
    assert dropped(export)["ipaddr"] == "LimeSurvey IP address"


# ----------------------------------------------------------------------------- SurveyMonkey


def test_surveymonkey_api_bulk_with_details():
    folder = "surveymonkey"
    export = read_export(
        real_fixture(f"{folder}/surveymonkey_api_v3_responses_bulk.json"),
        details=real_fixture(f"{folder}/surveymonkey_api_v3_survey_details.json"),
    )
    assert export.platform == "surveymonkey"
    assert_invariant(export)
    assert export.data["id"].tolist() == ["13376313674", "13376299051"]
    assert export.data["769893650"].tolist() == ["5096103935", "5096103935"]
    assert export.value_labels["769893650"]["5096103935"] == "3"
    assert export.labels["769893650"] == "How many pets do you have?"
    assert export.free_text["769893903"].tolist() == ["Donut, Mango, Phil", "Phil, Mango, Donut"]
    assert export.meta["duration_seconds"].tolist() == [10.0, 12.0]
    assert export.meta["finished"].all()
    assert export.meta["status"].tolist() == ["completed", "completed"]
    gone = dropped(export)
    assert {"ip_address", "edit_url", "analyze_url"} <= set(gone)
    assert "100.34.161.38" not in export.data.to_string() + export.meta.to_string()


def test_surveymonkey_api_without_details_still_separates_text():
    export = read_surveymonkey(real_fixture("surveymonkey/surveymonkey_api_v3_responses_bulk.json"))
    assert "769893903" in export.free_text.columns
    assert "769893903" not in export.data.columns


def test_surveymonkey_csv_two_header_rows(tmp_path):
    path = tmp_path / "sm.csv"
    path.write_text(
        "Respondent ID,Collector ID,Start Date,End Date,IP Address,Email Address,First Name,"
        "Last Name,Custom Data 1,How often do you feel drained?,Which supports helped?,,,Comments\n"
        ",,,,,,,,,Response,Supervision,Peer support,Other (please specify),Open-Ended Response\n"
        "1001,55,01/02/2024 10:00:00 AM,01/02/2024 10:05:30 AM,1.1.1.1,a@b.c,Ann,Bee,x,Often,"
        'Supervision,,therapy dog,"nice, long"\n',
        encoding="utf-8",
    )
    assert detect_platform(path) == "surveymonkey"
    export = read_export(path)
    assert_invariant(export)
    assert list(export.data.columns) == ["Respondent ID", "Q1", "Q2_1", "Q2_2"]
    assert export.labels["Q2_2"] == "Which supports helped? [Peer support]"
    assert export.free_text.loc[0, "Q2_3"] == "therapy dog"
    assert export.meta.loc[0, "duration_seconds"] == 330.0
    assert set(dropped(export)) == {
        "IP Address",
        "Email Address",
        "First Name",
        "Last Name",
        "Custom Data 1",
    }


# --------------------------------------------------------------------- detection and errors


@pytest.mark.parametrize(
    ("relative", "platform"),
    [
        ("qualtrics/qualtRics_sample.csv", "qualtrics"),
        ("qualtrics/qualtRics_sample_legacy.csv", "qualtrics"),
        ("redcap/REDCapR_checkboxes-1_data.csv", "redcap"),
        ("redcap/redcapAPI_extdata_data.csv", "redcap"),
        ("kobo/kobocat_tutorial_w_repeats.csv", "kobo"),
        ("kobo/formpack_or_other_data.json", "kobo"),
        ("odk/ruODK_build_Flora-Quadrat-0-2_1558575936.csv", "odk"),
        ("surveymonkey/surveymonkey_api_v3_responses_bulk.json", "surveymonkey"),
    ],
)
def test_detect_platform_on_real_exports(relative, platform):
    assert detect_platform(real_fixture(relative)) == platform


@pytest.mark.parametrize(
    ("relative", "message"),
    [
        ("redcap/REDCapR_simple_data_dictionary.csv", "REDCap data dictionary"),
        ("surveymonkey/surveymonkey_api_v3_survey_details.json", "survey definition"),
        ("kobo/formpack_or_other_asset.json", "form definition"),
        ("odk/pyxform_group.csv", "cannot tell which survey platform"),
    ],
)
def test_detect_platform_refuses_non_response_files(relative, message):
    with pytest.raises(IngestError, match=message) as caught:
        detect_platform(real_fixture(relative))
    assert caught.value.file.endswith(Path(relative).name)
    assert caught.value.row == 1


def test_detect_platform_ambiguous_header_names_both(tmp_path):
    path = tmp_path / "both.csv"
    path.write_text("_uuid,q1,wellbeing_complete\nu1,3,2\n")
    with pytest.raises(IngestError, match="ambiguous: the header looks like redcap and kobo"):
        detect_platform(path)
    assert read_export(path, platform="kobo").data["q1"].tolist() == ["3"]


def test_detect_platform_on_a_dataframe():
    frame = pd.DataFrame({"KEY": ["uuid:1"], "SubmissionDate": ["2024"], "grp-q1": ["2"]})
    assert detect_platform(frame) == "odk"


@pytest.mark.parametrize(
    ("relative", "platform", "message"),
    [
        ("redcap/REDCapR_checkboxes-1_data.csv", "qualtrics", "not a Qualtrics export"),
        ("qualtrics/qualtRics_sample.csv", "redcap", "not a REDCap export"),
        ("qualtrics/qualtRics_sample.csv", "kobo", "not a KoboToolbox/ODK export"),
        ("kobo/kobocat_tutorial_w_repeats.csv", "limesurvey", "not a LimeSurvey response"),
        ("redcap/REDCapR_survey-data.csv", "surveymonkey", "not a SurveyMonkey export"),
    ],
)
def test_forcing_the_wrong_platform_is_a_clear_error(relative, platform, message):
    with pytest.raises(IngestError, match=message) as caught:
        read_export(real_fixture(relative), platform=platform)
    assert caught.value.row == 1
    assert Path(relative).name in str(caught.value)


def test_header_only_and_empty_files(tmp_path):
    header_only = tmp_path / "header.csv"
    header_only.write_text("record_id,q1,f_complete\n")
    with pytest.raises(IngestError, match="no responses") as caught:
        read_export(header_only)
    assert caught.value.row == 2
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="row 1: the file is empty"):
        read_export(empty)


def test_mixed_encodings_named_with_row(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("record_id,q1,f_complete\n1,café,2\n".encode() + "2,né,2\n".encode("cp1252"))
    with pytest.raises(IngestError, match="mixed text encodings") as caught:
        read_export(path)
    assert caught.value.row == 3


def test_binary_junk_is_refused(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(b"record_id,q1\n1,\x00\x01\x02\x03binary\n")
    with pytest.raises(IngestError, match="binary data") as caught:
        read_export(path)
    assert caught.value.row == 2


def test_wrong_delimiter_rows_are_quarantined_not_lost(tmp_path):
    path = tmp_path / "mixed_delims.csv"
    path.write_text("record_id,q1,q2,f_complete\n1,3,4,2\n2;5;1;2\n3,2,2,2\n\n")
    export = read_export(path)
    assert export.data["record_id"].tolist() == ["1", "3"]
    assert export.quarantine["row"].tolist() == [3, 5]
    assert export.quarantine.loc[0, "raw"] == "2;5;1;2"
    assert export.quarantine.loc[1, "reason"] == "empty row (no values)"
    assert export.rows_read == 4


def test_unterminated_quote_falls_back_and_quarantines(tmp_path):
    path = tmp_path / "open_quote.csv"
    path.write_text('record_id,q1,f_complete\n1,3,2\n2,"never closed,2\n3,4,2\n')
    export = read_export(path)
    assert export.rows_read == len(export.data) + len(export.quarantine)
    assert export.data["record_id"].tolist()[0] == "1"
    assert len(export.quarantine) == 1


def test_xlsx_platform_export(tmp_path):
    path = tmp_path / "kobo.xlsx"
    pd.DataFrame(
        {"grp/pq01": [3, 4], "grp/why": ["a", "b"], "_uuid": ["u1", "u2"], "_index": [1, 2]}
    ).to_excel(path, index=False)
    export = read_export(path)
    assert export.platform == "kobo"
    assert export.data["pq01"].tolist() == ["3", "4"]
    assert export.row_numbers.tolist() == [2, 3]


def test_kobo_with_xlsform_definition(tmp_path):
    form = tmp_path / "form.xlsx"
    with pd.ExcelWriter(form) as writer:
        pd.DataFrame(
            {
                "type": [
                    "begin_group",
                    "select_one freq",
                    "select_multiple help",
                    "text",
                    "geopoint",
                    "end_group",
                ],
                "name": ["wb", "pq01", "supports", "comment", "where", ""],
                "label::English (en)": [
                    "Wellbeing",
                    "I am happy",
                    "Supports used",
                    "Comments",
                    "Location",
                    "",
                ],
            }
        ).to_excel(writer, sheet_name="survey", index=False)
        pd.DataFrame(
            {
                "list_name": ["freq", "freq", "help", "help"],
                "name": ["1", "5", "sup", "peer"],
                "label::English (en)": ["Never", "Very often", "Supervision", "Peer support"],
            }
        ).to_excel(writer, sheet_name="choices", index=False)
    data = tmp_path / "kpi.csv"
    data.write_text(
        '"wb/pq01";"wb/supports";"wb/supports/sup";"wb/supports/peer";"wb/comment";"wb/where";'
        '"_uuid";"_index"\n'
        '"5";"sup peer";"1";"1";"ok";"-1.2 36.8 0 5";"u1";"1"\n'
        '"1";"";"0";"0";"";"";"u2";"2"\n'
    )
    export = read_kobo(data, form=form)
    assert export.delimiter == ";"
    assert list(export.data.columns) == [
        "_uuid",
        "pq01",
        "supports",
        "supports/sup",
        "supports/peer",
    ]
    assert export.value_labels["pq01"] == {"1": "Never", "5": "Very often"}
    assert export.labels["supports/peer"] == "Supports used (Peer support)"
    assert export.labels["pq01"] == "I am happy"
    assert "comment" in export.free_text.columns
    assert dropped(export)["where"] == "location (geopoint question)"


def test_platform_readers_point_statistical_files_to_read_table(tmp_path):
    path = tmp_path / "export.sav"
    path.write_bytes(b"$FL2junk")
    with pytest.raises(IngestError, match="read_table") as caught:
        read_export(path, platform="qualtrics")
    assert caught.value.column == "(file type)"


def test_kobo_json_quarantines_non_object_submissions(tmp_path):
    path = tmp_path / "data.json"
    first = {"_uuid": "a", "q": 1, "_geolocation": [-1.26, 36.79], "meta/instanceName": "Ann B"}
    path.write_text(json.dumps([first, "garbage", {"_uuid": "b", "q": 2}]))
    export = read_kobo(path)
    assert export.data["q"].tolist() == ["1", "2"]
    assert {"_geolocation", "instanceName"} <= set(dropped(export))
    assert "36.79" not in export.meta.to_csv() and "Ann B" not in export.meta.to_csv()
    assert export.quarantine["row"].tolist() == [2]
    assert export.row_numbers.tolist() == [1, 3]


def test_limesurvey_reader_refuses_structure_as_responses(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("id,q1\n1,2\n")
    with pytest.raises(IngestError, match="not a LimeSurvey response export"):
        read_limesurvey(path)


def test_read_records_row_numbers_skip_quarantined(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('a,b\n1,2\n3\n"x\ny",4\n5,6,7\n8,9\n')
    records = read_records(path)
    assert records.row_numbers.tolist() == [1, 2, 4, 6]
    assert records.quarantine["row"].tolist() == [3, 5]
    assert records.records.iloc[2, 0] == "x\ny"


# ------------------------------------------------ end to end with the synthetic export writers


@pytest.fixture(scope="module")
def coalition_answers():
    from fieldsurvey.synthetic import generate_coalition

    instruments = ("workforce-context", "proqol5")
    return generate_coalition(n_orgs=2, seed=3, instruments=instruments).responses


def _synthetic_layouts():
    from fieldsurvey.synthetic.platform_exports import PLATFORM_LAYOUTS

    return [(p, layout) for p, layouts in PLATFORM_LAYOUTS.items() for layout in layouts]


@pytest.mark.parametrize(("platform", "layout"), _synthetic_layouts())
def test_every_synthetic_platform_layout_reads_back_without_personal_data(
    tmp_path, coalition_answers, platform, layout
):
    from fieldsurvey.instrument import resolve_instrument
    from fieldsurvey.synthetic.platform_exports import write_platform_export

    instruments = [resolve_instrument("workforce-context"), resolve_instrument("proqol5")]
    path = tmp_path / ("export.json" if layout == "api" else "export.csv")
    previews = 2 if platform == "qualtrics" else 0
    write_platform_export(
        coalition_answers, instruments, platform, path, layout=layout, preview_rows=previews
    )
    details = {"details": tmp_path / "export_details.json"} if layout == "api" else {}
    export = read_export(path, **details)
    assert export.platform == platform
    assert export.rows_read == len(coalition_answers) + previews
    assert export.quarantine.empty
    assert int(export.meta["preview"].sum()) == previews
    text = export.data.to_csv() + export.meta.to_csv() + export.free_text.to_csv()
    assert "@example.org" not in text
    for network in ("192.0.2.", "198.51.100.", "203.0.113."):
        assert network not in text
    # the 30 ProQOL answers (and the workforce items) are in data, not dropped or free text
    assert export.data.shape[1] - 1 >= 35
