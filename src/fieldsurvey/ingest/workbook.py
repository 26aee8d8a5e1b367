"""Merged cells of an XLSX worksheet, read straight from the workbook's XML.

People who keep survey data in a spreadsheet often merge the cells of a column over the rows that
share a value (one organisation name beside all of its staff's rows). A reader sees the value in
the merged range's first cell only and the other cells empty, so every row but the first would
have "no organisation". Merged cells mean the value of the merged range: the reader fills every
cell of a range spanning several rows with it. Ranges within one row (a heading spread over
several columns) are left alone: filling them would repeat a heading as column names.

The ranges are read from the sheet's ``<mergeCells>`` element with a streaming XML parser (openpyxl
only reports them after loading every cell in its slow full mode).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

_CELL = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def cell_position(ref: str) -> tuple[int, int]:
    """0-based ``(row, column)`` of an A1-style cell reference.

    Examples
    --------
    >>> cell_position("B3"), cell_position("AA10")
    ((2, 1), (9, 26))
    """
    match = _CELL.match(ref.strip().upper())
    if match is None:
        raise ValueError(f"not a cell reference: {ref!r}")
    column = 0
    for char in match.group(1):
        column = column * 26 + (ord(char) - ord("A") + 1)
    return int(match.group(2)) - 1, column - 1


def _sheet_part(archive: zipfile.ZipFile, sheet: str | int) -> str:
    """The zip member holding a worksheet, by position or name."""
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    sheets = book.findall(f"{_MAIN}sheets/{_MAIN}sheet")
    chosen = sheets[sheet] if isinstance(sheet, int) else next(
        s for s in sheets if s.get("name") == sheet)
    rel_id = chosen.get(f"{_REL}id")
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    target = next(r.get("Target") for r in rels.findall(f"{_PKG_REL}Relationship")
                  if r.get("Id") == rel_id)
    return target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)


def merged_ranges(path: str | Path, sheet: str | int = 0) -> list[tuple[int, int, int, int]]:
    """The sheet's merged ranges that span several rows.

    Returns
    -------
    list of (first_row, first_column, last_row, last_column)
        0-based from cell A1 (where pandas starts a sheet it reads) and inclusive, for every
        merged range covering more than one row.

    Raises
    ------
    KeyError, StopIteration, ValueError, zipfile.BadZipFile, ElementTree.ParseError
        When the workbook does not have the parts a valid XLSX has (the caller has already read
        the workbook, so this only happens for unusual files).
    """
    ranges: list[tuple[int, int, int, int]] = []
    with zipfile.ZipFile(path) as archive:
        with archive.open(_sheet_part(archive, sheet)) as part:
            for _, element in ElementTree.iterparse(part, events=("end",)):
                tag = element.tag
                if tag == f"{_MAIN}mergeCell":
                    first, _, last = element.get("ref", "").partition(":")
                    if last:
                        (r0, c0), (r1, c1) = cell_position(first), cell_position(last)
                        if r1 > r0:
                            ranges.append((r0, c0, r1, c1))
                elif tag == f"{_MAIN}row":
                    element.clear()  # rows are not needed: keep memory flat on big sheets
    return ranges
