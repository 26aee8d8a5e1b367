"""Continuity of care: expected survivor hand-offs per year when case managers leave.

When a case manager leaves, every survivor on their caseload gets a new one: a *hand-off*. From
an organisation's profile (staff, leavers in the last 12 months, case managers, caseload per case
manager) and, where the staff survey asks it, how many staff say they are thinking of leaving in
the next 12 months, :func:`handoff_estimates` estimates the expected number of hand-offs in a
year, per organisation and field-wide, with intervals.

The model (docs/continuity.md states it in full)
------------------------------------------------
Staff of organisation :math:`o` leave at a constant rate :math:`\\lambda_o` per person-year
(Poisson; vacancies are filled at once, so a post can lose its holder twice in a year). Two
sources of evidence about :math:`\\lambda_o`:

* the profile: :math:`L_o` leavers in the last 12 months among :math:`S_o` staff,
  :math:`L_o \\sim \\text{Poisson}(S_o \\lambda_o)` (the coming year is like the last);
* the survey: :math:`K_o` of :math:`n_o` responding staff are thinking of leaving in the next
  12 months; a share :math:`\\rho` of them do (``realisation``, 1 takes intentions at face value),
  so :math:`E[\\rho K_o] = n_o \\lambda_o`.

Pooling both as exposure (person-years) and events:

.. math::

    x_o = L_o + \\rho K_o \\qquad N_o = S_o + n_o \\qquad
    \\hat\\lambda_o = x_o / N_o \\qquad
    \\hat H_o = c_o \\, M_o \\, \\hat\\lambda_o

with :math:`M_o` case managers each holding :math:`c_o` survivors. :math:`\\hat\\lambda_o` is
unbiased for any :math:`\\rho` (:math:`E[x_o] = N_o \\lambda_o`) and the maximum-likelihood
estimate when :math:`\\rho = 1`. Without survey answers :math:`x_o = L_o`, :math:`N_o = S_o`.

Intervals. The rate's interval is the Jeffreys interval of a Poisson rate, the quantiles of
:math:`\\text{Gamma}(x_o + 1/2,\\ \\text{rate } N_o)` (lower limit 0 when :math:`x_o = 0`), scaled
by :math:`c_o M_o`; ``handoffs_se`` is the delta-method standard error
:math:`c_o M_o \\sqrt{x_o} / N_o`. The prediction interval is for the hand-offs of the coming year
themselves, :math:`c_o D_o` with :math:`D_o \\sim \\text{Poisson}(M_o \\lambda_o)` and
:math:`\\lambda_o` from the same Gamma: a negative binomial with size :math:`x_o + 1/2` and
probability :math:`N_o / (N_o + M_o)`. Field-wide (organisations independent), the total's
intervals are Monte Carlo quantiles of the same distributions summed over organisations.

References
----------
Brown, L. D., Cai, T. T., & DasGupta, A. (2003). Interval estimation in exponential families.
*Statistica Sinica*, 13(1), 19-49. (Jeffreys intervals for a Poisson mean.)
Griffeth, R. W., Hom, P. W., & Gaertner, S. (2000). A meta-analysis of antecedents and correlates
of employee turnover. *Journal of Management*, 26(3), 463-488. (Intentions predict leaving, but
not one for one: why ``realisation`` exists.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from fieldsurvey.compare._common import CompareError

__all__ = ["HANDOFF_COLUMNS", "handoff_estimates"]

#: Input columns: the profile's (required) and the survey's (optional).
PROFILE_INPUTS = ("staff", "leavers", "case_managers", "caseload")
SURVEY_INPUTS = ("respondents", "intending")
#: Output columns after ``org`` and the inputs.
HANDOFF_COLUMNS = ("basis", "rate", "rate_ci_low", "rate_ci_high", "handoffs", "handoffs_se",
                   "handoffs_ci_low", "handoffs_ci_high", "handoffs_pi_low", "handoffs_pi_high")
LEAVERS, BOTH = "leavers", "leavers and intention"


def handoff_estimates(organisations: pd.DataFrame, *, realisation: float = 1.0,
                      intention: bool = True, level: float = 0.95, n_draws: int = 20_000,
                      seed: int = 0) -> pd.DataFrame:
    """Expected survivor hand-offs per year, per organisation and field-wide (last row).

    Parameters
    ----------
    organisations : DataFrame
        One row per organisation: ``org``, ``staff`` (head count :math:`S`), ``leavers``
        (last 12 months, :math:`L`), ``case_managers`` (:math:`M`), ``caseload`` (survivors per
        case manager, :math:`c`); optionally ``respondents`` (staff who answered the intention
        item, :math:`n`) and ``intending`` (of them, thinking of leaving in 12 months, :math:`K`).
    realisation : float
        :math:`\\rho`, the share of those intending to leave who do within the year (0 < rho <= 1).
    intention : bool
        False to use the profile's leavers only.
    level : float
        Coverage of the intervals.
    n_draws : int
        Monte Carlo draws for the field-wide intervals (fixed ``seed``: reproducible).

    Returns
    -------
    DataFrame
        One row per organisation, then the field (``org`` NA, sums of the counts and of the
        hand-offs, ``organisations`` counted, the caseload averaged over case managers and
        the rate pooled, :math:`\\sum x_o / \\sum N_o`): the inputs, ``basis`` ("leavers" or
        "leavers and intention"), ``rate`` (departures per person-year) with its interval, ``handoffs``
        with ``handoffs_se``, its interval and the prediction interval of the coming year's
        count. An organisation missing a profile input keeps its row, estimates NA and
        ``basis`` naming what is missing; the field row sums the organisations with estimates.

    Examples
    --------
    >>> orgs = pd.DataFrame({"org": ["A", "B"], "staff": [20, 8], "leavers": [4, 0],
    ...                      "case_managers": [5, 2], "caseload": [12, 15],
    ...                      "respondents": [10, 6], "intending": [3, 1]})
    >>> out = handoff_estimates(orgs)
    >>> out[["org", "basis", "rate", "handoffs"]].round(3).values.tolist()
    [['A', 'leavers and intention', 0.233, 14.0], ['B', 'leavers and intention', 0.071, 2.143], \
[nan, 'leavers and intention', 0.182, 16.143]]
    >>> out[["handoffs_ci_low", "handoffs_ci_high"]].iloc[0].round(2).tolist()
    [6.26, 27.49]
    >>> handoff_estimates(orgs, intention=False)["handoffs"].round(2).tolist()
    [12.0, 0.0, 12.0]
    """
    if not 0 < realisation <= 1:
        raise CompareError(f"realisation must be in (0, 1], got {realisation!r}")
    if not 0 < level < 1:
        raise CompareError(f"level must be between 0 and 1, got {level!r}")
    missing = [c for c in ("org", *PROFILE_INPUTS) if c not in organisations.columns]
    if missing:
        raise CompareError(f"organisations need column(s) {missing}")
    out = _inputs(organisations, intention)
    x, exposure, scale, ok = _evidence(out, realisation)
    alpha = (1 - level) / 2
    out["rate"] = np.where(ok, x / np.where(ok, exposure, 1), np.nan)
    low = np.where(x > 0, stats.gamma.ppf(alpha, x + 0.5) / exposure, 0.0)
    high = stats.gamma.ppf(1 - alpha, x + 0.5) / exposure
    out["rate_ci_low"] = np.where(ok, low, np.nan)
    out["rate_ci_high"] = np.where(ok, high, np.nan)
    out["handoffs"] = scale * out["rate"]
    out["handoffs_se"] = np.where(ok, scale * np.sqrt(np.maximum(x, 0)) / exposure, np.nan)
    out["handoffs_ci_low"] = scale * out["rate_ci_low"]
    out["handoffs_ci_high"] = scale * out["rate_ci_high"]
    managers = out["case_managers"].to_numpy(dtype=float)
    prob = exposure / (exposure + np.where(ok, managers, 0))
    nb = stats.nbinom(np.where(ok, x + 0.5, 1.0), np.where(ok, prob, 0.5))
    caseload = out["caseload"].to_numpy(dtype=float)
    out["handoffs_pi_low"] = np.where(ok, caseload * nb.ppf(alpha), np.nan)
    out["handoffs_pi_high"] = np.where(ok, caseload * nb.ppf(1 - alpha), np.nan)
    field = _field_row(out, x, exposure, ok, alpha, n_draws, seed)
    return pd.concat([out, field], ignore_index=True)[_columns(out)]


def _inputs(organisations: pd.DataFrame, intention: bool) -> pd.DataFrame:
    """The input columns as floats, and each row's basis (or what it lacks)."""
    out = pd.DataFrame({"org": organisations["org"].to_numpy(dtype=object)})
    for col in (*PROFILE_INPUTS, *SURVEY_INPUTS):
        values = organisations[col] if col in organisations and (
            intention or col in PROFILE_INPUTS) else pd.Series(np.nan, index=organisations.index)
        out[col] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    surveyed = out["respondents"].gt(0) & out["intending"].between(0, out["respondents"])
    basis = np.where(surveyed, BOTH, LEAVERS).astype(object)
    # The first profile input an organisation lacks (no staff: no exposure to estimate from).
    for col in reversed(PROFILE_INPUTS):
        gap = out[col].isna() | (out[col] < 0) | ((col == "staff") & (out[col] <= 0))
        basis = np.where(gap, f"no {col.replace('_', ' ')}", basis)
    out["basis"] = basis
    out.insert(1, "organisations", 1)
    return out


def _no(basis: np.ndarray) -> np.ndarray:
    return np.array([str(b).startswith("no ") for b in basis], dtype=bool)


def _evidence(out: pd.DataFrame, realisation: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Events x, exposure N, the scale c*M, and which rows have an estimate."""
    ok = ~_no(out["basis"].to_numpy())
    surveyed = (out["basis"] == BOTH).to_numpy()
    leavers = out["leavers"].fillna(0).to_numpy()
    x = leavers + np.where(surveyed, realisation * out["intending"].fillna(0).to_numpy(), 0.0)
    exposure = out["staff"].fillna(0).to_numpy() + np.where(
        surveyed, out["respondents"].fillna(0).to_numpy(), 0.0)
    exposure = np.where(ok, exposure, 1.0)
    scale = np.where(ok, out["case_managers"].to_numpy(dtype=float)
                     * out["caseload"].to_numpy(dtype=float), np.nan)
    return np.where(ok, x, 0.0), exposure, scale, ok


def _field_row(out: pd.DataFrame, x: np.ndarray, exposure: np.ndarray, ok: np.ndarray,
               alpha: float, n_draws: int, seed: int) -> pd.DataFrame:
    """The field's total: sums, and Monte Carlo intervals of the summed distributions."""
    part = out[ok]
    row: dict[str, object] = {"org": np.nan, "organisations": int(ok.sum())}
    for col in ("staff", "leavers", "case_managers", *SURVEY_INPUTS):
        row[col] = float(part[col].sum(min_count=1))
    managers = part["case_managers"].to_numpy(dtype=float)
    caseload = part["caseload"].to_numpy(dtype=float)
    # The field's caseload per case manager, and its rate pooled over organisations.
    row["caseload"] = float((managers * caseload).sum() / managers.sum()) if managers.sum() > 0 \
        else np.nan
    if ok.any():
        events, exposure_all = float(x[ok].sum()), float(exposure[ok].sum())
        row["rate"] = events / exposure_all
        row["rate_ci_low"] = stats.gamma.ppf(alpha, events + 0.5) / exposure_all if events > 0 \
            else 0.0
        row["rate_ci_high"] = stats.gamma.ppf(1 - alpha, events + 0.5) / exposure_all
    bases = set(part["basis"])
    row["basis"] = bases.pop() if len(bases) == 1 else ("mixed" if bases else "none")
    row["handoffs"] = float(part["handoffs"].sum())
    row["handoffs_se"] = float(np.sqrt((part["handoffs_se"] ** 2).sum()))
    if ok.any():
        rng = np.random.default_rng(seed)
        rates = rng.gamma(x[ok] + 0.5, 1.0 / exposure[ok], size=(n_draws, int(ok.sum())))
        expected = (rates * managers * caseload).sum(axis=1)
        counts = (rng.poisson(rates * managers) * caseload).sum(axis=1)
        row["handoffs_ci_low"], row["handoffs_ci_high"] = np.quantile(expected, [alpha, 1 - alpha])
        row["handoffs_pi_low"], row["handoffs_pi_high"] = np.quantile(counts, [alpha, 1 - alpha])
        if not (x[ok] > 0).any():  # no departure anywhere: the Jeffreys lower limit is 0
            row["handoffs_ci_low"] = 0.0
    return pd.DataFrame([row])


def _columns(out: pd.DataFrame) -> list[str]:
    return ["org", "organisations", *PROFILE_INPUTS, *SURVEY_INPUTS, *HANDOFF_COLUMNS]
