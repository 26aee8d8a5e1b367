"""Tell which survey platform wrote an export, only where the layout is unambiguous.

Each platform has markers no other platform writes (checked on the header rows only):

============  ==============================================================================
qualtrics     row 3 is the ImportId row, or row 1 starts V1..V10 (legacy)
surveymonkey  row 1 starts "Respondent ID, Collector ID"; JSON with a "data" list of responses
redcap        a ``<form>_complete`` or ``redcap_*`` column
kobo          ``_uuid``/``_submission_time``/``_index``/``meta/instanceID``/``formhub/uuid``
odk           ``KEY``/``SubmissionDate``/``meta-instanceID`` with ``-``-joined group paths
limesurvey    ``submitdate`` and ``lastpage`` columns (question codes like ``Q1[SQ001]``)
============  ==============================================================================

No marker, or markers of two platforms, is an ``IngestError`` asking for ``platform=``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.files import (
    RawRecords,
    empty_quarantine,
    header_names,
    read_json,
    read_records,
)
from fieldsurvey.ingest.kobo import KOBO_MARKERS, ODK_MARKERS
from fieldsurvey.ingest.limesurvey import is_limesurvey_table
from fieldsurvey.ingest.qualtrics import qualtrics_layout
from fieldsurvey.ingest.redcap import is_redcap_table
from fieldsurvey.ingest.surveymonkey import is_surveymonkey_header

PLATFORMS = ("qualtrics", "redcap", "kobo", "odk", "limesurvey", "surveymonkey")


def _records_from_frame(frame: pd.DataFrame) -> RawRecords:
    head = frame.head(3).astype("str")
    header = pd.DataFrame([list(map(str, frame.columns))], columns=head.columns)
    records = pd.concat([header, head], ignore_index=True)
    records.columns = range(records.shape[1])
    numbers = np.arange(1, len(records) + 1, dtype=np.int64)
    return RawRecords("<table>", records, numbers, empty_quarantine())


def _json_platform(payload: Any, file: str) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("data"), list):
        return "surveymonkey"
    if isinstance(payload, dict) and "pages" in payload and "question_count" in payload:
        raise IngestError(
            file,
            1,
            None,
            "this is a SurveyMonkey survey definition (/details), not responses; "
            "pass it as details= with the /responses/bulk file",
        )
    if isinstance(payload, dict) and "content" in payload and "submissions" not in payload:
        raise IngestError(
            file,
            1,
            None,
            "this is a KoboToolbox form definition (asset), not submissions; "
            "pass it as form= with the data export",
        )
    items = (
        payload.get("results", payload.get("submissions")) if isinstance(payload, dict) else payload
    )
    if isinstance(items, list) and any(
        isinstance(i, dict) and set(i) & (KOBO_MARKERS | {"meta/instanceID", "_submission_time"})
        for i in items[:20]
    ):
        return "kobo"
    raise IngestError(file, 1, None, "cannot tell which platform wrote this JSON; pass platform=")


def platform_candidates(records: RawRecords) -> list[str]:
    """Every platform whose markers the header rows carry (normally exactly one)."""
    frame = records.records
    if frame.empty:
        return []
    names = header_names(frame.iloc[0].tolist(), records.file)
    found = []
    if qualtrics_layout(records) is not None:
        found.append("qualtrics")
    if is_surveymonkey_header(frame.iloc[0].tolist()):
        found.append("surveymonkey")
    if is_redcap_table(names):
        found.append("redcap")
    if set(names) & KOBO_MARKERS or any(n.startswith("meta/") for n in names):
        found.append("kobo")
    if set(names) & ODK_MARKERS and not any("/" in n for n in names):
        found.append("odk")
    if is_limesurvey_table(names):
        found.append("limesurvey")
    return found


def detect_platform(path_or_table: str | Path | pd.DataFrame | RawRecords) -> str:
    """Name the platform that wrote an export.

    Parameters
    ----------
    path_or_table : str, Path, DataFrame or RawRecords
        An export file (CSV/TSV/XLSX/JSON), a table whose columns are the export's header, or
        records already read.

    Returns
    -------
    str
        One of ``PLATFORMS``.

    Raises
    ------
    IngestError
        When no platform's markers are present, or more than one platform's are.

    Examples
    --------
    >>> detect_platform(pd.DataFrame(columns=["record_id", "q1", "survey_complete"]))
    'redcap'
    """
    if isinstance(path_or_table, RawRecords):
        records = path_or_table
    elif isinstance(path_or_table, pd.DataFrame):
        records = _records_from_frame(path_or_table)
    else:
        if Path(path_or_table).suffix.lower() == ".json":
            return _json_platform(read_json(path_or_table), str(path_or_table))
        records = read_records(path_or_table)
    file = records.file
    names = header_names(records.records.iloc[0].tolist(), file) if len(records.records) else []
    lowered = {n.strip().lower() for n in names}
    if {"variable / field name", "field_name"} & lowered and {"form name", "form_name"} & lowered:
        raise IngestError(
            file,
            1,
            None,
            "this is a REDCap data dictionary, not records; pass it as "
            "dictionary= with the record export",
        )
    if {"class", "type/scale"} <= lowered:
        raise IngestError(
            file,
            1,
            None,
            "this is a LimeSurvey survey-structure file, not responses; pass it as "
            "structure= with the response export",
        )
    found = platform_candidates(records)
    if "kobo" in found and "odk" in found:
        found.remove("odk" if any("/" in n for n in names) else "kobo")
    if len(found) == 1:
        return found[0]
    if not found:
        raise IngestError(
            file,
            1,
            None,
            "cannot tell which survey platform wrote this file (no Qualtrics "
            "ImportId row, REDCap _complete column, Kobo _uuid, ODK KEY, LimeSurvey submitdate or "
            f"SurveyMonkey Respondent ID); pass platform= one of {', '.join(PLATFORMS)}",
        )
    raise IngestError(
        file, 1, None, f"ambiguous: the header looks like {' and '.join(found)}; pass platform="
    )
