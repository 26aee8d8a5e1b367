"""Report stage: figures, document builder and the pandoc/typst and Quarto engines."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from fieldsurvey.report import (
    DocumentError,
    Figure,
    RenderError,
    ReportDocument,
    band_stack_bars,
    check_portable_text,
    funnel_plot,
    markdown_table,
    mean_bars,
    render_report,
    scale_distribution,
    trend_lines,
)
from fieldsurvey.report.figures import BAND_COLOURS, SERIES_STYLES
from fieldsurvey.report.render import read_front_matter, source_date_epoch
from report_checks import (
    EXAMPLE_HEADINGS,
    build_example_report,
    data_uri_svg,
    docx_facts,
    html_facts,
    image_spread,
    pdf_alt_texts,
    pdf_text,
)

PNG = b"\x89PNG\r\n\x1a\n"
BANDS = [("Low", None, 22), ("Moderate", 23, 41), ("High", 42, None)]


def luma(colour: str) -> float:
    """Grey level 0-255 as pillow's "L" conversion computes it (ITU-R 601)."""
    r, g, b = (255 * c for c in to_rgb(colour))
    return 0.299 * r + 0.587 * g + 0.114 * b


MEANS = pd.DataFrame(
    {
        "group": ["Burnout"] * 3 + ["Secondary traumatic stress"] * 3,
        "series": ["Lived-experience staff", "Other staff", "Field"] * 2,
        "mean": [24.0, 22.0, 23.0, 21.0, 20.0, 22.5],
        "ci_low": [21.0, 20.5, 22.6, 18.2, 18.9, 22.1],
        "ci_high": [27.0, 23.5, 23.4, 23.8, 21.1, 22.9],
    }
)
BAND_SHARES = pd.DataFrame(
    {
        "group": ["Us"] * 3 + ["Field"] * 3,
        "band": ["Low", "Moderate", "High"] * 2,
        "share": [0.30, 0.55, 0.15, 0.25, 0.60, 0.15],
    }
)


def draw_all(folder: Path) -> dict[str, Figure]:
    rng = np.random.default_rng(7)
    funnel = pd.DataFrame(
        {"unit": [f"O{i}" for i in range(12)], "n": rng.integers(8, 90, 12), "value": 0.0}
    )
    funnel["value"] = 23 + rng.normal(0, 6, 12) / np.sqrt(funnel["n"])
    funnel.loc[0, "value"] = 35.0  # far outside both limits
    trend = pd.DataFrame(
        {
            "wave": ["2024", "2025", "2026"] * 3,
            "series": ["Us"] * 3 + ["Peers"] * 3 + ["Field"] * 3,
            "value": [24, 23, 22, 23, 23, 23, 22, 22.5, 23],
            "ci_low": [22, 21, 20, 22, 22, 22, 21.5, 22, 22.5],
            "ci_high": [26, 25, 24, 24, 24, 24, 22.5, 23, 23.5],
        }
    )
    return {
        "distribution": scale_distribution(
            rng.integers(10, 50, 60), folder / "dist.png", scale_label="Burnout", bands=BANDS
        ),
        "means": mean_bars(MEANS, folder / "means.png", value_label="Mean score"),
        "bands": band_stack_bars(BAND_SHARES, folder / "bands.png"),
        "funnel": funnel_plot(
            funnel, folder / "funnel.png", centre=23, spread=6, value_label="Mean", highlight="O0"
        ),
        "trend": trend_lines(trend, folder / "trend.png", value_label="Mean burnout"),
    }


# ------------------------------------------------------------------------------------------
# Figures
# ------------------------------------------------------------------------------------------


def test_every_chart_writes_png_with_caption_and_alt_text(tmp_path):
    figures = draw_all(tmp_path)
    for name, fig in figures.items():
        assert fig.path.read_bytes().startswith(PNG), name
        with Image.open(fig.path) as image:
            assert image.width > 600 and image.height > 200, name
        assert len(fig.alt_text) > 60 and fig.caption, name
    # Alt text is written from the data, not boilerplate.
    assert "Low 30%, Moderate 55%, High 15%" in figures["bands"].alt_text
    assert "Lived-experience staff 24.0 (21.0 to 27.0)" in figures["means"].alt_text
    assert "O0 (n = " in figures["funnel"].alt_text
    assert "outside the 99.8% limits" in figures["funnel"].alt_text
    assert "Us: 2024 24.0, 2025 23.0, 2026 22.0." in figures["trend"].alt_text
    assert "band boundaries at 22.5, 41.5" in figures["distribution"].alt_text


def test_figures_are_byte_identical_across_runs(tmp_path):
    first = draw_all(tmp_path / "a")
    second = draw_all(tmp_path / "b")
    for name in first:
        assert first[name].path.read_bytes() == second[name].path.read_bytes(), name


def test_svg_and_pdf_figures_carry_no_timestamp(tmp_path):
    for suffix in ("svg", "pdf"):
        a = band_stack_bars(BAND_SHARES, tmp_path / f"a.{suffix}").path.read_bytes()
        b = band_stack_bars(BAND_SHARES, tmp_path / f"b.{suffix}").path.read_bytes()
        assert a == b, suffix
    with pytest.raises(ValueError, match="unsupported figure format"):
        band_stack_bars(BAND_SHARES, tmp_path / "x.jpg")


def test_series_styles_differ_in_grey_level_hatch_marker_and_line():
    greys = sorted(luma(s.colour) for s in SERIES_STYLES)
    assert min(np.diff(greys)) >= 30, greys
    for attribute in ("hatch", "marker", "linestyle"):
        values = [str(getattr(s, attribute)) for s in SERIES_STYLES]
        assert len(set(values)) == len(values), attribute
    band_greys = [luma(c) for c in BAND_COLOURS]
    assert all(a - b >= 30 for a, b in zip(band_greys, band_greys[1:], strict=False))


def grey_share(png: Path, level: float, tolerance: float = 3) -> float:
    with Image.open(png) as image:
        grey = np.asarray(image.convert("L"), dtype=float)
    return float((np.abs(grey - level) <= tolerance).mean())


def test_greyscale_render_keeps_each_series_visible(tmp_path):
    # Each series' fill must cover a visible area at its own grey level once the PNG is
    # converted to grey-scale: hue is not what separates them.
    means = mean_bars(MEANS, tmp_path / "means.png", value_label="Mean score")
    levels = [luma(s.colour) for s in SERIES_STYLES[:3]]
    for level in levels:
        assert grey_share(means.path, level) > 0.01, level
    bands = band_stack_bars(BAND_SHARES, tmp_path / "bands.png")
    # Three bands take the light, middle and darkest steps of the ramp.
    for colour in (BAND_COLOURS[0], BAND_COLOURS[2], BAND_COLOURS[4]):
        assert grey_share(bands.path, luma(colour)) > 0.005, colour


def test_chart_inputs_are_validated(tmp_path):
    with pytest.raises(ValueError, match=r"missing column\(s\) \['ci_low', 'ci_high'\]"):
        mean_bars(MEANS.drop(columns=["ci_low", "ci_high"]), tmp_path / "m.png", value_label="M")
    bad = BAND_SHARES.assign(share=BAND_SHARES["share"] * 2)
    with pytest.raises(ValueError, match="sum to 1 per group; 'Us' sums to 2.000"):
        band_stack_bars(bad, tmp_path / "b.png")
    with pytest.raises(ValueError, match="no non-missing scores"):
        scale_distribution([np.nan], tmp_path / "d.png", scale_label="Burnout")
    with pytest.raises(ValueError, match="alt_text must be a non-empty text"):
        Figure(tmp_path / "d.png", "Caption", "  ")


# ------------------------------------------------------------------------------------------
# Document
# ------------------------------------------------------------------------------------------


def test_markdown_table_aligns_formats_and_escapes():
    table = pd.DataFrame(
        {"Group": ["A|B", "C"], "n": [12, 7], "Mean": [22.25, np.nan], "Alpha": [0.812, 0.7]}
    )
    text = markdown_table(table, "Scale means", decimals={"Alpha": 2})
    lines = text.splitlines()
    assert lines[0] == "| Group |   n | Mean | Alpha |"
    assert lines[1] == "|:------|----:|-----:|------:|"
    assert lines[2] == "| A\\|B  |  12 | 22.2 |  0.81 |"
    assert lines[3] == "| C     |   7 |    – |  0.70 |"
    assert lines[-1] == ": Scale means"
    with pytest.raises(DocumentError, match="needs a caption"):
        markdown_table(table, " ")


@pytest.mark.parametrize(
    ("text", "construct"),
    [
        ("See @fig-burnout for details.", "Quarto cross-reference"),
        ("{{< pagebreak >}}", "Quarto shortcode"),
        ("::: {.callout-note}", "fenced div"),
        ("A <b>bold</b> claim", "raw HTML tag"),
    ],
)
def test_non_portable_syntax_is_rejected(text, construct):
    with pytest.raises(DocumentError, match=construct):
        check_portable_text(text)


def test_bare_at_names_are_escaped_not_cited():
    assert check_portable_text("Ask @team or mail a@b.org") == "Ask \\@team or mail a@b.org"


def test_document_requires_figure_records_and_copies_outside_figures(tmp_path):
    fig = band_stack_bars(BAND_SHARES, tmp_path / "elsewhere" / "bands.png")
    doc = ReportDocument("Report", date="2026-01-31").heading("Bands").figure(fig)
    with pytest.raises(DocumentError, match="must be a fieldsurvey.report.figures.Figure"):
        doc.figure(str(fig.path))
    path = doc.write(tmp_path / "out" / "org report.qmd")
    text = path.read_text(encoding="utf-8")
    assert "(org-report_figures/bands.png)" in text
    assert (tmp_path / "out" / "org-report_figures" / "bands.png").read_bytes() == (
        fig.path.read_bytes()
    )
    assert '{fig-alt="Stacked bar chart' in text
    assert read_front_matter(path) == {"title": "Report", "date": "2026-01-31", "lang": "en-GB"}


def test_document_date_never_comes_from_the_clock(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert "date" not in ReportDocument("R").front_matter()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    assert ReportDocument("R").front_matter()["date"] == "2026-01-01"
    assert source_date_epoch({"date": "1999-01-01"}) == 1767225600
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert source_date_epoch({"date": "2026-01-01"}) == 1767225600
    assert source_date_epoch({}) == 0


# ------------------------------------------------------------------------------------------
# Rendering with pandoc + typst
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    folder = tmp_path_factory.mktemp("example")
    document = build_example_report(folder / "src")
    outputs = render_report(document, engine="pandoc", out_dir=folder / "out")
    return document, outputs


def test_pandoc_engine_writes_all_three_formats(example):
    document, outputs = example
    assert set(outputs) == {"html", "pdf", "docx"}
    assert outputs["html"].name == "report.html"
    assert outputs["pdf"].read_bytes().startswith(b"%PDF-")
    assert outputs["docx"].read_bytes().startswith(b"PK")


def test_html_is_self_contained_with_real_alt_text(example):
    document, outputs = example
    facts = html_facts(outputs["html"])
    assert facts.lang == "en-GB"
    assert facts.external == []
    assert len(facts.images) == 5
    text = document.read_text(encoding="utf-8")
    for image in facts.images:
        # Sharp figures on screen: the SVG twin of each PNG, embedded (issue 18).
        assert data_uri_svg(image["src"]) is not None
        alt = image["alt"].strip()
        # The alt attribute holds the fig-alt description, not a copy of the caption.
        assert alt and f'fig-alt="{alt}"' in text
        assert "data-fig-alt" not in image
    assert facts.tables == 1
    for heading in EXAMPLE_HEADINGS:
        assert heading in facts.headings


def test_pdf_pages_are_not_blank_and_hold_every_heading(example, tmp_path):
    _, outputs = example
    text = " ".join(pdf_text(outputs["pdf"]).split())
    for heading in EXAMPLE_HEADINGS:
        assert heading in text, heading
    assert "Figure 1: Distribution of Burnout scores" in text
    subprocess.run(
        ["pdftoppm", "-r", "30", "-png", str(outputs["pdf"]), str(tmp_path / "page")],
        check=True,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    for page in pages:
        assert image_spread(page) > 5, page.name


def fig_alts(document: Path) -> list[str]:
    found = re.findall(r'fig-alt="((?:[^"\\]|\\.)*)"', document.read_text(encoding="utf-8"))
    return [a.replace('\\"', '"') for a in found]


def test_pdf_is_tagged_with_figure_alt_text(example):
    document, outputs = example
    assert pdf_alt_texts(outputs["pdf"]) == fig_alts(document)


def test_docx_has_headings_table_and_picture_descriptions(example):
    document, outputs = example
    facts = docx_facts(outputs["docx"])
    for heading in EXAMPLE_HEADINGS:
        assert heading in facts["headings"], heading
    [table] = facts["tables"]
    assert table[0] == ["Scale", "n", "Mean", "SD", "Alpha"]
    assert [row[0] for row in table[1:]] == [
        "Compassion satisfaction",
        "Burnout",
        "Secondary traumatic stress",
    ]
    # Word's picture description (its alt text) is the fig-alt text, in document order.
    alts = fig_alts(document)
    assert len(alts) == 5
    assert facts["picture_descriptions"] == alts


def test_rendering_is_byte_identical(example, tmp_path):
    document, outputs = example
    again = render_report(document, engine="pandoc", out_dir=tmp_path)
    for fmt in ("html", "pdf", "docx"):
        assert again[fmt].read_bytes() == outputs[fmt].read_bytes(), fmt


def test_html_is_the_page_pandoc_embeds_itself(example, tmp_path):
    """The stylesheet is embedded without pandoc's second pass over the page: the same bytes
    as pandoc's own --embed-resources --css (figures are embedded by the Lua filter)."""
    from fieldsurvey.report.render import SIDE_OUTPUTS, _pandoc_command

    document, outputs = example
    html = outputs["html"].read_text(encoding="utf-8")
    assert "<link" not in html and 'src="data:image/svg+xml;base64,' in html
    command = _pandoc_command(document, "html", tmp_path / "embedded.html", None, embed=True)
    env = {**os.environ, SIDE_OUTPUTS: "[]", "SOURCE_DATE_EPOCH": "1772323200"}
    subprocess.run(command, cwd=document.parent, env=env, check=True)
    assert (tmp_path / "embedded.html").read_text(encoding="utf-8") == html


def test_html_linking_other_files_is_embedded_by_pandoc(tmp_path):
    """A page that still links a local file (raw HTML here) gets pandoc's embedding pass."""
    doc = ReportDocument("R", date="2026-01-01").figure(
        band_stack_bars(BAND_SHARES, tmp_path / "figures" / "bands.png")
    )
    document = doc.write(tmp_path / "acme.qmd")
    with document.open("a", encoding="utf-8") as out:
        out.write('\n<img src="figures/bands.png" alt="raw" />\n')
    html = render_report(document, formats=("html",), engine="pandoc")["html"]
    text = html.read_text(encoding="utf-8")
    assert 'src="figures/' not in text and text.count('src="data:image/') == 2


READER_TEXTS = [
    # every trigger: its extensions stay on
    "H~2~O and ~~gone~~", "x^2^ and a note^[here]", "costs $12 and $x$", "\\emph{a}",
    "see @doe2020 and (@) one", "hi :smile:", "<span>a</span> [b]{.c} `d`{=html}",
    "*[HTML]: Hyper Text",
    # near misses: read alike with the extensions off
    "Ratio: 3:1, p < .001 [a] {b} { = } * [x] 5% of 12 | not a table",
    "Burnout: *withheld*; wave 2 minus wave 1, in points (+3*).",
]


@pytest.mark.parametrize("text", READER_TEXTS)
def test_reader_without_untriggered_extensions_reads_alike(text):
    """Extensions switched off for a text that cannot trigger them change nothing."""
    from fieldsurvey.report.render import _pandoc_path, reader_format

    def tree(fmt):
        return subprocess.run([_pandoc_path(), f"--from={fmt}", "--to=json"], input=text,
                              capture_output=True, text=True, check=True).stdout

    assert tree(reader_format(text)) == tree("markdown")


def test_pandoc_failure_names_engine_command_and_stderr(tmp_path):
    document = tmp_path / "broken.qmd"
    document.write_text(
        '---\ntitle: Broken\n---\n\n![Caption](missing.png){fig-alt="Nothing"}\n',
        encoding="utf-8",
    )
    with pytest.raises(RenderError) as caught:
        render_report(document, formats=("html",), engine="pandoc")
    message = str(caught.value)
    assert message.startswith("pandoc failed rendering")
    assert "--to=html5" in message and "missing.png" in message  # the command, the stderr
    assert not (tmp_path / "broken.html").exists()


def test_reused_typst_compiler_sees_new_images_and_survives_errors(tmp_path):
    """PDFs come from one typst compiler per process: a figure redrawn at the same path is
    the one shown, a failed compile leaves the next one unaffected, and the bytes are those
    of a fresh compiler."""
    import typst

    from fieldsurvey.report.render import _compile_typst, _font_dir

    source = tmp_path / "report.typ"
    source.write_text('#image("figure.png", width: 2cm)\n', encoding="utf-8")
    broken = tmp_path / "broken.typ"
    broken.write_text("#let x = (\n", encoding="utf-8")
    document = tmp_path / "report.qmd"
    pdfs = []
    for colour in ("red", "blue"):
        Image.new("RGB", (4, 4), colour).save(tmp_path / "figure.png")
        with pytest.raises(RenderError, match="pandoc\\+typst failed"):
            _compile_typst(broken, document, 0)
        pdfs.append(_compile_typst(source, document, 0))
        fresh = typst.compile(source.read_bytes(), root=str(tmp_path), font_paths=[_font_dir()],
                              ignore_system_fonts=True, timestamp=0)
        assert pdfs[-1] == fresh
    assert pdfs[0] != pdfs[1]


def test_unknown_format_is_refused(tmp_path):
    document = build_example_report(tmp_path)
    with pytest.raises(ValueError, match="unknown report format"):
        render_report(document, formats=("odt",), engine="pandoc")


# ------------------------------------------------------------------------------------------
# Quarto engine (quarto is not installed here: a stand-in script checks our orchestration)
# ------------------------------------------------------------------------------------------

FAKE_QUARTO = """#!{python}
import os, sys
# stand-in for `quarto render <doc> --to <fmt>`: records its working folder in the output
doc, fmt = sys.argv[2], sys.argv[4]
if os.environ.get("FAKE_QUARTO_FAIL"):
    sys.stderr.write("ERROR: typst compile failed in " + doc + "\\n")
    sys.exit(3)
ext = {{"typst": "pdf"}}.get(fmt, fmt)
assert os.path.exists("_quarto.yml") and os.path.exists("figures/bands.png")
with open(doc.rsplit(".", 1)[0] + "." + ext, "w") as out:
    out.write(fmt + " " + os.getcwd() + " " + os.environ["SOURCE_DATE_EPOCH"])
"""


@pytest.fixture
def fake_quarto(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "quarto"
    script.write_text(FAKE_QUARTO.format(python=sys.executable), encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return script


def test_quarto_engine_renders_each_report_in_its_own_folder(tmp_path, fake_quarto):
    doc = ReportDocument("R", date="2026-01-01").figure(
        band_stack_bars(BAND_SHARES, tmp_path / "src" / "figures" / "bands.png")
    )
    document = doc.write(tmp_path / "src" / "acme.qmd")
    outputs = render_report(document, engine="auto", out_dir=tmp_path / "out")
    assert set(outputs) == {"html", "pdf", "docx"}
    fmt, workdir, epoch = outputs["pdf"].read_text().split()
    assert fmt == "typst" and epoch == "1767225600"
    assert Path(workdir).parent == tmp_path / "out" and Path(workdir) != document.parent
    assert not Path(workdir).exists()  # the private folder is removed afterwards


def test_quarto_failure_names_engine_command_and_stderr(tmp_path, fake_quarto, monkeypatch):
    monkeypatch.setenv("FAKE_QUARTO_FAIL", "1")
    document = build_example_report(tmp_path)
    with pytest.raises(RenderError) as caught:
        render_report(document, formats=("pdf",), engine="quarto")
    message = str(caught.value)
    assert "quarto failed rendering" in message and "(exit code 3)" in message
    assert "render report.qmd --to typst" in message
    assert "ERROR: typst compile failed in report.qmd" in message
