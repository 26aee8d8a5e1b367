"""Organisation-level variables from organisation profiles, for multilevel analyses.

An analysis plan's multilevel hypotheses (H6-H9 of the bundled plan) speak about what
organisations do, which the organisation profile (``org-profile``) records once per
organisation and wave. :func:`organisation_variables` derives, per organisation and wave:

``org_peer_or_survivor_led``
    1 when the organisation runs peer-led programmes (``op_peer_led`` 1 or 2) or has a
    survivor-led board (``op_survivor_board`` 1); 0 when it answered both and neither holds.
``org_share_below_living_wage``
    Share of its staff (in the compared roles) whose entry pay is below the living-wage
    reference (:func:`fieldsurvey.compare.living_wage.share_below_reference`).
``org_below_living_wage``
    1 when that share is above one half: most of its staff are paid below the reference.
``org_train_hours``, ``org_log_train_hours``
    Training hours before the first case (``op_train_hours``), and its log, ``ln(1 + hours)``
    (returns to training diminish; the log keeps a few long programmes from dominating).
``org_turnover``
    Leavers in the last 12 months over paid staff, ``op_leavers / op_staff``.

:func:`with_organisation_variables` joins them onto staff rows by organisation and wave, so a
staff-level model can use them as organisation-level (cross-level) predictors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fieldsurvey.compare.living_wage import entry_pay_vs_reference, share_below_reference
from fieldsurvey.compare.wage_reference import WageReference, load_wage_reference

__all__ = ["ORGANISATION_VARIABLES", "organisation_variables", "with_organisation_variables"]

#: The derived organisation-level columns.
ORGANISATION_VARIABLES = ("org_peer_or_survivor_led", "org_share_below_living_wage",
                          "org_below_living_wage", "org_train_hours", "org_log_train_hours",
                          "org_turnover")


def _number(profiles: pd.DataFrame, column: str) -> pd.Series:
    if column not in profiles:
        return pd.Series(np.nan, index=profiles.index)
    return pd.to_numeric(profiles[column], errors="coerce").astype(float)


def organisation_variables(profiles: pd.DataFrame, reference: WageReference | None = None, *,
                           living_wage: bool = True) -> pd.DataFrame:
    """One row per organisation and wave: ``org``, ``wave`` (text) and
    :data:`ORGANISATION_VARIABLES` (NaN where the profile does not say).

    Parameters
    ----------
    profiles : DataFrame
        Stored profiles (:func:`fieldsurvey.store.profiles.load_profiles`) or profile answers
        with ``org`` and ``wave``.
    reference : WageReference, optional
        The living-wage reference (default: the shipped example table).
    living_wage : bool
        False leaves the living-wage columns empty (no pay comparison is made, so a profile
        in another currency than the reference raises nothing).

    Examples
    --------
    >>> p = pd.DataFrame({"org": ["A", "B"], "wave": [1, 1], "op_peer_led": [3, 1],
    ...                   "op_survivor_board": [0, 0], "op_region": ["London"] * 2,
    ...                   "op_currency": [2, 2], "op_pay_cm": [12.0, 15.0], "op_pay_cm_per": [1, 1],
    ...                   "op_n_cm": [4, 4], "op_train_hours": [10, 40], "op_leavers": [2, 1],
    ...                   "op_staff": [8, 10]})
    >>> organisation_variables(p)[["org", "org_peer_or_survivor_led", "org_below_living_wage",
    ...                            "org_turnover"]].values.tolist()
    [['A', 0.0, 1.0, 0.25], ['B', 1.0, 0.0, 0.1]]
    """
    out = pd.DataFrame({"org": profiles["org"].astype(str).to_numpy(),
                        "wave": profiles["wave"].astype(str).to_numpy()})
    peer = _number(profiles, "op_peer_led").to_numpy()
    board = _number(profiles, "op_survivor_board").to_numpy()
    led = np.isin(peer, (1, 2)) | (board == 1)
    known = led | (~np.isnan(peer) & ~np.isnan(board))
    out["org_peer_or_survivor_led"] = np.where(known, led.astype(float), np.nan)
    out["org_share_below_living_wage"] = (_share_below(profiles, reference).to_numpy()
                                          if living_wage else np.nan)
    share = out["org_share_below_living_wage"]
    out["org_below_living_wage"] = np.where(share.notna(), (share > 0.5).astype(float), np.nan)
    out["org_train_hours"] = _number(profiles, "op_train_hours").to_numpy()
    out["org_log_train_hours"] = np.log1p(out["org_train_hours"].where(out["org_train_hours"] >= 0))
    staff = _number(profiles, "op_staff")
    out["org_turnover"] = (_number(profiles, "op_leavers") / staff.where(staff > 0)).to_numpy()
    return out


def _share_below(profiles: pd.DataFrame, reference: WageReference | None) -> pd.Series:
    """Each profile row's share of staff paid below the reference (NaN without pay)."""
    keys = pd.MultiIndex.from_arrays([profiles["org"].astype(str), profiles["wave"].astype(str)])
    if not any(c.startswith("op_pay_") for c in profiles.columns):
        return pd.Series(np.nan, index=keys)
    comparison = entry_pay_vs_reference(profiles, reference or load_wage_reference())
    if comparison.empty:
        return pd.Series(np.nan, index=keys)
    shares = share_below_reference(comparison).dropna(subset=["org"])
    shares = shares.set_index([shares["org"].astype(str), shares["wave"].astype(str)])
    return shares["share_staff_below"].astype(float).reindex(keys)


def with_organisation_variables(data: pd.DataFrame, variables: pd.DataFrame, *,
                                org: str = "org", wave: str = "wave") -> pd.DataFrame:
    """Staff rows with their organisation's variables of the same wave joined on.

    Columns of ``variables`` other than org and wave are added (replacing any of that name);
    a row whose organisation or wave has no profile gets NaN. Without a ``wave`` column in
    ``data`` every wave's profile must agree, and the latest is used.

    Examples
    --------
    >>> staff = pd.DataFrame({"org": ["A", "A", "B"], "wave": [1, 1, 1], "burnout": [2.0, 3, 4]})
    >>> v = pd.DataFrame({"org": ["A", "B"], "wave": ["1", "1"], "org_turnover": [0.25, 0.1]})
    >>> with_organisation_variables(staff, v)["org_turnover"].tolist()
    [0.25, 0.25, 0.1]
    """
    added = [c for c in variables.columns if c not in ("org", "wave")]
    table = variables.assign(_org=variables["org"].astype(str), _wave=variables["wave"].astype(str))
    out = data.drop(columns=[c for c in added if c in data.columns]).copy()
    left_org = out[org].astype(str).to_numpy()
    if wave in out.columns:
        index = pd.MultiIndex.from_arrays([left_org, out[wave].astype(str).to_numpy()])
        table = table.set_index(["_org", "_wave"])
    else:
        index = pd.Index(left_org)
        table = table.sort_values("_wave").drop_duplicates("_org", keep="last").set_index("_org")
    matched = table[added].reindex(index)
    for column in added:
        out[column] = matched[column].to_numpy()
    return out
