"""Property test: whatever file a user hands any command, the command line never shows a
traceback and never fails as a bug.

Every command that reads a file (data tables for ``score``, ``reliability``, ``cfa``,
``invariance``, ``compare``; exports and their companions for ``ingest``; YAML for ``instrument
validate``, ``instrument wording``, ``init -i``, ``check-findings``, ``reproduce``, ``run-plan``;
the study store for ``status``, ``compare`` and ``export-data``) is given mangled versions of a
valid file: truncated, spliced with random bytes, lines dropped or repeated, delimiters swapped,
bytes of another format, or empty. The command must end with exit code 0 (it coped) or 2 (one
error message), never 1 (an unexpected error, reported as a bug) and never a traceback; ``cfa``
and ``invariance`` may also end with 3, their documented exit for a model that did not converge
(nothing is reported).
425 examples per run (about 2 minutes); FIELDSURVEY_FUZZ_SCALE=N runs N times as many.
"""

from __future__ import annotations

import functools
import io
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldsurvey.cli import main
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.resources import data_dir
from fieldsurvey.store import init_study
from fieldsurvey.synthetic import generate_coalition

PQ = [f"pq{i:02d}" for i in range(1, 31)]
# More examples for a deeper search: FIELDSURVEY_FUZZ_SCALE=10 make test (CI runs 1).
SCALE = max(1, int(os.environ.get("FIELDSURVEY_FUZZ_SCALE", "1")))


def _items_frame() -> pd.DataFrame:
    rng = random.Random(7)
    rows = [{"id": i + 1, "grp": "AB"[i % 2], **{p: rng.randint(1, 5) for p in PQ}}
            for i in range(40)]
    return pd.DataFrame(rows)


def _sav_bytes(frame: pd.DataFrame, tmp: Path) -> bytes:
    path = tmp / "seed.sav"
    pyreadstat.write_sav(frame.drop(columns="grp"), str(path),
                         missing_ranges={"pq01": [9]})
    return path.read_bytes()


def _xlsx_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    return buffer.getvalue()


INSTRUMENT_YAML = """id: tiny
title: Tiny
version: "1"
citation: test
licence: {holder: test, terms: CC0, notice: test, url: "https://example.org", wording_included: true}
response_scales:
  freq: {type: likert, min: 1, max: 5, labels: {1: Never, 5: Always}}
items:
  - {id: t1, scale: freq, text: {en: "one"}}
  - {id: t2, scale: freq, text: {en: "two"}}
scales:
  - {id: tiny_mean, label: Tiny, items: [t1, t2], method: mean, min_answered: 1, higher_is: worse}
"""
MAPPING_YAML = "columns:\n  Q1: pq01\nvalues:\n  '*': {Nunca: 1}\nevents:\n  base_arm_1: '1'\n"
WORDING_YAML = "items:\n" + "".join(f"  {p}: {{en: 'Question {p}'}}\n" for p in PQ)
REDCAP_DICTIONARY = (
    '"Variable / Field Name","Form Name","Field Type","Field Label",'
    '"Choices, Calculations, OR Slider Labels"\n'
    'record_id,f,text,"Record ID",\npq01,f,radio,"Q one","1, Never | 5, Very often"\n'
)
KOBO_FORM = json.dumps({"content": {"survey": [
    {"type": "select_one", "name": "pq01", "select_from_list_name": "f", "label": ["Q"]}],
    "choices": [{"list_name": "f", "name": "1", "label": ["Never"]}]}})
SM_DETAILS = json.dumps({"pages": [{"questions": [{"id": "q1", "family": "single_choice",
    "headings": [{"heading": "Q one"}], "answers": {"choices": [{"id": "c1", "text": "Never"}]}}]}],
    "question_count": 1})
LIME_STRUCTURE = "class\ttype/scale\tname\ttext\nQ\tF\tQ1\tHow often?\nSQ\t0\tpq01\tone\n"
SM_API = json.dumps({"data": [{"id": "1", "response_status": "completed", "pages": [
    {"id": "p", "questions": [{"id": "q1", "answers": [{"choice_id": "c1"}]}]}]}]})


@st.composite
def mangled(draw, seed: bytes) -> bytes:
    """A valid file's bytes, damaged the ways files are damaged in practice."""
    kind = draw(st.sampled_from(["as_is", "truncate", "splice", "drop_line", "repeat_line",
                                 "delimiter", "foreign", "random", "empty", "text_junk"]))
    data = seed
    if kind == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif kind == "splice" and data:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at:]
    elif kind in ("drop_line", "repeat_line"):
        lines = data.split(b"\n")
        i = draw(st.integers(0, len(lines) - 1))
        lines = lines[:i] + lines[i + 1:] if kind == "drop_line" else lines[:i + 1] + lines[i:]
        data = b"\n".join(lines)
    elif kind == "delimiter":
        data = data.replace(b",", draw(st.sampled_from([b";", b"\t", b"|", b",,", b'"'])))
    elif kind == "foreign":
        data = draw(st.sampled_from([b"PK\x03\x04junk", b"$FL2\x00\x01", b'{"a": [1, 2]}',
                                     b"\xd0\xcf\x11\xe0xls", b"%PDF-1.4\n"]))
    elif kind == "random":
        data = draw(st.binary(min_size=1, max_size=300))
    elif kind == "empty":
        data = b""
    elif kind == "text_junk":
        junk = draw(st.text(min_size=1, max_size=80)).encode("utf-8", "surrogatepass")
        at = draw(st.integers(0, len(data)))
        data = data[:at] + junk + data[at:]
    return data


def _ok(result, argv: list[str]) -> None:
    """Exit 0 or 2 with a message: never a bug report (exit 1) and never a traceback."""
    shown = f"fieldsurvey {' '.join(argv)}\n{result.output}"
    assert "Traceback" not in result.output, shown
    if result.exit_code == 3 and argv[0] in ("cfa", "invariance"):  # did not converge
        assert "did not converge" in result.output, shown
        return
    assert result.exit_code in (0, 2), shown
    if result.exit_code == 2:  # one message, or one JSON error object under --format json
        assert "Error:" in result.output or '"error": {' in result.output, shown


@functools.cache
def _seeds() -> dict[str, bytes]:
    """Valid files of every kind a command reads (a plain function, not a fixture, so that a
    failing example's report shows the mangled file, not every seed)."""
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-seeds"))
    frame = _items_frame()
    csv = frame.to_csv(index=False).encode()
    coalition = generate_coalition(n_orgs=3, seed=5, instruments=("workforce-context", "proqol5"))
    export = coalition.responses.drop(columns=["org", "wave"]).head(40)
    return {
        "csv": csv,
        "xlsx": _xlsx_bytes(frame),
        "sav": _sav_bytes(frame, tmp),
        "export": export.to_csv(index=False).encode(),
        "instrument": INSTRUMENT_YAML.encode(),
        "mapping": MAPPING_YAML.encode(),
        "wording": WORDING_YAML.encode(),
        "findings": (data_dir("analysis") / "field-findings.yaml").read_bytes(),
        "plan": (data_dir("analysis") / "structural-burnout-plan.yaml").read_bytes(),
        "dictionary": REDCAP_DICTIONARY.encode(),
        "kobo_form": KOBO_FORM.encode(),
        "details": SM_DETAILS.encode(),
        "structure": LIME_STRUCTURE.encode(),
        "sm_api": SM_API.encode(),
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-study") / "s"
    study = init_study(root, ["workforce-context", "proqol5"], org_column="wf_org", min_cell=5)
    coalition = generate_coalition(n_orgs=4, seed=9, instruments=("workforce-context", "proqol5"))
    path = root.parent / "seed.csv"
    coalition.responses.drop(columns=["org", "wave"]).to_csv(path, index=False)
    ingest_file(study, path)
    return root


def _file(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


# Each entry: the seed, the file's name, and the command line around the mangled file.
DATA_COMMANDS = {
    "score": ("csv", "data.csv", lambda f: ["score", f, "-i", "proqol5", "--id-column", "id"]),
    "score-xlsx": ("xlsx", "data.xlsx", lambda f: ["score", f, "-i", "proqol5"]),
    "score-sav": ("sav", "data.sav", lambda f: ["score", f, "-i", "proqol5"]),
    "reliability": ("csv", "data.csv", lambda f: ["reliability", f, "-i", "proqol5",
                                                  "--format", "json"]),
    "reliability-sav": ("sav", "data.sav", lambda f: ["reliability", f, "-i", "proqol5"]),
    "cfa": ("csv", "data.csv", lambda f: ["cfa", f, "-i", "proqol5", "--scale", "burnout"]),
    "invariance": ("csv", "data.csv", lambda f: ["invariance", f, "-i", "proqol5", "--scale",
                                                 "burnout", "--group", "grp",
                                                 "--min-group-size", "5"]),
    "compare": ("csv", "data.csv", lambda f: ["compare", f, "-i", "proqol5", "--by", "grp",
                                              "--format", "json"]),
    "instrument-validate": ("instrument", "inst.yaml", lambda f: ["instrument", "validate", f]),
    "instrument-wording": ("wording", "w.yaml", lambda f: ["instrument", "wording", "proqol5",
                                                           "--from", f]),
    "check-findings": ("findings", "findings.yaml", lambda f: ["check-findings", f]),
}


@settings(max_examples=220 * SCALE, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(command=st.sampled_from(sorted(DATA_COMMANDS)), data=st.data())
def test_commands_reading_a_file_never_crash(tmp_path_factory, command, data):
    seed, name, argv_of = DATA_COMMANDS[command]
    seeds = _seeds()
    tmp = tmp_path_factory.mktemp("fuzz")
    path = _file(tmp, name, data.draw(mangled(seeds[seed])))
    argv = argv_of(str(path))
    _ok(CliRunner().invoke(main, argv), argv)


INGEST_COMPANIONS = {
    "export": ("export", "export.csv", []),
    "export-xlsx": ("xlsx", "export.xlsx", ["--org", "A"]),
    "export-sav": ("sav", "export.sav", ["--org", "A"]),
    "map": ("mapping", "map.yaml", ["--map"]),
    "dictionary": ("dictionary", "dict.csv", ["--dictionary"]),
    "form": ("kobo_form", "form.json", ["--form"]),
    "details": ("details", "details.json", ["--details"]),
    "structure": ("structure", "structure.txt", ["--structure"]),
    "sm-api": ("sm_api", "responses.json", ["--org", "A"]),
}


@settings(max_examples=120 * SCALE, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(which=st.sampled_from(sorted(INGEST_COMPANIONS)), data=st.data())
def test_ingest_and_its_companion_files_never_crash(study, tmp_path_factory, which, data):
    seed, name, options = INGEST_COMPANIONS[which]
    seeds = _seeds()
    tmp = tmp_path_factory.mktemp("fuzz-ingest")
    mangled_file = _file(tmp, name, data.draw(mangled(seeds[seed])))
    if options and options[0].startswith("--") and options[0] != "--org":
        export = _file(tmp, "export.csv", seeds["export"])
        argv = ["ingest", str(study), str(export), options[0], str(mangled_file)]
    else:
        argv = ["ingest", str(study), str(mangled_file), *options]
    _ok(CliRunner().invoke(main, [*argv, "--format", "json"]), argv)


STUDY_COMMANDS = {
    "init": lambda s, f: ["init", str(s.parent / "new-study"), "-i", f],
    "reproduce": lambda s, f: ["reproduce", str(s), f],
    "run-plan": lambda s, f: ["run-plan", str(s), f, "--bootstrap-reps", "20"],
}
STUDY_SEEDS = {"init": ("instrument", "inst.yaml"), "reproduce": ("findings", "f.yaml"),
               "run-plan": ("plan", "plan.yaml")}


@settings(max_examples=45 * SCALE, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(command=st.sampled_from(sorted(STUDY_COMMANDS)), data=st.data())
def test_study_commands_given_a_mangled_yaml_never_crash(study, tmp_path_factory, command,
                                                         data):
    seed, name = STUDY_SEEDS[command]
    seeds = _seeds()
    tmp = tmp_path_factory.mktemp("fuzz-yaml")
    path = _file(tmp, name, data.draw(mangled(seeds[seed])))
    shutil.rmtree(study.parent / "new-study", ignore_errors=True)
    argv = STUDY_COMMANDS[command](study, str(path))
    _ok(CliRunner().invoke(main, argv), argv)


@settings(max_examples=40 * SCALE, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_a_mangled_store_or_study_yaml_never_crashes(study, tmp_path_factory, data):
    copy = tmp_path_factory.mktemp("fuzz-store") / "s"
    shutil.copytree(study, copy)
    target = data.draw(st.sampled_from(["store.duckdb", "study.yaml"]))
    path = copy / target
    path.write_bytes(data.draw(mangled(path.read_bytes()[:200_000])))
    for argv in (["status", str(copy), "--format", "json"],
                 ["compare", str(copy), "--by", "wf_role"],
                 ["export-data", str(copy), "--format", "csv"]):
        _ok(CliRunner().invoke(main, argv), argv)


def test_study_yaml_seed_is_valid(study):
    # The store fuzz starts from a working study: make sure it does work unmangled.
    assert yaml.safe_load((study / "study.yaml").read_text())["org_column"] == "wf_org"
    result = CliRunner().invoke(main, ["status", str(study), "--format", "json"])
    assert result.exit_code == 0, result.output
