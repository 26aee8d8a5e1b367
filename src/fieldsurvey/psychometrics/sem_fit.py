"""Fit measures of an ML CFA, computed the way lavaan 0.6 computes them.

Conventions matched (lavaan ``estimator = "ML"``, ``likelihood = "normal"``):

* chi-square ``= sum_g N_g F_g`` (N, not N - 1); df = sample moments - free parameters.
* Baseline (independence) model: free variances and, with a mean structure, free means in every
  group, no constraints across groups; its chi-square is ``sum_g N_g (log|diag S_g| - log|S_g|)``
  with ``G p (p - 1) / 2`` df, whatever ``group_equal`` the model uses.
* CFI ``= 1 - max(X2 - df, 0) / max(X2 - df, X2_b - df_b, 0)``; TLI
  ``= 1 - ((X2 - df) df_b) / ((X2_b - df_b) df)``.
* RMSEA ``= sqrt(max(X2 / (N df) - 1 / N, 0)) * sqrt(G)`` and its 90% interval from the
  non-central chi-square, with lavaan's search bounds.
* SRMR is lavaan's ``srmr`` (= ``srmr_bentler``): residuals of covariances divided by the
  observed standard deviations, means residuals divided by the observed standard deviation,
  root mean square over ``p (p + 1) / 2`` (+ ``p`` with a mean structure) elements per group,
  then averaged over groups with weights ``N_g / N``.
* log-likelihoods, AIC ``= -2 logl + 2 npar`` and BIC ``= -2 logl + npar log N``. Without a
  mean structure the means are saturated and not counted in ``npar``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.optimize
import scipy.stats


def baseline_chisq(covs: Sequence[np.ndarray], ns: Sequence[int]) -> tuple[float, int]:
    """Chi-square and df of lavaan's independence (baseline) model.

    Examples
    --------
    >>> import numpy as np
    >>> chisq, df = baseline_chisq([np.array([[1.0, 0.5], [0.5, 1.0]])], [100])
    >>> round(chisq, 4), df
    (28.7682, 1)
    """
    total = 0.0
    p = covs[0].shape[0]
    for cov, n in zip(covs, ns, strict=True):
        total += n * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
    return float(total), len(covs) * p * (p - 1) // 2


def _robust(df: float, c_hat: float, c_hat_base: float) -> bool:
    """lavaan uses the robust formulas only when both correction factors differ from 1."""
    return df > 0 and c_hat != 1 and c_hat_base != 1


def cfi(
    chisq: float,
    df: float,
    chisq_base: float,
    df_base: float,
    c_hat: float = 1.0,
    c_hat_base: float = 1.0,
) -> float:
    """Comparative fit index (Bentler 1990) as lavaan computes it.

    With correction factors ``c_hat`` (model) and ``c_hat_base`` (baseline) this is the robust
    CFI of Brosseau-Liard & Savalei (2014): ``df`` is replaced by ``c_hat * df``.
    """
    if np.isnan([chisq, df, chisq_base, df_base, c_hat, c_hat_base]).any():
        return float("nan")
    if _robust(df, c_hat, c_hat_base):
        df, df_base = c_hat * df, c_hat_base * df_base
    t1 = max(chisq - df, 0.0)
    t2 = max(chisq - df, chisq_base - df_base, 0.0)
    if np.isclose(t1, 0.0) and np.isclose(t2, 0.0):
        return 1.0
    return 1.0 - t1 / t2


def tli(
    chisq: float,
    df: float,
    chisq_base: float,
    df_base: float,
    c_hat: float = 1.0,
    c_hat_base: float = 1.0,
) -> float:
    """Tucker-Lewis index (non-normed fit index) as lavaan computes it (not capped at 1);
    robust with correction factors as :func:`cfi`."""
    if np.isnan([chisq, df, chisq_base, df_base, c_hat, c_hat_base]).any():
        return float("nan")
    if _robust(df, c_hat, c_hat_base):
        t1 = (chisq - c_hat * df) * df_base
        t2 = (chisq_base - c_hat_base * df_base) * df
    else:
        t1 = (chisq - df) * df_base
        t2 = (chisq_base - df_base) * df
    if df > 0 and abs(t2) > 0:
        return 1.0 - t1 / t2
    return 1.0


def rmsea(chisq: float, df: float, n: int, n_groups: int = 1, c_hat: float = 1.0) -> float:
    """RMSEA with lavaan's multi-group correction ``sqrt(G)`` (Steiger 1998); with a
    correction factor the robust RMSEA ``sqrt(max(chisq / (N df) - c / N, 0))``."""
    if np.isnan([chisq, df, c_hat]).any():
        return float("nan")
    if df <= 0:
        return 0.0
    return float(np.sqrt(max(chisq / (n * df) - c_hat / n, 0.0)) * np.sqrt(n_groups))


def rmsea_ci(
    chisq: float,
    df: float,
    n: int,
    n_groups: int = 1,
    level: float = 0.90,
    c_hat: float = 1.0,
) -> tuple[float, float]:
    """Confidence interval of the RMSEA from the non-central chi-square distribution.

    Examples
    --------
    >>> lo, hi = rmsea_ci(85.3055, 24, 301)
    >>> round(lo, 3), round(hi, 3)
    (0.071, 0.114)
    """
    if not (np.isfinite(chisq) and np.isfinite(df) and np.isfinite(c_hat)):
        return float("nan"), float("nan")
    if df < 1:
        return 0.0, 0.0
    upper_p = 1 - (1 - level) / 2
    lower_p = (1 - level) / 2

    def cdf(ncp: float) -> float:
        if ncp <= 0:
            return float(scipy.stats.chi2.cdf(chisq, df))
        return float(scipy.stats.ncx2.cdf(chisq, df, ncp))

    scale = np.sqrt(n_groups) * np.sqrt(c_hat) / np.sqrt(n * df)
    if cdf(0.0) < upper_p:
        lower = 0.0
    else:
        lam = scipy.optimize.brentq(lambda x: cdf(x) - upper_p, 0.0, chisq, xtol=1e-12)
        lower = float(np.sqrt(lam) * scale)
    search_max = max(float(n), 4.0 * chisq)  # lavaan's upper bound of the root search
    if cdf(search_max) > lower_p or cdf(0.0) < lower_p:
        upper = 0.0
    else:
        lam = scipy.optimize.brentq(lambda x: cdf(x) - lower_p, 0.0, search_max, xtol=1e-12)
        upper = float(np.sqrt(lam) * scale)
    return lower, upper


def srmr_group(
    cov: np.ndarray, mean: np.ndarray, sigma: np.ndarray, mu: np.ndarray, meanstructure: bool
) -> tuple[float, float]:
    """Bentler's SRMR of one group: (with means, without means)."""
    sd = np.sqrt(np.diag(cov))
    resid = (cov - sigma) / np.outer(sd, sd)
    lower = resid[np.tril_indices_from(resid)]
    p = cov.shape[0]
    n_cov = p * (p + 1) // 2
    nomean = float(np.sqrt(np.sum(lower**2) / n_cov))
    if not meanstructure:
        return nomean, nomean
    resid_mean = (mean - mu) / sd
    with_mean = float(np.sqrt((np.sum(lower**2) + np.sum(resid_mean**2)) / (n_cov + p)))
    return with_mean, nomean


def loglik(cov: np.ndarray, mean: np.ndarray, sigma: np.ndarray, mu: np.ndarray, n: int) -> float:
    """Normal log-likelihood of a group's sample moments under (sigma, mu)."""
    p = cov.shape[0]
    sigma_inv = np.linalg.inv(sigma)
    d = mean - mu
    return float(
        -n
        / 2
        * (
            p * np.log(2 * np.pi)
            + np.linalg.slogdet(sigma)[1]
            + np.sum(cov * sigma_inv)
            + d @ sigma_inv @ d
        )
    )


def fit_measures(
    *,
    fmin_groups: Sequence[float],
    covs: Sequence[np.ndarray],
    means: Sequence[np.ndarray],
    sigmas: Sequence[np.ndarray],
    mus: Sequence[np.ndarray],
    ns: Sequence[int],
    npar: int,
    meanstructure: bool,
    baseline: tuple[float, int] | None = None,
    logl: float | None = None,
    unrestricted_logl: float | None = None,
) -> dict[str, float]:
    """All fit measures of a fitted model, named with underscores (lavaan uses dots).

    Returns a dict with n, n_groups, npar, chisq, df, pvalue, baseline_chisq, baseline_df, cfi,
    tli, rmsea, rmsea_ci_lower, rmsea_ci_upper, srmr, srmr_nomean, logl, unrestricted_logl, aic,
    bic. ``covs`` and ``means`` are the saturated model's moments (with incomplete data its EM
    estimates); ``baseline`` (chi-square, df) and the log-likelihoods replace the complete-data
    formulas when given (FIML).
    """
    n = int(sum(ns))
    g = len(ns)
    p = covs[0].shape[0]
    moments = g * (p * (p + 1) // 2 + (p if meanstructure else 0))
    df = moments - npar
    chisq = float(sum(ng * max(f, 0.0) for ng, f in zip(ns, fmin_groups, strict=True)))
    pvalue = float(scipy.stats.chi2.sf(chisq, df)) if df > 0 else float("nan")
    base_chisq, base_df = baseline if baseline is not None else baseline_chisq(covs, ns)
    lo, hi = rmsea_ci(chisq, df, n, g)
    srmrs = [
        srmr_group(c, m, s, u, meanstructure)
        for c, m, s, u in zip(covs, means, sigmas, mus, strict=True)
    ]
    weights = np.asarray(ns) / n
    if logl is None:
        logl = sum(
            loglik(c, m, s, u if meanstructure else m, ng)
            for c, m, s, u, ng in zip(covs, means, sigmas, mus, ns, strict=True)
        )
    logl_h1 = unrestricted_logl
    if logl_h1 is None:
        logl_h1 = sum(loglik(c, m, c, m, ng) for c, m, ng in zip(covs, means, ns, strict=True))
    return {
        "n": n,
        "n_groups": g,
        "npar": npar,
        "chisq": chisq,
        "df": df,
        "pvalue": pvalue,
        "baseline_chisq": base_chisq,
        "baseline_df": base_df,
        "cfi": cfi(chisq, df, base_chisq, base_df),
        "tli": tli(chisq, df, base_chisq, base_df),
        "rmsea": rmsea(chisq, df, n, g),
        "rmsea_ci_lower": lo,
        "rmsea_ci_upper": hi,
        "srmr": float(np.sum(weights * [s[0] for s in srmrs])),
        "srmr_nomean": float(np.sum(weights * [s[1] for s in srmrs])),
        "logl": float(logl),
        "unrestricted_logl": float(logl_h1),
        "aic": float(-2 * logl + 2 * npar),
        "bic": float(-2 * logl + npar * np.log(n)),
    }
