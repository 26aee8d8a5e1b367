"""The organisation profile instrument: fielding to every platform, ingest keyed by
organisation and wave, quarantine of second profiles, personal data kept out of the store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from pyxform.xls2xform import convert

from fieldsurvey.cli import main
from fieldsurvey.fielding import (
    build_plan,
    field_instruments,
    read_limesurvey,
    read_qsf,
    read_redcap_dictionary,
)
from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.profiles import ingest_profiles
from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.store import init_study
from fieldsurvey.store.database import read_store
from fieldsurvey.store.profiles import load_profiles, profile_columns

PROFILE = resolve_instrument("org-profile")


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDSURVEY_HOME", str(tmp_path / "home"))


@pytest.fixture
def study(tmp_path):
    return init_study(tmp_path / "study", ["workforce-context", "proqol5"], org_column="wf_org",
                      waves=["2025", "2026"])


def write(path: Path, rows: list[dict]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def profile_row(org: str, **answers) -> dict:
    base = {"response_id": f"P-{org}", "op_org": org, "op_service": 2, "op_region": "London",
            "op_staff": 14, "op_volunteers": 3, "op_peer_led": 2, "op_currency": 2,
            "op_pay_cm": 12.1, "op_pay_cm_per": 1, "op_n_cm": 5, "op_pay_sup": 31500,
            "op_pay_sup_per": 2, "op_n_sup": 2, "op_train_hours": 40, "op_leavers": 3,
            "op_caseload": 18.5, "op_reflective_sup": 1}
    return {**base, **answers}


# --- the instrument and its fielding -------------------------------------------------------


def test_profile_is_our_own_cc_by_instrument_without_scales():
    assert PROFILE.licence.wording_included and "CC BY 4.0" in PROFILE.licence.terms
    assert PROFILE.scales == ()
    assert all(it.text and it.text["en"] for it in PROFILE.items)
    for role in ("ds", "cm", "adv", "peer", "sup"):
        for suffix in ("", "_per"):
            assert f"op_pay_{role}{suffix}" in PROFILE.item_ids
        assert f"op_n_{role}" in PROFILE.item_ids


def test_xlsform_converts_with_pyxform(tmp_path):
    out = field_instruments([PROFILE], "xlsform", tmp_path / "profile.xlsx")
    warnings: list[str] = []
    xform = convert(xlsform=str(out), warnings=warnings).xform
    assert warnings == []
    for item in PROFILE.item_ids:
        assert f"<{item}/>" in xform
    pay = re.search(r'<bind nodeset="/[^"]*/op_pay_cm"[^>]*>', xform).group(0)
    assert 'type="decimal"' in pay  # 12.60 per hour must be accepted
    org = re.search(r'<bind nodeset="/[^"]*/op_org"[^>]*>', xform).group(0)
    assert 'required="true()"' in org


@pytest.mark.parametrize("platform,suffix,reader", [
    ("qualtrics", ".qsf", read_qsf), ("limesurvey", ".txt", read_limesurvey)])
def test_qualtrics_and_limesurvey_files_read_back(tmp_path, platform, suffix, reader):
    out = field_instruments([PROFILE], platform, tmp_path / f"profile{suffix}")
    plan = build_plan([PROFILE])
    back = {b.item_id: b for b in reader(out)}
    for q in plan.questions:
        key = q.id if q.id in back else q.id.replace("_", "")
        assert key in back, q.id
        assert back[key].codes == tuple(c for c, _ in q.choices)


def test_redcap_dictionary_reads_back(tmp_path):
    out = field_instruments([PROFILE], "redcap", tmp_path / "dictionary.csv")
    back = read_redcap_dictionary(out).set_index("field_name")
    assert set(PROFILE.item_ids) <= set(back.index)
    assert back.loc["op_peer_led", "choices"] == {1: "Yes, peer-led work is our main model",
                                                  2: "Yes, some of our programmes", 3: "No"}


@pytest.mark.parametrize("suffix", [".html", ".pdf"])
def test_codebook_of_an_instrument_without_scales(tmp_path, suffix):
    out = field_instruments([PROFILE], "codebook", tmp_path / f"codebook{suffix}")
    assert out.stat().st_size > 0
    if suffix == ".html":
        assert "op_pay_cm_per" in out.read_text()


# --- ingest ------------------------------------------------------------------------------


def test_ingest_stores_one_row_per_organisation_and_wave(study, tmp_path):
    path = write(tmp_path / "p.csv", [profile_row("O01"), profile_row("O02", op_pay_cm=24000,
                                                                       op_pay_cm_per=2)])
    summary = ingest_profiles(study, path, wave="2026")
    assert (summary.rows_read, summary.stored, summary.quarantined) == (2, 2, 0)
    stored = load_profiles(study)
    assert stored[["org", "wave"]].values.tolist() == [["O01", "2026"], ["O02", "2026"]]
    first = stored.set_index("org").loc["O01"]
    assert first["op_pay_cm"] == pytest.approx(12.1) and first["op_pay_cm_per"] == 1
    assert first["op_region"] == "London" and first["op_caseload"] == pytest.approx(18.5)
    assert pd.isna(first["op_pay_ds"])  # no such role
    assert list(stored.columns[5:]) == list(profile_columns(PROFILE))
    # Profiles are not staff responses.
    assert read_store(study, {"n": "SELECT count(*) AS n FROM responses"})["n"]["n"][0] == 0


def test_second_profile_in_the_file_is_quarantined_with_its_reason(study, tmp_path):
    path = write(tmp_path / "p.csv", [profile_row("O01"), profile_row("O02"),
                                      profile_row("O01", response_id="P-again", op_staff=15)])
    summary = ingest_profiles(study, path, wave="2026")
    assert (summary.stored, summary.quarantined) == (2, 1)
    q = read_store(study, {"q": "SELECT * FROM profile_quarantine"})["q"]
    assert q["reason"].tolist() == [
        "second profile for organisation 'O01', wave '2026' in this file (first at row 2)"]
    assert q["source_row"].tolist() == [4] and q["response_id"].tolist() == ["P-again"]
    assert load_profiles(study).set_index("org").loc["O01", "op_staff"] == 14


def test_same_organisation_in_another_wave_is_a_new_profile(study, tmp_path):
    ingest_profiles(study, write(tmp_path / "a.csv", [profile_row("O01")]), wave="2025")
    summary = ingest_profiles(study, write(tmp_path / "b.csv", [profile_row("O01", op_staff=20)]),
                              wave="2026")
    assert summary.stored == 1
    assert load_profiles(study)["wave"].tolist() == ["2025", "2026"]


def test_a_later_file_never_replaces_a_stored_profile(study, tmp_path):
    ingest_profiles(study, write(tmp_path / "a.csv", [profile_row("O01")]), wave="2026")
    again = ingest_profiles(study, write(tmp_path / "b.csv", [profile_row("O01"),
                                                              profile_row("O03")]), wave="2026")
    assert (again.stored, again.quarantined) == (1, 1)
    assert again.quarantine_rows["identical profile already stored in batch 1"][0]["row"] == 2
    changed = ingest_profiles(study, write(tmp_path / "c.csv", [profile_row("O01", op_staff=99)]),
                              wave="2026")
    assert (changed.stored, changed.quarantined) == (0, 1)
    (reason,) = changed.quarantine_reasons
    assert reason.startswith("a profile for organisation 'O01', wave '2026' is already stored "
                             "(batch 1) with other answers")
    assert load_profiles(study).set_index("org").loc["O01", "op_staff"] == 14
    assert ingest_profiles(study, tmp_path / "c.csv", wave="2026").already_ingested
    batches = read_store(study, {"b": "SELECT * FROM profile_batches"})["b"]
    assert (batches["rows_read"] == batches["stored"] + batches["quarantined"]).all()


def test_invalid_answers_and_missing_organisation_are_quarantined(study, tmp_path):
    path = write(tmp_path / "p.csv", [profile_row("O01", op_peer_led=7),
                                      profile_row("O02", op_pay_cm=-3),
                                      profile_row("", response_id="P-none"),
                                      profile_row("O04")])
    summary = ingest_profiles(study, path, wave="2026")
    assert summary.stored == 1
    reasons = read_store(study, {"q": "SELECT source_row, reason, cells FROM profile_quarantine "
                                      "ORDER BY source_row"})["q"]
    assert reasons["reason"].tolist() == [
        "column op_peer_led: outside the response scale 1..3 (value '7')",
        "column op_pay_cm: outside the response scale 0..1e+06 (value '-3.0')",
        "no organisation (column op_org empty)",
    ]
    assert json.loads(reasons["cells"][0]) == {"op_peer_led": "7"}


def test_personal_data_never_reaches_the_store(study, tmp_path):
    rows = [profile_row("O01", contact_email="director@example.org"),
            profile_row("O02", contact_email="hr@example.org", op_region="jo@example.org"),
            profile_row("O03", contact_email="ceo@example.org")]
    summary = ingest_profiles(study, write(tmp_path / "p.csv", rows), wave="2026")
    assert summary.stored == 2
    assert any(d["column"] == "contact_email" for d in summary.dropped_personal)
    con_text = json.dumps({name: frame.astype(str).to_dict() for name, frame in read_store(
        study, {t: f"SELECT * FROM {t}" for t in
                ("org_profiles", "profile_quarantine", "profile_batches")}).items()})
    assert "example.org" not in con_text
    assert "personal data (e-mail address)" in con_text


def test_bad_wave_is_one_clear_error(study, tmp_path):
    path = write(tmp_path / "p.csv", [profile_row("O01")])
    with pytest.raises(IngestError, match=r"p.csv: whole file: wave '2027' is not one of"):
        ingest_profiles(study, path, wave="2027")


def test_cli_ingests_profiles_and_exits_2_on_bad_input(study, tmp_path):
    path = write(tmp_path / "p.csv", [profile_row("O01"), profile_row("O01", response_id="x")])
    runner = CliRunner()
    ok = runner.invoke(main, ["ingest", str(study.root), str(path), "--wave", "2026",
                              "--profile", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    summary = json.loads(ok.output)
    assert (summary["stored"], summary["quarantined"]) == (1, 1)
    none = write(tmp_path / "none.csv", [{"response_id": "a", "nothing": 1}])
    bad = runner.invoke(main, ["ingest", str(study.root), str(none), "--profile"])
    assert bad.exit_code == 2
    assert "no column of this file is an item of the profile instrument 'org-profile'" in bad.output
