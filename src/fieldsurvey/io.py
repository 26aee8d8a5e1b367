"""The one table reader of the analysis commands (``score``, ``reliability``, ``cfa``, ...).

:func:`read_data` reads a plain table whose columns are item ids, from any format the project
supports (a Qualtrics export's extra header rows are skipped), and returns a :class:`DataTable`:
the frame ready for analysis (numeric columns as numbers, everything else as text) and, beside
it, the file row of every frame row and the file's declared metadata. Row numbers live in a side
array rather than ``DataFrame.attrs`` because pandas deep-copies ``attrs`` on every operation
(a 200,000-row list made ``reliability`` fifty times slower). It does not apply platform rules
(use ``fieldsurvey.ingest.read_export`` for exports); text files are parsed by the same Arrow
reader as the exports (:func:`fieldsurvey.ingest.files.read_text_table`).

Conversions are lossless only: a text column becomes numeric when *every* non-empty value is a
plain decimal number without a leading zero ("7", "-2", "3.5"), so identifiers like "007"
stay text. The check and the conversion run in Arrow on each column's distinct values.
SPSS/Stata/SAS values come as the file stores them; SPSS user-missing codes (e.g. 99
"refused") are kept as codes, not turned into NaN, and listed in ``DataTable.missing_codes``
(:meth:`DataTable.answers` blanks them); value labels in ``value_labels`` and variable labels
in ``labels``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.files import (
    EXCEL_SUFFIXES,
    check_header,
    header_names,
    read_records,
    read_text_table,
    split_header,
)
from fieldsurvey.ingest.qualtrics import qualtrics_layout
from fieldsurvey.instrument.answers import single_digit_codes

STAT_SUFFIXES = (".sav", ".zsav", ".por", ".dta", ".sas7bdat", ".xpt")
PARQUET_SUFFIXES = (".parquet",)
SUPPORTED = (".csv", ".tsv", ".txt", ".tab", *EXCEL_SUFFIXES, *STAT_SUFFIXES, *PARQUET_SUFFIXES)
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


@dataclass
class DataTable:
    """A table read by :func:`read_data`: the frame and, beside it, where each row came from.

    Attributes
    ----------
    frame : DataFrame
        One row per respondent, a plain RangeIndex and no ``attrs``.
    file : str
        The file read.
    row_numbers : ndarray of int
        The file's own number of each frame row (text files: record number, header = 1; binary
        formats: case number, first case = 1), for error messages.
    missing_codes : dict
        Column -> codes the file declares as missing (SPSS user-missing values and ranges as
        ``(low, high)``, Stata ``.a``-``.z``).
    labels, value_labels : dict
        Variable labels; value labels per column (code text -> label).
    notes : list of str
        What the reader had to decide that the user should know about.
    """

    frame: pd.DataFrame
    file: str
    row_numbers: np.ndarray
    missing_codes: dict[str, list[Any]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def answers(self) -> pd.DataFrame:
        """The frame with the declared missing codes blanked, so they are never scored."""
        return without_missing_codes(self.frame, self.missing_codes)


def _read_stat(path: Path) -> DataTable:
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
    labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    value_labels = {
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
    return DataTable(frame, str(path), np.arange(1, len(frame) + 1, dtype=np.int64),
                     missing, labels, value_labels)


def _read_parquet(path: Path) -> DataTable:
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(path).to_pandas()
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for a damaged file
        raise IngestError(path, None, None, f"cannot read the Parquet file: {exc}") from None
    frame = frame.reset_index(drop=True)
    return DataTable(frame, str(path), np.arange(1, len(frame) + 1, dtype=np.int64))


def _code_text(code: Any) -> str:
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


def without_missing_codes(frame: pd.DataFrame,
                          missing_codes: dict[str, list[Any]] | None) -> pd.DataFrame:
    """``frame`` with the codes its source declared as missing (SPSS user-missing values and
    ranges, Stata ``.a``-``.z``; see :attr:`DataTable.missing_codes`) blanked, so they are
    never scored. Without codes the frame itself is returned (no copy).

    Examples
    --------
    >>> t = pd.DataFrame({"pq01": [3.0, -1.0, 95.0]})
    >>> without_missing_codes(t, {"pq01": [-1.0, (90.0, 99.0)]})["pq01"].tolist()
    [3.0, nan, nan]
    """
    codes_of = {c: codes for c, codes in (missing_codes or {}).items() if c in frame.columns}
    if not codes_of:
        return frame
    out = frame.copy()
    for column, codes in codes_of.items():
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
    """The frame of :func:`read_data` alone (row numbers and labels dropped).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "items.csv")
    >>> _ = open(p, "w", encoding="utf-8-sig").write("pq01;pq02\\n1;5\\n3;\\n")
    >>> read_table(p)["pq02"].tolist()
    [5.0, nan]
    """
    return read_data(path).frame


def read_data(path: str | Path) -> DataTable:
    """Read a table of item responses whose columns are item ids.

    Parameters
    ----------
    path : str or Path
        CSV/TSV (any delimiter or encoding the ingest readers accept), XLSX, SPSS
        ``.sav``/``.zsav``/``.por``, Stata ``.dta``, SAS ``.sas7bdat``/``.xpt`` or Parquet.

    Returns
    -------
    DataTable
        The frame, the file row of each of its rows, and for statistical formats the labels,
        value labels and declared missing codes.

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
    >>> _ = open(p, "w").write("id,pq01\\n007,1\\n\\n8,3\\n")
    >>> table = read_data(p)
    >>> (table.frame["id"].tolist(), table.frame["pq01"].tolist(), table.row_numbers.tolist())
    (['007', '8'], [1.0, 3.0], [2, 4])
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
    if suffix in STAT_SUFFIXES or suffix in PARQUET_SUFFIXES:
        table = _read_stat(source) if suffix in STAT_SUFFIXES else _read_parquet(source)
        if table.frame.empty:
            raise IngestError(source, 2, None, "the file has no data rows")
        return table
    if suffix in EXCEL_SUFFIXES:
        return _read_workbook(source)
    return _read_text(source)


def _read_workbook(source: Path) -> DataTable:
    records = read_records(source)
    header_rows = _header_rows(qualtrics_layout(records))
    raw_names = records.records.iloc[0].tolist()
    _refuse_duplicate_names(raw_names, source)
    body = split_header(records, header_rows, names=header_names(raw_names, str(source)))
    _refuse_broken_rows(body.quarantine, source)
    return DataTable(numeric_where_lossless(body.table), str(source), body.row_numbers,
                     notes=list(records.notes))


def _read_text(source: Path) -> DataTable:
    text = read_text_table(source)
    header_rows = _header_rows(qualtrics_layout(text.head_records(3)))
    raw_names = list(text.table.slice(0, 1).to_pylist()[0].values())
    _refuse_duplicate_names(raw_names, source)
    names = header_names(raw_names, str(source))
    check_header(text.file, text.quarantine, text.row_numbers, header_rows)
    _refuse_broken_rows(text.quarantine, source)
    columns = text.table.slice(header_rows).columns
    numbers, notes = text.row_numbers[header_rows:], list(text.notes)
    del text  # the columns list is now the only reference to the text cells
    return DataTable(_typed_frame(columns, names), str(source), numbers, notes=notes)


def _header_rows(layout: str | None) -> int:
    """A Qualtrics export's question-text and ImportId rows are headers, not respondents."""
    return {"import_id": 3, "legacy": 2}.get(layout or "", 1)


def _refuse_broken_rows(quarantine: pd.DataFrame, source: Path) -> None:
    """Blank lines carry no answers; any other unreadable row would silently drop a respondent."""
    broken = quarantine[quarantine["reason"] != "empty row (no values)"]
    if len(broken):
        first = broken.iloc[0]
        raise IngestError(source, int(first["row"]), None, f"malformed row: {first['reason']}")


#: Bytes of converted text after which Arrow's freed memory is handed back to the system.
#: At 8 MB the text not yet handed back set the read's peak (60 items x 200,000: 7 MB
#: above the numbers); 4 MB costs ~30 ms more on 500,000 x 30 than 8 MB.
_RELEASE_EVERY = 4 << 20


def _typed_frame(columns: list[pa.ChunkedArray], names: list[str]) -> pd.DataFrame:
    """The columns typed by :func:`_numbers_of`, under ``names``; ``columns`` is emptied.

    Numeric columns are written straight into one column-major float block, which pandas
    takes without copying; text columns are inserted beside it. Each column's text is let go
    as soon as it is converted, so the text and the numbers of the whole table are never held
    at once (for a million rows of 66 answers: 0.35 GB of text, 0.5 GB of numbers).
    """
    rows = len(columns[0]) if columns else 0
    block = np.empty((rows, len(columns)), dtype=np.float64, order="F")
    numeric: list[int] = []
    text: dict[int, pa.ChunkedArray] = {}
    pool, freed = pa.default_memory_pool(), 0
    for i in range(len(columns)):
        column, columns[i] = columns[i], None
        if _numbers_of(column, block[:, len(numeric)]):
            numeric.append(i)
            freed += column.nbytes
            del column
            # Arrow's allocator keeps freed buffers for reuse; hand them back to the system,
            # a few columns at a time: after every column, each conversion's scratch memory
            # was handed back too and taken again from the system, page by page.
            if freed >= _RELEASE_EVERY:
                pool.release_unused()
                freed = 0
        else:
            text[i] = column
    pool.release_unused()  # the last columns' text too: the memory is the next step's
    frame = pd.DataFrame(block[:, : len(numeric)], columns=[names[i] for i in numeric], copy=False)
    for i, column in text.items():  # ascending: each lands at its place in the file's order
        frame.insert(i, names[i], column.to_pandas())
    return frame


def _numbers_of(column: pa.ChunkedArray, out: np.ndarray) -> bool:
    """Write the column's numbers into ``out`` when every non-empty value is a plain number (the
    rule of :func:`numeric_where_lossless`), else return False. Checked and converted on the
    distinct values (a few per answer column) and spread to the rows with one ``take``, so no
    cell becomes a Python object."""
    if single_digit_codes(column, out):
        return True
    if pc.max(pc.binary_length(column)).as_py() == 1:
        return False  # one-byte cells that are not all digits: "a", "-", ...
    encoded = pc.dictionary_encode(column.combine_chunks())
    distinct = pc.utf8_trim_whitespace(encoded.dictionary)
    if not len(distinct) or not pc.all(pc.match_substring_regex(distinct, _PLAIN_NUMBER)).as_py():
        return False
    out[:] = pc.take(pc.cast(distinct, pa.float64()), encoded.indices).to_numpy(
        zero_copy_only=False)
    return True


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` (without its index) as CSV, or as Parquet when ``path`` ends in
    ``.parquet``, through Arrow's C++ writers (pandas' CSV writer formats each cell in Python). Text is always quoted.

    A column Arrow cannot type (Python objects of mixed kinds) falls back to pandas' writer, so
    every frame can be written. Whole floats are written as ``3`` rather than ``3.0``; empty
    cells stay empty. Raises ``OSError`` as the file system does.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "s.csv")
    >>> write_table(pd.DataFrame({"id": ["a,b", "c"], "x": [1.5, None]}), p)
    >>> open(p).read().splitlines()
    ['"id","x"', '"a,b",1.5', '"c",']
    """
    import pyarrow.csv as pacsv

    path = Path(path)
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        if path.suffix.lower() in PARQUET_SUFFIXES:
            frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object}
                         ).to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        return
    if path.suffix.lower() in PARQUET_SUFFIXES:
        import pyarrow.parquet as pq

        pq.write_table(table, path)
        return
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
