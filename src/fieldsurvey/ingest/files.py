"""Reading raw tables from disk: encodings, delimiters and file formats.

Everything here returns *records*: every cell as text, exactly as the file holds it, with the
header row(s) still in the table. Platform readers decide which rows are headers.

Rules
-----
* Encoding: a UTF-8 or UTF-16 byte-order mark wins; UTF-16 without a mark is recognised by its
  zero bytes; otherwise strict UTF-8; otherwise Windows-1252 (Latin-1 for its five undefined
  bytes). A file that is partly valid UTF-8 multi-byte text and partly not is *mixed* and
  refused, because guessing would silently corrupt one of the two parts.
* Delimiter: comma, semicolon, tab or pipe, chosen from the first record (outside quotes).
* Parsing uses Arrow's C++ CSV reader with every column typed as text. (pandas' C parser fills
  a short row's missing fields with the same value as an empty field, so a truncated row could
  not be told from a complete one; Arrow reports every row with the wrong field count, with its
  record number, and is faster.) Python's ``csv`` module is only the fallback for files Arrow
  refuses outright, such as an unclosed quote.
* A record whose field count differs from the header's is quarantined, not padded or cut.
  The one exception is a known export quirk (ODK Central): when *every* data record is short by
  the same number of trailing fields, those trailing header columns are filled with missing
  values and a note says so.
* A record with no values at all (blank line) is quarantined with reason "empty row".
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.ingest.workbook import merged_ranges

DELIMITERS = (",", ";", "\t", "|")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".tab")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")

QUARANTINE_COLUMNS = ["row", "raw", "reason"]

# A valid UTF-8 multi-byte sequence; seen beside undecodable bytes it means mixed encodings.
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_NOT_BLANK = re.compile(rb"[^ \t\r\n\x00]")
# Control characters that never occur in a text table (tab, CR, LF excluded).
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class RawRecords:
    """A table read as text, header rows included.

    Attributes
    ----------
    file : str
        Path of the file read.
    records : DataFrame
        Integer-named columns 0..n-1, one row per record that had the right number of fields;
        cells are strings, empty cells are missing (NA).
    row_numbers : ndarray of int
        The 1-based record number in the file of each row of ``records``.
    quarantine : DataFrame
        Records that could not be read: ``row`` (record number), ``raw`` (the record's text)
        and ``reason``.
    encoding, delimiter : str
        What was detected ("" for binary formats).
    notes : list of str
        Things the reader had to decide that the user should know about.
    """

    file: str
    records: pd.DataFrame
    row_numbers: np.ndarray
    quarantine: pd.DataFrame
    encoding: str = ""
    delimiter: str = ""
    notes: list[str] = field(default_factory=list)


def empty_quarantine() -> pd.DataFrame:
    """An empty quarantine table with the standard columns."""
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "raw": [], "reason": []}).astype(
        {"raw": object, "reason": object}
    )


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def decode_bytes(raw: bytes, file: str | Path) -> tuple[str, str]:
    """Decode a text table's bytes, returning ``(text, encoding name)``.

    Raises
    ------
    IngestError
        For an empty file, mixed encodings, or binary (non-text) content.

    Examples
    --------
    >>> decode_bytes("a;b\\n1;2\\n".encode("cp1252"), "x.csv")[1]
    'utf-8'
    >>> decode_bytes("é;b\\n".encode("cp1252"), "x.csv")[1]
    'cp1252'
    """
    if _NOT_BLANK.search(raw) is None:  # (raw.strip() would copy the whole file)
        raise IngestError(file, 1, None, "the file is empty")
    encoding = "utf-8"
    if raw.startswith(codecs.BOM_UTF8):
        encoding, raw = "utf-8-sig", raw[len(codecs.BOM_UTF8) :]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif (
        len(raw) >= 4 and raw[1:200:2].count(0) > 0.4 * len(raw[1:200:2]) and 0 not in raw[0:200:2]
    ):
        encoding = "utf-16-le"
    elif (
        len(raw) >= 4 and raw[0:200:2].count(0) > 0.4 * len(raw[0:200:2]) and 0 not in raw[1:200:2]
    ):
        encoding = "utf-16-be"
    if encoding.startswith("utf-16"):
        if len(raw) % 2:  # a file cut mid-character: the cut row is caught as short later
            raw = raw[:-1]
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise IngestError(
                file,
                _line_of(raw, exc.start),
                None,
                "the file looks like UTF-16 but has bytes that are not valid UTF-16 "
                "(mixed encodings, or a UTF-16 byte-order mark on other text)",
            ) from None
    else:
        _refuse_binary(raw, file)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if encoding == "utf-8-sig" or _UTF8_MULTIBYTE.search(raw):
                raise IngestError(
                    file,
                    _line_of(raw, exc.start),
                    None,
                    f"mixed text encodings: byte 0x{raw[exc.start]:02x} at offset {exc.start} is "
                    "not UTF-8 but other parts of the file are UTF-8; re-save the file as UTF-8",
                ) from None
            try:
                text, encoding = raw.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                text, encoding = raw.decode("latin-1"), "latin-1"
    text = text.lstrip("\ufeff")
    # 8-bit text was checked byte by byte above (control characters are the same bytes in
    # UTF-8, cp1252 and Latin-1); only UTF-16 needs the check on the decoded text.
    binary = _BINARY_CHARS.search(text) if encoding.startswith("utf-16") else None
    if binary is not None:
        row = text.count("\n", 0, binary.start()) + 1
        raise IngestError(
            file,
            row,
            None,
            f"binary data (control character 0x{ord(binary.group()):02x}): this is not a "
            "text table; check the file type",
        )
    return text, encoding


# Formats people save under a text table's name by mistake, by their first bytes.
_SIGNATURES = {
    b"PK\x03\x04": "a zip archive (an .xlsx workbook?)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls (or other Office) file",
    b"$FL2": "an SPSS .sav file",
    b"$FL3": "an SPSS .zsav file",
    b"<stata_dta>": "a Stata .dta file",
    b"%PDF": "a PDF document",
    b"SQLite format 3": "an SQLite database",
    b"DUCK": "a DuckDB database",
}
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])


def _has_control_bytes(raw: bytes, step: int = 1 << 20) -> bool:
    """Deleting the control bytes is a C loop, ten times faster than the regex (which then only
    finds the first); done a slice at a time so the file is never copied whole."""
    for start in range(0, len(raw), step):
        part = raw[start:start + step]
        if len(part.translate(None, _CONTROL_BYTES)) != len(part):
            return True
    return False


def _refuse_binary(raw: bytes, file: str | Path) -> None:
    """Refuse bytes no text table holds (control characters), naming a known format if any."""
    kind = next((name for magic, name in _SIGNATURES.items()
                 if raw.startswith(magic) or raw[8:12] == magic), None)
    found = _BINARY_BYTES.search(raw) if _has_control_bytes(raw) else None
    if kind is None and found is None:
        return
    row = _line_of(raw, found.start()) if found is not None else 1
    what = f"this is {kind}, not a text table" if kind else (
        f"binary data (byte 0x{raw[found.start()]:02x}): this is not a text table")
    raise IngestError(file, row, None, f"{what}; check the file and its name's ending")


_FIRST_CHARACTER = re.compile(r"\s*(\S)")  # without stripping (copying) the whole text


def _looks_like_json(text: str) -> bool:
    start = _FIRST_CHARACTER.match(text)
    return start is not None and start.group(1) in ("{", "[")


def refuse_json(text: str, file: str | Path) -> None:
    """A text file that is one JSON document is not a delimited table: say so plainly."""
    if not _looks_like_json(text):
        return
    try:
        json.loads(text)
    except ValueError:
        return
    raise IngestError(file, 1, None,
                      "this file holds JSON, not a delimited table: platform API exports "
                      "(KoboToolbox, SurveyMonkey) are read from files ending in .json")


def sniff_delimiter(text: str) -> str:
    """Pick the delimiter that splits the first record into the most fields (outside quotes).

    Examples
    --------
    >>> sniff_delimiter('a;"b,c";d\\n1;2;3\\n')
    ';'
    """
    in_quote, counts = False, dict.fromkeys(DELIMITERS, 0)
    # Only the header record is scanned (it ends at the first newline outside quotes).
    for char in text[:200_000]:
        if char == '"':
            in_quote = not in_quote
        elif not in_quote:
            if char == "\n":
                break
            if char in counts:
                counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _quarantine_frame(rows: list[tuple[int, str, str]]) -> pd.DataFrame:
    if not rows:
        return empty_quarantine()
    frame = pd.DataFrame(rows, columns=QUARANTINE_COLUMNS)
    return frame.astype({"row": "int64", "raw": object, "reason": object})


#: Files at least this big are parsed in threads. Below it one thread is as fast in wall time
#: and a third cheaper in CPU (measured on 30 MB: 0.25 s one thread, 0.37-0.40 s threaded on
#: two cores), and its refused rows come numbered, so they need no second parse.
THREADED_PARSE = 64 << 20


def _parse_with_arrow(data: bytes, delimiter: str, skip_rows: int = 0, threads: bool = False):
    """Parse with Arrow's C++ reader; returns (Arrow table of text, invalid rows, n_columns).

    With ``threads`` the file's blocks are parsed in parallel, but Arrow then cannot number
    the rows it refuses (their ``number`` is None).
    """
    invalid: list[Any] = []

    def on_invalid(row: Any) -> str:
        invalid.append(row)
        return "skip"

    read_options = pacsv.ReadOptions(
        autogenerate_column_names=True, use_threads=threads, skip_rows=skip_rows,
        block_size=1 << 20,  # 1 MB blocks: measured faster than 8 MB, threaded or not
    )
    parse_options = pacsv.ParseOptions(
        delimiter=delimiter,
        newlines_in_values=True,
        ignore_empty_lines=False,
        invalid_row_handler=on_invalid,
    )
    # Peek at the width so every column can be typed as text (no type guessing at all).
    # Arrow reads the bytes where they are (an io.BytesIO may copy them).
    probe = pacsv.open_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(
            autogenerate_column_names=True,
            use_threads=False,
            skip_rows=skip_rows,
            block_size=1 << 16,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=lambda row: "skip",
        ),
        convert_options=pacsv.ConvertOptions(auto_dict_encode=False),
    )
    names = probe.schema.names
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=[""],
    )
    table = pacsv.read_csv(
        pa.BufferReader(data),
        read_options=read_options,
        parse_options=parse_options,
        convert_options=convert,
    )
    return _numbered_columns(table), invalid, len(names)


def _numbered_columns(table: pa.Table) -> pa.Table:
    """Name a table's columns "0", "1", ... (records have no names until a header is chosen)."""
    return table.rename_columns([str(i) for i in range(table.num_columns)])


def _arrow_text(frame: pd.DataFrame) -> pa.Table:
    """A pandas table of text cells as an Arrow table of strings (missing cells null)."""
    columns = {str(i): pa.array(frame.iloc[:, i].astype(object), type=pa.string(), from_pandas=True)
               for i in range(frame.shape[1])}
    return pa.table(columns) if columns else pa.table({})


def _parse_with_python(text: str, delimiter: str, file: str):
    """Slow, forgiving fallback used only when Arrow refuses the file (e.g. an open quote)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    good: list[list[str]] = []
    numbers: list[int] = []
    bad: list[tuple[int, str, str]] = []
    width = None
    try:
        for number, fields in enumerate(reader, start=1):
            if width is None:
                width = len(fields)
            if len(fields) != width:
                bad.append(
                    (
                        number,
                        delimiter.join(fields),
                        f"has {len(fields)} fields; the header has {width}",
                    )
                )
                continue
            good.append(fields)
            numbers.append(number)
    except csv.Error as exc:
        raise IngestError(file, reader.line_num, None, f"cannot parse the CSV: {exc}") from None
    frame = pd.DataFrame(good, columns=range(width or 0), dtype="str").replace("", pd.NA)
    return frame, np.asarray(numbers, dtype=np.int64), bad


def _read_bytes(path: str | Path) -> tuple[str, bytes]:
    """The file's name and its bytes; a file that cannot be opened is an :class:`IngestError`."""
    file = str(path)
    try:
        return file, Path(path).read_bytes()
    except OSError as exc:
        raise IngestError(file, None, None, f"cannot open the file: {exc.strerror}") from None


def _read_and_decode(path: str | Path) -> tuple[str, bytes, str, str]:
    """The file's name, its bytes, their text and encoding (:func:`decode_bytes`); a file that
    cannot be opened is an :class:`IngestError`."""
    file, raw = _read_bytes(path)
    text, encoding = decode_bytes(raw, file)
    return file, raw, text, encoding


_HEAD = 200_000


def _ascii_head(raw: bytes, file: str) -> str | None:
    """The first characters of a plain ASCII file (the usual export), checked as
    :func:`decode_bytes` checks it, without decoding the whole file into a second copy; None
    for any other file (a byte-order mark, UTF-16, 8-bit text), which is decoded whole.

    An ASCII file without a zero byte near its start is UTF-8 as it stands (UTF-16 is
    recognised by zero bytes in its first 200 bytes; a byte-order mark is not ASCII).
    """
    if not raw.isascii() or b"\x00" in raw[:200]:
        return None
    if _NOT_BLANK.search(raw) is None:
        raise IngestError(file, 1, None, "the file is empty")
    _refuse_binary(raw, file)
    return raw[:_HEAD].decode("ascii")


@dataclass
class TextTable:
    """A delimited text file parsed by Arrow, every cell still text, header rows included.

    The same records as :class:`RawRecords`, kept as Arrow strings so that callers which need
    numbers (:func:`fieldsurvey.io.read_data`) convert whole columns in Arrow without turning
    each cell into a Python object first.

    Attributes
    ----------
    file : str
    table : pyarrow.Table
        Columns named "0".."n-1", string typed; empty cells are null.
    row_numbers : ndarray of int
        The 1-based record number in the file of each row of ``table``.
    quarantine : DataFrame
        As in :class:`RawRecords`.
    encoding, delimiter : str
    notes : list of str
    """

    file: str
    table: pa.Table
    row_numbers: np.ndarray
    quarantine: pd.DataFrame
    encoding: str = ""
    delimiter: str = ""
    notes: list[str] = field(default_factory=list)

    def head_records(self, n: int) -> RawRecords:
        """The first ``n`` records as :class:`RawRecords` (for layout checks on header rows)."""
        return self._records(self.table.slice(0, n), self.row_numbers[:n])

    def to_records(self) -> RawRecords:
        """Every record as :class:`RawRecords` (pandas text cells).

        The Arrow table is handed over (``table`` is None afterwards): each column is let go
        once converted, so a big file's cells are not held twice, as Arrow and as pandas text.
        """
        columns, self.table = self.table.columns, None
        converted = {}
        for i in range(len(columns)):
            column, columns[i] = columns[i], None
            converted[i] = column.to_pandas()
            del column
        return self._wrap(pd.DataFrame(converted), self.row_numbers)

    def _records(self, table: pa.Table, numbers: np.ndarray) -> RawRecords:
        return self._wrap(table.to_pandas(), numbers)

    def _wrap(self, frame: pd.DataFrame, numbers: np.ndarray) -> RawRecords:
        """Cells numbered by column position, with this read's file, rows and notes."""
        frame.columns = range(frame.shape[1])
        return RawRecords(self.file, frame, numbers, self.quarantine, self.encoding,
                          self.delimiter, list(self.notes))


def read_text_records(path: str | Path, delimiter: str | None = None) -> RawRecords:
    """Read a delimited text file (CSV/TSV) as records of text.

    Parameters
    ----------
    path : str or Path
        The file.
    delimiter : str, optional
        Force a delimiter instead of sniffing it.

    Returns
    -------
    RawRecords

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(p, "w", encoding="utf-16").write("id\\tq1\\n1\\t5\\n")
    >>> rec = read_text_records(p)
    >>> (rec.encoding, rec.delimiter, rec.records.iloc[1].tolist())
    ('utf-16', '\\t', ['1', '5'])
    """
    return read_text_table(path, delimiter).to_records()


def read_text_table(path: str | Path, delimiter: str | None = None) -> TextTable:
    """Read a delimited text file (CSV/TSV) as an Arrow table of text (see module rules).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(p, "w").write("id,q1\\n1,5\\n\\n2,4\\n")
    >>> t = read_text_table(p)
    >>> (t.table.num_rows, t.row_numbers.tolist(), t.quarantine["row"].tolist())
    (3, [1, 2, 4], [3])
    """
    file, raw = _read_bytes(path)
    head = _ascii_head(raw, file)
    if head is not None:
        encoding, data = "utf-8", raw
        refuse_json(head if len(raw) <= _HEAD or not _looks_like_json(head)
                    else raw.decode("ascii"), file)
        delimiter = delimiter or sniff_delimiter(head)
    else:
        text, encoding = decode_bytes(raw, file)
        refuse_json(text, file)
        delimiter = delimiter or sniff_delimiter(text)
        data = text.encode("utf-8") if encoding != "utf-8" else raw
        del text  # a copy of the file not held while Arrow parses it
    del raw, head
    notes: list[str] = []
    try:
        table, numbers, bad = _arrow_records(data, delimiter, notes)
    except (pa.ArrowInvalid, pa.ArrowException):
        frame, numbers, bad = _parse_with_python(data.decode("utf-8"), delimiter, file)
        table = _arrow_text(frame)
    if table.num_rows == 0:
        raise IngestError(file, 1, None, "no header row could be read")
    empty = _empty_rows(table)
    if empty[1:].any():
        keep = ~empty
        keep[0] = True
        for number in numbers[~keep]:
            bad.append((int(number), "", "empty row (no values)"))
        table = table.filter(pa.array(keep))
        numbers = numbers[keep]
    quarantine = _quarantine_frame(sorted(bad))
    return TextTable(file, table, numbers, quarantine, encoding, delimiter, notes)


def _empty_rows(table: pa.Table) -> np.ndarray:
    """True for each record with no value in any column (a blank line)."""
    empty = np.zeros(table.num_rows, dtype=bool)
    columns = sorted(table.columns, key=lambda column: column.null_count)
    if not columns or not table.num_rows or columns[0].null_count == 0:
        return empty
    # A blank record is null everywhere: only the sparsest column's nulls are candidates, and
    # each further column is looked at on the candidates left (not on every row).
    rows = np.flatnonzero(columns[0].is_null().to_numpy(zero_copy_only=False))
    for column in columns[1:]:
        if not len(rows):
            break
        rows = rows[column.take(pa.array(rows)).is_null().to_numpy(zero_copy_only=False)]
    empty[rows] = True
    return empty


def _arrow_records(data: bytes, delimiter: str, notes: list[str]
                   ) -> tuple[pa.Table, np.ndarray, list[tuple[int, str, str]]]:
    """Records, their record numbers and the rows to quarantine, parsed by Arrow; raises
    ``ArrowInvalid`` when Arrow cannot number the rows it refused (the caller falls back)."""
    threads = len(data) >= THREADED_PARSE
    table, invalid, width = _parse_with_arrow(data, delimiter, threads=threads)
    if invalid and threads:  # rare: parse again in one thread, which numbers the rows it refuses
        del table
        table, invalid, width = _parse_with_arrow(data, delimiter)
    bad_numbers = np.asarray([-1 if row.number is None else row.number for row in invalid],
                             dtype=np.int64)
    if (bad_numbers < 1).any():
        raise pa.ArrowInvalid("row numbers unknown")
    # The readable records are every record number but the refused ones (a mask, not a set
    # difference: np.setdiff1d sorts a million numbers to find a handful).
    readable = np.ones(table.num_rows + len(invalid), dtype=bool)
    readable[bad_numbers - 1] = False
    numbers = np.flatnonzero(readable).astype(np.int64) + 1
    bad = [
        (int(row.number), row.text,
         f"has {row.actual_columns} fields; the header has {row.expected_columns}")
        for row in invalid
    ]
    short = {row.actual_columns for row in invalid}
    if len(invalid) >= 2 and table.num_rows == 1 and len(short) == 1 and min(short) < width:
        # Every data record (two or more, so one cut-off row cannot pass for it) is short by
        # the same trailing fields: a known export quirk (ODK Central's empty Status).
        body, invalid2, width2 = _parse_with_arrow(data, delimiter, skip_rows=1)
        if not invalid2:
            missing = width - width2
            for i in range(width2, width):
                body = body.append_column(str(i), pa.nulls(body.num_rows, pa.string()))
            table = pa.concat_tables([table, body])
            numbers = np.arange(1, table.num_rows + 1, dtype=np.int64)
            bad = []
            notes.append(
                f"every data row has {width2} fields but the header has {width}: the last "
                f"{missing} header column(s) were read as empty"
            )
    return table, numbers, bad


def read_excel_records(path: str | Path, sheet: str | int = 0) -> RawRecords:
    """Read one worksheet of an XLSX workbook as records of text.

    Whole numbers stored by Excel as floats are written without ".0"; dates as ISO text.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.xlsx")
    >>> pd.DataFrame({"id": ["a"], "q1": [3]}).to_excel(p, index=False)
    >>> read_excel_records(p).records.iloc[1].tolist()
    ['a', '3']
    """
    file = str(path)
    try:
        frame = pd.read_excel(path, sheet_name=sheet, header=None, dtype=object,
                              engine="openpyxl")
    except Exception as exc:  # openpyxl/zipfile raise many types for a damaged workbook
        raise IngestError(file, None, None, _workbook_problem(Path(path), exc)) from None
    if frame.empty:
        raise IngestError(file, 1, None, "the worksheet is empty")
    filled = _fill_merged_ranges(frame, path, sheet)

    def as_text(value: Any) -> Any:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return pd.NA
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, pd.Timestamp):
            return value.isoformat(sep=" ")
        return str(value)

    frame = frame.map(as_text).astype("str")
    frame.columns = range(frame.shape[1])
    numbers = np.arange(1, len(frame) + 1, dtype=np.int64)
    notes = []
    if filled:
        notes.append(f"{filled} empty cell(s) inside vertically merged ranges read as the "
                     "merged range's value")
    return RawRecords(file, frame.reset_index(drop=True), numbers, empty_quarantine(),
                      notes=notes)


def _workbook_problem(path: Path, exc: Exception) -> str:
    """Why a workbook cannot be read, in words a user can act on."""
    try:
        head = path.read_bytes()[:8]
    except OSError as err:
        return f"cannot open the workbook: {err.strerror}"
    if not head:
        return "the file is empty (0 bytes): not an Excel workbook"
    if head.startswith(b"PK\x03\x04") and not zipfile.is_zipfile(path):
        return "the workbook is damaged or truncated (not a complete zip archive)"
    if not zipfile.is_zipfile(path):
        kind = next((name for magic, name in _SIGNATURES.items() if head.startswith(magic)), None)
        what = kind or "not a zip archive, which every .xlsx workbook is"
        return (f"not an .xlsx workbook ({what}); save it from Excel as .xlsx, "
                "or give it its proper ending (.xls files: save as .xlsx or .csv)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        return f"the workbook is damaged or truncated (its zip structure: {err})"
    if "xl/workbook.xml" not in names:
        return ("a zip archive but not an Excel workbook (it has no xl/workbook.xml); "
                "check the file")
    return f"cannot read the workbook (damaged?): {type(exc).__name__}: {exc}"


def _fill_merged_ranges(frame: pd.DataFrame, path: str | Path, sheet: str | int) -> int:
    """Give every cell of a vertically merged range the range's value (in place); return how
    many cells were filled. See :mod:`fieldsurvey.ingest.workbook`."""
    try:
        ranges = merged_ranges(path, sheet)
    except Exception:  # noqa: BLE001 - an odd but readable workbook: read it without merges
        return 0
    filled = 0
    for r0, c0, r1, c1 in ranges:
        r1 = min(r1, len(frame) - 1)
        if r0 >= len(frame) or c1 >= frame.shape[1]:
            continue
        value = frame.iat[r0, c0]
        for c in range(c0, c1 + 1):
            for r in range(r0, r1 + 1):
                if (r, c) != (r0, c0) and pd.isna(frame.iat[r, c]):
                    frame.iat[r, c] = value
                    filled += 1
    return filled


def read_records(path: str | Path, delimiter: str | None = None) -> RawRecords:
    """Read a CSV/TSV/TXT or XLSX file as records of text (header rows included).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(p, "w").write("id,q1\\n1,5\\n2\\n")
    >>> rec = read_records(p)
    >>> (len(rec.records), rec.quarantine["row"].tolist())
    (2, [3])
    """
    suffix = Path(path).suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return read_excel_records(path)
    if suffix in (".sav", ".zsav", ".por", ".dta", ".sas7bdat", ".xpt", ".xls", ".json"):
        raise IngestError(
            path,
            None,
            "(file type)",
            f"{suffix} files are not read as delimited text here: "
            "platform exports are CSV/TSV/XLSX (or JSON for the Kobo and SurveyMonkey APIs); "
            "read SPSS/Stata/SAS item tables with fieldsurvey.io.read_table",
        )
    return read_text_records(path, delimiter)


def read_json(path: str | Path) -> Any:
    """Read a JSON file (UTF-8, BOM tolerated) with a clear error for bad JSON.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.json")
    >>> _ = open(p, "w").write('[{"a": 1}]')
    >>> read_json(p)
    [{'a': 1}]
    """
    file, _, text, _ = _read_and_decode(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(file, exc.lineno, None, f"invalid JSON: {exc.msg}") from None


def header_names(values: list[Any], file: str) -> list[str]:
    """Turn a header record into unique column names (blank -> ``unnamed_<n>``).

    Duplicates get ``__2``, ``__3`` suffixes so no column silently overwrites another.
    """
    names: list[str] = []
    seen: dict[str, int] = {}
    for position, value in enumerate(values, start=1):
        name = "" if value is None or pd.isna(value) else str(value).strip()
        if not name:
            name = f"unnamed_{position}"
        if name in seen:
            seen[name] += 1
            name = f"{name}__{seen[name]}"
        else:
            seen[name] = 1
        names.append(name)
    return names


@dataclass
class Body:
    """The data part of a table after its header rows are split off."""

    header: list[list[Any]]
    table: pd.DataFrame
    row_numbers: np.ndarray
    quarantine: pd.DataFrame


def split_header(records: RawRecords, header_rows: int, names: list[str] | None = None) -> Body:
    """Split ``header_rows`` header records off and name the data columns.

    Raises
    ------
    IngestError
        When a header row itself is malformed, or there are no data rows at all.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(p, "w").write("id,q1\\n1,5\\n")
    >>> split_header(read_records(p), 1).table.columns.tolist()
    ['id', 'q1']
    """
    file = records.file
    check_header(file, records.quarantine, records.row_numbers, header_rows)
    header = [records.records.iloc[i].tolist() for i in range(header_rows)]
    body = records.records.iloc[header_rows:].reset_index(drop=True)
    numbers = records.row_numbers[header_rows:]
    body.columns = names if names is not None else header_names(header[0], file)
    return Body(header, body, numbers, records.quarantine.reset_index(drop=True))


def check_header(file: str, quarantine: pd.DataFrame, row_numbers: np.ndarray,
                 header_rows: int) -> None:
    """Refuse a table whose ``header_rows`` header records are malformed or missing, or that has
    no data records at all (``row_numbers``: record number of each readable record).

    Raises
    ------
    IngestError
        Naming the header row that is malformed, or where the file ends.
    """
    bad_header = quarantine[quarantine["row"] <= header_rows]
    if len(bad_header):
        first = bad_header.iloc[0]
        raise IngestError(
            file, int(first["row"]), None, f"header row is malformed: {first['reason']}"
        )
    if len(row_numbers) < header_rows or not np.array_equal(
        row_numbers[:header_rows], np.arange(1, header_rows + 1)
    ):
        raise IngestError(
            file,
            len(row_numbers) + 1,
            None,
            f"expected {header_rows} header row(s); the file ends early",
        )
    if len(row_numbers) == header_rows and len(quarantine) == 0:
        raise IngestError(
            file, header_rows + 1, None, "the file has header row(s) but no responses"
        )
