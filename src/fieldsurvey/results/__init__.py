"""The one result shape every analysis returns and the disclosure gate judges.

:class:`Results` holds the respondent-level disclosure dimensions of an output and its tables;
each table row is a cell (which respondents it rests on), each statistic declares its kind, its
measure and - when derived from other cells - its source cells. Analyses build results; only
:func:`fieldsurvey.disclosure.gate` decides what of them may be shown.

Examples
--------
>>> import pandas as pd
>>> people = pd.DataFrame({"org": ["A"] * 12 + ["B"] * 30})
>>> results = Results(people, ["org"]).add_table("staff", pd.DataFrame({"org": ["A", "B"]}))
>>> list(results.tables)
['staff']
"""

from fieldsurvey.results.cells import Except, describe, valid_dim
from fieldsurvey.results.tables import (
    COUNT_COL,
    LINEAR_KINDS,
    ROW_VARIABLE,
    STAT_KINDS,
    DerivedSpec,
    Results,
    ResultsError,
    Source,
    TableSpec,
    margin_cells,
    row_variables,
)

__all__ = [
    "COUNT_COL",
    "LINEAR_KINDS",
    "ROW_VARIABLE",
    "STAT_KINDS",
    "DerivedSpec",
    "Except",
    "Results",
    "ResultsError",
    "Source",
    "TableSpec",
    "describe",
    "margin_cells",
    "row_variables",
    "valid_dim",
]
