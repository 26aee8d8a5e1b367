"""Report stage: figures in the house style, the report document, and its rendering.

Build a :class:`ReportDocument` from headings, paragraphs, tables and :class:`Figure` records
made by the chart functions, write it as ``.qmd`` and turn it into self-contained HTML, PDF
and DOCX with :func:`render_report` (Quarto when installed, else pandoc + typst).

:func:`build_reports` runs the whole stage for a study (study -> gated results bundle ->
document -> rendered files) and :func:`verify_report` recomputes a report's bundle; both are
imported on first use so that ``import fieldsurvey.report`` stays light.
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
    binned_distribution,
    funnel_plot,
    mean_bars,
    scale_distribution,
    trend_lines,
)
from fieldsurvey.report.render import FORMATS, RenderError, choose_engine, render_report

__all__ = [
    "FORMATS",
    "build_reports",
    "verify_report",
    "DocumentError",
    "Figure",
    "RenderError",
    "ReportDocument",
    "band_stack_bars",
    "binned_distribution",
    "check_portable_text",
    "choose_engine",
    "funnel_plot",
    "markdown_table",
    "mean_bars",
    "render_report",
    "scale_distribution",
    "trend_lines",
]


def __getattr__(name: str) -> object:
    if name == "build_reports":
        from fieldsurvey.report.build import build_reports

        return build_reports
    if name == "verify_report":
        from fieldsurvey.report.verify import verify_report

        return verify_report
    raise AttributeError(f"module 'fieldsurvey.report' has no attribute {name!r}")
