"""LimeSurvey tab-separated survey structure (.txt) and a reader for it.

LimeSurvey imports a survey from a tab-separated file with one row per survey setting (class
``S``), language setting (``SL``), question group (``G``), question (``Q``), subquestion (``SQ``)
and answer option (``A``); each text row is repeated once per language. Each instrument is a
group whose description holds the recall period and licence notice; Likert runs are array
questions (type ``F``) whose subquestions are the items and whose answer options are our codes;
other coded items are list questions (``L``); numbers are ``N`` with min/max; text is ``T``; the
consent is a text display question (``X``).

LimeSurvey codes may hold only letters and digits, so item ids lose their underscores
(``sc_pay1`` -> ``scpay1``): :func:`limesurvey_code` gives the code and
:func:`limesurvey_item_map` the code -> item id map that ingest uses to name columns back.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from fieldsurvey.fielding.notices import FieldingError
from fieldsurvey.fielding.plan import FieldedItem, FormPlan, Question, fmt_number

# The columns LimeSurvey's importer needs here; it reads columns by name, so the many question
# attribute columns a full export carries can be left out.
LIMESURVEY_COLUMNS: tuple[str, ...] = (
    "id",
    "related_id",
    "class",
    "type/scale",
    "name",
    "relevance",
    "text",
    "help",
    "language",
    "validation",
    "mandatory",
    "other",
    "default",
    "same_default",
    "min_num_value_n",
    "max_num_value_n",
    "num_value_int_only",
)

MAX_CODE_LENGTH = 20


def limesurvey_code(name: str) -> str:
    """The LimeSurvey code for an item or block name: letters and digits only.

    Examples
    --------
    >>> limesurvey_code("sc_pay1")
    'scpay1'
    """
    return re.sub(r"[^A-Za-z0-9]", "", name)


def block_codes(plan: FormPlan) -> dict[str, str]:
    """LimeSurvey question codes of the array (Likert) blocks: block name -> code.

    Codes are at most 20 characters, so a block is named by its instrument (cut to 15
    characters), ``L`` and its number within the instrument: ``proqol5L1``.
    """
    codes = {}
    for section in plan.sections:
        matrices = [b for b in section.blocks if b.matrix]
        for n, block in enumerate(matrices, start=1):
            codes[block.name] = f"{limesurvey_code(section.name)[:15]}L{n}"
    return codes


def limesurvey_item_map(plan: FormPlan) -> dict[str, str]:
    """Map each LimeSurvey code (question or subquestion) of the plan's items to the item id."""
    return {limesurvey_code(q.id): q.id for q in plan.questions}


def write_limesurvey(plan: FormPlan, out: Path) -> Path:
    """Write the plan as a LimeSurvey tab-separated survey structure at ``out``.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> from fieldsurvey.fielding.plan import build_plan
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "survey.txt"
    >>> write_limesurvey(build_plan([resolve_instrument("workforce-context")]), out).name
    'survey.txt'
    """
    _check_codes(plan)
    array_code = block_codes(plan)
    langs = plan.languages
    rows: list[dict[str, str]] = []
    next_id = iter(range(1, 1_000_000))

    def text_rows(base: dict[str, str], texts: dict[str, str]) -> None:
        for lang in langs:
            rows.append({**base, "text": _clean(texts[lang]), "language": lang})

    settings = {
        "language": langs[0],
        "additional_languages": " ".join(langs[1:]),
        "format": "G",
        "anonymized": "Y",
        "datestamp": "N",
        "ipaddr": "N",
        "showwelcome": "Y",
        "allowprev": "Y",
    }
    for name, value in settings.items():
        rows.append({"class": "S", "name": name, "text": value})
    for lang in langs:
        for name, value in (
            ("surveyls_language", lang),
            ("surveyls_title", plan.title),
            ("surveyls_welcometext", plan.consent),
        ):
            rows.append({"class": "SL", "name": name, "text": _clean(value), "language": lang})

    consent_group = str(next(next_id))
    text_rows(
        {"id": consent_group, "class": "G", "type/scale": "0", "name": "Consent", "relevance": "1"},
        dict.fromkeys(langs, ""),
    )
    text_rows(
        {
            "id": str(next(next_id)),
            "class": "Q",
            "type/scale": "X",
            "name": "consent",
            "relevance": "1",
            "mandatory": "N",
            "other": "N",
            "same_default": "0",
        },
        dict.fromkeys(langs, plan.consent),
    )
    for section in plan.sections:
        intro = " ".join(filter(None, [section.recall, section.notice]))
        for lang in langs:
            rows.append(
                {
                    "id": str(next(next_id)),
                    "class": "G",
                    "type/scale": "0",
                    "name": _clean(section.title),
                    "relevance": "1",
                    "text": _clean(intro),
                    "language": lang,
                }
            )
        for block in section.blocks:
            if block.matrix:
                qid = str(next(next_id))
                stem = "Please choose one answer for each statement."
                required = all(q.required for q in block.questions)
                text_rows(
                    _question_base(qid, "F", array_code[block.name], required),
                    dict.fromkeys(langs, stem),
                )
                for q in block.questions:
                    text_rows(
                        {
                            "id": str(next(next_id)),
                            "related_id": qid,
                            "class": "SQ",
                            "type/scale": "0",
                            "name": limesurvey_code(q.id),
                            "relevance": "1",
                        },
                        q.text,
                    )
                _answer_rows(rows, qid, block.questions[0], langs)
            else:
                q = block.questions[0]
                qid = str(next(next_id))
                base = _question_base(qid, _type_of(q), limesurvey_code(q.id), q.required)
                if q.kind in ("integer", "decimal"):
                    base.update(
                        {
                            "min_num_value_n": fmt_number(q.min),
                            "max_num_value_n": fmt_number(q.max),
                            "num_value_int_only": "1" if q.kind == "integer" else "",
                        }
                    )
                if q.hint:
                    base["help"] = q.hint
                text_rows(base, q.text)
                if q.kind == "choice":
                    _answer_rows(rows, qid, q, langs)

    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(
            fh, fieldnames=LIMESURVEY_COLUMNS, delimiter="\t", lineterminator="\n", restval=""
        )
        writer.writeheader()
        writer.writerows(rows)
    return out


def read_limesurvey(path: str | Path) -> list[FieldedItem]:
    """Parse a LimeSurvey tab-separated structure into answerable items (base language only).

    Array subquestions are items named by their subquestion code; other questions by their
    question code; codes and labels are the answer options (empty for numeric and text).
    Text display questions (``X``) are skipped.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> from fieldsurvey.fielding.plan import build_plan
    >>> import tempfile, pathlib
    >>> out = write_limesurvey(build_plan([resolve_instrument("workforce-context")]),
    ...                        pathlib.Path(tempfile.mkdtemp()) / "s.txt")
    >>> read_limesurvey(out)[1].item_id
    'wfrole'
    """
    path = Path(path)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        records = list(csv.DictReader(fh, delimiter="\t"))
    if not records or "class" not in records[0]:
        raise ValueError(f"{path.name}: not a LimeSurvey tab-separated survey structure")
    base_lang = next(
        (r["text"] for r in records if r["class"] == "S" and r["name"] == "language"), None
    ) or next((r["language"] for r in records if r["class"] == "Q"), "")
    mine = [r for r in records if r["class"] in ("Q", "SQ", "A") and r["language"] == base_lang]
    questions: list[tuple[dict, list[dict], list[dict]]] = []
    for r in mine:
        if r["class"] == "Q":
            questions.append((r, [], []))
        elif not questions:
            raise ValueError(f"{path.name}: {r['class']} row {r['name']!r} before any question")
        else:
            questions[-1][1 if r["class"] == "SQ" else 2].append(r)
    items: list[FieldedItem] = []
    for q, subs, answers in questions:
        qtype = q["type/scale"]
        if qtype == "X":
            continue
        codes = tuple(int(a["name"]) for a in answers)
        labels = tuple(a["text"] for a in answers)
        if subs:
            items.extend(FieldedItem(s["name"], codes, labels) for s in subs)
        else:
            items.append(FieldedItem(q["name"], codes, labels))
    return items


def _question_base(qid: str, qtype: str, code: str, required: bool) -> dict[str, str]:
    return {
        "id": qid,
        "class": "Q",
        "type/scale": qtype,
        "name": code,
        "relevance": "1",
        "mandatory": "Y" if required else "N",
        "other": "N",
        "same_default": "0",
    }


def _type_of(q: Question) -> str:
    return {"choice": "L", "integer": "N", "decimal": "N", "text": "T"}[q.kind]


def _answer_rows(rows: list[dict[str, str]], qid: str, q: Question, langs: tuple[str, ...]) -> None:
    # Answer labels exist in one language only; other languages repeat them for translators.
    for code, label in q.choices:
        for lang in langs:
            rows.append(
                {
                    "id": qid,
                    "class": "A",
                    "type/scale": "0",
                    "name": str(code),
                    "text": _clean(label),
                    "language": lang,
                }
            )


def _check_codes(plan: FormPlan) -> None:
    pairs = [("consent", "consent")] + [(name, code) for name, code in block_codes(plan).items()]
    pairs += [(q.id, limesurvey_code(q.id)) for q in plan.questions]
    seen: dict[str, str] = {}
    for name, code in pairs:
        if len(code) > MAX_CODE_LENGTH:
            raise FieldingError(
                f"LimeSurvey: code {code!r} for {name!r} is longer than "
                f"{MAX_CODE_LENGTH} characters"
            )
        if code in seen and seen[code] != name:
            raise FieldingError(
                f"LimeSurvey: {seen[code]!r} and {name!r} both become code "
                f"{code!r} (LimeSurvey codes are letters and digits only)"
            )
        seen[code] = name


def _clean(text: str) -> str:
    # Tabs and line breaks would break the tab-separated rows.
    return " ".join(text.split())
