"""Respondent-level data out of the store, for SPSS, Stata, R and spreadsheet users.

Two kinds of file come out of a study:

* the **protected** file that ``fieldsurvey export-data`` writes by default, made by
  :func:`fieldsurvey.disclosure.microdata.export_microdata` (key variables recoded and
  suppressed until nobody can be picked out; see docs/microdata.md), and
* the **identifiable** file (:func:`export_data`): the stored responses after the study's
  exclusion rules, unchanged. Its metadata and file label say it is identifiable.

Both carry variable labels (the item's label or id: never licensed wording) and value labels
(the response scale's labels). Identifiable SPSS and Stata files also get back the codes the
source file declared as missing (the store's ``declared_missing`` table), declared missing there
with their labels (:func:`declared_missing_cells`), so a refusal can still be told from a skip. Free text and personal data are never in either: they never
entered the responses table. This module only writes: :func:`write_data` is the one place a
frame becomes a file, and there every text cell that a spreadsheet would read as a formula is
neutralised (:func:`neutralise_formulas`, OWASP's advice on CSV injection), in CSV and XLSX.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat

from fieldsurvey.store.database import load_declared_missing, load_responses
from fieldsurvey.store.study import Study

FORMATS = ("csv", "xlsx", "parquet", "sav", "dta")
_DROP = ["batch_id"]

#: First characters that make Excel, LibreOffice or Google Sheets read a cell as a formula
#: (OWASP "CSV Injection": = + - @ tab carriage return; ASVS 5.0 adds NUL; line feed and the
#: full-width forms are read the same way by some spreadsheets). A leading apostrophe is
#: escaped too, so removing one leading apostrophe always gives the original text back.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d",
                    "\uff20", "'")

IDENTIFIABLE_WARNING = ("IDENTIFIABLE respondent-level data: people can be recognised in this "
                        "file from their organisation, role, tenure, pay band or lived "
                        "experience. Do not share it outside the research team.")


def neutralise_cell(value: Any) -> Any:
    """Prefix a text value that a spreadsheet would evaluate with an apostrophe.

    Examples
    --------
    >>> neutralise_cell("=HYPERLINK(\\"http://x\\")"), neutralise_cell("-2"), neutralise_cell(-2)
    ('\\'=HYPERLINK("http://x")', "'-2", -2)
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every formula-leading text cell (and column name) neutralised.

    Numbers, booleans and missing values are left alone: only text can hold a formula.

    Examples
    --------
    >>> df = pd.DataFrame({"org": ["=1+1", "Shelter"], "q1": [-1, 2]})
    >>> neutralise_formulas(df)["org"].tolist(), neutralise_formulas(df)["q1"].tolist()
    (["'=1+1", 'Shelter'], [-1, 2])
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
            risky = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_TRIGGERS))
            if risky.any():
                out[column] = values.astype(object).where(~risky, "'" + values.astype(str))
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def write_data(
    frame: pd.DataFrame,
    fmt: str,
    out: str | Path,
    *,
    variable_labels: Mapping[str, str] | None = None,
    value_labels: Mapping[str, Mapping[Any, str]] | None = None,
    file_label: str = "",
    declared_missing: pd.DataFrame | None = None,
) -> Path:
    """Write a respondent-level frame as CSV, XLSX, Parquet, SPSS (.sav) or Stata (.dta).

    CSV and XLSX cells are neutralised against formula injection; CSV quotes every text cell.
    ``file_label`` goes into the file where the format has a place for it (SPSS and Stata file
    label, Parquet and XLSX metadata). ``declared_missing`` (:func:`declared_missing_cells`)
    puts declared missing codes back in SPSS and Stata files; other formats have no declared
    missing values, so those cells stay empty there.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    variable_labels = dict(variable_labels or {})
    if fmt == "csv":
        neutralise_formulas(frame).to_csv(out, index=False, quoting=csv.QUOTE_NONNUMERIC)
    elif fmt == "xlsx":
        _write_xlsx(neutralise_formulas(frame), out, file_label)
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = {**(table.schema.metadata or {}), b"fieldsurvey": file_label.encode("utf-8")}
        pq.write_table(table.replace_schema_metadata(meta), out)
    else:
        stats = _for_stats_package(frame)
        value_labels = {k: dict(v) for k, v in (value_labels or {}).items()}
        missing = _put_declared_missing(stats, declared_missing, fmt, value_labels)
        labels = [variable_labels.get(c, c) for c in stats.columns]
        if fmt == "dta":  # Stata allows 80 characters per variable and file label
            labels = [label if len(label) <= 80 else label[:77] + "..." for label in labels]
            file_label = file_label[:80]
        writer = pyreadstat.write_sav if fmt == "sav" else pyreadstat.write_dta
        declared = {"missing_ranges" if fmt == "sav" else "missing_user_values": missing}
        writer(stats, str(out), file_label=file_label, column_labels=labels,
               variable_value_labels={k: v for k, v in value_labels.items()
                                      if k in stats.columns}, **declared)
    return out


def declared_missing_cells(study: Study, frame: pd.DataFrame) -> pd.DataFrame:
    """The declared missing codes of the responses in ``frame``: position (row of ``frame``),
    item, code (``-1``; Stata's ``.a``) and label."""
    key = ["org", "wave", "response_id"]
    rows = frame[key].astype(str).reset_index(drop=True).reset_index(names="position")
    return load_declared_missing(study).astype({k: str for k in key}).merge(rows, on=key)


def _put_declared_missing(stats: pd.DataFrame, declared: pd.DataFrame | None, fmt: str,
                          value_labels: dict[str, dict[Any, str]]) -> dict[str, list[Any]]:
    """Declared codes into their (empty) cells as the format declares missing values: numeric
    codes as SPSS user-missing values, letters as Stata extended missing values (neither format
    can hold the other's kind: those cells stay empty). Their labels join ``value_labels``;
    returns the missing values of each column."""
    missing: dict[str, list[Any]] = {}
    numeric = {c for c in stats.columns if pd.api.types.is_float_dtype(stats[c].dtype)}
    for cell in (declared if declared is not None else pd.DataFrame()).itertuples(index=False):
        code = str(cell.code)
        letter = code.startswith(".")
        if cell.item not in numeric or letter != (fmt == "dta"):
            continue
        try:
            value = code[1:] if letter else float(code)
        except ValueError:
            continue
        if letter:
            stats[cell.item] = stats[cell.item].astype(object)
        stats.iat[int(cell.position), stats.columns.get_loc(cell.item)] = value
        if value not in missing.setdefault(cell.item, []):
            missing[cell.item].append(value)
        if cell.label:
            value_labels.setdefault(cell.item, {})[value] = str(cell.label)
    return missing


def _write_xlsx(frame: pd.DataFrame, out: Path, file_label: str) -> None:
    """Every cell as a value (never a formula): text cells are typed as strings explicitly.
    Control characters XML cannot hold (NUL, ...) are written as U+FFFD."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook(write_only=True)
    book.properties.title = file_label[:255] or None
    sheet = book.create_sheet("data")
    sheet.append([ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(c)) for c in frame.columns])
    for row in frame.astype(object).itertuples(index=False):
        cells = []
        for value in row:
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                cells.append(None)
                continue
            if isinstance(value, str):
                value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    book.save(out)


def write_metadata(path: Path, metadata: Mapping[str, Any]) -> Path:
    """Write the JSON metadata that goes beside a respondent-level file; return its path."""
    target = path.with_name(path.stem + ".metadata.json")
    target.write_text(json.dumps(metadata, indent=2, ensure_ascii=False, default=str) + "\n",
                      encoding="utf-8")
    return target


def export_data(study: Study, fmt: str, out: str | Path | None = None) -> Path:
    """Write the **identifiable** cleaned data (exclusions applied); return the path.

    Nothing is recoded or suppressed: the file and its ``.metadata.json`` say that it is
    identifiable. For a file that is safe to hand over use
    :func:`fieldsurvey.disclosure.microdata.export_microdata` (``fieldsurvey export-data``).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    frame = load_responses(study).drop(columns=_DROP, errors="ignore")
    out = Path(out) if out else study.exports_dir / f"responses-identifiable.{fmt}"
    variable_labels, value_labels = study_labels(study, frame)
    write_data(frame, fmt, out, variable_labels=variable_labels, value_labels=value_labels,
               file_label=IDENTIFIABLE_WARNING,
               declared_missing=declared_missing_cells(study, frame))
    write_metadata(out, {"file": out.name, "study": study.config.title, "identifiable": True,
                         "warning": IDENTIFIABLE_WARNING, "rows": len(frame),
                         "columns": list(map(str, frame.columns)),
                         "excluded": frame.attrs.get("excluded", {})})
    return out


def study_labels(study: Study, frame: pd.DataFrame
                 ) -> tuple[dict[str, str], dict[str, dict[int, str]]]:
    """Variable labels and value labels of the columns of ``frame`` from the instruments."""
    variable: dict[str, str] = {"org": "Organisation", "wave": "Wave", "response_id": "Response id",
                                "source_row": "Row in the source file", "finished": "Finished (platform)",
                                "progress": "Progress % (platform)", "duration_seconds": "Duration in seconds"}
    values: dict[str, dict[int, str]] = {}
    for inst in study.instruments():
        for item in inst.items:
            if item.id not in frame.columns:
                continue
            own_words = inst.licence.wording_included and item.text
            variable[item.id] = (next(iter(item.text.values())) if own_words else None) or item.label or item.id
            rs = inst.response_scales[item.scale]
            if rs.labels:
                values[item.id] = {int(k): v for k, v in rs.labels.items()}
    return variable, values


def _for_stats_package(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if pd.api.types.is_bool_dtype(dtype):
            out[col] = out[col].astype("Float64").astype(float)
        elif pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
            out[col] = out[col].astype(float)
        else:
            out[col] = out[col].astype(str).where(out[col].notna(), "")
    return out
