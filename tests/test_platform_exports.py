"""Synthetic answers written in each platform's export layout, read back by ingest.

Every layout is checked three ways: its header/metadata layout against the real export in
tests/data/real (or ../shared/fixtures/real), its field names against what our fielding module gives the platform, and
the answers ingest reads back against the synthetic codes (then, through the study store, the
scale scores against scoring the synthetic answers directly).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import real_fixture
from fieldsurvey.fielding import build_plan, field_instruments, limesurvey_item_map
from fieldsurvey.ingest import read_export
from fieldsurvey.ingest.mapping import code_answers, map_columns
from fieldsurvey.instrument import attach_wording, resolve_instrument
from fieldsurvey.synthetic import generate_coalition
from fieldsurvey.synthetic.exports_qualtrics import qualtrics_import_ids
from fieldsurvey.synthetic.exports_redcap import write_redcap_dictionary_for, write_redcap_export
from fieldsurvey.synthetic.exports_surveymonkey import (
    surveymonkey_api_item_map,
    surveymonkey_csv_columns,
    write_surveymonkey_api,
)
from fieldsurvey.synthetic.platform_exports import (
    PLATFORM_LAYOUTS,
    export_items,
    write_platform_export,
)

INSTRUMENT_IDS = ("workforce-context", "proqol5", "structural-conditions")
FAKE_IP = re.compile(r"^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$")

QUALTRICS_PERSONAL = {
    "IPAddress",
    "RecipientEmail",
    "RecipientFirstName",
    "RecipientLastName",
    "ExternalReference",
    "LocationLatitude",
    "LocationLongitude",
}
# Personal columns each layout writes (fake values) that ingest must drop.
EXPECTED_DROPPED = {
    ("qualtrics", "default"): QUALTRICS_PERSONAL,
    ("qualtrics", "numeric"): QUALTRICS_PERSONAL,
    ("qualtrics", "choice_text"): QUALTRICS_PERSONAL,
    ("qualtrics", "legacy"): {
        "Name",
        "EmailAddress",
        "IPAddress",
        "ExternalDataReference",
        "LocationLatitude",
        "LocationLongitude",
    },
    ("redcap", "survey"): {"redcap_survey_identifier"},
    ("kobo", "default"): {"_submitted_by"},
    ("odk", "default"): {"SubmitterName", "DeviceID"},
    ("limesurvey", "default"): {"ipaddr"},
    ("surveymonkey", "default"): {
        "IP Address",
        "Email Address",
        "First Name",
        "Last Name",
        "Custom Data 1",
    },
    ("surveymonkey", "api"): {"ip_address", "email_address", "first_name", "last_name"},
}
# (platform, layout, extra options, file suffix)
CASES = [
    ("qualtrics", "default", {}, ".csv"),
    ("qualtrics", "numeric", {"preview_rows": 2}, ".csv"),
    ("qualtrics", "choice_text", {"preview_rows": 1}, ".csv"),
    ("qualtrics", "legacy", {"preview_rows": 1}, ".csv"),
    ("qualtrics", "numeric", {"encoding": "cp1252", "delimiter": ";"}, ".csv"),
    ("qualtrics", "choice_text", {"encoding": "utf-16", "delimiter": "\t"}, ".tsv"),
    ("redcap", "raw", {}, ".csv"),
    ("redcap", "survey", {}, ".csv"),
    ("redcap", "labels", {}, ".csv"),
    ("kobo", "default", {}, ".csv"),
    ("kobo", "legacy", {}, ".csv"),
    ("odk", "default", {}, ".csv"),
    ("limesurvey", "default", {}, ".csv"),
    ("limesurvey", "default", {"include_personal": False}, ".csv"),
    ("surveymonkey", "default", {}, ".csv"),
    ("surveymonkey", "api", {}, ".json"),
]


def _case_id(case) -> str:
    platform, layout, options, _ = case
    extra = "-".join(f"{k}={v!r}" for k, v in options.items())
    return f"{platform}-{layout}" + (f"-{extra}" if extra else "")


@pytest.fixture(scope="module")
def instruments():
    return [resolve_instrument(i) for i in INSTRUMENT_IDS]


@pytest.fixture(scope="module")
def responses():
    return generate_coalition(n_orgs=3, seed=5).responses


def with_placeholder_wording(tmp_path: Path):
    """Attach placeholder wording (never real ProQOL wording) so fielding can build the form."""
    ids = resolve_instrument("proqol5").item_ids
    source = tmp_path / "pq-wording.yaml"
    source.write_text(
        yaml.safe_dump({"items": {i: f"placeholder wording {n}" for n, i in enumerate(ids, 1)}}),
        encoding="utf-8",
    )
    attach_wording("proqol5", source)
    return [resolve_instrument(i) for i in INSTRUMENT_IDS]


def write_case(case, responses, instruments, tmp_path: Path):
    """Write one case; return (export path, read_export keyword arguments, item map)."""
    platform, layout, options, suffix = case
    path = tmp_path / f"export{suffix}"
    items = export_items(responses, instruments)
    kwargs: dict = {}
    if platform == "surveymonkey" and layout == "api":
        path, details = write_surveymonkey_api(responses, instruments, path, seed=3)
        kwargs = {"details": details}
        return path, kwargs, surveymonkey_api_item_map(details, instruments)
    if platform == "redcap" and layout == "labels":
        dictionary = write_redcap_dictionary_for(instruments, tmp_path / "dictionary.csv")
        write_redcap_export(responses, instruments, path, layout="labels", dictionary=dictionary)
        return path, {"platform": "redcap", "dictionary": dictionary}, None
    write_platform_export(responses, instruments, platform, path, layout=layout, seed=3, **options)
    if platform == "surveymonkey":
        return path, kwargs, surveymonkey_csv_columns(items)
    if platform == "limesurvey":
        plan_map = limesurvey_item_map(build_plan(with_placeholder_wording(tmp_path)))
        return path, kwargs, {"limesurvey": plan_map}
    return path, kwargs, None


def column_for_items(export, instruments, item_map) -> dict[str, str]:
    """Item id -> the export column holding it (data or free text)."""
    columns = [c for c in export.data.columns if c != export.response_id_column]
    columns += [c for c in export.free_text.columns if c != export.response_id_column]
    if item_map is None:  # item ids (or REDCap labels mapped back) name the columns
        return {v: k for k, v in map_columns(columns, instruments).item_for_column.items()}
    if "limesurvey" in item_map:  # LimeSurvey codes: X[code] or a bare code
        codes = item_map["limesurvey"]
        found = {}
        for col in columns:
            code = re.sub(r"^.*\[(.*)\]$", r"\1", col)
            if code in codes:
                found[codes[code]] = col
        return found
    return {item: col for col, item in item_map.items() if col in columns}


def read_back(export, instruments, item_map) -> pd.DataFrame:
    """Answers as codes (floats; organisation codes as text), preview rows left out."""
    keep = ~export.meta["preview"].fillna(False).astype(bool).to_numpy()
    where = column_for_items(export, instruments, item_map)
    table = pd.concat(
        [export.data.drop(columns=export.response_id_column), export.free_text], axis=1
    )
    out = {}
    for inst in instruments:
        for item in inst.items:
            column = table[where[item.id]]
            value_labels = export.value_labels.get(where[item.id])
            if value_labels:  # API exports hold choice ids: the details give their text
                column = column.map(lambda v, vl=value_labels: vl.get(v, v), na_action="ignore")
            scale = inst.response_scales[item.scale]
            if scale.type == "categorical" and not scale.labels:
                out[item.id] = column.astype("string").str.strip().to_numpy()[keep]
                continue
            coded = code_answers(column, scale)
            assert not coded.invalid.any(), f"{item.id}: {coded.reasons[coded.invalid][:3]}"
            out[item.id] = coded.values[keep]
    return pd.DataFrame(out)


def open_items(instruments) -> set[str]:
    """Items answered with a code the study sets (the organisation), not a scale code."""
    return {
        item.id
        for inst in instruments
        for item in inst.items
        if inst.response_scales[item.scale].type == "categorical"
        and not inst.response_scales[item.scale].labels
    }


def expected_codes(responses, instruments) -> pd.DataFrame:
    out = {}
    for inst in instruments:
        for item in inst.items:
            values = responses[item.id]
            scale = inst.response_scales[item.scale]
            if scale.type == "categorical" and not scale.labels:
                out[item.id] = values.astype("string").to_numpy()
            else:
                out[item.id] = values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(out)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_answers_read_back_equal_the_synthetic_codes(case, responses, instruments, tmp_path):
    path, kwargs, item_map = write_case(case, responses, instruments, tmp_path)
    export = read_export(path, **kwargs)
    platform, layout, options, _ = case
    assert export.platform == platform
    assert export.rows_read == len(export.data) + len(export.quarantine)
    assert export.quarantine.empty
    previews = options.get("preview_rows", 0)
    assert int(export.meta["preview"].fillna(False).sum()) == previews
    assert export.rows_read == len(responses) + previews
    if "encoding" in options:
        assert export.encoding == options["encoding"]
        assert export.delimiter == options["delimiter"]
    got = read_back(export, instruments, item_map)
    want = expected_codes(responses, instruments)
    assert list(got.columns) == list(want.columns)
    open_coded = open_items(instruments)
    for item in want.columns:
        if item in open_coded:
            assert list(pd.Series(got[item]).fillna("")) == list(pd.Series(want[item]).fillna(""))
        else:
            assert np.array_equal(
                got[item].to_numpy(float), want[item].to_numpy(float), equal_nan=True
            ), item
    # Every answer that is a number reaches data (only open text may go to free_text).
    numeric_items = [c for c in want.columns if c not in open_coded]
    where = column_for_items(export, instruments, item_map)
    assert {where[i] for i in numeric_items} <= set(export.data.columns)


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c[2].get("include_personal", True)],
    ids=[_case_id(c) for c in CASES if c[2].get("include_personal", True)],
)
def test_fake_personal_data_never_reaches_data_meta_or_free_text(
    case, responses, instruments, tmp_path
):
    path, kwargs, _ = write_case(case, responses, instruments, tmp_path)
    raw = path.read_bytes().decode(
        "utf-16" if case[2].get("encoding") == "utf-16" else case[2].get("encoding", "utf-8-sig")
    )
    export = read_export(path, **kwargs)
    frames = (export.data, export.meta, export.free_text)
    cells = pd.concat([f.astype("string").stack().dropna() for f in frames if not f.empty])
    assert not cells.str.contains("@example.org", regex=False).any()
    assert not cells.str.match(FAKE_IP.pattern).any()
    expected = EXPECTED_DROPPED.get(case[:2], set())
    assert expected <= {d["column"] for d in export.dropped_personal}
    if expected & {"IPAddress", "IP Address", "ip_address", "ipaddr"}:
        assert re.search(FAKE_IP.pattern[1:-1], raw)  # the fake IPs were written, then dropped


def test_dropped_columns_are_named(responses, instruments, tmp_path):
    path = write_platform_export(responses, instruments, "qualtrics", tmp_path / "q.csv")
    dropped = {d["column"] for d in read_export(path).dropped_personal}
    assert {
        "IPAddress",
        "RecipientEmail",
        "RecipientFirstName",
        "RecipientLastName",
        "ExternalReference",
        "LocationLatitude",
        "LocationLongitude",
    } <= dropped


def test_anonymous_exports_leave_personal_columns_empty(responses, instruments, tmp_path):
    path = write_platform_export(
        responses, instruments, "qualtrics", tmp_path / "q.csv", include_personal=False
    )
    text = path.read_text(encoding="utf-8-sig")
    assert "@example.org" not in text
    assert not any(FAKE_IP.match(c) for row in csv.reader(text.splitlines()) for c in row)


def test_preview_rows_are_flagged_not_dropped(responses, instruments, tmp_path):
    path = write_platform_export(
        responses, instruments, "qualtrics", tmp_path / "q.csv", preview_rows=3
    )
    export = read_export(path)
    assert export.meta["preview"].tolist() == [True] * 3 + [False] * len(responses)
    assert export.meta["Status"].tolist()[:4] == ["1", "1", "1", "0"]
    assert export.meta["DistributionChannel"].tolist()[:4] == ["preview"] * 3 + ["email"]
    assert len(export.data) == len(responses) + 3  # flagged, not dropped


def test_qualtrics_layout_follows_the_real_export(responses, instruments, tmp_path):
    real = list(csv.reader(real_fixture("qualtrics/qualtRics_sample.csv").open(encoding="utf-8")))
    path = write_platform_export(responses, instruments, "qualtrics", tmp_path / "q.csv")
    ours = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert ours[0][:17] == real[0][:17]
    assert ours[2][:17] == real[2][:17]
    assert all(json.loads(cell)["ImportId"] for cell in ours[2])
    assert ours[0][17:] == [i for inst in instruments for i in inst.item_ids]
    assert len({len(r) for r in ours}) == 1


def test_qualtrics_legacy_layout_follows_the_real_export(responses, instruments, tmp_path):
    real = list(csv.reader(real_fixture("qualtrics/qualtRics_sample_legacy.csv").open()))
    path = write_platform_export(
        responses, instruments, "qualtrics", tmp_path / "q.csv", layout="legacy"
    )
    ours = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert ours[0][:10] == real[0][:10]
    assert ours[1][:10] == real[1][:10]
    assert ours[0][-4:] == real[0][-4:]  # location columns then the trailing delimiter
    assert all(row[-1] == "" for row in ours)


def test_qualtrics_import_ids_match_the_fielded_qsf(responses, tmp_path):
    instruments = with_placeholder_wording(tmp_path)
    qsf = json.loads(field_instruments(instruments, "qualtrics", tmp_path / "f.qsf").read_text())
    fielded = {}
    for element in qsf["SurveyElements"]:
        if element["Element"] != "SQ":
            continue
        payload = element["Payload"]
        tags = payload.get("ChoiceDataExportTags") or {}
        for row, tag in tags.items():
            fielded[tag] = f"{payload['QuestionID']}_{row}"
        if not tags and payload["QuestionType"] == "MC":
            fielded[payload["DataExportTag"]] = payload["QuestionID"]
        if payload["QuestionType"] == "TE":
            fielded[payload["DataExportTag"]] = f"{payload['QuestionID']}_TEXT"
    ours = qualtrics_import_ids(export_items(responses, instruments))
    assert ours == {k: v for k, v in fielded.items() if k in ours}
    assert set(ours) == {i for inst in instruments for i in inst.item_ids}


def test_redcap_dictionary_matches_fielding(responses, tmp_path):
    ours = pd.read_csv(
        write_redcap_dictionary_for(
            [resolve_instrument(i) for i in INSTRUMENT_IDS], tmp_path / "ours.csv"
        ),
        dtype=str,
        keep_default_na=False,
    )
    fielded = pd.read_csv(
        field_instruments(with_placeholder_wording(tmp_path), "redcap", tmp_path / "f.csv"),
        dtype=str,
        keep_default_na=False,
    )
    fielded = fielded[fielded["Field Type"] != "descriptive"]
    assert list(ours.columns) == list(fielded.columns)
    for column in (
        "Variable / Field Name",
        "Form Name",
        "Field Type",
        "Choices, Calculations, OR Slider Labels",
        "Matrix Group Name",
    ):
        assert ours[column].tolist() == fielded[column].tolist(), column
    assert not ours["Field Label"].str.contains("placeholder wording").any()


def test_redcap_raw_layout_follows_the_real_exports(responses, instruments, tmp_path):
    path = write_platform_export(
        responses, instruments, "redcap", tmp_path / "r.csv", layout="survey"
    )
    header = path.read_text().splitlines()[0].split(",")
    real = real_fixture("redcap/REDCapR_survey-data.csv").read_text().splitlines()
    assert header[1] == real[0].split(",")[1] == "redcap_survey_identifier"
    forms = ["workforce_context", "proqol5", "structural_conditions"]
    for form in forms:  # timestamp opens the form, status closes it, as in the real export
        assert header.index(f"{form}_timestamp") < header.index(f"{form}_complete")
    assert re.search(r',"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",', path.read_text().splitlines()[1])


def test_kobo_system_columns_follow_the_real_exports(responses, instruments, tmp_path):
    legacy = write_platform_export(
        responses, instruments, "kobo", tmp_path / "k.csv", layout="legacy"
    )
    real = real_fixture("kobo/kobocat_tutorial_w_repeats.csv").read_text().splitlines()[0]
    assert legacy.read_text().splitlines()[0].endswith(real[real.index("meta/instanceID") :])
    assert "n/a" in legacy.read_text()
    kpi = write_platform_export(responses, instruments, "kobo", tmp_path / "kpi.csv")
    first = kpi.read_text().splitlines()[0]
    assert first.startswith('"start";"end";') and first.endswith('"_index"')


def test_odk_system_columns_follow_the_real_export(responses, instruments, tmp_path):
    real_odk = real_fixture("odk/ruODK_build_Flora-Quadrat-0-2_1558575936.csv").read_text()
    odk = write_platform_export(responses, instruments, "odk", tmp_path / "o.csv")
    odk_header = odk.read_text().splitlines()[0].split(",")
    real_header = real_odk.splitlines()[0].split(",")
    assert odk_header[0] == real_header[0] == "SubmissionDate"
    assert {"meta-instanceID", "KEY", "SubmitterID", "SubmitterName", "Status"} <= set(odk_header)
    assert "proqol5-pq01" in odk_header


def test_limesurvey_columns_are_the_fielded_codes(responses, instruments, tmp_path):
    path = write_platform_export(responses, instruments, "limesurvey", tmp_path / "l.csv")
    header = next(csv.reader(path.open()))
    assert header[:5] == ["id", "submitdate", "lastpage", "startlanguage", "seed"]
    codes = limesurvey_item_map(build_plan(with_placeholder_wording(tmp_path)))
    answer_columns = header[9:]
    found = [re.sub(r"^.*\[(.*)\]$", r"\1", c) for c in answer_columns]
    assert [codes[c] for c in found] == [i for inst in instruments for i in inst.item_ids]
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(\[[A-Za-z0-9]+\])?", c) for c in answer_columns)


def test_limesurvey_columns_map_to_items_automatically(responses, instruments, tmp_path):
    path = write_platform_export(responses, instruments, "limesurvey", tmp_path / "l.csv")
    export = read_export(path)
    mapping = map_columns([c for c in export.data.columns if c != "id"], instruments)
    assert mapping.missing_items == []
    assert mapping.item_for_column["structuralcondiL1[scpay1]"] == "sc_pay1"


def test_surveymonkey_api_follows_the_real_export(responses, instruments, tmp_path):
    real = json.loads(
        real_fixture("surveymonkey/surveymonkey_api_v3_responses_bulk.json").read_text()
    )
    real_details = json.loads(
        real_fixture("surveymonkey/surveymonkey_api_v3_survey_details.json").read_text()
    )
    bulk, details = write_surveymonkey_api(responses, instruments, tmp_path / "b.json")
    ours = json.loads(bulk.read_text())
    assert set(ours) == set(real)
    assert set(ours["data"][0]) == set(real["data"][0])
    ours_details = json.loads(details.read_text())
    assert {"id", "pages", "question_count", "page_count", "title"} <= set(real_details)
    assert {"id", "pages", "question_count", "page_count", "title"} <= set(ours_details)
    question = ours_details["pages"][0]["questions"][1]
    assert set(real_details["pages"][0]["questions"][0]) - {
        "layout",
        "sorting",
        "required",
        "validation",
        "forced_ranking",
    } <= set(question)


def test_unknown_platform_layout_or_missing_item_is_a_clear_error(responses, instruments, tmp_path):
    with pytest.raises(ValueError, match="unknown platform"):
        write_platform_export(responses, instruments, "typeform", tmp_path / "x.csv")
    with pytest.raises(ValueError, match="no layout 'labels'"):
        write_platform_export(responses, instruments, "kobo", tmp_path / "x.csv", layout="labels")
    with pytest.raises(ValueError, match="pq01"):
        write_platform_export(
            responses.drop(columns="pq01"), instruments, "odk", tmp_path / "x.csv"
        )
    with pytest.raises(ValueError, match="qualtrics only"):
        write_platform_export(responses, instruments, "redcap", tmp_path / "x.csv", preview_rows=1)
    assert set(PLATFORM_LAYOUTS) == {
        "qualtrics",
        "redcap",
        "kobo",
        "odk",
        "limesurvey",
        "surveymonkey",
    }


STORE_CASES = [
    c
    for c in CASES
    if c[:2]
    in {
        ("qualtrics", "numeric"),
        ("qualtrics", "legacy"),
        ("redcap", "raw"),
        ("redcap", "labels"),
        ("kobo", "default"),
        ("kobo", "legacy"),
        ("odk", "default"),
        ("limesurvey", "default"),
        ("surveymonkey", "default"),
    }
    and "encoding" not in c[2]
    and c[2].get("include_personal", True)
]


@pytest.mark.parametrize("case", STORE_CASES, ids=[_case_id(c) for c in STORE_CASES])
def test_scores_through_the_study_store_equal_direct_scoring(
    case, responses, instruments, tmp_path
):
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.scoring import score_scales
    from fieldsurvey.store import init_study, load_responses

    # Respondents type their organisation's number into the fielded integer question.
    answers = responses.assign(wf_org=responses["wf_org"].str[1:].astype(int).astype("Int64"))
    path, kwargs, item_map = write_case(case, answers, instruments, tmp_path)
    study = init_study(tmp_path / "study", list(INSTRUMENT_IDS), org_column="wf_org")
    mapping = None
    if case[0] == "surveymonkey":  # no question codes: the user maps columns once
        mapping = tmp_path / "mapping.yaml"
        mapping.write_text(yaml.safe_dump({"columns": item_map}), encoding="utf-8")
    summary = ingest_file(
        study,
        path,
        mapping=mapping,
        dictionary=kwargs.get("dictionary"),
        platform=kwargs.get("platform", "auto"),
    )
    previews = case[2].get("preview_rows", 0)
    assert summary.rows_read == summary.stored + summary.quarantined
    assert summary.stored == len(responses) and summary.quarantined == previews
    stored = load_responses(study, apply_exclusions=False).sort_values("source_row")
    item_ids = [i for inst in instruments for i in inst.item_ids if i != "wf_org"]
    got = score_scales(stored[item_ids].reset_index(drop=True), instruments)
    want = score_scales(answers[item_ids].reset_index(drop=True), instruments)
    # LimeSurvey stores numbers as decimal(30,10): compare the organisation numerically here.
    assert list(stored["org"].astype(float)) == list(answers["wf_org"].astype(float))
    numeric = [c for c in want.columns if pd.api.types.is_numeric_dtype(want[c])]
    pd.testing.assert_frame_equal(got[numeric], want[numeric], check_dtype=False)


def test_limesurvey_organisation_numbers_give_the_same_org_key(responses, instruments, tmp_path):
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.store import init_study, load_responses

    answers = responses.assign(wf_org=responses["wf_org"].str[1:].astype(int).astype("Int64"))
    path = write_platform_export(answers, instruments, "limesurvey", tmp_path / "l.csv")
    study = init_study(tmp_path / "study", list(INSTRUMENT_IDS), org_column="wf_org")
    ingest_file(study, path)
    stored = load_responses(study, apply_exclusions=False)
    assert set(stored["org"]) == {"1", "2", "3"}


@pytest.mark.parametrize("platform", ["qualtrics", "surveymonkey"])
def test_text_organisation_codes_reach_the_store(platform, responses, instruments, tmp_path):
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.store import init_study, load_responses

    path = write_platform_export(responses, instruments, platform, tmp_path / "x.csv")
    study = init_study(tmp_path / "study", list(INSTRUMENT_IDS), org_column="wf_org")
    mapping = None
    if platform == "surveymonkey":
        mapping = tmp_path / "mapping.yaml"
        columns = surveymonkey_csv_columns(export_items(responses, instruments))
        mapping.write_text(yaml.safe_dump({"columns": columns}), encoding="utf-8")
    ingest_file(study, path, mapping=mapping)
    assert set(load_responses(study, apply_exclusions=False)["org"]) == {"O01", "O02", "O03"}


def test_surveymonkey_api_through_the_store(responses, instruments, tmp_path):
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.store import init_study

    answers = responses.assign(wf_org=responses["wf_org"].str[1:].astype(int).astype("Int64"))
    bulk, details = write_surveymonkey_api(answers, instruments, tmp_path / "bulk.json")
    mapping = tmp_path / "mapping.yaml"
    columns = surveymonkey_api_item_map(details, instruments)
    mapping.write_text(yaml.safe_dump({"columns": columns}), encoding="utf-8")
    study = init_study(tmp_path / "study", list(INSTRUMENT_IDS), org_column="wf_org")
    summary = ingest_file(study, bulk, mapping=mapping, details=details)
    assert summary.stored == len(answers)
