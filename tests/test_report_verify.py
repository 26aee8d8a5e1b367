"""`fieldsurvey verify`: a fresh report verifies; a changed store or bundle file is named."""

from __future__ import annotations

import duckdb
import pytest
from click.testing import CliRunner

from fieldsurvey.cli.report_cmd import verify_cmd
from fieldsurvey.report.build import build_reports
from fieldsurvey.report.verify import verify_report
from fieldsurvey.store import open_study
from test_report_content import EPOCH, make_study


@pytest.fixture()
def report(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    study = make_study(tmp_path, n_orgs=6, seed=8)
    results = build_reports(study, tmp_path / "out", orgs=None, formats=("html",), engine="pandoc")
    folder = results[0][1]["html"].parent
    return {"study": study, "folder": folder}


def test_fresh_report_verifies_and_an_edited_bundle_cell_is_named(report):
    result = verify_report(report["folder"])
    assert result.identical, result.differences
    assert result.files_checked > 20
    ok = CliRunner().invoke(verify_cmd, [str(report["folder"])])
    assert ok.exit_code == 0 and "identical" in ok.output

    table = report["folder"] / "bundle" / "tables" / "scale_scores.csv"
    lines = table.read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("burnout_mean")
    cells = lines[1].split(",")
    recorded = cells[col]
    cells[col] = str(float(recorded) + 1)
    lines[1] = ",".join(cells)
    table.write_text("\n".join(lines) + "\n")

    result = verify_report(report["folder"])
    assert not result.identical
    named = result.differences[
        (result.differences["file"] == "tables/scale_scores.csv")
        & (result.differences["column"] == "burnout_mean")
    ]
    assert named["row"].tolist() == [0]
    assert named["recomputed"].tolist() == [recorded]
    cli = CliRunner().invoke(verify_cmd, [str(report["folder"])])
    assert cli.exit_code == 1
    assert "tables/scale_scores.csv row 0 column burnout_mean" in cli.output


def test_changed_store_is_named_by_table_and_cell(report):
    study = open_study(report["study"])
    con = duckdb.connect(str(study.store_path))
    try:
        # One wave-2 respondent's burnout item moves from its answer to another answer.
        con.execute(
            "UPDATE responses SET pq08 = CASE WHEN pq08 = 5 THEN 1 ELSE 5 END "
            "WHERE response_id = (SELECT min(response_id) FROM responses "
            "WHERE wave = '2' AND pq08 IS NOT NULL)"
        )
    finally:
        con.close()
    result = verify_report(report["folder"])
    assert not result.identical
    diffs = result.differences
    assert (
        (diffs["file"] == "tables/scale_scores.csv") & (diffs["column"] == "burnout_mean")
    ).any()
    cli = CliRunner().invoke(verify_cmd, [str(report["folder"])])
    assert cli.exit_code == 1
    # The CLI lists the first 50 differences (a changed burnout answer now also moves the
    # per-question shares, which sort before scale_scores): it names them by file and column.
    assert f"{len(diffs)} difference(s)" in cli.output
    first = diffs.iloc[0]
    assert str(first["column"]) in cli.output and str(first["file"]) in cli.output
