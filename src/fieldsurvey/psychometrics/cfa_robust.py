"""Observed-information and robust ("MLR") standard errors and test statistics, as lavaan.

lavaan's conventions for ``missing = "ml"`` (FIML) and ``estimator = "MLR"`` are followed:

* Information: the *observed* information, the Hessian of lavaan's objective (half the
  discrepancy ``F``) at the estimates, by Richardson extrapolation of the analytic gradient
  (``observed.information = "hessian"``, step 1e-6). Standard ML with FIML uses
  ``vcov = E^-1 / N``.
* MLR standard errors (``se = "robust.huber.white"``): ``vcov = E^-1 B E^-1 / N`` with
  ``B = sum_g (N_g / N) B_g`` and ``B_g`` the mean outer product of the respondents' scores at
  the model-implied moments (``information.meat = "first.order"``, structured).
* The Yuan-Bentler scaled chi-square, Mplus variant (``test = "yuan.bentler.mplus"``):
  ``c = sum_g [tr(B1_g A1_g^-1) - (N_g / N) tr(B0_g E^-1)] / df`` where A1_g and B1_g are the
  observed and first-order information of the saturated model at its EM estimates, and the
  scaled statistic is ``chisq / c``.
* Robust CFI, TLI and RMSEA: with complete data from the scaling factor (Brosseau-Liard &
  Savalei 2014; Brosseau-Liard, Savalei & Li 2012); with FIML, lavaan's "FIML-corrected"
  versions (Zhang & Savalei; lavaan's ``lav_fit_fiml_corrected``, version V3 for MLR and V6 for
  ML): the model re-evaluated as complete data at the EM moments (``XX3``) with a correction
  ``c3 = k / df`` from the observed and complete-data information of the saturated model.
* The baseline (independence) model has free means and variances per group; with FIML its
  estimates are each item's available-case mean and variance, and it gets its own scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.stats

from fieldsurvey.psychometrics import sem_fit
from fieldsurvey.psychometrics.cfa_fiml import (
    FIMLProblem,
    GroupData,
    SaturatedFit,
    casewise_scores,
    complete_information,
    fiml_discrepancy,
    loglik,
    saturated_jacobian,
    saturated_observed_information,
    saturated_rows,
)
from fieldsurvey.psychometrics.sem_fit import fit_measures


def observed_information(problem: FIMLProblem, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Unit observed information: the Hessian of lavaan's objective (F / 2) at ``x``.

    Each column is the central difference ``(g(x + h) - g(x - h)) / 2h`` of the analytic
    gradient, then the matrix is symmetrised (lavaan's ``lav_model_hessian`` uses a four-point
    Richardson difference with h = 1e-6; both are accurate to about 1e-9 here).
    """
    n = x.size
    hessian = np.zeros((n, n))
    for j in range(n):
        step = np.zeros(n)
        step[j] = h
        hessian[:, j] = (problem.gradient(x + step) - problem.gradient(x - step)) / (2 * h)
    return 0.25 * (hessian + hessian.T)  # symmetrised, and halved: F is twice lavaan's fx


def _inverse(matrix: np.ndarray) -> np.ndarray:
    return scipy.linalg.inv(matrix) if matrix.size else matrix


def group_scores(problem: FIMLProblem, x: np.ndarray, g: int) -> np.ndarray:
    """Each respondent's scores for the free parameters (N_g x n_free), at the model."""
    sigma, mu = problem.implied(x, g)
    d_sigma, d_mu, _ = problem.group_jacobian(x, g)
    return casewise_scores(problem.data[g], sigma, mu, d_sigma, d_mu) @ problem.to_free(g)


def first_order_information(problem: FIMLProblem, x: np.ndarray) -> list[np.ndarray]:
    """B0_g: the mean outer product of the respondents' scores, per group (unweighted)."""
    out = []
    for g, data in enumerate(problem.data):
        scores = group_scores(problem, x, g)
        out.append(scores.T @ scores / data.n)
    return out


def h1_delta(problem: FIMLProblem, x: np.ndarray, g: int) -> np.ndarray:
    """Jacobian of the group's (means, lower-triangle covariances) at ``x`` (rows) with respect
    to the free parameters (columns); without a mean structure the covariances only."""
    d_sigma, d_mu, _ = problem.group_jacobian(x, g)
    rows, cols = np.tril_indices(problem.p)
    local = np.vstack([d_mu.T, d_sigma[:, rows, cols].T])
    keep = saturated_rows(problem.p, problem.meanstructure)
    return local[keep] @ problem.to_free(g)


@dataclass(frozen=True)
class SaturatedInformation:
    """The saturated model's information of one group at its EM estimates."""

    observed: np.ndarray  # A1 (= Wm): observed information of the incomplete data
    first_order: np.ndarray  # B1 (= Jm): mean outer product of the saturated scores
    complete: np.ndarray  # Wc: information of complete data with these moments


def saturated_information(
    data: GroupData, h1: SaturatedFit, *, means: bool = True
) -> SaturatedInformation:
    """A1, B1 and Wc of one group at the EM estimates (without ``means``: covariances only)."""
    p = h1.cov.shape[0]
    keep = saturated_rows(p, means)
    d_sigma, d_mu = saturated_jacobian(p)
    scores = casewise_scores(data, h1.cov, h1.mean, d_sigma[keep], d_mu[keep])
    pick = np.ix_(keep, keep)
    return SaturatedInformation(
        observed=saturated_observed_information(data, h1.cov, h1.mean)[pick],
        first_order=scores.T @ scores / data.n,
        complete=complete_information(h1.cov)[pick],
    )


def yuan_bentler_trace(
    saturated: list[SaturatedInformation], b0: list[np.ndarray], e_inv: np.ndarray,
    weights: np.ndarray,
) -> float:  # fmt: skip
    """``sum_g [tr(B1_g A1_g^-1) - w_g tr(B0_g E^-1)]`` (lavaan's trace of U Gamma, Mplus way)."""
    total = 0.0
    for sat, b0_g, w in zip(saturated, b0, weights, strict=True):
        total += float(np.sum(sat.first_order * _inverse(sat.observed).T))
        total -= w * float(np.sum(b0_g * e_inv.T))
    return total


def fiml_correction(
    saturated: list[SaturatedInformation],
    deltas: list[np.ndarray],
    weights: np.ndarray,
    *,
    with_gamma: bool,
) -> float:
    """lavaan's ``k`` of the FIML-corrected robust fit indices (V3 ``with_gamma``, else V6).

    With the stacked group blocks ``Wm = diag(w_g A1_g)``, ``Wmi = diag(A1_g^-1 / w_g)``,
    ``Wc = diag(w_g Wc_g)``, ``Gamma = diag(A1_g^-1 B1_g A1_g^-1 / w_g)``, ``E = Delta' Wm
    Delta`` and ``U = Wm - Wm Delta E^-1 Delta' Wm``: V3 is ``tr(U Wmi Wc Wmi U Gamma)`` and V6
    ``tr(Wc Wmi U Wmi)``.
    """
    wm = scipy.linalg.block_diag(*[w * s.observed for s, w in zip(saturated, weights, strict=True)])
    inverses = [_inverse(s.observed) for s in saturated]
    wmi = scipy.linalg.block_diag(*[a / w for a, w in zip(inverses, weights, strict=True)])
    wc = scipy.linalg.block_diag(*[w * s.complete for s, w in zip(saturated, weights, strict=True)])
    delta = np.vstack(deltas)
    e = delta.T @ wm @ delta
    u = wm - wm @ delta @ _inverse(e) @ delta.T @ wm
    if not with_gamma:
        return float(np.trace(wc @ wmi @ u @ wmi))
    gamma = scipy.linalg.block_diag(
        *[a @ s.first_order @ a / w for a, s, w in zip(inverses, saturated, weights, strict=True)]
    )
    return float(np.trace(u @ wmi @ wc @ wmi @ u @ gamma))


def complete_data_chisq(
    h1: list[SaturatedFit], sigmas: list[np.ndarray], mus: list[np.ndarray], ns: list[int]
) -> float:
    """The normal-theory chi-square of implied moments against the EM moments taken as complete
    data (lavaan's ``XX3``: the model refitted with ``sample.cov`` = EM estimates, no iterations)."""
    total = 0.0
    for sat, sigma, mu, n in zip(h1, sigmas, mus, ns, strict=True):
        inv = np.linalg.inv(sigma)
        d = sat.mean - mu
        f = (
            np.linalg.slogdet(sigma)[1]
            + np.sum(sat.cov * inv)
            - np.linalg.slogdet(sat.cov)[1]
            - sigma.shape[0]
            + d @ inv @ d
        )
        total += n * f
    return float(total)


# -- the baseline (independence) model ----------------------------------------------------------
@dataclass(frozen=True)
class Baseline:
    """The independence model of every group: its estimates and robust ingredients."""

    sigmas: list[np.ndarray]
    mus: list[np.ndarray]
    chisq: float
    df: int
    scaling: float  # Yuan-Bentler scaling factor (NaN when not computed)
    chisq_fiml_corrected: float  # XX3.null
    c3: float  # c.hat3.null


def baseline_model(
    data: list[GroupData],
    h1: list[SaturatedFit],
    saturated: list[SaturatedInformation] | None,
    *,
    fiml: bool,
    robust: bool,
    means: bool = True,
    with_gamma: bool = True,
) -> Baseline:
    """Fit the independence model (free means and variances in each group) and, for robust
    statistics, its own Yuan-Bentler scaling and FIML correction (``means=False``: complete
    data without a mean structure, the variances only)."""
    n_total = sum(d.n for d in data)
    weights = np.array([d.n / n_total for d in data])
    p = h1[0].cov.shape[0]
    sigmas, mus, chisq = [], [], 0.0
    for d, sat in zip(data, h1, strict=True):
        mu = np.nanmean(d.y, axis=0)
        sigma = np.diag(np.nanmean((d.y - mu) ** 2, axis=0))
        sigmas.append(sigma)
        mus.append(mu)
        chisq += d.n * (
            fiml_discrepancy(d, sigma, mu)[0] - fiml_discrepancy(d, sat.cov, sat.mean)[0]
        )
    df = len(data) * p * (p - 1) // 2
    scaling = xx3 = c3 = float("nan")
    if robust and saturated is not None:
        deltas, b0, blocks = [], [], []
        ind_d_sigma, ind_d_mu = _independence_jacobian(p)
        params = np.arange(2 * p) if means else np.arange(p, 2 * p)
        ind_d_sigma, ind_d_mu = ind_d_sigma[params], ind_d_mu[params]
        keep = saturated_rows(p, means)
        delta = _independence_delta(p)[np.ix_(keep, params)]
        size = params.size
        for g, (d, sigma, mu) in enumerate(zip(data, sigmas, mus, strict=True)):
            scores = casewise_scores(d, sigma, mu, ind_d_sigma, ind_d_mu)
            b0.append(_spread(scores.T @ scores / d.n, g, len(data), size))
            a1 = saturated_observed_information(d, sigma, mu)[np.ix_(keep, keep)]
            blocks.append(weights[g] * delta.T @ a1 @ delta)
            deltas.append(_spread_columns(delta, g, len(data), size))
        e_inv = _inverse(scipy.linalg.block_diag(*blocks))
        scaling = yuan_bentler_trace(saturated, b0, e_inv, weights) / df
        if fiml:
            xx3 = complete_data_chisq(h1, sigmas, mus, [d.n for d in data])
            c3 = fiml_correction(saturated, deltas, weights, with_gamma=with_gamma) / df
    return Baseline(sigmas, mus, float(max(chisq, 0.0)), df, scaling, xx3, c3)


def _independence_jacobian(p: int) -> tuple[np.ndarray, np.ndarray]:
    """d_sigma, d_mu of the independence model's parameters: p means then p variances."""
    d_sigma = np.zeros((2 * p, p, p))
    d_mu = np.zeros((2 * p, p))
    d_mu[np.arange(p), np.arange(p)] = 1.0
    d_sigma[p + np.arange(p), np.arange(p), np.arange(p)] = 1.0
    return d_sigma, d_mu


def _independence_delta(p: int) -> np.ndarray:
    """Rows: saturated (means, lower-triangle covariances); columns: independence parameters."""
    d_sigma, d_mu = _independence_jacobian(p)
    rows, cols = np.tril_indices(p)
    return np.vstack([d_mu.T, d_sigma[:, rows, cols].T])


def _spread(block: np.ndarray, g: int, groups: int, size: int) -> np.ndarray:
    out = np.zeros((groups * size, groups * size))
    out[g * size : (g + 1) * size, g * size : (g + 1) * size] = block
    return out


def _spread_columns(block: np.ndarray, g: int, groups: int, size: int) -> np.ndarray:
    out = np.zeros((block.shape[0], groups * size))
    out[:, g * size : (g + 1) * size] = block
    return out


# -- everything a FIML / MLR fit reports ---------------------------------------------------------
def robust_fit(
    problem: FIMLProblem, x: np.ndarray, *, robust: bool, fiml: bool
) -> tuple[np.ndarray, dict[str, float]]:
    """Covariance matrix of the estimates and all fit measures of a FIML or MLR fit.

    ``robust``: MLR (sandwich standard errors, scaled chi-square, scaled and robust indices);
    ``fiml``: incomplete data (robust CFI/TLI/RMSEA corrected for FIML, also with plain ML).
    """
    ns = [d.n for d in problem.data]
    n_total = sum(ns)
    weights = np.array(ns) / n_total
    info = observed_information(problem, x)
    try:
        e_inv = _inverse(info)
    except (np.linalg.LinAlgError, ValueError):
        e_inv = np.full(info.shape, np.nan)
    b0 = first_order_information(problem, x) if robust else []
    if robust:
        meat = sum(w * b for w, b in zip(weights, b0, strict=True))
        vcov = e_inv @ meat @ e_inv / n_total
    else:
        vcov = e_inv / n_total
    means = problem.meanstructure
    saturated = [
        saturated_information(d, s, means=means)
        for d, s in zip(problem.data, problem.h1, strict=True)
    ]
    base = baseline_model(problem.data, problem.h1, saturated, fiml=fiml, robust=robust or fiml,
                          means=means, with_gamma=robust)  # fmt: skip
    fit = _standard_measures(problem, x, base)
    if robust and np.isfinite(e_inv).all():
        fit.update(_scaled_measures(fit, base, yuan_bentler_trace(saturated, b0, e_inv, weights)))
    if fiml:
        deltas = [h1_delta(problem, x, g) for g in range(len(problem.data))]
        k = fiml_correction(saturated, deltas, weights, with_gamma=robust)
        sigmas, mus = zip(*(problem.implied(x, g) for g in range(len(ns))), strict=True)
        xx3 = complete_data_chisq(problem.h1, list(sigmas), list(mus), ns)
        fit.update(_robust_measures(fit, xx3, k / fit["df"], base.chisq_fiml_corrected, base.c3))
    elif robust and "chisq_scaling_factor" in fit:
        fit.update(
            _robust_measures(
                fit, fit["chisq"], fit["chisq_scaling_factor"], base.chisq, base.scaling
            )
        )  # fmt: skip
    return vcov, fit


def _standard_measures(problem: FIMLProblem, x: np.ndarray, base: Baseline) -> dict[str, float]:
    n_groups = len(problem.data)
    sigmas, mus = zip(*(problem.implied(x, g) for g in range(n_groups)), strict=True)
    return fit_measures(
        fmin_groups=problem.group_discrepancies(x),
        covs=[s.cov for s in problem.h1],
        means=[s.mean for s in problem.h1],
        sigmas=list(sigmas),
        mus=list(mus),
        ns=[d.n for d in problem.data],
        npar=problem.pt.n_free,
        meanstructure=problem.meanstructure,
        baseline=(base.chisq, base.df),
        logl=problem.loglik(x),
        unrestricted_logl=sum(
            loglik(d, s.cov, s.mean) for d, s in zip(problem.data, problem.h1, strict=True)
        ),
    )


def _scaled_measures(fit: dict[str, float], base: Baseline, trace: float) -> dict[str, float]:
    """Yuan-Bentler (Mplus) scaled chi-square and lavaan's ".scaled" indices."""
    df, n, groups = fit["df"], fit["n"], fit["n_groups"]
    scaling = trace / df if df > 0 else float("nan")
    if scaling < 0:
        scaling = float("nan")
    chisq_scaled = fit["chisq"] / scaling
    base_scaled = base.chisq / base.scaling
    lo, hi = sem_fit.rmsea_ci(fit["chisq"], trace, n, groups)
    return {
        "chisq_scaled": chisq_scaled,
        "pvalue_scaled": float(scipy.stats.chi2.sf(chisq_scaled, df)) if df > 0 else np.nan,
        "chisq_scaling_factor": scaling,
        "baseline_chisq_scaled": base_scaled,
        "baseline_chisq_scaling_factor": base.scaling,
        "cfi_scaled": sem_fit.cfi(chisq_scaled, df, base_scaled, base.df),
        "tli_scaled": sem_fit.tli(chisq_scaled, df, base_scaled, base.df),
        # lavaan: the unscaled chi-square on tr(U Gamma) degrees of freedom
        "rmsea_scaled": sem_fit.rmsea(fit["chisq"], trace, n, groups),
        "rmsea_ci_lower_scaled": lo,
        "rmsea_ci_upper_scaled": hi,
    }


def _robust_measures(
    fit: dict[str, float], chisq: float, c_hat: float, chisq_base: float, c_hat_base: float
) -> dict[str, float]:
    """Robust CFI, TLI, RMSEA and its interval from a chi-square and its correction factor."""
    df, n, groups = fit["df"], fit["n"], fit["n_groups"]
    lo, hi = sem_fit.rmsea_ci(chisq / c_hat, df, n, groups, c_hat=c_hat)
    return {
        "cfi_robust": sem_fit.cfi(chisq, df, chisq_base, fit["baseline_df"], c_hat, c_hat_base),
        "tli_robust": sem_fit.tli(chisq, df, chisq_base, fit["baseline_df"], c_hat, c_hat_base),
        "rmsea_robust": sem_fit.rmsea(chisq, df, n, groups, c_hat=c_hat),
        "rmsea_ci_lower_robust": lo,
        "rmsea_ci_upper_robust": hi,
    }
