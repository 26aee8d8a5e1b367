"""The analysis step: every statistic an output shows, as results the disclosure gate judges.

Each output of fieldsurvey (a report, a comparison, a benchmark, a reproduction of published
findings, a pre-registered plan, the status of a store) has one function here that computes
all its statistics from the study and returns them as :class:`~fieldsurvey.results.Results`:
tidy tables whose rows name the respondents they rest on and whose statistics name their
measure and, when derived from other cells, those cells. Nothing here decides what may be
shown: :func:`fieldsurvey.disclosure.publish` does.
"""

from __future__ import annotations

from fieldsurvey._lazy import lazy_exports

# Loaded on first use, so that a command needing one analysis (reliability, a benchmark) does
# not import the report's whole stack (published findings, scipy.stats) with it.
_LAZY = {
    "ReportModels": "fieldsurvey.analyse.report",
    "report_results": "fieldsurvey.analyse.report",
    "ReportFindings": "fieldsurvey.analyse.report_findings",
    "report_findings": "fieldsurvey.analyse.report_findings",
    "ScaleInfo": "fieldsurvey.analyse.study",
    "StudyData": "fieldsurvey.analyse.study",
    "load_study_data": "fieldsurvey.analyse.study",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)
