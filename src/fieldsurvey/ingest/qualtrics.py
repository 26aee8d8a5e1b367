"""Qualtrics CSV/TSV/XLSX exports.

Layouts
-------
* Current (2017+): three header rows: export tags, question texts (in the survey's language),
  and the ImportId row (``{"ImportId":"QID1"}``; the 2016 "Insights" format writes
  ``{'ImportId': 'QID4-2-TEXT'}``). The layout is recognised by the ImportId row, never by the
  (translated) texts.
* Legacy: two header rows, ``V1..V10`` then labels (``ResponseID, ResponseSet, ...``); V1..V10
  are renamed to their row-2 names (the mapping is kept in ``field_paths``).

Numeric and choice-text exports are both read as they come. ``Status`` 1 (or "Survey Preview",
also 9/17: spam/offline previews) marks a preview response: it is flagged in
``meta["preview"]``, not removed. ``Finished`` and ``Progress`` become flags.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.files import RawRecords, header_names, read_records, split_header

if TYPE_CHECKING:
    from fieldsurvey.ingest.export import PlatformExport

_IMPORT_ID = re.compile(r"""^\{\s*["']ImportId["']\s*:\s*["']([^"']*)["']""")
LEGACY_TAGS = [f"V{i}" for i in range(1, 11)]

# Qualtrics system columns by export tag (current and legacy names).
META_TAGS = {
    "StartDate", "EndDate", "Status", "Progress", "Duration (in seconds)", "Finished",
    "RecordedDate", "DistributionChannel", "UserLanguage", "ResponseSet", "Q_RecaptchaScore",
    "Q_RelevantIDDuplicate", "Q_RelevantIDDuplicateScore", "Q_RelevantIDFraudScore",
    "Q_RelevantIDLastStartDate", "Q_TotalDuration", "Q_BallotBoxStuffing", "Q_DuplicateRespondent",
    "Q_Language", "Q_CHL", "Q_URL",
}  # fmt: skip
META_IMPORT_IDS = {
    "startDate", "endDate", "status", "progress", "duration", "finished", "recordedDate",
    "distributionChannel", "userLanguage", "responseSetId",
}  # fmt: skip
ID_TAGS = ("ResponseId", "ResponseID", "_recordId", "responseId")
PERSONAL_IMPORT_IDS = {
    "ipAddress": "Qualtrics IP address",
    "recipientLastName": "Qualtrics recipient name",
    "recipientFirstName": "Qualtrics recipient name",
    "recipientEmail": "Qualtrics recipient e-mail",
    "externalDataReference": "Qualtrics external reference",
    "locationLatitude": "Qualtrics location",
    "locationLongitude": "Qualtrics location",
    "locationAccuracy": "Qualtrics location",
}
PREVIEW_STATUS = {"1", "9", "17", "survey preview", "offline survey preview", "spam preview"}
# Browser meta-info questions export device fields as <tag>_Browser, _Version, ...
_DEVICE_SUFFIX = re.compile(r"_(Browser|Version|Operating System|Resolution)$")


def qualtrics_layout(records: RawRecords) -> str | None:
    """ "import_id" (3 header rows), "legacy" (V1..V10) or None when not a Qualtrics table."""
    frame = records.records
    if len(frame) >= 3:
        third = frame.iloc[2].dropna().astype(str)
        if len(third) and third.str.match(_IMPORT_ID.pattern).mean() >= 0.5:
            return "import_id"
    if len(frame) >= 2:
        first = [str(v) for v in frame.iloc[0].tolist()[:10]]
        if first == LEGACY_TAGS:
            return "legacy"
    return None


def _import_id(cell: object) -> str:
    match = _IMPORT_ID.match(str(cell)) if isinstance(cell, str) else None
    return match.group(1) if match else ""


def read_qualtrics(path: str | Path, records: RawRecords | None = None) -> PlatformExport:
    """Read a Qualtrics response export (CSV, TSV or XLSX; any supported encoding).

    Parameters
    ----------
    path : str or Path
        The export file.
    records : RawRecords, optional
        Already-read records (used by ``read_export`` to avoid reading twice).

    Returns
    -------
    PlatformExport
        ``data`` columns are the export tags (Q1, Q2_1, ...); ``labels`` the question texts.

    Raises
    ------
    IngestError
        When the file is not a Qualtrics export (neither layout), or is malformed.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "q.csv")
    >>> _ = open(p, "w").write('ResponseId,Status,Q1\\nResponse ID,Response Type,How?\\n'
    ...     '"{""ImportId"":""_recordId""}","{""ImportId"":""status""}","{""ImportId"":""QID1""}"\\n'
    ...     'R_1,1,4\\n')
    >>> e = read_qualtrics(p)
    >>> e.data["Q1"].tolist(), bool(e.meta["preview"][0])
    (['4'], True)
    """
    # Imported here: fieldsurvey.io needs qualtrics_layout, not the platform export's rules.
    from fieldsurvey.ingest.export import as_bool, as_number, as_text, build_file_export

    records = records if records is not None else read_records(path)
    file = records.file
    layout = qualtrics_layout(records)
    if layout is None:
        raise IngestError(
            file,
            1,
            None,
            "not a Qualtrics export: row 3 is not the ImportId row and row 1 does "
            "not start V1..V10 (is it another platform's file?)",
        )
    notes = list(records.notes)
    field_paths: dict[str, str] = {}
    if layout == "import_id":
        body = split_header(records, 3)
        tags, texts, ids = body.header
        import_ids = [_import_id(c) for c in ids]
    else:
        body = split_header(records, 2)
        tags, texts = body.header
        import_ids = [""] * len(tags)
        names = header_names([texts[i] if i < 10 else tag for i, tag in enumerate(tags)], file)
        for old, new in zip(tags[:10], names[:10], strict=False):
            field_paths[new] = str(old)
        body.table.columns = names
        tags = names
    table = body.table
    columns = list(table.columns)
    # A trailing delimiter on every line makes an unnamed, empty last column: not data.
    for position, column in enumerate(columns, start=1):
        if column.startswith("unnamed_") and table[column].isna().all():
            table = table.drop(columns=column)
            notes.append(f"dropped empty unnamed column {position} (trailing delimiter)")
    columns = list(table.columns)
    by_column = dict(
        zip(header_names(tags, file), zip(texts, import_ids, strict=False), strict=False)
    )

    response_id = next((c for c in ID_TAGS if c in columns), None)
    if response_id is None:
        response_id = next(
            (c for c in columns if by_column.get(c, ("", ""))[1] in ("_recordId", "responseId")),
            None,
        )
    if response_id is None:
        raise IngestError(file, 1, "ResponseId", "no response id column (ResponseId/ResponseID)")

    meta_columns = [
        c for c in columns if c in META_TAGS or by_column.get(c, ("", ""))[1] in META_IMPORT_IDS
    ]
    personal: dict[str, str] = {}
    text_columns: list[str] = []
    for column in columns:
        import_id = by_column.get(column, ("", ""))[1]
        if import_id in PERSONAL_IMPORT_IDS:
            personal[column] = PERSONAL_IMPORT_IDS[import_id]
        elif import_id.startswith(("panel-", "Location-")):
            personal[column] = "Qualtrics panel/location field"
        elif _DEVICE_SUFFIX.search(column):
            personal[column] = "Qualtrics browser meta-info (device)"
        elif re.search(r"[_-]TEXT(\b|_|$)", import_id):
            text_columns.append(column)
    if layout == "legacy":
        personal.update(
            {c: "Qualtrics legacy identity field" for c in ("Name", "EmailAddress") if c in columns}
        )

    index = pd.RangeIndex(len(table))
    status = table.get("Status")
    preview = (
        as_text(status, index).str.strip().str.lower().isin(PREVIEW_STATUS).astype("boolean")
        if status is not None
        else pd.Series(False, index=index, dtype="boolean")
    )
    submitted = table.get("RecordedDate", table.get("EndDate"))
    flags = {
        "finished": as_bool(table.get("Finished"), index),
        "progress": as_number(table.get("Progress"), index),
        "duration_seconds": as_number(table.get("Duration (in seconds)"), index),
        "submitted_at": as_text(submitted, index),
        "status": as_text(status, index),
        "preview": preview,
    }
    labels = {c: str(by_column[c][0]) for c in columns if c in by_column and by_column[c][0]}
    return build_file_export(
        records,
        body,
        table=table,
        platform="qualtrics",
        response_id_column=response_id,
        meta_columns=meta_columns,
        flags=flags,
        personal=personal,
        text_columns=text_columns,
        labels=labels,
        field_paths=field_paths,
        notes=notes + [f"Qualtrics layout: {layout}"],
    )
