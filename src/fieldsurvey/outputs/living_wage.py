"""``living-wage``: entry pay against the living-wage reference, through the gate."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fieldsurvey.analyse.living_wage import (
    WageReference,
    living_wage_results,
    load_wage_reference,
)
from fieldsurvey.disclosure import publish
from fieldsurvey.store import Study
from fieldsurvey.store.profiles import load_profiles

__all__ = ["living_wage", "reference_summary"]

_SHOWN = ["org", "wave", "role", "n", "organisations", "roles", "roles_below",
          "share_roles_below", "staff_below", "share_staff_below", "suppressed"]


def living_wage(study: Study, *, reference: str | Path | None = None,
                household: str | None = None, hours_per_year: float | None = None,
                command: str = "") -> dict[str, pd.DataFrame]:
    """The share of roles, and of staff, paid below the reference: per organisation and
    field-wide (table ``organisations``), and per role field-wide (table ``roles``), gated.

    ``n`` is the number of staff posts a row rests on; withheld values are NA with
    ``suppressed`` true. Table ``reference`` says which reference was used (source, year,
    whether it is the shipped example, hours per year, household type).
    """
    ref = load_wage_reference(reference)
    results = living_wage_results(load_profiles(study), ref, household=household,
                                  hours_per_year=hours_per_year)
    out = {"reference": reference_summary(ref, household, hours_per_year)}
    if results is None:
        return out
    gated = publish(results, study, output="living-wage", command=command)
    for name in ("organisations", "roles"):
        table = gated.tables[name]
        out[name] = table[[c for c in _SHOWN if c in table.columns]]
    return out


def reference_summary(ref: WageReference, household: str | None = None,
                      hours_per_year: float | None = None) -> pd.DataFrame:
    """One row describing the reference used (nothing about anyone: shown as it is)."""
    return pd.DataFrame([{
        "title": ref.title, "source": ref.source, "url": ref.url, "year": ref.year,
        "example": ref.example, "currency": ref.currency, "period": ref.period,
        "household": household or ref.default_household,
        "hours_per_year": float(hours_per_year or ref.hours_per_year),
    }])
