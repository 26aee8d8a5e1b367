"""REDCap record exports (raw or labels) and data dictionaries.

* Raw export: header row of field names; checkbox answers as ``field___code`` (0/1) columns;
  one ``<form>_complete`` column per instrument (0 incomplete, 1 unverified, 2 complete);
  ``finished`` when every form the row holds is complete (longitudinal and repeating exports
  leave the status of forms a row has no part in empty). Events and repeat instances: see
  :mod:`fieldsurvey.ingest.rowkeys`.
* Labels export: header row of field labels (``Record ID``, ``Race (choice=White)``,
  ``Complete?``) and label values. With a dictionary the headers are mapped back to field
  names; without one they are kept as they are.
* Dictionary: the UI's 17/18-column form ("Variable / Field Name", ...) or the API's snake_case
  form (field_name, form_name, ..., select_choices_or_calculations). Both become the API names.

With a dictionary: ``labels`` come from Field Label, ``value_labels`` from the choices
("1, Label | 2, Label"; yesno/truefalse built in; checkbox columns 0/1 -> Unchecked/Checked),
fields marked ``Identifier? = y`` and fields validated as e-mail/phone/zipcode or of type
signature/file are dropped as personal data, and ``notes`` fields plus unvalidated ``text``
fields are free text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.export import PlatformExport, as_text, build_file_export
from fieldsurvey.ingest.files import RawRecords, read_records, split_header

DICTIONARY_COLUMNS = {
    "variable / field name": "field_name",
    "form name": "form_name",
    "section header": "section_header",
    "field type": "field_type",
    "field label": "field_label",
    "choices, calculations, or slider labels": "select_choices_or_calculations",
    "field note": "field_note",
    "text validation type or show slider number": "text_validation_type_or_show_slider_number",
    "text validation min": "text_validation_min",
    "text validation max": "text_validation_max",
    "identifier?": "identifier",
    "branching logic (show field only if...)": "branching_logic",
    "required field?": "required_field",
    "custom alignment": "custom_alignment",
    "question number (surveys only)": "question_number",
    "matrix group name": "matrix_group_name",
    "matrix ranking?": "matrix_ranking",
    "field annotation": "field_annotation",
}
REQUIRED_DICTIONARY = ("field_name", "form_name", "field_type", "field_label")
CHOICE_TYPES = {"radio", "dropdown", "checkbox"}
REDCAP_META = {
    "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
    "redcap_data_access_group", "redcap_survey_identifier", "redcap_arm",
}  # fmt: skip
PERSONAL_VALIDATION = {"email": "e-mail", "phone": "phone number", "zipcode": "postal code"}
PERSONAL_TYPES = {"signature": "signature image", "file": "uploaded file"}
_CHECKBOX = re.compile(r"^(?P<field>.+?)___(?P<code>[A-Za-z0-9_]+)$")
_LABEL_CHECKBOX = re.compile(r"^(?P<label>.*) \(choice=(?P<choice>.*)\)$", re.S)


def read_redcap_dictionary(path: str | Path) -> pd.DataFrame:
    """Read a REDCap data dictionary (UI or API form) with API column names.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> _ = open(p, "w").write('"Variable / Field Name","Form Name","Field Type","Field Label"\\n'
    ...                        'q1,f,radio,"Q one"\\n')
    >>> read_redcap_dictionary(p)[["field_name", "field_type"]].values.tolist()
    [['q1', 'radio']]
    """
    records = read_records(path)
    body = split_header(records, 1)
    if len(body.quarantine):
        first = body.quarantine.iloc[0]
        raise IngestError(
            records.file, int(first["row"]), None, f"dictionary row malformed: {first['reason']}"
        )
    names = {
        c: DICTIONARY_COLUMNS.get(c.strip().lower(), c.strip().lower()) for c in body.table.columns
    }
    frame = body.table.rename(columns=names)
    missing = [c for c in REQUIRED_DICTIONARY if c not in frame.columns]
    if missing:
        raise IngestError(
            records.file,
            1,
            missing[0],
            "not a REDCap data dictionary (missing column "
            f"{missing[0]!r}; expected 'Variable / Field Name' or 'field_name' headers)",
        )
    for column in DICTIONARY_COLUMNS.values():
        if column not in frame.columns:
            frame[column] = pd.NA
    return frame


def parse_choices(text: object) -> dict[str, str]:
    """Parse REDCap choices ``"1, Yes | 0, No"`` into ``{"1": "Yes", "0": "No"}``.

    Examples
    --------
    >>> parse_choices("a, A | b, B, with comma")
    {'a': 'A', 'b': 'B, with comma'}
    """
    if not isinstance(text, str) or "," not in text:
        return {}
    out = {}
    for part in text.split("|"):
        code, sep, label = part.partition(",")
        if sep and code.strip():
            out[code.strip()] = label.strip()
    return out


def checkbox_column(field: str, code: str) -> str:
    """REDCap's export column for one checkbox choice (code lower-cased, '-'/'.' -> '_')."""
    return f"{field}___{re.sub(r'[^a-z0-9_]', '_', code.lower())}"


def is_redcap_table(columns: list[str]) -> bool:
    """True when column names carry REDCap's markers (raw ``_complete`` or labels ``Complete?``)."""
    return any(c.endswith(("_complete", "Complete?")) for c in columns) or any(
        c in REDCAP_META for c in columns
    )


def _map_label_headers(columns: list[str], dictionary: pd.DataFrame) -> dict[str, str]:
    """Map a labels export's headers back to field names using the dictionary."""
    by_label: dict[str, str] = {}
    choices: dict[tuple[str, str], str] = {}
    for row in dictionary.itertuples(index=False):
        label = str(row.field_label).strip() if isinstance(row.field_label, str) else ""
        by_label.setdefault(label, row.field_name)
        if row.field_type == "checkbox":
            for code, choice in parse_choices(row.select_choices_or_calculations).items():
                choices[(label, choice)] = checkbox_column(row.field_name, code)
    forms = {re.sub(r"[^a-z0-9]", "", str(f).lower()): f for f in dictionary["form_name"].dropna()}
    mapping = {}
    for column in columns:
        match = _LABEL_CHECKBOX.match(column)
        if column in by_label:
            mapping[column] = by_label[column]
        elif match and (match["label"], match["choice"]) in choices:
            mapping[column] = choices[(match["label"], match["choice"])]
        elif column.endswith("Complete?"):
            key = re.sub(r"[^a-z0-9]", "", column[: -len("Complete?")].lower())
            if key in forms:
                mapping[column] = f"{forms[key]}_complete"
    return mapping


def read_redcap(
    path: str | Path,
    dictionary: str | Path | pd.DataFrame | None = None,
    records: RawRecords | None = None,
) -> PlatformExport:
    """Read a REDCap record export, with its data dictionary when given.

    Parameters
    ----------
    path : str or Path
        The exported records (CSV raw or labels, or XLSX).
    dictionary : str, Path or DataFrame, optional
        The project's data dictionary (file in UI or API form, or ``read_redcap_dictionary``).
    records : RawRecords, optional
        Already-read records.

    Returns
    -------
    PlatformExport
        ``data`` columns are field names (checkboxes as ``field___code``).

    Raises
    ------
    IngestError
        When the table has no REDCap markers (no ``_complete``/``redcap_*`` column and no
        dictionary field matches), or is malformed.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "r.csv")
    >>> _ = open(p, "w").write("record_id,email,q1,f_complete\\n1,a@b.org,3,2\\n")
    >>> e = read_redcap(p)
    >>> list(e.data.columns), bool(e.meta["finished"][0])
    (['record_id', 'q1'], True)
    """
    records = records if records is not None else read_records(path)
    file = records.file
    body = split_header(records, 1)
    table = body.table
    dict_frame = (
        dictionary
        if isinstance(dictionary, pd.DataFrame)
        else read_redcap_dictionary(dictionary)
        if dictionary is not None
        else None
    )
    field_paths: dict[str, str] = {}
    if dict_frame is not None:
        mapping = _map_label_headers(list(table.columns), dict_frame)
        mapping = {k: v for k, v in mapping.items() if k != v and v not in table.columns}
        if mapping:
            table = table.rename(columns=mapping)
            field_paths = {v: k for k, v in mapping.items()}
    columns = list(table.columns)
    known_fields = set(dict_frame["field_name"]) if dict_frame is not None else set()
    base_names = {(_CHECKBOX.match(c)["field"] if _CHECKBOX.match(c) else c) for c in columns}
    if not is_redcap_table(columns) and not (known_fields & base_names):
        raise IngestError(
            file,
            1,
            None,
            "not a REDCap export: no <form>_complete or redcap_* column and no "
            "column matches the dictionary (is it another platform's file?)",
        )
    response_id = (
        dict_frame["field_name"].iloc[0]
        if dict_frame is not None and dict_frame["field_name"].iloc[0] in columns
        else columns[0]
    )
    # "<Form> Complete?" is the labels-export header of a form's status column.
    complete = [c for c in columns if c.endswith(("_complete", "Complete?"))]
    timestamps = [c for c in columns if c.endswith("_timestamp")]
    meta_columns = [c for c in columns if c in REDCAP_META] + complete + timestamps
    personal: dict[str, str] = {"redcap_survey_identifier": "REDCap survey identifier"}
    labels: dict[str, str] = {}
    value_labels: dict[str, dict[str, str]] = {}
    text_columns: list[str] = []
    not_text: list[str] = []
    if dict_frame is not None:
        for row in dict_frame.itertuples(index=False):
            field, ftype = row.field_name, str(row.field_type)
            validation = str(row.text_validation_type_or_show_slider_number or "")
            label = row.field_label if isinstance(row.field_label, str) else ""
            targets = [field]
            if ftype == "checkbox":
                choices = parse_choices(row.select_choices_or_calculations)
                targets = [checkbox_column(field, code) for code in choices]
                for code, target in zip(choices, targets, strict=True):
                    labels[target] = f"{label} (choice={choices[code]})"
                    value_labels[target] = {"0": "Unchecked", "1": "Checked"}
            else:
                labels[field] = label
                if ftype in CHOICE_TYPES:
                    value_labels[field] = parse_choices(row.select_choices_or_calculations)
                    not_text.append(field)
                elif ftype == "yesno":
                    value_labels[field] = {"1": "Yes", "0": "No"}
                elif ftype == "truefalse":
                    value_labels[field] = {"1": "True", "0": "False"}
            reason = None
            if str(row.identifier).strip().lower() == "y":
                reason = "REDCap dictionary marks it as an identifier"
            elif validation in PERSONAL_VALIDATION:
                reason = f"REDCap validation {validation!r} ({PERSONAL_VALIDATION[validation]})"
            elif ftype in PERSONAL_TYPES:
                reason = f"REDCap field type {ftype!r} ({PERSONAL_TYPES[ftype]})"
            for target in targets:
                if reason and target in columns:
                    personal[target] = reason
            if field != response_id and (
                ftype == "notes" or (ftype == "text" and validation in ("", "nan", "<NA>"))
            ):
                text_columns.append(field)
    index = pd.RangeIndex(len(table))
    if complete:
        # A form's status is empty in rows it has no part in (other events, other repeating
        # forms' instances): a row is finished when every form it holds is complete.
        status = table[complete].astype("str")
        present = status.notna()
        is_complete = status.isin(["2", "Complete"])
        finished = (is_complete | ~present).all(axis=1).astype("boolean")
        finished[~present.any(axis=1)] = pd.NA
    else:
        finished = pd.Series(pd.NA, index=index, dtype="boolean")
    submitted = table[timestamps].astype("str").ffill(axis=1).iloc[:, -1] if timestamps else None
    flags = {"finished": finished, "submitted_at": as_text(submitted, index)}
    return build_file_export(
        records,
        body,
        table=table,
        platform="redcap",
        response_id_column=response_id,
        meta_columns=meta_columns,
        flags=flags,
        personal=personal,
        text_columns=text_columns,
        not_text_columns=not_text,
        labels=labels,
        value_labels=value_labels,
        field_paths=field_paths,
        notes=records.notes,
    )
