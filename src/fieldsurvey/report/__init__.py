"""Report stage: figures in the house style, the report document, and its rendering.

Build a :class:`ReportDocument` from headings, paragraphs, tables and :class:`Figure` records
made by the chart functions, write it as ``.qmd`` and turn it into self-contained HTML, PDF
and DOCX with :func:`render_report` (Quarto when installed, else pandoc + typst).
"""

from fieldsurvey.report.document import (
    DocumentError,
    ReportDocument,
    check_portable_text,
    markdown_table,
)
from fieldsurvey.report.figures import (
    Figure,
    band_stack_bars,
    funnel_plot,
    mean_bars,
    scale_distribution,
    trend_lines,
)
from fieldsurvey.report.render import FORMATS, RenderError, choose_engine, render_report

__all__ = [
    "FORMATS",
    "DocumentError",
    "Figure",
    "RenderError",
    "ReportDocument",
    "band_stack_bars",
    "check_portable_text",
    "choose_engine",
    "funnel_plot",
    "markdown_table",
    "mean_bars",
    "render_report",
    "scale_distribution",
    "trend_lines",
]
