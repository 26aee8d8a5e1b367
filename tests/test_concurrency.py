"""Several users of one study at once, with real parallel processes: readers run beside each
other, a writer waits for them and they for it, nothing is lost and nobody crashes; a study that
stays busy is reported with who holds it and since when; a deleted or damaged store is a clear
error, never a new empty store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.errors import StoreError, StudyBusyError
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.store import init_study, load_responses, open_study
from fieldsurvey.store.lock import TIMEOUT_ENV, writer_file
from fieldsurvey.store.status import study_status

INSTRUMENT = """
id: strain
title: Strain (test instrument)
version: "1"
citation: test
licence: {holder: test, terms: CC0, notice: test, url: "https://example.org", wording_included: true}
response_scales:
  freq: {type: likert, min: 1, max: 5}
items:
  - {id: st1, scale: freq, text: {en: "one"}}
  - {id: st2, scale: freq, text: {en: "two"}}
  - {id: st3, scale: freq, text: {en: "three"}}
scales:
  - {id: strain, label: Strain, items: [st1, st2, st3], method: mean, min_answered: 2,
     higher_is: worse}
"""
ROWS_PER_FILE = 300

# Each worker is a separate Python process, as two users' commands would be.
WORKER = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path
    from fieldsurvey.scoring import scored_responses
    from fieldsurvey.store import open_study
    from fieldsurvey.store.status import study_status
    from fieldsurvey.ingest.pipeline import ingest_file

    role, root, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    study = open_study(root)
    log = []
    if role == "writer":
        for path in sys.argv[4:]:
            summary = ingest_file(study, path, org="A")
            log.append([summary.rows_read, summary.stored, summary.quarantined])
        (root / "writer-done").write_text("done")
    else:
        give_up = time.monotonic() + 240  # a failed writer must not leave readers looping
        while time.monotonic() < give_up:
            finished = (root / "writer-done").exists()  # then this read sees every file
            status = study_status(study)
            batches = status["batches"]
            consistent = bool((batches["rows_read"] == batches["stored"]
                               + batches["quarantined"]).all())
            total = int(batches["stored"].sum())
            counted = int(status["responses"]["responses"].sum())
            data = scored_responses(study)
            log.append([total, counted, len(data), consistent,
                        bool(data["strain"].notna().all())])
            if finished and len(log) >= 3:
                break
    out.write_text(json.dumps(log))
''')


def _write_file(path: Path, start: int) -> Path:
    lines = ["response_id,st1,st2,st3"]
    lines += [f"r{i},{i % 5 + 1},{(i * 2) % 5 + 1},{(i * 3) % 5 + 1}"
              for i in range(start, start + ROWS_PER_FILE)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def study(tmp_path):
    (tmp_path / "strain.yaml").write_text(INSTRUMENT)
    return init_study(tmp_path / "study", [str(tmp_path / "strain.yaml")])


def test_four_readers_and_one_writer_in_parallel_lose_nothing(study, tmp_path):
    ingest_file(study, _write_file(tmp_path / "f0.csv", 0), org="A")
    files = [_write_file(tmp_path / f"f{k}.csv", k * ROWS_PER_FILE) for k in range(1, 6)]
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, TIMEOUT_ENV: "300"}
    procs = {
        f"reader{k}": subprocess.Popen(
            [sys.executable, str(script), "reader", str(study.root), str(tmp_path / f"r{k}.json")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(4)
    }
    procs["writer"] = subprocess.Popen(
        [sys.executable, str(script), "writer", str(study.root), str(tmp_path / "w.json"),
         *map(str, files)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{name} failed:\n{err}"
        assert "Traceback" not in err
    written = json.loads((tmp_path / "w.json").read_text())
    assert written == [[ROWS_PER_FILE, ROWS_PER_FILE, 0]] * 5
    expected = ROWS_PER_FILE * 6
    assert len(load_responses(study)) == expected  # nothing lost
    for k in range(4):
        log = json.loads((tmp_path / f"r{k}.json").read_text())
        assert len(log) >= 3
        totals = [entry[0] for entry in log]
        assert totals == sorted(totals)  # every read saw a committed state, never going back
        for total, counted, loaded, consistent, scored in log:
            # status is one snapshot; the scored data is read a moment later (maybe after a write)
            assert consistent and total == counted and total <= loaded and scored
            for n in (total, loaded):  # only whole files: never a half-stored one
                assert n % ROWS_PER_FILE == 0 and ROWS_PER_FILE <= n <= expected
        assert totals[-1] == expected


HOLDER = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from fieldsurvey.store import open_study
    from fieldsurvey.store.database import writing_store
    study = open_study(Path(sys.argv[1]))
    with writing_store(study, command="fieldsurvey ingest big.csv"):
        Path(sys.argv[2]).write_text("holding")
        time.sleep(float(sys.argv[3]))
''')


def _hold_write_lock(study, tmp_path, seconds: float) -> subprocess.Popen:
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    flag = tmp_path / "holding"
    proc = subprocess.Popen([sys.executable, str(script), str(study.root), str(flag),
                             str(seconds)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc


def test_a_second_writer_waits_for_the_first(study, tmp_path, monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, "60")
    holder = _hold_write_lock(study, tmp_path, 2.0)
    started = time.monotonic()
    summary = ingest_file(study, _write_file(tmp_path / "f.csv", 0), org="A")
    assert summary.stored == ROWS_PER_FILE
    assert time.monotonic() - started > 0.5  # it did wait
    holder.wait(timeout=60)
    assert holder.returncode == 0


def test_a_study_that_stays_busy_says_who_holds_it_and_since_when(study, tmp_path, monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, "0.5")
    holder = _hold_write_lock(study, tmp_path, 8.0)
    try:
        assert writer_file(study.store_path).is_file()
        with pytest.raises(StudyBusyError) as caught:
            study_status(study)
        message = str(caught.value)
        assert "the study is busy: 'fieldsurvey ingest big.csv'" in message
        assert f"(process {holder.pid}) has been writing to it since 20" in message
        assert "within 0.5 s" in message and TIMEOUT_ENV in message
        result = CliRunner().invoke(main, ["ingest", str(study.root),
                                           str(_write_file(tmp_path / "f.csv", 0)), "--org", "A"])
        assert result.exit_code == 2 and "the study is busy" in result.output
        assert "Traceback" not in result.output
    finally:
        holder.wait(timeout=60)
    assert not writer_file(study.store_path).exists()  # the note goes with the writer


def test_readers_run_beside_each_other(study, tmp_path):
    ingest_file(study, _write_file(tmp_path / "f.csv", 0), org="A")
    con = duckdb.connect(str(study.store_path), read_only=True)  # another reader, still open
    try:
        assert int(study_status(study)["responses"]["responses"].sum()) == ROWS_PER_FILE
        assert len(load_responses(study)) == ROWS_PER_FILE
    finally:
        con.close()


def test_status_on_a_deleted_store_does_not_create_one(study):
    study.store_path.unlink()
    result = CliRunner().invoke(main, ["status", str(study.root)])
    assert result.exit_code == 2
    assert "this study store is missing (deleted or moved?)" in result.output
    assert not study.store_path.exists()
    with pytest.raises(StoreError) as caught:
        load_responses(open_study(study.root))
    assert caught.value.code == "store_missing"


@pytest.mark.parametrize("damage", ["truncated", "zero bytes", "not duckdb", "no tables"])
def test_a_damaged_store_is_a_clear_error(study, tmp_path, damage):
    ingest_file(study, _write_file(tmp_path / "f.csv", 0), org="A")
    raw = study.store_path.read_bytes()
    if damage == "truncated":
        study.store_path.write_bytes(raw[: len(raw) // 3])
    elif damage == "zero bytes":
        study.store_path.write_bytes(b"")
    elif damage == "not duckdb":
        study.store_path.write_bytes(b"PK\x03\x04 this is a zip, not a database" * 40)
    else:
        study.store_path.unlink()
        duckdb.connect(str(study.store_path)).close()  # a DuckDB file, but no fieldsurvey tables
    for args in (["status", str(study.root)], ["status", str(study.root), "--format", "json"],
                 ["compare", str(study.root), "--by", "org"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert "cannot be read: it is damaged, truncated or not a fieldsurvey store" in result.output
