"""Ingest organisation profiles: one row per organisation and wave, nothing lost, no one exposed.

A profile file is read by the same platform readers as staff exports (personal data dropped by
column name and content, free text split off and never kept), mapped to the profile
instrument's items and coded the same way. Each row then becomes the profile of one
organisation in one wave, or is quarantined with its reason:

* ``preview or test response (platform status)``;
* ``no organisation (column op_org empty)``;
* ``column ...: personal data (...); the value was not kept``;
* ``column ...: outside the response scale ...`` and other invalid answers;
* ``second profile for organisation 'O07', wave '2026' in this file (first at row 2)``;
* ``identical profile already stored in batch 3`` (the same profile sent again);
* ``a profile for organisation 'O07', wave '2026' is already stored (batch 3) with other
  answers; ...`` (a second, different profile: never merged, never overwriting).

As for staff files, ``rows_read = stored + quarantined``, a file already ingested (same
SHA-256) adds nothing, and storing is one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fieldsurvey.ingest.coding import code_item
from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.export import PlatformExport
from fieldsurvey.ingest.mapping import MappingFile, map_columns, read_mapping_file
from fieldsurvey.ingest.pipeline import (
    IngestSummary,
    _already_ingested,
    _dropped_personal,
    _examples,
    _now,
    _personal_answers,
    _quarantine_rows,
    _read,
    _reason_counts,
    _Reasons,
    file_sha256,
    hash_ids,
    safe_column_name,
)
from fieldsurvey.ingest.rowkeys import row_keys
from fieldsurvey.instrument import Instrument, resolve_instrument
from fieldsurvey.store.database import read_store, writing_store
from fieldsurvey.store.profiles import (
    PROFILE_INSTRUMENT,
    ensure_profile_schema,
    has_profiles,
    org_item,
    profile_columns,
)
from fieldsurvey.store.study import Study

__all__ = ["ingest_profiles"]


@dataclass
class _Rows:
    rows: pd.DataFrame  # org, wave, response_id, source_row, answers
    quarantine: pd.DataFrame  # source_row, cells, reason, response_id
    unmapped: list[str]
    missing_items: list[str]
    waves: list[str]


def ingest_profiles(
    study: Study,
    path: str | Path,
    *,
    instrument: str | Path | Instrument = PROFILE_INSTRUMENT,
    platform: str = "auto",
    wave: str | None = None,
    org: str | None = None,
    mapping: str | Path | None = None,
    **companions: str | Path | None,
) -> IngestSummary:
    """Read a file of organisation profiles and store one row per organisation and wave.

    Parameters
    ----------
    study : Study
    path : the export (any platform ``ingest`` reads, or a plain table named by item id)
    instrument : the profile instrument (default the bundled ``org-profile``)
    platform, wave, mapping : as for :func:`fieldsurvey.ingest.pipeline.ingest_file`
    org : organisation code for every row (else the instrument's organisation item)
    **companions : ``dictionary``, ``details``, ``form`` or ``structure`` files of the platform

    Returns
    -------
    IngestSummary
        ``rows_read == stored + quarantined``; quarantine reasons as listed in the module docs.

    Raises
    ------
    IngestError
        Unreadable input, a wave the study does not have, or no column of the profile.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fieldsurvey.store import init_study
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> study = init_study(root / "s", ["workforce-context"], org_column="wf_org", waves=["2026"])
    >>> _ = (root / "p.csv").write_text("response_id,op_org,op_staff\\nP1,O01,12\\nP2,O01,13\\n")
    >>> summary = ingest_profiles(study, root / "p.csv")
    >>> summary.stored, summary.quarantined
    (1, 1)
    """
    path = Path(path)
    if not path.is_file():
        raise IngestError(path.name, None, None, "no such file")
    wave = None if wave is None else str(wave)
    if study.config.waves and wave is not None and wave not in study.config.waves:
        raise IngestError(path.name, None, None, f"wave {wave!r} is not one of the study's "
                          f"waves {list(study.config.waves)} (study.yaml: waves)")
    inst = resolve_instrument(instrument)
    map_file = read_mapping_file(mapping, [inst]) if mapping else None
    sha = file_sha256(path)
    if has_profiles(study):
        done = _already_ingested(read_store(study, {"b": _SAME_FILE.format(sha=sha)})["b"],
                                 path.name, "profile file")
        if done is not None:
            return done
    answers = [org_item(inst), *profile_columns(inst), *(map_file.columns if map_file else [])]
    export = _read(path, platform, dict(companions), list(dict.fromkeys(answers)))
    prepared = _prepare(study, export, inst, map_file, wave, org, path.name)
    with writing_store(study, command=f"fieldsurvey ingest --profile {path.name}") as con:
        ensure_profile_schema(con, inst)
        done = _already_ingested(con.execute(_SAME_FILE.format(sha=sha)).df(), path.name,
                                 "profile file")
        if done is not None:
            return done
        return _store(con, prepared, export, inst, sha, org, path.name)


_SAME_FILE = "SELECT batch_id, platform FROM profile_batches WHERE sha256 = '{sha}'"


def _prepare(study: Study, export: PlatformExport, inst: Instrument, map_file: MappingFile | None,
             wave: str | None, org: str | None, file: str) -> _Rows:
    """Key, code and check every row before the store is opened."""
    data = export.data.reset_index(drop=True)
    data.attrs = {}
    source_rows = pd.Series(np.asarray(export.row_numbers), dtype="int64")
    answer_cols = [c for c in data.columns if c != export.response_id_column]
    wording = {c: export.labels.get(c, str(c)) for c in answer_cols}
    mapping = map_columns(answer_cols, [inst], map_file, labels=wording)
    if not mapping.item_for_column:
        raise IngestError(file, 1, None, f"no column of this file is an item of the profile "
                          f"instrument {inst.id!r}; map its columns with --map")
    reasons = _Reasons(len(data))
    if "preview" in export.meta:
        preview = export.meta["preview"].reset_index(drop=True).astype("boolean")
        reasons.reject(preview.fillna(False).to_numpy(dtype=bool),
                       "preview or test response (platform status)")
    keys = row_keys(export, wave=wave, default_wave=study.default_wave(),
                    study_waves=study.config.waves,
                    events=map_file.events if map_file else {}, file=file)
    ids = hash_ids(study, keys.ids) if export.personal_ids else keys.ids
    reasons.reject(keys.waves.isna().to_numpy(), "no REDCap event (redcap_event_name is empty)")
    reasons.reject(*_personal_answers(data, list(mapping.item_for_column), export))
    coded = _code(export, data, inst, mapping, map_file, reasons)
    orgs = _orgs(inst, mapping, coded, org, file, reasons, len(data))
    key = pd.DataFrame({"org": orgs.fillna("").to_numpy(), "wave": keys.waves.fillna("").to_numpy()})
    _second_rows(key, source_rows, reasons)
    ok = reasons.ok
    made = "row-" + source_rows.astype(str)  # a file without ids: the row names the profile
    rows = key[ok].assign(response_id=ids.fillna(made).astype(str).to_numpy()[ok],
                          source_row=source_rows.to_numpy()[ok])
    for item in profile_columns(inst):
        rows[item] = np.asarray(coded[item], dtype=object)[ok] if item in coded else None
    org_column = {org_item(inst)} if org is None else set()
    return _Rows(
        rows=rows.reset_index(drop=True),
        quarantine=_quarantine_rows(source_rows, ids, reasons),
        unmapped=[safe_column_name(c) for c in mapping.unmapped if c not in org_column],
        missing_items=[i for i in mapping.missing_items if i in profile_columns(inst)],
        waves=list(dict.fromkeys(w for w in key["wave"] if w)),
    )


def _code(export: PlatformExport, data: pd.DataFrame, inst: Instrument, mapping,
          map_file: MappingFile | None, reasons: _Reasons) -> dict[str, object]:
    """Coded answers per mapped item (the organisation item included); bad cells rejected."""
    coded: dict[str, object] = {}
    for item_id, columns in mapping.columns_for_item().items():
        scale = inst.response_scale_of(item_id)
        if scale.type == "text":
            continue  # free text is never kept from a profile
        extra = {}
        if map_file:
            extra = {**map_file.values.get("*", {}), **map_file.values.get(item_id, {})}
        values, problems, offending, _ = code_item(
            {c: data[c] for c in columns}, scale, extra_labels=extra,
            missing_codes=export.missing_codes, value_labels=export.value_labels,
            open_coded=scale.type == "categorical" and not scale.labels)
        coded[item_id] = values
        reasons.reject_cells(problems, offending)
    return coded


def _orgs(inst: Instrument, mapping, coded: dict[str, object], org: str | None, file: str,
          reasons: _Reasons, n: int) -> pd.Series:
    """Each row's organisation: ``--org`` for the whole file, else the organisation item."""
    if org is not None:
        return pd.Series(str(org), index=range(n), dtype="string")
    item = org_item(inst)
    if item not in coded:
        raise IngestError(file, 1, item, "cannot tell which organisation each profile belongs "
                          f"to: the file has no column for {item!r}; give --org or map a column")
    source = next(c for c, i in mapping.item_for_column.items() if i == item)
    orgs = pd.Series(coded[item]).astype("string").str.strip().reset_index(drop=True)
    reasons.reject((orgs.isna() | (orgs == "")).to_numpy(),
                   f"no organisation (column {source} empty)")
    return orgs


def _second_rows(key: pd.DataFrame, source_rows: pd.Series, reasons: _Reasons) -> None:
    """Quarantine every row after the first for one organisation and wave."""
    candidates = reasons.ok & (key["org"] != "").to_numpy()
    seen: dict[tuple[str, str], int] = {}
    second = np.zeros(len(key), dtype=bool)
    messages = np.full(len(key), "", dtype=object)
    for pos in np.flatnonzero(candidates):
        k = (key["org"].iat[pos], key["wave"].iat[pos])
        if k in seen:
            second[pos] = True
            messages[pos] = (f"second profile for organisation {k[0]!r}, wave {k[1]!r} in this "
                             f"file (first at row {seen[k]})")
        else:
            seen[k] = int(source_rows.iat[pos])
    reasons.reject(second, messages)


def _against_stored(con, rows: pd.DataFrame, items: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into new profiles and ones whose organisation and wave are already stored."""
    if rows.empty:
        return rows, pd.DataFrame(columns=["source_row", "cells", "reason", "response_id"])
    con.register("incoming_profile_keys", rows[["org", "wave"]])
    stored = con.execute("SELECT p.* FROM org_profiles p JOIN incoming_profile_keys k "
                         "USING (org, wave)").df()
    con.unregister("incoming_profile_keys")
    merged = rows.merge(stored, on=["org", "wave"], how="left", suffixes=("", "__stored"),
                        indicator=True)
    seen = (merged["_merge"] == "both").to_numpy()
    same = np.ones(len(merged), dtype=bool)
    for item in items:
        new = merged[item].astype("string").fillna("\0").str.replace(r"\.0$", "", regex=True)
        old = merged[f"{item}__stored"].astype("string").fillna("\0").str.replace(
            r"\.0$", "", regex=True)
        same &= (new == old).to_numpy(dtype=bool)
    batches = merged["batch_id"].astype("Int64").astype("string").fillna("")
    reasons = [
        f"identical profile already stored in batch {b}" if s else
        f"a profile for organisation {o!r}, wave {w!r} is already stored (batch {b}) with "
        "other answers; it was not replaced (delete the stored profile to correct it)"
        for o, w, b, s in zip(merged["org"], merged["wave"], batches, same, strict=True)]
    quarantined = pd.DataFrame({"source_row": merged["source_row"], "cells": None,
                                "reason": reasons, "response_id": merged["response_id"]})[seen]
    return rows[~seen].reset_index(drop=True), quarantined.reset_index(drop=True)


def _store(con, prepared: _Rows, export: PlatformExport, inst: Instrument, sha: str,
           org: str | None, file: str) -> IngestSummary:
    con.begin()
    try:
        batch = con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM profile_batches"
                            ).fetchall()[0][0]
        rows, again = _against_stored(con, prepared.rows, list(profile_columns(inst)))
        reader_q = pd.DataFrame({"source_row": export.quarantine["row"].to_numpy(), "cells": None,
                                 "reason": export.quarantine["reason"].astype(str).to_numpy(),
                                 "response_id": None}) if len(export.quarantine) else None
        quarantine = pd.concat([q for q in (prepared.quarantine, again, reader_q)
                                if q is not None and len(q)] or [prepared.quarantine],
                               ignore_index=True)
        for table, frame in (("org_profiles", rows), ("profile_quarantine", quarantine)):
            if len(frame):
                con.register("incoming_profiles", frame.assign(batch_id=batch))
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_profiles")
                con.unregister("incoming_profiles")
        if export.rows_read != len(rows) + len(quarantine):
            raise IngestError(file, None, None, f"internal accounting error: read "
                              f"{export.rows_read}, stored {len(rows)}, quarantined "
                              f"{len(quarantine)}; nothing stored")
        con.execute(
            "INSERT INTO profile_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [batch, file, sha, export.platform, inst.id, ", ".join(prepared.waves), org,
             export.rows_read, len(rows), len(quarantine),
             json.dumps(_dropped_personal(export)), json.dumps(prepared.unmapped), _now()])
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return IngestSummary(
        file=file, platform=export.platform, batch_id=batch, rows_read=export.rows_read,
        stored=len(rows), quarantined=len(quarantine),
        quarantine_reasons=_reason_counts(quarantine["reason"]) if len(quarantine) else {},
        quarantine_rows=_examples(quarantine),
        dropped_personal=_dropped_personal(export),
        unmapped_columns=prepared.unmapped, missing_items=prepared.missing_items,
        notes=[*export.notes, f"organisation profiles ({inst.id}): one row per organisation "
               "and wave, stored in org_profiles"])
