"""KoboToolbox and ODK Central exports (XLSForm-based platforms).

* Columns are XLSForm names prefixed by their group path: ``grp/sub/q`` (KoboToolbox) or
  ``grp-sub-q`` (ODK Central). Names are stripped to the field name; when two fields would get
  the same name, just enough of the path is kept to tell them apart. ``field_paths`` maps every
  new name back to the original column.
* select_multiple answers come as one space-separated column ``q`` and/or 0/1 columns
  ``q/option``; option columns keep the ``q/option`` form after stripping.
  Without a form definition, a group of >= 2 columns whose values are all 0/1/True/False/empty
  is taken to be a select_multiple's option columns (a documented heuristic; pass ``form`` to be
  exact).
* ``n/a`` (legacy KoboCAT's "question skipped") becomes missing.
* System columns (``_uuid``, ``_submission_time``, ``_index``, ``meta/instanceID``, ``KEY``,
  ``SubmissionDate``, ...) go to ``meta``; submitter, device and GPS columns are dropped as
  personal data.
* JSON exports (the KPI/KoboCAT API's list of submissions, or ``{"results": [...]}``) are read
  too; nested repeat groups are kept in ``meta`` as JSON text (read the repeat table for them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.export import PlatformExport, as_text, build_export
from fieldsurvey.ingest.files import (
    RawRecords,
    empty_quarantine,
    read_json,
    read_records,
    split_header,
)

KOBO_META = {
    "_id", "_uuid", "_submission_time", "_index", "_parent_table_name", "_parent_index",
    "_tags", "_notes", "_validation_status", "_status", "__version__", "_xform_id_string",
    "_version_", "_version__001", "start", "end", "today",
    "instanceID", "formhub/uuid", "meta/instanceID",
    "meta/versionID", "meta/formUID", "meta/deprecatedID", "meta/rootUuid",
}  # fmt: skip
ODK_META = {
    "SubmissionDate", "KEY", "PARENT_KEY", "AttachmentsPresent", "AttachmentsExpected",
    "Status", "ReviewState", "Edits", "FormVersion", "meta-instanceID",
}  # fmt: skip
PERSONAL_SYSTEM = {
    "_submitted_by": "KoboToolbox submitting user",
    "_geolocation": "KoboToolbox submission location",
    "_attachments": "KoboToolbox attachment links (carry the account user name)",
    "instanceName": "form instance name (often built from respondents' names)",
    "SubmitterID": "ODK Central submitter id",
    "SubmitterName": "ODK Central submitter name",
    "DeviceID": "ODK device id",
    "deviceid": "XLSForm device id metadata",
    "username": "XLSForm username metadata",
    "email": "XLSForm e-mail metadata",
    "phonenumber": "XLSForm phone number metadata",
    "simserial": "XLSForm SIM serial metadata",
    "subscriberid": "XLSForm subscriber id metadata",
}
# Columns only KoboToolbox / ODK Central write: enough to recognise their exports.
KOBO_MARKERS = {
    "_uuid", "_submission_time", "_index", "_id", "meta/instanceID", "formhub/uuid",
    "_xform_id_string", "_parent_index", "instanceID",
}  # fmt: skip
ODK_MARKERS = {"KEY", "SubmissionDate", "meta-instanceID", "PARENT_KEY"}
ID_COLUMNS = ("_uuid", "meta/instanceID", "KEY", "meta-instanceID", "instanceID", "_id", "_index")
GEO_TYPES = {"geopoint", "geotrace", "geoshape", "start-geopoint"}
TEXT_TYPES = {"text"}
_BINARY = {"0", "1", "true", "false"}
_GEO_PART = re.compile(
    r"^(?P<prefix>.*?)(?P<part>latitude|longitude|altitude|accuracy|precision)$", re.I
)


@dataclass
class KoboForm:
    """The parts of an XLSForm the reader uses.

    Attributes
    ----------
    questions : DataFrame
        ``name``, ``type`` (select_one/select_multiple/text/...), ``label``, ``list_name``.
    choices : DataFrame
        ``list_name``, ``name``, ``label``.
    """

    questions: pd.DataFrame
    choices: pd.DataFrame

    def value_labels(self, name: str) -> dict[str, str]:
        """Choice code -> label for one select question."""
        row = self.questions[self.questions["name"] == name]
        if row.empty or not isinstance(row["list_name"].iloc[0], str):
            return {}
        opts = self.choices[self.choices["list_name"] == row["list_name"].iloc[0]]
        return dict(zip(opts["name"].astype(str), opts["label"].astype(str), strict=True))


def _label(value: Any) -> str:
    if isinstance(value, list):
        return next((str(v) for v in value if v), "")
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def read_kobo_form(path: str | Path) -> KoboForm:
    """Read a form definition: KPI asset JSON (``content.survey``) or an XLSForm ``.xlsx``.

    Examples
    --------
    >>> import tempfile, os, json
    >>> p = os.path.join(tempfile.mkdtemp(), "asset.json")
    >>> _ = open(p, "w").write(json.dumps({"content": {"survey": [{"type": "select_one",
    ...     "name": "s1", "select_from_list_name": "yn", "label": ["S one"]}],
    ...     "choices": [{"list_name": "yn", "name": "y", "label": ["Yes"]}]}}))
    >>> read_kobo_form(p).value_labels("s1")
    {'y': 'Yes'}
    """
    file = str(path)
    if Path(path).suffix.lower() in (".xlsx", ".xls"):
        try:
            survey = pd.read_excel(path, sheet_name="survey", dtype=str)
            choices = pd.read_excel(path, sheet_name="choices", dtype=str)
        except Exception as exc:  # openpyxl raises many types for a damaged workbook
            raise IngestError(file, None, None, f"cannot read the XLSForm: {exc}") from None
        label_col = next((c for c in survey.columns if str(c).startswith("label")), None)
        rows = []
        for item in survey.to_dict("records"):
            kind, _, list_name = str(item.get("type", "")).partition(" ")
            rows.append(
                {
                    "name": item.get("name"),
                    "type": kind,
                    "label": _label(item.get(label_col)) if label_col else "",
                    "list_name": list_name.strip() or None,
                }
            )
        choice_label = next((c for c in choices.columns if str(c).startswith("label")), "label")
        choice_rows = [
            {
                "list_name": c.get("list_name"),
                "name": c.get("name"),
                "label": _label(c.get(choice_label)),
            }
            for c in choices.to_dict("records")
        ]
    else:
        content = read_json(path)
        content = content.get("content", content) if isinstance(content, dict) else None
        if not isinstance(content, dict) or not isinstance(content.get("survey"), list):
            raise IngestError(file, 1, None, "not a form definition (no content.survey list)")
        rows = [
            {
                "name": q.get("name") or q.get("$autoname"),
                "type": str(q.get("type", "")).split(" ")[0],
                "label": _label(q.get("label")),
                "list_name": q.get("select_from_list_name"),
                "or_other": bool(q.get("_or_other")),
            }
            for q in content["survey"]
            if isinstance(q, dict)
        ]
        choice_rows = [
            {
                "list_name": c.get("list_name"),
                "name": c.get("name") or c.get("$autovalue"),
                "label": _label(c.get("label")),
            }
            for c in content.get("choices", [])
            if isinstance(c, dict)
        ]
    questions = pd.DataFrame(rows, columns=["name", "type", "label", "list_name", "or_other"])
    choices_frame = pd.DataFrame(choice_rows, columns=["list_name", "name", "label"])
    return KoboForm(questions.dropna(subset=["name"]), choices_frame)


def _records_from_json(
    payload: Any, file: str
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, list[str]]:
    if isinstance(payload, dict):
        payload = payload.get("results", payload.get("submissions"))
    if not isinstance(payload, list):
        raise IngestError(
            file, 1, None, "not a KoboToolbox JSON export (expected a list of submissions)"
        )
    good, numbers, bad = [], [], []
    nested: set[str] = set()
    for number, item in enumerate(payload, start=1):
        if not isinstance(item, dict):
            bad.append((number, json.dumps(item)[:500], "submission is not a JSON object"))
            continue
        row = {}
        for key, value in item.items():
            if isinstance(value, list | dict):
                nested.add(key)
                row[key] = json.dumps(value, ensure_ascii=False) if value else pd.NA
            elif value is None:
                row[key] = pd.NA
            else:
                row[key] = str(value)
        good.append(row)
        numbers.append(number)
    table = pd.DataFrame(good).astype("str") if good else pd.DataFrame()
    quarantine = pd.DataFrame(bad, columns=["row", "raw", "reason"]) if bad else empty_quarantine()
    if table.empty and not bad:
        raise IngestError(file, 1, None, "the JSON export has no submissions")
    return table, np.asarray(numbers, dtype=np.int64), quarantine, sorted(nested)


def _short_names(paths: list[str], separator: str, keep_last: dict[str, int]) -> list[str]:
    """Strip group paths, keeping more of the path only where names would collide."""
    split = [p.split(separator) for p in paths]
    depth = [keep_last.get(p, 1) for p in paths]
    while True:
        names = ["/".join(parts[-d:]) for parts, d in zip(split, depth, strict=True)]
        counts: dict[str, int] = {}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
        clash = [i for i, n in enumerate(names) if counts[n] > 1 and depth[i] < len(split[i])]
        if not clash:
            # Clashes no deeper path can resolve keep their original names.
            return [p if counts[n] > 1 else n for p, n in zip(paths, names, strict=True)]
        for i in clash:
            depth[i] += 1


def read_kobo(
    path: str | Path,
    form: str | Path | KoboForm | None = None,
    records: RawRecords | None = None,
) -> PlatformExport:
    """Read a KoboToolbox or ODK Central export (CSV, XLSX or the API's JSON).

    Parameters
    ----------
    path : str or Path
        The export file.
    form : str, Path or KoboForm, optional
        The form definition (KPI asset JSON or XLSForm .xlsx) for labels, choice labels,
        select_multiple and text types.
    records : RawRecords, optional
        Already-read records.

    Returns
    -------
    PlatformExport
        ``platform`` is "odk" for ODK Central's ``-``-joined layout, otherwise "kobo".

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "k.csv")
    >>> _ = open(p, "w").write("grp/q1,grp/q2,_uuid,_submission_time\\n3,n/a,u1,2024-01-01\\n")
    >>> e = read_kobo(p)
    >>> list(e.data.columns), e.data["q2"].isna().tolist()
    (['_uuid', 'q1', 'q2'], [True])
    """
    file = str(path)
    notes: list[str] = []
    nested: list[str] = []
    if records is None and Path(path).suffix.lower() == ".json":
        table, numbers, quarantine, nested = _records_from_json(read_json(path), file)
        encoding, delimiter = "utf-8", ""
    else:
        records = records if records is not None else read_records(path)
        body = split_header(records, 1)
        table, numbers, quarantine = body.table, body.row_numbers, body.quarantine
        encoding, delimiter, notes = records.encoding, records.delimiter, list(records.notes)
    form = read_kobo_form(form) if isinstance(form, str | Path) else form
    columns = list(table.columns)
    is_odk = any(c in ODK_META for c in columns) and not any("/" in c for c in columns)
    separator = "-" if is_odk else "/"
    platform = "odk" if is_odk else "kobo"
    if not (set(columns) & (KOBO_MARKERS | ODK_MARKERS)) and not any(
        c.startswith(("meta/", "meta-")) for c in columns
    ):
        raise IngestError(
            file,
            1,
            None,
            "not a KoboToolbox/ODK export: no _uuid, _submission_time, "
            "meta/instanceID or KEY column (is it another platform's file?)",
        )
    skipped = table.eq("n/a")
    if skipped.to_numpy().any():
        table = table.mask(skipped)
        notes.append(
            f"{int(skipped.to_numpy().sum())} 'n/a' (skipped question) cells read as missing"
        )

    def last(column: str) -> str:
        return column.split(separator)[-1]

    meta_columns = [
        c
        for c in columns
        if c in KOBO_META
        or c in ODK_META
        or last(c) in KOBO_META
        or c.startswith("_")
        or c in nested
    ]
    repeats = [c for c in nested if not c.startswith("_")]
    if repeats:
        notes.append(
            "repeat groups kept in meta as JSON text (read the repeat table for analysis): "
            + ", ".join(repeats)
        )
    personal = {c: PERSONAL_SYSTEM[last(c)] for c in columns if last(c) in PERSONAL_SYSTEM}
    # Split geopoints: every part of a point, and the combined column, are locations.
    for column in columns:
        match = _GEO_PART.match(last(column))
        if match and match["part"].lower() in ("latitude", "longitude"):
            prefix = column[: len(column) - len(match["part"])]
            for other in columns:
                part = _GEO_PART.match(other[len(prefix) :]) if other.startswith(prefix) else None
                if part and not part["prefix"]:
                    personal[other] = "location (split geopoint)"
            base = prefix.rstrip("-_/").lstrip("_")
            if base in columns:
                personal[base] = "location (geopoint)"
    form_types: dict[str, str] = {}
    if form is not None:
        form_types = dict(
            zip(form.questions["name"].astype(str), form.questions["type"].astype(str), strict=True)
        )
        for column in columns:
            if form_types.get(last(column)) in GEO_TYPES:
                personal[column] = f"location ({form_types[last(column)]} question)"

    # select_multiple option columns: q/option (q itself a select_multiple or all-binary group)
    option_columns: dict[str, str] = {}
    by_parent: dict[str, list[str]] = {}
    for column in columns:
        if separator in column and column not in meta_columns:
            by_parent.setdefault(column.rsplit(separator, 1)[0], []).append(column)
    for parent, children in by_parent.items():
        if form is not None:
            is_multi = form_types.get(last(parent)) == "select_multiple"
        else:
            values = table[children].stack().dropna().astype("str").str.lower()
            is_multi = len(children) >= 2 and bool(values.isin(_BINARY).all())
        if is_multi:
            option_columns.update({c: parent for c in children})
    keep_last = {c: 2 for c in option_columns}
    names = _short_names(columns, separator, keep_last)
    rename = dict(zip(columns, names, strict=True))
    table = table.rename(columns=rename)
    field_paths = {new: old for old, new in rename.items()}
    meta_columns = [rename[c] for c in meta_columns]
    personal = {rename[c]: r for c, r in personal.items()}
    multi_bases = {rename[p] for p in set(option_columns.values()) if p in rename}
    option_names = [rename[c] for c in option_columns]

    response_id = next(
        (rename[c] for c in ID_COLUMNS if c in rename and table[rename[c]].notna().any()), None
    )
    if response_id is None:
        raise IngestError(
            file, 1, "_uuid", "no submission id column (_uuid, meta/instanceID or KEY)"
        )
    labels: dict[str, str] = {}
    value_labels: dict[str, dict[str, str]] = {}
    text_columns: list[str] = []
    not_text = list(multi_bases) + option_names
    if form is not None:
        qlabels = dict(
            zip(
                form.questions["name"].astype(str), form.questions["label"].astype(str), strict=True
            )
        )
        for new in table.columns:
            field = new.split("/")[-1]
            if new in option_names:
                base = field_paths[new].split(separator)[-2]
                choice = form.value_labels(base).get(field, field)
                labels[new] = f"{qlabels.get(base, base)} ({choice})"
                value_labels[new] = {"0": "not selected", "1": "selected"}
                continue
            kind = form_types.get(field)
            if field in qlabels and qlabels[field]:
                labels[new] = qlabels[field]
            if kind in ("select_one", "select_multiple"):
                value_labels[new] = form.value_labels(field)
                not_text.append(new)
            elif kind in TEXT_TYPES:
                text_columns.append(new)
            elif field.endswith("_other") and form_types.get(
                field[: -len("_other")], ""
            ).startswith("select"):
                text_columns.append(new)
    index = pd.RangeIndex(len(table))
    submitted = table.get("_submission_time", table.get("SubmissionDate"))
    duration = None
    if "start" in table and "end" in table:
        start = pd.to_datetime(table["start"], errors="coerce", utc=True, format="ISO8601")
        end = pd.to_datetime(table["end"], errors="coerce", utc=True, format="ISO8601")
        duration = (end - start).dt.total_seconds()
    flags = {
        # Kobo/ODK only export submitted forms: every row is a finished response.
        "finished": pd.Series(True, index=index, dtype="boolean"),
        "submitted_at": as_text(submitted, index),
        "status": as_text(table.get("_status", table.get("ReviewState")), index),
    }
    if duration is not None:
        flags["duration_seconds"] = duration.astype("float64")
    return build_export(
        table=table,
        platform=platform,
        file=file,
        response_id_column=response_id,
        row_numbers=numbers,
        quarantine=quarantine,
        meta_columns=meta_columns,
        flags=flags,
        personal=personal,
        text_columns=text_columns,
        not_text_columns=not_text,
        labels=labels,
        value_labels=value_labels,
        encoding=encoding,
        delimiter=delimiter,
        field_paths=field_paths,
        notes=notes,
    )
