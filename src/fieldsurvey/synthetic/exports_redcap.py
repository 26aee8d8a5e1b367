"""REDCap record exports (and a data dictionary) of a project built from our dictionary.

* ``raw`` (``REDCapR_checkboxes-1_data.csv``): ``record_id``, each form's fields (named by item
  id) followed by ``<form>_complete`` (2 = Complete); codes as stored. A select-multiple would
  be ``field___code`` columns; our instruments have none.
* ``survey`` (``REDCapR_survey-data.csv``): raw, plus ``redcap_survey_identifier`` after the
  record id and a quoted ``<form>_timestamp`` before each form's fields, as REDCap writes when
  survey fields are exported.
* ``labels`` ("CSV (labels)"): headers are field labels (``Record ID``, ``Complete?`` for each
  form's status), values are choice labels (``Complete``). Reading it back needs the dictionary.

Forms are named after the sanitized instrument id, as :mod:`fieldsurvey.fielding.redcap` names
them. :func:`write_redcap_dictionary_for` writes the matching dictionary: fielding's own when the
instruments can be fielded (wording attached), otherwise the same layout with each item's short
label as its field label (licensed wording is never written).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from fieldsurvey.fielding import FieldingError, build_plan
from fieldsurvey.fielding.redcap import REDCAP_COLUMNS, format_choices, write_redcap_dictionary
from fieldsurvey.instrument import Instrument
from fieldsurvey.synthetic.platform_exports import (
    ExportItem,
    answer_code,
    answer_label,
    check_layout,
    delimited_text,
    export_items,
    start_export,
    write_text,
)

COMPLETE_LABELS = {"0": "Incomplete", "1": "Unverified", "2": "Complete"}


def redcap_field_labels(dictionary: Path | None, items: list[ExportItem]) -> dict[str, str]:
    """Field name -> field label: from a dictionary file when given, else our label rule."""
    if dictionary is None:
        return {i.item_id: i.label for i in items}
    frame = pd.read_csv(dictionary, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    name_col = "Variable / Field Name" if "Variable / Field Name" in frame else "field_name"
    label_col = "Field Label" if "Field Label" in frame else "field_label"
    return dict(zip(frame[name_col], frame[label_col], strict=True))


def write_redcap_export(
    responses: pd.DataFrame,
    instruments: list[Instrument],
    path: Path,
    *,
    layout: str = "default",
    seed: int = 0,
    include_personal: bool = True,
    dictionary: Path | None = None,
) -> Path:
    """Write a REDCap record export (``default``/``raw``, ``survey`` or ``labels``).

    Parameters
    ----------
    responses, instruments, seed, include_personal
        As :func:`fieldsurvey.synthetic.platform_exports.write_platform_export`.
    layout : {"default", "raw", "survey", "labels"}
    dictionary : Path, optional
        The project's data dictionary; the ``labels`` layout takes its headers from it
        (default: the labels :func:`write_redcap_dictionary_for` would write).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fieldsurvey.synthetic import generate_coalition
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> answers = generate_coalition(n_orgs=2, seed=1).responses
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> p = write_redcap_export(answers, [resolve_instrument("proqol5")], out, layout="labels")
    >>> p.read_text().splitlines()[0][:30]
    'Record ID,ProQOL item 1 (BO),P'
    """
    check_layout("redcap", layout)
    rng, items, answers, fake = start_export(responses, instruments, seed)
    labels = layout == "labels"
    field_labels = redcap_field_labels(dictionary, items) if labels else {}
    header = ["Record ID" if labels else "record_id"]
    if layout == "survey":
        header.append("redcap_survey_identifier")
    forms: list[tuple[str, list[int]]] = []
    for position, item in enumerate(items):
        if not forms or forms[-1][0] != item.section:
            forms.append((item.section, []))
        forms[-1][1].append(position)
    for form, positions in forms:
        if layout == "survey":
            header.append(f"{form}_timestamp")
        header += [
            field_labels.get(items[p].item_id, items[p].item_id) if labels else items[p].item_id
            for p in positions
        ]
        header.append("Complete?" if labels else f"{form}_complete")
    rows: list[list[str]] = [header]
    for r, answer_row in enumerate(answers.itertuples(index=False)):
        row = [str(r + 1)]
        if layout == "survey":
            row.append(fake.email[r] if include_personal else "")
        for _form, positions in forms:
            if layout == "survey":
                row.append(fake.end[r].strftime("%Y-%m-%d %H:%M:%S"))
            for p in positions:
                value = answer_row[p]
                row.append(answer_label(value, items[p]) if labels else answer_code(value))
            row.append(COMPLETE_LABELS["2"] if labels else "2")
        rows.append(row)
    text = delimited_text(rows)
    if layout == "survey":
        text = _quote_timestamps(text, header)
    return write_text(path, text, "utf-8")


def _quote_timestamps(text: str, header: list[str]) -> str:
    """REDCap quotes survey timestamps (and only them) in a raw export."""
    stamp = {i for i, name in enumerate(header) if name.endswith("_timestamp")}
    rows = list(csv.reader(text.splitlines()))
    lines = [",".join(rows[0])]
    for row in rows[1:]:
        cells = [f'"{c}"' if i in stamp and c else _minimal(c) for i, c in enumerate(row)]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def _minimal(cell: str) -> str:
    return f'"{cell.replace(chr(34), chr(34) * 2)}"' if any(c in cell for c in ',"\n') else cell


def write_redcap_dictionary_for(instruments: list[Instrument], path: Path) -> Path:
    """Write the REDCap data dictionary the exports of this module belong to.

    Uses :func:`fieldsurvey.fielding.redcap.write_redcap_dictionary` when the instruments can be
    fielded; when a licensed instrument's wording is not attached, writes the same layout with
    the item's short label (or id) as field label.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "dictionary.csv"
    >>> p = write_redcap_dictionary_for([resolve_instrument("proqol5")], out)
    >>> p.read_text().splitlines()[1][:40]
    'record_id,proqol5,,text,Record ID,,,,,,,'
    """
    try:
        return write_redcap_dictionary(build_plan(instruments), Path(path))
    except FieldingError:
        pass  # wording not attached: write the dictionary with labels instead
    frame = pd.DataFrame(columns=[i for inst in instruments for i in inst.item_ids])
    items = export_items(frame, instruments)
    rows = [_dict_row("record_id", items[0].section, "text", "Record ID")]
    for item in items:
        choices = item.choices
        if item.scale.type == "yesno" and sorted(choices) == [0, 1]:
            row = _dict_row(item.item_id, item.section, "yesno", item.label)
        elif item.kind == "choice":
            row = _dict_row(item.item_id, item.section, "radio", item.label)
            row["Choices, Calculations, OR Slider Labels"] = format_choices(tuple(choices.items()))
        elif item.kind == "number":
            row = _dict_row(item.item_id, item.section, "text", item.label)
            whole = all(
                v is None or float(v).is_integer() for v in (item.scale.min, item.scale.max)
            )
            row["Text Validation Type OR Show Slider Number"] = "integer" if whole else "number"
            row["Text Validation Min"] = answer_code(item.scale.min)
            row["Text Validation Max"] = answer_code(item.scale.max)
        else:
            row = _dict_row(item.item_id, item.section, "notes", item.label)
        row["Matrix Group Name"] = item.block if item.matrix else ""
        rows.append(row)
    text = delimited_text([list(REDCAP_COLUMNS)] + [[r[c] for c in REDCAP_COLUMNS] for r in rows])
    return write_text(Path(path), text, "utf-8")


def _dict_row(name: str, form: str, ftype: str, label: str) -> dict[str, str]:
    row = dict.fromkeys(REDCAP_COLUMNS, "")
    row.update(
        {
            "Variable / Field Name": name,
            "Form Name": form,
            "Field Type": ftype,
            "Field Label": label,
        }
    )
    return row
