"""The single disclosure-control gate of fieldsurvey.

Every number a user can see passes through :func:`gate`; no other module decides what may
be shown. Build a :class:`Release` from the respondent-level frame, add every table the
output will show, gate it, and show only the gated tables. :func:`audit` proves that no
withheld value can be read or derived from what is shown.

Examples
--------
>>> import pandas as pd
>>> from fieldsurvey.disclosure import DisclosurePolicy, Release, audit, gate
>>> people = pd.DataFrame({"org": ["A"] * 12 + ["B"] * 40,
...                        "role": (["frontline"] * 8 + ["manager"] * 4) + ["frontline"] * 40})
>>> cells = pd.DataFrame({"org": ["A", "A", "A", "B", None],
...                       "role": [None, "frontline", "manager", None, None]})
>>> gated = gate(Release(people, ["org", "role"]).add_table("staff", cells), DisclosurePolicy())
>>> gated["staff"]["n"].tolist()
[12, <NA>, <NA>, 40, 52]
>>> audit(gated).passed
True
"""

from fieldsurvey.disclosure.audit import AuditResult, audit
from fieldsurvey.disclosure.exposure import Exposure, find_exposures, is_protected
from fieldsurvey.disclosure.policy import DisclosureError, DisclosurePolicy
from fieldsurvey.disclosure.release import Release, margin_cells
from fieldsurvey.disclosure.suppression import GatedRelease, gate, gate_table

__all__ = [
    "AuditResult",
    "DisclosureError",
    "DisclosurePolicy",
    "Exposure",
    "GatedRelease",
    "Release",
    "audit",
    "find_exposures",
    "gate",
    "gate_table",
    "is_protected",
    "margin_cells",
]
