"""XLSForm (.xlsx) for KoboToolbox, ODK and SurveyCTO.

Sheets ``survey``, ``choices`` and ``settings``. Field names are our item ids, so a platform
export maps back onto the instrument without a lookup table. Likert items are ``select_one``
questions with ``appearance: likert`` sharing one choice list per response scale
(``<instrument>_<scale>``); each instrument is a group that opens with its recall period and
licence notice; the form opens with a consent note. With several languages every label column is
``label::<Language> (<code>)``. Answer labels have no translations in instrument files, so the
other languages repeat the first language's answer labels until a translator edits them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from fieldsurvey.fielding.notices import language_label
from fieldsurvey.fielding.plan import FormPlan, Question, fmt_number, sanitize_name

SURVEY_HEADER_FIXED = ["type", "name"]
SURVEY_HEADER_TAIL = ["required", "constraint", "constraint_message", "appearance"]


def write_xlsform(plan: FormPlan, out: Path) -> Path:
    """Write the plan as an XLSForm workbook at ``out`` and return the path.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> from fieldsurvey.fielding.plan import build_plan
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "form.xlsx"
    >>> write_xlsform(build_plan([resolve_instrument("workforce-context")]), out).name
    'form.xlsx'
    """
    label_cols = _label_columns(plan, "label")
    hint_cols = _label_columns(plan, "hint")
    survey_header = SURVEY_HEADER_FIXED + label_cols + hint_cols + SURVEY_HEADER_TAIL
    survey: list[dict[str, str]] = []
    choices: list[dict[str, str]] = []

    def texts(prefix_cols: list[str], text: dict[str, str] | str) -> dict[str, str]:
        if isinstance(text, str):
            return dict.fromkeys(prefix_cols, text)
        return {col: text[lang] for col, lang in zip(prefix_cols, plan.languages, strict=True)}

    survey.append({"type": "note", "name": "consent_note", **texts(label_cols, plan.consent)})
    lists_done: set[str] = set()
    for section in plan.sections:
        survey.append(
            {"type": "begin_group", "name": section.name, **texts(label_cols, section.title)}
        )
        if section.recall:
            survey.append(
                {
                    "type": "note",
                    "name": f"{section.name}_recall",
                    **texts(label_cols, section.recall),
                }
            )
        survey.append(
            {"type": "note", "name": f"{section.name}_licence", **texts(label_cols, section.notice)}
        )
        for q in section.questions:
            row = {"name": q.id, **texts(label_cols, q.text)}
            if q.hint:
                row.update(texts(hint_cols, q.hint))
            row.update(_type_columns(q))
            if q.required:
                row["required"] = "yes"
            survey.append(row)
            if q.choice_list and q.choice_list not in lists_done:
                lists_done.add(q.choice_list)
                for code, label in q.choices:
                    choices.append(
                        {"list_name": q.choice_list, "name": str(code), **texts(label_cols, label)}
                    )
        survey.append({"type": "end_group", "name": section.name})

    settings = {
        "form_title": plan.title,
        "form_id": sanitize_name("_".join(s.name for s in plan.sections))[:60],
        # Derived from the form's content: the same form always gets the same version (exports
        # are reproducible) and any change gives a new one, as ODK servers require.
        "version": hashlib.sha256(
            json.dumps([survey, choices, plan.title], sort_keys=True, default=str).encode()
        ).hexdigest()[:12],
    }
    if len(plan.languages) > 1:
        settings["default_language"] = language_label(plan.default_language)

    wb = Workbook()
    _fill(wb.active, "survey", survey_header, survey)
    _fill(wb.create_sheet(), "choices", ["list_name", "name", *label_cols], choices)
    _fill(wb.create_sheet(), "settings", list(settings), [settings])
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def _label_columns(plan: FormPlan, column: str) -> list[str]:
    if len(plan.languages) == 1:
        return [column]
    return [f"{column}::{language_label(lang)}" for lang in plan.languages]


def _type_columns(q: Question) -> dict[str, str]:
    if q.kind == "choice":
        cols = {"type": f"select_one {q.choice_list}"}
        if q.likert:
            cols["appearance"] = "likert"
        return cols
    if q.kind in ("integer", "decimal"):
        cols = {"type": q.kind}
        bounds = []
        if q.min is not None:
            bounds.append(f". >= {fmt_number(q.min)}")
        if q.max is not None:
            bounds.append(f". <= {fmt_number(q.max)}")
        if bounds:
            cols["constraint"] = " and ".join(bounds)
            cols["constraint_message"] = _range_message(q)
        return cols
    return {"type": "text"}


def _range_message(q: Question) -> str:
    if q.min is not None and q.max is not None:
        return f"Enter a number from {fmt_number(q.min)} to {fmt_number(q.max)}."
    if q.min is not None:
        return f"Enter a number of at least {fmt_number(q.min)}."
    return f"Enter a number of at most {fmt_number(q.max)}."


def _fill(ws: Worksheet, title: str, header: list[str], rows: list[dict[str, str]]) -> None:
    ws.title = title
    ws.append(header)
    for row in rows:
        ws.append([row.get(col) for col in header])
