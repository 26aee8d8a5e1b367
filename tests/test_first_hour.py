"""The first hour of a new user: output that reads right and says enough to act on."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.cli.output import print_table
from fieldsurvey.store import init_study

PQ = [f"pq{i:02d}" for i in range(1, 31)]


def test_tables_are_never_cut_at_80_columns(capsys):
    frame = pd.DataFrame({"org": ["O01"], "scale": ["compassion_satisfaction"],
                          "difference": ["[-2.123456, 3.987654]"],
                          "file": ["a-long-export-name-from-a-platform-2026-03-01.csv"]})
    print_table(frame, title="wide")
    out = capsys.readouterr().out
    assert "[-2.123456, 3.987654]" in out
    assert "a-long-export-name-from-a-platform-2026-03-01.csv" in out
    assert "…" not in out


@pytest.fixture()
def study(tmp_path):
    return init_study(tmp_path / "s", ["workforce-context", "proqol5"], org_column="wf_org")


def _rows(n: int, org: str = "O1", bad_row: int | None = None) -> list[dict]:
    rows = []
    for r in range(n):
        row = {"response_id": f"R{r + 1}", "wf_org": org, **{p: (r + int(p[2:])) % 5 + 1
                                                              for p in PQ}}
        if r == bad_row:
            row["pq07"] = 7
        rows.append(row)
    return rows


def test_status_json_counts_are_numbers(study, tmp_path):
    data = tmp_path / "d.csv"
    pd.DataFrame(_rows(12) + _rows(3, org="O2")).to_csv(data, index=False)
    assert CliRunner().invoke(main, ["ingest", str(study.root), str(data)]).exit_code == 0
    doc = json.loads(CliRunner().invoke(main, ["status", str(study.root), "--format",
                                               "json"]).output)
    rows = {r["org"]: r for r in doc["responses"]}
    assert rows["O2"]["responses"] is None and rows["O2"]["withheld"] is True  # 3 < 10
    for row in doc["responses"]:  # a shown count is a number; a withheld one is null
        assert row["withheld"] is (row["responses"] is None)
        assert row["withheld"] or (isinstance(row["responses"], int) and row["responses"] >= 10)
    assert any(not row["withheld"] for row in doc["responses"])
    # Files are counted, never listed with their rows (rows per file next to a withheld
    # organisation would give it away; `status --full` is the data manager's view).
    assert "batches" not in doc and doc["files"] == [{"files": 1, "waves": 1}]
    assert doc["min_cell"] == 10


def test_ingest_names_row_and_id_of_quarantined_rows_and_missing_items(study, tmp_path):
    data = tmp_path / "d.csv"
    frame = pd.DataFrame(_rows(6, bad_row=3)).drop(columns=["pq29", "pq30"])
    frame.to_csv(data, index=False)
    result = CliRunner().invoke(main, ["ingest", str(study.root), str(data)])
    assert result.exit_code == 0, result.output
    assert "quarantined 1: column pq07: outside the response scale 1..5" in result.output
    assert "    row 5 (id R4)" in result.output
    assert "items with no column in this file (" in result.output
    assert "pq29, pq30" in result.output
    doc = json.loads(CliRunner().invoke(main, ["ingest", str(study.root), str(data),
                                               "--format", "json"]).output)
    assert doc["already_ingested"]
    stored = pd.read_csv(data)
    assert len(stored) == 6


def test_quarantine_shows_a_seven_as_7(study, tmp_path):
    import duckdb
    import pyreadstat

    frame = pd.DataFrame(_rows(3, bad_row=1)).astype({p: float for p in PQ})
    path = tmp_path / "d.sav"
    pyreadstat.write_sav(frame, str(path))
    summary = json.loads(CliRunner().invoke(main, ["ingest", str(study.root), str(path),
                                                   "--format", "json"]).output)
    [example] = summary["quarantine_rows"]["column pq07: outside the response scale 1..5"]
    assert example["reason"].endswith("(value '7')") and example["response_id"] == "R2"
    con = duckdb.connect(str(study.store_path), read_only=True)
    try:
        cells = json.loads(con.execute("SELECT cells FROM quarantine").fetchone()[0])
    finally:
        con.close()
    assert cells == {"pq07": "7"}  # only the offending cell is kept, never the rest of the row


def test_analysis_commands_take_the_same_map_as_ingest(tmp_path):
    r_names = {p: f"item.{p}.pq" for p in PQ}  # R-style names no instrument could use
    frame = pd.DataFrame(_rows(40)).drop(columns=["wf_org"]).rename(columns=r_names)
    frame["grp"] = ["a", "b"] * 20
    data = tmp_path / "r-style.csv"
    frame.to_csv(data, index=False)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(yaml.safe_dump({"columns": {v: k for k, v in r_names.items()}}))
    for argv in (["score", str(data), "-i", "proqol5", "--map", str(mapping)],
                 ["reliability", str(data), "-i", "proqol5", "--map", str(mapping)],
                 ["compare", str(data), "-i", "proqol5", "--by", "grp", "--map", str(mapping)]):
        result = CliRunner().invoke(main, argv)
        assert result.exit_code == 0, result.output
        without = CliRunner().invoke(main, [a for a in argv if a not in ("--map", str(mapping))])
        assert without.exit_code == 2 and "pq03" in without.output  # items not found
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"columns": {"not.there": "pq01"}}))
    result = CliRunner().invoke(main, ["score", str(data), "-i", "proqol5", "--map", str(bad)])
    assert result.exit_code == 2 and "the data has no column 'not.there'" in result.output


def test_demo_prints_no_python_dict(tmp_path):
    from rich.console import Console

    from fieldsurvey.demo import DemoRun, _check_findings

    (tmp_path / "results").mkdir()
    console = Console(record=True, width=200)
    _check_findings(DemoRun(out_dir=Path(tmp_path), console=console))
    text = console.export_text()
    assert "published findings checked: " in text and "{" not in text
    assert "consistent" in text
