"""Ingest one export file into a study store, losing nothing and exposing no one.

The file is read, mapped and checked before the store is opened for writing, so the write lock
(see :mod:`fieldsurvey.store.lock`) is held only while rows are stored; storing is one database
transaction (a failure part-way leaves the store as it was).

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
import os
import secrets
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from fieldsurvey.ingest import PlatformExport, read_export
from fieldsurvey.ingest.coding import code_item
from fieldsurvey.ingest.detect import platform_candidates
from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.export import keep_as_answers
from fieldsurvey.ingest.files import read_records
from fieldsurvey.ingest.mapping import MappingFile, map_columns, read_mapping_file
from fieldsurvey.ingest.personal_data import personal_hits, personal_kind, redact_personal
from fieldsurvey.ingest.quality import quality_flags
from fieldsurvey.ingest.rowkeys import row_keys
from fieldsurvey.ingest.table import read_plain_table
from fieldsurvey.store.database import item_columns, read_store, writing_store
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
    #: reason (as in quarantine_reasons) -> the first rows quarantined for it: source row,
    #: response id (None where the row had none) and the full reason (with the value)
    quarantine_rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
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
    wave : wave label (default: the study's first wave, or "1"; a longitudinal REDCap export's
        rows take their event's wave instead, see :mod:`fieldsurvey.ingest.rowkeys`)
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
    wave = str(wave) if wave is not None else None
    if study.config.waves and wave is not None and wave not in study.config.waves:
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
    store_existed = study.store_path.is_file()
    if store_existed:  # a cheap read-only look first: re-sending a file needs no write lock
        done = _already_ingested(read_store(study, {"b": _SAME_FILE.format(sha=sha)})["b"],
                                 path.name)
        if done is not None:
            return done
    answer_columns = [c for c in (study.config.org_column,) if c]
    answer_columns += list(item_columns(study)) + list(map_file.columns if map_file else [])
    answer_columns = list(dict.fromkeys(answer_columns))
    companions = {"dictionary": dictionary, "details": details, "form": form,
                  "structure": structure}
    export = _read(path, platform, companions, answer_columns)
    prepared = _prepare(study, export, instruments, map_file, wave, org, path.name)
    # Every answer is coded in prepared.rows: the text cells need not be held while storing.
    export.data = export.data.iloc[:0]
    # Arrow's allocator keeps the freed text for reuse: hand it back before DuckDB needs room.
    pa.default_memory_pool().release_unused()
    if not store_existed:
        prepared.notes.append(f"the study store {study.store_path.name} was missing: a new, "
                              "empty one was created for this file")
    # The write lock is held only while rows are stored: readers wait seconds, not minutes.
    with writing_store(study, command=f"fieldsurvey ingest {path.name}") as con:
        done = _already_ingested(con.execute(_SAME_FILE.format(sha=sha)).df(), path.name)
        if done is not None:
            return done
        return _store(study, con, prepared, export, sha, org, path.name)


#: Rows handed to DuckDB per INSERT when storing.
_INSERT_ROWS = 200_000

_SAME_FILE = "SELECT batch_id, platform FROM batches WHERE sha256 = '{sha}'"


def _already_ingested(found: pd.DataFrame, file: str, kind: str = "file") -> IngestSummary | None:
    """The summary for a ``kind`` (a file, a profile file) whose bytes are already stored, or
    None."""
    if found.empty:
        return None
    batch, platform = int(found["batch_id"].iloc[0]), str(found["platform"].iloc[0])
    return IngestSummary(
        file=file, platform=platform, batch_id=batch, rows_read=0, stored=0, quarantined=0,
        already_ingested=True,
        notes=[f"identical {kind} already ingested as batch {batch}; nothing added"],
    )


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
    declared_missing: pd.DataFrame  # org, wave, response_id, item, code, label
    unmapped: list[str]
    missing_items: list[str]
    waves: list[str] = field(default_factory=list)  # every wave the file's rows carry
    notes: list[str] = field(default_factory=list)


class _Reasons:
    """The quarantine reason of each row and the item cells that caused it (``{column: value}``,
    personal data withheld; None when no cell is to blame). The first problem found in a row
    is the one kept."""

    def __init__(self, n: int) -> None:
        self.text = np.full(n, "", dtype=object)
        self.cells = np.full(n, None, dtype=object)
        self._ok = np.ones(n, dtype=bool)  # kept beside text: comparing objects is slow

    def reject(self, mask: np.ndarray, reason: str | np.ndarray,
               offending: np.ndarray | None = None) -> None:
        fresh = np.asarray(mask, dtype=bool) & self._ok
        if not fresh.any():
            return
        self.text[fresh] = reason if isinstance(reason, str) else np.asarray(reason)[fresh]
        if offending is not None:
            self.cells[fresh] = offending[fresh]
        self._ok[fresh] = False

    def reject_cells(self, reasons: np.ndarray | None, offending: np.ndarray | None) -> None:
        """Reject the rows :func:`~fieldsurvey.ingest.coding.code_item` found a reason for."""
        if reasons is not None:
            self.reject(reasons != "", reasons, offending)

    @property
    def ok(self) -> np.ndarray:
        return self._ok.copy()


def _prepare(
    study: Study,
    export: PlatformExport,
    instruments: list,
    map_file: MappingFile | None,
    wave: str | None,
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
    # A column's question text is its label where the export carries one, else its header
    # (REDCap labels exports and hand-made tables head columns with the question itself).
    wording = {c: export.labels.get(c, str(c)) for c in answer_cols}
    mapping = map_columns(answer_cols, instruments, map_file, labels=wording)
    if not mapping.item_for_column:
        raise _nothing_mapped(export, instruments, file)
    reasons = _Reasons(len(data))
    if "preview" in meta:
        reasons.reject(meta["preview"].astype("boolean").fillna(False).to_numpy(dtype=bool),
                       "preview or test response (platform status)")
    keys = row_keys(export, wave=wave, default_wave=study.default_wave(),
                    study_waves=study.config.waves,
                    events=map_file.events if map_file else {}, file=file)
    if export.personal_ids:  # e-mail addresses, phone numbers, names: never stored as ids
        keys.ids = hash_ids(study, keys.ids)
    reasons.reject(keys.ids.isna().to_numpy(), "no response id")
    reasons.reject(keys.waves.isna().to_numpy(), "no REDCap event (redcap_event_name is empty)")
    # Before coding: a personal-data cell is quarantined as such, its value never shown.
    reasons.reject(*_personal_answers(data, _answer_sources(study, data, mapping, org), export))
    coded, text_items, declared, numbers = _code_items(study, export, data, mapping, instruments,
                                                       map_file, reasons)
    orgs = _row_orgs(study, data, mapping, coded, org, file, reasons)
    if keys.per_form_rows:
        answered = np.zeros(len(data), dtype=bool)
        for values in coded.values():
            answered |= pd.notna(pd.Series(np.asarray(values, dtype=object))).to_numpy()
        answered[declared["position"].to_numpy(dtype=int)] = True
        reasons.reject(~answered, "no answer to any of the study's items in this row (a REDCap "
                                  "event or repeat instance of other forms)")
    key_frame = pd.DataFrame({"org": orgs.fillna(""), "wave": keys.waves.fillna(""),
                              "response_id": keys.ids.fillna("")})
    _reject_duplicates(key_frame, source_rows, reasons)

    ok = reasons.ok
    rows = key_frame[ok].copy()
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
    answers = _stored_answers(coded, numbers, ok, rows.index)
    rows = pd.concat([rows, answers], axis=1)
    quarantine = _quarantine_rows(source_rows, keys.ids, reasons)
    flags = _quality_flags(answers, meta[ok], rows, instruments, study)
    free_text = _free_text_rows(study, export, text_items, rows, ok)
    declared = declared[ok[declared["position"].to_numpy(dtype=int)]]
    stored_at = pd.Series(np.arange(len(rows)), index=np.flatnonzero(ok))
    where = rows.reset_index(drop=True).iloc[stored_at[declared["position"]].to_numpy()]
    declared_missing = pd.DataFrame({
        "org": where["org"].to_numpy(), "wave": where["wave"].to_numpy(),
        "response_id": where["response_id"].to_numpy(), "item": declared["item"].to_numpy(),
        "code": declared["code"].to_numpy(), "label": declared["label"].to_numpy(),
    })  # fmt: skip
    storable = item_columns(study)
    notes = list(keys.notes)
    for item_id, columns in mapping.columns_for_item().items():
        if len(columns) > 1:
            notes.append(f"columns {', '.join(columns)} all answer {item_id}: coalesced row by "
                         "row (rows where they disagree are quarantined)")
    if mapping.by_wording:
        notes.append("columns matched to items by their question wording: " + ", ".join(
            f"{c} -> {mapping.item_for_column[c]}" for c in mapping.by_wording))
    if len(declared_missing):
        notes.append(f"{len(declared_missing)} declared missing code(s) (e.g. refused) stored "
                     "as missing answers, with their codes in the declared_missing table")
    used = {study.config.org_column} if org is None else set()
    return _Prepared(
        rows=rows.reset_index(drop=True),
        quarantine=quarantine,
        flags=flags,
        free_text=free_text,
        declared_missing=declared_missing,
        unmapped=[safe_column_name(c) for c in mapping.unmapped if c not in used],
        missing_items=[i for i in mapping.missing_items if i in storable],
        # Distinct first (in order of appearance), then filtered: no Python loop over rows.
        waves=[w for w in pd.unique(key_frame["wave"]) if w],
        notes=notes,
    )


def _nothing_mapped(export: PlatformExport, instruments: list, file: str) -> IngestError:
    """The error for a file none of whose columns is a study item, saying what is needed."""
    ids = ", ".join(i.id for i in instruments)
    shown = ", ".join(
        f"{c} {export.labels[c][:70]!r}" if c in export.labels else str(c)
        for c in list(export.data.columns)[1:6])
    if export.platform == "surveymonkey" or (export.platform == "redcap" and any(
            str(c).endswith("Complete?") for c in export.meta.columns)):
        how = ("SurveyMonkey names questions by position (Q1, Q2_1 ...)"
               if export.platform == "surveymonkey" else
               "this is a REDCap 'labels' export (headers are question labels)")
        if export.platform == "redcap":
            fix = "; or give its data dictionary with --dictionary, or export 'CSV (raw data)'"
        elif not export.labels:
            fix = "; API exports also need --details (the survey's /details JSON)"
        else:
            fix = ""
        return IngestError(
            file, 1, None,
            f"no column could be matched to an item of {ids}: {how}, and no question wording in "
            f"the file equals an item's wording. Map the columns with --map "
            f"(columns: {{Q1: item_id, ...}}) or attach the instruments' wording "
            f"(fieldsurvey instrument wording ID --from FILE) so they match by wording{fix}. "
            f"Columns in the file: {shown}",
        )
    return IngestError(file, 1, None,
                       f"no column of this file is an item of the study's instruments ({ids}); "
                       "nothing would be stored. Check the file (a data dictionary?) or map its "
                       f"columns with --map. Columns in the file: {shown}")


def _code_items(study: Study, export: PlatformExport, data: pd.DataFrame, mapping,
                instruments: list, map_file: MappingFile | None, reasons: _Reasons):
    """Coded answers per storable item, text items, the declared missing codes met, and the
    numeric items' codes as one block (item by respondent) with those items' ids.

    Numeric codes are written straight into the block (``coded`` holds views of its rows),
    which becomes the stored rows' answer columns without another copy of every answer.
    """
    storable = item_columns(study)
    scale_of = {it.id: inst.response_scales[it.scale] for inst in instruments for it in inst.items}
    block = np.empty((len(mapping.columns_for_item()), len(data)))  # pages used are the rows set
    numeric: list[str] = []
    coded: dict[str, np.ndarray | pd.Series] = {}
    text_items: dict[str, pd.Series] = {}
    declared: list[tuple[int, str, str, str]] = []
    for item_id, columns in mapping.columns_for_item().items():
        scale = scale_of[item_id]
        if item_id not in storable:
            text_items[item_id] = data[columns].bfill(axis=1).iloc[:, 0]
            continue
        answers = {}
        for col in columns:
            answers[col] = data[col]
            if export.platform == "surveymonkey" and col in export.value_labels:
                # SurveyMonkey API answers are opaque choice ids: read them as their choice
                # texts, which the instrument's labels (or the mapping file's) turn into codes.
                choice_ids = data[col].astype("string")
                answers[col] = choice_ids.map(export.value_labels[col]).fillna(choice_ids)
        extra = {}
        if map_file:
            extra = {**map_file.values.get("*", {}), **map_file.values.get(item_id, {})}
        values, problems, offending, met = code_item(
            answers, scale, extra_labels=extra, missing_codes=export.missing_codes,
            value_labels=export.value_labels,
            open_coded=scale.type == "categorical" and not scale.labels)
        if isinstance(values, np.ndarray) and values.dtype == np.float64:
            block[len(numeric)] = values
            values = block[len(numeric)]
            numeric.append(item_id)
        coded[item_id] = values
        reasons.reject_cells(problems, offending)
        declared += [(p, item_id, code, label) for p, code, label in met]
        del answers
        _let_go(export, data, columns, keep=study.config.org_column)
    frame = pd.DataFrame(declared, columns=["position", "item", "code", "label"])
    return coded, text_items, frame.astype({"position": "int64"}), (block[:len(numeric)], numeric)


def _let_go(export: PlatformExport, data: pd.DataFrame, columns: list[str], keep: str | None,
            ) -> None:
    """Drop an item's coded text columns from the export (the organisation column is read
    again later), so the text of a big file and its codes are not held whole at once."""
    for col in columns:
        if col != keep and col in data.columns:
            del data[col]
        if col != keep and col in export.data.columns:
            del export.data[col]
    pa.default_memory_pool().release_unused()  # Arrow's allocator would keep it for reuse


def _stored_answers(coded: dict, numbers: tuple[np.ndarray, list[str]], ok: np.ndarray,
                    index: pd.Index) -> pd.DataFrame:
    """The answer columns of the rows to store (``ok``), in the items' order.

    The numeric block (item by respondent) is adopted by pandas as it is when every row is
    stored (its transpose is a column-major respondent-by-item block), else cut once.
    """
    block, numeric = numbers
    every = bool(ok.all())  # the usual case: no million-row copies to drop nothing
    answers = pd.DataFrame((block if every else block[:, ok]).T, columns=numeric, index=index,
                           copy=False)
    in_block = set(numeric)
    others = {item: np.asarray(values) if every else np.asarray(values)[ok]
              for item, values in coded.items() if item not in in_block}
    if not others:
        return answers
    return pd.concat([answers, pd.DataFrame(others, index=index)], axis=1)[list(coded)]


def _row_orgs(study: Study, data: pd.DataFrame, mapping, coded: dict, org: str | None,
              file: str, reasons: _Reasons) -> pd.Series:
    """Each row's organisation: --org for the whole file, else the study's org column."""
    if org is not None:
        return pd.Series(str(org), index=data.index, dtype="string")
    org_col = study.config.org_column
    if org_col and org_col in data.columns:
        source, values = org_col, data[org_col]
    elif org_col and org_col in coded:
        source = next(c for c, i in mapping.item_for_column.items() if i == org_col)
        values = pd.Series(coded[org_col], index=data.index)
        values = values.map(lambda v: f"{v:g}" if isinstance(v, float) else v, na_action="ignore")
    else:
        raise IngestError(
            file, None, org_col,
            "cannot tell which organisation each response belongs to: give --org, or set "
            "org_column in study.yaml to a column of this file",
        )
    # "1.0000000000" (LimeSurvey's decimals) and "1" are the same organisation.
    orgs = values.astype("string").str.strip().str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    reasons.reject((orgs.isna() | (orgs == "")).to_numpy(), f"no organisation (column {source} empty)")
    return orgs


def _reject_duplicates(keys: pd.DataFrame, source_rows: pd.Series, reasons: _Reasons) -> None:
    if keys["response_id"].is_unique:  # the usual case, and one hash table instead of three
        return
    dup = keys.duplicated(keep="first").to_numpy() & reasons.ok
    if not dup.any():
        return
    first_row = source_rows.groupby([keys["org"], keys["wave"], keys["response_id"]]).transform(
        "first")
    messages = np.array(
        [f"duplicate response id {rid!r} (first at row {fr})"
         for rid, fr in zip(keys["response_id"], first_row, strict=True)],
        dtype=object,
    )
    reasons.reject(dup, messages)


def _quarantine_rows(source_rows: pd.Series, ids: pd.Series, reasons: _Reasons) -> pd.DataFrame:
    """Quarantined rows: source row, response id, the reason and only the offending item cells
    (JSON, personal data withheld); never the rest of the row."""
    bad_positions = np.flatnonzero(~reasons.ok)
    return pd.DataFrame(
        {
            "source_row": source_rows.iloc[bad_positions].to_numpy(),
            "cells": [None if reasons.cells[p] is None
                      else json.dumps(reasons.cells[p], ensure_ascii=False)
                      for p in bad_positions],
            "reason": reasons.text[bad_positions].astype(str),
            "response_id": ids.iloc[bad_positions].astype(object).to_numpy(),
        }
    )


def _quality_flags(answers: pd.DataFrame, meta: pd.DataFrame, rows: pd.DataFrame,
                   instruments: list, study: Study) -> pd.DataFrame:
    flags = quality_flags(answers.reset_index(drop=True), meta.reset_index(drop=True),
                          instruments, study.config)
    flag_rows = rows.reset_index(drop=True).iloc[flags["position"].to_numpy()]
    return pd.DataFrame(
        {
            "org": flag_rows["org"].to_numpy(),
            "wave": flag_rows["wave"].to_numpy(),
            "response_id": flag_rows["response_id"].to_numpy(),
            "flag": flags["flag"].to_numpy(),
            "detail": flags["detail"].to_numpy(),
        }
    )


def _free_text_rows(study: Study, export: PlatformExport, text_items: dict[str, pd.Series],
                    rows: pd.DataFrame, ok: np.ndarray) -> pd.DataFrame:
    columns = ["org", "wave", "response_id", "question", "answer"]
    if not study.config.keep_free_text:
        return pd.DataFrame(columns=columns)
    free = []
    texts = {**{c: export.free_text[c] for c in export.free_text.columns
                if c != export.response_id_column}, **text_items}
    for question, values in texts.items():
        values = values.reset_index(drop=True)[ok]
        keep = values.notna().to_numpy()
        free.append(pd.DataFrame({
            "org": rows["org"][keep].to_numpy(), "wave": rows["wave"][keep].to_numpy(),
            "response_id": rows["response_id"][keep].to_numpy(),
            "question": safe_column_name(question),
            "answer": values[keep].astype(str).map(redact_personal).to_numpy(),
        }))  # fmt: skip
    return pd.concat(free, ignore_index=True) if free else pd.DataFrame(columns=columns)


def hash_ids(study: Study, ids: pd.Series) -> pd.Series:
    """Response ids replaced by keyed hashes (``pid-`` and 20 hex digits of HMAC-SHA256).

    The key is a random secret kept in the study folder (``.fieldsurvey-id-key``, made on first
    use): the same id always gets the same hash, so re-sent files are still recognised, and
    without the key nobody can test guesses ("is jo@example.org in the store?").
    """
    key = _id_key(study.root / ID_KEY_FILE)
    return ids.map(lambda v: v if pd.isna(v) or v == "" else
                   "pid-" + hmac.new(key, str(v).encode("utf-8"), "sha256").hexdigest()[:20]
                   ).astype("string")


def _id_key(path: Path) -> bytes:
    """The study's id key, made on first use.

    Files are prepared before the write lock is taken, so two first ingests may get here at
    once: the key is written whole to a private file and linked into place, and the first link
    wins, so both hash with the same key.
    """
    if not path.is_file():
        fresh = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        handle = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(handle, secrets.token_bytes(32))
        finally:
            os.close(handle)
        try:
            os.link(fresh, path)
        except FileExistsError:
            pass  # another ingest made it first: use theirs
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(fresh, path)
        finally:
            fresh.unlink(missing_ok=True)
    return path.read_bytes()


def safe_column_name(name: object) -> str:
    """A column name as it may be stored: withheld when the name itself is personal data."""
    kind = personal_kind(str(name))
    return f"[column name withheld: {kind}]" if kind else str(name)


def _answer_sources(study: Study, data: pd.DataFrame, mapping, org: str | None) -> list:
    """The columns whose cells become stored values: every mapped item column, and the
    organisation column when the organisation is read from the file."""
    columns = list(mapping.item_for_column)
    org_col = study.config.org_column
    if org is None and org_col and org_col in data.columns and org_col not in columns:
        columns.insert(0, org_col)
    return columns


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
        declared = prepared.declared_missing.merge(stored_keys, on=["org", "wave", "response_id"])
        rows = rows.assign(batch_id=batch_id)
        # A slice at a time: DuckDB's working copy of what it scans stays a slice's size
        # (1M rows: 0.39 -> 0.23 GB above the data), in the same transaction as before.
        for start in range(0, len(rows), _INSERT_ROWS):
            con.register("incoming_rows", rows.iloc[start:start + _INSERT_ROWS])
            con.execute("INSERT INTO responses BY NAME SELECT * FROM incoming_rows")
            con.unregister("incoming_rows")
        stored = len(rows)
        for table, frame in (
            ("quarantine", quarantine.assign(batch_id=batch_id)),
            ("flags", flags),
            ("free_text", free_text),
            ("declared_missing", declared),
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
        if rows_read != stored + quarantined:
            raise IngestError(
                file,
                None,
                None,
                f"internal accounting error: read {rows_read}, stored {stored}, "
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
                _waves_text(prepared),
                org,
                rows_read,
                stored,
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
    every = pd.concat([
        quarantine[["source_row", "response_id", "reason"]],
        pd.DataFrame({"source_row": export.quarantine["row"].to_numpy(), "response_id": None,
                      "reason": export.quarantine["reason"].astype(str).to_numpy()}),
    ], ignore_index=True) if len(export.quarantine) else quarantine
    all_reasons = every["reason"]
    return IngestSummary(
        file=file,
        platform=export.platform,
        batch_id=batch_id,
        rows_read=rows_read,
        stored=stored,
        quarantined=quarantined,
        quarantine_reasons=_reason_counts(all_reasons),
        quarantine_rows=_examples(every),
        flags=flags["flag"].value_counts().to_dict() if len(flags) else {},
        dropped_personal=_dropped_personal(export),
        free_text_columns=_free_text_columns(export),
        free_text_kept=study.config.keep_free_text,
        unmapped_columns=prepared.unmapped,
        missing_items=prepared.missing_items,
        notes=list(export.notes) + prepared.notes,
    )


def _waves_text(prepared: _Prepared) -> str:
    """The batch's wave: the file's one wave, or its waves (REDCap events) joined."""
    return ", ".join(prepared.waves)


_NOT_ANSWERS = ("org", "wave", "response_id", "source_row", "finished", "progress",
                "duration_seconds", "batch_id")


def _same_answers(new: pd.DataFrame, old: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Row by row: do ``new`` and ``old`` (aligned) hold the same answer in every column?"""
    same = np.ones(len(new), dtype=bool)
    for col in columns:
        new_raw, old_raw = new[col], old[col]
        if pd.api.types.is_numeric_dtype(old_raw.dtype):
            a = pd.to_numeric(new_raw, errors="coerce").to_numpy(dtype=float)
            b = pd.to_numeric(old_raw, errors="coerce").to_numpy(dtype=float)
            same &= (a == b) | (np.isnan(a) & np.isnan(b))
        else:
            same &= (new_raw.astype("string").fillna("\0").to_numpy()
                     == old_raw.astype("string").fillna("\0").to_numpy())
    return same


def _against_stored(con, rows: pd.DataFrame, quarantine: pd.DataFrame, file: str):
    """Split incoming rows into new ones and identical re-sends; refuse changed answers.

    A re-send is a row whose key (org, wave, response id) is stored with the same answers, or
    (:func:`_renamed_ids`) a file whose rows repeat a stored batch row for row under other ids.
    """
    if rows.empty:
        return rows, quarantine
    key = ["org", "wave", "response_id"]
    con.register("incoming_keys", rows[key])
    stored = con.execute(
        "SELECT r.* FROM responses r JOIN incoming_keys k USING (org, wave, response_id)"
    ).df()
    con.unregister("incoming_keys")
    item_cols = [c for c in rows.columns if c not in _NOT_ANSWERS]
    if stored.empty:  # the usual case, new responses: nothing to compare row by row
        rows, renamed = _renamed_ids(con, rows, item_cols)
        return rows, pd.concat([quarantine, renamed], ignore_index=True)
    merged = rows.merge(stored, on=key, how="left", suffixes=("", "__stored"), indicator=True)
    seen = (merged["_merge"] == "both").to_numpy()
    compared = [c for c in item_cols if f"{c}__stored" in merged]
    old = merged[[f"{c}__stored" for c in compared]].set_axis(compared, axis=1)
    differs = seen & ~_same_answers(merged[compared], old, compared)
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
    batches = merged.loc[seen, "batch_id"].astype("Int64").astype(str)
    again = pd.DataFrame(
        {
            "source_row": merged.loc[seen, "source_row"].to_numpy(),
            "cells": None,
            "reason": ("identical response already stored in batch " + batches).to_numpy(),
            "response_id": merged.loc[seen, "response_id"].to_numpy(),
        }
    )
    rows = rows[~seen].reset_index(drop=True)
    rows, renamed = _renamed_ids(con, rows, item_cols)
    return rows, pd.concat([quarantine, again, renamed], ignore_index=True)


def _renamed_ids(con, rows: pd.DataFrame, item_cols: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows that repeat, at the same source row, a stored response of one earlier batch.

    When the id column of a plain table is renamed to a name that is not recognised as an id,
    its ids are made from row numbers (``row-2``...) and the same responses arrive under new ids
    (or the other way round). A file is taken to be such a re-send when at least half of its new
    rows (and at least two, unless it has one) hold exactly the answers of the response one
    earlier batch stored from the same source row, for the same organisation and wave, and one
    of the two ids is a row-number id; those rows are quarantined naming the stored id, never
    stored twice. Files that both carry ids of their own are never matched this way.
    """
    empty = pd.DataFrame(columns=["source_row", "cells", "reason", "response_id"])
    if rows.empty or not item_cols:
        return rows, empty
    con.register("incoming_rows_at", rows[["org", "wave", "source_row"]].drop_duplicates())
    stored = con.execute(
        "SELECT r.* FROM responses r JOIN incoming_rows_at k USING (org, wave, source_row)"
    ).df()
    con.unregister("incoming_rows_at")
    if stored.empty:
        return rows, empty
    compared = [c for c in item_cols if c in stored.columns]
    candidates = rows.reset_index(names="position").merge(
        stored, on=["org", "wave", "source_row"], suffixes=("", "__stored"))
    old = candidates[[f"{c}__stored" for c in compared]].set_axis(compared, axis=1)
    answered = candidates[compared].notna().any(axis=1).to_numpy()
    # Only where one side's id was made from the row number (no id column recognised): two
    # files that both carry ids of their own are different responses, however alike.
    made = "row-" + candidates["source_row"].astype("Int64").astype(str)
    row_ids = (candidates["response_id"] == made) | (candidates["response_id__stored"] == made)
    match = candidates[_same_answers(candidates[compared], old, compared) & answered
                       & row_ids.to_numpy(dtype=bool)]
    if match.empty:
        return rows, empty
    batch, hits = match["batch_id"].value_counts().index[0], match["batch_id"].value_counts().iloc[0]
    if hits < max(1, min(2, len(rows)), len(rows) / 2):
        return rows, empty
    match = match[match["batch_id"] == batch].drop_duplicates("position")
    renamed = pd.DataFrame({
        "source_row": match["source_row"].to_numpy(),
        "cells": None,
        "reason": [f"identical response already stored in batch {int(batch)} as response id "
                   f"{old_id!r} (same row, same answers: was the id column renamed?)"
                   for old_id in match["response_id__stored"]],
        "response_id": match["response_id"].to_numpy(),
    })  # fmt: skip
    keep = ~np.isin(np.arange(len(rows)), match["position"].to_numpy())
    return rows[keep].reset_index(drop=True), renamed


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


def _reason_kinds(reasons: pd.Series) -> pd.Series:
    # Group "column pq07: outside ..." reasons by their kind, without the per-row value.
    kinds = reasons.astype(str).str.replace(r" \(value .*\)$", "", regex=True)
    kinds = kinds.str.replace(r" \(first at row \d+\)$", "", regex=True)
    kinds = kinds.str.replace(r"duplicate response id '.*'", "duplicate response id", regex=True)
    return kinds.str.replace(r" as response id '.*' \(same row", " (same row", regex=True)


def _reason_counts(reasons: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in _reason_kinds(reasons).value_counts().items()}


_EXAMPLES = 5


def _examples(quarantined: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The first few quarantined rows of each kind of reason, so a user can find them."""
    if quarantined.empty:
        return {}
    frame = quarantined.assign(kind=_reason_kinds(quarantined["reason"]).to_numpy())
    frame = frame.sort_values("source_row", kind="stable")
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, rows in frame.groupby("kind", sort=False):
        out[str(kind)] = [
            {"row": None if pd.isna(r.source_row) else int(r.source_row),
             "response_id": None if pd.isna(r.response_id) else str(r.response_id),
             "reason": str(r.reason)}
            for r in rows.head(_EXAMPLES).itertuples(index=False)
        ]
    return out


def _now() -> datetime:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return datetime.now(UTC).replace(tzinfo=None)
