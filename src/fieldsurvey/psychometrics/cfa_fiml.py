"""Full-information maximum likelihood (FIML) for incomplete data, as lavaan ``missing = "ml"``.

Every respondent contributes the likelihood of the answers they gave: with ``o`` the items a
respondent answered, ``y_o ~ N(mu_o, Sigma_oo)``. Respondents who answered the same items form a
*missing-data pattern*; a pattern needs only its size ``n_p``, mean ``m_p`` and covariance
``S_p`` (divisor ``n_p``), so for a group of ``N_g`` respondents

    F_g = (1 / N_g) sum_p n_p [log|Sigma_oo| + tr(Sigma_oo^-1 (S_p + (m_p - mu_o)(m_p - mu_o)'))]

is ``-2 logl / N_g`` without the constant. The saturated model (free means and covariances,
lavaan's "h1") is estimated by the EM algorithm exactly as lavaan does it (same start, same
stopping rule: largest change of a mean or covariance below 1e-5, at most 500 iterations), and
the model's chi-square is ``sum_g N_g (F_g(model) - F_g(h1)) = 2 (logl_h1 - logl)``.
Respondents who answered none of the model's items carry no information and are left out
(lavaan: "some cases are empty and will be ignored").

This module holds the data side (patterns, EM, the FIML discrepancy, casewise scores, the
saturated model's information matrices); :mod:`fieldsurvey.psychometrics.cfa_robust` turns them
into robust standard errors and test statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from fieldsurvey.psychometrics.cfa_ml import GroupMoments, MLProblem
from fieldsurvey.psychometrics.cfa_partable import ParTable


@dataclass(frozen=True)
class MissingPattern:
    """Respondents of one group who answered the same items."""

    observed: np.ndarray  # bool mask over the model's items
    rows: np.ndarray  # positions of the respondents in the group's data
    mean: np.ndarray  # (p_o,) mean of the answered items
    cov: np.ndarray  # (p_o, p_o) covariance, divisor n

    @property
    def n(self) -> int:
        return int(self.rows.size)


@dataclass(frozen=True)
class PatternBlock:
    """The patterns with the same number k of answered items, stacked for batched algebra."""

    obs: np.ndarray  # (m, k) indices of the answered items of each pattern
    n: np.ndarray  # (m,) respondents per pattern
    mean: np.ndarray  # (m, k)
    cov: np.ndarray  # (m, k, k), divisor n

    def sub(self, matrix: np.ndarray) -> np.ndarray:
        """Each pattern's block of a p x p matrix: (m, k, k)."""
        return matrix[self.obs[:, :, None], self.obs[:, None, :]]

    def scatter(self, blocks: np.ndarray, p: int) -> np.ndarray:
        """Sum (m, k, k) blocks back into a p x p matrix."""
        flat = (self.obs[:, :, None] * p + self.obs[:, None, :]).ravel()
        return np.bincount(flat, weights=blocks.ravel(), minlength=p * p).reshape(p, p)


@dataclass(frozen=True)
class GroupData:
    """One group's answers (NaN = missing) and their missing-data patterns."""

    y: np.ndarray
    patterns: tuple[MissingPattern, ...]
    blocks: tuple[PatternBlock, ...] = ()

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def complete(self) -> bool:
        return len(self.patterns) == 1 and bool(self.patterns[0].observed.all())


def group_data(y: np.ndarray) -> GroupData:
    """Split a group's answers into missing-data patterns (rows with no answer must be removed).

    Examples
    --------
    >>> y = np.array([[1.0, 2.0], [np.nan, 3.0], [2.0, 5.0], [np.nan, 1.0]])
    >>> [(p.observed.tolist(), p.n) for p in group_data(y).patterns]
    [([False, True], 2), ([True, True], 2)]
    """
    y = np.asarray(y, dtype=float)
    mask = ~np.isnan(y)
    if not mask.any(axis=1).all():
        raise ValueError("rows without any answer must be removed before FIML")
    masks, inverse = np.unique(mask, axis=0, return_inverse=True)
    patterns = []
    for k, observed in enumerate(masks):
        rows = np.flatnonzero(inverse.ravel() == k)
        x = y[np.ix_(rows, np.flatnonzero(observed))]
        mean = x.mean(axis=0)
        centred = x - mean
        patterns.append(MissingPattern(observed, rows, mean, centred.T @ centred / rows.size))
    return GroupData(y, tuple(patterns), _blocks(patterns))


def _blocks(patterns: list[MissingPattern]) -> tuple[PatternBlock, ...]:
    by_size: dict[int, list[MissingPattern]] = {}
    for pat in patterns:
        by_size.setdefault(int(pat.observed.sum()), []).append(pat)
    return tuple(
        PatternBlock(
            obs=np.array([np.flatnonzero(p.observed) for p in group]),
            n=np.array([p.n for p in group], dtype=float),
            mean=np.array([p.mean for p in group]),
            cov=np.array([p.cov for p in group]),
        )
        for _, group in sorted(by_size.items())
    )


# -- the discrepancy ----------------------------------------------------------------------------
def _pattern_inverse(sigma: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, float]:
    sub = sigma[np.ix_(observed, observed)]
    chol = scipy.linalg.cho_factor(sub, lower=True)
    inv = scipy.linalg.cho_solve(chol, np.eye(sub.shape[0]))
    return inv, 2.0 * float(np.sum(np.log(np.diag(chol[0]))))


def fiml_discrepancy(
    data: GroupData, sigma: np.ndarray, mu: np.ndarray, *, derivatives: bool = False
) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """F_g (see the module docstring) and, with ``derivatives``, dF_g/dSigma and dF_g/dmu.

    Patterns with the same number of answered items are handled together (batched Cholesky
    factorisations and inverses). Raises ``numpy.linalg.LinAlgError`` when a pattern's
    Sigma_oo is not positive definite.
    """
    p = sigma.shape[0]
    f = 0.0
    dsigma = np.zeros((p, p)) if derivatives else None
    dmu = np.zeros(p) if derivatives else None
    for block in data.blocks:
        sub = block.sub(sigma)
        chol = np.linalg.cholesky(sub)
        logdet = 2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        inv = np.linalg.inv(sub)
        d = block.mean - mu[block.obs]
        w = block.cov + d[:, :, None] * d[:, None, :]
        f += float(block.n @ (logdet + np.einsum("mij,mji->m", inv, w)))
        if derivatives:
            grad = block.n[:, None, None] * (inv - inv @ w @ inv)
            dsigma += block.scatter(grad, p)
            grad_mu = -2.0 * block.n[:, None] * np.einsum("mij,mj->mi", inv, d)
            dmu += np.bincount(block.obs.ravel(), weights=grad_mu.ravel(), minlength=p)
    n = data.n
    if derivatives:
        return f / n, dsigma / n, dmu / n
    return f / n, None, None


def loglik(data: GroupData, sigma: np.ndarray, mu: np.ndarray) -> float:
    """The normal log-likelihood of the answers given (lavaan's ``logl`` for one group)."""
    f, _, _ = fiml_discrepancy(data, sigma, mu)
    answered = sum(pat.n * int(pat.observed.sum()) for pat in data.patterns)
    return float(-0.5 * (data.n * f + answered * np.log(2 * np.pi)))


# -- the saturated model by EM ------------------------------------------------------------------
@dataclass(frozen=True)
class SaturatedFit:
    """The EM estimates of the saturated model of one group (lavaan's h1)."""

    mean: np.ndarray
    cov: np.ndarray
    iterations: int
    converged: bool


def em_saturated(data: GroupData, *, max_iter: int = 500, tol: float = 1e-5) -> SaturatedFit:
    """Means and covariances of incomplete normal data by EM, as lavaan's
    ``lav_mvnorm_missing_h1_estimate_moments``.

    Starts from the available-case means and variances (divisor n) with zero covariances; each
    iteration replaces missing answers by their conditional expectations (plus the conditional
    covariance in the cross-products); stops when no mean or covariance changes by ``tol`` or
    more. A nearly singular update gets lavaan's small ridge (1e-8 times the largest variance).
    Complete data need no iteration: the sample moments are the estimates.
    """
    y = data.y
    if data.complete:
        pat = data.patterns[0]
        return SaturatedFit(pat.mean.copy(), pat.cov.copy(), 0, True)
    p = y.shape[1]
    mu = np.nanmean(y, axis=0)
    var = np.nanmean((y - mu) ** 2, axis=0)
    var = np.where(np.isfinite(var) & (var > 0), var, 1.0)
    sigma = np.diag(var)
    lower = np.tril_indices(p)
    n = data.n
    for iteration in range(1, max_iter + 1):
        t1, t2 = _estep(data, mu, sigma)
        new_mu = t1 / n
        new_sigma = t2 / n - np.outer(new_mu, new_mu)
        if np.linalg.eigvalsh(new_sigma)[0] < 1e-6:
            new_sigma[np.diag_indices(p)] += np.max(np.diag(new_sigma)) * 1e-8
        delta = max(np.max(np.abs(new_mu - mu)), np.max(np.abs((new_sigma - sigma)[lower])))
        mu, sigma = new_mu, new_sigma
        if delta < tol:
            return SaturatedFit(mu, sigma, iteration, True)
    return SaturatedFit(mu, sigma, max_iter, False)


def _estep(data: GroupData, mu: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected sums and cross-products of the completed data, from pattern moments.

    A pattern's missing answers are replaced by their regression on the answered ones,
    ``mu_m + B (y_o - mu_o)`` with ``B = Sigma_mo Sigma_oo^-1``, and the missing block of the
    cross-products gets ``n (Sigma_mm - B Sigma_om)`` on top.
    """
    p = mu.size
    t1 = np.zeros(p)
    t2 = np.zeros((p, p))
    everything = np.arange(p)
    for block in data.blocks:
        k = block.obs.shape[1]
        n = block.n
        if k == p:
            t1 += n @ block.mean
            t2 += np.einsum(
                "m,mij->ij", n, block.cov + block.mean[:, :, None] * block.mean[:, None, :]
            )
            continue
        # each pattern's items in the order (answered, missing), with the matching permutation
        mis = np.array([np.setdiff1d(everything, o) for o in block.obs])
        order = np.concatenate([block.obs, mis], axis=1)
        perm = sigma[order[:, :, None], order[:, None, :]]
        s_oo, s_mo, s_mm = perm[:, :k, :k], perm[:, k:, :k], perm[:, k:, k:]
        b = s_mo @ np.linalg.inv(s_oo)
        zbar = block.mean - mu[block.obs]
        zz = n[:, None, None] * (block.cov + zbar[:, :, None] * zbar[:, None, :])
        mu_o, mu_m = mu[block.obs], mu[mis]
        bz = np.einsum("mij,mj->mi", b, zbar)
        mean = np.concatenate([block.mean, mu_m + bz], axis=1)
        oo = n[:, None, None] * (block.cov + block.mean[:, :, None] * block.mean[:, None, :])
        om = n[:, None, None] * block.mean[:, :, None] * mu_m[:, None, :] + (
            zz + n[:, None, None] * mu_o[:, :, None] * zbar[:, None, :]
        ) @ b.transpose(0, 2, 1)
        mm = (
            n[:, None, None] * (mu_m[:, :, None] * mu_m[:, None, :] + mu_m[:, :, None] * bz[:, None, :]
                                + bz[:, :, None] * mu_m[:, None, :])
            + b @ zz @ b.transpose(0, 2, 1)
            + n[:, None, None] * (s_mm - b @ s_mo.transpose(0, 2, 1))
        )  # fmt: skip
        full = np.concatenate(
            [np.concatenate([oo, om], axis=2), np.concatenate([om.transpose(0, 2, 1), mm], axis=2)],
            axis=1,
        )
        t1 += np.bincount(order.ravel(), weights=(n[:, None] * mean).ravel(), minlength=p)
        t2 += PatternBlock(order, n, mean, full).scatter(full, p)
    return t1, t2


# -- the model ------------------------------------------------------------------------------------
class FIMLProblem(MLProblem):
    """The FIML discrepancy of a parameter table: :class:`MLProblem` with incomplete data.

    ``objective`` is ``sum_g (N_g / N) (F_g(model) - F_g(h1))``, so ``N`` times its minimum is
    the chi-square, as for complete data. The optimiser's Hessian is the expected information
    of the incomplete data (each pattern's normal information for the items it answered).
    """

    def __init__(self, partable: ParTable, data: list[GroupData], h1: list[SaturatedFit]):
        moments = [GroupMoments(d.n, s.cov, s.mean) for d, s in zip(data, h1, strict=True)]
        super().__init__(partable, moments)
        if not self.meanstructure and not all(d.complete for d in data):
            raise ValueError("FIML needs a mean structure (lavaan switches it on)")
        self.data = data
        self.h1 = h1
        self._f_h1 = [fiml_discrepancy(d, s.cov, s.mean)[0] for d, s in zip(data, h1, strict=True)]

    def _state(self, x: np.ndarray) -> list[dict[str, np.ndarray]] | None:
        key = x.tobytes()
        if key == self._cache_key:
            return self._cache
        states = []
        for g, data in enumerate(self.data):
            mats = self.matrices(x, g)
            lam = mats["lambda"]
            sigma = lam @ mats["psi"] @ lam.T + mats["theta"]
            if self.meanstructure:
                mu = (mats["nu"] + lam @ mats["alpha"]).ravel()
            else:  # means saturated: at their estimates (complete data only)
                mu = self.h1[g].mean
            try:
                f, dsigma, dmu = fiml_discrepancy(data, sigma, mu, derivatives=True)
            except np.linalg.LinAlgError:
                self._cache_key, self._cache = key, None
                return None
            states.append(
                {**mats, "sigma": sigma, "mu": mu, "f": f - self._f_h1[g], "dsigma": dsigma,
                 "dmu": dmu}
            )  # fmt: skip
        self._cache_key, self._cache = key, states
        return states

    def _group_derivatives(self, g: int, st: dict) -> tuple[np.ndarray, np.ndarray]:
        return st["dsigma"], st["dmu"]

    def group_information(self, x: np.ndarray, g: int) -> np.ndarray:
        """The optimiser's curvature: the expected information of a *complete* respondent at
        the implied moments. With missing answers the true information is smaller; the trust
        region absorbs the difference (Fisher scoring with an approximate information still
        converges, linearly at the rate of the fraction of missing information), and standard
        errors never use this matrix (see :mod:`fieldsurvey.psychometrics.cfa_robust`)."""
        return MLProblem.group_information(self, x, g)

    def pattern_information(self, x: np.ndarray) -> np.ndarray:
        """Expected information per respondent under the missing-data patterns (each pattern's
        normal information for the items it answered, at the implied moments), as lavaan's
        ``information = "expected"`` with missing data (which assumes MCAR)."""
        total = np.zeros((self.pt.n_free, self.pt.n_free))
        for g, data in enumerate(self.data):
            sigma, _ = self.implied(x, g)
            d_sigma, d_mu, _ = self.group_jacobian(x, g)
            q = d_sigma.shape[0]
            info = np.zeros((q, q))
            for pat in data.patterns:
                o = pat.observed
                inv, _ = _pattern_inverse(sigma, o)
                a = inv @ d_sigma[:, o][:, :, o]
                part = 0.5 * a.reshape(q, -1) @ a.transpose(0, 2, 1).reshape(q, -1).T
                part += d_mu[:, o] @ inv @ d_mu[:, o].T
                info += pat.n * part
            to_free = self.to_free(g)
            total += to_free.T @ info @ to_free
        return total / self.n_total

    def implied(self, x: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray]:
        sigma, mu = super().implied(x, g)
        return sigma, (mu if self.meanstructure else self.h1[g].mean)

    def loglik(self, x: np.ndarray) -> float:
        """The model's log-likelihood over all groups (lavaan ``logl``)."""
        return float(sum(loglik(d, *self.implied(x, g)) for g, d in enumerate(self.data)))


# -- casewise scores and the saturated model's information ---------------------------------------
def casewise_scores(
    data: GroupData,
    sigma: np.ndarray,
    mu: np.ndarray,
    d_sigma: np.ndarray,
    d_mu: np.ndarray,
) -> np.ndarray:
    """Derivatives of each respondent's log-likelihood with respect to q parameters.

    ``d_sigma`` (q x p x p) and ``d_mu`` (q x p) are the derivatives of Sigma and mu with respect
    to the parameters. With ``v = Sigma_oo^-1 (y_o - mu_o)`` the score of parameter k is
    ``dmu_k,o' v + (v' dSigma_k,oo v - tr(Sigma_oo^-1 dSigma_k,oo)) / 2``. Returns n x q.
    """
    q = d_sigma.shape[0]
    scores = np.zeros((data.n, q))
    for pat in data.patterns:
        o = pat.observed
        k = int(o.sum())
        inv, _ = _pattern_inverse(sigma, o)
        ds = d_sigma[:, o][:, :, o].reshape(q, k * k)
        v = (data.y[np.ix_(pat.rows, np.flatnonzero(o))] - mu[o]) @ inv
        trace = ds @ inv.ravel()
        quad = (v[:, :, None] * v[:, None, :]).reshape(pat.n, k * k) @ ds.T
        scores[pat.rows] = v @ d_mu[:, o].T + 0.5 * (quad - trace)
    return scores


def saturated_rows(p: int, means: bool) -> np.ndarray:
    """Positions of the saturated parameters kept: all, or the covariances only (no means)."""
    q = p + p * (p + 1) // 2
    return np.arange(q) if means else np.arange(p, q)


def saturated_jacobian(p: int) -> tuple[np.ndarray, np.ndarray]:
    """d_sigma, d_mu of the saturated model's parameters: the p means, then the covariances
    sigma_ij (i >= j, row by row of the lower triangle, lavaan's vech order by columns is only a
    permutation and changes no trace)."""
    rows, cols = np.tril_indices(p)
    q = p + rows.size
    d_sigma = np.zeros((q, p, p))
    d_mu = np.zeros((q, p))
    d_mu[np.arange(p), np.arange(p)] = 1.0
    k = p + np.arange(rows.size)
    d_sigma[k, rows, cols] = 1.0
    d_sigma[k, cols, rows] = 1.0
    return d_sigma, d_mu


def saturated_observed_information(
    data: GroupData, sigma: np.ndarray, mu: np.ndarray
) -> np.ndarray:
    """Observed information of one respondent (minus the Hessian of logl over N_g) for the
    saturated model's means and covariances at (sigma, mu), as lavaan's
    ``lav_mvnorm_missing_information_observed_samplestats``.

    Per pattern, with ``S = Sigma_oo^-1``, ``W = S_p + d d'``, ``d = m_p - mu_o`` and
    ``M = S (2 W - Sigma_oo) S``: the covariance block is ``tr(S D_k M D_l)``, the mean block
    ``2 S``, the cross block ``2 m_k' S D_l S d``; the information adds ``n_p / 2`` times these.
    """
    p = sigma.shape[0]
    rows, cols = np.tril_indices(p)
    q = p + rows.size
    info = np.zeros((q, q))
    for pat in data.patterns:
        o = pat.observed
        idx = np.flatnonzero(o)
        inv, _ = _pattern_inverse(sigma, o)
        d = pat.mean - mu[o]
        w = pat.cov + np.outer(d, d)
        m = inv @ (2.0 * w - sigma[np.ix_(o, o)]) @ inv
        full_inv = np.zeros((p, p))
        full_inv[np.ix_(idx, idx)] = inv
        full_m = np.zeros((p, p))
        full_m[np.ix_(idx, idx)] = m
        v = np.zeros(p)
        v[idx] = inv @ d
        info += pat.n * 0.5 * _saturated_hessian(full_inv, full_m, v, rows, cols)
    return info / data.n


def complete_information(sigma: np.ndarray) -> np.ndarray:
    """Information of one complete respondent for the saturated model at ``sigma`` (the normal
    information: ``Sigma^-1`` for the means, ``tr(S D_k S D_l) / 2`` for the covariances)."""
    p = sigma.shape[0]
    rows, cols = np.tril_indices(p)
    inv = np.linalg.inv(sigma)
    return 0.5 * _saturated_hessian(inv, inv, np.zeros(p), rows, cols)


def _saturated_hessian(
    inv: np.ndarray, m: np.ndarray, v: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Second derivatives of ``log|Sigma| + tr(Sigma^-1 W)`` in (mu, vech Sigma) given
    ``inv = Sigma^-1``, ``m = Sigma^-1 (2W - Sigma) Sigma^-1`` and ``v = Sigma^-1 d``.

    For D_ij = E_ij + E_ji: tr(S D_ij M D_kl) = S_li M_jk + S_ki M_jl + S_lj M_ik + S_kj M_il,
    halved when i = j and again when k = l (the diagonal cells are one E_ii).
    """
    p = inv.shape[0]
    i, j = rows[:, None], cols[:, None]
    k, l_ = rows[None, :], cols[None, :]
    cov_block = (
        inv[l_, i] * m[j, k] + inv[k, i] * m[j, l_] + inv[l_, j] * m[i, k] + inv[k, j] * m[i, l_]
    )
    half = np.where(rows == cols, 0.5, 1.0)
    cov_block = cov_block * half[:, None] * half[None, :]
    # cross: 2 * [Sigma^-1 D_ij Sigma^-1 d]_k = 2 (S[k, i] v_j + S[k, j] v_i), halved when i = j
    cross = 2.0 * (inv[:, rows] * v[cols] + inv[:, cols] * v[rows]) * half
    out = np.zeros((p + rows.size, p + rows.size))
    out[:p, :p] = 2.0 * inv
    out[:p, p:] = cross
    out[p:, :p] = cross.T
    out[p:, p:] = cov_block
    return out
