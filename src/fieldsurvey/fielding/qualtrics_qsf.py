"""Qualtrics survey file (.qsf) and a reader that parses one back into items and codes.

A QSF is JSON with ``SurveyEntry`` (the survey's header) and ``SurveyElements``: one ``BL``
element listing the blocks (a consent block, then one block per instrument), the survey flow
(``FL``), options (``SO``), the question count (``QC``) and one ``SQ`` element per question.
Likert runs are Matrix/Likert/SingleAnswer questions whose statements carry our item ids as
``ChoiceDataExportTags`` and whose ``RecodeValues`` are our codes; other coded items are
multiple-choice single-answer (MC/SAVR) questions with ``DataExportTag`` = item id; numbers are
text entry with numeric validation; each block opens with a descriptive text (DB/TB) holding the
recall period and licence notice. Further languages go in each question's ``Language`` map.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path
from typing import Any

from fieldsurvey.fielding.plan import Block, FieldedItem, FormPlan, Question, Section


def write_qsf(plan: FormPlan, out: Path) -> Path:
    """Write the plan as a Qualtrics .qsf file at ``out`` and return the path.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> from fieldsurvey.fielding.plan import build_plan
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "form.qsf"
    >>> write_qsf(build_plan([resolve_instrument("workforce-context")]), out).suffix
    '.qsf'
    """
    survey_id = "SV_" + _digest(plan.title, 15)
    questions: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []

    def add(payload: dict[str, Any]) -> str:
        qid = f"QID{len(questions) + 1}"
        payload["QuestionID"] = qid
        questions.append(payload)
        return qid

    consent = _html(plan.consent)
    consent_qid = add(_descriptive(plan, "consent_info", dict.fromkeys(plan.languages, consent)))
    blocks.append(_block("Default", "Consent", survey_id, [consent_qid]))
    for section in plan.sections:
        qids = [add(_descriptive(plan, f"{section.name}_licence", _intro(plan, section)))]
        for block in section.blocks:
            if block.matrix:
                qids.append(add(_matrix(plan, block)))
            else:
                qids.append(add(_single(plan, block.questions[0])))
        blocks.append(_block("Standard", section.title, survey_id, qids, section.name))

    elements: list[dict[str, Any]] = [
        _element(survey_id, "BL", "Survey Blocks", None, blocks),
        _element(
            survey_id,
            "FL",
            "Survey Flow",
            None,
            {
                "Type": "Root",
                "FlowID": "FL_1",
                "Flow": [
                    {
                        "Type": "Block" if b["Type"] == "Default" else "Standard",
                        "ID": b["ID"],
                        "FlowID": f"FL_{i + 2}",
                    }
                    for i, b in enumerate(blocks)
                ],
                "Properties": {"Count": len(blocks) + 1},
            },
        ),
        _element(
            survey_id,
            "SO",
            "Survey Options",
            None,
            {
                "BackButton": "true",
                "SaveAndContinue": "true",
                "SurveyProtection": "PublicSurvey",
                "SurveyExpiration": "None",
                "SurveyTermination": "DefaultMessage",
                "ProgressBarDisplay": "None",
                "PartialData": "+1 week",
            },
        ),
        _element(survey_id, "QC", "Survey Question Count", str(len(questions)), None),
    ]
    for payload in questions:
        elements.append(
            _element(survey_id, "SQ", payload["QuestionID"], payload["DataExportTag"], payload)
        )
    qsf = {
        "SurveyEntry": {
            "SurveyID": survey_id,
            "SurveyName": plan.title,
            "SurveyDescription": None,
            "SurveyLanguage": plan.default_language.upper(),
            "SurveyStatus": "Inactive",
            "SurveyStartDate": "0000-00-00 00:00:00",
            "SurveyExpirationDate": "0000-00-00 00:00:00",
            "Deleted": None,
        },
        "SurveyElements": elements,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(qsf, indent=2, ensure_ascii=False), encoding="utf-8")
    return out


def read_qsf(path: str | Path) -> list[FieldedItem]:
    """Parse a .qsf back into answerable items: (item id, codes, answer labels).

    Matrix statements give one item each, named by ``ChoiceDataExportTags`` (or
    ``<DataExportTag>_<statement id>`` when the survey has none); codes are the ``RecodeValues``
    (or the choice ids when absent). Text-entry questions have no codes; descriptive text is
    skipped.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> from fieldsurvey.fielding.plan import build_plan
    >>> import tempfile, pathlib
    >>> out = write_qsf(build_plan([resolve_instrument("workforce-context")]),
    ...                 pathlib.Path(tempfile.mkdtemp()) / "f.qsf")
    >>> read_qsf(out)[1][:2]
    ('wf_role', (1, 2, 3, 4, 5, 6))
    """
    path = Path(path)
    try:
        qsf = json.loads(Path(path).read_text(encoding="utf-8"))
        elements = qsf["SurveyElements"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path.name}: not a Qualtrics .qsf file: {exc}") from exc
    items: list[FieldedItem] = []
    for el in elements:
        if el.get("Element") != "SQ":
            continue
        q = el["Payload"]
        qtype = q.get("QuestionType")
        recode = q.get("RecodeValues") or {}
        if qtype == "MC":
            order = [str(c) for c in q.get("ChoiceOrder") or q["Choices"]]
            items.append(
                FieldedItem(
                    q["DataExportTag"],
                    tuple(int(recode.get(c, c)) for c in order),
                    tuple(_plain(q["Choices"][c]["Display"]) for c in order),
                )
            )
        elif qtype == "Matrix":
            answers = [str(a) for a in q.get("AnswerOrder") or q["Answers"]]
            codes = tuple(int(recode.get(a, a)) for a in answers)
            labels = tuple(_plain(q["Answers"][a]["Display"]) for a in answers)
            tags = q.get("ChoiceDataExportTags") or {}
            for c in [str(c) for c in q.get("ChoiceOrder") or q["Choices"]]:
                items.append(FieldedItem(tags.get(c) or f"{q['DataExportTag']}_{c}", codes, labels))
        elif qtype == "TE":
            items.append(FieldedItem(q["DataExportTag"], (), ()))
    return items


def _digest(text: str, n: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def _element(sid: str, kind: str, primary: str, secondary: str | None, payload: Any) -> dict:
    return {
        "SurveyID": sid,
        "Element": kind,
        "PrimaryAttribute": primary,
        "SecondaryAttribute": secondary,
        "TertiaryAttribute": None,
        "Payload": payload,
    }


def _block(kind: str, title: str, sid: str, qids: list[str], key: str = "consent") -> dict:
    return {
        "Type": kind,
        "Description": title,
        "ID": "BL_" + _digest(sid + key, 15),
        "BlockElements": [{"Type": "Question", "QuestionID": q} for q in qids],
    }


def _html(text: str) -> str:
    return html.escape(text, quote=False)


def _plain(text: str) -> str:
    return html.unescape(text)


def _intro(plan: FormPlan, section: Section) -> dict[str, str]:
    parts = [f"<strong>{_html(section.title)}</strong>"]
    if section.recall:
        parts.append(_html(section.recall))
    parts.append(f"<small>{_html(section.notice)}</small>")
    text = "<br><br>".join(parts)
    return dict.fromkeys(plan.languages, text)


def _base(tag: str, text: str, qtype: str, selector: str, required: bool = False) -> dict:
    return {
        "QuestionText": text,
        "DataExportTag": tag,
        "QuestionType": qtype,
        "Selector": selector,
        "Configuration": {"QuestionDescriptionOption": "UseText"},
        "QuestionDescription": _plain(text)[:100],
        "Validation": {
            "Settings": {
                "ForceResponse": "ON" if required else "OFF",
                "ForceResponseType": "ON",
                "Type": "None",
            }
        },
        "Language": {},
        "DataVisibility": {"Private": False, "Hidden": False},
    }


def _descriptive(plan: FormPlan, tag: str, text: dict[str, str]) -> dict:
    """A text-only question; ``text`` is HTML already, per language."""
    q = _base(tag, text[plan.default_language], "DB", "TB")
    q["Language"] = {lang.upper(): {"QuestionText": text[lang]} for lang in plan.languages[1:]}
    return q


def _choice_map(choices: tuple[tuple[int, str], ...]) -> tuple[dict, list[str], dict]:
    ids = [str(i + 1) for i in range(len(choices))]
    shown = {cid: {"Display": _html(label)} for cid, (_, label) in zip(ids, choices, strict=True)}
    recode = {cid: str(code) for cid, (code, _) in zip(ids, choices, strict=True)}
    return shown, ids, recode


def _single(plan: FormPlan, q: Question) -> dict:
    lang = plan.default_language
    if q.kind == "choice":
        payload = _base(q.id, _html(q.text[lang]), "MC", "SAVR", q.required)
        payload["SubSelector"] = "TX"
        shown, ids, recode = _choice_map(q.choices)
        payload.update(
            Choices=shown,
            ChoiceOrder=ids,
            RecodeValues=recode,
            NextChoiceId=len(ids) + 1,
            NextAnswerId=1,
        )
    else:
        payload = _base(
            q.id, _html(q.text[lang]), "TE", "SL" if q.kind != "text" else "ML", q.required
        )
        if q.kind in ("integer", "decimal"):
            payload["Validation"]["Settings"].update(
                {
                    "Type": "ContentType",
                    "ContentType": "ValidNumber",
                    "ValidDateType": "DateWithFormat",
                    "ValidNumber": {
                        "Min": "" if q.min is None else str(q.min),
                        "Max": "" if q.max is None else str(q.max),
                        "NumDecimals": "0" if q.kind == "integer" else "",
                    },
                }
            )
    payload["Language"] = {
        other.upper(): {"QuestionText": _html(q.text[other])} for other in plan.languages[1:]
    }
    return payload


def _matrix(plan: FormPlan, block: Block) -> dict:
    lang = plan.default_language
    first = block.questions[0]
    stem = first.text.get(lang, "") if len(block.questions) == 1 else ""
    payload = _base(
        block.name,
        _html(stem) or "Please choose one answer for each statement.",
        "Matrix",
        "Likert",
        all(q.required for q in block.questions),
    )
    payload["SubSelector"] = "SingleAnswer"
    payload["Configuration"].update(
        {
            "TextPosition": "inline",
            "ChoiceColumnWidth": 40,
            "RepeatHeaders": "none",
            "MobileFirst": True,
        }
    )
    rows = [str(i + 1) for i in range(len(block.questions))]
    answers, answer_ids, recode = _choice_map(first.choices)
    payload.update(
        Choices={
            r: {"Display": _html(q.text[lang])} for r, q in zip(rows, block.questions, strict=True)
        },
        ChoiceOrder=rows,
        Answers=answers,
        AnswerOrder=answer_ids,
        RecodeValues=recode,
        ChoiceDataExportTags={r: q.id for r, q in zip(rows, block.questions, strict=True)},
        NextChoiceId=len(rows) + 1,
        NextAnswerId=len(answer_ids) + 1,
    )
    payload["Language"] = {
        other.upper(): {
            "QuestionText": payload["QuestionText"],
            "Choices": {
                r: {"Display": _html(q.text[other])}
                for r, q in zip(rows, block.questions, strict=True)
            },
            "Answers": answers,
        }
        for other in plan.languages[1:]
    }
    return payload
