"""Ingest: read survey-platform exports into one normalised shape (``PlatformExport``).

The readers here only *read*: they never write to a study store. Every reader keeps the
invariant ``rows_read == len(data) + len(quarantine)`` and keeps personal data out of ``data``.

Examples
--------
>>> from fieldsurvey.ingest import read_export  # doctest: +SKIP
>>> export = read_export("qualtrics.csv")  # doctest: +SKIP
>>> export.data, export.meta, export.dropped_personal  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldsurvey._lazy import lazy_exports
from fieldsurvey.ingest.errors import IngestError

if TYPE_CHECKING:
    from fieldsurvey.ingest.export import PlatformExport
    from fieldsurvey.ingest.files import RawRecords

# Loaded on first use: the analysis commands read tables through fieldsurvey.io, which needs
# the file readers here but none of the platforms' readers or the personal-data rules.
_MODULES = {
    "fieldsurvey.ingest.detect": ("PLATFORMS", "detect_platform"),
    "fieldsurvey.ingest.export": ("META_FLAGS", "PlatformExport", "keep_as_answers"),
    "fieldsurvey.ingest.files": ("RawRecords", "read_records"),
    "fieldsurvey.ingest.kobo": ("KoboForm", "read_kobo", "read_kobo_form"),
    "fieldsurvey.ingest.limesurvey": ("LimeSurveyStructure", "read_limesurvey",
                                      "read_limesurvey_structure"),
    "fieldsurvey.ingest.qualtrics": ("read_qualtrics",),
    "fieldsurvey.ingest.redcap": ("read_redcap", "read_redcap_dictionary"),
    "fieldsurvey.ingest.surveymonkey": ("read_surveymonkey",),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "META_FLAGS",
    "PLATFORMS",
    "IngestError",
    "KoboForm",
    "LimeSurveyStructure",
    "PlatformExport",
    "RawRecords",
    "detect_platform",
    "keep_as_answers",
    "read_export",
    "read_kobo",
    "read_kobo_form",
    "read_limesurvey",
    "read_limesurvey_structure",
    "read_qualtrics",
    "read_records",
    "read_redcap",
    "read_redcap_dictionary",
    "read_surveymonkey",
]

__getattr__ = lazy_exports(__name__, _LAZY)


def read_export(
    path: str | Path,
    platform: str | None = None,
    *,
    dictionary: Any = None,
    form: Any = None,
    structure: Any = None,
    details: Any = None,
    answer_columns: Iterable[str] = (),
) -> PlatformExport:
    """Read any supported platform export, detecting the platform unless it is given.

    Parameters
    ----------
    path : str or Path
        The export (CSV/TSV/TXT/XLSX, or JSON for the KoboToolbox and SurveyMonkey APIs).
    platform : str, optional
        One of ``PLATFORMS``; forces that reader (a wrong choice is an ``IngestError``).
    dictionary : path or DataFrame, optional
        REDCap data dictionary.
    form : path or KoboForm, optional
        KoboToolbox/ODK form definition (KPI asset JSON or XLSForm).
    structure : path or LimeSurveyStructure, optional
        LimeSurvey survey-structure export.
    details : path or dict, optional
        SurveyMonkey ``/surveys/{id}/details`` JSON.
    answer_columns : iterable of str, optional
        Columns the study declares as answers (instrument items, the organisation column):
        kept in ``data`` even when the platform calls them text entry (see
        ``keep_as_answers``). Personal-data columns are still dropped.

    Returns
    -------
    PlatformExport

    Raises
    ------
    IngestError
        Unreadable or ambiguous input, naming file, row and column where known.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "r.csv")
    >>> _ = open(p, "w").write("record_id,pq01,wellbeing_complete\\n1,4,2\\n")
    >>> e = read_export(p)
    >>> e.platform, e.data["pq01"].tolist(), e.rows_read
    ('redcap', ['4'], 1)
    """
    from fieldsurvey.ingest.detect import PLATFORMS, detect_platform
    from fieldsurvey.ingest.export import keep_as_answers
    from fieldsurvey.ingest.files import read_records

    if platform is not None and platform not in PLATFORMS:
        raise IngestError(
            path,
            None,
            "(platform)",
            f"unknown platform {platform!r}; use one of {', '.join(PLATFORMS)}",
        )
    is_json = Path(path).suffix.lower() == ".json"
    records = None if is_json else read_records(path)
    platform = platform or detect_platform(path if is_json else records)
    export = _read(path, platform, records, is_json, dictionary, form, structure, details)
    return keep_as_answers(export, answer_columns)


def _read(
    path: str | Path,
    platform: str,
    records: RawRecords | None,
    is_json: bool,
    dictionary: Any,
    form: Any,
    structure: Any,
    details: Any,
) -> PlatformExport:
    """Dispatch to the platform's reader (records already read once by ``read_export``)."""
    from fieldsurvey.ingest.kobo import read_kobo
    from fieldsurvey.ingest.limesurvey import read_limesurvey
    from fieldsurvey.ingest.qualtrics import read_qualtrics
    from fieldsurvey.ingest.redcap import read_redcap
    from fieldsurvey.ingest.surveymonkey import read_surveymonkey

    if platform == "qualtrics":
        if is_json:
            raise IngestError(
                path, None, "(file type)", "Qualtrics JSON exports are not supported; export CSV"
            )
        return read_qualtrics(path, records=records)
    if platform == "redcap":
        if is_json:
            raise IngestError(
                path, None, "(file type)", "REDCap JSON exports are not supported; export CSV"
            )
        return read_redcap(path, dictionary=dictionary, records=records)
    if platform in ("kobo", "odk"):
        return read_kobo(path, form=form, records=records)
    if platform == "limesurvey":
        if is_json:
            raise IngestError(
                path, None, "(file type)", "LimeSurvey JSON exports are not supported; export CSV"
            )
        return read_limesurvey(path, structure=structure, records=records)
    return read_surveymonkey(path, details=details, records=records)
