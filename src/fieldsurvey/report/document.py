"""Build the report document: Quarto-flavoured markdown that plain pandoc renders the same way.

A :class:`ReportDocument` collects headings, paragraphs, tables and figures and writes one
``.qmd`` file from the bundled template ``reports/field-report.qmd.tmpl``. Only syntax both
engines understand is written (see docs/reports.md):

* a YAML header (title, subtitle, author, date, lang);
* ATX headings, paragraphs, bullet lists, pipe tables with a ``: caption`` line;
* figures as ``![caption](path){fig-alt="alt text"}``, with a pandoc Lua filter shipped in
  ``reports/`` turning ``fig-alt`` into the real ``alt`` attribute;
* no Quarto cross-references (``@fig-x``), shortcodes (``{{< >}}``), callout divs or raw HTML,
  which pandoc would leave dangling or drop in PDF/DOCX.

The date is never taken from the clock: pass it, or set ``SOURCE_DATE_EPOCH``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from string import Template

import pandas as pd
import yaml

from fieldsurvey import __version__
from fieldsurvey.errors import FieldsurveyError
from fieldsurvey.report.figures import Figure
from fieldsurvey.resources import data_dir

__all__ = [
    "DocumentError",
    "ReportDocument",
    "check_portable_text",
    "format_number",
    "format_p",
    "markdown_table",
]

TEMPLATE_NAME = "field-report.qmd.tmpl"

# Syntax one engine understands and the other does not.
_NOT_PORTABLE = [
    (re.compile(r"(?<![\w\\])@(fig|tbl|sec|eq|lst|thm)-[\w-]+"), "Quarto cross-reference"),
    (re.compile(r"\{\{<"), "Quarto shortcode"),
    (re.compile(r"^\s*:::", re.MULTILINE), "fenced div / callout"),
    (re.compile(r"<\s*/?\s*[A-Za-z][^>]*>"), "raw HTML tag"),
    (re.compile(r"^\s*#", re.MULTILINE), "heading inside text (use heading())"),
]
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._/-]+$")


class DocumentError(FieldsurveyError, ValueError):
    """A report document cannot be built: non-portable text, bad table or figure."""


def check_portable_text(text: str, where: str = "text") -> str:
    """Return ``text`` with citation-like ``@name`` escaped; raise on non-portable syntax.

    Parameters
    ----------
    text : str
        Markdown for one paragraph, list item or caption (emphasis and links are fine).
    where : str
        What the text is, for the error message.

    Raises
    ------
    DocumentError
        Naming the construct (cross-reference, shortcode, div, raw HTML, heading).

    Examples
    --------
    >>> check_portable_text("Contact @team or a@b.org")
    'Contact \\\\@team or a@b.org'
    """
    for pattern, name in _NOT_PORTABLE:
        match = pattern.search(text)
        if match:
            raise DocumentError(
                f"{where}: {name} {match.group(0)!r} is not portable between Quarto and "
                "pandoc; see docs/reports.md for the allowed syntax"
            )
    # A bare @word is a citation to pandoc/Quarto; nobody here means one.
    return re.sub(r"(?<![\w\\])@(?=\w)", r"\\@", text)


def format_number(value: float, decimals: int = 1) -> str:
    """A number with fixed decimals, never a negative zero.

    Examples
    --------
    >>> format_number(-0.04), format_number(-0.05, 2), format_number(3.14159, 2)
    ('0.0', '-0.05', '3.14')
    """
    text = f"{float(value):.{decimals}f}"
    # -0.04 rounds to "-0.0": a sign on a printed zero reads as a real negative difference.
    if text.startswith("-") and not any(c in "123456789" for c in text):
        text = text[1:]
    return text


def format_p(value: float) -> str:
    """A p value as reports print it: three decimals without the leading zero, "< .001" below.

    Examples
    --------
    >>> format_p(0.0321), format_p(0.00002), format_p(1.0)
    ('.032', '< .001', '1.000')
    """
    if float(value) < 0.001:
        return "< .001"
    text = f"{float(value):.3f}"
    return text[1:] if text.startswith("0") else text


def _escape_cell(value: object) -> str:
    text = " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|")


def markdown_table(
    data: pd.DataFrame,
    caption: str,
    *,
    decimals: int | dict[str, int] = 1,
    index: bool = False,
    missing: str = "–",
    pvalues: Sequence[str] = (),
) -> str:
    """Write a DataFrame as a pipe table with a caption that pandoc and Quarto both render.

    Numeric columns are right-aligned and formatted with a fixed number of decimals (a dict
    maps column name to decimals); integers keep no decimals; missing values print ``missing``.
    Rounding is Python's ``format``, which like R's ``sprintf`` rounds an exactly representable
    half to even (22.25 -> "22.2"); round beforehand if a table needs half-up.

    Parameters
    ----------
    data : DataFrame
        The table; column names become the header.
    caption : str
        Table caption (required: every report table is captioned).
    decimals : int or dict of str to int
        Decimals for float columns.
    index : bool
        Include the index as the first column.
    missing : str
        Text for missing values.
    pvalues : sequence of str
        Columns holding p values, printed by :func:`format_p` ("< .001", ".032").

    Returns
    -------
    str
        Markdown: header, alignment row, body rows, blank line, ``: caption``.

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"Scale": ["Burnout"], "Mean": [22.25]}), "Means"))
    | Scale   |   Mean |
    |:--------|-------:|
    | Burnout |   22.2 |
    <BLANKLINE>
    : Means
    """
    if not isinstance(caption, str) or not caption.strip():
        raise DocumentError("markdown_table: every table needs a caption")
    if data.shape[1] == 0:
        raise DocumentError(f"markdown_table {caption!r}: the table has no columns")
    frame = data.reset_index() if index else data
    headers = [_escape_cell(c) for c in frame.columns]
    columns: list[list[str]] = []
    right: list[bool] = []
    for name in frame.columns:
        col = frame[name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        places = decimals.get(str(name), 1) if isinstance(decimals, dict) else decimals
        cells = []
        for value in col.tolist():
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                cells.append(missing)
            elif numeric and str(name) in pvalues:
                cells.append(format_p(value))
            elif numeric and pd.api.types.is_integer_dtype(col):
                cells.append(str(int(value)))
            elif numeric:
                cells.append(format_number(value, places))
            else:
                cells.append(_escape_cell(value))
        columns.append(cells)
        right.append(numeric)
    widths = [
        max(3, len(h), *(len(c) for c in cells)) for h, cells in zip(headers, columns, strict=True)
    ]

    def row(cells: Sequence[str]) -> str:
        out = []
        for cell, width, is_right in zip(cells, widths, right, strict=True):
            out.append(cell.rjust(width) if is_right else cell.ljust(width))
        return "| " + " | ".join(out) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if r else (":" + "-" * (w + 1))
            for w, r in zip(widths, right, strict=True)
        )
        + "|"
    )
    lines = [row(headers), rule]
    lines += [row([col[i] for col in columns]) for i in range(len(frame))]
    text = "\n".join(lines)
    return f"{text}\n\n: {check_portable_text(caption.strip(), 'table caption')}"


def _date_from_environment() -> str | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date().isoformat()


class ReportDocument:
    """A report under construction; :meth:`write` turns it into a ``.qmd`` file.

    Parameters
    ----------
    title : str
        Report title.
    date : str or date, optional
        Report date (ISO ``YYYY-MM-DD``). Default: the date of ``SOURCE_DATE_EPOCH`` if set,
        otherwise no date. The clock is never read, so reruns give identical files.
    subtitle, author : str, optional
        Shown under the title.
    lang : str
        BCP 47 language tag of the text (sets ``<html lang>`` and hyphenation).

    Examples
    --------
    >>> doc = ReportDocument("Staff wellbeing survey 2026", date="2026-03-01")
    >>> _ = doc.heading("Summary").paragraph("Fifty-two staff took part.")
    >>> _ = doc.table(pd.DataFrame({"Scale": ["Burnout"], "Mean": [22.4]}), "Scale means")
    >>> doc.write("out/report.qmd")  # doctest: +SKIP
    """

    def __init__(
        self,
        title: str,
        *,
        date: str | dt.date | None = None,
        subtitle: str | None = None,
        author: str | Sequence[str] | None = None,
        lang: str = "en-GB",
    ) -> None:
        if not title or not title.strip():
            raise DocumentError("a report needs a title")
        if isinstance(date, dt.date):
            date = date.isoformat()
        if date is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            raise DocumentError(f"report date must be YYYY-MM-DD, got {date!r}")
        self.title = title
        self.date = date if date is not None else _date_from_environment()
        self.subtitle = subtitle
        self.author = author
        self.lang = lang
        self._blocks: list[str | Figure] = []
        self._figure_ids: set[str] = set()

    # -- content ----------------------------------------------------------------------------

    def heading(self, text: str, level: int = 1) -> ReportDocument:
        """Add a section heading (level 1-4)."""
        if level not in (1, 2, 3, 4):
            raise DocumentError(f"heading {text!r}: level must be 1-4, got {level}")
        clean = " ".join(text.split())
        if not clean:
            raise DocumentError("empty heading")
        self._blocks.append("#" * level + " " + check_portable_text(clean, f"heading {clean!r}"))
        return self

    def paragraph(self, text: str) -> ReportDocument:
        """Add a paragraph of markdown text (emphasis, links; no headings, HTML or divs)."""
        clean = text.strip()
        if not clean:
            raise DocumentError("empty paragraph")
        if "\n\n" in clean:
            raise DocumentError("one paragraph at a time: the text has a blank line")
        self._blocks.append(check_portable_text(clean, "paragraph"))
        return self

    def bullets(self, items: Iterable[str]) -> ReportDocument:
        """Add a bullet list, one item per string."""
        lines = ["- " + check_portable_text(" ".join(str(i).split()), "list item") for i in items]
        if not lines:
            raise DocumentError("empty bullet list")
        self._blocks.append("\n".join(lines))
        return self

    def table(
        self,
        data: pd.DataFrame,
        caption: str,
        *,
        decimals: int | dict[str, int] = 1,
        index: bool = False,
        missing: str = "–",
        pvalues: Sequence[str] = (),
    ) -> ReportDocument:
        """Add a captioned pipe table (see :func:`markdown_table`)."""
        self._blocks.append(
            markdown_table(
                data, caption, decimals=decimals, index=index, missing=missing, pvalues=pvalues
            )
        )
        return self

    def figure(self, figure: Figure) -> ReportDocument:
        """Add a figure; only :class:`~fieldsurvey.report.figures.Figure` records (with caption
        and alt text) are accepted."""
        if not isinstance(figure, Figure):
            raise DocumentError(
                f"figure must be a fieldsurvey.report.figures.Figure with caption and alt "
                f"text, got {type(figure).__name__}"
            )
        if not figure.path.is_file():
            raise DocumentError(f"figure file not found: {figure.path}")
        self._blocks.append(figure)
        return self

    # -- output -----------------------------------------------------------------------------

    def front_matter(self) -> dict[str, object]:
        """The YAML header as a dict (only keys both engines read)."""
        meta: dict[str, object] = {"title": self.title}
        if self.subtitle:
            meta["subtitle"] = self.subtitle
        if self.author:
            meta["author"] = [self.author] if isinstance(self.author, str) else list(self.author)
        if self.date:
            meta["date"] = self.date
        meta["lang"] = self.lang
        return meta

    def _figure_markdown(self, figure: Figure, document: Path) -> str:
        target = _place_figure(figure.path, document)
        caption = check_portable_text(" ".join(figure.caption.split()), "figure caption")
        caption = caption.replace("[", "\\[").replace("]", "\\]")
        alt = " ".join(figure.alt_text.split()).replace("\\", "\\\\").replace('"', '\\"')
        return f'![{caption}]({target}){{fig-alt="{alt}"}}'

    def to_markdown(self, document: str | Path) -> str:
        """The full document text; figure paths are made relative to ``document``'s folder
        (figures outside it are copied into ``<stem>_figures/``)."""
        document = Path(document).resolve()
        body = []
        for block in self._blocks:
            body.append(
                self._figure_markdown(block, document) if isinstance(block, Figure) else block
            )
        if not body:
            raise DocumentError("the report has no content")
        template = Template((data_dir("reports") / TEMPLATE_NAME).read_text(encoding="utf-8"))
        header = yaml.safe_dump(
            self.front_matter(), sort_keys=False, allow_unicode=True, default_flow_style=False
        )
        return template.substitute(front_matter=header, body="\n\n".join(body), version=__version__)

    def write(self, path: str | Path) -> Path:
        """Write the document (UTF-8, LF line ends) and return its path.

        Examples
        --------
        >>> ReportDocument("T", date="2026-01-01").paragraph("Hi").write("r.qmd")  # doctest: +SKIP
        PosixPath('r.qmd')
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = self.to_markdown(path)
        path.write_bytes(text.encode("utf-8"))
        return path


def _place_figure(source: Path, document: Path) -> str:
    """Relative POSIX path from the document's folder to the figure, copying it there if
    it lives elsewhere or its path has characters markdown links handle badly."""
    source = source.resolve()
    folder = document.parent
    try:
        relative = source.relative_to(folder).as_posix()
    except ValueError:
        relative = None
    if relative is not None and _SAFE_PATH.match(relative):
        return relative
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "-", source.name)
    safe_stem = re.sub(r"[^A-Za-z0-9._-]+", "-", document.stem)
    target = folder / f"{safe_stem}_figures" / safe_name
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.resolve() != source:
        shutil.copyfile(source, target)
    return target.relative_to(folder).as_posix()
