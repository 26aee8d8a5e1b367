"""Normal-theory maximum likelihood for a (multi-group) CFA parameter table.

The discrepancy minimised is lavaan's (likelihood = "normal"):
``F = sum_g (N_g / N) F_g`` with
``F_g = log|Sigma_g| + tr(S_g Sigma_g^-1) - log|S_g| - p + (m_g - mu_g)' Sigma_g^-1 (m_g - mu_g)``
where ``S_g`` is the covariance matrix with divisor ``N_g`` and the mean term is present only
with a mean structure. The chi-square statistic is ``N * F`` at the minimum.

The gradient is analytic; the optimiser (scipy's ``trust-exact``) is given the expected
information as its Hessian (Fisher scoring inside a trust region), and the same expected
information, evaluated at the estimates, gives the standard errors -- lavaan's default
(``information = "expected"``, structured).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.optimize

from fieldsurvey.psychometrics._blas import single_threaded_blas
from fieldsurvey.psychometrics.cfa_partable import ParTable

_MATRICES = ("lambda", "theta", "psi", "nu", "alpha")


_SYMMETRIC = ("theta", "psi")


@dataclass(frozen=True)
class GroupMoments:
    """The sample moments of one group: size, covariance (divisor N) and means."""

    n: int
    cov: np.ndarray
    mean: np.ndarray


@dataclass(frozen=True)
class MLSolution:
    """What the optimiser found."""

    x: np.ndarray
    fmin: float  # F at the minimum (chi-square / N)
    converged: bool
    iterations: int
    max_abs_gradient: float
    message: str


class MLProblem:
    """The ML discrepancy of a parameter table for given group moments.

    Examples
    --------
    >>> import numpy as np
    >>> from fieldsurvey.psychometrics.lavaan_syntax import parse_model
    >>> from fieldsurvey.psychometrics.cfa_partable import build_partable
    >>> pt = build_partable(parse_model("f =~ a + b + c"))
    >>> cov = np.array([[1.0, 0.5, 0.4], [0.5, 1.0, 0.3], [0.4, 0.3, 1.0]])
    >>> problem = MLProblem(pt, [GroupMoments(100, cov, np.zeros(3))])
    >>> round(problem.solve().fmin, 10)  # three indicators: saturated
    0.0
    """

    def __init__(self, partable: ParTable, moments: list[GroupMoments]):
        if len(moments) != partable.n_groups:
            raise ValueError("one GroupMoments per group is needed")
        self.pt = partable
        self.moments = moments
        self.p = len(partable.observed)
        self.m = len(partable.factors)
        self.n_total = sum(mo.n for mo in moments)
        self.weights = np.array([mo.n / self.n_total for mo in moments])
        self.meanstructure = partable.meanstructure
        self._logdet_s = [np.linalg.slogdet(mo.cov)[1] for mo in moments]
        shapes = {
            "lambda": (self.p, self.m),
            "theta": (self.p, self.p),
            "psi": (self.m, self.m),
            "nu": (self.p, 1),
            "alpha": (self.m, 1),
        }
        self._templates: list[dict[str, np.ndarray]] = []
        self._free: list[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
        self._free_params: list[list] = []
        for g in range(partable.n_groups):
            tmpl = {name: np.zeros(shape) for name, shape in shapes.items()}
            free: dict[str, list[list[int]]] = {name: [[], [], []] for name in _MATRICES}
            group_free = []
            for par in partable.in_group(g):
                if par.free:
                    cells = free[par.matrix]
                    cells[0].append(par.row)
                    cells[1].append(par.col)
                    cells[2].append(par.index)
                    group_free.append(par)
                else:
                    tmpl[par.matrix][par.row, par.col] = par.value
                    if par.matrix in _SYMMETRIC:
                        tmpl[par.matrix][par.col, par.row] = par.value
            self._templates.append(tmpl)
            self._free.append(
                {k: tuple(np.asarray(v, dtype=int) for v in cells) for k, cells in free.items()}
            )
            self._free_params.append(group_free)
        self._cache_key: bytes | None = None
        self._cache: list[dict[str, np.ndarray]] = []

    # -- model matrices -------------------------------------------------------------------
    def matrices(self, x: np.ndarray, g: int) -> dict[str, np.ndarray]:
        """Lambda, Theta, Psi, nu, alpha of group ``g`` at parameter vector ``x``."""
        out = {}
        for name in _MATRICES:
            mat = self._templates[g][name].copy()
            rows, cols, idx = self._free[g][name]
            if len(idx):
                mat[rows, cols] = x[idx]
                if name in _SYMMETRIC:
                    mat[cols, rows] = x[idx]
            out[name] = mat
        return out

    def implied(self, x: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray]:
        """Model-implied covariance matrix and mean vector of group ``g``."""
        mats = self.matrices(x, g)
        lam = mats["lambda"]
        sigma = lam @ mats["psi"] @ lam.T + mats["theta"]
        mu = (mats["nu"] + lam @ mats["alpha"]).ravel()
        return sigma, mu

    def _state(self, x: np.ndarray) -> list[dict[str, np.ndarray]] | None:
        key = x.tobytes()
        if key == self._cache_key:
            return self._cache
        states = []
        for g, mo in enumerate(self.moments):
            mats = self.matrices(x, g)
            lam = mats["lambda"]
            sigma = lam @ mats["psi"] @ lam.T + mats["theta"]
            try:
                chol = scipy.linalg.cho_factor(sigma, lower=True)
            except np.linalg.LinAlgError:
                self._cache_key, self._cache = key, None
                return None
            sigma_inv = scipy.linalg.cho_solve(chol, np.eye(self.p))
            mu = (mats["nu"] + lam @ mats["alpha"]).ravel()
            resid_mean = mo.mean - mu if self.meanstructure else np.zeros(self.p)
            logdet = 2.0 * np.sum(np.log(np.diag(chol[0])))
            f = (
                logdet
                + np.sum(mo.cov * sigma_inv)
                - self._logdet_s[g]
                - self.p
                + resid_mean @ sigma_inv @ resid_mean
            )
            states.append(
                {
                    **mats,
                    "sigma": sigma,
                    "sigma_inv": sigma_inv,
                    "mu": mu,
                    "resid_mean": resid_mean,
                    "f": f,
                }
            )
        self._cache_key, self._cache = key, states
        return states

    # -- objective, gradient, information ------------------------------------------------
    def objective(self, x: np.ndarray) -> float:
        """F_ML at ``x`` (inf where an implied covariance matrix is not positive definite)."""
        states = self._state(x)
        if states is None:
            return np.inf
        return float(sum(w * st["f"] for w, st in zip(self.weights, states, strict=True)))

    def group_discrepancies(self, x: np.ndarray) -> np.ndarray:
        """F_g of every group at ``x``."""
        states = self._state(x)
        if states is None:
            return np.full(len(self.moments), np.inf)
        return np.array([st["f"] for st in states])

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Analytic gradient of :meth:`objective`."""
        states = self._state(x)
        grad = np.zeros(self.pt.n_free)
        if states is None:
            return grad
        for g, (w, st) in enumerate(zip(self.weights, states, strict=True)):
            dsigma, dmu = self._group_derivatives(g, st)
            self._chain(g, st, dsigma, dmu, w, grad)
        return grad

    def _group_derivatives(self, g: int, st: dict) -> tuple[np.ndarray, np.ndarray]:
        """dF_g/dSigma (symmetric, p x p) and dF_g/dmu (p) at a state."""
        si = st["sigma_inv"]
        d = st["resid_mean"]
        outer = self.moments[g].cov + np.outer(d, d)
        return si - si @ outer @ si, -2.0 * si @ d

    def _chain(
        self, g: int, st: dict, dsigma: np.ndarray, dmu: np.ndarray, w: float, grad: np.ndarray
    ) -> None:
        """Add ``w`` times the derivative of F_g with respect to the free parameters to ``grad``,
        given F_g's derivatives with respect to Sigma_g and mu_g (chain rule)."""
        lam, psi = st["lambda"], st["psi"]
        derivs = {
            "lambda": 2.0 * dsigma @ lam @ psi + np.outer(dmu, st["alpha"].ravel()),
            "psi": lam.T @ dsigma @ lam,
            "theta": dsigma,
            "nu": dmu[:, None],
            "alpha": (lam.T @ dmu)[:, None],
        }
        for name in _MATRICES:
            rows, cols, idx = self._free[g][name]
            if not len(idx):
                continue
            vals = derivs[name][rows, cols]
            if name in _SYMMETRIC:
                vals = np.where(rows == cols, vals, 2.0 * vals)
            np.add.at(grad, idx, w * vals)

    def group_jacobian(self, x: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Derivatives of Sigma_g and mu_g with respect to group g's free parameters.

        Returns ``(d_sigma, d_mu, index)``: ``d_sigma[k]`` (p x p) and ``d_mu[k]`` (p) for the
        k-th free parameter of the group, ``index[k]`` its position in the free vector (a
        parameter tied by a label may appear more than once; its derivatives then add up).
        """
        mats = self.matrices(x, g)
        lam, psi, alpha = mats["lambda"], mats["psi"], mats["alpha"].ravel()
        params = self._free_params[g]
        q = len(params)
        d_sigma = np.zeros((q, self.p, self.p))
        d_mu = np.zeros((q, self.p))
        lam_psi = lam @ psi
        for k, par in enumerate(params):
            r, c = par.row, par.col
            if par.matrix == "lambda":
                v = lam_psi[:, c]
                d_sigma[k, r, :] += v
                d_sigma[k, :, r] += v
                d_mu[k, r] = alpha[c]
            elif par.matrix == "psi":
                outer = np.outer(lam[:, r], lam[:, c])
                d_sigma[k] = outer if r == c else outer + outer.T
            elif par.matrix == "theta":
                d_sigma[k, r, c] = 1.0
                d_sigma[k, c, r] = 1.0
            elif par.matrix == "nu":
                d_mu[k, r] = 1.0
            else:
                d_mu[k] = lam[:, r]
        if not self.meanstructure:
            d_mu[:] = 0.0
        return d_sigma, d_mu, np.array([par.index for par in params], dtype=int)

    def to_free(self, g: int) -> np.ndarray:
        """The (q_g x n_free) 0/1 matrix taking group g's parameters to the free vector."""
        index = [par.index for par in self._free_params[g]]
        out = np.zeros((len(index), self.pt.n_free))
        out[np.arange(len(index)), index] = 1.0
        return out

    def group_information(self, x: np.ndarray, g: int) -> np.ndarray:
        """Expected information of one observation of group ``g``, in the free vector's terms."""
        sigma, _ = self.implied(x, g)
        sigma_inv = np.linalg.inv(sigma)
        d_sigma, d_mu, _ = self.group_jacobian(x, g)
        q = d_sigma.shape[0]
        a = sigma_inv @ d_sigma  # batched: Sigma^-1 dSigma_k
        info = 0.5 * a.reshape(q, -1) @ a.transpose(0, 2, 1).reshape(q, -1).T
        if self.meanstructure:
            info += d_mu @ sigma_inv @ d_mu.T
        to_free = self.to_free(g)
        return to_free.T @ info @ to_free

    def information(self, x: np.ndarray) -> np.ndarray:
        """Expected information of the whole sample, ``sum_g N_g I_g`` (inverse = vcov)."""
        return sum(mo.n * self.group_information(x, g) for g, mo in enumerate(self.moments))

    def _fisher_hessian(self, x: np.ndarray) -> np.ndarray:
        # E[d2F/dx2] = 2 * sum_g w_g I_g
        return 2.0 * self.information(x) / self.n_total

    # -- starting values and optimisation ------------------------------------------------
    def start_values(self) -> np.ndarray:
        """lavaan's default starting values (see :func:`_group_starts`); parameters held equal
        across groups start at the average of their groups' values (lavaan projects the starts
        onto the constraints, which for equalities is the average)."""
        sums = np.zeros(self.pt.n_free)
        counts = np.zeros(self.pt.n_free)
        for g, mo in enumerate(self.moments):
            for par, value in _group_starts(self.pt, g, mo):
                if par.free:
                    sums[par.index] += value
                    counts[par.index] += 1
        return sums / np.maximum(counts, 1)

    def solve(self, x0: np.ndarray | None = None, *, max_iter: int = 500) -> MLSolution:
        """Minimise F_ML from ``x0`` (default: :meth:`start_values`)."""
        with single_threaded_blas():
            return self._solve(x0, max_iter)

    def _solve(self, x0: np.ndarray | None, max_iter: int) -> MLSolution:
        x0 = self.start_values() if x0 is None else np.asarray(x0, dtype=float)
        if not np.isfinite(self.objective(x0)):
            # Starting values with a non-positive-definite Sigma: fall back to uncorrelated,
            # small-loading starts that always give a positive-definite Sigma.
            x0 = self._safe_starts(x0)
        result = scipy.optimize.minimize(
            self.objective,
            x0,
            jac=self.gradient,
            hess=self._fisher_hessian,
            method="trust-exact",
            options={"gtol": 1e-9, "maxiter": max_iter},
        )
        x = result.x
        grad = self.gradient(x)
        max_grad = float(np.max(np.abs(grad))) if grad.size else 0.0
        fmin = self.objective(x)
        # trust-exact may stop on "cannot improve" at machine precision; a vanishing gradient
        # is the real test of a minimum.
        converged = bool(np.isfinite(fmin) and (result.success or max_grad < 1e-6))
        return MLSolution(x, float(fmin), converged, int(result.nit), max_grad, str(result.message))

    def _safe_starts(self, x0: np.ndarray) -> np.ndarray:
        x = x0.copy()
        for g, mo in enumerate(self.moments):
            for par in self.pt.in_group(g):
                if not par.free:
                    continue
                if par.matrix == "theta":
                    x[par.index] = mo.cov[par.row, par.row] / 2 if par.row == par.col else 0.0
                elif par.matrix == "psi":
                    x[par.index] = 0.05 if par.row == par.col else 0.0
        return x


def _group_starts(pt: ParTable, g: int, mo: GroupMoments) -> list[tuple]:
    """lavaan's default starting values (``start = "default"``) for one group.

    Residual variances are half the observed variances, factor variances 0.05, covariances 0,
    intercepts the sample means and latent means 0; the loadings of each factor come from
    the non-iterative FABIN 3 estimator (Hagglund 1982) on that factor's indicators, scaled to
    the first indicator and bounded as lavaan bounds them. Because FABIN estimates each loading
    from the covariances, a reverse-keyed item left unreversed starts with a negative loading
    instead of a positive one far from the solution.
    """
    s = mo.cov
    params = pt.in_group(g)
    loadings: dict[int, float] = {}
    for f in range(len(pt.factors)):
        ind = [p for p in params if p.matrix == "lambda" and p.col == f]
        rows = [p.row for p in ind]
        psi_par = next(p for p in params if p.matrix == "psi" and p.row == p.col == f)
        std_lv = not psi_par.free and psi_par.value == 1.0
        lam = fabin_loadings(s[np.ix_(rows, rows)], std_lv=std_lv)
        for p, value in zip(ind, lam, strict=True):
            loadings[id(p)] = float(value) if np.isfinite(value) else 1.0

    out = []
    for p in params:
        if not p.free:
            out.append((p, p.value))
            continue
        if p.start is not None:
            value = p.start
        elif p.matrix == "lambda":
            value = loadings[id(p)]
        elif p.matrix == "theta":
            value = s[p.row, p.row] / 2 if p.row == p.col else 0.0
        elif p.matrix == "psi":
            value = 0.05 if p.row == p.col else 0.0
        elif p.matrix == "nu":
            value = mo.mean[p.row]
        else:
            value = 0.0
        out.append((p, float(value)))
    return out


def fabin_loadings(cov: np.ndarray, *, std_lv: bool = False) -> np.ndarray:
    """One-factor loadings by FABIN 3 (Hagglund 1982), the first indicator's loading 1.

    As lavaan's ``lav_cfa_1fac_fabin`` (used for its starting values): with four or more
    indicators, ``lambda_i = s_i3' S33^-1 s_31 / s_13' S33^-1 s_31`` where "3" are the
    indicators other than i and the first, each loading bounded by
    ``sqrt(s_ii / (0.1 s_11))`` (the first indicator's reliability taken as at least 0.1);
    with three, the closed-form solution (two: a made-up third indicator, as lavaan); a
    negative triad of covariances gives loadings of 1. With ``std_lv`` (factor variance fixed
    to 1) the loadings are multiplied by ``sqrt(psi)``.

    Examples
    --------
    >>> lam = np.array([1.0, 0.8, -0.6, 0.7])
    >>> s = np.outer(lam, lam) * 0.5 + np.diag([0.5, 0.6, 0.4, 0.5])
    >>> np.round(fabin_loadings(s), 6).tolist()
    [1.0, 0.8, -0.6, 0.7]
    """
    s = np.asarray(cov, dtype=float)
    nvar = s.shape[0]
    if nvar < 4:
        lam, psi, neg_triad = _three_indicators(s)
        if neg_triad:
            return np.full(nvar, 0.7 if std_lv else 1.0)
    else:
        lam = np.ones(nvar)
        for i in range(1, nvar):
            others = [j for j in range(1, nvar) if j != i]
            s23, s31 = s[i, others], s[others, 0]
            try:
                tmp = np.linalg.solve(s[np.ix_(others, others)], s31)
                lam[i] = (s23 @ tmp) / (s31 @ tmp)
            except np.linalg.LinAlgError:
                lam[i] = (s23 @ s31) / (s31 @ s31)
        lower_psi = 0.1 * s[0, 0]
        bound = np.sqrt(np.diag(s)[1:] / lower_psi)
        lam[1:] = np.clip(lam[1:], -bound, bound)
        psi = _fabin_psi(s, lam) if std_lv else np.nan
    if std_lv:
        lam = lam * np.sign(psi) * np.sqrt(abs(psi))
    return lam


def _fabin_psi(s: np.ndarray, lam: np.ndarray) -> float:
    """FABIN's factor variance (unweighted least squares given the loadings), as lavaan."""
    nvar = len(lam)
    d = np.outer(lam, lam) / np.sum(lam**2)
    theta = np.linalg.solve(np.eye(nvar) - d * d, np.diag(s - d @ s @ d))
    l2 = np.sum(lam**2)
    return float(lam @ (s - np.diag(theta)) @ lam / (l2 * l2))


def _three_indicators(s: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """Closed-form one-factor solution of three indicators (lavaan's ``lav_cfa_1fac_3ind``).

    Returns (loadings, psi, negative triad); for fewer than three indicators lavaan's
    completion of the matrix is used.
    """
    nvar = s.shape[0]
    if nvar == 1:
        s = np.ones((3, 3))
    elif nvar == 2:
        extra = np.array([np.mean(np.diag(s)), s[1, 0]])
        s = np.block([[s, extra[:, None]], [extra[None, :], np.array([[np.max(np.diag(s))]])]])
    s21, s31, s32 = s[1, 0], s[2, 0], s[2, 1]
    neg_triad = s21 * s31 * s32 < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        psi = s21 * s31 / s32
        l2, l3 = s32 / s31, s32 / s21
    lower_psi = 0.1 * s[0, 0]
    psi = float(np.clip(psi, lower_psi, s[0, 0]))  # NaN stays NaN (then a start of 1, as lavaan)
    bound = np.sqrt(np.diag(s)[1:] / lower_psi)
    lam = np.r_[1.0, np.clip([l2, l3], -bound, bound)]
    return lam[:nvar], float(psi), bool(neg_triad)
