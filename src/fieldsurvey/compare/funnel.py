"""Funnel-plot control limits for organisation means, with overdispersion (Spiegelhalter 2005).

For organisation ``i`` with ``n_i`` valid scores and mean ``y_i``, against the field target
``mu`` (the respondent-weighted field mean) and the pooled within-organisation SD ``sigma``:

* ``s_i = sigma / sqrt(n_i)`` and ``z_i = (y_i - mu) / s_i``;
* overdispersion from Winsorised z-scores: the lowest and highest 10% of ``z`` are set to the
  10th and 90th percentiles, ``phi = mean(z_w^2)``;
* ``additive`` (default, random effects): ``tau^2 = max(0, (I phi - (I - 1)) /
  (sum w - sum w^2 / sum w))`` with ``w = 1 / s_i^2``; limits ``mu +- z_a sqrt(s_i^2 + tau^2)``;
* ``multiplicative``: limits ``mu +- z_a sqrt(phi) s_i`` when ``phi > 1``;
* ``none``: limits ``mu +- z_a s_i``.

``z_a`` is 1.959964 for 95% and 3.090232 for 99.8% limits (two-sided).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fieldsurvey._distributions import norm_ppf
from fieldsurvey.compare._common import CompareError, require_columns
from fieldsurvey.compare.benchmark import _stack_org_rows, _unit_keys, _wave_moments

OVERDISPERSION = ("additive", "multiplicative", "none")
Z95 = float(norm_ppf(0.975))
Z998 = float(norm_ppf(0.999))


def overdispersion(z: np.ndarray, se: np.ndarray, winsor: float = 0.1) -> tuple[float, float]:
    """``phi`` from Winsorised z-scores and the additive ``tau^2`` (Spiegelhalter 2005).

    Examples
    --------
    >>> import numpy as np
    >>> phi, tau2 = overdispersion(np.array([0.0, 3.0, -3.0, 1.0]), np.ones(4), winsor=0)
    >>> round(phi, 3), round(tau2, 3)
    (4.75, 5.333)
    """
    z = np.asarray(z, float)
    se = np.asarray(se, float)
    k = z.size
    if k < 2:
        return 1.0, 0.0
    lo, hi = np.quantile(z, [winsor, 1 - winsor]) if winsor > 0 else (-np.inf, np.inf)
    phi = float(np.mean(np.clip(z, lo, hi) ** 2))
    w = 1 / se**2
    tau2 = max(0.0, (k * phi - (k - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    return phi, float(tau2)


def funnel_limits(
    data: pd.DataFrame,
    scales: str | Sequence[str],
    *,
    org: str = "org",
    wave: str | None = None,
    method: str = "additive",
    winsor: float = 0.1,
) -> pd.DataFrame:
    """Each organisation's mean against funnel-plot limits at its own size.

    Parameters
    ----------
    data : DataFrame
    scales : str or list of str
    org : str
    wave : str, optional
        Separate funnels per wave.
    method : {"additive", "multiplicative", "none"}
        How overdispersion widens the limits (see module docs).
    winsor : float
        Share Winsorised at each end before estimating overdispersion.

    Returns
    -------
    DataFrame
        One row per (wave x) organisation x scale: ``n``, ``n_valid``, ``mean``, ``target``,
        ``sigma``, ``se``, ``z`` (unadjusted), ``z_adjusted`` (on the widened scale),
        ``lower95``, ``upper95``, ``lower998``, ``upper998``, ``outside95``, ``outside998``,
        ``direction`` ("above"/"below"/NA outside 95%), ``phi``, ``tau2``, ``method``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"org": list("AAABBBCCC"), "x": [1.0, 2, 3, 2, 3, 4, 6, 7, 8]})
    >>> funnel_limits(d, "x", method="none")["outside998"].tolist()
    [True, False, True]
    """
    scales, keys = _unit_keys(data, scales, org, wave)
    if method not in OVERDISPERSION:
        raise CompareError(f"method must be one of {OVERDISPERSION}, got {method!r}")
    if not 0 <= winsor < 0.5:
        raise CompareError(f"winsor must be in [0, 0.5), got {winsor}")
    frames = []
    for scale, part, out in _wave_moments(data, scales, keys, wave, min_valid=1):
        n = part["n_valid"].to_numpy(float)
        y = part["mean"].to_numpy()
        dof = n.sum() - n.size
        if dof <= 0:
            raise CompareError(f"scale {scale!r}: too few scores for a within-org SD")
        sigma = np.sqrt(part["m2"].sum() / dof)
        target = (n * y).sum() / n.sum()
        se = sigma / np.sqrt(n)
        z = (y - target) / se
        phi, tau2 = overdispersion(z, se, winsor)
        spread = _spread(se, phi, tau2, method)
        out["mean"], out["target"], out["sigma"], out["se"] = y, target, sigma, se
        out["z"] = z
        out["z_adjusted"] = (y - target) / spread
        for label, crit in (("95", Z95), ("998", Z998)):
            out[f"lower{label}"] = target - crit * spread
            out[f"upper{label}"] = target + crit * spread
            out[f"outside{label}"] = np.abs(y - target) > crit * spread
        out["direction"] = np.where(out["outside95"], np.where(y > target, "above", "below"), None)
        out["phi"], out["tau2"], out["method"] = phi, tau2, method
        frames.append(out)
    return _stack_org_rows(frames, org)


def _spread(se: np.ndarray, phi: float, tau2: float, method: str) -> np.ndarray:
    if method == "additive":
        return np.sqrt(se**2 + tau2)
    if method == "multiplicative":
        return se * np.sqrt(max(phi, 1.0))
    return se


def funnel_curves(
    limits: pd.DataFrame,
    *,
    wave: str | None = None,
    sizes: Sequence[int] | None = None,
    points: int = 60,
) -> pd.DataFrame:
    """The funnel's limit curves over a grid of sample sizes, for plotting.

    Parameters
    ----------
    limits : DataFrame
        Output of :func:`funnel_limits` (its ``target``, ``sigma``, ``phi``, ``tau2``,
        ``method`` per scale and wave are reused).
    wave : str, optional
        The wave column, when the limits were computed per wave.
    sizes : sequence of int, optional
        Sample sizes to evaluate; default ``points`` sizes spaced evenly on a log scale from 2
        to the largest organisation.
    points : int

    Returns
    -------
    DataFrame
        ``scale`` (and wave), ``sample_size``, ``target``, ``lower95``, ``upper95``,
        ``lower998``, ``upper998``. These are curves, not respondent cells: ``sample_size`` is
        a grid value, not a count of anyone.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"org": list("AAABBBCCC"), "x": [1.0, 2, 3, 2, 3, 4, 6, 7, 8]})
    >>> c = funnel_curves(funnel_limits(d, "x", method="none"), sizes=[4])
    >>> round(float(c["upper95"].iloc[0] - c["target"].iloc[0]), 4)
    0.98
    """
    need = ["scale", "target", "sigma", "phi", "tau2", "method", "n_valid"]
    require_columns(limits, need + ([wave] if wave else []), "limits")
    group_cols = ([wave] if wave else []) + ["scale"]
    rows = []
    for key, part in limits.groupby(group_cols, sort=True):
        first = part.iloc[0]
        grid = (
            np.asarray(sizes, float)
            if sizes is not None
            else np.unique(np.round(np.geomspace(2, max(3, part["n_valid"].max()), points)))
        )
        se = first["sigma"] / np.sqrt(grid)
        spread = _spread(se, first["phi"], first["tau2"], first["method"])
        frame = pd.DataFrame({"sample_size": grid.astype(np.int64), "target": first["target"]})
        for label, crit in (("95", Z95), ("998", Z998)):
            frame[f"lower{label}"] = first["target"] - crit * spread
            frame[f"upper{label}"] = first["target"] + crit * spread
        for pos, value in enumerate(key):
            frame.insert(pos, group_cols[pos], value)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)
