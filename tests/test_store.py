"""Study folders and the study store: nothing lost, nothing changed silently, no one exposed."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml
from click.testing import CliRunner

from conftest import real_fixture
from fieldsurvey.cli import main
from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.pipeline import IngestConflict, ingest_file
from fieldsurvey.store import StudyError, init_study, load_responses, open_study
from fieldsurvey.store.export_data import export_data
from fieldsurvey.synthetic import generate_coalition

INSTRUMENTS = ["workforce-context", "proqol5", "structural-conditions"]


@pytest.fixture()
def study(tmp_path):
    return init_study(tmp_path / "study", INSTRUMENTS, org_column="wf_org", waves=["1", "2"])


@pytest.fixture()
def responses():
    data = generate_coalition(
        n_orgs=4, seed=11, instruments=("workforce-context", "proqol5", "structural-conditions")
    ).responses
    return data.drop(columns=["org", "wave"])


def _counts(study) -> dict[str, int]:
    con = duckdb.connect(str(study.store_path), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("batches", "responses", "quarantine", "flags", "free_text")
        }
    finally:
        con.close()


def test_init_writes_a_valid_study_yaml(study):
    raw = yaml.safe_load((study.root / "study.yaml").read_text())
    assert (
        raw["instruments"] == INSTRUMENTS
        and raw["min_cell"] == 10
        and raw["org_column"] == "wf_org"
    )
    assert open_study(study.root).config.waves == ("1", "2")
    assert (study.root / "store.duckdb").is_file()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"min_cell": 3},
            "study.yaml: min_cell: 3 is below 5: refused (a threshold of 1-4 singles out people "
            "in small organisations)",
        ),
        ({"instruments": ["nope"]}, "study.yaml: instruments[0]: no bundled instrument 'nope'"),
        ({"colour": "red"}, "study.yaml: colour: unknown setting"),
        (
            {"exclusions": {"speeder_seconds": -1}},
            "study.yaml: exclusions.speeder_seconds: must be a positive number",
        ),
    ],
)
def test_invalid_study_yaml_names_the_field(study, change, message):
    path = study.root / "study.yaml"
    raw = yaml.safe_load(path.read_text())
    raw.update(change)
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(StudyError) as info:
        open_study(study.root)
    assert message in str(info.value)


def test_min_cell_below_five_is_always_refused(tmp_path):
    with pytest.raises(StudyError, match="below 5"):
        init_study(tmp_path / "a", ["proqol5"], min_cell=3)
    study = init_study(tmp_path / "b", ["proqol5"], min_cell=5)
    raw = yaml.safe_load((study.root / "study.yaml").read_text())
    raw.update(min_cell=3, force_min_cell=True)
    (study.root / "study.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(StudyError, match="force_min_cell: is no longer supported"):
        open_study(study.root)


def test_ingest_stores_every_row_and_reingest_adds_nothing(study, responses, tmp_path):
    path = tmp_path / "wave1.csv"
    responses.to_csv(path, index=False)
    summary = ingest_file(study, path, wave="1")
    assert summary.rows_read == len(responses) == summary.stored + summary.quarantined
    assert summary.quarantined == 0
    stored = load_responses(study, apply_exclusions=False)
    assert len(stored) == len(responses)
    merged = stored.merge(responses, on="response_id", suffixes=("", "_src"))
    assert (merged["org"] == merged["wf_org_src"]).all()
    np.testing.assert_array_equal(merged["pq07"].astype(float), merged["pq07_src"].astype(float))
    before = _counts(study)
    again = ingest_file(study, path, wave="1")
    assert again.already_ingested and again.stored == 0
    assert _counts(study) == before


def test_invalid_answers_duplicates_and_missing_org_are_quarantined_with_reasons(
    study, responses, tmp_path
):
    bad = responses.head(12).copy()
    bad[["pq07", "pq08"]] = bad[["pq07", "pq08"]].astype("object")
    bad.loc[2, "pq07"] = 9
    bad.loc[3, "pq07"] = "often-ish"
    bad.loc[4, "pq08"] = "Very often"  # a label: mapped to code 5, not quarantined
    bad.loc[5, "wf_org"] = None
    bad = pd.concat([bad, bad.iloc[[0]]], ignore_index=True)  # duplicate id
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    summary = ingest_file(study, path, wave="1")
    assert (summary.rows_read, summary.stored, summary.quarantined) == (13, 9, 4)
    con = duckdb.connect(str(study.store_path), read_only=True)
    rows = con.execute("SELECT source_row, reason FROM quarantine ORDER BY source_row").fetchall()
    pq08 = con.execute(
        "SELECT pq08 FROM responses WHERE response_id = ?", [bad.loc[4, "response_id"]]
    ).fetchall()
    con.close()
    assert rows[0] == (4, "column pq07: outside the response scale 1..5 (value '9')")
    assert rows[1] == (
        5,
        "column pq07: not a number and not an answer label of this item (value 'often-ish')",
    )
    assert rows[2] == (7, "no organisation (column wf_org empty)")
    assert (
        rows[3][0] == 14
        and rows[3][1].startswith("duplicate response id")
        and "(first at row 2)" in rows[3][1]
    )
    assert pq08 == [(5,)]


def test_changed_file_with_same_ids_is_a_conflict_and_stores_nothing(study, responses, tmp_path):
    first = tmp_path / "a.csv"
    responses.to_csv(first, index=False)
    ingest_file(study, first, wave="1")
    before = _counts(study)
    changed = responses.copy()
    changed.loc[0, "pq01"] = 6 - changed.loc[0, "pq01"] if changed.loc[0, "pq01"] != 3 else 1
    second = tmp_path / "b.csv"
    changed.to_csv(second, index=False)
    with pytest.raises(IngestConflict, match="already stored with different answers"):
        ingest_file(study, second, wave="1")
    assert _counts(study) == before


def test_identical_responses_in_a_new_file_are_quarantined_not_doubled(study, responses, tmp_path):
    responses.to_csv(tmp_path / "a.csv", index=False)
    ingest_file(study, tmp_path / "a.csv", wave="1")
    responses.head(5).to_csv(tmp_path / "b.csv", index=False)
    summary = ingest_file(study, tmp_path / "b.csv", wave="1")
    assert (summary.stored, summary.quarantined) == (0, 5)
    assert list(summary.quarantine_reasons) == ["identical response already stored in batch 1"]


def test_unknown_wave_and_missing_org_column_are_clear_errors(study, responses, tmp_path):
    path = tmp_path / "a.csv"
    responses.drop(columns=["wf_org"]).to_csv(path, index=False)
    with pytest.raises(IngestError, match=r"a.csv: .*wave '7' is not one of the study's waves"):
        ingest_file(study, path, wave="7")
    with pytest.raises(IngestError, match="cannot tell which organisation"):
        ingest_file(study, path, wave="1")
    assert ingest_file(study, path, wave="1", org="O99").stored == len(responses)


def test_mapping_file_maps_columns_and_labels(study, responses, tmp_path):
    renamed = responses.head(10).rename(columns={"pq01": "Q1_1"})
    renamed["Q1_1"] = renamed["Q1_1"].map(
        {1: "Nunca", 2: "Raramente", 3: "A veces", 4: "A menudo", 5: "Muy a menudo"}
    )
    path = tmp_path / "es.csv"
    renamed.to_csv(path, index=False)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        yaml.safe_dump(
            {
                "columns": {"Q1_1": "pq01"},
                "values": {
                    "pq01": {
                        "Nunca": 1,
                        "Raramente": 2,
                        "A veces": 3,
                        "A menudo": 4,
                        "Muy a menudo": 5,
                    }
                },
            },
            allow_unicode=True,
        )
    )
    summary = ingest_file(study, path, wave="1", mapping=mapping)
    assert summary.stored == 10 and "Q1_1" not in summary.unmapped_columns
    stored = load_responses(study, apply_exclusions=False).set_index("response_id")
    source = responses.head(10).set_index("response_id")
    assert (stored.loc[source.index, "pq01"].astype(float) == source["pq01"].astype(float)).all()
    bad_map = tmp_path / "bad.yaml"
    bad_map.write_text(yaml.safe_dump({"columns": {"Q1_1": "pq99"}}))
    with pytest.raises(
        IngestError, match=r"bad.yaml: whole file: columns.Q1_1: unknown item 'pq99'"
    ):
        ingest_file(study, path, wave="1", mapping=bad_map)


def test_qualtrics_fixture_drops_personal_data_and_keeps_it_out_of_the_store(study):
    path = real_fixture("qualtrics/qualtRics_sample.csv")
    with pytest.raises(IngestError, match="no column of this file is an item"):
        ingest_file(study, path, org="A", wave="1")  # its question Q1 is none of our items
    mapping = study.root / "map.yaml"
    mapping.write_text(yaml.safe_dump({"columns": {"Q1": "pq01"}}))
    summary = ingest_file(study, path, org="A", wave="1", mapping=mapping)
    assert summary.stored == 1
    dropped = {d["column"] for d in summary.dropped_personal}
    assert {"IPAddress", "RecipientEmail", "LocationLatitude"} <= dropped
    con = duckdb.connect(str(study.store_path), read_only=True)
    columns = {
        r[0] for r in con.execute("SELECT column_name FROM information_schema.columns").fetchall()
    }
    everything = json.dumps(con.execute("SELECT * FROM quarantine").fetchall())
    con.close()
    assert not dropped & columns
    assert "@" not in everything
    assert summary.rows_read == summary.stored + summary.quarantined


def test_flags_and_exclusion_rules(study, responses, tmp_path):
    data = responses.head(15).copy()
    pq = [f"pq{i:02d}" for i in range(1, 31)]
    data.loc[0, pq] = 4  # same answer to every ProQOL item, reverse-keyed ones included
    path = tmp_path / "a.csv"
    data.to_csv(path, index=False)
    summary = ingest_file(study, path, wave="1")
    assert summary.flags.get("straightlining", 0) >= 1
    kept = load_responses(study)
    assert len(kept) == 15  # straight-lining is flagged, not excluded, by default
    raw = yaml.safe_load((study.root / "study.yaml").read_text())
    raw["exclusions"] = {"straightlining": True}
    (study.root / "study.yaml").write_text(yaml.safe_dump(raw))
    kept = load_responses(open_study(study.root))
    assert data.loc[0, "response_id"] not in set(kept["response_id"])
    assert kept.attrs["excluded"]["straightlining"] >= 1


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_export_data_carries_value_and_variable_labels(study, responses, tmp_path, fmt):
    responses.to_csv(tmp_path / "a.csv", index=False)
    ingest_file(study, tmp_path / "a.csv", wave="1")
    out = export_data(study, fmt, tmp_path / f"out.{fmt}")
    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    frame, meta = reader(str(out))
    assert len(frame) == len(responses)
    labels = (
        meta.variable_value_labels
        if fmt == "sav"
        else {col: meta.value_labels[name] for col, name in meta.variable_to_label.items()}
    )
    assert labels["pq01"][5] == "Very Often"
    names = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert names["sc_pay1"] == "My pay covers my basic living costs."
    assert names["pq01"] == "ProQOL item 1 (BO)"  # licensed wording is never exported


def test_cli_init_ingest_status(tmp_path, responses):
    runner = CliRunner()
    study_dir = tmp_path / "s"
    result = runner.invoke(
        main,
        [
            "init",
            str(study_dir),
            "-i",
            "workforce-context",
            "-i",
            "proqol5",
            "--org-column",
            "wf_org",
        ],
    )
    assert result.exit_code == 0, result.output
    data = tmp_path / "d.csv"
    responses.to_csv(data, index=False)
    result = runner.invoke(main, ["ingest", str(study_dir), str(data), "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["rows_read"] == summary["stored"] + summary["quarantined"] == len(responses)
    status = json.loads(runner.invoke(main, ["status", str(study_dir), "--format", "json"]).output)
    counts = [r["responses"] for r in status["responses"]]
    assert all(c is None or c >= 10 for c in counts) and any(c is not None for c in counts)
    assert "batches" not in status and status["files"] == [{"files": 1, "waves": 1}]
    assert status["min_cell"] == 10
    result = runner.invoke(main, ["ingest", str(study_dir), str(tmp_path / "missing.csv")])
    assert result.exit_code == 2 and "Traceback" not in result.output
