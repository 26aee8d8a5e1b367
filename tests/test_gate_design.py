"""The design holds: one gate builds policies, layers import downwards, every output is gated."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldsurvey.cli import main

SRC = Path(__file__).resolve().parents[1] / "src" / "fieldsurvey"


def _calls(name: str) -> list[str]:
    found = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if called == name:
                    found.append(str(path.relative_to(SRC)))
    return found


def test_only_the_gate_builds_a_policy():
    outside = [p for p in _calls("DisclosurePolicy") if not p.startswith("disclosure/")]
    assert outside == []
    assert "disclosure/policy.py" in _calls("DisclosurePolicy")


def test_the_import_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], capture_output=True, text=True,
                            cwd=SRC.parents[1], check=False)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "Contracts: 3 kept, 0 broken" in result.stdout


def test_releases_command_lists_what_the_ledger_holds(tmp_path):
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.store import init_study
    from fieldsurvey.synthetic import generate_coalition

    responses = generate_coalition(n_orgs=5, seed=2).responses
    study = init_study(tmp_path / "s", ["workforce-context", "proqol5"], org_column="wf_org")
    path = tmp_path / "d.csv"
    responses.drop(columns=["org", "wave"]).to_csv(path, index=False)
    ingest_file(study, path)
    runner = CliRunner()
    empty = runner.invoke(main, ["releases", str(study.root)])
    assert empty.exit_code == 0 and "nothing released yet" in empty.output
    assert runner.invoke(main, ["benchmark", str(study.root), "--scale", "burnout"]).exit_code == 0
    assert runner.invoke(main, ["status", str(study.root)]).exit_code == 0
    listed = json.loads(runner.invoke(main, ["releases", str(study.root), "--format",
                                             "json"]).output)
    assert [r["output"] for r in listed] == ["benchmark", "status"]
    assert all(r["values_shown"] > 0 for r in listed)
    values = json.loads(runner.invoke(main, ["releases", str(study.root), "--release",
                                             listed[0]["release_id"], "--format", "json"]).output)
    assert {"table_name", "row_no", "column_name", "value", "cell"} <= set(values[0])
    # Running the same benchmark again releases nothing new.
    runner.invoke(main, ["benchmark", str(study.root), "--scale", "burnout"])
    again = json.loads(runner.invoke(main, ["releases", str(study.root), "--format",
                                            "json"]).output)
    assert len(again) == 2


@pytest.mark.parametrize("value", ["4", "9"])
def test_a_command_cannot_lower_the_studys_minimum(tmp_path, value):
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.store import init_study
    from fieldsurvey.synthetic import generate_coalition

    responses = generate_coalition(n_orgs=4, seed=3).responses
    study = init_study(tmp_path / "s", ["workforce-context", "proqol5"], org_column="wf_org")
    path = tmp_path / "d.csv"
    responses.drop(columns=["org", "wave"]).to_csv(path, index=False)
    ingest_file(study, path)
    result = CliRunner().invoke(main, ["compare", str(study.root), "--by", "wf_role",
                                       "--min-cell", value])
    assert result.exit_code == 2 and "never lower" in result.output
