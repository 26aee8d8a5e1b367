"""Empirical-Bayes shrinkage of organisation means toward the field (normal-normal model).

Model: an organisation's observed mean ``y_i ~ N(theta_i, v_i)`` with ``theta_i ~ N(mu, tau^2)``.
``tau^2`` (the real between-organisation variance) is estimated by DerSimonian-Laird or by REML
(Fisher scoring, started at the DL value, as R ``metafor::rma(method="REML")``). Each mean is
pulled toward ``mu`` by ``1 - B_i`` with ``B_i = tau^2 / (tau^2 + v_i)``: a 6-person team's mean
moves a lot, a 100-person organisation's barely. The posterior variance adds the uncertainty of
``mu`` (Morris 1983): ``B_i v_i + (1 - B_i)^2 / sum(w)``, ``w = 1 / (tau^2 + v)``; the
uncertainty of ``tau^2`` itself is ignored (intervals are a little narrow with few units).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fieldsurvey._distributions import chi2_sf, norm_ppf
from fieldsurvey.compare._common import CompareError
from fieldsurvey.compare.benchmark import _stack_org_rows, _unit_keys, _wave_moments

METHODS = ("reml", "dl")


def between_variance(
    means: np.ndarray, variances: np.ndarray, method: str = "reml", *, tol: float = 1e-10
) -> float:
    """Between-unit variance ``tau^2`` by DerSimonian-Laird ("dl") or REML ("reml").

    Examples
    --------
    >>> import numpy as np
    >>> round(between_variance(np.array([1.0, 2.0, 4.0]), np.array([0.5, 0.5, 0.5]), "dl"), 4)
    1.8333
    """
    y = np.asarray(means, float)
    v = np.asarray(variances, float)
    if method not in METHODS:
        raise CompareError(f"method must be one of {METHODS}, got {method!r}")
    if y.size < 2:
        return 0.0
    w = 1 / v
    mu_fixed = (w * y).sum() / w.sum()
    q = (w * (y - mu_fixed) ** 2).sum()
    tau2 = max(0.0, (q - (y.size - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    if method == "dl":
        return float(tau2)
    for _ in range(200):
        w = 1 / (v + tau2)
        mu = (w * y).sum() / w.sum()
        new = (w**2 * ((y - mu) ** 2 - v)).sum() / (w**2).sum() + 1 / w.sum()
        new = max(0.0, new)
        if abs(new - tau2) < tol * max(1.0, tau2):
            tau2 = new
            break
        tau2 = new
    return float(tau2)


def empirical_bayes(
    means: np.ndarray, variances: np.ndarray, *, method: str = "reml", ci: float = 0.95
) -> pd.DataFrame:
    """Shrink unit means toward their precision-weighted mean.

    Parameters
    ----------
    means, variances : array
        Observed unit means and their sampling variances (``s^2 / n``).
    method : {"reml", "dl"}
        Estimator of ``tau^2``.
    ci : float
        Level of the posterior interval.

    Returns
    -------
    DataFrame
        ``mean``, ``variance``, ``weight`` (B, the share of the unit's own deviation that is
        kept), ``shrunk_mean``, ``shrunk_se``, ``shrunk_ci_low``, ``shrunk_ci_high``, ``mu``,
        ``tau2``, and what R ``metafor::rma`` reports beside them (the same in every row):
        ``mu_se`` (standard error of the pooled mean), ``tau2_se``, ``i2`` (percent of the
        variation that is between units), ``h2``, ``qe`` and ``qe_p`` (Cochran's test of
        homogeneity), ``k`` (units). See :func:`heterogeneity`.

    Examples
    --------
    >>> import numpy as np
    >>> r = empirical_bayes(np.array([1.0, 2.0, 4.0]), np.array([0.5, 0.5, 0.5]), method="dl")
    >>> r["shrunk_mean"].round(3).tolist()
    [1.286, 2.071, 3.643]
    """
    y = np.asarray(means, float)
    v = np.asarray(variances, float)
    if y.shape != v.shape:
        raise CompareError("means and variances must have the same length")
    if np.any(~np.isfinite(v)) or np.any(v <= 0):
        raise CompareError("every sampling variance must be positive and finite")
    tau2 = between_variance(y, v, method)
    w = 1 / (v + tau2)
    mu = (w * y).sum() / w.sum()
    b = tau2 / (tau2 + v)
    shrunk = mu + b * (y - mu)
    se = np.sqrt(b * v + (1 - b) ** 2 / w.sum())
    z = norm_ppf(0.5 + ci / 2)
    return pd.DataFrame(
        {
            "mean": y,
            "variance": v,
            "weight": b,
            "shrunk_mean": shrunk,
            "shrunk_se": se,
            "shrunk_ci_low": shrunk - z * se,
            "shrunk_ci_high": shrunk + z * se,
            "mu": mu,
            "tau2": tau2,
            **heterogeneity(y, v, tau2, method),
        }
    )


def heterogeneity(
    means: np.ndarray, variances: np.ndarray, tau2: float, method: str = "reml"
) -> dict[str, float]:
    """The statistics R ``metafor::rma`` reports beside ``tau^2`` for a random-effects model.

    With ``w_i = 1 / v_i`` (fixed-effect weights) and ``W_i = 1 / (v_i + tau^2)``:

    * ``mu_se = sqrt(1 / sum W)``, the standard error of the pooled mean;
    * ``qe = sum w_i (y_i - ybar_w)^2`` (Cochran's Q) and ``qe_p`` its chi-square p on k - 1 df;
    * ``i2 = 100 tau^2 / (tau^2 + s^2)`` and ``h2 = (tau^2 + s^2) / s^2``, with the "typical"
      within-unit variance ``s^2 = (k - 1) sum w / ((sum w)^2 - sum w^2)`` (Higgins & Thompson
      2002, as metafor);
    * ``tau2_se``: REML ``sqrt(2 / tr(P P))`` with ``P = W - W 1 1' W / sum W``; DerSimonian-Laird
      ``sqrt(2 (k - 1) + 4 tau^2 tr P + 2 tau^4 tr(P P)) / tr P`` with the fixed-effect ``P``.

    Examples
    --------
    >>> import numpy as np
    >>> h = heterogeneity(np.array([1.0, 2.0, 4.0]), np.array([0.5, 0.5, 0.5]), 11 / 6, "dl")
    >>> round(h["qe"], 4), round(h["i2"], 2)
    (9.3333, 78.57)
    """
    y = np.asarray(means, float)
    v = np.asarray(variances, float)
    k = y.size
    w = 1 / v
    big_w = 1 / (v + tau2)
    y_fixed = (w * y).sum() / w.sum()
    qe = float((w * (y - y_fixed) ** 2).sum())
    typical = (k - 1) * w.sum() / (w.sum() ** 2 - (w**2).sum()) if k > 1 else np.nan
    if method == "dl":
        p = np.diag(w) - np.outer(w, w) / w.sum()
        tr_p = np.trace(p)
        tau2_se = np.sqrt(2 * (k - 1) + 4 * tau2 * tr_p + 2 * tau2**2 * (p * p).sum()) / tr_p
    else:
        p = np.diag(big_w) - np.outer(big_w, big_w) / big_w.sum()
        tau2_se = np.sqrt(2 / (p * p).sum())
    return {
        "mu_se": float(np.sqrt(1 / big_w.sum())),
        "tau2_se": float(tau2_se) if k > 1 else np.nan,
        "i2": float(100 * tau2 / (tau2 + typical)) if k > 1 else np.nan,
        "h2": float((tau2 + typical) / typical) if k > 1 else np.nan,
        "qe": qe,
        "qe_p": float(chi2_sf(qe, k - 1)) if k > 1 else np.nan,
        "k": k,
    }


def shrink_organisation_means(
    data: pd.DataFrame,
    scales: str | Sequence[str],
    *,
    org: str = "org",
    wave: str | None = None,
    method: str = "reml",
    variance: str = "pooled",
    ci: float = 0.95,
) -> pd.DataFrame:
    """Empirical-Bayes shrunken organisation means, for fair comparison of unequal sizes.

    Parameters
    ----------
    data : DataFrame
    scales : str or list of str
    org : str
    wave : str, optional
        Shrink within each wave separately.
    method : {"reml", "dl"}
    variance : {"pooled", "own"}
        Sampling variance of an organisation mean: the pooled within-organisation variance
        over ``n`` ("pooled", default: stable for teams of 5) or the organisation's own
        SD squared over ``n`` ("own"; organisations with fewer than two scores are dropped).
    ci : float

    Returns
    -------
    DataFrame
        One row per (wave x) organisation x scale: ``org``, ``wave``, ``scale``, ``n``,
        ``n_valid``, ``mean``, ``se``, ``weight``, ``shrunk_mean``, ``shrunk_se``,
        ``shrunk_ci_low``, ``shrunk_ci_high``, ``mu`` (field mean under the model), ``tau2``,
        and per scale (and wave) metafor's ``mu_se``, ``tau2_se``, ``i2``, ``h2``, ``qe``,
        ``qe_p``, ``k`` (see :func:`heterogeneity`).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"org": list("AAABBBCCC"), "x": [1.0, 2, 3, 2, 3, 4, 6, 7, 8]})
    >>> shrink_organisation_means(d, "x")["shrunk_mean"].round(2).tolist()
    [2.1, 3.05, 6.86]
    """
    scales, keys = _unit_keys(data, scales, org, wave)
    if variance not in ("pooled", "own"):
        raise CompareError(f"variance must be 'pooled' or 'own', got {variance!r}")
    frames = []
    for scale, part, out in _wave_moments(
        data, scales, keys, wave, min_valid=2 if variance == "own" else 1
    ):
        if variance == "pooled":
            dof = part["n_valid"].sum() - len(part)
            if dof <= 0:
                raise CompareError(f"scale {scale!r}: too few scores to pool a variance")
            v = part["m2"].sum() / dof / part["n_valid"]
        else:
            v = part["m2"] / (part["n_valid"] - 1) / part["n_valid"]
        eb = empirical_bayes(part["mean"].to_numpy(), v.to_numpy(), method=method, ci=ci)
        out["mean"] = eb["mean"]
        out["se"] = np.sqrt(eb["variance"])
        cols = [
            "weight",
            "shrunk_mean",
            "shrunk_se",
            "shrunk_ci_low",
            "shrunk_ci_high",
            "mu",
            "tau2",
            "mu_se",
            "tau2_se",
            "i2",
            "h2",
            "qe",
            "qe_p",
            "k",
        ]
        out[cols] = eb[cols].to_numpy()
        out["k"] = out["k"].astype(np.int64)
        frames.append(out)
    return _stack_org_rows(frames, org)
