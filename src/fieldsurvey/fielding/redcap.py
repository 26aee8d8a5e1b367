"""REDCap data dictionary (CSV) and a reader for REDCap dictionaries.

The dictionary has REDCap's 18 columns in REDCap's order. ``record_id`` comes first; each
instrument is a form named after the sanitized instrument id, opening with descriptive fields for
its recall period and licence notice. Likert items are radio fields (``1, Label | 2, Label``)
grouped into matrices, one matrix group per run of items that share a response scale. Yes/no items
use REDCap's ``yesno`` type (1 = Yes, 0 = No); numbers are text fields validated as integer or
number with min/max; sensitive items are flagged as identifiers so REDCap can strip them from
de-identified exports. REDCap stores one language per dictionary: the plan's first language is
used (translations go through REDCap's Multi-Language Management).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from fieldsurvey.fielding.notices import FieldingError
from fieldsurvey.fielding.plan import FormPlan, Question, fmt_number

# REDCap warns about variable names over 26 characters; descriptive fields are named
# "<instrument, cut to 18>_licence" / "_recall" to stay within that.
PREFIX = 18
MAX_NAME = 26

REDCAP_COLUMNS: tuple[str, ...] = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)

# The API/metadata export names the same columns in snake_case (REDCap's own mapping).
API_COLUMNS: dict[str, str] = {
    "field_name": "Variable / Field Name",
    "form_name": "Form Name",
    "section_header": "Section Header",
    "field_type": "Field Type",
    "field_label": "Field Label",
    "select_choices_or_calculations": "Choices, Calculations, OR Slider Labels",
    "field_note": "Field Note",
    "text_validation_type_or_show_slider_number": "Text Validation Type OR Show Slider Number",
    "text_validation_min": "Text Validation Min",
    "text_validation_max": "Text Validation Max",
    "identifier": "Identifier?",
    "branching_logic": "Branching Logic (Show field only if...)",
    "required_field": "Required Field?",
    "custom_alignment": "Custom Alignment",
    "question_number": "Question Number (surveys only)",
    "matrix_group_name": "Matrix Group Name",
    "matrix_ranking": "Matrix Ranking?",
    "field_annotation": "Field Annotation",
}


def write_redcap_dictionary(plan: FormPlan, out: Path) -> Path:
    """Write the plan as a REDCap data dictionary CSV at ``out`` and return the path.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> from fieldsurvey.fielding.plan import build_plan
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "dictionary.csv"
    >>> write_redcap_dictionary(build_plan([resolve_instrument("workforce-context")]), out).name
    'dictionary.csv'
    """
    lang = plan.default_language
    rows: list[dict[str, str]] = []
    first_form = plan.sections[0].name
    rows.append(_row("record_id", first_form, "text", "Record ID"))
    rows.append(_row("consent_info", first_form, "descriptive", plan.consent, header="Consent"))
    for section in plan.sections:
        header = section.title
        if section.recall:
            rows.append(
                _row(
                    f"{section.name[:PREFIX]}_recall",
                    section.name,
                    "descriptive",
                    section.recall,
                    header=header,
                )
            )
            header = ""
        rows.append(
            _row(
                f"{section.name[:PREFIX]}_licence",
                section.name,
                "descriptive",
                section.notice,
                header=header,
            )
        )
        for block in section.blocks:
            for q in block.questions:
                rows.append(
                    _question_row(q, section.name, lang, block.name if block.matrix else "")
                )
    _check_names(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=REDCAP_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out


def _check_names(rows: list[dict[str, str]]) -> None:
    seen: set[str] = set()
    for row in rows:
        name = row["Variable / Field Name"]
        if name in seen:
            raise FieldingError(f"REDCap: two fields would be named {name!r}; rename an item")
        if len(name) > MAX_NAME:
            raise FieldingError(
                f"REDCap: field name {name!r} is longer than {MAX_NAME} characters; use a "
                "shorter item id"
            )
        seen.add(name)


def _row(name: str, form: str, ftype: str, label: str, header: str = "") -> dict[str, str]:
    row = dict.fromkeys(REDCAP_COLUMNS, "")
    row.update(
        {
            "Variable / Field Name": name,
            "Form Name": form,
            "Section Header": header,
            "Field Type": ftype,
            "Field Label": label,
        }
    )
    return row


def _question_row(q: Question, form: str, lang: str, matrix: str) -> dict[str, str]:
    if q.scale_type == "yesno" and sorted(c for c, _ in q.choices) == [0, 1]:
        row = _row(q.id, form, "yesno", q.text[lang])
    elif q.kind == "choice":
        row = _row(q.id, form, "radio", q.text[lang])
        row["Choices, Calculations, OR Slider Labels"] = format_choices(q.choices)
    elif q.kind in ("integer", "decimal"):
        row = _row(q.id, form, "text", q.text[lang])
        row["Text Validation Type OR Show Slider Number"] = (
            "integer" if q.kind == "integer" else "number"
        )
        row["Text Validation Min"] = fmt_number(q.min)
        row["Text Validation Max"] = fmt_number(q.max)
    else:
        row = _row(q.id, form, "notes", q.text[lang])
    row["Field Note"] = q.hint
    row["Identifier?"] = "y" if q.sensitive else ""
    row["Required Field?"] = "y" if q.required else ""
    row["Matrix Group Name"] = matrix
    row["Field Annotation"] = f"fieldsurvey response_scale={q.response_scale}" + (
        " reverse-keyed" if q.reverse else ""
    )
    return row


def format_choices(choices: tuple[tuple[int, str], ...]) -> str:
    """REDCap's choice string, e.g. ``"1, Never | 2, Rarely"``.

    Examples
    --------
    >>> format_choices(((1, "Never"), (2, "Rarely")))
    '1, Never | 2, Rarely'
    """
    return " | ".join(f"{code}, {label}" for code, label in choices)


def parse_choices(text: str) -> dict[int | str, str]:
    """Parse REDCap's ``"1, Label | 2, Label"``; integer codes become ``int``.

    Examples
    --------
    >>> parse_choices("1, Never | 2, Rarely, sometimes")
    {1: 'Never', 2: 'Rarely, sometimes'}
    """
    out: dict[int | str, str] = {}
    for part in text.split("|"):
        if not part.strip():
            continue
        code, _, label = part.partition(",")
        code = code.strip()
        out[int(code) if code.lstrip("-").isdigit() else code] = label.strip()
    return out


def read_redcap_dictionary(path: str | Path) -> pd.DataFrame:
    """Read a REDCap data dictionary (UI export, 17 or 18 columns, or API metadata form).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    DataFrame
        One row per field: ``field_name``, ``form_name``, ``field_type``, ``label``, ``choices``
        (dict code -> label, empty for non-choice fields; ``yesno`` gets ``{1: "Yes", 0: "No"}``),
        ``validation``, ``min``, ``max``, ``identifier`` (bool), ``required`` (bool),
        ``matrix_group``, ``annotation``.

    Raises
    ------
    ValueError
        The file lacks the dictionary's required columns (named in the message).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> from fieldsurvey.fielding.plan import build_plan
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
    >>> _ = write_redcap_dictionary(build_plan([resolve_instrument("workforce-context")]), out)
    >>> read_redcap_dictionary(out).field_name.iloc[0]
    'record_id'
    """
    path = Path(path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    raw = raw.rename(columns=API_COLUMNS)
    needed = ["Variable / Field Name", "Form Name", "Field Type", "Field Label"]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise ValueError(f"{path.name}: not a REDCap data dictionary: no column(s) {missing}")

    def col(name: str) -> pd.Series:
        return raw[name] if name in raw.columns else pd.Series([""] * len(raw), index=raw.index)

    types = col("Field Type")
    choices = [
        {1: "Yes", 0: "No"}
        if ftype == "yesno"
        else {1: "True", 0: "False"}
        if ftype == "truefalse"
        else parse_choices(text)
        if ftype in ("radio", "dropdown", "checkbox")
        else {}
        for ftype, text in zip(types, col("Choices, Calculations, OR Slider Labels"), strict=True)
    ]
    return pd.DataFrame(
        {
            "field_name": col("Variable / Field Name"),
            "form_name": col("Form Name"),
            "field_type": types,
            "label": col("Field Label"),
            "choices": choices,
            "validation": col("Text Validation Type OR Show Slider Number"),
            "min": col("Text Validation Min"),
            "max": col("Text Validation Max"),
            "identifier": col("Identifier?").str.lower().eq("y"),
            "required": col("Required Field?").str.lower().eq("y"),
            "matrix_group": col("Matrix Group Name"),
            "annotation": col("Field Annotation"),
        }
    )
