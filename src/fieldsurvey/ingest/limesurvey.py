"""LimeSurvey response exports and survey-structure (.txt, tab-separated) files.

* Responses: the CSV/XLSX export with "question code" headings: system columns ``id``,
  ``submitdate``, ``lastpage``, ``startlanguage``, ``seed``, ``startdate``, ``datestamp``,
  ``ipaddr``, ``refurl``, ``token``, then question codes (``Q1``, ``Q2[SQ001]``,
  ``Q3[other]``, ``Q4[SQ001comment]``) and timing columns (``interviewtime``, ``...Time``).
  An empty ``submitdate`` means an incomplete response (``finished`` False).
* Structure: the tab-separated survey-structure export (``class`` S/SL/G/Q/SQ/A rows). Given
  as ``structure=``, it supplies question texts, subquestion texts, answer-option labels and
  which questions are text entry (types S, T, U, Q; ``[other]`` and ``comment`` columns).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.export import (
    PlatformExport,
    as_bool,
    as_number,
    as_text,
    build_file_export,
)
from fieldsurvey.ingest.files import RawRecords, read_records, split_header

SYSTEM_COLUMNS = {
    "id", "submitdate", "lastpage", "startlanguage", "seed", "startdate", "datestamp",
    "refurl", "interviewtime", "completed",
}  # fmt: skip
PERSONAL_COLUMNS = {
    "ipaddr": "LimeSurvey IP address",
    "token": "LimeSurvey participant token",
    "refurl": "LimeSurvey referrer URL",
    "firstname": "LimeSurvey participant name",
    "lastname": "LimeSurvey participant name",
    "email": "LimeSurvey participant e-mail",
}
TEXT_TYPES = {"S", "T", "U", "Q"}
FIXED_LABELS = {
    "Y": {"Y": "Yes", "N": "No"},
    "G": {"F": "Female", "M": "Male"},
    "5": {str(i): str(i) for i in range(1, 6)},
    "M": {"Y": "selected"},
    "P": {"Y": "selected"},
}
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*\[[A-Za-z0-9_#]+\]$")
_TIMING = re.compile(r"(Time|groupTime\d+)$")


@dataclass
class LimeSurveyStructure:
    """What a LimeSurvey survey-structure file says about each response column.

    Attributes
    ----------
    question_types : dict
        Question code -> LimeSurvey type letter (L list, F array, S short text, ...).
    labels : dict
        Response column (``Q1``, ``Q2[SQ001]``) -> question text.
    value_labels : dict
        Response column -> {answer code: answer text}.
    text_columns : list
        Response columns that are text entry.
    title : str
        Survey title.
    """

    question_types: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    text_columns: list[str] = field(default_factory=list)
    title: str = ""


def read_limesurvey_structure(path: str | Path) -> LimeSurveyStructure:
    """Read a LimeSurvey tab-separated survey-structure export.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "s.txt")
    >>> rows = ["id\\trelated_id\\tclass\\ttype/scale\\tname\\trelevance\\ttext",
    ...         "1\\t\\tQ\\tL\\tq1\\t1\\tHow?", "1\\t\\tA\\t0\\t1\\t\\tBadly", "1\\t\\tA\\t0\\t2\\t\\tWell"]
    >>> _ = open(p, "w").write("\\n".join(rows) + "\\n")
    >>> read_limesurvey_structure(p).value_labels
    {'q1': {'1': 'Badly', '2': 'Well'}}
    """
    records = read_records(path, delimiter="\t")
    body = split_header(records, 1)
    table = body.table
    needed = {"class", "type/scale", "name", "text"}
    if not needed <= set(table.columns):
        raise IngestError(
            records.file,
            1,
            "class",
            "not a LimeSurvey survey-structure file (needs class, "
            "type/scale, name and text columns)",
        )
    structure = LimeSurveyStructure()
    question, qtype = None, ""
    subquestions: list[str] = []
    answers: dict[str, str] = {}

    def close() -> None:
        if question is None:
            return
        targets = [f"{question}[{sq}]" for sq in subquestions] or [question]
        labels = answers or FIXED_LABELS.get(qtype, {})
        for target in targets:
            if labels:
                structure.value_labels[target] = dict(labels)
            if qtype in TEXT_TYPES:
                structure.text_columns.append(target)

    # The structure file is small (one row per question/option): a plain loop is clearest.
    for row in table.fillna("").to_dict("records"):
        kind, name, text = row["class"], row["name"], row["text"]
        if kind == "SL" and name == "surveyls_title":
            structure.title = text
        elif kind == "Q":
            close()
            question, qtype, subquestions, answers = name, row["type/scale"], [], {}
            structure.question_types[name] = qtype
            structure.labels[name] = text
        elif kind == "SQ" and question is not None:
            subquestions.append(name)
            structure.labels[f"{question}[{name}]"] = f"{structure.labels[question]} [{text}]"
        elif kind == "A" and question is not None:
            answers[name] = text
    close()
    return structure


def is_limesurvey_table(columns: list[str]) -> bool:
    """True when the columns carry LimeSurvey's system columns or ``Q[SQ]`` codes."""
    names = set(columns)
    return {"submitdate", "lastpage"} <= names or (
        "id" in names and any(_CODE.match(c) for c in columns) and "startlanguage" in names
    )


def read_limesurvey(
    path: str | Path,
    structure: str | Path | LimeSurveyStructure | None = None,
    records: RawRecords | None = None,
) -> PlatformExport:
    """Read a LimeSurvey response export (question-code headings), optionally with structure.

    Parameters
    ----------
    path : str or Path
        The response export (CSV/TSV/XLSX).
    structure : str, Path or LimeSurveyStructure, optional
        The survey-structure export (.txt) for labels and text-entry types.
    records : RawRecords, optional
        Already-read records.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "r.csv")
    >>> _ = open(p, "w").write("id,submitdate,lastpage,ipaddr,Q1[SQ001]\\n1,,1,10.0.0.1,A2\\n")
    >>> e = read_limesurvey(p)
    >>> list(e.data.columns), bool(e.meta["finished"][0])
    (['id', 'Q1[SQ001]'], False)
    """
    records = records if records is not None else read_records(path)
    file = records.file
    body = split_header(records, 1)
    table = body.table
    columns = list(table.columns)
    if "id" not in columns or not is_limesurvey_table(columns):
        raise IngestError(
            file,
            1,
            None,
            "not a LimeSurvey response export: needs id, submitdate and lastpage "
            "columns with question-code headings (is it another platform's file?)",
        )
    if isinstance(structure, str | Path):
        structure = read_limesurvey_structure(structure)
    meta_columns = [c for c in columns if c in SYSTEM_COLUMNS or _TIMING.search(c)]
    personal = {c: PERSONAL_COLUMNS[c] for c in columns if c in PERSONAL_COLUMNS}
    personal.update(
        {c: "LimeSurvey participant attribute" for c in columns if c.startswith("attribute_")}
    )
    text_columns = [c for c in columns if c.endswith(("[other]", "comment]", "[comment]"))]
    labels: dict[str, str] = {}
    value_labels: dict[str, dict[str, str]] = {}
    if structure is not None:
        text_columns += [c for c in structure.text_columns if c in columns]
        labels, value_labels = structure.labels, structure.value_labels
    index = pd.RangeIndex(len(table))
    submit = table.get("submitdate")
    finished = (
        submit.notna().astype("boolean")
        if submit is not None
        else as_bool(table.get("completed"), index)
    )
    flags = {
        "finished": finished,
        "duration_seconds": as_number(table.get("interviewtime"), index),
        "submitted_at": as_text(submit, index),
    }
    return build_file_export(
        records,
        body,
        table=table,
        platform="limesurvey",
        response_id_column="id",
        meta_columns=meta_columns,
        flags=flags,
        personal=personal,
        text_columns=text_columns,
        labels=labels,
        value_labels=value_labels,
        notes=records.notes,
    )
