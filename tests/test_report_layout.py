"""The rendered reports read as pages: nothing collides in the PDF, nothing overflows on screen.

A study of 25 organisations (2 waves) is rendered once: the field-wide report and one
organisation's report (its own results shown, so its tables carry real numbers), as HTML and
PDF. The PDF is read back with ``pdftotext -bbox`` (text positions) and the HTML is laid out
in headless Chromium at 1280 and 400 px. Each inspector also runs on a page built to fail, so a
check that stopped looking would be noticed. Skipped, with the reason, when pdftotext or
Chromium is missing; CI installs both (``.ci/run``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

from fieldsurvey.report import build_reports
from fieldsurvey.report.document import format_number, format_p, markdown_table
from report_checks import (
    browser_layout,
    chromium_path,
    html_text,
    pdf_layout_problems,
    pdf_text,
    pdftotext_path,
)
from test_report_content import EPOCH, make_study

needs_pdftotext = pytest.mark.skipif(
    pdftotext_path() is None, reason="pdftotext not installed (apt-get install -y poppler-utils)"
)
needs_chromium = pytest.mark.skipif(
    chromium_path() is None, reason="chromium not installed (apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("layout")
    # With organisation profiles: the organisation sections' tables are laid out too.
    study = make_study(root, n_orgs=25, seed=3, profiles=True)
    largest = "O02"  # in this synthetic study, an organisation whose own means are shown
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH
    try:
        built = build_reports(study, root / "out", orgs=[largest], formats=("html", "pdf"),
                              engine="pandoc")
    finally:
        if old is None:
            os.environ.pop("SOURCE_DATE_EPOCH")
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old
    return {org or "field": files for org, files in built} | {"_org": largest, "_root": root}


def _reports(rendered: dict) -> list[tuple[str, dict[str, Path]]]:
    return [(name, files) for name, files in rendered.items() if not name.startswith("_")]


# --------------------------------------------------------------------------------------------
# PDF


@needs_pdftotext
def test_pdf_tables_fit_the_page_and_no_words_collide(rendered):
    for name, files in _reports(rendered):
        assert pdf_layout_problems(files["pdf"]) == [], name


@needs_pdftotext
def test_organisation_pdf_shows_numbers_in_its_tables(rendered):
    # The layout check above is only worth something on tables that hold values.
    text = pdf_text(rendered[rendered["_org"]]["pdf"])
    assert re.search(r"\n\s*Burnout\s+\d+\.\d\s+\d+\.\d\s+[-\u2212]?\d+\.\d", text)
    assert not re.search(r"(?<![\d.])-0\.0+(?![\d])", text.replace("\u2212", "-"))


@needs_pdftotext
def test_organisation_sections_are_laid_out_with_their_values(rendered):
    # The organisation sections' tables hold values too (the layout check covers them).
    org = rendered["_org"]
    text = pdf_text(rendered[org]["pdf"])
    assert "Continuity of care" in text and "Living wage" in text
    assert "Peer-led and survivor-led models" in text
    assert re.search(rf"\n\s*{org}\s+\d+\s+\d+\s+\d+\s+\d+\.\d\s+\d\.\d\d\s+\d+\.\d\s+"
                     r"\d+ to \d+\s+\d+ to \d+", text)


@needs_pdftotext
def test_pdf_check_finds_overlaps_merged_cells_hyphenation_and_overflow(tmp_path):
    import typst

    # A page with every defect the reports had: a header running into the next, two numbers
    # in cells too narrow to hold them, a hyphenated header, a table wider than the page.
    source = tmp_path / "bad.typ"
    source.write_text(
        '#set page(paper: "a4", margin: 2cm)\n'
        "#set text(size: 10pt)\n"
        "#table(columns: (30pt, 30pt), inset: 0pt, stroke: none, [Published], [This])\n"
        "#table(columns: 2, inset: 0pt, column-gutter: 0pt, stroke: none, [0.10], [0.427])\n"
        '#set text(lang: "en", hyphenate: true)\n'
        "#set par(justify: true)\n"
        "#table(columns: (22pt,), [Reliability])\n"
        "#table(columns: (80pt,) * 8, ..range(8).map(i => [Column#i]))\n",
        encoding="utf-8",
    )
    pdf = tmp_path / "bad.pdf"
    pdf.write_bytes(typst.compile(str(source)))
    problems = "\n".join(pdf_layout_problems(pdf))
    assert "'Published' and 'This' overlap" in problems
    assert "'0.100.427' is two cells" in problems
    assert "is hyphenated" in problems
    assert "leaves the text area" in problems


# --------------------------------------------------------------------------------------------
# HTML


@needs_chromium
@pytest.mark.parametrize("width", [1280, 400])
def test_html_tables_fit_their_container(rendered, width, tmp_path):
    for name, files in _reports(rendered):
        shot = tmp_path / f"{name}-{width}.png"
        layout = browser_layout(files["html"], tmp_path, width, screenshot=shot)
        assert layout["viewport"] == width, name
        assert layout["tables"] >= 5, name
        assert layout["overflowing"] == [], name
        assert layout["page"] <= width, f"{name}: the page scrolls sideways at {width} px"
        assert shot.stat().st_size > 5000


@needs_chromium
def test_html_check_finds_a_table_wider_than_a_phone(tmp_path):
    cells = "".join(f"<td>{'1234567.89' * 2}</td>" for _ in range(8))
    page = tmp_path / "wide.html"
    page.write_text(
        "<html><head><title>x</title></head><body><table><caption>Wide</caption>"
        f"<tr>{cells}</tr></table></body></html>",
        encoding="utf-8",
    )
    layout = browser_layout(page, tmp_path, 400)
    assert layout["viewport"] == 400
    assert layout["page"] > 400
    assert layout["overflowing"] and layout["overflowing"][0].startswith("TABLE: Wide")


def test_html_has_a_table_of_contents_linking_every_section(rendered):
    html = Path(rendered[rendered["_org"]]["html"]).read_text(encoding="utf-8")
    toc = re.search(r'<nav id="TOC".*?</nav>', html, re.S)
    assert toc is not None
    for heading in ("Summary", "Who responded", "Against the field", "Wellbeing scales",
                    "Lived-experience staff", "Structural conditions", "Methods"):
        anchor = re.search(rf'<a href="#([^"]+)"[^>]*>{re.escape(heading)}</a>', toc.group(0))
        assert anchor is not None, heading
        assert f'id="{anchor.group(1)}"' in html, heading


# --------------------------------------------------------------------------------------------
# What the tables say


def test_p_values_and_signed_zeros_as_printed():
    assert [format_p(p) for p in (0.0004, 0.001, 0.0321, 0.5)] == ["< .001", ".001", ".032",
                                                                   ".500"]
    assert [format_number(v, 1) for v in (-0.04, -0.05, 0.04, -1.26)] == ["0.0", "-0.1", "0.0",
                                                                         "-1.3"]
    table = markdown_table(
        pd.DataFrame({"Scale": ["A", "B"], "g": [-0.004, 0.31], "p": [0.00001, 0.2]}),
        "Tests", decimals={"g": 2}, pvalues=["p"],
    )
    assert "| A     | 0.00 | < .001 |" in table and "-0.00" not in table
    assert "| B     | 0.31 |   .200 |" in table


def test_withheld_cells_are_marked_and_lived_experience_headers_have_a_key(rendered):
    text = html_text(rendered["field"]["html"])
    html = Path(rendered["field"]["html"]).read_text(encoding="utf-8")
    assert "<em>withheld</em>" in html  # italic: never read as a value
    assert "LE mean" in text and "Key: LE, staff with lived experience" in text
    assert "Hedges' g" in text.replace("\u2019", "'")


def test_drivers_show_their_intervals_and_the_few_organisations_caveat(rendered):
    text = html_text(rendered["field"]["html"])
    start = text.rindex("How much of burnout is structural")  # the heading, not the contents
    section = text[start:text.index("Methods", start)]
    match = re.search(r"Computed on the (\d+) organisations", section)
    if match is None:
        assert "The drivers analysis is not shown: only" in section
        return
    k = int(match.group(1))
    assert ("Read these figures with care: they rest on only" in section) == (k < 10)
    # The text promises 95% intervals: the table shows them next to each share.
    assert re.search(r"\d\.\d\d \[-?\d\.\d\d, -?\d\.\d\d\]", section)


def test_report_without_workforce_context_items_builds_section_by_section(tmp_path, monkeypatch):
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.store import init_study
    from fieldsurvey.synthetic import generate_coalition

    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    instruments = ["proqol5", "structural-conditions"]
    responses = generate_coalition(n_orgs=6, seed=5).responses
    with pytest.warns(UserWarning, match="org column"):
        study = init_study(tmp_path / "study", instruments, org_column="org")
    path = tmp_path / "d.csv"
    responses[[c for c in responses.columns if not c.startswith("wf_")]].drop(
        columns=["wave"]
    ).to_csv(path, index=False)
    ingest_file(study, path)
    org = str(responses["org"].value_counts().index[0])
    built = dict(build_reports(study.root, tmp_path / "out", orgs=[org], formats=("html",),
                               engine="pandoc"))
    for files in built.values():
        text = html_text(files["html"])
        assert "This study did not ask staff their role" in text
        assert "This study did not ask staff about lived experience" in text
        assert "Structural conditions" in text and "Methods" in text
    assert "Against the field" in html_text(built[org]["html"])
