"""Fielded forms read back by ingest's own form/dictionary readers (the platform round trip).

These use the ingest package's readers, not fielding's, so a change on either side that breaks
the hand-over (field names, codes, labels) fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fieldsurvey.fielding import build_plan, field_instruments, limesurvey_item_map
from fieldsurvey.ingest.kobo import read_kobo_form
from fieldsurvey.ingest.limesurvey import read_limesurvey_structure
from fieldsurvey.ingest.redcap import parse_choices, read_redcap_dictionary
from fieldsurvey.instrument import attach_wording, resolve_instrument

AGREE = {
    "1": "Strongly disagree",
    "2": "Disagree",
    "3": "Neither agree nor disagree",
    "4": "Agree",
    "5": "Strongly agree",
}


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDSURVEY_HOME", str(tmp_path / "home"))


def instruments(tmp_path: Path):
    # Placeholder wording only; never real ProQOL item wording.
    ids = resolve_instrument("proqol5").item_ids
    items = {i: f"proqol5 item {n} wording supplied by the user" for n, i in enumerate(ids, 1)}
    source = tmp_path / "pq.yaml"
    source.write_text(yaml.safe_dump({"items": items}), encoding="utf-8")
    attach_wording("proqol5", source)
    return [
        resolve_instrument(i) for i in ("workforce-context", "structural-conditions", "proqol5")
    ]


def test_xlsform_read_by_ingest_kobo_form_reader(tmp_path):
    insts = instruments(tmp_path)
    form = read_kobo_form(field_instruments(insts, "xlsform", tmp_path / "f.xlsx"))
    assert form.value_labels("sc_pay1") == AGREE
    assert form.value_labels("pq01")["5"] == "Very Often"
    assert form.value_labels("wf_peer_role") == {"0": "No", "1": "Yes"}
    names = set(form.questions["name"])
    assert {q.id for q in build_plan(insts).questions} <= names


def test_redcap_dictionary_read_by_ingest_reader(tmp_path):
    insts = instruments(tmp_path)
    plan = build_plan(insts)
    frame = read_redcap_dictionary(field_instruments(insts, "redcap", tmp_path / "d.csv"))
    by_name = frame.set_index("field_name")
    for q in plan.questions:
        if by_name.loc[q.id, "field_type"] == "radio":
            choices = by_name.loc[q.id, "select_choices_or_calculations"]
            assert parse_choices(choices) == {str(c): label for c, label in q.choices}
    assert by_name.loc["wf_lived_exp", "identifier"] == "y"


def test_limesurvey_structure_read_by_ingest_reader(tmp_path):
    insts = instruments(tmp_path)
    plan = build_plan(insts)
    structure = read_limesurvey_structure(
        field_instruments(insts, "limesurvey", tmp_path / "s.txt")
    )
    assert structure.value_labels["proqol5L1[pq01]"]["5"] == "Very Often"
    assert structure.value_labels["structuralcondiL1[scpay1]"] == AGREE
    assert structure.question_types["wfhours"] == "N"
    # Every fielded item is a response column whose code maps back to the item id.
    code_to_item = limesurvey_item_map(plan)
    columns = list(structure.value_labels) + ["wforg", "wfhours"]
    mapped = {code_to_item[c.split("[")[-1].rstrip("]")] for c in columns}
    assert mapped == {q.id for q in plan.questions}
