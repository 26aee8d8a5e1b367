"""Mangled files thrown at the whole ingest (reader + mapping + store): one clear error and an
unchanged store, or every row stored or quarantined. Also: free text only where the study asks."""

from __future__ import annotations

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.store import init_study, load_responses
from fieldsurvey.synthetic import generate_coalition

INSTRUMENTS = ("workforce-context", "proqol5")


@pytest.fixture(scope="module")
def clean_csv(tmp_path_factory):
    responses = generate_coalition(n_orgs=2, seed=13, instruments=INSTRUMENTS).responses.head(25)
    path = tmp_path_factory.mktemp("clean") / "clean.csv"
    responses.drop(columns=["org", "wave"]).to_csv(path, index=False)
    return path.read_bytes()


def _table_counts(study) -> dict[str, int]:
    con = duckdb.connect(str(study.store_path), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                for t in ("batches", "responses", "quarantine", "flags")}
    finally:
        con.close()


mangles = st.lists(
    st.one_of(
        st.tuples(st.just("truncate"), st.floats(0.05, 0.95)),
        st.tuples(st.just("junk"), st.binary(min_size=1, max_size=40)),
        st.tuples(st.just("delimiter"), st.sampled_from([b";", b"\t", b"|"])),
        st.tuples(st.just("drop_cell"), st.integers(0, 10_000)),
        st.tuples(st.just("bom"), st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe"])),
        st.tuples(st.just("latin1"), st.just(b"caf\xe9")),
    ),
    min_size=1, max_size=3,
)


def _mangle(data: bytes, ops) -> bytes:
    for op, arg in ops:
        if op == "truncate":
            data = data[: max(1, int(len(data) * arg))]
        elif op == "junk":
            middle = len(data) // 2
            data = data[:middle] + arg + data[middle:]
        elif op == "delimiter":
            data = data.replace(b",", arg, 40)
        elif op == "drop_cell":
            lines = data.split(b"\n")
            target = 1 + arg % max(1, len(lines) - 1)
            if target < len(lines):
                lines[target] = lines[target].rsplit(b",", 1)[0]
            data = b"\n".join(lines)
        elif op == "bom":
            data = arg + data
        else:
            data = data.replace(b"O01", arg, 1)
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=mangles)
def test_mangled_files_are_accounted_for_or_rejected_cleanly(clean_csv, tmp_path_factory, ops):
    root = tmp_path_factory.mktemp("fuzz")
    study = init_study(root / "s", list(INSTRUMENTS), org_column="wf_org")
    path = root / "mangled.csv"
    path.write_bytes(_mangle(clean_csv, ops))
    before = _table_counts(study)
    try:
        summary = ingest_file(study, path)
    except IngestError as exc:
        assert "mangled.csv" in str(exc)
        assert _table_counts(study) == before  # nothing half-stored
        return
    counts = _table_counts(study)
    assert summary.rows_read == summary.stored + summary.quarantined
    assert counts["responses"] == summary.stored
    assert counts["quarantine"] == summary.quarantined


def test_free_text_is_kept_only_when_the_study_asks(tmp_path):
    responses = generate_coalition(n_orgs=2, seed=14, instruments=INSTRUMENTS).responses.head(12)
    responses = responses.drop(columns=["org", "wave"]).assign(
        comments=["The supervision I receive has been really helpful this whole year"] * 12)
    path = tmp_path / "with-comments.csv"
    responses.to_csv(path, index=False)
    plain = init_study(tmp_path / "plain", list(INSTRUMENTS), org_column="wf_org")
    summary = ingest_file(plain, path)
    assert summary.free_text_columns == ["comments"] and not summary.free_text_kept
    assert _table_counts(plain)["responses"] == 12
    con = duckdb.connect(str(plain.store_path), read_only=True)
    assert con.execute("SELECT count(*) FROM free_text").fetchall()[0][0] == 0
    con.close()
    assert "comments" not in load_responses(plain).columns

    keeping = init_study(tmp_path / "keep", list(INSTRUMENTS), org_column="wf_org")
    raw = yaml.safe_load((keeping.root / "study.yaml").read_text())
    raw["keep_free_text"] = True
    (keeping.root / "study.yaml").write_text(yaml.safe_dump(raw))
    from fieldsurvey.store import open_study

    keeping = open_study(keeping.root)
    summary = ingest_file(keeping, path)
    assert summary.free_text_kept
    con = duckdb.connect(str(keeping.store_path), read_only=True)
    rows = con.execute("SELECT question, answer FROM free_text").fetchall()
    con.close()
    assert len(rows) == 12 and rows[0][0] == "comments"
    assert "comments" not in load_responses(keeping).columns
