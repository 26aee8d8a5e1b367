"""Generic table reading for the analysis commands (``score``, ``reliability``, ``cfa``).

``read_table`` reads a plain table whose columns are item ids, from any format the project
supports (a Qualtrics export's extra header rows are skipped), and returns it ready for analysis: numeric columns as numbers, everything else as
text. It does not apply platform rules (use ``fieldsurvey.ingest.read_export`` for exports).

Conversions are lossless only: a text column becomes numeric when *every* non-empty value is a
plain decimal number without a leading zero ("7", "-2", "3.5"), so identifiers like "007"
stay text. SPSS/Stata/SAS values come as the file stores them; SPSS user-missing codes
(e.g. 99 "refused") are kept as codes, not turned into NaN, and listed in
``frame.attrs["missing_codes"]``; value labels in ``frame.attrs["value_labels"]`` and variable
labels in ``frame.attrs["labels"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.files import EXCEL_SUFFIXES, header_names, read_records, split_header
from fieldsurvey.ingest.qualtrics import qualtrics_layout

STAT_SUFFIXES = (".sav", ".zsav", ".por", ".dta", ".sas7bdat", ".xpt")
SUPPORTED = (".csv", ".tsv", ".txt", ".tab", *EXCEL_SUFFIXES, *STAT_SUFFIXES)
_PLAIN_NUMBER = r"^-?(?:0|[1-9]\d*)(?:\.\d+)?$"


def numeric_where_lossless(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert text columns to numbers where every non-empty value is a plain number.

    Examples
    --------
    >>> df = pd.DataFrame({"q1": ["1", "5", None], "id": ["007", "8", "9"]})
    >>> numeric_where_lossless(df).dtypes.astype(str).tolist()
    ['float64', 'str']
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype.kind in "biufc":
            continue
        text = values.dropna().astype("str").str.strip()
        if len(text) and text.str.match(_PLAIN_NUMBER).all():
            out[column] = pd.to_numeric(values.astype("str").str.strip(), errors="coerce").astype(
                "float64"
            )
    return out


def _read_stat(path: Path) -> pd.DataFrame:
    import pyreadstat

    suffix = path.suffix.lower()
    readers = {
        ".sav": lambda p: pyreadstat.read_sav(p, user_missing=True),
        ".zsav": lambda p: pyreadstat.read_sav(p, user_missing=True),
        ".por": lambda p: pyreadstat.read_por(p),
        ".dta": lambda p: pyreadstat.read_dta(p, user_missing=True),
        ".sas7bdat": lambda p: pyreadstat.read_sas7bdat(p, user_missing=True),
        ".xpt": lambda p: pyreadstat.read_xport(p),
    }
    try:
        frame, meta = readers[suffix](str(path))
    except Exception as exc:  # pyreadstat raises ReadstatError/PyreadstatError/OSError
        raise IngestError(path, None, None, f"cannot read the {suffix} file: {exc}") from None
    frame.attrs["labels"] = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    frame.attrs["value_labels"] = {
        column: {_code_text(code): label for code, label in labels.items()}
        for column, labels in (meta.variable_value_labels or {}).items()
    }
    missing: dict[str, list[Any]] = {}
    for column, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        codes = []
        for item in ranges:
            low, high = item.get("lo"), item.get("hi")
            codes.append(low if low == high else (low, high))
        missing[column] = codes
    for column, codes in (getattr(meta, "missing_user_values", None) or {}).items():
        missing.setdefault(column, []).extend(codes)
    frame.attrs["missing_codes"] = missing
    return frame


def _code_text(code: Any) -> str:
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


def without_missing_codes(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the codes its source declared as missing (``attrs["missing_codes"]``:
    SPSS user-missing values and ranges, Stata ``.a``-``.z``) blanked, so they are never scored.

    Examples
    --------
    >>> t = pd.DataFrame({"pq01": [3.0, -1.0, 95.0]})
    >>> t.attrs["missing_codes"] = {"pq01": [-1.0, (90.0, 99.0)]}
    >>> without_missing_codes(t)["pq01"].tolist()
    [3.0, nan, nan]
    """
    out = frame.copy()
    for column, codes in (frame.attrs.get("missing_codes") or {}).items():
        if column not in out.columns:
            continue
        values = pd.to_numeric(out[column], errors="coerce")
        text = out[column].astype("string").str.strip()
        blank = pd.Series(False, index=out.index)
        for code in codes:
            if isinstance(code, tuple):
                blank |= values.between(code[0], code[1]).fillna(False).astype(bool)
            elif isinstance(code, str):
                blank |= (text == code).fillna(False).astype(bool)
            else:
                blank |= (values == code).fillna(False).astype(bool)
        out[column] = out[column].mask(blank)
        if out[column].dtype == object:  # Stata letters gone: the rest may be numbers again
            numbers = pd.to_numeric(out[column], errors="coerce")
            if numbers.notna().sum() == out[column].notna().sum():
                out[column] = numbers
    return out


def _refuse_duplicate_names(names: list[Any], source: Path) -> None:
    """Two columns with one name: which holds the answers cannot be known, so say which."""
    seen: dict[str, int] = {}
    for position, value in enumerate(names, start=1):
        name = "" if value is None or pd.isna(value) else str(value).strip()
        if not name:
            continue
        if name in seen:
            raise IngestError(
                source, 1, name,
                f"column name {name!r} appears twice (columns {seen[name]} and {position}); "
                "rename or remove one of them so it is clear which holds the answers",
            )
        seen[name] = position


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table of item responses whose columns are item ids.

    Parameters
    ----------
    path : str or Path
        CSV/TSV (any delimiter or encoding the ingest readers accept), XLSX, SPSS
        ``.sav``/``.zsav``/``.por``, Stata ``.dta`` or SAS ``.sas7bdat``/``.xpt``.

    Returns
    -------
    DataFrame
        One row per respondent. Metadata in ``.attrs``: ``file``, ``row_numbers`` (source row of
        each row), and for statistical formats ``labels``, ``value_labels`` and
        ``missing_codes``.

    Raises
    ------
    IngestError
        For an unsupported suffix, an unreadable file, a malformed row (text formats: any row
        with the wrong number of fields is an error here, since scores must not silently skip
        respondents) or a file without data rows. The message names the file, row and column.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "items.csv")
    >>> _ = open(p, "w", encoding="utf-8-sig").write("pq01;pq02\\n1;5\\n3;\\n")
    >>> read_table(p)["pq02"].tolist()
    [5.0, nan]
    """
    source = Path(path)
    suffix = source.suffix.lower()
    if suffix not in SUPPORTED:
        raise IngestError(
            source,
            None,
            None,
            f"unsupported file type {suffix or '(none)'!r}; use one of " + ", ".join(SUPPORTED),
        )
    if not source.exists():
        raise IngestError(source, None, None, "file not found")
    if suffix in STAT_SUFFIXES:
        frame = _read_stat(source)
        if frame.empty:
            raise IngestError(source, 2, None, "the file has no data rows")
        frame.attrs["file"] = str(source)
        frame.attrs["row_numbers"] = list(range(1, len(frame) + 1))
        return frame
    records = read_records(source)
    # A Qualtrics export's question-text and ImportId rows are headers, not respondents.
    layout = qualtrics_layout(records)
    header_rows = {"import_id": 3, "legacy": 2}.get(layout or "", 1)
    raw_names = records.records.iloc[0].tolist()
    _refuse_duplicate_names(raw_names, source)
    names = header_names(raw_names, str(source))
    body = split_header(records, header_rows, names=names)
    # Blank lines carry no answers; any other unreadable row would silently drop a respondent.
    broken = body.quarantine[body.quarantine["reason"] != "empty row (no values)"]
    if len(broken):
        first = broken.iloc[0]
        raise IngestError(source, int(first["row"]), None, f"malformed row: {first['reason']}")
    frame = numeric_where_lossless(body.table)
    frame.attrs["file"] = str(source)
    frame.attrs["row_numbers"] = body.row_numbers.tolist()
    frame.attrs["notes"] = list(records.notes)
    return frame
