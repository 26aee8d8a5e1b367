"""The normalised result every platform reader returns, and the step that builds it.

``build_export`` is where the privacy rules are applied, in the same order for every platform:
personal-data columns are dropped (and listed) whether their name or their content gives them
away, a response-id column holding personal data is flagged (the pipeline replaces such ids
by keyed hashes), platform metadata moves to ``meta``, free-text answers move to
``free_text``, and what is left — the answers — is ``data``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fieldsurvey.ingest.files import Body, RawRecords, empty_quarantine
from fieldsurvey.ingest.personal_data import (
    content_reason,
    find_personal_columns,
    id_reason,
    personal_hits,
)

# Normalised per-response flags every ``meta`` table has, whatever the platform.
META_FLAGS = [
    "response_id", "finished", "progress", "duration_seconds", "submitted_at", "status", "preview",
]  # fmt: skip

# A value is prose when it is long and has several words made of letters.
FREE_TEXT_MIN_CHARS = 30
FREE_TEXT_MIN_WORDS = 5
_WORD = r"[^\W\d_]{2,}"


@dataclass
class PlatformExport:
    """One survey-platform export, read and normalised.

    Attributes
    ----------
    data : DataFrame
        One row per response. The response-id column first, then the answer columns named by the
        platform's question codes / export tags; values as exported (text), missing as NA.
    platform : str
        "qualtrics", "redcap", "kobo", "odk", "limesurvey" or "surveymonkey".
    response_id_column : str
        Name of the response-id column in ``data``.
    meta : DataFrame
        Same index as ``data``: the flags in ``META_FLAGS`` (finished, progress, duration in
        seconds, submission time, the platform's status text, preview) plus the platform's raw
        metadata columns (renamed ``raw_<name>`` only if a name clashes with a flag).
    labels : dict
        Column -> question text, where the export carries it.
    value_labels : dict
        Column -> {code: label}, where known.
    dropped_personal : list of dict
        ``{"column": name, "reason": why}`` for every column dropped as personal data, by name
        ("generic pattern: ...", a platform's rule) or by content ("content: e-mail address in
        40 of 41 values").
    personal_ids : str
        Why the response ids are personal data ("e-mail address"), or "" when they are not.
    personal_cells : dict
        Column -> the cells of a kept column that hold personal data (a Series of kinds indexed
        by row, as :func:`~fieldsurvey.ingest.personal_data.personal_hits` gives it); only
        columns with such cells. The pipeline quarantines their rows.
    content_checked : bool
        Whether every column was searched for personal data by content (``build_export`` does
        it; an export made by hand is searched by the pipeline).
    free_text : DataFrame
        Same index as ``data``: free-text answers, kept out of ``data``.
    row_numbers : Series
        Same index as ``data``: the 1-based record number in the source file.
    quarantine : DataFrame
        Rows that could not be read: ``row``, ``raw``, ``reason``.
    rows_read : int
        Responses read: always ``len(data) + len(quarantine)``.
    file : str
        Source file(s).
    encoding, delimiter : str
        What was detected for text files.
    field_paths : dict
        Column -> original column name where the reader renamed it (group paths, V1..V10).
    missing_codes : dict
        Column -> codes the source declares as missing (SPSS user-missing); kept as codes.
    notes : list of str
        Decisions the reader made that the user should know about.
    """

    data: pd.DataFrame
    platform: str
    response_id_column: str
    meta: pd.DataFrame
    labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    dropped_personal: list[dict[str, str]] = field(default_factory=list)
    personal_ids: str = ""
    personal_cells: dict[str, pd.Series] = field(default_factory=dict)
    content_checked: bool = False
    free_text: pd.DataFrame = field(default_factory=pd.DataFrame)
    row_numbers: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))
    quarantine: pd.DataFrame = field(default_factory=empty_quarantine)
    rows_read: int = 0
    file: str = ""
    encoding: str = ""
    delimiter: str = ""
    field_paths: dict[str, str] = field(default_factory=dict)
    missing_codes: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A small JSON-able description (counts and names), for CLI output and logs."""
        return {
            "file": self.file,
            "platform": self.platform,
            "rows_read": self.rows_read,
            "responses": len(self.data),
            "quarantined": len(self.quarantine),
            "preview_rows": int(self.meta["preview"].fillna(False).astype(bool).sum())
            if "preview" in self.meta
            else 0,
            "answer_columns": [c for c in self.data.columns if c != self.response_id_column],
            "free_text_columns": list(self.free_text.columns),
            "dropped_personal": list(self.dropped_personal),
            "notes": list(self.notes),
        }


def free_text_columns(frame: pd.DataFrame, exclude: Iterable[str] = ()) -> list[str]:
    """Columns holding prose: some value has >= 30 characters and >= 5 words of letters.

    Cheap on big files: the word count only runs on columns whose longest value is long enough.

    Examples
    --------
    >>> df = pd.DataFrame({"q1": ["1", "2"], "c": ["fine", "I felt that the team was great"]})
    >>> free_text_columns(df)
    ['c']
    """
    skip = set(exclude)
    found = []
    for column in frame.columns:
        if column in skip:
            continue
        values = frame[column]
        if values.dtype.kind in "biufcmM":
            continue
        if values.dtype == "str":  # Arrow-backed text: the longest value, measured in Arrow
            longest = pc.max(pc.utf8_length(pa.array(values))).as_py()
            if longest is None or longest < FREE_TEXT_MIN_CHARS:
                continue
        text = values.dropna().astype("str")
        if text.empty:
            continue
        lengths = text.str.len()
        if lengths.max() < FREE_TEXT_MIN_CHARS:
            continue
        long_values = text[lengths >= FREE_TEXT_MIN_CHARS]
        if (long_values.str.count(_WORD) >= FREE_TEXT_MIN_WORDS).any():
            found.append(column)
    return found


def _all_numbers(values: pd.Series) -> bool:
    text = values.dropna().astype("str").str.strip()
    return bool(len(text)) and bool(text.str.fullmatch(r"-?\d+(?:[.,]\d+)?").all())


def keep_as_answers(export: PlatformExport, columns: Iterable[str]) -> PlatformExport:
    """Move columns the study declares as answers from ``free_text`` back into ``data``.

    A study knows which columns are instrument items or its organisation column even when the
    platform calls them text entry; personal-data columns are never brought back.

    Examples
    --------
    >>> t = pd.DataFrame({"id": ["r1"], "org": ["Shelter North"], "q1": ["5"]})
    >>> e = build_export(table=t, platform="x", file="f", response_id_column="id",
    ...                  row_numbers=[2], text_columns=["org"])
    >>> list(keep_as_answers(e, ["org"]).data.columns)
    ['id', 'q1', 'org']
    """
    wanted = [
        c for c in columns if c in export.free_text.columns and c != export.response_id_column
    ]
    if not wanted:
        return export
    export.data = pd.concat([export.data, export.free_text[wanted]], axis=1)
    rest = [c for c in export.free_text.columns if c not in wanted]
    only_id = rest == [export.response_id_column]
    export.free_text = pd.DataFrame(index=export.data.index) if only_id else export.free_text[rest]
    export.notes.append("declared answers moved from free_text to data: " + ", ".join(wanted))
    return export


def _as_bool(values: pd.Series, true: Iterable[str], false: Iterable[str]) -> pd.Series:
    text = values.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[text.isin([t.lower() for t in true])] = True
    out[text.isin([f.lower() for f in false])] = False
    return out


def as_bool(values: pd.Series | None, index: pd.Index) -> pd.Series:
    """Vectorised flag parsing: 1/true/yes -> True, 0/false/no -> False, else NA."""
    if values is None:
        return pd.Series(pd.NA, index=index, dtype="boolean")
    return _as_bool(values, ["1", "true", "yes", "y", "t"], ["0", "false", "no", "n", "f"])


def as_number(values: pd.Series | None, index: pd.Index) -> pd.Series:
    """Vectorised numbers (comma decimals accepted); unparsable -> NaN."""
    if values is None:
        return pd.Series(np.nan, index=index, dtype="float64")
    # Parsed once per distinct value (a few per column: progress, duration) and spread back.
    codes, distinct = pd.factorize(values.astype("str"), use_na_sentinel=True)
    text = pd.Series(distinct, dtype="str").str.strip().str.replace(",", ".", regex=False)
    numbers = np.append(pd.to_numeric(text, errors="coerce").to_numpy(dtype=float), np.nan)
    return pd.Series(numbers[codes], index=values.index, dtype="float64")


def as_text(values: pd.Series | None, index: pd.Index) -> pd.Series:
    """Text flags (submission time, status) kept exactly as exported."""
    if values is None:
        return pd.Series(pd.NA, index=index, dtype="str")
    return values.astype("str")


def build_export(
    *,
    table: pd.DataFrame,
    platform: str,
    file: str,
    response_id_column: str,
    row_numbers: np.ndarray | pd.Series,
    quarantine: pd.DataFrame | None = None,
    meta_columns: Iterable[str] = (),
    flags: Mapping[str, pd.Series] | None = None,
    personal: Mapping[str, str] | None = None,
    text_columns: Iterable[str] = (),
    not_text_columns: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    value_labels: Mapping[str, Mapping[str, str]] | None = None,
    encoding: str = "",
    delimiter: str = "",
    field_paths: Mapping[str, str] | None = None,
    missing_codes: Mapping[str, list[Any]] | None = None,
    notes: Iterable[str] = (),
) -> PlatformExport:
    """Split a named table into data / meta / free_text and drop personal data.

    Parameters
    ----------
    table : DataFrame
        One row per response, columns already named by the platform's codes.
    meta_columns : iterable of str
        Platform system columns that go to ``meta`` (unless personal).
    flags : mapping
        Normalised flags (keys from ``META_FLAGS``) computed by the platform reader.
    personal : mapping
        Platform-specific personal columns -> reason (the generic patterns are added here).
    text_columns : iterable of str
        Columns the platform says are text entry; they go to ``free_text``.
    not_text_columns : iterable of str
        Columns never treated as free text by the value heuristic (choice codes, lists).

    Examples
    --------
    >>> t = pd.DataFrame({"id": ["r1"], "IPAddress": ["1.2.3.4"], "q1": ["5"]})
    >>> e = build_export(table=t, platform="x", file="f", response_id_column="id",
    ...                  row_numbers=[2])
    >>> list(e.data.columns), e.dropped_personal[0]["column"]
    (['id', 'q1'], 'IPAddress')
    """
    index = pd.RangeIndex(len(table))
    table = table.reset_index(drop=True)
    if response_id_column not in table.columns:
        raise ValueError(f"response id column {response_id_column!r} missing")  # programming error
    personal_map = find_personal_columns(table.columns, personal, keep=[response_id_column])
    platform_meta = set(meta_columns)
    scattered: dict[str, pd.Series] = {}  # kept columns with the odd personal cell
    for column in table.columns:  # platform system columns are judged by name only
        if column in personal_map or column in platform_meta or column == response_id_column:
            continue
        hits = personal_hits(table[column])
        reason = content_reason(table[column], hits=hits)
        if reason is not None:
            personal_map[column] = reason
        elif not hits.empty:
            scattered[column] = hits
    meta_set = [c for c in meta_columns if c in table.columns and c not in personal_map]
    meta_set = [c for c in meta_set if c != response_id_column]
    flags = dict(flags or {})
    meta = pd.DataFrame(index=index)
    meta["response_id"] = table[response_id_column].astype("str")
    meta["finished"] = flags.get("finished", as_bool(None, index))
    meta["progress"] = flags.get("progress", as_number(None, index))
    meta["duration_seconds"] = flags.get("duration_seconds", as_number(None, index))
    meta["submitted_at"] = flags.get("submitted_at", as_text(None, index))
    meta["status"] = flags.get("status", as_text(None, index))
    meta["preview"] = flags.get("preview", pd.Series(False, index=index, dtype="boolean"))
    for column in meta_set:
        name = column if column not in meta.columns else f"raw_{column}"
        meta[name] = table[column]

    remaining = [
        c
        for c in table.columns
        if c not in personal_map and c not in meta_set and c != response_id_column
    ]
    declared_text = [c for c in text_columns if c in remaining]
    # Text entry used for numbers (hours per week, age in years) is an answer, not prose.
    numeric_entry = [c for c in declared_text if _all_numbers(table[c])]
    declared_text = [c for c in declared_text if c not in numeric_entry]
    heuristic = free_text_columns(
        table[remaining], exclude=set(declared_text) | set(not_text_columns)
    )
    text_set = set(declared_text) | set(heuristic)
    text_cols = [c for c in remaining if c in text_set]
    answer_cols = [c for c in remaining if c not in text_set]

    data = table[[response_id_column, *answer_cols]]
    free_text = table[[response_id_column, *text_cols]] if text_cols else pd.DataFrame(index=index)
    kept = set(data.columns) | set(free_text.columns) | set(meta_set)
    quarantine = quarantine if quarantine is not None else empty_quarantine()
    notes = list(notes)
    if numeric_entry:
        notes.append(
            "text-entry columns kept in data because every answer is a number: "
            + ", ".join(map(str, numeric_entry))
        )
    if heuristic:
        notes.append(
            "kept out of data as free text (long prose answers): " + ", ".join(map(str, heuristic))
        )
    return PlatformExport(
        data=data,
        platform=platform,
        response_id_column=response_id_column,
        meta=meta,
        labels={k: v for k, v in (labels or {}).items() if k in kept and v},
        value_labels={k: dict(v) for k, v in (value_labels or {}).items() if k in kept and v},
        dropped_personal=[{"column": c, "reason": r} for c, r in personal_map.items()],
        personal_ids=id_reason(table[response_id_column]) or "",
        personal_cells=scattered,
        content_checked=True,
        free_text=free_text,
        row_numbers=pd.Series(np.asarray(row_numbers, dtype=np.int64), index=index, name="row"),
        quarantine=quarantine.reset_index(drop=True),
        rows_read=len(data) + len(quarantine),
        file=file,
        encoding=encoding,
        delimiter=delimiter,
        field_paths={k: v for k, v in (field_paths or {}).items() if k in kept and k != v},
        missing_codes={k: list(v) for k, v in (missing_codes or {}).items() if k in kept},
        notes=notes,
    )


def build_file_export(records: RawRecords, body: Body, **fields: Any) -> PlatformExport:
    """:func:`build_export` for a table read from a file: the file name, encoding and delimiter
    come from ``records``, the source row numbers and quarantined rows from ``body``; every
    other :func:`build_export` argument is passed by keyword."""
    return build_export(
        file=records.file,
        row_numbers=body.row_numbers,
        quarantine=body.quarantine,
        encoding=records.encoding,
        delimiter=records.delimiter,
        **fields,
    )
