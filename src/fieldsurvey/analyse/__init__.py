"""The analysis step: every statistic an output shows, as results the disclosure gate judges.

Each output of fieldsurvey (a report, a comparison, a benchmark, a reproduction of published
findings, a pre-registered plan, the status of a store) has one function here that computes
all its statistics from the study and returns them as :class:`~fieldsurvey.results.Results`:
tidy tables whose rows name the respondents they rest on and whose statistics name their
measure and, when derived from other cells, those cells. Nothing here decides what may be
shown: :func:`fieldsurvey.disclosure.publish` does.
"""

from fieldsurvey.analyse.report import ReportModels, report_results
from fieldsurvey.analyse.report_findings import ReportFindings, report_findings
from fieldsurvey.analyse.study import ScaleInfo, StudyData, load_study_data

__all__ = [
    "ReportFindings",
    "ReportModels",
    "ScaleInfo",
    "StudyData",
    "load_study_data",
    "report_findings",
    "report_results",
]
