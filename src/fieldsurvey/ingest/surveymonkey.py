"""SurveyMonkey exports: the CSV/XLSX "all responses" export and API v3 JSON.

* CSV/XLSX: two header rows. Row 1 holds the respondent columns (``Respondent ID``,
  ``Collector ID``, ``Start Date``, ``End Date``, ``IP Address``, ``Email Address``,
  ``First Name``, ``Last Name``, ``Custom Data 1``) then one heading per question, written
  once above all of that question's columns; row 2 holds ``Response``,
  ``Open-Ended Response`` or the choice / row text. SurveyMonkey has no question codes, so
  columns are named by position: ``Q1`` for a one-column question, ``Q2_1``, ``Q2_2`` ... for
  a question spanning several columns; ``labels`` carry the heading (and row-2 text).
* API v3: ``/surveys/{id}/responses/bulk`` pages (``{"data": [...]}``), optionally with the
  ``/surveys/{id}/details`` definition. Columns are the question ids (``<question>_<row>`` for
  matrix rows, ``<question>_other`` for "other" text); values are the exported ``choice_id``
  (several chosen: space-separated) or the text. With the details, ``labels`` hold the
  headings and ``value_labels`` map choice ids to choice text; open-ended questions are text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.export import (
    PlatformExport,
    as_number,
    as_text,
    build_export,
    build_file_export,
)
from fieldsurvey.ingest.files import (
    RawRecords,
    empty_quarantine,
    header_names,
    read_json,
    read_records,
    split_header,
)

CSV_META = ["Respondent ID", "Collector ID", "Start Date", "End Date"]
CSV_PERSONAL = {
    "IP Address": "SurveyMonkey IP address",
    "Email Address": "SurveyMonkey e-mail",
    "First Name": "SurveyMonkey respondent name",
    "Last Name": "SurveyMonkey respondent name",
}
API_META = [
    "collector_id", "survey_id", "collection_mode", "response_status", "total_time",
    "date_created", "date_modified", "page_path",
]  # fmt: skip
API_PERSONAL = {
    "ip_address": "SurveyMonkey IP address",
    "first_name": "SurveyMonkey respondent name",
    "last_name": "SurveyMonkey respondent name",
    "email_address": "SurveyMonkey e-mail",
    "recipient_id": "SurveyMonkey recipient id",
    "custom_value": "SurveyMonkey custom value (external reference)",
    "custom_variables": "SurveyMonkey custom variables (external reference)",
    "metadata": "SurveyMonkey contact metadata",
    "edit_url": "SurveyMonkey edit link (respondent token)",
    "analyze_url": "SurveyMonkey analyze link (respondent token)",
    "href": "SurveyMonkey response link",
    "logic_path": "SurveyMonkey logic path",
}


def is_surveymonkey_header(first_row: list[Any]) -> bool:
    """True when a header row starts like SurveyMonkey's CSV export."""
    cells = [str(c) for c in first_row[:2]]
    return cells == ["Respondent ID", "Collector ID"]


def read_surveymonkey(
    path: str | Path,
    details: str | Path | dict | None = None,
    records: RawRecords | None = None,
) -> PlatformExport:
    """Read a SurveyMonkey export: CSV/XLSX (two header rows) or API v3 responses JSON.

    Parameters
    ----------
    path : str or Path
        The export (``.csv``/``.xlsx``) or a ``/responses/bulk`` JSON page.
    details : str, Path or dict, optional
        The ``/surveys/{id}/details`` JSON (API exports only).
    records : RawRecords, optional
        Already-read records (CSV/XLSX).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "sm.csv")
    >>> _ = open(p, "w").write("Respondent ID,Collector ID,IP Address,How many?,Why?\\n"
    ...                        ",,,Response,Open-Ended Response\\n11,22,1.2.3.4,3,because\\n")
    >>> e = read_surveymonkey(p)
    >>> list(e.data.columns), list(e.free_text.columns)
    (['Respondent ID', 'Q1'], ['Respondent ID', 'Q2'])
    """
    if records is None and Path(path).suffix.lower() == ".json":
        return _read_api(path, details)
    records = records if records is not None else read_records(path)
    file = records.file
    if not len(records.records) or not is_surveymonkey_header(records.records.iloc[0].tolist()):
        raise IngestError(
            file,
            1,
            None,
            "not a SurveyMonkey export: row 1 does not start "
            "'Respondent ID, Collector ID' (is it another platform's file?)",
        )
    first = records.records.iloc[0].tolist()
    second = records.records.iloc[1].tolist() if len(records.records) > 1 else []
    # Question headings are written once; spread each over the columns below it.
    headings, current, q_number, spans = [], None, 0, []
    for position, cell in enumerate(first):
        text = "" if pd.isna(cell) else str(cell)
        is_meta = text in CSV_META or text in CSV_PERSONAL or text.startswith("Custom Data")
        if is_meta:
            headings.append((text, None))
            current = None
            continue
        if text:
            q_number += 1
            current = q_number
            spans.append([])
        if current is None:  # a blank heading before any question: keep it visible
            headings.append((f"unnamed_{position + 1}", None))
            continue
        spans[-1].append(position)
        headings.append((text or None, current))
    names: list[str] = []
    labels: dict[str, str] = {}
    text_columns: list[str] = []
    last_heading = ""
    for position, (heading, number) in enumerate(headings):
        if number is None:
            names.append(heading)
            continue
        last_heading = heading or last_heading
        span = spans[number - 1]
        sub = second[position] if position < len(second) and not pd.isna(second[position]) else ""
        name = f"Q{number}" if len(span) == 1 else f"Q{number}_{span.index(position) + 1}"
        names.append(name)
        plain = sub in ("", "Response", "Open-Ended Response")
        labels[name] = last_heading if plain else f"{last_heading} [{sub}]"
        if sub == "Open-Ended Response" or str(sub).startswith("Other (please specify)"):
            text_columns.append(name)
    body = split_header(records, 2, names=header_names(names, file))
    table = body.table
    index = pd.RangeIndex(len(table))
    personal = {c: CSV_PERSONAL[c] for c in table.columns if c in CSV_PERSONAL}
    personal.update(
        {
            c: "SurveyMonkey custom data (external reference)"
            for c in table.columns
            if c.startswith("Custom Data")
        }
    )
    flags: dict[str, pd.Series] = {"submitted_at": as_text(table.get("End Date"), index)}
    if "Start Date" in table and "End Date" in table:
        start = pd.to_datetime(table["Start Date"], errors="coerce", format="mixed")
        end = pd.to_datetime(table["End Date"], errors="coerce", format="mixed")
        flags["duration_seconds"] = (end - start).dt.total_seconds().astype("float64")
    return build_file_export(
        records,
        body,
        table=table,
        platform="surveymonkey",
        response_id_column="Respondent ID",
        meta_columns=CSV_META,
        flags=flags,
        personal=personal,
        text_columns=text_columns,
        labels=labels,
        notes=records.notes,
    )


def _details_maps(details: dict) -> tuple[dict[str, str], dict[str, dict[str, str]], set[str]]:
    labels: dict[str, str] = {}
    value_labels: dict[str, dict[str, str]] = {}
    open_ended: set[str] = set()
    for page in details.get("pages", []) or []:
        for question in page.get("questions", []) or []:
            qid = str(question.get("id"))
            heading = next(
                (
                    h.get("heading", "")
                    for h in question.get("headings", []) or []
                    if h.get("heading")
                ),
                "",
            )
            answers = question.get("answers", {}) or {}
            choices = {
                str(c["id"]): str(c.get("text", ""))
                for c in answers.get("choices", []) or []
                if "id" in c
            }
            rows = answers.get("rows", []) or []
            if question.get("family") == "open_ended":
                open_ended.add(qid)
            targets = [
                (f"{qid}_{r['id']}", f"{heading} [{r.get('text', '')}]") for r in rows if "id" in r
            ]
            for target, label in targets or [(qid, heading)]:
                labels[target] = label
                if choices:
                    value_labels[target] = choices
                if question.get("family") == "open_ended":
                    open_ended.add(target)
            for other in [answers.get("other")] if answers.get("other") else []:
                open_ended.add(f"{qid}_other")
                labels[f"{qid}_other"] = f"{heading} [{other.get('text', 'Other')}]"
    return labels, value_labels, open_ended


def _read_api(path: str | Path, details: str | Path | dict | None) -> PlatformExport:
    file = str(path)
    payload = read_json(path)
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        hint = (
            " (this looks like a survey definition, not responses)"
            if isinstance(payload, dict) and "pages" in payload
            else ""
        )
        raise IngestError(
            file, 1, None, "not a SurveyMonkey /responses/bulk page: no 'data' list" + hint
        )
    if isinstance(details, str | Path):
        details = read_json(details)
    good, numbers, bad = [], [], []
    typed_text: set[str] = set()  # answers given as "text" (not a choice_id) are text entry
    # API pages hold at most a few hundred responses; walking the nested JSON is unavoidable.
    for number, response in enumerate(payload["data"], start=1):
        if not isinstance(response, dict) or "id" not in response:
            bad.append((number, str(response)[:500], "response is not an object with an id"))
            continue
        row: dict[str, Any] = {}
        for key, value in response.items():
            if key == "pages":
                continue
            row[key] = pd.NA if value in (None, "", {}, []) else str(value)
        for page in response.get("pages", []) or []:
            for question in page.get("questions", []) or []:
                qid = str(question.get("id"))
                for answer in question.get("answers", []) or []:
                    base = f"{qid}_{answer['row_id']}" if "row_id" in answer else qid
                    if "other_id" in answer:
                        target, value = f"{qid}_other", answer.get("text", "")
                    elif "choice_id" in answer:
                        target, value = base, str(answer["choice_id"])
                    else:
                        target, value = base, str(answer.get("text", ""))
                        typed_text.add(target)
                    row[target] = f"{row[target]} {value}" if target in row else value
        good.append(row)
        numbers.append(number)
    if not good and not bad:
        raise IngestError(file, 2, None, "the responses page has no responses")
    table = (
        pd.DataFrame(good).astype("str") if good else pd.DataFrame({"id": pd.Series(dtype="str")})
    )
    labels, value_labels, open_ended = (
        _details_maps(details) if isinstance(details, dict) else ({}, {}, set())
    )
    answer_columns = [c for c in table.columns if c[:1].isdigit()]
    open_ended |= typed_text | {c for c in answer_columns if c.endswith("_other")}
    index = pd.RangeIndex(len(table))
    flags = {
        "finished": table["response_status"].eq("completed").astype("boolean")
        if "response_status" in table
        else pd.Series(pd.NA, index=index, dtype="boolean"),
        "duration_seconds": as_number(table.get("total_time"), index),
        "submitted_at": as_text(table.get("date_modified"), index),
        "status": as_text(table.get("response_status"), index),
    }
    quarantine = pd.DataFrame(bad, columns=["row", "raw", "reason"]) if bad else empty_quarantine()
    return build_export(
        table=table,
        platform="surveymonkey",
        file=file,
        response_id_column="id",
        row_numbers=np.asarray(numbers, dtype=np.int64),
        quarantine=quarantine,
        meta_columns=API_META,
        flags=flags,
        personal={c: r for c, r in API_PERSONAL.items() if c in table.columns},
        text_columns=sorted(open_ended),
        not_text_columns=[c for c in answer_columns if c in value_labels],
        labels=labels,
        value_labels=value_labels,
        encoding="utf-8",
        notes=[],
    )
