"""Thresholds, polychoric correlations and their asymptotic covariance, as lavaan computes them
for ordinal indicators (``lavaan::cfa(..., ordered = TRUE)``, the three stages of Muthen 1984).

1. **Thresholds.** Each item is a coarse reading of a standard-normal latent response; its
   thresholds are ``qnorm`` of the cumulative answer proportions among the respondents who
   answered it (the probit model without covariates, whose maximum likelihood estimate this is).
2. **Polychoric correlations.** For each pair of items, the correlation of the two latent
   responses maximises the likelihood of the pair's cross-table, the thresholds held at their
   stage-1 values (lavaan's two-step estimator; no correction of empty cells in tables larger
   than 2 x 2, lavaan's ``zero.add = c(0.5, 0)``).
3. **Their asymptotic covariance (NACOV, "Gamma").** From each respondent's scores -- the
   derivatives of the univariate log-likelihoods with respect to the thresholds and of the
   bivariate ones with respect to the correlations -- with lavaan's block-triangular sandwich
   ``B^-1 (S'S) B^-T``, where B holds the outer-product estimates of the univariate and
   bivariate information and of the dependence of each correlation on its two items'
   thresholds. NACOV is N times that.

With ``missing="pairwise"`` every statistic uses the respondents who answered the items it
involves (lavaan ``missing = "pairwise"``); missing answers contribute zero scores. With
``"listwise"`` (lavaan's default) only complete respondents are given to this module.

The statistics are ordered as lavaan's ``WLS.obs``: all thresholds, item by item, then the
correlations of the lower triangle column by column: (2,1), (3,1), ..., (p,1), (3,2), ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from fieldsurvey.psychometrics.polychoric import _bvn_cdf


@dataclass(frozen=True)
class OrdinalStatistics:
    """The sample statistics of one group for DWLS estimation.

    Attributes
    ----------
    n : int
        Respondents in the group (lavaan ``nobs``; with pairwise deletion everyone with a group).
    thresholds : list of np.ndarray
        Each item's thresholds (K - 1 for K categories).
    correlations : np.ndarray
        Polychoric correlations, lower triangle by columns.
    nacov : np.ndarray
        N times the asymptotic covariance matrix of (thresholds, correlations).
    """

    n: int
    thresholds: list[np.ndarray]
    correlations: np.ndarray
    nacov: np.ndarray

    @property
    def vector(self) -> np.ndarray:
        """The statistics as one vector: thresholds, then correlations."""
        return np.concatenate([*self.thresholds, self.correlations])

    @property
    def weights(self) -> np.ndarray:
        """DWLS weights: the reciprocal of NACOV's diagonal (lavaan ``WLS.VD``)."""
        return 1.0 / np.diag(self.nacov)

    @property
    def n_thresholds(self) -> int:
        return sum(t.size for t in self.thresholds)

    def correlation_matrix(self) -> np.ndarray:
        p = len(self.thresholds)
        out = np.eye(p)
        rows, cols = lower_pairs(p)
        out[rows, cols] = self.correlations
        out[cols, rows] = self.correlations
        return out


def lower_pairs(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the lower triangle (no diagonal), column by column."""
    cols, rows = np.triu_indices(p, 1)
    return rows, cols


def ordinal_statistics(codes: np.ndarray, n_categories: list[int]) -> OrdinalStatistics:
    """Thresholds, polychoric correlations and NACOV of one group's answers.

    Parameters
    ----------
    codes : np.ndarray
        Respondents x items, answers coded 1..K_j, NaN for missing.
    n_categories : list of int
        K_j of each item (every category must be used in the group).
    """
    n, p = codes.shape
    observed = ~np.isnan(codes)
    idx = np.where(observed, codes, 1).astype(np.int64) - 1  # 0-based category, 0 if missing
    thresholds = []
    scores_th = []
    for j in range(p):
        tau, scores = _univariate(idx[:, j], observed[:, j], n_categories[j])
        thresholds.append(tau)
        scores_th.append(scores)
    th_scores = np.hstack(scores_th)
    rows, cols = lower_pairs(p)
    rho = np.empty(rows.size)
    cor_scores = np.zeros((n, rows.size))
    th_start = np.concatenate([[0], np.cumsum([t.size for t in thresholds])])
    a21 = np.zeros((rows.size, th_start[-1]))
    for k, (i, j) in enumerate(zip(rows, cols, strict=True)):
        both = observed[:, i] & observed[:, j]
        rho[k] = _polychoric(idx[both, i], idx[both, j], thresholds[i], thresholds[j])
        s_rho, s_th_i, s_th_j = _bivariate_scores(
            idx[both, i], idx[both, j], thresholds[i], thresholds[j], rho[k]
        )
        cor_scores[both, k] = s_rho
        a21[k, th_start[i] : th_start[i + 1]] = s_rho @ s_th_i
        a21[k, th_start[j] : th_start[j + 1]] = s_rho @ s_th_j
    nacov = _nacov(th_scores, cor_scores, a21, th_start) * n
    return OrdinalStatistics(n, thresholds, rho, nacov)


def _univariate(idx: np.ndarray, observed: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds of one item and each respondent's scores for them (0 when missing)."""
    answered = idx[observed]
    freq = np.bincount(answered, minlength=k)
    tau = special.ndtri(np.cumsum(freq)[:-1] / answered.size)
    upper = np.concatenate([tau, [np.inf]])[idx]  # threshold above the answer
    lower = np.concatenate([[-np.inf], tau])[idx]  # threshold below it
    prob = special.ndtr(upper) - special.ndtr(lower)
    scores = np.zeros((idx.size, k - 1))
    rows = np.arange(idx.size)
    has_upper = observed & (idx < k - 1)
    has_lower = observed & (idx > 0)
    scores[rows[has_upper], idx[has_upper]] = _phi(upper[has_upper]) / prob[has_upper]
    scores[rows[has_lower], idx[has_lower] - 1] -= _phi(lower[has_lower]) / prob[has_lower]
    return tau, scores


def _phi(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)


def _bounds(tau: np.ndarray) -> np.ndarray:
    return np.concatenate([[-np.inf], tau, [np.inf]])


def _cell_probabilities(rho: float, tau_a: np.ndarray, tau_b: np.ndarray) -> np.ndarray:
    cdf = _bvn_cdf(_bounds(tau_a)[:, None], _bounds(tau_b)[None, :], rho)
    return np.diff(np.diff(cdf, axis=0), axis=1)


def _bvn_density(h: np.ndarray, k: np.ndarray, rho: float) -> np.ndarray:
    """Bivariate standard normal density; 0 where a limit is infinite."""
    finite = np.isfinite(h) & np.isfinite(k)
    out = np.zeros(np.broadcast(h, k).shape)
    hh, kk = np.broadcast_arrays(h, k)
    hf, kf = hh[finite], kk[finite]
    det = 1.0 - rho * rho
    out[finite] = np.exp(-(hf * hf - 2 * rho * hf * kf + kf * kf) / (2 * det)) / (
        2 * np.pi * np.sqrt(det)
    )
    return out


def _polychoric(a: np.ndarray, b: np.ndarray, tau_a: np.ndarray, tau_b: np.ndarray) -> float:
    """Maximum-likelihood correlation of a cross-table with the thresholds fixed."""
    table = np.zeros((tau_a.size + 1, tau_b.size + 1))
    np.add.at(table, (a, b), 1.0)

    def negloglik(rho: float) -> float:
        prob = _cell_probabilities(rho, tau_a, tau_b)
        used = table > 0
        return -float(np.sum(table[used] * np.log(np.maximum(prob[used], 1e-300))))

    def score(rho: float) -> float:
        h, k = _bounds(tau_a), _bounds(tau_b)
        dens = _bvn_density(h[:, None], k[None, :], rho)
        dprob = np.diff(np.diff(dens, axis=0), axis=1)
        prob = _cell_probabilities(rho, tau_a, tau_b)
        used = table > 0
        return float(np.sum(table[used] * dprob[used] / prob[used]))

    coarse = optimize.minimize_scalar(
        negloglik, bounds=(-0.9999, 0.9999), method="bounded", options={"xatol": 1e-6}
    )
    lo, hi = max(coarse.x - 1e-3, -0.99999), min(coarse.x + 1e-3, 0.99999)
    if score(lo) * score(hi) < 0:  # polish the root of the score to machine precision
        return float(optimize.brentq(score, lo, hi, xtol=1e-14, rtol=1e-14))
    return float(coarse.x)


def _bivariate_scores(
    a: np.ndarray, b: np.ndarray, tau_a: np.ndarray, tau_b: np.ndarray, rho: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each respondent's derivatives of log P(cell) with respect to rho and to the two items'
    thresholds (lavaan ``lav_bvord_cor_scores``)."""
    h, k = _bounds(tau_a), _bounds(tau_b)
    prob = _cell_probabilities(rho, tau_a, tau_b)[a, b]
    dens = _bvn_density(h[:, None], k[None, :], rho)
    dprob = np.diff(np.diff(dens, axis=0), axis=1)[a, b]
    s_rho = dprob / prob
    sd = np.sqrt(1.0 - rho * rho)

    def threshold_scores(own_a, other_b, tau_own, h_own, k_other):
        out = np.zeros((own_a.size, tau_own.size))
        rows = np.arange(own_a.size)
        for shift, sign in ((1, 1.0), (0, -1.0)):  # upper threshold of the answer, lower one
            t = h_own[own_a + shift]
            usable = np.isfinite(t)
            with np.errstate(invalid="ignore"):
                upper = special.ndtr((k_other[other_b + 1] - rho * t) / sd)
                lower = special.ndtr((k_other[other_b] - rho * t) / sd)
            value = sign * _phi(np.where(usable, t, 0.0)) * (upper - lower) / prob
            cols = own_a + shift - 1
            out[rows[usable], cols[usable]] += value[usable]
        return out

    return (
        s_rho,
        threshold_scores(a, b, tau_a, h, k),
        threshold_scores(b, a, tau_b, k, h),
    )


def _nacov(
    th_scores: np.ndarray, cor_scores: np.ndarray, a21: np.ndarray, th_start: np.ndarray
) -> np.ndarray:
    """lavaan's ``B^-1 (S'S) B^-T`` with ``B = [[A11, 0], [A21, A22]]`` (muthen1984)."""
    scores = np.hstack([th_scores, cor_scores])
    inner = scores.T @ scores
    n_th = th_scores.shape[1]
    a11 = np.zeros((n_th, n_th))
    for start, end in zip(th_start[:-1], th_start[1:], strict=True):
        a11[start:end, start:end] = inner[start:end, start:end]
    a22 = np.einsum("ij,ij->j", cor_scores, cor_scores)
    a11_inv = np.linalg.inv(a11)
    lower_left = -(a21 / a22[:, None]) @ a11_inv
    b_inv = np.block([[a11_inv, np.zeros((n_th, a22.size))], [lower_left, np.diag(1.0 / a22)]])
    return b_inv @ inner @ b_inv.T
