"""The study store: a DuckDB database users can query with SQL.

Tables
------
``batches``
    One row per ingested file: name, SHA-256, platform, wave, organisation (when set for the whole
    file), rows read / stored / quarantined, what was dropped as personal data, unmapped columns,
    and when. ``rows_read = stored + quarantined`` always.
``responses``
    One row per stored response, keyed by ``(org, wave, response_id)``; one column per item of the
    study's instruments (integer codes; numbers for numeric items), plus the platform's
    ``finished``, ``progress`` and ``duration_seconds``. Free text is never here.
``quarantine``
    Rows that were read but not stored: the source row number, its response id (when it has
    one), the reason and ``cells`` (JSON): only the offending cells of item columns, personal
    data withheld; never the rest of the row. (Stores made before had a ``raw`` column with the
    whole row: it is dropped when the store is next opened for writing.)
``declared_missing``
    Codes the source file declared as missing (SPSS user-missing values such as -1 "Refused",
    Stata ``.a``) met in stored responses: the item is NULL in ``responses``, and here are the
    code and its label, so a refusal can still be told from a skip.
``flags``
    Data-quality flags per response (incomplete, speeder, straightlining, attention_failed).
``free_text``
    Restricted: free-text answers, only when the study sets ``keep_free_text: true``. Never used
    by any report.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pandas as pd

from fieldsurvey.instrument import Instrument
from fieldsurvey.store.lock import connect, damaged, writing
from fieldsurvey.store.study import Study

_FIXED = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id INTEGER PRIMARY KEY,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    platform TEXT NOT NULL,
    wave TEXT NOT NULL,
    org TEXT,
    rows_read INTEGER NOT NULL,
    stored INTEGER NOT NULL,
    quarantined INTEGER NOT NULL,
    dropped_personal TEXT,
    free_text_columns TEXT,
    unmapped_columns TEXT,
    ingested_at TIMESTAMP,
    CHECK (rows_read = stored + quarantined)
);
CREATE TABLE IF NOT EXISTS quarantine (
    batch_id INTEGER NOT NULL,
    source_row INTEGER,
    cells TEXT,
    reason TEXT NOT NULL,
    response_id TEXT
);
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS response_id TEXT;
CREATE TABLE IF NOT EXISTS flags (
    org TEXT NOT NULL,
    wave TEXT NOT NULL,
    response_id TEXT NOT NULL,
    flag TEXT NOT NULL,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS declared_missing (
    org TEXT NOT NULL,
    wave TEXT NOT NULL,
    response_id TEXT NOT NULL,
    item TEXT NOT NULL,
    code TEXT NOT NULL,
    label TEXT
);
CREATE TABLE IF NOT EXISTS free_text (
    org TEXT NOT NULL,
    wave TEXT NOT NULL,
    response_id TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT
);
"""

META_COLUMNS = ["org", "wave", "response_id", "batch_id", "source_row", "finished", "progress",
                "duration_seconds"]


def item_sql_type(inst: Instrument, item_id: str) -> str | None:
    """The store column type for an item; None for text items (never stored as answers)."""
    rs = inst.response_scale_of(item_id)
    if rs.type == "text":
        return None
    if rs.type == "categorical" and not rs.labels:
        return "TEXT"  # open-coded: codes set by the study (organisation codes)
    return "DOUBLE" if rs.type == "numeric" else "INTEGER"


def item_columns(study: Study) -> dict[str, str]:
    """Item id -> SQL type for every storable item of the study's instruments, in order."""
    out: dict[str, str] = {}
    for inst in study.instruments():
        for item in inst.items:
            sql_type = item_sql_type(inst, item.id)
            if sql_type and item.id not in out:
                out[item.id] = sql_type
    return out


def open_store(study: Study, read_only: bool = False, timeout: float | None = None
               ) -> duckdb.DuckDBPyConnection:
    """Open the study's DuckDB store, waiting while another command holds it (see
    :mod:`fieldsurvey.store.lock`).

    Read-only connections (every command that only reads) run beside each other and never create
    a store. A write connection creates a missing store and gives it a column for every item of
    the study's instruments; prefer :func:`writing_store`, which also says who writes.

    Raises
    ------
    StoreError
        The store is missing (read-only) or cannot be read.
    StudyBusyError
        It stayed locked by another command for the whole wait.
    """
    con = connect(study.store_path, read_only=read_only, timeout=timeout)
    if not read_only:
        try:
            _ensure_schema(con, study)
        except BaseException:
            con.close()
            raise
    return con


@contextmanager
def writing_store(study: Study, command: str | None = None
                  ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A write connection to the study's store for the duration of a ``with`` block."""
    with writing(study.store_path, command) as con:
        _ensure_schema(con, study)
        yield con


def _ensure_schema(con: duckdb.DuckDBPyConnection, study: Study) -> None:
    try:
        con.execute(_FIXED)
        _drop_raw_quarantine(con)
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'responses'"
        ).fetchall()[0][0]
    except duckdb.Error as exc:
        raise damaged(study.store_path, exc) from None
    items = item_columns(study)
    if not exists:
        cols = ",\n    ".join(f'"{c}" {t}' for c, t in items.items())
        con.execute(f"""
            CREATE TABLE responses (
                org TEXT NOT NULL,
                wave TEXT NOT NULL,
                response_id TEXT NOT NULL,
                batch_id INTEGER NOT NULL,
                source_row INTEGER,
                finished BOOLEAN,
                progress DOUBLE,
                duration_seconds DOUBLE{',' if cols else ''}
                {cols},
                PRIMARY KEY (org, wave, response_id)
            )""")
    else:
        present = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'responses'"
        ).fetchall()}
        for col, sql_type in items.items():
            if col not in present:  # an instrument was added to study.yaml
                con.execute(f'ALTER TABLE responses ADD COLUMN "{col}" {sql_type}')


def read_store(study: Study, queries: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Run read-only queries on the store; a store that is not a readable fieldsurvey store
    (tables missing, pages damaged) is a :class:`~fieldsurvey.errors.StoreError`."""
    con = open_store(study, read_only=True)
    try:
        return {name: con.execute(sql).df() for name, sql in queries.items()}
    except duckdb.Error as exc:
        raise damaged(study.store_path, exc) from None
    finally:
        con.close()


def load_declared_missing(study: Study) -> pd.DataFrame:
    """Declared missing codes of stored responses: org, wave, response_id, item, code, label.

    The matching item is NULL in ``responses`` (never an answer, never scored); this table says
    which declared code (e.g. -1 "Refused", Stata ``.a``) the source file held there, for exports
    that put the codes back with their labels. Stores written before the table existed have none.
    """
    has = read_store(study, {"t": "SELECT count(*) AS n FROM information_schema.tables "
                                  "WHERE table_name = 'declared_missing'"})["t"]["n"].iloc[0]
    if not has:
        return pd.DataFrame(columns=["org", "wave", "response_id", "item", "code", "label"])
    return read_store(study, {"t": "SELECT org, wave, response_id, item, code, label FROM "
                                   "declared_missing ORDER BY wave, org, response_id, item"})["t"]


def _drop_raw_quarantine(con: duckdb.DuckDBPyConnection) -> None:
    """Older stores kept whole quarantined rows (personal data included) in ``raw``."""
    columns = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'quarantine'"
    ).fetchall()}
    if "raw" in columns:
        con.execute("ALTER TABLE quarantine DROP COLUMN raw")
        con.execute("ALTER TABLE quarantine ADD COLUMN cells TEXT")


def respondent_keys(data: pd.DataFrame) -> pd.Series:
    """One stable key per stored response: organisation, wave and response id.

    The release ledger identifies respondents by (a hash of) this key, so every output that
    rests on stored responses, tables and respondent-level files alike, uses this one.

    Examples
    --------
    >>> respondent_keys(pd.DataFrame({"org": ["O01"], "wave": [1], "response_id": ["R_1"]}))[0]
    'O01|1|R_1'
    """
    return (data["org"].astype(str) + "|" + data["wave"].astype(str) + "|"
            + data["response_id"].astype(str)).reset_index(drop=True)


def load_responses(study: Study, *, apply_exclusions: bool = True) -> pd.DataFrame:
    """Stored responses as a DataFrame (one row per response, one column per item).

    With ``apply_exclusions`` the study's exclusion rules remove flagged responses; the attrs
    ``excluded`` holds how many were removed for which reason.
    """
    tables = read_store(study, {
        "responses": "SELECT * FROM responses ORDER BY wave, org, batch_id, source_row, response_id",
        "flags": "SELECT org, wave, response_id, flag FROM flags",
    })
    frame, flags = tables["responses"], tables["flags"]
    # Items of an instrument added to study.yaml since the last ingest: no answers yet.
    for item, sql_type in item_columns(study).items():
        if item not in frame.columns:
            frame[item] = pd.Series(pd.NA, index=frame.index,
                                    dtype="object" if sql_type == "TEXT" else "Float64")
    excluded: dict[str, int] = {}
    if apply_exclusions and not flags.empty and not frame.empty:
        rules = study.config.exclusions
        active = {
            "incomplete": rules.incomplete,
            "speeder": rules.speeders,
            "straightlining": rules.straightlining,
            "attention_failed": rules.attention_failed,
        }
        drop_flags = flags[flags["flag"].map(active).fillna(False).astype(bool)]
        if not drop_flags.empty:
            key = ["org", "wave", "response_id"]
            # Each response is counted once, under its first reason in rule order.
            order = {name: i for i, name in enumerate(active)}
            first = (drop_flags.assign(rank=drop_flags["flag"].map(order))
                     .sort_values("rank").drop_duplicates(key))
            excluded = first["flag"].value_counts().to_dict()
            merged = frame.merge(first[key].assign(_drop=True), on=key, how="left")
            frame = frame[merged["_drop"].isna().to_numpy()].reset_index(drop=True)
    frame.attrs["excluded"] = {k: int(v) for k, v in excluded.items()}
    return frame
