"""Polychoric correlations, their thresholds and ordinal alpha, as R ``psych::polychoric``.

Each item is taken as a coarse reading of a standard-normal variable cut at thresholds. As psych
does by default (``global = TRUE``): the thresholds of an item come from its own answer
frequencies over every respondent who answered it, ``tau = qnorm(cumulative proportions)``;
then for each pair of items the correlation of the two latent variables is the value that
maximises the likelihood of the pair's cross-table (respondents who answered both). If the items
do not all use the same highest category, psych switches to per-pair thresholds from the
cross-table, with empty rows and columns dropped and empty cells set to 0.5; so do we. A matrix
that is not positive definite is smoothed as ``psych::cor.smooth`` (eigenvalues below 1e-12 set
to 1e-10, then rescaled to a correlation matrix).

psych maximises with R's ``optimize`` at its default tolerance (about 1e-4 in rho); we optimise to
1e-9, so values differ from psych's by up to about 1e-4.

Ordinal alpha (Zumbo, Gadermann & Zeisser 2007) is the standardised alpha of the polychoric matrix.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

# Gauss-Legendre nodes for the bivariate normal integral over the angle (see _bvn_upper).
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(40)
# psych refuses items with more categories than this (polychoric(max.cat = 8)).
MAX_CATEGORIES = 8


@dataclass(frozen=True)
class PolychoricResult:
    """Polychoric correlations with the thresholds they rest on (psych's ``rho`` and ``tau``).

    Attributes
    ----------
    rho : pd.DataFrame
        Items x items correlation matrix.
    tau : pd.DataFrame
        One row per item, one column per threshold ("1" .. "K-1" for K answer categories):
        ``qnorm`` of the item's cumulative answer proportions; an unused top category gives
        ``inf`` (as psych).
    n : pd.Series
        Respondents who answered each item.
    """

    rho: pd.DataFrame
    tau: pd.DataFrame
    n: pd.Series


def polychoric(items: pd.DataFrame, *, correct: float = 0.5) -> PolychoricResult:
    """Polychoric correlations and thresholds, as ``psych::polychoric(x)`` (``$rho``, ``$tau``).

    See :func:`polychoric_matrix` for the method.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1, 2, 2, 3, 3, 4, 1, 4], "b": [1, 1, 2, 3, 4, 4, 2, 3]})
    >>> res = polychoric(df)
    >>> [round(float(t), 4) for t in res.tau.loc["a"]]  # qnorm(c(2, 4, 6) / 8)
    [-0.6745, 0.0, 0.6745]
    """
    codes, names = _codes(items)
    rho = polychoric_matrix(items, correct=correct)
    n_cat = int(np.nanmax(codes))
    tau = np.array([_thresholds(codes[:, j], n_cat) for j in range(codes.shape[1])])
    columns = [str(i) for i in range(1, n_cat)]
    return PolychoricResult(
        rho=rho,
        tau=pd.DataFrame(tau, index=names, columns=columns),
        n=pd.Series((~np.isnan(codes)).sum(axis=0), index=names, name="n"),
    )


def polychoric_matrix(items: pd.DataFrame, *, correct: float = 0.5) -> pd.DataFrame:
    """Polychoric correlation matrix of ordinal items, as ``psych::polychoric(x)$rho``.

    Parameters
    ----------
    items : pd.DataFrame
        One column per item, integer answer codes, missing as NaN. Reverse-keyed items should be
        reversed first (reversal only flips signs).
    correct : float
        Value put in empty cells when per-pair thresholds are needed (psych ``correct``).

    Returns
    -------
    pd.DataFrame
        Items x items.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1, 2, 2, 3, 3, 4, 1, 4], "b": [1, 1, 2, 3, 4, 4, 2, 3]})
    >>> round(float(polychoric_matrix(df).loc["a", "b"]), 3)  # psych: 0.857
    0.857
    """
    codes, names = _codes(items)
    k = codes.shape[1]
    n_cat = int(np.nanmax(codes)) if codes.size and np.isfinite(codes).any() else 0
    if n_cat > MAX_CATEGORIES:
        raise ValueError(
            f"the items have {n_cat} answer categories; polychoric correlations are meant for "
            f"at most {MAX_CATEGORIES}"
        )
    highest = [np.nanmax(codes[:, j]) for j in range(k)]
    use_global = min(highest) == max(highest)
    taus = [_thresholds(codes[:, j], n_cat) for j in range(k)]
    rho = np.eye(k)
    for i in range(1, k):
        for j in range(i):
            both = ~np.isnan(codes[:, i]) & ~np.isnan(codes[:, j])
            table = _cross_table(codes[both, i], codes[both, j], n_cat)
            if use_global:
                value = _ml_rho(table / table.sum(), taus[i], taus[j])
            else:
                value = _pair_rho(table, correct)
            rho[i, j] = rho[j, i] = value
    if np.isfinite(rho).all():
        rho = _smooth(rho)
    return pd.DataFrame(rho, index=names, columns=names)


def ordinal_alpha(items: pd.DataFrame) -> float:
    """Ordinal alpha: standardised Cronbach's alpha of the polychoric correlation matrix.

    Equals ``psych::alpha(psych::polychoric(x)$rho)$total$raw_alpha``.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1, 2, 2, 3, 3, 4, 1, 4], "b": [1, 1, 2, 3, 4, 4, 2, 3],
    ...                    "c": [2, 1, 2, 4, 3, 4, 1, 3]})
    >>> 0 < ordinal_alpha(df) < 1
    True
    """
    rho = polychoric_matrix(items).to_numpy()
    k = rho.shape[0]
    if k < 2:
        raise ValueError("ordinal alpha needs at least two items")
    return float((1.0 - k / rho.sum()) * k / (k - 1))


def _codes(items: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Answer codes shifted so the lowest code of all items is 1 (as psych)."""
    if not isinstance(items, pd.DataFrame):
        raise TypeError("items must be a pandas DataFrame with one column per item")
    x = items.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    names = [str(c) for c in items.columns]
    for j, name in enumerate(names):
        col = x[:, j]
        answered = col[~np.isnan(col)]
        if answered.size == 0 or np.all(answered == answered[0]):
            raise ValueError(
                f"item {name!r} has no variance; a polychoric correlation needs two or more answers"
            )
        if not np.all(answered == np.round(answered)):
            raise ValueError(
                f"item {name!r} has non-integer answers; polychoric needs ordinal codes"
            )
    return x - np.nanmin(x) + 1.0, names


def _thresholds(col: np.ndarray, n_cat: int) -> np.ndarray:
    answered = col[~np.isnan(col)].astype(np.int64)
    freq = np.bincount(answered, minlength=n_cat + 1)[1:]
    cumulative = np.cumsum(freq)[:-1] / answered.size
    return special.ndtri(cumulative)


def _cross_table(a: np.ndarray, b: np.ndarray, n_cat: int) -> np.ndarray:
    index = (a.astype(np.int64) - 1) * n_cat + (b.astype(np.int64) - 1)
    return np.bincount(index, minlength=n_cat * n_cat).reshape(n_cat, n_cat).astype(np.float64)


def _pair_rho(table: np.ndarray, correct: float) -> float:
    """psych's global = FALSE path: thresholds from the pair's own margins, zero cells corrected."""
    total = table.sum()
    if total == 0:
        return np.nan
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0] / total
    if min(table.shape) < 2:
        return np.nan
    if correct > 0 and (table == 0).any():
        table = np.where(table == 0, correct / total, table)
    row_tau = special.ndtri(np.cumsum(table.sum(axis=1))[:-1])
    col_tau = special.ndtri(np.cumsum(table.sum(axis=0))[:-1])
    return _ml_rho(table, row_tau, col_tau)


def _ml_rho(proportions: np.ndarray, row_tau: np.ndarray, col_tau: np.ndarray) -> float:
    def neg_loglik(rho: float) -> float:
        p = _cell_probabilities(rho, row_tau, col_tau)
        usable = p > 0
        return -float(np.sum(proportions[usable] * np.log(p[usable])))

    res = optimize.minimize_scalar(
        neg_loglik, bounds=(-0.999999, 0.999999), method="bounded", options={"xatol": 1e-9}
    )
    return float(res.x)


def _cell_probabilities(rho: float, row_tau: np.ndarray, col_tau: np.ndarray) -> np.ndarray:
    """Probability of each cell of the cross-table under a bivariate normal with correlation rho."""
    h = np.concatenate(([-np.inf], row_tau, [np.inf]))
    k = np.concatenate(([-np.inf], col_tau, [np.inf]))
    cdf = _bvn_cdf(h[:, None], k[None, :], rho)
    return np.diff(np.diff(cdf, axis=0), axis=1)


def _bvn_cdf(h: np.ndarray, k: np.ndarray, rho: float) -> np.ndarray:
    """P(X <= h, Y <= k) for a standard bivariate normal with correlation rho (|rho| < 1).

    Uses P = Phi(h) Phi(k) + 1/(2 pi) * integral over t in (0, asin rho) of
    exp(-(h^2 + k^2 - 2 h k sin t) / (2 cos^2 t)) dt, by Gauss-Legendre quadrature in t.
    Infinite limits reduce to the univariate normal.
    """
    h, k = np.broadcast_arrays(h, k)
    out = special.ndtr(h) * special.ndtr(k)
    finite = np.isfinite(h) & np.isfinite(k)
    if rho != 0.0 and finite.any():
        hf, kf = h[finite], k[finite]
        upper = np.arcsin(rho)
        t = 0.5 * upper * (_GL_NODES + 1.0)
        sin_t, cos2_t = np.sin(t), np.cos(t) ** 2
        expo = -(
            hf[..., None] ** 2 + kf[..., None] ** 2 - 2.0 * hf[..., None] * kf[..., None] * sin_t
        )
        integrand = np.exp(expo / (2.0 * cos2_t))
        out = out.copy()
        out[finite] += 0.5 * upper * (integrand @ _GL_WEIGHTS) / (2.0 * np.pi)
    return out


def _smooth(rho: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(rho)
    if values.min() >= np.finfo(float).eps:
        return rho
    tolerance = 1e-12  # psych's eig.tol
    warnings.warn(
        "the polychoric matrix was not positive definite and was smoothed (psych::cor.smooth)",
        UserWarning,
        3,
    )
    values = np.where(values < tolerance, 100 * tolerance, values)
    values = values * len(values) / values.sum()
    smoothed = vectors @ np.diag(values) @ vectors.T
    sd = np.sqrt(np.diag(smoothed))
    return smoothed / np.outer(sd, sd)
