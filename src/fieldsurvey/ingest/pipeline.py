"""Ingest one export file into a study store, losing nothing and exposing no one.

Steps, all inside one database transaction (a failure part-way leaves the store as it was):

1. Hash the file: the same bytes ingested before add nothing.
2. Read it with the platform reader (personal data dropped by column name and by content, free
   text split off). Response ids that are personal data (e-mail addresses, phone numbers,
   names) are replaced by keyed hashes (:func:`hash_ids`).
3. Map columns to the study's items and answers to codes.
4. Quarantine rows that cannot be stored, each with its reason: preview/test rows, no response
   id, duplicate ids, no organisation, personal data in an answer column, invalid answers
   (naming the column and value), responses already stored identically from another file.
   Only the offending cells of item columns are kept with the reason, personal data withheld
   (:func:`fieldsurvey.ingest.personal_data.shown_value`); never the rest of the row.
5. Refuse a *changed* file whose response ids are already stored with other answers (a conflict
   is reported, never merged silently).
6. Store responses, quarantine rows, quality flags and (only when the study asks) free text.
7. Check ``rows_read == stored + quarantined`` and record the batch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.ingest import PlatformExport, read_export
from fieldsurvey.ingest.detect import platform_candidates
from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.export import keep_as_answers
from fieldsurvey.ingest.files import read_records
from fieldsurvey.ingest.mapping import MappingFile, code_answers, map_columns, read_mapping_file
from fieldsurvey.ingest.personal_data import (
    personal_hits,
    personal_kind,
    redact_personal,
    shown_value,
)
from fieldsurvey.ingest.quality import quality_flags
from fieldsurvey.ingest.table import read_plain_table
from fieldsurvey.store.database import item_columns, open_store
from fieldsurvey.store.study import Study

PLAIN_SUFFIXES = {".sav", ".zsav", ".por", ".dta", ".sas7bdat", ".xpt"}
#: The study's secret for hashing personal response ids; it never leaves the study folder.
ID_KEY_FILE = ".fieldsurvey-id-key"


class IngestConflict(IngestError):
    """A changed file carries response ids already stored with different answers."""


@dataclass
class IngestSummary:
    """What one ingest did. ``rows_read == stored + quarantined`` always."""

    file: str
    platform: str
    batch_id: int | None
    rows_read: int
    stored: int
    quarantined: int
    already_ingested: bool = False
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)
    dropped_personal: list[dict[str, str]] = field(default_factory=list)
    free_text_columns: list[str] = field(default_factory=list)
    free_text_kept: bool = False
    unmapped_columns: list[str] = field(default_factory=list)
    missing_items: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ingest_file(
    study: Study,
    path: str | Path,
    *,
    platform: str = "auto",
    wave: str | None = None,
    org: str | None = None,
    mapping: str | Path | None = None,
    dictionary: str | Path | None = None,
    details: str | Path | None = None,
    form: str | Path | None = None,
    structure: str | Path | None = None,
) -> IngestSummary:
    """Read an export and store it in the study.

    Parameters
    ----------
    study : Study
    path : the export file
    platform : "auto" (detect), a platform name, or "table" for a plain data file whose columns
        are item ids (CSV/XLSX/SPSS/Stata/SAS from a researcher)
    wave : wave label (default: the study's first wave, or "1")
    org : organisation code for every row (else the study's ``org_column``)
    mapping : mapping file (see :mod:`fieldsurvey.ingest.mapping`)
    dictionary : REDCap data dictionary for the export
    details : SurveyMonkey survey details JSON (needed for API exports: answers are choice ids)
    form : KoboToolbox/ODK form definition (KPI asset JSON or XLSForm)
    structure : LimeSurvey survey-structure file

    Returns
    -------
    IngestSummary

    Raises
    ------
    IngestError
        Unreadable input or impossible settings, naming file, row and column; nothing is stored.
    IngestConflict
        The file changes answers already stored; nothing is stored.
    """
    path = Path(path)
    if not path.is_file():
        raise IngestError(path.name, None, None, "no such file")
    wave = str(wave) if wave is not None else study.default_wave()
    if study.config.waves and wave not in study.config.waves:
        raise IngestError(
            path.name,
            None,
            None,
            f"wave {wave!r} is not one of the study's waves {list(study.config.waves)} "
            "(study.yaml: waves)",
        )
    instruments = study.instruments()
    map_file: MappingFile | None = read_mapping_file(mapping, instruments) if mapping else None
    sha = file_sha256(path)
    con = open_store(study)
    try:
        found = con.execute(
            "SELECT batch_id, platform FROM batches WHERE sha256 = ?", [sha]
        ).fetchall()
        if found:
            row = found[0]
            return IngestSummary(
                file=path.name,
                platform=row[1],
                batch_id=row[0],
                rows_read=0,
                stored=0,
                quarantined=0,
                already_ingested=True,
                notes=[f"identical file already ingested as batch {row[0]}; nothing added"],
            )
        answer_columns = [c for c in (study.config.org_column,) if c]
        answer_columns += list(item_columns(study)) + list(map_file.columns if map_file else [])
        answer_columns = list(dict.fromkeys(answer_columns))
        companions = {"dictionary": dictionary, "details": details, "form": form,
                      "structure": structure}
        export = _read(path, platform, companions, answer_columns)
        prepared = _prepare(study, export, instruments, map_file, wave, org, path.name)
        return _store(study, con, prepared, export, sha, wave, org, path.name)
    finally:
        con.close()


def _read(path: Path, platform: str, companions: dict[str, str | Path | None],
          answer_columns: list[str]) -> PlatformExport:
    """Read with the platform's reader; the study's own columns are always answers, never
    free text (a Qualtrics text-entry organisation question, say)."""
    if platform == "table" or (platform == "auto" and path.suffix.lower() in PLAIN_SUFFIXES):
        return keep_as_answers(read_plain_table(path), answer_columns)
    try:
        return read_export(path, None if platform == "auto" else platform,
                           answer_columns=answer_columns, **companions)
    except IngestError:
        # A file with no platform's markers at all is a plain table (columns named by item
        # id); a file with markers of two platforms stays an error asking for --platform.
        if platform != "auto" or path.suffix.lower() == ".json":
            raise
        if platform_candidates(read_records(path)):
            raise
    export = keep_as_answers(read_plain_table(path), answer_columns)
    export.notes.append("no survey platform layout recognised: read as a plain table")
    return export


@dataclass
class _Prepared:
    rows: pd.DataFrame  # stored rows: org, wave, response_id, source_row, meta, items
    quarantine: pd.DataFrame  # source_row, cells (JSON of the offending item cells), reason
    flags: pd.DataFrame  # org, wave, response_id, flag, detail
    free_text: pd.DataFrame  # org, wave, response_id, question, answer
    unmapped: list[str]
    missing_items: list[str]


def _prepare(
    study: Study,
    export: PlatformExport,
    instruments: list,
    map_file: MappingFile | None,
    wave: str,
    org: str | None,
    file: str,
) -> _Prepared:
    data = export.data.reset_index(drop=True)
    meta = export.meta.reset_index(drop=True)
    # pandas deep-copies attrs on every operation: metadata rides on the export, not the frames.
    data.attrs, meta.attrs = {}, {}
    source_rows = pd.Series(np.asarray(export.row_numbers), dtype="int64").reset_index(drop=True)
    id_col = export.response_id_column
    answer_cols = [c for c in data.columns if c != id_col]
    mapping = map_columns(answer_cols, instruments, map_file)
    if not mapping.item_for_column:
        raise IngestError(file, 1, None,
                          "no column of this file is an item of the study's instruments "
                          f"({', '.join(i.id for i in instruments)}); nothing would be stored. "
                          "Check the file (a data dictionary?) or map its columns with --map")
    storable = item_columns(study)
    scale_of = {it.id: inst.response_scales[it.scale] for inst in instruments for it in inst.items}

    n = len(data)
    reasons = np.full(n, "", dtype=object)
    cells = np.full(n, None, dtype=object)  # the offending item cells of a quarantined row

    def reject(mask: np.ndarray, reason: str | np.ndarray,
               offending: np.ndarray | None = None) -> None:
        fresh = mask & (reasons == "")
        reasons[fresh] = reason if isinstance(reason, str) else reason[fresh]
        if offending is not None:
            cells[fresh] = offending[fresh]

    if "preview" in meta:
        reject(
            meta["preview"].astype("boolean").fillna(False).to_numpy(dtype=bool),
            "preview or test response (platform status)",
        )
    ids = (
        data[id_col].astype("string").str.strip()
        if id_col in data
        else pd.Series(pd.NA, index=data.index, dtype="string")
    )
    if export.personal_ids:
        ids = hash_ids(study, ids)
    reject((ids.isna() | (ids == "")).to_numpy(), "no response id")

    # Organisation: --org for the whole file, else the study's org column.
    if org is not None:
        orgs = pd.Series(str(org), index=data.index, dtype="string")
    else:
        org_col = study.config.org_column
        source = None
        if org_col:
            if org_col in data.columns:
                source = org_col
            else:
                source = next((c for c, i in mapping.item_for_column.items() if i == org_col), None)
        if source is None:
            raise IngestError(
                file,
                None,
                org_col,
                "cannot tell which organisation each response "
                "belongs to: give --org, or set org_column in study.yaml to a column "
                "of this file",
            )
        reject(*_personal_answers(data, [source], export))
        # "1.0000000000" (LimeSurvey's decimals) and "1" are the same organisation.
        orgs = data[source].astype("string").str.strip().str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
        reject((orgs.isna() | (orgs == "")).to_numpy(), f"no organisation (column {source} empty)")
    reject(*_personal_answers(data, list(mapping.item_for_column), export))

    coded: dict[str, np.ndarray | pd.Series] = {}
    text_items: dict[str, pd.Series] = {}
    for col, item_id in mapping.item_for_column.items():
        scale = scale_of[item_id]
        if item_id not in storable:
            text_items[item_id] = data[col]
            continue
        if scale.type == "categorical" and not scale.labels:
            # Open-coded (organisation codes): kept as text, normalised like the org key.
            text = data[col].astype("string").str.strip()
            coded[item_id] = text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True).replace("", pd.NA)
            continue
        answers_in = data[col]
        if export.platform == "surveymonkey" and col in export.value_labels:
            # SurveyMonkey API answers are opaque choice ids: read them as their choice texts,
            # which the instrument's labels (or the mapping file's) turn into codes.
            choice_ids = answers_in.astype("string")
            answers_in = choice_ids.map(export.value_labels[col]).fillna(choice_ids)
        extra = {}
        if map_file:
            extra = {**map_file.values.get("*", {}), **map_file.values.get(item_id, {})}
        result = code_answers(answers_in, scale, extra)
        coded[item_id] = result.values
        if result.invalid.any():
            bad = result.invalid
            shown = data[col].map(shown_value)
            messages = np.array(
                [
                    f"column {col}: {r} (value {v!r})"
                    for r, v in zip(result.reasons[bad], shown[bad], strict=True)
                ],
                dtype=object,
            )
            full = np.full(n, "", dtype=object)
            full[bad] = messages
            offending = np.full(n, None, dtype=object)
            offending[bad] = [{col: v} for v in shown[bad]]
            reject(bad, full, offending)

    keys = pd.DataFrame({"org": orgs.fillna(""), "wave": wave, "response_id": ids.fillna("")})
    dup = keys.duplicated(keep="first").to_numpy() & (reasons == "")
    if dup.any():
        first_row = source_rows.groupby([keys["org"], keys["response_id"]]).transform("first")
        messages = np.array(
            [
                f"duplicate response id {rid!r} (first at row {fr})"
                for rid, fr in zip(keys["response_id"], first_row, strict=True)
            ],
            dtype=object,
        )
        reject(dup, messages)

    ok = reasons == ""
    rows = keys[ok].copy()
    rows["source_row"] = source_rows[ok].to_numpy()
    for flag_col in ("finished", "progress", "duration_seconds"):
        if flag_col in meta:
            values = meta[flag_col][ok]
            rows[flag_col] = (
                values.astype("boolean")
                if flag_col == "finished"
                else pd.to_numeric(values, errors="coerce")
            ).to_numpy()
        else:
            rows[flag_col] = pd.NA
    answers = pd.DataFrame({item: np.asarray(values)[ok] for item, values in coded.items()},
                           index=rows.index)
    rows = pd.concat([rows, answers], axis=1)

    bad_positions = np.flatnonzero(~ok)
    quarantine = pd.DataFrame(
        {
            "source_row": source_rows.iloc[bad_positions].to_numpy(),
            "cells": [None if cells[p] is None else json.dumps(cells[p], ensure_ascii=False)
                      for p in bad_positions],
            "reason": reasons[bad_positions].astype(str),
        }
    )

    flags = quality_flags(
        answers.reset_index(drop=True), meta[ok].reset_index(drop=True), instruments, study.config
    )
    flag_rows = rows.reset_index(drop=True).iloc[flags["position"].to_numpy()]
    flags = pd.DataFrame(
        {
            "org": flag_rows["org"].to_numpy(),
            "wave": wave,
            "response_id": flag_rows["response_id"].to_numpy(),
            "flag": flags["flag"].to_numpy(),
            "detail": flags["detail"].to_numpy(),
        }
    )

    free = []
    if study.config.keep_free_text:
        texts = {**{c: export.free_text[c] for c in _free_text_columns(export)}, **text_items}
        for question, values in texts.items():
            values = values.reset_index(drop=True)[ok]
            keep = values.notna()
            free.append(
                pd.DataFrame(
                    {
                        "org": rows["org"][keep.to_numpy()].to_numpy(),
                        "wave": wave,
                        "response_id": rows["response_id"][keep.to_numpy()].to_numpy(),
                        "question": safe_column_name(question),
                        "answer": values[keep].astype(str).map(redact_personal).to_numpy(),
                    }
                )
            )
    free_text = (
        pd.concat(free, ignore_index=True)
        if free
        else pd.DataFrame(columns=["org", "wave", "response_id", "question", "answer"])
    )
    missing_items = [i for i in mapping.missing_items if i in storable]
    return _Prepared(
        rows=rows.reset_index(drop=True),
        quarantine=quarantine,
        flags=flags,
        free_text=free_text,
        unmapped=[safe_column_name(c) for c in mapping.unmapped],
        missing_items=missing_items,
    )


def hash_ids(study: Study, ids: pd.Series) -> pd.Series:
    """Response ids replaced by keyed hashes (``pid-`` and 20 hex digits of HMAC-SHA256).

    The key is a random secret kept in the study folder (``.fieldsurvey-id-key``, made on first
    use): the same id always gets the same hash, so re-sent files are still recognised, and
    without the key nobody can test guesses ("is jo@example.org in the store?").
    """
    path = study.root / ID_KEY_FILE
    if not path.is_file():
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    key = path.read_bytes()
    return ids.map(lambda v: v if pd.isna(v) or v == "" else
                   "pid-" + hmac.new(key, str(v).encode("utf-8"), "sha256").hexdigest()[:20]
                   ).astype("string")


def safe_column_name(name: object) -> str:
    """A column name as it may be stored: withheld when the name itself is personal data."""
    kind = personal_kind(str(name))
    return f"[column name withheld: {kind}]" if kind else str(name)


def _personal_answers(data: pd.DataFrame, columns: list, export: PlatformExport
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows whose answer cells hold personal data: (mask, reasons, offending cells).

    The reader has already searched every column (``PlatformExport.personal_cells``); an
    export made by hand is searched here.
    """
    found = export.personal_cells
    n = len(data)
    mask = np.zeros(n, dtype=bool)
    reasons = np.full(n, "", dtype=object)
    offending = np.full(n, None, dtype=object)
    for column in columns:
        if column in found:
            hits = found[column]
        elif export.content_checked:
            continue
        else:
            hits = personal_hits(data[column])
        for position, kind in zip(data.index.get_indexer(hits.index), hits, strict=True):
            if position < 0 or mask[position]:
                continue
            mask[position] = True
            reasons[position] = f"column {column}: personal data ({kind}); the value was not kept"
            offending[position] = {column: f"[withheld: {kind}]"}
    return mask, reasons, offending


def _store(
    study: Study,
    con,
    prepared: _Prepared,
    export: PlatformExport,
    sha: str,
    wave: str,
    org: str | None,
    file: str,
) -> IngestSummary:
    rows, quarantine = prepared.rows, prepared.quarantine
    con.begin()
    try:
        batch_id = con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM batches").fetchall()[0][
            0
        ]
        rows, quarantine = _against_stored(con, rows, quarantine, file)
        # Flags only for responses actually stored now.
        stored_keys = rows[["org", "wave", "response_id"]]
        flags = prepared.flags.merge(stored_keys, on=["org", "wave", "response_id"])
        free_text = prepared.free_text.merge(stored_keys, on=["org", "wave", "response_id"])
        rows = rows.assign(batch_id=batch_id)
        if len(rows):
            con.register("incoming_rows", rows)
            con.execute("INSERT INTO responses BY NAME SELECT * FROM incoming_rows")
            con.unregister("incoming_rows")
        for table, frame in (
            ("quarantine", quarantine.assign(batch_id=batch_id)),
            ("flags", flags),
            ("free_text", free_text),
        ):
            if len(frame):
                con.register("incoming_frame", frame)
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_frame")
                con.unregister("incoming_frame")
        rows_read = export.rows_read
        quarantined = len(quarantine) + len(export.quarantine)
        if export.quarantine is not None and len(export.quarantine):
            # A record that could not be read has no item cells to keep: its text is not stored.
            reader_q = pd.DataFrame(
                {
                    "batch_id": batch_id,
                    "source_row": export.quarantine["row"].astype("int64").to_numpy(),
                    "cells": None,
                    "reason": export.quarantine["reason"].astype(str).to_numpy(),
                }
            )
            con.register("reader_q", reader_q)
            con.execute("INSERT INTO quarantine BY NAME SELECT * FROM reader_q")
            con.unregister("reader_q")
        if rows_read != len(rows) + quarantined:
            raise IngestError(
                file,
                None,
                None,
                f"internal accounting error: read {rows_read}, stored {len(rows)}, "
                f"quarantined {quarantined}; nothing stored",
            )
        when = _now()
        con.execute(
            "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch_id,
                file,
                sha,
                export.platform,
                wave,
                org,
                rows_read,
                len(rows),
                quarantined,
                json.dumps(_dropped_personal(export)),
                json.dumps(_free_text_columns(export)),
                json.dumps(prepared.unmapped),
                when,
            ],
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    all_reasons = pd.concat(
        [quarantine["reason"], export.quarantine["reason"]]
        if len(export.quarantine)
        else [quarantine["reason"]]
    )
    return IngestSummary(
        file=file,
        platform=export.platform,
        batch_id=batch_id,
        rows_read=rows_read,
        stored=len(rows),
        quarantined=quarantined,
        quarantine_reasons=_reason_counts(all_reasons),
        flags=flags["flag"].value_counts().to_dict() if len(flags) else {},
        dropped_personal=_dropped_personal(export),
        free_text_columns=_free_text_columns(export),
        free_text_kept=study.config.keep_free_text,
        unmapped_columns=prepared.unmapped,
        missing_items=prepared.missing_items,
        notes=list(export.notes),
    )


def _against_stored(con, rows: pd.DataFrame, quarantine: pd.DataFrame, file: str):
    """Split incoming rows into new ones and identical re-sends; refuse changed answers."""
    if rows.empty:
        return rows, quarantine
    con.register("incoming_keys", rows[["org", "wave", "response_id"]])
    stored = con.execute(
        "SELECT r.* FROM responses r JOIN incoming_keys k USING (org, wave, response_id)"
    ).df()
    con.unregister("incoming_keys")
    if stored.empty:
        return rows, quarantine
    key = ["org", "wave", "response_id"]
    item_cols = [
        c
        for c in rows.columns
        if c not in key and c not in ("source_row", "finished", "progress", "duration_seconds")
    ]
    merged = rows.merge(stored, on=key, how="left", suffixes=("", "__stored"), indicator=True)
    seen = (merged["_merge"] == "both").to_numpy()
    differs = np.zeros(len(merged), dtype=bool)
    for col in item_cols:
        if f"{col}__stored" not in merged:
            continue
        new_raw, old_raw = merged[col], merged[f"{col}__stored"]
        if pd.api.types.is_numeric_dtype(old_raw.dtype):
            new = pd.to_numeric(new_raw, errors="coerce").to_numpy(dtype=float)
            old = pd.to_numeric(old_raw, errors="coerce").to_numpy(dtype=float)
            same = (new == old) | (np.isnan(new) & np.isnan(old))
        else:
            same = (new_raw.astype("string").fillna("\0") == old_raw.astype("string").fillna("\0")).to_numpy()
        differs |= seen & ~same
    if differs.any():
        ids = merged.loc[differs, "response_id"].tolist()
        shown = ", ".join(map(str, ids[:5])) + (" ..." if len(ids) > 5 else "")
        raise IngestConflict(
            file,
            None,
            None,
            f"{len(ids)} response(s) already stored with different answers "
            f"({shown}); nothing stored. Remove the earlier batch or fix the file",
        )
    batches = merged.loc[seen, "batch_id"].astype(int).astype(str)
    again = pd.DataFrame(
        {
            "source_row": merged.loc[seen, "source_row"].to_numpy(),
            "cells": None,
            "reason": ("identical response already stored in batch " + batches).to_numpy(),
        }
    )
    return rows[~seen].reset_index(drop=True), pd.concat([quarantine, again], ignore_index=True)


def _free_text_columns(export: PlatformExport) -> list[str]:
    return [safe_column_name(c) for c in export.free_text.columns
            if c != export.response_id_column]


def _dropped_personal(export: PlatformExport) -> list[dict[str, str]]:
    """What was dropped as personal data and why, the response ids included when hashed."""
    dropped = [{"column": safe_column_name(d["column"]), "reason": d["reason"]}
               for d in export.dropped_personal]
    if export.personal_ids:
        dropped.append({"column": safe_column_name(export.response_id_column),
                        "reason": f"response ids held personal data ({export.personal_ids}): "
                                  "replaced by keyed hashes (pid-...)"})
    return dropped


def _reason_counts(reasons: pd.Series) -> dict[str, int]:
    # Group "column pq07: outside ..." reasons by their kind, without the per-row value.
    kinds = reasons.astype(str).str.replace(r" \(value .*\)$", "", regex=True)
    kinds = kinds.str.replace(r" \(first at row \d+\)$", "", regex=True)
    kinds = kinds.str.replace(r"duplicate response id '.*'", "duplicate response id", regex=True)
    return {str(k): int(v) for k, v in kinds.value_counts().items()}


def _now() -> datetime:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return datetime.now(UTC).replace(tzinfo=None)
