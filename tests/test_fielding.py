"""Fielding: licence refusals, the form plan, XLSForm (via pyxform), paper, codebook and the CLI.

Wording for licensed instruments is made-up placeholder text ("proqol5 item 1 wording supplied
by the user"), never real item wording. Every test writes into its own FIELDSURVEY_HOME.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from docx import Document
from openpyxl import load_workbook
from pypdf import PdfReader
from pyxform.xls2xform import convert

from conftest import real_fixture
from fieldsurvey.cli import main
from fieldsurvey.fielding import (
    FieldingError,
    build_plan,
    field_instruments,
    limesurvey_code,
    limesurvey_item_map,
    read_limesurvey,
    read_qsf,
    read_redcap_dictionary,
)
from fieldsurvey.fielding.limesurvey import LIMESURVEY_COLUMNS
from fieldsurvey.fielding.redcap import REDCAP_COLUMNS, parse_choices
from fieldsurvey.instrument import attach_wording, resolve_instrument
from fieldsurvey.store import init_study

ATTACH_HINT = "fieldsurvey instrument wording proqol5 --from FILE"
PLATFORMS = ("xlsform", "redcap", "qualtrics", "limesurvey", "paper")
SUFFIX = {
    "xlsform": ".xlsx",
    "redcap": ".csv",
    "qualtrics": ".qsf",
    "limesurvey": ".txt",
    "paper": ".pdf",
}


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("FIELDSURVEY_HOME", str(home))
    return home


def placeholder_wording(instrument_id: str, languages=("en",), adapted=False) -> dict:
    inst = resolve_instrument(instrument_id)
    texts = {
        "en": "{id} item {n} wording supplied by the user",
        "es": "{id} item {n} texto proporcionado por el usuario",
    }
    items = {
        item_id: {lang: texts[lang].format(id=inst.id, n=n) for lang in languages}
        for n, item_id in enumerate(inst.item_ids, start=1)
    }
    wording: dict = {"items": items}
    if adapted:
        wording["adapted"] = True
    return wording


def attach_placeholder(tmp_path: Path, instrument_id: str, languages=("en",), adapted=False):
    source = tmp_path / f"{instrument_id}-wording.yaml"
    wording = placeholder_wording(instrument_id, languages, adapted)
    source.write_text(yaml.safe_dump(wording, allow_unicode=True), encoding="utf-8")
    return attach_wording(instrument_id, source)


def own(*ids: str):
    return [resolve_instrument(i) for i in ids]


def sheet_rows(ws) -> list[dict]:
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    return [dict(zip(header, r, strict=True)) for r in rows[1:]]


def pdf_text(path: Path) -> str:
    return " ".join(" ".join(p.extract_text().split()) for p in PdfReader(path).pages)


# --- licences --------------------------------------------------------------------------------


@pytest.mark.parametrize("to", PLATFORMS)
def test_licensed_instrument_without_wording_is_refused(tmp_path, to):
    out = tmp_path / f"form{SUFFIX[to]}"
    with pytest.raises(FieldingError) as err:
        field_instruments(own("proqol5"), to, out)
    message = str(err.value)
    assert "cannot field instrument 'proqol5'" in message
    assert "not included with fieldsurvey because of the licence holder's terms" in message
    assert "Center for Victims of Torture (CVT)" in message
    assert ATTACH_HINT in message
    assert not out.exists()


@pytest.mark.parametrize("instrument_id", ["cbi", "stss"])
def test_every_licensed_bundled_instrument_is_refused(tmp_path, instrument_id):
    with pytest.raises(FieldingError, match=f"instrument wording {instrument_id} --from FILE"):
        field_instruments(own("workforce-context", instrument_id), "redcap", tmp_path / "d.csv")


def test_refusal_names_the_licensed_instrument_among_open_ones(tmp_path):
    with pytest.raises(FieldingError) as err:
        field_instruments(own("structural-conditions", "proqol5"), "xlsform", tmp_path / "f.xlsx")
    assert "'proqol5'" in str(err.value)
    assert "structural-conditions" not in str(err.value)


def test_attached_wording_is_fielded_with_holder_notice(tmp_path):
    attach_placeholder(tmp_path, "proqol5")
    plan = build_plan(own("proqol5"))
    section = plan.sections[0]
    assert "Center for Victims of Torture, www.proqol.org" in section.notice
    assert "adapted from the ProQOL" not in section.notice
    assert section.questions[0].text == {"en": "proqol5 item 1 wording supplied by the user"}
    assert (
        section.recall == "Please answer the following questions thinking about the last 30 days."
    )


def test_adapted_wording_is_labelled_adapted_from_the_proqol(tmp_path):
    attach_placeholder(tmp_path, "proqol5", adapted=True)
    notice = build_plan(own("proqol5")).sections[0].notice
    assert notice.endswith("This wording is adapted from the ProQOL.")
    assert "www.proqol.org" in notice


def test_codebook_needs_no_wording_and_lists_labels_scales_licence(tmp_path):
    out = field_instruments(own("proqol5", "workforce-context"), "codebook", tmp_path / "cb.html")
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page and "<link" not in page  # self-contained
    assert "<td>pq01</td><td>ProQOL item 1 (BO)</td>" in page
    assert "1 = Never; 2 = Rarely; 3 = Sometimes; 4 = Often; 5 = Very Often" in page
    assert "scored when at least 8 of 10 items answered" in page
    assert "Low: 22 or less; Moderate: 23-41; High: 42 or more" in page
    assert "half_up (0 decimals)" in page
    assert "prorated sum (mean of answered items x number of items)" in page
    assert "www.proqol.org" in page and "Item wording: not included." in page
    # sensitive flag and the wording of an open instrument
    assert re.search(r"<td>wf_lived_exp</td><td>Do you have lived experience.*?</td>", page)
    row = re.search(r"<tr><td>wf_lived_exp</td>(.*?)</tr>", page).group(1)
    assert row.count("<td>yes</td>") == 1  # sensitive yes, not reverse/required


def test_codebook_pdf_has_items_bands_and_licence(tmp_path):
    out = field_instruments(own("proqol5"), "codebook", tmp_path / "codebook.pdf")
    text = pdf_text(out)
    for expected in (
        "pq01",
        "pq30",
        "compassion_satisfaction",
        "Low: 22 or less",
        "www.proqol.org",
        "at least 8 of 10",
    ):
        assert expected in text
    assert out.with_suffix(".typ").is_file()


def test_codebook_shows_attached_wording(tmp_path):
    attach_placeholder(tmp_path, "proqol5")
    page = field_instruments(own("proqol5"), "codebook", tmp_path / "c.html").read_text()
    assert "<td>pq01</td><td>proqol5 item 1 wording supplied by the user</td>" in page
    assert "attached by the user" in page


# --- plan ------------------------------------------------------------------------------------


def test_plan_blocks_follow_response_scale_runs(tmp_path):
    attach_placeholder(tmp_path, "cbi")
    cbi = build_plan(own("cbi")).sections[0]
    # cbi01-06 frequency, 07-09 degree, 10-13 frequency, 14-17 degree, 18-19 frequency
    assert [(b.name, len(b.questions)) for b in cbi.blocks] == [
        ("cbi_frequency5", 6),
        ("cbi_degree5", 3),
        ("cbi_frequency5_2", 4),
        ("cbi_degree5_2", 4),
        ("cbi_frequency5_3", 2),
    ]
    assert all(b.matrix for b in cbi.blocks)


def test_plan_rejects_duplicate_items_and_missing_language(tmp_path):
    with pytest.raises(FieldingError, match="same instrument is listed twice|is in both"):
        build_plan(own("workforce-context", "workforce-context"))
    with pytest.raises(FieldingError, match="no wording in es"):
        build_plan(own("workforce-context"), languages=["es"])


def test_unknown_format_and_wrong_suffix(tmp_path):
    with pytest.raises(FieldingError, match="unknown format 'spss'"):
        field_instruments(own("workforce-context"), "spss", tmp_path / "x.sav")
    with pytest.raises(FieldingError, match=r"ending in \.xlsx"):
        field_instruments(own("workforce-context"), "xlsform", tmp_path / "x.csv")


# --- XLSForm ---------------------------------------------------------------------------------


def test_xlsform_sheets_and_rows(tmp_path):
    out = field_instruments(
        own("workforce-context", "structural-conditions"),
        "xlsform",
        tmp_path / "form.xlsx",
        consent_text="We ask for your consent.",
    )
    wb = load_workbook(out)
    assert wb.sheetnames == ["survey", "choices", "settings"]
    survey = sheet_rows(wb["survey"])
    by_name = {r["name"]: r for r in survey}
    assert survey[0] == {
        **survey[0],
        "type": "note",
        "name": "consent_note",
        "label": "We ask for your consent.",
    }
    assert [r["name"] for r in survey if r["type"] == "begin_group"] == [
        "workforce_context",
        "structural_conditions",
    ]
    assert [r["name"] for r in survey if r["type"] == "end_group"] == [
        "workforce_context",
        "structural_conditions",
    ]
    assert by_name["sc_pay1"]["type"] == "select_one structural_conditions_agree5"
    assert by_name["sc_pay1"]["appearance"] == "likert"
    assert by_name["wf_role"]["type"] == "select_one workforce_context_role"
    assert by_name["wf_role"]["appearance"] is None
    assert by_name["wf_peer_role"]["type"] == "select_one workforce_context_yesno"
    assert by_name["wf_org"]["required"] == "yes" and by_name["wf_role"]["required"] is None
    assert by_name["wf_hours"]["type"] == "integer"
    assert by_name["wf_hours"]["constraint"] == ". >= 0 and . <= 80"
    assert by_name["structural_conditions_recall"]["label"].endswith("the past 12 months.")
    assert "CC BY 4.0" in by_name["structural_conditions_licence"]["label"]
    item_ids = [r["name"] for r in survey if r["type"] not in ("note", "begin_group", "end_group")]
    expected = [
        *resolve_instrument("workforce-context").item_ids,
        *resolve_instrument("structural-conditions").item_ids,
    ]
    assert item_ids == expected

    choices = sheet_rows(wb["choices"])
    agree = [
        (c["name"], c["label"]) for c in choices if c["list_name"] == "structural_conditions_agree5"
    ]
    assert agree[0] == ("1", "Strongly disagree") and agree[-1] == ("5", "Strongly agree")
    assert len(agree) == 5  # one shared list, not one per item
    assert sorted(c["name"] for c in choices if c["list_name"] == "workforce_context_yesno") == [
        "0",
        "1",
    ]
    settings = sheet_rows(wb["settings"])[0]
    assert settings["form_id"] == "workforce_context_structural_conditions"


def test_xlsform_converts_with_pyxform(tmp_path):
    out = field_instruments(
        own("workforce-context", "structural-conditions"), "xlsform", tmp_path / "form.xlsx"
    )
    warnings: list[str] = []
    xform = convert(xlsform=str(out), warnings=warnings).xform
    assert warnings == []
    for item_id in ("wf_org", "wf_hours", "wf_lived_exp", "sc_pay1", "sc_leave3"):
        assert f"<{item_id}/>" in xform
    bind = re.search(r'<bind nodeset="/[^"]*/wf_org"[^>]*>', xform).group(0)
    assert 'required="true()"' in bind
    hours = re.search(r'<bind nodeset="/[^"]*/wf_hours"[^>]*>', xform).group(0)
    assert "constraint=" in hours and 'type="int"' in hours


def test_xlsform_two_languages_with_licensed_wording(tmp_path):
    attach_placeholder(tmp_path, "proqol5", languages=("en", "es"))
    out = field_instruments(own("proqol5"), "xlsform", tmp_path / "pq.xlsx")
    wb = load_workbook(out)
    header = next(wb["survey"].iter_rows(values_only=True))
    assert "label::English (en)" in header and "label::Spanish (es)" in header
    assert "label" not in header
    rows = {r["name"]: r for r in sheet_rows(wb["survey"])}
    assert (
        rows["pq02"]["label::Spanish (es)"] == "proqol5 item 2 texto proporcionado por el usuario"
    )
    assert "www.proqol.org" in rows["proqol5_licence"]["label::English (en)"]
    assert sheet_rows(wb["settings"])[0]["default_language"] == "English (en)"
    xform = convert(xlsform=str(out)).xform
    assert 'lang="Spanish (es)"' in xform and "<pq30/>" in xform


# --- REDCap ----------------------------------------------------------------------------------


def test_redcap_header_matches_a_real_redcap_export(tmp_path):
    with real_fixture("redcap/REDCapR_checkboxes-1_dictionary.csv").open(newline="") as fh:
        real_header = next(csv.reader(fh))
    out = field_instruments(own("workforce-context"), "redcap", tmp_path / "d.csv")
    with out.open(newline="") as fh:
        ours = next(csv.reader(fh))
    assert ours == real_header == list(REDCAP_COLUMNS)


def test_redcap_dictionary_rows(tmp_path):
    attach_placeholder(tmp_path, "proqol5")
    out = field_instruments(own("workforce-context", "proqol5"), "redcap", tmp_path / "d.csv")
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by = {r["Variable / Field Name"]: r for r in rows}
    assert rows[0]["Variable / Field Name"] == "record_id"
    assert rows[0]["Form Name"] == "workforce_context"
    assert by["pq01"]["Form Name"] == "proqol5"
    assert by["pq01"]["Field Type"] == "radio"
    assert by["pq01"]["Choices, Calculations, OR Slider Labels"] == (
        "1, Never | 2, Rarely | 3, Sometimes | 4, Often | 5, Very Often"
    )
    assert {
        r["Matrix Group Name"]
        for r in rows
        if r["Form Name"] == "proqol5" and r["Field Type"] == "radio"
    } == {"proqol5_freq5"}
    assert by["wf_lived_exp"]["Identifier?"] == "y" and by["wf_role"]["Identifier?"] == ""
    assert by["wf_peer_role"]["Field Type"] == "yesno"
    assert by["wf_org"]["Required Field?"] == "y"
    assert (
        by["wf_hours"]["Text Validation Type OR Show Slider Number"],
        by["wf_hours"]["Text Validation Min"],
        by["wf_hours"]["Text Validation Max"],
    ) == ("integer", "0", "80")
    licence = by["proqol5_licence"]
    assert licence["Field Type"] == "descriptive"
    assert "Center for Victims of Torture, www.proqol.org" in licence["Field Label"]
    assert by["proqol5_recall"]["Section Header"].startswith("Professional Quality of Life")


def test_redcap_field_names_fit_redcap_limits(tmp_path):
    attach_placeholder(tmp_path, "cbi")
    instruments = own("structural-conditions", "cbi")
    out = field_instruments(instruments, "redcap", tmp_path / "d.csv")
    back = read_redcap_dictionary(out)
    assert back.field_name.str.len().max() <= 26
    assert back.field_name.is_unique
    assert "structural_conditi_licence" in back.field_name.tolist()
    assert back.matrix_group[back.form_name == "cbi"].unique().tolist() == [
        "",
        "cbi_frequency5",
        "cbi_degree5",
        "cbi_frequency5_2",
        "cbi_degree5_2",
        "cbi_frequency5_3",
    ]


def test_redcap_dictionary_round_trips(tmp_path):
    attach_placeholder(tmp_path, "stss")
    instruments = own("workforce-context", "stss")
    plan = build_plan(instruments)
    out = field_instruments(instruments, "redcap", tmp_path / "d.csv")
    back = read_redcap_dictionary(out).set_index("field_name")
    for q in plan.questions:
        assert back.loc[q.id, "label"] == q.text["en"]
        assert back.loc[q.id, "choices"] == dict(q.choices)
        assert back.loc[q.id, "identifier"] == q.sensitive
        assert back.loc[q.id, "required"] == q.required


def test_redcap_reader_reads_real_dictionaries():
    ui = read_redcap_dictionary(real_fixture("redcap/REDCapR_checkboxes-1_dictionary.csv"))
    assert ui.field_name.tolist()[0] == "record_id"
    coded = {row.field_name: row.choices for row in ui.itertuples()}
    assert {"a", "b"} <= set(next(c for c in coded.values() if "a" in c))
    assert {1: "one", 2: "two", 3: "three", 4: "four"} in coded.values()
    assert parse_choices("1, Under $30,000 | 2, More") == {1: "Under $30,000", 2: "More"}


def test_redcap_reader_reads_the_real_api_metadata():
    api = read_redcap_dictionary(real_fixture("redcap/redcapAPI_extdata_metadata.csv"))
    assert "field_name" in api.columns and len(api) > 10
    assert (api.field_type == "descriptive").any()
    assert parse_choices("1, Under $30,000 | 2, More") == {1: "Under $30,000", 2: "More"}


# --- Qualtrics -------------------------------------------------------------------------------


def test_qsf_structure_and_round_trip(tmp_path):
    attach_placeholder(tmp_path, "proqol5")
    instruments = own("proqol5", "workforce-context")
    out = field_instruments(instruments, "qualtrics", tmp_path / "s.qsf")
    qsf = json.loads(out.read_text(encoding="utf-8"))
    assert set(qsf) == {"SurveyEntry", "SurveyElements"}
    assert qsf["SurveyEntry"]["SurveyID"].startswith("SV_")
    kinds = [e["Element"] for e in qsf["SurveyElements"]]
    assert kinds.count("BL") == 1 and kinds.count("FL") == 1
    blocks = next(e for e in qsf["SurveyElements"] if e["Element"] == "BL")["Payload"]
    assert [b["Description"] for b in blocks] == [
        "Consent",
        instruments[0].title,
        instruments[1].title,
    ]
    questions = {
        e["Payload"]["QuestionID"]: e["Payload"]
        for e in qsf["SurveyElements"]
        if e["Element"] == "SQ"
    }
    assert sum(len(b["BlockElements"]) for b in blocks) == len(questions)
    matrix = next(q for q in questions.values() if q["QuestionType"] == "Matrix")
    assert (matrix["Selector"], matrix["SubSelector"]) == ("Likert", "SingleAnswer")
    assert list(matrix["ChoiceDataExportTags"].values()) == list(instruments[0].item_ids)
    assert list(matrix["RecodeValues"].values()) == ["1", "2", "3", "4", "5"]
    licence = next(q for q in questions.values() if q["DataExportTag"] == "proqol5_licence")
    assert (licence["QuestionType"], licence["Selector"]) == ("DB", "TB")
    assert "www.proqol.org" in licence["QuestionText"]
    role = next(q for q in questions.values() if q["DataExportTag"] == "wf_role")
    assert (role["QuestionType"], role["Selector"]) == ("MC", "SAVR")
    org = next(q for q in questions.values() if q["DataExportTag"] == "wf_org")
    assert org["Validation"]["Settings"]["ForceResponse"] == "ON"

    plan = build_plan(instruments)
    back = read_qsf(out)
    assert [b.item_id for b in back] == [q.id for q in plan.questions]
    for b, q in zip(back, plan.questions, strict=True):
        assert b.codes == tuple(c for c, _ in q.choices)
        assert b.labels == tuple(label for _, label in q.choices)


def test_qsf_reader_rejects_other_json(tmp_path):
    bad = tmp_path / "x.qsf"
    bad.write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="x.qsf: not a Qualtrics .qsf file"):
        read_qsf(bad)


# --- LimeSurvey ------------------------------------------------------------------------------


def test_limesurvey_layout_matches_real_export_and_round_trips(tmp_path):
    with real_fixture("limesurvey/limonaid_testing-export.txt").open(newline="") as fh:
        real_header = next(csv.reader(fh, delimiter="\t"))
    assert list(LIMESURVEY_COLUMNS[:14]) == real_header[:14]
    assert set(LIMESURVEY_COLUMNS) <= set(real_header)

    attach_placeholder(tmp_path, "proqol5")
    instruments = own("workforce-context", "structural-conditions", "proqol5")
    out = field_instruments(instruments, "limesurvey", tmp_path / "s.txt")
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    groups = [r["name"] for r in rows if r["class"] == "G"]
    assert groups == ["Consent", *(i.title for i in instruments)]
    arrays = [r for r in rows if r["class"] == "Q" and r["type/scale"] == "F"]
    assert "proqol5L1" in [r["name"] for r in arrays]
    pq_array = next(r for r in arrays if r["name"] == "proqol5L1")
    subs = [r["name"] for r in rows if r["class"] == "SQ" and r["related_id"] == pq_array["id"]]
    assert subs == list(resolve_instrument("proqol5").item_ids)
    answers = [r["name"] for r in rows if r["class"] == "A" and r["id"] == pq_array["id"]]
    assert answers == ["1", "2", "3", "4", "5"]
    pq_group = next(r for r in rows if r["class"] == "G" and r["name"].startswith("Professional"))
    assert "www.proqol.org" in pq_group["text"] and "last 30 days" in pq_group["text"]

    plan = build_plan(instruments)
    code_to_item = limesurvey_item_map(plan)
    back = read_limesurvey(out)
    assert [code_to_item[b.item_id] for b in back] == [q.id for q in plan.questions]
    for b, q in zip(back, plan.questions, strict=True):
        assert b.codes == tuple(c for c, _ in q.choices)
        assert b.labels == tuple(label for _, label in q.choices)
    assert limesurvey_code("sc_pay1") == "scpay1"


def test_limesurvey_reader_reads_the_real_export():
    items = read_limesurvey(real_fixture("limesurvey/limonaid_testing-export.txt"))
    assert items == [
        (
            "onlyQuestion",
            (1, 2),
            ("This is the first answer option", "This is the second answer option"),
        )
    ]


def test_limesurvey_two_languages_repeat_rows(tmp_path):
    attach_placeholder(tmp_path, "stss", languages=("en", "es"))
    out = field_instruments(own("stss"), "limesurvey", tmp_path / "s.txt")
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    settings = {r["name"]: r["text"] for r in rows if r["class"] == "S"}
    assert (settings["language"], settings["additional_languages"]) == ("en", "es")
    sq = [r for r in rows if r["class"] == "SQ" and r["name"] == "stss01"]
    assert {r["language"]: r["text"] for r in sq} == {
        "en": "stss item 1 wording supplied by the user",
        "es": "stss item 1 texto proporcionado por el usuario",
    }


# --- paper -----------------------------------------------------------------------------------


def test_paper_pdf_has_notice_recall_consent_items_and_boxes(tmp_path):
    attach_placeholder(tmp_path, "proqol5", adapted=True)
    out = field_instruments(
        own("proqol5", "workforce-context"),
        "paper",
        tmp_path / "form.pdf",
        consent_text="Consent paragraph for this study.",
    )
    text = pdf_text(out)
    assert "Consent paragraph for this study." in text
    assert "Center for Victims of Torture, www.proqol.org" in text
    assert "adapted from the ProQOL" in text
    assert "last 30 days" in text
    assert "CC BY 4.0" in text
    for item_id in ("pq01", "pq30", "wf_role", "wf_hours"):
        assert item_id in text
    assert "proqol5 item 17 wording supplied by the user" in text
    assert "Very Often" in text and "Prefer not to say" in text


def test_paper_docx_has_notice_items_and_boxes(tmp_path):
    attach_placeholder(tmp_path, "proqol5")
    out = field_instruments(own("proqol5"), "paper", tmp_path / "form.docx")
    doc = Document(out)
    paragraphs = "\n".join(p.text for p in doc.paragraphs)
    assert "www.proqol.org" in paragraphs and "last 30 days" in paragraphs
    assert "\u2610 I agree to take part." in paragraphs
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells][2:] == [
        "Never",
        "Rarely",
        "Sometimes",
        "Often",
        "Very Often",
    ]
    first = [c.text for c in table.rows[1].cells]
    assert first[0] == "pq01" and first[2:] == [f"\u2610 {c}" for c in range(1, 6)]
    assert len(table.rows) == 31


# --- CLI -------------------------------------------------------------------------------------


def test_cli_fields_open_instruments(tmp_path):
    out = tmp_path / "dict.csv"
    result = CliRunner().invoke(
        main,
        [
            "field",
            "-i",
            "workforce-context",
            "-i",
            "structural-conditions",
            "--to",
            "redcap",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Wrote redcap" in result.output
    assert "sc_leave3" in read_redcap_dictionary(out).field_name.tolist()


def test_cli_refuses_licensed_instrument_with_exit_code_2(tmp_path):
    result = CliRunner().invoke(
        main, ["field", "-i", "proqol5", "--to", "xlsform", "-o", str(tmp_path / "f.xlsx")]
    )
    assert result.exit_code == 2
    assert ATTACH_HINT in result.output
    assert "Traceback" not in result.output


def test_cli_language_and_consent_options(tmp_path):
    attach_placeholder(tmp_path, "proqol5", languages=("en", "es"))
    consent = tmp_path / "consent.txt"
    consent.write_text("Consentimiento informado.\n", encoding="utf-8")
    out = tmp_path / "pq.docx"
    args = ["field", "-i", "proqol5", "--to", "paper", "-o", str(out), "--language", "es"]
    result = CliRunner().invoke(main, [*args, "--consent", str(consent)])
    assert result.exit_code == 0, result.output
    doc = Document(out)
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Consentimiento informado." in text
    assert (
        doc.tables[0].rows[1].cells[1].text == "proqol5 item 1 texto proporcionado por el usuario"
    )


def test_cli_study_folder(tmp_path):
    study = tmp_path / "study"
    init_study(study, ["workforce-context", "structural-conditions"], title="Pilot 2026")
    result = CliRunner().invoke(
        main, ["field", str(study), "--to", "qualtrics", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "workforce-context_structural-conditions.qsf"
    qsf = json.loads(out.read_text(encoding="utf-8"))
    assert qsf["SurveyEntry"]["SurveyName"] == "Pilot 2026"
    assert [i.item_id for i in read_qsf(out)][-1] == "sc_leave3"


def test_cli_study_folder_without_study_yaml(tmp_path):
    result = CliRunner().invoke(main, ["field", str(tmp_path), "--to", "redcap", "-o", "x.csv"])
    assert result.exit_code == 2
    assert "not a study folder" in result.output
    assert "Traceback" not in result.output


# --- a user's own instrument -----------------------------------------------------------------

OWN_YAML = """
id: own-check
title: Own check-in
version: "1"
citation: Our team (2026).
licence:
  holder: Our team
  terms: Internal use
  wording_included: true
response_scales:
  zero4: {type: likert, min: 0, max: 4}
  sleep: {type: numeric, min: 0, max: 12.5}
  free: {type: text}
items:
  - {id: oc_mood, scale: zero4, required: true, text: {en: "How is your mood?"}}
  - {id: oc_sleep, scale: sleep, text: {en: "Hours of sleep last night?"}}
  - {id: oc_note, scale: free, text: {en: "Anything else?"}}
scales:
  - {id: mood, label: Mood, items: [oc_mood], method: sum, min_answered: 1}
"""


def test_own_instrument_unlabelled_likert_decimal_and_text(tmp_path):
    path = tmp_path / "own-check.yaml"
    path.write_text(OWN_YAML, encoding="utf-8")
    inst = [resolve_instrument(path)]
    wb = load_workbook(field_instruments(inst, "xlsform", tmp_path / "f.xlsx"))
    rows = {r["name"]: r for r in sheet_rows(wb["survey"])}
    assert rows["oc_mood"]["type"] == "select_one own_check_zero4"
    assert [c["name"] for c in sheet_rows(wb["choices"])] == ["0", "1", "2", "3", "4"]
    assert rows["oc_sleep"]["type"] == "decimal"
    assert rows["oc_sleep"]["constraint"] == ". >= 0 and . <= 12.5"
    assert rows["oc_note"]["type"] == "text"
    assert "own_check_recall" not in rows  # no recall period given
    convert(xlsform=str(tmp_path / "f.xlsx"))

    back = read_redcap_dictionary(field_instruments(inst, "redcap", tmp_path / "d.csv"))
    by = back.set_index("field_name")
    assert by.loc["oc_mood", "choices"] == {0: "0", 1: "1", 2: "2", 3: "3", 4: "4"}
    assert (by.loc["oc_sleep", "validation"], by.loc["oc_sleep", "max"]) == ("number", "12.5")
    assert by.loc["oc_note", "field_type"] == "notes"
    assert read_qsf(field_instruments(inst, "qualtrics", tmp_path / "q.qsf"))[2] == (
        "oc_note",
        (),
        (),
    )


def test_item_ids_that_cannot_be_field_names_are_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(OWN_YAML.replace("oc_note", "OcNote"), encoding="utf-8")
    with pytest.raises(FieldingError, match="item id 'OcNote' cannot be a field name"):
        field_instruments([resolve_instrument(path)], "redcap", tmp_path / "d.csv")


def test_xlsform_version_is_reproducible_and_changes_with_the_form(tmp_path):
    def version(consent: str, name: str) -> str:
        out = field_instruments(own("workforce-context"), "xlsform", tmp_path / name,
                                consent_text=consent)
        ws = load_workbook(out)["settings"]
        header = [c.value for c in ws[1]]
        return ws.cell(row=2, column=header.index("version") + 1).value

    first, again = version("Consent A.", "a.xlsx"), version("Consent A.", "b.xlsx")
    assert first == again
    assert version("Consent B.", "c.xlsx") != first
