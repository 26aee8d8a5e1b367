"""Entry pay against the living-wage reference, as results the disclosure gate judges.

The statistics rest on staff, not on staff-survey respondents: the people an organisation's pay
scale describes are the staff who hold each role (the profile's head counts). So the results'
units are *staff posts*: one per person in a role with a reported entry pay (a role without a
head count is one post), with dimensions organisation, wave and role. An organisation's share
of staff paid below the reference is then shown only when it rests on at least the study's
minimum cell size of posts, and the gate protects it, with the ledger, against subtraction
from the field-wide figures like any other count. Posts are keyed apart from respondents
(``post:<org>:<wave>:<role>:<i>``): no equation links them to staff-survey cells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fieldsurvey.compare.living_wage import (
    PAY_ROLES,
    entry_pay_vs_reference,
    share_below_reference,
)
from fieldsurvey.compare.wage_reference import WageReference, load_wage_reference
from fieldsurvey.results import Results

# The reference table is an input of this analysis: outputs load it from here.
__all__ = ["LIVING_WAGE_STATS", "WageReference", "living_wage_results", "load_wage_reference",
           "staff_posts"]

#: The statistics of the living-wage tables and their kinds.
LIVING_WAGE_STATS = {
    "organisations": "other", "roles": "other", "roles_below": "other",
    "share_roles_below": "other", "staff_below": "sum", "share_staff_below": "proportion",
}


def staff_posts(comparison: pd.DataFrame) -> pd.DataFrame:
    """One row per person in a compared role: org, wave, role, below, key.

    Examples
    --------
    >>> c = pd.DataFrame({"org": ["A", "A"], "wave": ["1", "1"], "role": ["Advocacy", "Supervision"],
    ...                   "staff": [2, None], "below": [True, False]})
    >>> staff_posts(c)[["role", "below", "key"]].values.tolist()
    [['Advocacy', True, 'post:A:1:Advocacy:1'], ['Advocacy', True, 'post:A:1:Advocacy:2'], \
['Supervision', False, 'post:A:1:Supervision:1']]
    """
    counts = pd.to_numeric(comparison["staff"], errors="coerce").fillna(1).astype(int).to_numpy()
    posts = comparison.loc[np.repeat(comparison.index.to_numpy(), counts),
                           ["org", "wave", "role", "below"]].reset_index(drop=True)
    number = posts.groupby(["org", "wave", "role"]).cumcount() + 1
    posts["key"] = ("post:" + posts["org"].astype(str) + ":" + posts["wave"].astype(str) + ":"
                    + posts["role"].astype(str) + ":" + number.astype(str))
    return posts


def living_wage_results(profiles: pd.DataFrame, reference: WageReference, *,
                        household: str | None = None,
                        hours_per_year: float | None = None) -> Results | None:
    """Results of the living-wage comparison: table ``organisations`` (each organisation and
    wave, and the field per wave) and table ``roles`` (each role field-wide, per wave).

    Returns None when no profile gives an entry pay.

    Examples
    --------
    >>> from fieldsurvey.compare.wage_reference import load_wage_reference
    >>> p = pd.DataFrame({"org": ["A", "B"], "wave": ["1", "1"], "op_region": ["London"] * 2,
    ...                   "op_currency": [2, 2], "op_pay_cm": [12.0, 15.0],
    ...                   "op_pay_cm_per": [1, 1], "op_n_cm": [12, 3]})
    >>> results = living_wage_results(p, load_wage_reference())
    >>> results.tables["organisations"].cells[["org", "share_staff_below"]].values.tolist()
    [['A', 1.0], ['B', 0.0], [None, 0.8]]
    """
    comparison = entry_pay_vs_reference(profiles, reference, household=household,
                                        hours_per_year=hours_per_year)
    if comparison.empty:
        return None
    posts = staff_posts(comparison)
    units = posts[["org", "wave", "role"]].astype(str)
    results = Results(units, ["org", "wave", "role"], keys=posts["key"],
                      domains={"role": list(PAY_ROLES.values())})
    shares = share_below_reference(comparison)
    orgs = _cells(shares.drop(columns=["staff"]))
    results.add_table("organisations", orgs, LIVING_WAGE_STATS)
    by_role = [share_below_reference(comparison[comparison["role"] == role]).assign(role=role)
               for role in PAY_ROLES.values() if (comparison["role"] == role).any()]
    roles = pd.concat(by_role, ignore_index=True)
    roles = roles[roles["org"].isna()].drop(columns=["staff"])
    results.add_table("roles", _cells(roles), LIVING_WAGE_STATS)
    return results


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Dimension columns as text with None for "every value"; statistics as floats."""
    out = frame.reset_index(drop=True).astype(object)
    for dim in ("org", "wave", "role"):
        if dim in out:
            out[dim] = pd.Series([None if pd.isna(v) else str(v) for v in out[dim]],
                                 index=out.index, dtype=object)
    for stat in LIVING_WAGE_STATS:
        out[stat] = pd.to_numeric(out[stat], errors="coerce").astype(float)
    return out
