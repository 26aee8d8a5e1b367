"""Organisation profiles in the study store: one row per organisation and wave.

An organisation profile (the bundled ``org-profile`` instrument, or another one a study uses) is
answered once per organisation and wave by its director or HR lead. Its answers are kept apart
from staff responses, in three tables of the same store:

``org_profiles``
    One row per ``(org, wave)`` (the primary key), one column per storable item of the profile
    instrument (its organisation item is the ``org`` column itself), plus the platform's
    ``response_id``, the ``batch_id`` and the ``source_row`` it came from.
``profile_batches``
    One row per ingested profile file, as ``batches`` is for staff files:
    ``rows_read = stored + quarantined`` always.
``profile_quarantine``
    Profile rows read but not stored: source row, response id, reason and only the offending
    cells (JSON, personal data withheld), as ``quarantine`` is for staff files.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from fieldsurvey.instrument import Instrument, resolve_instrument
from fieldsurvey.store.database import item_sql_type, read_store
from fieldsurvey.store.study import Study

#: The bundled organisation profile instrument.
PROFILE_INSTRUMENT = "org-profile"
#: Key columns of ``org_profiles`` (not answers).
PROFILE_KEYS = ("org", "wave", "response_id", "batch_id", "source_row")

_FIXED = """
CREATE TABLE IF NOT EXISTS profile_batches (
    batch_id INTEGER PRIMARY KEY,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    platform TEXT NOT NULL,
    instrument TEXT NOT NULL,
    wave TEXT NOT NULL,
    org TEXT,
    rows_read INTEGER NOT NULL,
    stored INTEGER NOT NULL,
    quarantined INTEGER NOT NULL,
    dropped_personal TEXT,
    unmapped_columns TEXT,
    ingested_at TIMESTAMP,
    CHECK (rows_read = stored + quarantined)
);
CREATE TABLE IF NOT EXISTS profile_quarantine (
    batch_id INTEGER NOT NULL,
    source_row INTEGER,
    cells TEXT,
    reason TEXT NOT NULL,
    response_id TEXT
);
"""


def org_item(inst: Instrument) -> str:
    """The profile's organisation item: its first open-coded item named ``*_org``.

    Examples
    --------
    >>> org_item(resolve_instrument("org-profile"))
    'op_org'
    """
    for item in inst.items:
        rs = inst.response_scale_of(item.id)
        if item.id.endswith("_org") and rs.type == "categorical" and not rs.labels:
            return item.id
    raise KeyError(f"{inst.id}: no organisation item (an open-coded item named like op_org)")


def profile_columns(inst: Instrument) -> dict[str, str]:
    """Item id -> SQL type for every stored answer of a profile (the organisation item aside).

    Examples
    --------
    >>> cols = profile_columns(resolve_instrument("org-profile"))
    >>> cols["op_region"], cols["op_pay_cm"], cols["op_peer_led"], "op_org" in cols
    ('TEXT', 'DOUBLE', 'INTEGER', False)
    """
    skip = org_item(inst)
    out: dict[str, str] = {}
    for item in inst.items:
        sql_type = item_sql_type(inst, item.id)
        if sql_type and item.id != skip:
            out[item.id] = sql_type
    return out


def ensure_profile_schema(con: duckdb.DuckDBPyConnection, inst: Instrument) -> None:
    """Create the profile tables if missing and add a column for every item of ``inst``."""
    con.execute(_FIXED)
    columns = profile_columns(inst)
    exists = con.execute("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name = 'org_profiles'").fetchall()[0][0]
    if not exists:
        cols = "".join(f',\n    "{c}" {t}' for c, t in columns.items())
        con.execute(f"""
            CREATE TABLE org_profiles (
                org TEXT NOT NULL,
                wave TEXT NOT NULL,
                response_id TEXT,
                batch_id INTEGER NOT NULL,
                source_row INTEGER{cols},
                PRIMARY KEY (org, wave)
            )""")
        return
    present = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'org_profiles'"
    ).fetchall()}
    for col, sql_type in columns.items():
        if col not in present:
            con.execute(f'ALTER TABLE org_profiles ADD COLUMN "{col}" {sql_type}')


def has_profiles(study: Study) -> bool:
    """True when the study's store has a profile table (a profile file was ingested)."""
    if not study.store_path.is_file():
        return False
    found = read_store(study, {"t": "SELECT count(*) AS n FROM information_schema.tables "
                                    "WHERE table_name = 'org_profiles'"})["t"]
    return bool(found["n"].iloc[0])


def load_profiles(study: Study, instrument: str | Instrument = PROFILE_INSTRUMENT) -> pd.DataFrame:
    """Stored organisation profiles: one row per organisation and wave.

    Columns are ``org``, ``wave``, ``response_id``, ``batch_id``, ``source_row`` and one per
    item of the profile instrument (NA where unanswered, or added since the last ingest).
    An empty frame with those columns when no profile was ingested.
    """
    inst = resolve_instrument(instrument)
    columns = profile_columns(inst)
    if has_profiles(study):
        frame = read_store(study, {"p": "SELECT * FROM org_profiles ORDER BY wave, org"})["p"]
    else:
        frame = pd.DataFrame(columns=list(PROFILE_KEYS))
    for col, sql_type in columns.items():
        if col not in frame.columns:
            frame[col] = pd.Series(pd.NA, index=frame.index,
                                   dtype="object" if sql_type == "TEXT" else "Float64")
    return frame[[*PROFILE_KEYS, *columns]]
