"""An example report and inspectors for rendered outputs, used by tests and bench/.

:func:`build_example_report` writes a small but realistic organisation report (sections, a
table, four figures) from synthetic scores, so the rendering machinery can be exercised before
the compare stage supplies real content. The ``*_facts`` helpers read rendered HTML, PDF and
DOCX files back with the tools a reader would use (HTML parser, pdftotext/pypdf, python-docx).
"""

from __future__ import annotations

import base64
import binascii
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from fieldsurvey.report.document import ReportDocument
from fieldsurvey.report.figures import (
    band_stack_bars,
    funnel_plot,
    mean_bars,
    scale_distribution,
    trend_lines,
)

__all__ = [
    "EXAMPLE_HEADINGS",
    "HtmlFacts",
    "build_example_report",
    "docx_facts",
    "html_facts",
    "pdf_alt_texts",
    "data_uri_svg",
    "pdf_text",
]

EXAMPLE_HEADINGS = (
    "Summary",
    "Who took part",
    "Burnout and secondary traumatic stress",
    "Compared with the field",
    "About this report",
)

PROQOL_BANDS = [("Low", None, 22), ("Moderate", 23, 41), ("High", 42, None)]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def build_example_report(
    folder: str | Path,
    organisation: str = "Harbour Light Support Services",
    *,
    seed: int = 1,
    date: str = "2026-03-01",
) -> Path:
    """Write an example organisation report (``<folder>/report.qmd`` plus figures).

    Parameters
    ----------
    folder : str or Path
        Output folder; one folder per report.
    organisation : str
        Name printed in the report.
    seed : int
        Seed of the synthetic scores (different seeds give different reports).
    date : str
        Report date.

    Returns
    -------
    Path
        The written ``.qmd`` document.

    Examples
    --------
    >>> build_example_report("out/acme", "Acme Outreach")  # doctest: +SKIP
    PosixPath('out/acme/report.qmd')
    """
    folder = Path(folder)
    figures = folder / "figures"
    rng = np.random.default_rng(seed)
    n = int(rng.integers(25, 60))
    burnout = np.clip(np.round(rng.normal(24, 6, n)), 10, 50)
    sts = np.clip(np.round(rng.normal(22, 7, n)), 10, 50)
    lived = rng.random(n) < 0.3

    def ci(x: np.ndarray) -> tuple[float, float, float]:
        half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
        return float(x.mean()), float(x.mean() - half), float(x.mean() + half)

    mean_rows = []
    for scale, values in (("Burnout", burnout), ("Secondary traumatic stress", sts)):
        for series, subset in (
            ("Lived-experience staff", values[lived]),
            ("Other staff", values[~lived]),
            ("Field", rng.normal(values.mean() - 1, 6, 400)),
        ):
            m, lo, hi = ci(subset)
            mean_rows.append((scale, series, m, lo, hi))
    means = pd.DataFrame(mean_rows, columns=["group", "series", "mean", "ci_low", "ci_high"])

    def shares(values: np.ndarray) -> list[float]:
        counts = [
            (values <= 22).sum(),
            ((values >= 23) & (values <= 41)).sum(),
            (values >= 42).sum(),
        ]
        return [c / len(values) for c in counts]

    band_rows = []
    for group, values in (("Burnout", burnout), ("Secondary traumatic stress", sts)):
        for band, share in zip(("Low", "Moderate", "High"), shares(values), strict=True):
            band_rows.append((group, band, share))
    bands = pd.DataFrame(band_rows, columns=["group", "band", "share"])

    units = [f"Org {i:02d}" for i in range(1, 25)]
    sizes = rng.integers(8, 120, len(units))
    funnel = pd.DataFrame(
        {
            "unit": units + [organisation],
            "n": list(sizes) + [n],
            "value": list(23 + rng.normal(0, 6, len(units)) / np.sqrt(sizes)) + [burnout.mean()],
        }
    )
    trend = pd.DataFrame(
        {
            "wave": ["2023", "2024", "2025", "2026"] * 2,
            "series": [organisation] * 4 + ["Field"] * 4,
            "value": list(np.round(burnout.mean() + rng.normal(0, 1.2, 4), 1))
            + [23.4, 23.1, 23.6, 23.2],
        }
    )

    fig_dist = scale_distribution(
        burnout,
        figures / "burnout-distribution.png",
        scale_label="Burnout",
        bands=PROQOL_BANDS,
        score_range=(10, 50),
    )
    fig_means = mean_bars(means, figures / "means.png", value_label="Mean score")
    fig_bands = band_stack_bars(bands, figures / "bands.png")
    fig_funnel = funnel_plot(
        funnel,
        figures / "funnel.png",
        centre=23.0,
        spread=6.0,
        value_label="Mean burnout score",
        highlight=organisation,
    )
    fig_trend = trend_lines(trend, figures / "trend.png", value_label="Mean burnout score")

    table = pd.DataFrame(
        {
            "Scale": ["Compassion satisfaction", "Burnout", "Secondary traumatic stress"],
            "n": [n, n, n],
            "Mean": [38.2, burnout.mean(), sts.mean()],
            "SD": [6.1, burnout.std(ddof=1), sts.std(ddof=1)],
            "Alpha": [0.88, 0.74, 0.81],
        }
    )
    doc = ReportDocument(
        f"Staff wellbeing survey: {organisation}",
        subtitle="ProQOL 5 results, spring wave",
        date=date,
    )
    doc.heading("Summary").paragraph(
        f"**{n} staff** of {organisation} answered the survey. Burnout is in the *moderate* "
        "band for most staff; the figures below show how scores spread and how they compare "
        "with other organisations in the field."
    ).bullets(
        [
            "Scores are ProQOL 5 prorated sums (at least 8 of 10 items answered).",
            "Groups with fewer than 5 respondents are not shown.",
        ]
    )
    doc.heading("Who took part").paragraph(
        "The table gives the scale means, standard deviations and reliability (Cronbach's "
        "alpha) on this organisation's own data."
    ).table(table, "ProQOL 5 scale scores", decimals={"Alpha": 2})
    doc.heading("Burnout and secondary traumatic stress").figure(fig_dist).figure(fig_bands)
    doc.heading("Compared with the field").figure(fig_means).figure(fig_funnel)
    doc.heading("Trend", level=2).figure(fig_trend)
    return doc.write(folder / "report.qmd")


# --------------------------------------------------------------------------------------------
# Inspectors
# --------------------------------------------------------------------------------------------


@dataclass
class HtmlFacts:
    """What a reader of the HTML sees: images (src, alt), headings, tables, scripts/links."""

    images: list[dict[str, str]] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    tables: int = 0
    external: list[str] = field(default_factory=list)
    lang: str | None = None


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.facts = HtmlFacts()
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.facts.lang = a.get("lang")
        elif tag == "img":
            self.facts.images.append(a)
        elif tag == "table":
            self.facts.tables += 1
        elif tag in ("h1", "h2", "h3", "h4"):
            self._heading = []
        if tag in ("script", "img", "iframe") and a.get("src", "").startswith(("http", "//")):
            self.facts.external.append(a["src"])
        if tag == "link" and a.get("href", "").startswith(("http", "//")):
            self.facts.external.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3", "h4") and self._heading is not None:
            self.facts.headings.append(" ".join("".join(self._heading).split()))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)


def html_facts(path: str | Path) -> HtmlFacts:
    """Parse a rendered HTML report."""
    collector = _Collector()
    collector.feed(Path(path).read_text(encoding="utf-8"))
    return collector.facts


def data_uri_png(src: str) -> bytes | None:
    """Decode a ``data:image/png;base64,`` URI; None if it is not one or is not a PNG."""
    prefix = "data:image/png;base64,"
    if not src.startswith(prefix):
        return None
    try:
        payload = base64.b64decode(src[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    return payload if payload.startswith(PNG_SIGNATURE) else None


def data_uri_svg(src: str) -> bytes | None:
    """Decode a ``data:image/svg+xml;base64,`` URI; None if it is not one or holds no SVG."""
    prefix = "data:image/svg+xml;base64,"
    if not src.startswith(prefix):
        return None
    try:
        payload = base64.b64decode(src[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    return payload if b"<svg" in payload[:2000] else None


def pdf_text(path: str | Path) -> str:
    """Text of a PDF (pdftotext when installed, else pypdf)."""
    if shutil.which("pdftotext"):
        result = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True
        )
        return result.stdout.decode("utf-8", "replace")
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def pdf_alt_texts(path: str | Path) -> list[str]:
    """Alt texts in a tagged PDF's structure tree, in document order (typst writes one per
    image it was given ``alt:`` for)."""
    from pypdf import PdfReader

    root = PdfReader(str(path)).trailer["/Root"]
    found: list[str] = []

    def walk(node: object) -> None:
        node = node.get_object() if hasattr(node, "get_object") else node
        if isinstance(node, dict):
            if "/Alt" in node:
                found.append(str(node["/Alt"]))
            if "/K" in node:
                walk(node["/K"])
        elif isinstance(node, list):
            for child in node:
                walk(child)

    if "/StructTreeRoot" in root:
        walk(root["/StructTreeRoot"])
    return found


def docx_facts(path: str | Path) -> dict[str, object]:
    """Headings (style name starting 'Heading' or 'Title'), tables and picture descriptions."""
    import docx

    document = docx.Document(str(path))
    headings = [
        p.text
        for p in document.paragraphs
        if p.style is not None and p.style.name.startswith(("Heading", "Title"))
    ]
    tables = [[[cell.text for cell in row.cells] for row in t.rows] for t in document.tables]
    descriptions = [
        el.get("descr", "") for el in document.element.body.iter() if el.tag.endswith("}docPr")
    ]
    return {"headings": headings, "tables": tables, "picture_descriptions": descriptions}


# --------------------------------------------------------------------------------------------
# Headless Chromium
# --------------------------------------------------------------------------------------------

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
)

# Injected first in <head>: records script errors and failed resource loads (capture phase).
_PROBE_HEAD = (
    "<script>window.__fsErrors=[];window.addEventListener('error',function(e){"
    "window.__fsErrors.push(String(e.message||(e.target&&(e.target.src||e.target.href))"
    "||'error'));},true);</script>"
)
# Injected before </body>: after load, writes what it found into a body attribute that
# --dump-dom prints.
_PROBE_END = (
    "<script>window.addEventListener('load',function(){var imgs=[].slice.call(document.images);"
    "var bad=imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0);})"
    ".map(function(i){return i.getAttribute('src').slice(0,60);});"
    "var noalt=imgs.filter(function(i){return !(i.getAttribute('alt')||'').trim();}).length;"
    "document.body.setAttribute('data-fs-probe',JSON.stringify({images:imgs.length,"
    "broken:bad,without_alt:noalt,errors:window.__fsErrors}));});</script>"
)


def chromium_path() -> str | None:
    """The first Chromium/Chrome executable on PATH, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_chromium(args: list[str], profile: Path, timeout: float = 60) -> tuple[str, str]:
    browser = chromium_path()
    if browser is None:
        raise FileNotFoundError("no chromium on PATH (apt-get install -y chromium)")
    command = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"chromium exited {result.returncode}: {' '.join(command)}\n"
            + result.stderr.decode("utf-8", "replace")[-2000:]
        )
    return result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace")


def browser_probe(html: str | Path, workdir: str | Path) -> dict[str, object]:
    """Load a page in headless Chromium and report images, broken images and errors.

    A copy of the page with two small probe scripts is loaded (the report itself is not
    changed); the console messages of the unmodified page are collected separately from
    Chromium's log.

    Returns
    -------
    dict
        ``images`` (count), ``broken`` (src prefixes of images that did not decode),
        ``without_alt`` (images whose alt attribute is missing or blank),
        ``errors`` (script errors / failed loads seen by the probe) and ``console``
        (console messages Chromium logged for the unmodified page).
    """
    import json
    import re

    html, workdir = Path(html).resolve(), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    text = html.read_text(encoding="utf-8")
    probe = html.with_name(f".{html.stem}.probe.html")
    if "<head>" not in text or "</body>" not in text:
        raise ValueError(f"{html}: no <head>/<body> to attach the probe to")
    probe.write_text(
        text.replace("<head>", "<head>" + _PROBE_HEAD, 1).replace(
            "</body>", _PROBE_END + "</body>", 1
        ),
        encoding="utf-8",
    )
    try:
        dom, _ = _run_chromium(
            ["--virtual-time-budget=5000", "--dump-dom", probe.as_uri()], workdir / "profile-a"
        )
    finally:
        probe.unlink()
    match = re.search(r'data-fs-probe="([^"]*)"', dom)
    if match is None:
        raise RuntimeError(f"{html}: the browser probe did not run (no data-fs-probe in DOM)")
    import html as html_lib

    facts = json.loads(html_lib.unescape(match.group(1)))
    _, log = _run_chromium(
        [
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
            html.as_uri(),
        ],
        workdir / "profile-b",
    )
    facts["console"] = re.findall(r":CONSOLE[^\]]*\] (.*)", log)
    return facts


def browser_screenshot(
    html: str | Path, png: str | Path, workdir: str | Path, size: tuple[int, int] = (1200, 1600)
) -> Path:
    """Screenshot of the page's first ``size`` pixels in headless Chromium."""
    html, png = Path(html).resolve(), Path(png).resolve()
    _run_chromium(
        [f"--window-size={size[0]},{size[1]}", f"--screenshot={png}", html.as_uri()],
        Path(workdir) / "profile-shot",
    )
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot {png}")
    return png


def image_spread(png: str | Path) -> float:
    """Standard deviation of grey levels (0-255): near 0 means a blank page."""
    from PIL import Image

    with Image.open(png) as image:
        grey = np.asarray(image.convert("L"), dtype=float)
    return float(grey.std())


# --------------------------------------------------------------------------------------------
# Plain text of rendered outputs (for searching reports for values that must not be there)
# --------------------------------------------------------------------------------------------


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for key, value in attrs:
            if key in ("alt", "title") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(path: str | Path) -> str:
    """Everything a reader or screen reader gets from an HTML file: text plus alt/title text.

    Examples
    --------
    >>> "Summary" in html_text("out/field/report.html")  # doctest: +SKIP
    True
    """
    collector = _TextCollector()
    collector.feed(Path(path).read_text(encoding="utf-8"))
    return " ".join(" ".join(collector.parts).split())


def docx_text(path: str | Path) -> str:
    """All paragraph, table-cell and picture-description text of a DOCX file."""
    import docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    parts.extend(
        el.get("descr", "") for el in document.element.body.iter() if el.tag.endswith("}docPr")
    )
    return " ".join(" ".join(parts).split())


# --------------------------------------------------------------------------------------------
# Layout of rendered pages: text that collides in the PDF, tables wider than the page or screen
# --------------------------------------------------------------------------------------------

#: The reports' PDF margin (reports/_quarto.yml: 2 cm) in PDF points.
PDF_MARGIN = 72 / 2.54 * 2
_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)
_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', re.S
)


@dataclass(frozen=True)
class PdfWord:
    """One word of a PDF page as ``pdftotext -bbox`` places it (points, origin top left)."""

    page: int
    text: str
    x0: float
    y0: float
    x1: float
    y1: float


def pdftotext_path() -> str | None:
    """The pdftotext executable (poppler-utils) on PATH, or None."""
    return shutil.which("pdftotext")


def pdf_words(path: str | Path) -> tuple[list[tuple[float, float]], list[PdfWord]]:
    """Page sizes and every word with its box, read with ``pdftotext -bbox``."""
    import html as html_lib

    result = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], capture_output=True, check=True
    )
    text = result.stdout.decode("utf-8", "replace")
    sizes, words = [], []
    for number, page in enumerate(_PAGE.finditer(text), start=1):
        sizes.append((float(page.group(1)), float(page.group(2))))
        for m in _WORD.finditer(page.group(3)):
            x0, y0, x1, y1 = (float(m.group(i)) for i in range(1, 5))
            words.append(PdfWord(number, html_lib.unescape(m.group(5)), x0, y0, x1, y1))
    return sizes, words


def _same_line(a: PdfWord, b: PdfWord) -> bool:
    shared = min(a.y1, b.y1) - max(a.y0, b.y0)
    return shared > 0.5 * min(a.y1 - a.y0, b.y1 - b.y0)


def pdf_layout_problems(
    path: str | Path, margin: float = PDF_MARGIN, tolerance: float = 0.5, overhang: float = 3.0
) -> list[str]:
    """Words that collide or leave the text area in a PDF, one message each.

    Four defects are found from the text layer alone: two words on one line whose boxes
    overlap (a header "Published" running into "This study"), two table cells that touch so
    that pdftotext reads them as one word ("0.100.427": the word holds the start of a second
    text run), a word that reaches into the side margin or off the page (a table wider than
    the page), and a word broken by hyphenation (a header split into "Al-pha").

    Parameters
    ----------
    path : str or Path
        The PDF.
    margin : float
        Side margin in points; text must lie between it and the page width minus it.
    tolerance : float
        Points of overlap between words that are ignored (glyph boxes touch at kerning).
    overhang : float
        Points a word may reach into the margin: pdftotext's boxes are the font's, a little
        wider than the glyphs, so a full line of body text ends about 2 pt past the margin.

    Returns
    -------
    list of str
        Empty when the layout is clean.
    """
    sizes, words = pdf_words(path)
    problems = []
    for word in words:
        width = sizes[word.page - 1][0]
        if word.x0 < margin - overhang or word.x1 > width - margin + overhang:
            problems.append(
                f"page {word.page}: {word.text!r} at x {word.x0:.0f}-{word.x1:.0f} leaves the "
                f"text area ({margin:.0f} to {width - margin:.0f})"
            )
        if word.text.endswith(("\u00ad", "\u2010")):
            problems.append(f"page {word.page}: {word.text!r} is hyphenated")
    problems += _merged_cells(path, sizes, words)
    ordered = sorted(words, key=lambda w: (w.page, w.y0, w.x0))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.page != a.page or b.y0 >= a.y1:
                break
            overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
            if overlap > tolerance and _same_line(a, b):
                problems.append(
                    f"page {a.page}: {a.text!r} and {b.text!r} overlap by {overlap:.1f} pt"
                )
    return problems


def _run_starts(path: str | Path) -> list[list[tuple[float, float, str]]]:
    """Per page, where each text-showing run begins (x, baseline from the top, its text).

    Typst writes every table cell as its own run, so a run starting inside a word that
    pdftotext reports means two cells with no gap between them.
    """
    import pypdf

    pages = []
    for page in pypdf.PdfReader(str(path)).pages:
        height = float(page.mediabox.height)
        runs: list[tuple[float, float, str]] = []

        def visit(text: str, cm: list, tm: list, *_: object, runs: list = runs,
                  height: float = height) -> None:
            if text.strip():
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                runs.append((x, height - y, text.strip()))

        page.extract_text(visitor_text=visit)
        pages.append(runs)
    return pages


def _merged_cells(
    path: str | Path, sizes: list[tuple[float, float]], words: list[PdfWord]
) -> list[str]:
    starts = _run_starts(path)
    problems = []
    for word in words:
        for x, baseline, text in starts[word.page - 1]:
            inside = word.x0 + 1.0 < x < word.x1 - 1.0 and word.y0 <= baseline <= word.y1
            first = text.split()[0]
            at = word.text.rfind(first)
            # Punctuation after an italic word starts a run inside a word too; only two runs
            # that both hold letters or digits are two cells read as one.
            if inside and first[0].isalnum() and at > 0 and any(
                c.isalnum() for c in word.text[:at]
            ):
                problems.append(
                    f"page {word.page}: {word.text!r} is two cells with no space between them"
                )
                break
    return problems


# Injected before </body>: after load, measures every table and image against the element
# that holds it, and the page against the window, and writes the findings into a body
# attribute that --dump-dom prints.
_LAYOUT_PROBE = (
    "<script>window.addEventListener('load',function(){var out={viewport:innerWidth,"
    "page:document.documentElement.scrollWidth,tables:0,overflowing:[]};"
    "[].slice.call(document.querySelectorAll('table,img,svg,figure,pre')).forEach(function(e){"
    "if(e.tagName==='TABLE'){out.tables+=1;}"
    "var box=e.getBoundingClientRect(),holder=e.parentElement.getBoundingClientRect();"
    "if(box.right>holder.right+1||box.left<holder.left-1||box.right>innerWidth+1){"
    "var c=e.querySelector&&e.querySelector('caption');"
    "out.overflowing.push(e.tagName+': '+((c&&c.textContent)||e.getAttribute('alt')||'')"
    ".slice(0,60)+' ('+Math.round(box.width)+' px in '+Math.round(holder.width)+' px)');}});"
    "document.body.setAttribute('data-fs-layout',JSON.stringify(out));});</script>"
)


def _layout_harness(html: Path, width: int, height: int) -> str:
    """A page showing the report in a ``width`` x ``height`` frame.

    Headless Chromium will not open a window narrower than 500 px, so a phone-width screen is
    a frame of that width: the report inside sees a viewport of exactly ``width`` pixels (its
    media queries included). ``srcdoc`` keeps the frame same-origin, so the harness can read
    what the probe inside it found.
    """
    import html as html_lib

    text = html.read_text(encoding="utf-8")
    if "</body>" not in text:
        raise ValueError(f"{html}: no </body> to attach the probe to")
    framed = html_lib.escape(text.replace("</body>", _LAYOUT_PROBE + "</body>", 1), quote=True)
    return (
        "<!DOCTYPE html><html><head><style>body{margin:0}iframe{border:0;display:block}"
        "</style></head><body>"
        f'<iframe width="{width}" height="{height}" srcdoc="{framed}"></iframe>'
        "<script>window.addEventListener('load',function(){document.body.setAttribute("
        "'data-fs-layout',frames[0].document.body.getAttribute('data-fs-layout')||'');});"
        "</script></body></html>"
    )


def browser_layout(
    html: str | Path, workdir: str | Path, width: int, screenshot: str | Path | None = None
) -> dict[str, object]:
    """Lay a page out in headless Chromium ``width`` pixels wide and report what overflows.

    Parameters
    ----------
    html : str or Path
        The rendered report.
    workdir : str or Path
        Scratch folder for browser profiles.
    width : int
        Viewport width in CSS pixels (400 for a phone, 1280 for a laptop).
    screenshot : str or Path, optional
        Also save a PNG of the first 1600 px of the page at that width, to look at.

    Returns
    -------
    dict
        ``viewport`` (window width in px as the page saw it), ``page`` (the document's scroll
        width: above the viewport means the whole page scrolls sideways), ``tables`` (count)
        and ``overflowing`` (tables, images and figures wider than the element holding them or
        than the window, each described by its caption or alt text and widths).
    """
    import html as html_lib
    import json

    html, workdir = Path(html).resolve(), Path(workdir)
    harness = html.with_name(f".{html.stem}.layout-{width}.html")
    harness.write_text(_layout_harness(html, width, 1600), encoding="utf-8")
    window = f"--window-size={max(width, 500)},1600"
    try:
        dom, _ = _run_chromium(
            [window, "--virtual-time-budget=5000", "--dump-dom", harness.as_uri()],
            workdir / f"profile-layout-{width}",
        )
        if screenshot is not None:
            _run_chromium(
                [window, f"--screenshot={Path(screenshot).resolve()}", harness.as_uri()],
                workdir / f"profile-layout-shot-{width}",
            )
    finally:
        harness.unlink()
    match = re.search(r'data-fs-layout="([^"]+)"', dom)
    if match is None:
        raise RuntimeError(f"{html}: the layout probe did not run (no data-fs-layout in DOM)")
    return json.loads(html_lib.unescape(match.group(1)))
