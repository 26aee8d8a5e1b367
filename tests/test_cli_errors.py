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
