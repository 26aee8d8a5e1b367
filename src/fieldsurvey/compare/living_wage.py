"""Entry pay against a living-wage reference, per organisation and role, and the share below it.

The organisation profile (``org-profile``) gives, per role, the entry pay, whether it is per
hour or per year, the currency and the number of staff in the role. Each is compared with the
reference pay of the organisation's region and the chosen household type, both as hourly rates:

.. math::

    w_h = \\begin{cases} w & \\text{per hour} \\\\ w / H & \\text{per year} \\end{cases}
    \\qquad r = w_h / L_h \\qquad \\text{below} \\iff r < 1

where :math:`H` is the number of full-time hours in a year (the reference table's
``hours_per_year``, default 2080 = 40 h x 52 weeks) and :math:`L_h` the reference as an hourly
rate (converted the same way when the table gives annual figures).

References
----------
Glasmeier, A. K. (2024). Living Wage Calculator. Massachusetts Institute of Technology.
https://livingwage.mit.edu (annual figures from hourly ones with 2080 hours a year).
Living Wage Foundation (2024). Real Living Wage rates 2024-25. https://www.livingwage.org.uk
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fieldsurvey.compare.wage_reference import WageReference
from fieldsurvey.errors import FieldsurveyError

#: Role keys of the profile's pay items (``op_pay_<key>``) and their labels.
PAY_ROLES = {"ds": "Direct service", "cm": "Case management", "adv": "Advocacy",
             "peer": "Peer specialist", "sup": "Supervision"}
#: The profile's currency codes (its ``currency`` response scale).
CURRENCIES = {1: "USD", 2: "GBP", 3: "EUR", 4: "CAD", 5: "AUD", 6: "Other"}
_PERIODS = {1: "hour", 2: "year"}


class LivingWageError(FieldsurveyError, ValueError):
    """A profile or reference that cannot be compared (no period, another currency, a region
    the reference does not cover)."""


def entry_pay_vs_reference(profiles: pd.DataFrame, reference: WageReference, *,
                           household: str | None = None,
                           hours_per_year: float | None = None) -> pd.DataFrame:
    """Each organisation's entry pay per role against the living-wage reference.

    Parameters
    ----------
    profiles : DataFrame
        Stored organisation profiles (:func:`fieldsurvey.store.profiles.load_profiles`): org,
        wave, op_region, op_currency and, per role key, ``op_pay_<key>``,
        ``op_pay_<key>_per`` (1 per hour, 2 per year) and ``op_n_<key>`` (head count).
    reference : WageReference
    household : str, optional
        Household type of the reference (default: the table's ``default_household``).
    hours_per_year : float, optional
        Full-time hours in a year (default: the table's, else 2080).

    Returns
    -------
    DataFrame
        One row per organisation, wave and role with an entry pay: org, wave, role, staff,
        pay, period, currency, region, reference (the table's figure), pay_hourly,
        reference_hourly, ratio (pay / reference, hourly) and below (ratio < 1).

    Raises
    ------
    LivingWageError
        Pay without a period, a currency other than the table's, a region the table lacks or
        a household type it does not have; naming the profile's row and column.

    Examples
    --------
    >>> from fieldsurvey.compare.wage_reference import load_wage_reference
    >>> ref = load_wage_reference()  # example: London 13.85, UK outside London 12.60 per hour
    >>> p = pd.DataFrame({"org": ["A", "B"], "wave": ["1", "1"], "op_region": ["London", "2"],
    ...                   "op_currency": [2, 2], "op_pay_cm": [13.0, 25350.0],
    ...                   "op_pay_cm_per": [1, 2], "op_n_cm": [4, 3]})
    >>> out = entry_pay_vs_reference(p, ref)
    >>> out[["org", "role", "pay_hourly", "reference_hourly", "below"]].round(2).values.tolist()
    [['A', 'Case management', 13.0, 13.85, True], ['B', 'Case management', 13.0, 12.6, False]]
    """
    hours = float(hours_per_year or reference.hours_per_year)
    if not hours > 0:
        raise LivingWageError(f"hours per year must be positive (got {hours_per_year!r})")
    household = household or reference.default_household
    rates = reference.rates[reference.rates["household"] == household]
    if rates.empty:
        raise LivingWageError(f"household type {household!r} is not in the reference table "
                              f"(it has {sorted(set(reference.rates['household']))})",
                              file=reference.file, column="household")
    rows = [row for key in PAY_ROLES for row in _role_rows(profiles, key)]
    frame = pd.DataFrame(rows, columns=["org", "wave", "role", "staff", "pay", "period",
                                        "currency", "region", "src_row", "role_key"])
    by_region: dict[object, float] = {}  # one look-up per region; errors name the first row
    for r in frame.itertuples():
        if r.region not in by_region:
            by_region[r.region] = _reference_pay(rates, reference, r)
    frame["reference"] = [by_region[r] for r in frame["region"]]
    for r in frame.itertuples():
        if r.currency != reference.currency:
            raise _problem(r, "op_currency", f"pays in {r.currency!r}, but the reference table "
                           f"{reference.file} is in {reference.currency!r}")
    frame["pay_hourly"] = np.where(frame["period"] == "hour", frame["pay"], frame["pay"] / hours)
    ref_hourly = frame["reference"] / (1.0 if reference.period == "hour" else hours)
    frame["reference_hourly"] = ref_hourly.astype(float)
    frame["ratio"] = frame["pay_hourly"].astype(float) / frame["reference_hourly"]
    frame["below"] = frame["ratio"] < 1
    return frame.drop(columns=["src_row", "role_key"]).reset_index(drop=True)


def _role_rows(profiles: pd.DataFrame, key: str) -> list[dict]:
    """Rows of one role: every profile that gives its entry pay."""
    pay_col, per_col, n_col = f"op_pay_{key}", f"op_pay_{key}_per", f"op_n_{key}"
    if pay_col not in profiles:
        return []
    out = []
    for pos, row in enumerate(profiles.itertuples(index=False)):
        record = row._asdict()
        pay = record.get(pay_col)
        if pay is None or pd.isna(pay):
            continue
        info = {"org": record["org"], "wave": record["wave"],
                "src_row": record.get("source_row", pos), "role_key": key}
        period = _PERIODS.get(_int(record.get(per_col)))
        if period is None:
            raise _problem(info, per_col, f"entry pay {pay:g} ({PAY_ROLES[key]}) has no period "
                           "(per hour or per year): answer it, or clear the pay")
        currency = CURRENCIES.get(_int(record.get("op_currency")))
        if currency is None:
            raise _problem(info, "op_currency", "entry pay is given without its currency")
        staff = record.get(n_col)
        out.append({**info, "role": PAY_ROLES[key], "pay": float(pay), "period": period,
                    "currency": currency, "region": record.get("op_region"),
                    "staff": None if staff is None or pd.isna(staff) else int(staff)})
    return out


def _int(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _reference_pay(rates: pd.DataFrame, reference: WageReference, r) -> float:
    region = "" if r.region is None or pd.isna(r.region) else str(r.region).strip().casefold()
    names = rates["region"].str.casefold()
    codes = rates["code"].fillna("\0").astype(str).str.casefold()
    match = rates[(names == region) | (codes == region)]
    if match.empty:
        raise _problem(r, "op_region", f"region {r.region!r} has no reference pay in "
                       f"{reference.file} (regions: {', '.join(rates['region'])})")
    return float(match["pay"].iloc[0])


def _problem(r, column: str, message: str) -> LivingWageError:
    get = r.get if isinstance(r, dict) else lambda k: getattr(r, k)
    row = get("src_row")
    return LivingWageError(f"organisation {get('org')!r}, wave {get('wave')!r}: {message}",
                           file="org_profiles", column=column,
                           row=None if row is None or pd.isna(row) else int(row))


def share_below_reference(comparison: pd.DataFrame) -> pd.DataFrame:
    """The share of roles, and of staff in them, paid below the reference: per organisation
    and wave, and field-wide per wave.

    .. math::

        \\text{share}_\\text{roles} = \\frac{\\#\\{\\text{roles below}\\}}{\\#\\text{roles}}
        \\qquad
        \\text{share}_\\text{staff} = \\frac{\\sum_{\\text{roles below}} n_j}{\\sum_j n_j}

    with :math:`n_j` the head count of role :math:`j` (a role given a pay but no head count
    counts as one person). Field-wide, roles are pooled over organisations.

    Parameters
    ----------
    comparison : DataFrame
        From :func:`entry_pay_vs_reference`.

    Returns
    -------
    DataFrame
        org (NA for the field), wave, organisations, roles, roles_below, share_roles_below,
        staff, staff_below, share_staff_below.

    Examples
    --------
    >>> c = pd.DataFrame({"org": ["A", "A", "B"], "wave": ["1"] * 3,
    ...                   "role": ["Case management", "Supervision", "Case management"],
    ...                   "staff": [4, 1, 6], "below": [True, False, False]})
    >>> out = share_below_reference(c)
    >>> out[["org", "roles_below", "share_roles_below", "share_staff_below"]].values.tolist()
    [['A', 1, 0.5, 0.8], ['B', 0, 0.0, 0.0], [<NA>, 1, 0.3333333333333333, 0.36363636363636365]]
    >>> out["staff"].tolist(), out["organisations"].tolist()
    ([5, 6, 11], [1, 1, 2])
    """
    frame = comparison.assign(
        staff=pd.to_numeric(comparison["staff"], errors="coerce").fillna(1),
        below=comparison["below"].astype(bool))
    frame["staff_below"] = frame["staff"].where(frame["below"], 0).where(frame["staff"].notna())
    keys = ["org", "wave"]
    by_org = frame.groupby(keys, sort=True).apply(_shares, include_groups=False).reset_index()
    field = frame.groupby("wave", sort=True).apply(_shares, include_groups=False).reset_index()
    field.insert(0, "org", pd.NA)
    by_org["organisations"] = 1
    out = pd.concat([by_org, field], ignore_index=True)
    out["org"] = out["org"].astype(object).where(out["org"].notna(), pd.NA)
    counts = ["organisations", "roles", "roles_below", "staff", "staff_below"]
    out[counts] = out[counts].astype("Int64")
    return out[["org", "wave", "organisations", "roles", "roles_below", "share_roles_below",
                "staff", "staff_below", "share_staff_below"]]


def _shares(group: pd.DataFrame) -> pd.Series:
    staff = group["staff"].sum(min_count=1)
    staff_below = group["staff_below"].sum(min_count=1)
    return pd.Series({
        "organisations": group["org"].nunique() if "org" in group else 1,
        "roles": len(group), "roles_below": int(group["below"].sum()),
        "share_roles_below": group["below"].mean(),
        "staff": staff, "staff_below": staff_below,
        "share_staff_below": staff_below / staff if staff and staff > 0 else np.nan,
    })
