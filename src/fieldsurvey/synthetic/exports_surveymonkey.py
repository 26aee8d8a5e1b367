"""SurveyMonkey exports: the "all responses" CSV and API v3 JSON.

SurveyMonkey has no question codes. A Likert run is one matrix/rating question whose rows are the
items; other choice items are single-choice questions; numbers are single text boxes.

* CSV (condensed, actual answer text): row 1 holds ``Respondent ID``, ``Collector ID``,
  ``Start Date``, ``End Date``, ``IP Address``, ``Email Address``, ``First Name``,
  ``Last Name``, ``Custom Data 1`` and each question's heading once, above the first of its
  columns; row 2 holds ``Response``, ``Open-Ended Response`` or the matrix row's text. Dates are
  ``MM/DD/YYYY hh:mm:ss AM``. Fieldsurvey's reader names the columns by position (``Q1``,
  ``Q2_1``, ...); :func:`surveymonkey_csv_columns` gives that map for our items.
* API v3 (``surveymonkey_api_v3_responses_bulk.json`` and ``..._survey_details.json``): a
  ``/responses/bulk`` page (``data`` list, answers as ``choice_id`` plus ``row_id`` for matrix
  rows, ``text`` for text boxes, skipped questions left out) and the ``/surveys/{id}/details``
  definition mapping ids to texts. :func:`surveymonkey_api_item_map` maps the reader's columns
  back to items through the details, by question and row text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.instrument import Instrument
from fieldsurvey.synthetic.platform_exports import (
    MATRIX_STEM,
    ExportItem,
    answer_code,
    answer_label,
    delimited_text,
    start_export,
    write_text,
)

CSV_SYSTEM = (
    "Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address", "Email Address",
    "First Name", "Last Name", "Custom Data 1",
)  # fmt: skip
SURVEY_ID = "412345678"
API = "https://api.surveymonkey.com/v3"


def _questions(items: list[ExportItem]) -> list[list[ExportItem]]:
    """Items grouped into SurveyMonkey questions (a matrix, or one item)."""
    questions: list[list[ExportItem]] = []
    for item in items:
        if item.matrix and questions and questions[-1][0].block == item.block:
            questions[-1].append(item)
        else:
            questions.append([item])
    return questions


def _heading(question: list[ExportItem]) -> str:
    return MATRIX_STEM if question[0].matrix else question[0].label


def surveymonkey_csv_columns(items: list[ExportItem]) -> dict[str, str]:
    """Reader column (``Q<question>`` or ``Q<question>_<row>``) -> item id, for the CSV.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> from fieldsurvey.synthetic.platform_exports import export_items
    >>> inst = resolve_instrument("workforce-context")
    >>> surveymonkey_csv_columns(export_items(pd.DataFrame(columns=inst.item_ids), [inst]))["Q2"]
    'wf_role'
    """
    out = {}
    for n, question in enumerate(_questions(items), start=1):
        for k, item in enumerate(question, start=1):
            out[f"Q{n}" if len(question) == 1 else f"Q{n}_{k}"] = item.item_id
    return out


def write_surveymonkey_export(
    responses: pd.DataFrame,
    instruments: list[Instrument],
    path: Path,
    *,
    seed: int = 0,
    include_personal: bool = True,
) -> Path:
    """Write SurveyMonkey's CSV export (two header rows, actual answer text).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fieldsurvey.synthetic import generate_coalition
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> answers = generate_coalition(n_orgs=2, seed=1).responses
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "sm.csv"
    >>> p = write_surveymonkey_export(answers, [resolve_instrument("proqol5")], out)
    >>> p.read_text().splitlines()[1][:20]
    ',,,,,,,,,ProQOL item'
    """
    rng, items, answers, fake = start_export(responses, instruments, seed)
    first, second = list(CSV_SYSTEM), [""] * len(CSV_SYSTEM)
    for question in _questions(items):
        for k, item in enumerate(question):
            first.append(_heading(question) if k == 0 else "")
            if item.matrix:
                second.append(item.label)
            else:
                second.append("Response" if item.kind == "choice" else "Open-Ended Response")
    rows = [first, second]
    collector = str(int(rng.integers(400_000_000, 450_000_000)))
    respondent = int(rng.integers(114_000_000_000, 115_000_000_000))
    for r, answer_row in enumerate(answers.itertuples(index=False)):
        system = [
            str(respondent + 17 * r),
            collector,
            fake.start[r].strftime("%m/%d/%Y %I:%M:%S %p"),
            fake.end[r].strftime("%m/%d/%Y %I:%M:%S %p"),
            fake.ip[r] if include_personal else "",
            fake.email[r] if include_personal else "",
            fake.first_name[r] if include_personal else "",
            fake.last_name[r] if include_personal else "",
            fake.external_ref[r] if include_personal else "",
        ]
        rows.append(system + [answer_label(v, i) for v, i in zip(answer_row, items, strict=True)])
    return write_text(path, delimited_text(rows, line_terminator="\r\n"), "utf-8")


def _details(items: list[ExportItem], rng: np.random.Generator) -> tuple[dict, dict]:
    """The survey definition and, per item, (page id, question id, row id, {code: choice id})."""
    next_id = iter(range(int(rng.integers(700_000_000, 800_000_000)), 10**10, 7))
    choice_ids = iter(range(int(rng.integers(5_000_000_000, 5_100_000_000)), 10**11, 3))
    pages: list[dict[str, Any]] = []
    where: dict[str, tuple[str, str, str | None, dict[int, str]]] = {}
    page: dict[str, Any] = {}
    for question in _questions(items):
        section = question[0].section
        if not pages or pages[-1]["_section"] != section:
            page = {
                "_section": section,
                "title": section,
                "description": "",
                "position": len(pages) + 1,
                "id": str(next(next_id)),
                "questions": [],
            }
            pages.append(page)
        qid = str(next(next_id))
        first = question[0]
        body: dict[str, Any] = {
            "id": qid,
            "position": len(page["questions"]) + 1,
            "visible": True,
            "headings": [{"heading": _heading(question)}],
            "href": f"{API}/surveys/{SURVEY_ID}/pages/{page['id']}/questions/{qid}",
        }
        codes = {code: str(next(choice_ids)) for code in first.choices}
        choices = [
            {
                "position": p,
                "visible": True,
                "text": first.choices[code],
                "id": cid,
                "quiz_options": {"score": 0},
            }
            for p, (code, cid) in enumerate(codes.items(), start=1)
        ]
        if first.matrix:
            rows = [
                {"position": k, "visible": True, "text": it.label, "id": str(next(choice_ids))}
                for k, it in enumerate(question, start=1)
            ]
            body.update(
                family="matrix", subtype="rating", answers={"rows": rows, "choices": choices}
            )
            for it, row in zip(question, rows, strict=True):
                where[it.item_id] = (page["id"], qid, row["id"], codes)
        elif first.kind == "choice":
            body.update(family="single_choice", subtype="vertical", answers={"choices": choices})
            where[first.item_id] = (page["id"], qid, None, codes)
        else:
            body.update(family="open_ended", subtype="single")
            where[first.item_id] = (page["id"], qid, None, {})
        page["questions"].append(body)
    for p in pages:
        del p["_section"]
        p["question_count"] = len(p["questions"])
        p["href"] = f"{API}/surveys/{SURVEY_ID}/pages/{p['id']}"
    details = {
        "title": "Staff wellbeing and working conditions",
        "nickname": "",
        "language": "en",
        "question_count": sum(p["question_count"] for p in pages),
        "page_count": len(pages),
        "id": SURVEY_ID,
        "href": f"{API}/surveys/{SURVEY_ID}",
        "pages": pages,
    }
    return details, where


def write_surveymonkey_api(
    responses: pd.DataFrame,
    instruments: list[Instrument],
    path: Path,
    *,
    seed: int = 0,
    include_personal: bool = True,
) -> tuple[Path, Path]:
    """Write a ``/responses/bulk`` page at ``path`` and the survey details beside it.

    Returns
    -------
    (Path, Path)
        The responses JSON and ``<stem>_details.json``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fieldsurvey.synthetic import generate_coalition
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> answers = generate_coalition(n_orgs=2, seed=1).responses
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "bulk.json"
    >>> bulk, details = write_surveymonkey_api(answers, [resolve_instrument("proqol5")], out)
    >>> details.name
    'bulk_details.json'
    """
    rng, items, answers, fake = start_export(responses, instruments, seed)
    details, where = _details(items, rng)
    collector = str(int(rng.integers(400_000_000, 450_000_000)))
    first_id = int(rng.integers(13_000_000_000, 14_000_000_000))
    data = []
    for r, answer_row in enumerate(answers.itertuples(index=False)):
        pages: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for value, item in zip(answer_row, items, strict=True):
            code = answer_code(value)
            if code == "":
                continue  # SurveyMonkey leaves skipped questions out
            page_id, qid, row_id, codes = where[item.item_id]
            if codes:
                answer: dict[str, Any] = {"choice_id": codes[int(float(code))]}
                if row_id is not None:
                    answer["row_id"] = row_id
            else:
                answer = {"tag_data": [], "text": code}
            pages.setdefault(page_id, {}).setdefault(qid, []).append(answer)
        rid = str(first_id + 13 * r)
        data.append(
            {
                "id": rid,
                "recipient_id": "",
                "collection_mode": "default",
                "response_status": "completed",
                "custom_value": fake.external_ref[r] if include_personal else "",
                "first_name": fake.first_name[r] if include_personal else "",
                "last_name": fake.last_name[r] if include_personal else "",
                "email_address": fake.email[r] if include_personal else "",
                "ip_address": fake.ip[r] if include_personal else "",
                "logic_path": {},
                "metadata": {"contact": {}},
                "page_path": [],
                "collector_id": collector,
                "survey_id": SURVEY_ID,
                "custom_variables": {},
                "edit_url": f"https://www.surveymonkey.com/r/?sm={fake.token[r]}",
                "analyze_url": f"https://www.surveymonkey.com/analyze/browse/{fake.token[r]}"
                f"?respondent_id={rid}",
                "total_time": fake.duration[r],
                "date_modified": fake.end[r].strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                "date_created": fake.start[r].strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                "href": f"{API}/surveys/{SURVEY_ID}/responses/{rid}",
                "pages": [
                    {"id": pid, "questions": [{"id": q, "answers": a} for q, a in qs.items()]}
                    for pid, qs in pages.items()
                ],
            }
        )
    payload = {
        "data": data,
        "per_page": max(len(data), 1),
        "page": 1,
        "total": len(data),
        "links": {
            "self": f"{API}/surveys/{SURVEY_ID}/responses/bulk?page=1&per_page={max(len(data), 1)}"
        },
    }
    path = write_text(path, json.dumps(payload, indent=4, ensure_ascii=False) + "\n", "utf-8")
    details_path = path.with_name(f"{path.stem}_details.json")
    write_text(details_path, json.dumps(details, indent=4, ensure_ascii=False) + "\n", "utf-8")
    return path, details_path


def surveymonkey_api_item_map(
    details: dict | Path, instruments: list[Instrument]
) -> dict[str, str]:
    """Reader column (question id, or ``<question>_<row>``) -> item id, by question/row text.

    Question headings and matrix row texts are the items' short labels (or ids), so this is the
    mapping a user would make by reading the survey definition.
    """
    if not isinstance(details, dict):
        details = json.loads(Path(details).read_text(encoding="utf-8"))
    by_label = {(inst.item(i).label or i): i for inst in instruments for i in inst.item_ids}
    out: dict[str, str] = {}
    for page in details.get("pages", []):
        for question in page.get("questions", []):
            rows = (question.get("answers") or {}).get("rows") or []
            if rows:
                for row in rows:
                    if row["text"] in by_label:
                        out[f"{question['id']}_{row['id']}"] = by_label[row["text"]]
                continue
            heading = question["headings"][0]["heading"]
            if heading in by_label:
                out[str(question["id"])] = by_label[heading]
    return out
