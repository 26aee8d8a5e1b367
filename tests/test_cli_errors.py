"""The command line's one error handler: user errors exit 2 with one message naming file, row and
column; anything unexpected is reported as a bug with the command, the version and a log file;
``--format json`` gives errors as JSON; warnings are one plain line."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from fieldsurvey import __version__
from fieldsurvey.cli import FieldsurveyGroup, main
from fieldsurvey.compare import CompareError
from fieldsurvey.disclosure import DisclosureError
from fieldsurvey.errors import FieldsurveyError, StoreError, StudyBusyError
from fieldsurvey.fielding import FieldingError
from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.pipeline import IngestConflict
from fieldsurvey.instrument import InstrumentError
from fieldsurvey.psychometrics.cfa import CFAError
from fieldsurvey.report.document import DocumentError
from fieldsurvey.report.render import RenderError
from fieldsurvey.reproduce.findings import FindingsError
from fieldsurvey.reproduce.plan import PlanError
from fieldsurvey.scoring import ScoringError
from fieldsurvey.store import StudyError


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (IngestError("a.csv", 3, "pq01", "bad"), "ingest"),
        (IngestConflict("a.csv", None, None, "changed"), "ingest_conflict"),
        (StudyError("no study"), "study"),
        (InstrumentError(["x.yaml: id: is required"]), "instrument"),
        (ScoringError("cannot score"), "scoring"),
        (CompareError("no groups"), "compare"),
        (DisclosureError("too small"), "disclosure"),
        (CFAError("not identified"), "cfa"),
        (DocumentError("bad table"), "document"),
        (RenderError("pandoc", ["pandoc"], "boom", 1), "render"),
        (FieldingError("licence"), "fielding"),
        (FindingsError(["f.yaml: title: is required"]), "findings"),
        (PlanError(["p.yaml: title: is required"]), "plan"),
        (StudyBusyError("busy"), "study_busy"),
        (StoreError("truncated"), "store"),
    ],
)
def test_every_user_error_shares_one_base_with_a_stable_code(error, code):
    assert isinstance(error, FieldsurveyError)
    assert error.code == code
    copy = pickle.loads(pickle.dumps(error))  # errors cross process boundaries intact
    assert type(copy) is type(error) and str(copy) == str(error) and copy.code == code


def test_old_built_in_bases_are_kept():
    assert isinstance(IngestError("a", 1, None, "m"), ValueError)
    assert isinstance(StudyError("m"), ValueError)
    assert isinstance(RenderError("pandoc", [], "", None), RuntimeError)


def test_error_names_file_row_and_column():
    err = FieldsurveyError("not a number", file="a.csv", row=4, column="pq02")
    assert str(err) == "a.csv: row 4, column pq02: not a number"
    assert err.to_dict() == {"code": "fieldsurvey", "message": str(err), "file": "a.csv",
                             "row": 4, "column": "pq02"}


def _demo_group() -> click.Group:
    """A group built on the shipped FieldsurveyGroup with commands that fail on purpose."""

    @click.group(cls=FieldsurveyGroup)
    def cli() -> None:
        pass

    @cli.command("user")
    @click.option("--format", "fmt", default="table")
    def user(fmt: str) -> None:
        raise IngestError("data.csv", 7, "pq03", "value is not an answer code")

    @cli.command("bug")
    @click.option("--format", "fmt", default="table")
    def bug(fmt: str) -> None:
        {}["missing"]  # noqa: B018  - a KeyError nobody expects

    @cli.command("warns")
    def warns() -> None:
        warnings.warn("the model did not converge", UserWarning, stacklevel=1)
        click.echo("done")

    return cli


def test_user_error_is_one_message_with_exit_2():
    result = CliRunner().invoke(_demo_group(), ["user"])
    assert result.exit_code == 2
    assert result.output.strip() == "Error: data.csv: row 7, column pq03: value is not an answer code"
    assert "Traceback" not in result.output


def test_user_error_under_format_json_is_json():
    result = CliRunner().invoke(_demo_group(), ["user", "--format", "json"])
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["error"] == {"code": "ingest", "file": "data.csv", "row": 7, "column": "pq03",
                            "message": "data.csv: row 7, column pq03: value is not an answer code"}


def test_unexpected_error_names_command_version_and_log(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDSURVEY_HOME", str(tmp_path))
    result = CliRunner().invoke(_demo_group(), ["bug"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "fieldsurvey bug failed unexpectedly" in result.output
    assert f"fieldsurvey {__version__}" in result.output
    assert "KeyError" in result.output and "bug in fieldsurvey" in result.output
    logs = list((tmp_path / "logs").glob("crash-*-bug.log"))
    assert len(logs) == 1 and str(logs[0]) in result.output
    trace = logs[0].read_text()
    assert "Traceback" in trace and "KeyError: 'missing'" in trace and "command: fieldsurvey bug" in trace


def test_unexpected_error_under_json_names_the_log(tmp_path, monkeypatch):
    monkeypatch.setenv("FIELDSURVEY_HOME", str(tmp_path))
    result = CliRunner().invoke(_demo_group(), ["bug", "--format=json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)["error"]
    assert doc["code"] == "internal" and Path(doc["log"]).is_file()


def test_warnings_are_one_plain_line():
    result = CliRunner().invoke(_demo_group(), ["warns"])
    assert result.exit_code == 0
    assert "warning: the model did not converge" in result.stderr
    assert ".py" not in result.stderr  # no source path or line


def test_usage_errors_under_json_are_json(tmp_path):
    result = CliRunner().invoke(main, ["score", str(tmp_path / "absent.csv"), "-i", "proqol5",
                                       "--format", "json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "usage"


def test_real_command_user_error_goes_through_the_top(tmp_path):
    result = CliRunner().invoke(main, ["status", str(tmp_path), "--format", "json"])
    assert result.exit_code == 2
    doc = json.loads(result.stdout)["error"]
    assert doc["code"] == "study" and "not a study folder" in doc["message"]


# ------------------------------------------------------------- the tracebacks users met before

PQ = [f"pq{i:02d}" for i in range(1, 31)]


def _items_csv(path: Path, rows: int = 12, value=lambda r, i: (r + i) % 5 + 1) -> Path:
    lines = [",".join(["id", *PQ])]
    lines += [",".join([str(r + 1), *(str(value(r, i)) for i in range(30))]) for r in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _zip_without_workbook(path: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return path


BAD_FILES = {
    "empty.csv": (lambda p: p.write_bytes(b""), "row 1: the file is empty"),
    "header.csv": (lambda p: p.write_text(",".join(PQ) + "\n"),
                   "row 2: the file has header row(s) but no responses"),
    "ragged.csv": (lambda p: p.write_text("pq01,pq02\n1,2\n3\n"),
                   "row 3: malformed row: has 1 fields; the header has 2"),
    "dup.csv": (lambda p: p.write_text("pq01,pq01\n1,2\n"),
                "row 1, column pq01: column name 'pq01' appears twice (columns 1 and 2)"),
    "zero.sav": (lambda p: p.write_bytes(b""), "cannot read the .sav file"),
    "zero.dta": (lambda p: p.write_bytes(b""), "cannot read the .dta file"),
    "corrupt.sav": (lambda p: p.write_bytes(b"$FL2" + bytes(range(256)) * 2),
                    "cannot read the .sav file"),
    "zero.xlsx": (lambda p: p.write_bytes(b""), "the file is empty (0 bytes): not an Excel"),
    "zip.xlsx": (_zip_without_workbook, "a zip archive but not an Excel workbook"),
    "text.xlsx": (lambda p: p.write_text("pq01\n1\n"), "not an .xlsx workbook"),
    "json.csv": (lambda p: p.write_text('{"pq01": [1, 2]}'), "this file holds JSON"),
    "binary.csv": (lambda p: p.write_bytes(b"pq01\n\x00\x01\x02\x03"), "binary data (byte 0x00)"),
    "workbook.csv": (lambda p: p.write_bytes(b"PK\x03\x04\x14\x00rest"), "this is a zip archive"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
@pytest.mark.parametrize("command", ["score", "reliability"])
def test_bad_data_files_are_one_message_naming_file_and_row(tmp_path, name, command):
    make, expected = BAD_FILES[name]
    path = tmp_path / name
    make(path)
    result = CliRunner().invoke(main, [command, str(path), "-i", "proqol5"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith(f"Error: {path}") and expected in result.output


def test_score_output_into_a_missing_folder(tmp_path):
    data = _items_csv(tmp_path / "items.csv")
    target = tmp_path / "no-such-folder" / "scores.csv"
    result = CliRunner().invoke(main, ["score", str(data), "-i", "proqol5", "-o", str(target)])
    assert result.exit_code == 2
    assert f"the folder {target.parent} does not exist" in result.output


def test_score_output_writes_whole_number_ids_as_integers(tmp_path):
    data = _items_csv(tmp_path / "items.csv")
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(main, ["score", str(data), "-i", "proqol5", "--id-column", "id",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[1].startswith("1,")  # not "1.0,"


def test_reliability_refuses_what_score_refuses(tmp_path):
    data = _items_csv(tmp_path / "items.csv", value=lambda r, i: "3.5" if (r, i) == (4, 2)
                      else (r * 7 + i * 3) % 5 + 1)
    for command in ("score", "reliability"):
        result = CliRunner().invoke(main, [command, str(data), "-i", "proqol5"])
        assert result.exit_code == 2, result.output
        assert "row 6, column 'pq03': not a whole-number answer code (value 3.5)" in result.output


def _flat_group_csv(path: Path, groups: str) -> Path:
    burnout = {1, 4, 8, 10, 15, 17, 19, 21, 26, 29}
    lines = [",".join(["grp", *PQ])]
    for g, group in enumerate(groups):
        for r in range(12):
            lines.append(",".join([group, *(str(2 + g) if int(p[2:]) in burnout
                                            else str((r * 7 + int(p[2:]) * 3 + g) % 5 + 1)
                                            for p in PQ)]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("groups", ["AB", "ABC"])
def test_compare_with_a_scale_no_group_varies_on(tmp_path, groups):
    data = _flat_group_csv(tmp_path / "flat.csv", groups)
    result = CliRunner().invoke(main, ["compare", str(data), "-i", "proqol5", "--by", "grp"])
    assert result.exit_code == 0, result.output
    assert "burnout: test not computable: no variance in any group" in result.output
    assert "sts" in result.output and "compassion_satisfaction"[:15] in result.output
    doc = json.loads(CliRunner().invoke(main, ["compare", str(data), "-i", "proqol5", "--by",
                                               "grp", "--format", "json"]).output)
    tests = {entry["scale"]: entry["test"] for entry in doc["scales"]}
    assert tests["burnout"]["statistic"] is None
    assert tests["burnout"]["note"].startswith("not computable: no variance in any group")
    assert tests["sts"]["statistic"] is not None and "note" not in tests["sts"]


def test_welch_anova_with_one_flat_group_is_not_computable_with_the_reason():
    import numpy as np
    import pandas as pd

    from fieldsurvey.compare.groups import compare_groups

    data = pd.DataFrame({"g": list("AAAABBBBCCCC"),
                         "x": [3.0, 3, 3, 3, 1, 2, 3, 4, 2, 4, 5, 1]})
    row = compare_groups(data, "x", "g").iloc[0]
    assert np.isnan(row["statistic"])
    assert row["note"] == ("not computable: Welch's ANOVA needs variance in every group; "
                           "none in group(s) A")
