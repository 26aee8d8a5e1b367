"""The single disclosure-control gate of fieldsurvey, and the study's release ledger.

Every number a user can see passes through :func:`gate`; no other module decides what may be
shown, and only :func:`policy_for` builds a policy (from the study's settings). Build a
:class:`~fieldsurvey.results.Results` from the respondent-level dimensions, add every table the output will show
(each row a cell, each statistic with its measure and, when derived, its source cells), gate
it with the study's :class:`Ledger`, and show only the gated tables. :func:`audit` checks
independently that nothing withheld can be read or derived from everything released.

Examples
--------
>>> import pandas as pd
>>> from fieldsurvey.disclosure import Results, audit, gate, policy_for
>>> people = pd.DataFrame({"org": ["A"] * 12 + ["B"] * 40,
...                        "role": (["frontline"] * 8 + ["manager"] * 4) + ["frontline"] * 40})
>>> cells = pd.DataFrame({"org": ["A", "A", "A", "B", None],
...                       "role": [None, "frontline", "manager", None, None]})
>>> gated = gate(Results(people, ["org", "role"]).add_table("staff", cells), policy_for())
>>> gated["staff"]["n"].tolist()
[12, <NA>, <NA>, 40, 52]
>>> audit(gated).passed
True
"""

from fieldsurvey.disclosure.audit import AuditResult, audit
from fieldsurvey.disclosure.exposure import Exposure, find_exposures, is_protected
from fieldsurvey.disclosure.ledger import Ledger
from fieldsurvey.disclosure.policy import (
    HARD_FLOOR,
    DisclosureError,
    DisclosurePolicy,
    policy_for,
)
from fieldsurvey.disclosure.publish import publish
from fieldsurvey.disclosure.suppression import GatedRelease, ShownView, gate, gate_table
from fieldsurvey.results import ROW_VARIABLE, Results, ResultsError, margin_cells
from fieldsurvey.results.cells import Except

__all__ = [
    "HARD_FLOOR",
    "ROW_VARIABLE",
    "AuditResult",
    "DisclosureError",
    "DisclosurePolicy",
    "Except",
    "Exposure",
    "GatedRelease",
    "Ledger",
    "Results",
    "ResultsError",
    "ShownView",
    "audit",
    "find_exposures",
    "gate",
    "gate_table",
    "is_protected",
    "margin_cells",
    "policy_for",
    "publish",
]
