"""Personal data never reaches the store, the exports or the reports: searched as bytes.

A file carries personal data under more than twenty column names and shapes (the ones of
issue 14, headers in other languages, harmless names with personal content, a column whose
name is an e-mail address), in the response-id column and in answer cells. After ingest, every
table of the store is dumped and searched, and so are the store file, every export format and
every report file (zip members and PDF streams decompressed): not one planted value is found.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from fieldsurvey.disclosure.microdata import export_microdata
from fieldsurvey.ingest.personal_data import (
    content_reason,
    generic_reason,
    personal_kind,
    redact_personal,
    shown_value,
)
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.report.build import build_reports
from fieldsurvey.store import init_study, load_responses, open_study
from fieldsurvey.store.export_data import FORMATS, export_data
from fieldsurvey.synthetic import generate_coalition
from test_report_content import EPOCH, INSTRUMENTS

N = 60
#: column name -> the value planted in row i (every value distinct and findable).
PLANTED = {
    "Your name (optional)": lambda i: f"Amelia Hartwellquince{chr(97 + i % 26)}",
    "Contact": lambda i: f"amelia.hq{i}@example.org",
    "WhatsApp": lambda i: f"+44 7700 9{i:05d}",
    "tel": lambda i: f"07700 8{i:05d}",
    "Respondent": lambda i: f"Bartholomew Zeffirelli{chr(97 + i % 26)}",
    "NI number": lambda i: f"QQ 12 {i:02d} 56 C",
    "geo": lambda i: f"51.{50735 + i} -0.{12776 + i} 12.0 5.0",
    "Emergency contact": lambda i: f"Cordelia Vantongeren, 07700 7{i:05d}",
    "Manager": lambda i: "Desmond Okonkwo-Beltrán",
    "Correo electrónico": lambda i: f"lucia.fernandez{i}@ejemplo.es",
    "Teléfono": lambda i: f"+34 612 {i:03d} 678",
    "Dirección": lambda i: f"Calle de Alcalá {100 + i}",
    "Prénom": lambda i: "Eloïsette",
    "Nachname": lambda i: "Schwarzeneggeroakes",
    "Имя": lambda i: "Светланочка",
    # Not 123-45-6789: DuckDB stores hex digests with the symbol table "0123456789abcdef"
    "SSN": lambda i: f"219-{i:02d}-8374",
    "ip": lambda i: f"203.0.113.{i}",
    "Mobile": lambda i: f"07700 6{i:05d}",
    "Adresse": lambda i: f"{i + 1} rue de Rivolimont",
    "Home address": lambda i: f"{i + 1} Elmsworth Grove",
    # Harmless names, personal content:
    "Location": lambda i: f"48.{85837 + i}, 2.{29448 + i}",
    "Q_other": lambda i: f"zz.planted{i}@example.net",
    "Notes": lambda i: f"{200 + i}B Bakerston Street",
    "Extra": lambda i: f"+1 415-555-{i:04d}",
    "Server": lambda i: f"2001:db8:85a3::8a2e:370:{i:04x}",
    # A column whose very name is personal data:
    "maria.lopez@example.com": lambda i: "1",
}
COMMENT = ("Honestly the workload is heavy and nobody listens. My supervisor Ingrid "
           "Bergström-Walsh says to email ingrid.bw{i}@example.org or ring 07700 5{i:05d}.")


def _needles() -> set[str]:
    needles = set()
    for make in PLANTED.values():
        for i in range(N):
            value = make(i)
            needles.add(value)
            needles.update(w for w in re.split(r"[\s,]+", value) if len(w) >= 9)
            digits = re.sub(r"\D", "", value)
            if len(digits) >= 9:
                needles.add(digits)
    needles.discard("1")
    for i in range(N):
        needles.add(f"resp.{i}@example.org")
    for i in range(0, N, 10):
        needles.update({f"ingrid.bw{i}@example.org", f"07700 5{i:05d}"})
    needles.update({"Bergström", "Bergström-Walsh", "maria.lopez@example.com",
                    "ceo@orgmail.example", "07700 400400", "Hartwellquince", "Zeffirelli"})
    return {n for n in needles if len(n) >= 6}


def _planted_file(path: Path) -> pd.DataFrame:
    data = generate_coalition(n_orgs=8, seed=2, waves=1,
                              instruments=("workforce-context", "proqol5", "cbi", "stss",
                                           "structural-conditions")).responses
    data = data.head(N).drop(columns=["org", "wave"]).reset_index(drop=True)
    data["response_id"] = [f"resp.{i}@example.org" for i in range(N)]
    for column, make in PLANTED.items():
        data[column] = [make(i) for i in range(N)]
    data["Comments"] = ["It is fine, thank you for asking about our team and our work here."] * N
    for i in range(0, N, 10):  # a few comments name people: redacted, the column kept
        data.loc[i, "Comments"] = COMMENT.format(i=i)
    data["wf_org"] = data["wf_org"].astype(object)
    data.loc[3, "wf_org"] = "ceo@orgmail.example"  # personal data in an item column
    data["pq01"] = data["pq01"].astype(object)
    data.loc[4, "pq01"] = "07700 400400"  # and in a coded answer
    data.to_csv(path, index=False)
    return data


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("personal")
    study = init_study(root / "study", INSTRUMENTS, org_column="wf_org", waves=["1"])
    raw = yaml.safe_load((study.root / "study.yaml").read_text())
    raw["keep_free_text"] = True
    (study.root / "study.yaml").write_text(yaml.safe_dump(raw))
    study = open_study(study.root)
    path = root / "export.csv"
    data = _planted_file(path)
    summary = ingest_file(study, path, wave="1", platform="table")
    return study, summary, data, root


def test_every_planted_column_is_dropped_and_named(planted):
    _, summary, _, _ = planted
    dropped = {d["column"]: d["reason"] for d in summary.dropped_personal}
    named = {c for c in PLANTED if c != "maria.lopez@example.com"}
    assert named <= set(dropped), named - set(dropped)
    assert dropped["Q_other"].startswith("content: e-mail address")
    assert dropped["Location"].startswith("content: coordinates")
    assert "replaced by keyed hashes" in dropped["response_id"]
    assert summary.rows_read == summary.stored + summary.quarantined == N
    assert summary.quarantined == 2  # the two rows with personal data in item cells
    assert "[column name withheld: e-mail address]" in summary.unmapped_columns


def test_ids_are_keyed_hashes_and_quarantine_keeps_only_offending_cells(planted):
    study, _, _, _ = planted
    stored = load_responses(study, apply_exclusions=False)
    assert stored["response_id"].str.fullmatch(r"pid-[0-9a-f]{20}").all()
    con = duckdb.connect(str(study.store_path), read_only=True)
    try:
        rows = con.execute("SELECT source_row, cells, reason FROM quarantine ORDER BY 1").fetchall()
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'quarantine'").fetchall()]
    finally:
        con.close()
    assert "raw" not in columns
    cells = {row: json.loads(c) for row, c, _ in rows}
    assert cells == {5: {"wf_org": "[withheld: e-mail address]"},
                     6: {"pq01": "[withheld: phone number]"}}
    assert all("personal data" in reason for _, _, reason in rows)


def _dump_store(study, out: Path) -> list[Path]:
    con = duckdb.connect(str(study.store_path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        paths = []
        for table in tables:
            target = out / f"{table}.csv"
            con.execute(f"COPY {table} TO '{target}' (HEADER, DELIMITER ',')")
            paths.append(target)
    finally:
        con.close()
    return paths


def _byte_blobs(path: Path) -> list[bytes]:
    """The file's bytes, plus every zip member and every PDF stream decompressed."""
    raw = path.read_bytes()
    blobs = [raw]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            blobs += [archive.read(name) for name in archive.namelist()]
    if raw.startswith(b"%PDF"):
        for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", raw, re.S):
            try:
                blobs.append(zlib.decompress(stream))
            except zlib.error:
                blobs.append(stream)
    return blobs


def test_no_planted_value_in_any_byte_of_store_exports_or_reports(planted, monkeypatch):
    study, _, _, root = planted
    files = _dump_store(study, root)
    files.append(study.store_path)
    for fmt in FORMATS:
        files.append(export_microdata(study, fmt, root / "out" / f"safe.{fmt}").path)
        files.append(export_data(study, fmt, root / "out" / f"raw.{fmt}"))
    files += list((root / "out").glob("*.json")) + list((root / "out").glob("*.md"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    made = build_reports(study, root / "reports", orgs="all", formats=("html", "docx", "pdf"),
                         engine="pandoc")
    assert made
    files += [p for p in (root / "reports").rglob("*") if p.is_file()]
    free_text = pd.read_csv(root / "free_text.csv")
    assert free_text["answer"].str.contains(r"\[name\]").sum() == N // 10  # kept, redacted
    needles = [n.encode("utf-8") for n in _needles()]
    source = (root / "export.csv").read_bytes()
    control = [n for n in needles if not n.isdigit()]
    assert all(n in source for n in control)  # the search finds what is there
    found = {}
    for path in files:
        for blob in _byte_blobs(path):
            hits = [n for n in needles if n in blob]
            if hits:
                found[str(path.relative_to(root))] = hits[:5]
    assert not found, found


@pytest.mark.parametrize(
    ("value", "kind"),
    [("jo@example.org", "e-mail address"), ("+44 7700 900123", "phone number"),
     ("(020) 7946 0018", "phone number"), ("AB 12 34 56 C", "national insurance / social "
                                          "security number"),
     ("192.168.10.24", "IP address"), ("51.5074, -0.1278", "coordinates"),
     ("221B Baker St", "street address"), ("Hauptstraße 5", "street address"),
     ("SW1A 1AA", "street address"),
     # not personal: answer codes, dates, times, platform ids, versions of scores
     ("4", None), ("2024-03-01 10:22:33", None), ("01/02/2024", None), ("10:11:12", None),
     ("R_1abcDEF", None), ("4385173241", None), ("37.5", None)],
)
def test_content_shapes(value, kind):
    assert personal_kind(value) == kind


def test_names_of_columns_in_other_languages_and_shapes():
    for column in ("Your name (optional)", "Contact", "WhatsApp", "tel", "Respondent",
                   "NI number", "geo", "Emergency contact", "Manager", "Correo electrónico",
                   "Teléfono", "Dirección", "Prénom", "Nachname", "Имя", "Телефон", "Courriel"):
        assert generic_reason(column) is not None, column
    for column in ("pq01", "wf_org", "Organisation name", "RespondentId", "sc_peer1", "Comments"):
        assert generic_reason(column) is None, column


def test_redaction_and_withheld_values():
    text = "Ask my manager Priya Raman (p.raman@x.org, 07700 900123) at 12 High Street."
    assert redact_personal(text) == ("Ask my manager [name] ([e-mail address], [phone number]) "
                                     "at [street address].")
    assert shown_value("jo@example.org") == "[withheld: e-mail address]"
    assert shown_value("x" * 80) == "[withheld: text of 80 characters]"
    assert shown_value("9") == "9"
    column = pd.Series(["a@b.org"] * 3 + [None] * 5 + ["x"])
    assert content_reason(column) == "content: e-mail address in 3 of 4 values"
    assert content_reason(pd.Series(["fine"] * 9 + ["a@b.org"])) is None
