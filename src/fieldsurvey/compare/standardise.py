"""Fair comparison of organisations with different staff mixes: role standardisation, weights.

* :func:`standardise_role_mix` - direct standardisation: an organisation's role-specific means
  weighted by the *field's* role shares, so an organisation is not flattered or penalised for
  employing more of a role that scores high everywhere.
* :func:`survey_weights` - post-stratification (or raking) weights that make respondents stand
  for the staff counts of their organisation and role.
* :func:`weighted_means` - weighted (ratio) means with Taylor-linearisation standard errors,
  clustered by organisation when the estimate pools organisations; for weights from
  :func:`survey_weights` also the design-correct ("calibrated") standard errors that R
  ``survey::svymean`` gives on the post-stratified or raked design.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fieldsurvey._distributions import norm_ppf, t_ppf
from fieldsurvey.compare._common import (
    ALL,
    CompareError,
    as_list,
    numeric_column,
    require_columns,
)
from fieldsurvey.compare.benchmark import _check_units


def standardise_role_mix(
    data: pd.DataFrame,
    scales: str | Sequence[str],
    *,
    org: str = "org",
    role: str = "wf_role",
    collapse: Mapping[object, object] | None = None,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Directly standardise each organisation's mean to the field's role mix.

    ``standardised_o = sum_r p_r m_or / sum_{r in o} p_r``, with ``p_r`` the field share of role
    ``r`` among valid scores and ``m_or`` the organisation's mean for that role. Roles absent
    from an organisation cannot be standardised: the sum runs over the roles present,
    ``role_coverage`` (the field share they stand for) and ``roles_missing`` say what is
    missing and ``complete`` is False. Merge rare roles beforehand with ``collapse`` (e.g.
    ``{4: "lead", 5: "lead"}``) so fewer organisations lack one. The standard error uses the
    field's pooled within-organisation variance of each role, ``sqrt(sum_r q_r^2 s_r^2 /
    n_or)`` with ``q_r`` the renormalised shares, so single-person role cells still count.

    Parameters
    ----------
    data : DataFrame
    scales : str or list of str
    org, role : str
        Organisation and role columns; respondents without a role are left out.
    collapse : mapping, optional
        Role value -> merged role label.
    ci : float

    Returns
    -------
    DataFrame
        One row per organisation x scale: ``org``, ``scale``, ``n`` (respondents),
        ``n_valid`` (scored, with a role), ``crude_mean``, ``standardised_mean``, ``se``,
        ``ci_low``, ``ci_high``, ``role_coverage``, ``roles_missing``, ``complete``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"org": list("AAAABBBB"), "role": [1, 1, 1, 2, 1, 2, 2, 2],
    ...                   "x": [1.0, 1, 1, 5, 1, 5, 5, 5]})
    >>> standardise_role_mix(d, "x", role="role")[["org", "crude_mean", "standardised_mean"]]
      org  crude_mean  standardised_mean
    0   A         2.0                3.0
    1   B         4.0                3.0
    """
    scales = as_list(scales)
    require_columns(data, [org, role, *scales])
    _check_units(data, [org])
    roles = data[role].map(lambda v: collapse.get(v, v)) if collapse else data[role]
    base = pd.DataFrame({org: data[org], "_role": roles})
    counts = base.groupby(org, sort=True).size()
    z = norm_ppf(0.5 + ci / 2)
    frames = []
    for scale in scales:
        frame = base.assign(_y=numeric_column(data, scale)).dropna(subset=["_role", "_y"])
        g = frame.groupby([org, "_role"], sort=True)["_y"]
        cell = pd.DataFrame({"n": g.size(), "mean": g.mean(), "var": g.var(ddof=1)})
        cell["m2"] = cell["var"].fillna(0) * (cell["n"] - 1)
        by_role = cell.groupby(level="_role")
        share = by_role["n"].sum() / cell["n"].sum()
        dof = by_role["n"].sum() - by_role.size()
        pooled_var = (by_role["m2"].sum() / dof.where(dof > 0)).fillna(frame["_y"].var(ddof=1))
        means = cell["mean"].unstack("_role").reindex(columns=share.index)
        ns = cell["n"].unstack("_role").reindex(columns=share.index).fillna(0)
        present = ns.to_numpy() > 0
        p = share.to_numpy()
        coverage = (present * p).sum(axis=1)
        q = present * p / coverage[:, None]
        std_mean = np.nansum(q * means.to_numpy(), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.nansum(q**2 * pooled_var.to_numpy() / np.where(present, ns, np.nan), axis=1)
        se = np.sqrt(var)
        crude = frame.groupby(org, sort=True)["_y"].mean().reindex(means.index)
        labels = np.asarray(share.index, dtype=object)
        out = pd.DataFrame(
            {
                org: means.index,
                "scale": scale,
                "n": counts.reindex(means.index).to_numpy(),
                "n_valid": ns.sum(axis=1).astype(np.int64).to_numpy(),
                "crude_mean": crude.to_numpy(),
                "standardised_mean": std_mean,
                "se": se,
                "ci_low": std_mean - z * se,
                "ci_high": std_mean + z * se,
                "role_coverage": coverage,
                "roles_missing": [", ".join(str(x) for x in labels[~row]) for row in present],
            }
        )
        out["complete"] = out["roles_missing"] == ""
        frames.append(out)
    return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class Calibration:
    """How survey weights were calibrated, so standard errors can account for it.

    ``method`` is "poststratify" (weights make each ``margins`` cell, e.g. organisation x role,
    add up to its head count) or "rake" (each margin separately: organisation totals and role
    totals). :func:`survey_weights` attaches one to its result as ``weights.attrs["calibration"]``.
    """

    method: str
    margins: tuple[str, ...]


def survey_weights(
    data: pd.DataFrame,
    staff: pd.DataFrame,
    *,
    org: str = "org",
    role: str = "wf_role",
    method: str = "poststratify",
    max_iter: int = 100,
    tol: float = 1e-10,
) -> pd.Series:
    """Weights that make respondents represent the staff of their organisation and role.

    Parameters
    ----------
    data : DataFrame
        Respondents with ``org`` and ``role``.
    staff : DataFrame
        Columns ``org``, ``role`` (same names as in ``data``) and ``staff`` (head count).
    method : {"poststratify", "rake"}
        "poststratify": weight = staff / respondents in each organisation x role cell; every
        cell with staff needs a respondent. "rake": iterative proportional fitting to the
        organisation totals and the field's role totals (use it when some cells are empty).
    max_iter, tol : raking controls.

    Returns
    -------
    Series
        One weight per row of ``data`` (NaN for respondents without a role), named
        ``weight``; weights sum to the staff total. ``attrs["calibration"]`` holds a
        :class:`Calibration` that :func:`weighted_means` uses for design-correct standard
        errors.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"org": ["A", "A", "B"], "wf_role": [1, 2, 1]})
    >>> s = pd.DataFrame({"org": ["A", "A", "B"], "wf_role": [1, 2, 1], "staff": [4, 2, 3]})
    >>> survey_weights(d, s).tolist()
    [4.0, 2.0, 3.0]
    """
    require_columns(data, [org, role])
    require_columns(staff, [org, role, "staff"], "staff table")
    if staff.duplicated([org, role]).any():
        row = staff.index[staff.duplicated([org, role]).to_numpy().argmax()]
        raise CompareError(
            f"staff table row {row!r} repeats organisation x role "
            f"{staff.loc[row, [org, role]].tolist()}"
        )
    head = pd.to_numeric(staff["staff"], errors="coerce")
    if head.isna().any() or (head < 0).any():
        row = staff.index[(head.isna() | (head < 0)).to_numpy().argmax()]
        raise CompareError(
            f"staff table row {row!r} column 'staff': "
            f"{staff.loc[row, 'staff']!r} is not a head count"
        )
    targets = staff.assign(staff=head).set_index([org, role])["staff"]
    resp = data[[org, role]]
    known = resp[role].notna()
    cells = pd.MultiIndex.from_frame(resp.loc[known])
    unknown = ~cells.isin(targets.index)
    if unknown.any():
        pos = resp.loc[known].index[np.argmax(unknown)]
        raise CompareError(
            f"row {pos!r}: organisation x role {tuple(resp.loc[pos])} is not in the staff table"
        )
    weight = pd.Series(np.nan, index=data.index, name="weight")
    if method == "poststratify":
        n_cell = resp.loc[known].groupby([org, role]).size()
        empty = targets[(targets > 0) & ~targets.index.isin(n_cell.index)]
        if len(empty):
            raise CompareError(
                f"{len(empty)} organisation x role cell(s) with staff have no respondents, e.g. "
                f"{empty.index[0]}; use method='rake' or merge roles first"
            )
        ratio = (targets / n_cell).reindex(cells)
        weight.loc[known] = ratio.to_numpy()
        weight.attrs["calibration"] = Calibration("poststratify", (org, role))
        return weight
    if method != "rake":
        raise CompareError(f"method must be 'poststratify' or 'rake', got {method!r}")
    org_total = targets.groupby(level=0).sum()
    role_total = targets.groupby(level=1).sum()
    org_codes = resp.loc[known, org].to_numpy()
    role_codes = resp.loc[known, role].to_numpy()
    w = np.ones(known.sum())
    for _ in range(max_iter):
        before = w.copy()
        for codes, total in ((org_codes, org_total), (role_codes, role_total)):
            current = pd.Series(w).groupby(codes).transform("sum").to_numpy()
            w *= total.reindex(codes).to_numpy() / current
        if np.max(np.abs(w - before) / before) < tol:
            break
    weight.loc[known] = w
    weight.attrs["calibration"] = Calibration("rake", (org, role))
    return weight


def weighted_means(
    data: pd.DataFrame,
    scales: str | Sequence[str],
    weights: pd.Series | np.ndarray,
    *,
    by: str | None = None,
    cluster: str | None = None,
    ci: float = 0.95,
    calibration: Calibration | None = None,
) -> pd.DataFrame:
    """Weighted means with linearisation (sandwich) standard errors.

    The weighted mean is the ratio ``sum w y / sum w``; its linearised variance is
    ``C / (C - 1) sum_c (sum_{i in c} w_i (y_i - ybar) / sum w)^2`` over clusters ``c``
    (organisations, when the estimate pools them) or over respondents when there is no
    cluster. Intervals use t with ``C - 1`` degrees of freedom. This is the "ultimate cluster"
    with-replacement approximation (R ``survey::svymean`` with ``ids = ~org``), without a
    finite-population correction, and it treats the weights as fixed.

    Weights calibrated to known totals (post-stratified or raked by :func:`survey_weights`)
    are not fixed: they would differ in another sample. With a :class:`Calibration` (given,
    or found in ``weights.attrs["calibration"]``) the result also has ``calibrated_se``,
    ``calibrated_ci_low`` and ``calibrated_ci_high``: the standard error R ``survey::svymean``
    (``svyby`` for ``by``) reports on the calibrated design, see :func:`calibrated_variance`.
    It is usually smaller, since calibration removes the variation the margins explain.

    Parameters
    ----------
    data : DataFrame
    scales : str or list of str
    weights : Series or array, one weight per row (NaN rows are left out)
    by : str, optional
        Estimate within each level (e.g. ``"org"``) plus for everyone (``by`` NA).
    cluster : str, optional
        Cluster column (e.g. ``"org"``); a level of ``by`` with a single cluster falls back to
        respondents as the units.
    ci : float
    calibration : Calibration, optional
        How the weights were calibrated (default: ``weights.attrs["calibration"]``).

    Returns
    -------
    DataFrame
        ``by`` (NA = everyone), ``scale``, ``n``, ``n_valid``, ``weighted_mean``, ``se``,
        ``ci_low``, ``ci_high``, ``effective_n`` (Kish), ``clusters``; with a calibration
        also ``calibrated_se``, ``calibrated_ci_low``, ``calibrated_ci_high``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"x": [1.0, 2.0, 4.0]})
    >>> weighted_means(d, "x", pd.Series([1.0, 1.0, 2.0]))["weighted_mean"].tolist()
    [2.75]
    """
    scales = as_list(scales)
    require_columns(data, scales + [c for c in (by, cluster) if c])
    if calibration is None:
        calibration = getattr(weights, "attrs", {}).get("calibration")
    w_all = pd.Series(np.asarray(weights, dtype=float), index=data.index)
    if len(w_all) != len(data):
        raise CompareError("weights must have one value per row of data")
    if (w_all < 0).any():
        raise CompareError(f"weight at row {data.index[(w_all < 0).to_numpy().argmax()]!r} < 0")
    design = _CalibratedDesign(data, w_all, calibration, cluster) if calibration else None
    rows = []
    for scale in scales:
        y = pd.Series(numeric_column(data, scale), index=data.index)
        ok = y.notna() & w_all.notna()
        groups = [(ALL, data.index)]
        if by:
            groups += list(data.groupby(by, sort=True).groups.items())
        for label, idx in groups:
            sel = ok.loc[idx]
            yy, ww = y.loc[idx][sel].to_numpy(), w_all.loc[idx][sel].to_numpy()
            row = {"scale": scale, "n": len(idx), "n_valid": int(sel.sum())}
            row.update(
                _ratio_mean(yy, ww, data.loc[idx][sel][cluster].to_numpy() if cluster else None, ci)
            )
            if design is not None:
                domain = ok & data.index.isin(idx)
                row.update(design.mean_se(y, domain.to_numpy(), row["clusters"], ci))
            rows.append({by: label, **row} if by else row)
    out = pd.DataFrame(rows)
    if by:
        out[by] = out[by].astype(object).where(out[by].notna(), ALL)
    return out


def calibrated_variance(
    y: np.ndarray,
    weights: np.ndarray,
    domain: np.ndarray,
    model: list[np.ndarray],
    clusters: np.ndarray | None = None,
    *,
    additive: bool = False,
) -> tuple[float, float, int]:
    """Weighted mean of a domain and its variance on a calibrated design, as R ``survey``.

    On the respondents who carry a weight (the calibration sample), the linearised mean has
    the influence values ``x_i = w_i (y_i - ybar) / sum_D w`` for respondents of the domain
    ``D`` with an answer, and 0 for everyone else. Calibration removes what the calibration
    model explains: ``e = x / w`` is replaced by its residual from an (unweighted) least-squares
    fit on the model's dummy variables over the whole calibration sample -- the cells of
    ``model`` (post-stratification: one cell per combination), or their additive main effects
    (``additive``, raking) -- and ``u = w * residual``. The variance is then
    ``C / (C - 1) sum_c (u_c - mean u)^2`` over the sampling units ``c`` (respondents, or the
    totals of ``clusters``). This is what ``survey::svymean`` / ``svyby`` compute on a design
    from ``postStratify`` or ``calibrate`` with initially equal weights (``svyrecvar`` with
    ``qr.resid`` of the calibration model). Respondents outside the domain or without an answer
    still count as units and can carry residuals (as in ``survey``).

    Returns
    -------
    (mean, variance, units)
    """
    w = np.asarray(weights, float)
    in_domain = np.asarray(domain, bool) & ~np.isnan(y)
    total = w[in_domain].sum()
    if total <= 0:
        return np.nan, np.nan, 0
    mean = float((w[in_domain] * y[in_domain]).sum() / total)
    e = np.where(in_domain, np.nan_to_num(y - mean) / total, 0.0)
    codes = [pd.factorize(pd.Series(m))[0] for m in model]
    if additive:
        e = _backfit_residuals(e, codes)
    else:
        cells = pd.factorize(pd.MultiIndex.from_arrays(codes))[0]
        e = e - (np.bincount(cells, weights=e) / np.bincount(cells))[cells]
    u = w * e
    if clusters is not None:
        u = pd.Series(u).groupby(pd.factorize(pd.Series(clusters))[0]).sum().to_numpy()
    k = u.size
    variance = k / (k - 1) * ((u - u.mean()) ** 2).sum() if k > 1 else np.nan
    return mean, float(variance), k


def _backfit_residuals(e: np.ndarray, codes: list[np.ndarray], tol: float = 1e-15) -> np.ndarray:
    """Residuals of a least-squares fit of ``e`` on additive main effects of ``codes``, by
    alternating projections (sweeping out each margin's means until nothing changes)."""
    counts = [np.bincount(c) for c in codes]
    scale = max(float(np.abs(e).max()), 1e-300)
    for _ in range(10_000):
        change = 0.0
        for c, n in zip(codes, counts, strict=True):
            means = np.bincount(c, weights=e) / n
            e = e - means[c]
            change = max(change, float(np.abs(means).max()))
        if change <= tol * scale:
            break
    return e


class _CalibratedDesign:
    """The calibration sample and model of :func:`weighted_means` with a :class:`Calibration`."""

    def __init__(
        self, data: pd.DataFrame, weights: pd.Series, calibration: Calibration, cluster: str | None
    ):
        if calibration.method not in ("poststratify", "rake"):
            raise CompareError(
                f"calibration method must be 'poststratify' or 'rake', got {calibration.method!r}"
            )
        require_columns(data, list(calibration.margins), "data (calibration margins)")
        margins = data[list(calibration.margins)]
        self.sample = (weights.notna() & margins.notna().all(axis=1)).to_numpy()
        self.weights = weights.to_numpy()[self.sample]
        self.model = [margins[c].to_numpy()[self.sample] for c in calibration.margins]
        self.additive = calibration.method == "rake"
        self.clusters = data[cluster].to_numpy()[self.sample] if cluster else None

    def mean_se(self, y: np.ndarray, domain: np.ndarray, clusters_used: int, ci: float) -> dict:
        """Calibrated SE and interval of one domain's mean (t with the interval's df as the
        fixed-weights interval; a domain inside one cluster uses respondents as units)."""
        units = self.clusters
        if units is not None and len(pd.unique(units[domain[self.sample]])) < 2:
            units = None
        mean, variance, _ = calibrated_variance(
            y[self.sample], self.weights, domain[self.sample], self.model, units,
            additive=self.additive,
        )  # fmt: skip
        se = float(np.sqrt(variance))
        crit = t_ppf(0.5 + ci / 2, clusters_used - 1) if clusters_used > 1 else np.nan
        return {
            "calibrated_se": se,
            "calibrated_ci_low": mean - crit * se,
            "calibrated_ci_high": mean + crit * se,
        }


def _ratio_mean(y: np.ndarray, w: np.ndarray, clusters: np.ndarray | None, ci: float) -> dict:
    total = w.sum()
    if y.size == 0 or total <= 0:
        return {
            "weighted_mean": np.nan,
            "se": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "effective_n": 0.0,
            "clusters": 0,
        }
    mean = (w * y).sum() / total
    u = w * (y - mean) / total
    if clusters is not None and len(pd.unique(clusters)) > 1:
        u = pd.Series(u).groupby(clusters).sum().to_numpy()
    k = u.size
    var = k / (k - 1) * (u**2).sum() if k > 1 else np.nan
    se = np.sqrt(var)
    crit = t_ppf(0.5 + ci / 2, k - 1) if k > 1 else np.nan
    return {
        "weighted_mean": mean,
        "se": se,
        "ci_low": mean - crit * se,
        "ci_high": mean + crit * se,
        "effective_n": total**2 / (w**2).sum(),
        "clusters": k,
    }


def weighted_differences(
    data: pd.DataFrame,
    scales: str | Sequence[str],
    weights: pd.Series | np.ndarray,
    *,
    org: str = "org",
    ci: float = 0.95,
) -> pd.DataFrame:
    """Each organisation's weighted mean against the weighted field without it.

    The organisation's mean uses its respondents as the units of its linearised variance; the
    rest of the field is clustered by organisation. The two estimates are independent, so the
    difference's variance is the sum of theirs; its interval uses the normal approximation.

    Returns
    -------
    DataFrame
        ``org``, ``scale``, ``weighted_mean``, ``weighted_se``, ``weighted_ci_low``,
        ``weighted_ci_high``, ``field_weighted_mean``, ``weighted_diff``, ``weighted_diff_ci_low``,
        ``weighted_diff_ci_high``, ``weighted_z`` (the difference over its design SE: the
        weighted counterpart of the funnel plot's z-score, without an overdispersion term).

    Examples
    --------
    >>> d = pd.DataFrame({"org": ["A", "A", "B", "B", "C", "C"], "x": [1.0, 3, 2, 4, 5, 7]})
    >>> out = weighted_differences(d, "x", pd.Series([1.0, 3, 1, 1, 1, 1]))
    >>> out.loc[out["org"] == "A", ["weighted_mean", "field_weighted_mean"]].to_numpy().tolist()
    [[2.5, 4.5]]
    """
    scales = as_list(scales)
    require_columns(data, scales + [org])
    w_all = np.asarray(weights, dtype=float)
    if w_all.size != len(data):
        raise CompareError("weights must have one value per row of data")
    orgs = data[org].to_numpy()
    z = norm_ppf(0.5 + ci / 2)
    rows = []
    for scale in scales:
        y = numeric_column(data, scale)
        ok = ~np.isnan(y) & ~np.isnan(w_all)
        for unit in sorted(pd.unique(orgs[pd.notna(orgs)]), key=str):
            own = ok & (orgs == unit)
            rest = ok & (orgs != unit)
            mine = _ratio_mean(y[own], w_all[own], None, ci)
            field = _ratio_mean(y[rest], w_all[rest], orgs[rest], ci)
            diff = mine["weighted_mean"] - field["weighted_mean"]
            se = np.sqrt(mine["se"] ** 2 + field["se"] ** 2)
            rows.append({
                org: unit, "scale": scale,
                "weighted_mean": mine["weighted_mean"], "weighted_se": mine["se"],
                "weighted_ci_low": mine["ci_low"], "weighted_ci_high": mine["ci_high"],
                "field_weighted_mean": field["weighted_mean"],
                "weighted_diff": diff,
                "weighted_diff_ci_low": diff - z * se, "weighted_diff_ci_high": diff + z * se,
                "weighted_z": diff / se if se > 0 else np.nan,
            })  # fmt: skip
    return pd.DataFrame(rows)
