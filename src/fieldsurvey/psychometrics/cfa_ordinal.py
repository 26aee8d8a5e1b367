"""Ordinal CFA by diagonally weighted least squares, as ``lavaan::cfa(..., ordered = TRUE)``.

Likert answers are coarse readings of continuous latent responses ``y*``. The model explains the
thresholds and polychoric correlations of :mod:`fieldsurvey.psychometrics.ordinal_stats` in
lavaan's default *delta* parameterisation, per group:

* ``Sigma* = Lambda Psi Lambda' + Theta`` (Theta: residual covariances between items; the
  residual variances are not parameters but ``1/delta_i^2 - (Lambda Psi Lambda')_ii``, so that
  the latent responses have variance ``1/delta_i^2``);
* implied polychoric correlation ``rho_ij = delta_i delta_j Sigma*_ij``;
* implied thresholds ``tau*_ik = delta_i (tau_ik - nu_i - lambda_i' alpha)``,

with the thresholds ``tau``, intercepts ``nu``, latent means ``alpha`` and scales ``delta``
free or fixed as the identification requires (single group, lavaan's default: marker loadings,
thresholds free, ``nu = 0``, ``alpha = 0``, ``delta = 1``; the invariance steps of Wu &
Estabrook 2016 free some of them in groups after the first, see
:func:`fieldsurvey.psychometrics.ordinal_invariance.ordinal_invariance`).

Estimation minimises ``F = sum_g (N_g - 1)/N sum_k w_gk (s_gk - sigma_gk)^2`` with the DWLS
weights ``w = 1 / diag(NACOV)``; the chi-square is ``N F = sum_g (N_g - 1) F_g`` (lavaan's N - 1).
Then, as lavaan's ``estimator = "WLSMV"``:

* robust standard errors ``E^-1 (sum_g f_g Delta_g' W_g Gamma_g W_g Delta_g) E^-1 / (N - G)``,
  ``E = sum_g f_g Delta_g' W_g Delta_g``, ``f_g = N_g / N``;
* the mean- and variance-adjusted ("scaled and shifted") chi-square ``a T + b`` with
  ``a = sqrt(df / tr((U Gamma)^2))``, ``b = df - a tr(U Gamma)``, ``U = V - V Delta E^-1 Delta' V``
  (Asparouhov & Muthen 2010);
* CFI, TLI, RMSEA from the DWLS chi-square, their ".scaled" versions from the scaled-and-shifted
  statistics, and the robust versions of Savalei (2021) that lavaan reports: the model
  re-evaluated by normal-theory ML on the polychoric matrix ("catML") with a correction for the
  DWLS estimates (lavaan's ``lav_fit_catml_dwls``); RMSEA with ``N - G``;
* SRMR from the residual correlations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.stats

from fieldsurvey.psychometrics import sem_fit
from fieldsurvey.psychometrics.cfa_ml import fabin_loadings
from fieldsurvey.psychometrics.cfa_partable import Parameter, ParTable, build_partable
from fieldsurvey.psychometrics.lavaan_syntax import (
    LavaanSyntaxError,
    ModelTerm,
    ParameterRef,
    parse_parameter_ref,
)
from fieldsurvey.psychometrics.ordinal_stats import OrdinalStatistics, lower_pairs

#: Kinds of parameters that can be held equal across groups.
ORDINAL_EQUAL: tuple[str, ...] = ("loadings", "thresholds", "intercepts")
#: Kinds of parameters fixed in the first group that can be freed in the others.
ORDINAL_FREE_LATER: tuple[str, ...] = ("intercepts", "delta", "lv.variances", "means")


@dataclass(frozen=True)
class OrdinalSpec:
    """Identification and cross-group constraints of an ordinal model.

    ``std_lv``: factor variances fixed to 1 and every loading free (semTools' ``ID.fac =
    "std.lv"``) instead of marker loadings (lavaan's default). ``equal``: kinds held equal
    across groups (``ORDINAL_EQUAL``). ``free_later``: kinds fixed in the first group (to 0 or
    1) and free in the others (``ORDINAL_FREE_LATER``). ``partial``: parameters exempt from
    ``equal`` ("agree=~A2", "A2|t3", "A2~1").
    """

    std_lv: bool = False
    equal: frozenset[str] = frozenset()
    free_later: frozenset[str] = frozenset()
    partial: tuple[str, ...] = ()


def _kind(par: Parameter) -> str:
    return {
        "lambda": "loadings",
        "tau": "thresholds",
        "nu": "intercepts",
        "alpha": "means",
        "delta": "delta",
        "theta": "residual.covariances",
    }.get(par.matrix, "lv.variances" if par.row == par.col else "lv.covariances")


def build_ordinal_partable(
    terms: Sequence[ModelTerm],
    n_thresholds: Sequence[int],
    *,
    n_groups: int = 1,
    spec: OrdinalSpec | None = None,
) -> ParTable:
    """The parameter table of an ordinal CFA: lavaan's continuous table without residual
    variances, plus thresholds (op ``|``) and scales (op ``~*~``), with ``spec``'s
    identification and constraints.

    Examples
    --------
    >>> from fieldsurvey.psychometrics.lavaan_syntax import parse_model
    >>> pt = build_ordinal_partable(parse_model("f =~ a + b + c"), [4, 4, 4])
    >>> pt.n_free  # 2 loadings, 1 factor variance, 12 thresholds
    15
    """
    spec = spec or OrdinalSpec()
    base = build_partable(terms, n_groups=n_groups, meanstructure=True)
    if len(n_thresholds) != len(base.observed):
        raise ValueError("one number of thresholds per observed variable")
    auto_marker = {(t.lhs, t.rhs) for t in terms if t.op == "=~" and t.fixed is None}
    partial_refs = {p.replace(" ", "") for p in spec.partial}
    user_fixed = {(t.lhs, t.op, t.rhs) for t in terms if t.fixed is not None}
    params: list[Parameter] = []
    for par in base.params:
        if par.matrix == "theta" and par.row == par.col:
            continue  # residual variances follow from the scales (delta parameterisation)
        later = par.group > 0
        if par.matrix == "lambda" and spec.std_lv and (par.lhs, par.rhs) in auto_marker:
            par.free, par.value = True, 0.0
        elif par.matrix == "psi" and par.row == par.col and spec.std_lv:
            if (par.lhs, "~~", par.rhs) not in user_fixed:
                par.free = later and "lv.variances" in spec.free_later
                par.value = 1.0
        elif par.matrix in ("nu", "alpha") and par.label is None and par.start is None:
            kind = "intercepts" if par.matrix == "nu" else "means"
            user = any(t.lhs == par.lhs and t.op == "~" for t in terms)
            if not user:
                par.free = later and kind in spec.free_later
                par.value = 0.0
            if kind == "intercepts" and later and f"{par.lhs}~1" in partial_refs:
                # partial intercept invariance with the intercepts held at 0: free this one
                # in the later groups (Wu & Estabrook's parameterisation of a released intercept)
                par.free = True
        params.append(par)
    for g in range(n_groups):
        position = 0
        for j, name in enumerate(base.observed):
            for k in range(n_thresholds[j]):
                params.append(Parameter(g, name, "|", f"t{k + 1}", "tau", position, j, True, 0.0))
                position += 1
        for j, name in enumerate(base.observed):
            free = g > 0 and "delta" in spec.free_later
            params.append(Parameter(g, name, "~*~", name, "delta", j, 0, free, 1.0))
    n_free = _assign(params, spec, n_groups)
    return ParTable(base.observed, base.factors, n_groups, True, params, n_free)


def _assign(params: list[Parameter], spec: OrdinalSpec, n_groups: int) -> int:
    partial: list[ParameterRef] = [parse_parameter_ref(p) for p in spec.partial if "|" not in p]
    partial_th = {p.replace(" ", "") for p in spec.partial if "|" in p}
    used: set[str] = set()
    keys: dict[tuple, int] = {}
    for par in params:
        if not par.free:
            par.index = -1
            continue
        exempt = False
        if par.matrix == "tau" and f"{par.lhs}|{par.rhs}" in partial_th:
            exempt = True
            used.add(f"{par.lhs}|{par.rhs}")
        for ref in partial:
            is_mean = par.op == "~1"
            if ref.matches(par.lhs, "~" if is_mean else par.op, "1" if is_mean else par.rhs):
                exempt = True
                used.add(str(ref))
        if par.label is not None:
            key: tuple = ("label", par.label)
        elif n_groups > 1 and _kind(par) in spec.equal and not exempt:
            key = ("equal", par.matrix, par.row, par.col)
        else:
            key = ("own", par.group, par.matrix, par.row, par.col)
        par.index = keys.setdefault(key, len(keys))
    unused = [p for p in spec.partial if p.replace(" ", "") not in used]
    if unused:
        raise LavaanSyntaxError(
            f"partial {unused} match(es) no free parameter of the model (write e.g. "
            "'visual=~x2', 'x2|t1' or 'x2~1')"
        )
    return len(keys)


# -- the model -------------------------------------------------------------------------------
class OrdinalProblem:
    """The DWLS discrepancy of an ordinal parameter table for given sample statistics."""

    def __init__(self, partable: ParTable, stats: list[OrdinalStatistics]):
        self.pt = partable
        self.stats = stats
        self.p = len(partable.observed)
        self.m = len(partable.factors)
        self.n_total = sum(s.n for s in stats)
        self.coef = np.array([(s.n - 1) / self.n_total for s in stats])
        self.f_g = np.array([s.n / self.n_total for s in stats])
        self.rows, self.cols = lower_pairs(self.p)
        self.th_item = np.concatenate(
            [np.full(t.size, j) for j, t in enumerate(stats[0].thresholds)]
        ).astype(int)
        self._group_params = [partable.in_group(g) for g in range(partable.n_groups)]

    # -- matrices ------------------------------------------------------------------------
    def matrices(self, x: np.ndarray, g: int) -> dict[str, np.ndarray]:
        n_th = self.th_item.size
        out = {
            "lambda": np.zeros((self.p, self.m)),
            "psi": np.zeros((self.m, self.m)),
            "theta": np.zeros((self.p, self.p)),
            "tau": np.zeros(n_th),
            "nu": np.zeros(self.p),
            "alpha": np.zeros(self.m),
            "delta": np.ones(self.p),
        }
        for par in self._group_params[g]:
            value = x[par.index] if par.free else par.value
            if par.matrix in ("lambda", "psi", "theta"):
                out[par.matrix][par.row, par.col] = value
                if par.matrix != "lambda":
                    out[par.matrix][par.col, par.row] = value
            else:
                out[par.matrix][par.row] = value
        return out

    def implied(self, x: np.ndarray, g: int) -> np.ndarray:
        """The implied statistics (thresholds, then correlations) of group g."""
        mats = self.matrices(x, g)
        lam, delta = mats["lambda"], mats["delta"]
        sigma = lam @ mats["psi"] @ lam.T + mats["theta"]
        corr = delta[self.rows] * delta[self.cols] * sigma[self.rows, self.cols]
        pi0 = mats["nu"] + lam @ mats["alpha"]
        th = delta[self.th_item] * (mats["tau"] - pi0[self.th_item])
        return np.concatenate([th, corr])

    def jacobian(self, x: np.ndarray, g: int) -> np.ndarray:
        """Derivatives of group g's implied statistics with respect to the free vector."""
        mats = self.matrices(x, g)
        lam, psi, alpha, delta = mats["lambda"], mats["psi"], mats["alpha"], mats["delta"]
        sigma = lam @ psi @ lam.T + mats["theta"]
        pi0 = mats["nu"] + lam @ alpha
        lam_psi = lam @ psi
        n_th = self.th_item.size
        r, c = self.rows, self.cols
        dd = delta[r] * delta[c]
        out = np.zeros((n_th + r.size, self.pt.n_free))
        for par in self._group_params[g]:
            if not par.free:
                continue
            d_th = np.zeros(n_th)
            d_corr = np.zeros(r.size)
            i, k = par.row, par.col
            if par.matrix == "lambda":
                d_corr = dd * ((r == i) * lam_psi[c, k] + (c == i) * lam_psi[r, k])
                d_th = -(self.th_item == i).astype(float) * delta[i] * alpha[k]
            elif par.matrix == "psi":
                ds = np.outer(lam[:, i], lam[:, k])
                if i != k:
                    ds = ds + ds.T
                d_corr = dd * ds[r, c]
            elif par.matrix == "theta":
                d_corr = dd * (((r == i) & (c == k)) | ((r == k) & (c == i)))
            elif par.matrix == "tau":
                d_th[i] = delta[self.th_item[i]]
            elif par.matrix == "nu":
                d_th = -(self.th_item == i).astype(float) * delta[i]
            elif par.matrix == "alpha":
                d_th = -delta[self.th_item] * lam[self.th_item, i]
            else:  # delta
                d_corr = ((r == i) * delta[c] + (c == i) * delta[r]) * sigma[r, c]
                d_th = (self.th_item == i) * (mats["tau"] - pi0[self.th_item])
            out[:n_th, par.index] += d_th
            out[n_th:, par.index] += d_corr
        return out

    # -- the discrepancy -----------------------------------------------------------------
    def residuals(self, x: np.ndarray, g: int) -> np.ndarray:
        return self.stats[g].vector - self.implied(x, g)

    def group_discrepancies(self, x: np.ndarray) -> np.ndarray:
        return np.array(
            [float(s.weights @ self.residuals(x, g) ** 2) for g, s in enumerate(self.stats)]
        )

    def objective(self, x: np.ndarray) -> float:
        return float(self.coef @ self.group_discrepancies(x))

    def gradient(self, x: np.ndarray) -> np.ndarray:
        grad = np.zeros(self.pt.n_free)
        for g, s in enumerate(self.stats):
            grad -= 2 * self.coef[g] * self.jacobian(x, g).T @ (s.weights * self.residuals(x, g))
        return grad

    def gauss_newton(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros((self.pt.n_free, self.pt.n_free))
        for g, s in enumerate(self.stats):
            jac = self.jacobian(x, g)
            out += 2 * self.coef[g] * jac.T @ (s.weights[:, None] * jac)
        return out

    # -- starting values and optimisation ------------------------------------------------
    def start_values(self) -> np.ndarray:
        """lavaan's starts: FABIN 3 loadings from the polychoric matrix, factor variances
        0.05 (1 when fixed), the sample thresholds, scales 1; equal parameters averaged."""
        sums = np.zeros(self.pt.n_free)
        counts = np.zeros(self.pt.n_free)
        for g, s in enumerate(self.stats):
            r = s.correlation_matrix()
            thresholds = np.concatenate(s.thresholds)
            params = self._group_params[g]
            lam_start: dict[int, float] = {}
            for f in range(self.m):
                ind = [p for p in params if p.matrix == "lambda" and p.col == f]
                rows = [p.row for p in ind]
                var = next(p for p in params if p.matrix == "psi" and p.row == p.col == f)
                std_lv = not var.free and var.value == 1.0
                starts = fabin_loadings(r[np.ix_(rows, rows)], std_lv=std_lv)
                for p, value in zip(ind, starts, strict=True):
                    lam_start[id(p)] = float(value) if np.isfinite(value) else 1.0
            for p in params:
                if not p.free:
                    continue
                if p.matrix == "lambda":
                    value = lam_start[id(p)]
                elif p.matrix == "psi":
                    value = 0.05 if p.row == p.col else 0.0
                elif p.matrix == "tau":
                    value = thresholds[p.row]
                elif p.matrix == "delta":
                    value = 1.0
                else:
                    value = 0.0
                sums[p.index] += p.start if p.start is not None else value
                counts[p.index] += 1
        return sums / np.maximum(counts, 1)

    def solve(self, x0: np.ndarray | None = None, *, max_iter: int = 500):
        from fieldsurvey.psychometrics.cfa_ml import MLSolution

        x0 = self.start_values() if x0 is None else np.asarray(x0, dtype=float)
        result = scipy.optimize.minimize(
            self.objective,
            x0,
            jac=self.gradient,
            hess=self.gauss_newton,
            method="trust-exact",
            options={"gtol": 1e-10, "maxiter": max_iter},
        )
        grad = self.gradient(result.x)
        max_grad = float(np.max(np.abs(grad))) if grad.size else 0.0
        converged = bool(result.success or max_grad < 1e-7)
        return MLSolution(
            result.x, self.objective(result.x), converged, int(result.nit), max_grad,
            str(result.message),
        )  # fmt: skip


# -- inference ---------------------------------------------------------------------------------
@dataclass
class OrdinalInference:
    """Standard errors and fit measures of a DWLS fit."""

    vcov: np.ndarray
    fit: dict[str, float]
    e_inv: np.ndarray
    extra: dict = field(default_factory=dict)


def ordinal_inference(problem: OrdinalProblem, x: np.ndarray) -> OrdinalInference:
    """Robust SEs, the scaled-and-shifted test, baseline model and all fit measures."""
    stats = problem.stats
    n, groups = problem.n_total, len(stats)
    f_g = problem.f_g
    jacobians = [problem.jacobian(x, g) for g in range(groups)]
    info = sum(
        f * j.T @ (s.weights[:, None] * j) for f, j, s in zip(f_g, jacobians, stats, strict=True)
    )
    try:
        e_inv = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        e_inv = np.full(info.shape, np.nan)
    meat = sum(
        f * (s.weights[:, None] * j).T @ s.nacov @ (s.weights[:, None] * j)
        for f, j, s in zip(f_g, jacobians, stats, strict=True)
    )
    vcov = e_inv @ meat @ e_inv / (n - groups)
    n_stats = sum(s.vector.size for s in stats)
    df = n_stats - problem.pt.n_free
    chisq = float(
        np.sum([(s.n - 1) * f for s, f in zip(stats, problem.group_discrepancies(x), strict=True)])
    )
    a, b = _scaled_shifted(stats, jacobians, e_inv, df)
    base = _baseline(stats)
    fit = {
        "n": n,
        "n_groups": groups,
        "npar": problem.pt.n_free,
        "chisq": chisq,
        "df": df,
        "pvalue": float(scipy.stats.chi2.sf(chisq, df)) if df > 0 else np.nan,
        **_scaled_measures(chisq, df, a, b, base, n, groups),
        "srmr": _srmr(problem, x),
    }
    fit.update(_robust_measures(problem, x, jacobians, e_inv, fit, base))
    return OrdinalInference(vcov, fit, e_inv)


def _scaled_shifted(
    stats: list[OrdinalStatistics], jacobians: list[np.ndarray], e_inv: np.ndarray, df: float
) -> tuple[float, float]:
    """lavaan's scaled-and-shifted coefficients ``a`` (1/scaling factor) and ``b`` (shift)."""
    n_total = sum(s.n for s in stats)
    f_g = [s.n / n_total for s in stats]
    v = scipy.linalg.block_diag(*[f * np.diag(s.weights) for f, s in zip(f_g, stats, strict=True)])
    gamma = scipy.linalg.block_diag(*[s.nacov / f for f, s in zip(f_g, stats, strict=True)])
    delta = np.vstack(jacobians)
    u = v - v @ delta @ e_inv @ delta.T @ v if delta.shape[1] else v
    ug = u @ gamma
    trace, trace2 = float(np.trace(ug)), float(np.sum(ug * ug.T))
    if df <= 0:
        return float("nan"), float("nan")
    a = np.sqrt(df / trace2)
    return float(a), float(df - a * trace)


@dataclass(frozen=True)
class _Baseline:
    chisq: float
    df: int
    a: float
    b: float


def _baseline(stats: list[OrdinalStatistics]) -> _Baseline:
    """Independence model: thresholds free in every group, correlations zero."""
    chisq = 0.0
    jacobians = []
    n_th_total = sum(s.n_thresholds for s in stats)
    offset = 0
    for s in stats:
        r = s.correlations
        w = s.weights[s.n_thresholds :]
        chisq += (s.n - 1) * float(w @ r**2)
        jac = np.zeros((s.vector.size, n_th_total))
        jac[np.arange(s.n_thresholds), offset + np.arange(s.n_thresholds)] = 1.0
        jacobians.append(jac)
        offset += s.n_thresholds
    n_total = sum(s.n for s in stats)
    info = sum(
        (s.n / n_total) * j.T @ (s.weights[:, None] * j)
        for s, j in zip(stats, jacobians, strict=True)
    )
    df = sum(s.correlations.size for s in stats)
    a, b = _scaled_shifted(stats, jacobians, np.linalg.inv(info), df)
    return _Baseline(chisq, df, a, b)


def _scaled_measures(
    chisq: float, df: float, a: float, b: float, base: _Baseline, n: int, groups: int
) -> dict[str, float]:
    scaled = a * chisq + b
    base_scaled = base.a * base.chisq + base.b
    n_rmsea = n - groups  # lavaan: N - G for (D)WLS
    lo, hi = sem_fit.rmsea_ci(chisq, df, n_rmsea, groups)
    lo_s, hi_s = sem_fit.rmsea_ci(scaled, df, n_rmsea, groups)
    return {
        "chisq_scaled": scaled,
        "pvalue_scaled": float(scipy.stats.chi2.sf(scaled, df)) if df > 0 else np.nan,
        "chisq_scaling_factor": 1.0 / a,
        "chisq_shift_parameter": b,
        "baseline_chisq": base.chisq,
        "baseline_df": base.df,
        "baseline_chisq_scaled": base_scaled,
        "baseline_chisq_scaling_factor": 1.0 / base.a,
        "cfi": sem_fit.cfi(chisq, df, base.chisq, base.df),
        "tli": sem_fit.tli(chisq, df, base.chisq, base.df),
        "cfi_scaled": sem_fit.cfi(scaled, df, base_scaled, base.df),
        "tli_scaled": sem_fit.tli(scaled, df, base_scaled, base.df),
        "rmsea": sem_fit.rmsea(chisq, df, n_rmsea, groups),
        "rmsea_ci_lower": lo,
        "rmsea_ci_upper": hi,
        "rmsea_scaled": sem_fit.rmsea(scaled, df, n_rmsea, groups),
        "rmsea_ci_lower_scaled": lo_s,
        "rmsea_ci_upper_scaled": hi_s,
    }


def _implied_correlations(problem: OrdinalProblem, x: np.ndarray, g: int) -> np.ndarray:
    p = problem.p
    out = np.eye(p)
    corr = problem.implied(x, g)[problem.th_item.size :]
    out[problem.rows, problem.cols] = corr
    out[problem.cols, problem.rows] = corr
    return out


def _srmr(problem: OrdinalProblem, x: np.ndarray) -> float:
    """Root mean square residual correlation (lavaan's SRMR for ordinal items: the diagonal
    counts with zero residuals, p (p + 1) / 2 elements per group, groups weighted N_g / N)."""
    p = problem.p
    values = []
    for g, s in enumerate(problem.stats):
        resid = s.correlations - problem.implied(x, g)[problem.th_item.size :]
        values.append(np.sqrt(np.sum(resid**2) / (p * (p + 1) / 2)))
    return float(problem.f_g @ np.array(values))


def _robust_measures(
    problem: OrdinalProblem,
    x: np.ndarray,
    jacobians: list[np.ndarray],
    e_inv: np.ndarray,
    fit: dict[str, float],
    base: _Baseline,
) -> dict[str, float]:
    """lavaan's robust CFI/TLI/RMSEA for ordinal data (``lav_fit_catml_dwls``, Savalei 2021)."""
    stats = problem.stats
    groups = len(stats)
    f_g = problem.f_g
    n_th = problem.th_item.size
    xx3 = 0.0
    xx3_null = 0.0
    v_blocks, w_blocks, g_blocks, d_blocks = [], [], [], []
    for g, s in enumerate(stats):
        observed = s.correlation_matrix()
        if np.linalg.eigvalsh(observed)[0] < np.sqrt(np.finfo(float).eps):
            nan = float("nan")
            return dict.fromkeys(_ROBUST_NAMES, nan)
        implied = _implied_correlations(problem, x, g)
        inv = np.linalg.inv(implied)
        logdet_obs = np.linalg.slogdet(observed)[1]
        xx3 += s.n * (
            np.linalg.slogdet(implied)[1] + np.sum(observed * inv) - logdet_obs - problem.p
        )
        xx3_null += s.n * (-logdet_obs)
        v_blocks.append(f_g[g] * _correlation_information(inv, problem.rows, problem.cols))
        w_blocks.append(f_g[g] * np.diag(s.weights[n_th:]))
        g_blocks.append(s.nacov[n_th:, n_th:] / f_g[g])
        d_blocks.append(jacobians[g][n_th:])
    v, w = scipy.linalg.block_diag(*v_blocks), scipy.linalg.block_diag(*w_blocks)
    gamma = scipy.linalg.block_diag(*g_blocks)
    delta = np.vstack(d_blocks)
    wiu = np.eye(w.shape[0]) - delta @ e_inv @ delta.T @ w
    ks = float(np.sum((wiu.T @ v @ wiu) * gamma.T))
    catml_free = {
        p.index for p in problem.pt.params if p.free and p.matrix not in ("tau", "nu", "alpha")
    }
    df3 = groups * problem.rows.size - len(catml_free)
    df3_null = groups * problem.rows.size
    c3 = ks / df3
    c3_null = float(np.trace(gamma)) / df3_null
    n_rmsea = fit["n"] - groups
    lo, hi = sem_fit.rmsea_ci(xx3 / c3, df3, n_rmsea, groups, c_hat=c3)
    return {
        "cfi_robust": sem_fit.cfi(xx3, fit["df"], xx3_null, base.df, c3, c3_null),
        "tli_robust": sem_fit.tli(xx3, fit["df"], xx3_null, base.df, c3, c3_null),
        "rmsea_robust": sem_fit.rmsea(xx3, df3, n_rmsea, groups, c_hat=c3),
        "rmsea_ci_lower_robust": lo,
        "rmsea_ci_upper_robust": hi,
    }


_ROBUST_NAMES = ("cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust",
                 "rmsea_ci_upper_robust")  # fmt: skip


def _correlation_information(inv: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Normal-theory information of the off-diagonal correlations at an implied correlation
    matrix (``0.5 tr(P^-1 D_ij P^-1 D_kl)`` with ``D_ij = e_i e_j' + e_j e_i'``)."""
    i, j = rows[:, None], cols[:, None]
    k, l_ = rows[None, :], cols[None, :]
    return inv[l_, i] * inv[j, k] + inv[k, i] * inv[j, l_]


# -- the parameter table as lavaan prints it ---------------------------------------------------
def ordinal_parameters(
    problem: OrdinalProblem, x: np.ndarray, vcov: np.ndarray, labels: list[str | None]
) -> list[dict]:
    """Every parameter of every group with its estimate, SE and lavaan's ``std.all``.

    Besides the free and fixed parameters this lists, as lavaan does, the items' residual
    variances ``1/delta^2 - (Lambda Psi Lambda')_ii`` (computed, not estimated; SE NaN).
    """
    se_free = np.sqrt(np.clip(np.diag(vcov), 0, None)) if vcov.size else np.array([])
    rows = []
    for g in range(len(problem.stats)):
        mats = problem.matrices(x, g)
        lam, psi, delta = mats["lambda"], mats["psi"], mats["delta"]
        common = np.diag(lam @ psi @ lam.T)
        resid = 1.0 / delta**2 - common
        sd_lat = np.sqrt(np.diag(psi))
        for par in problem.pt.in_group(g):
            est = float(x[par.index]) if par.free else par.value
            se = float(se_free[par.index]) if par.free else float("nan")
            std = _standardised(par, est, mats, resid, sd_lat)
            rows.append(
                _row(labels[g], par.lhs, par.op, par.rhs, par.label, par.free, est, se, std)
            )
        for i, name in enumerate(problem.pt.observed):
            rows.append(
                _row(labels[g], name, "~~", name, None, False, float(resid[i]), float("nan"),
                     float(resid[i] * delta[i] ** 2))
            )  # fmt: skip
    return rows


def _standardised(par: Parameter, est: float, mats: dict, resid: np.ndarray, sd_lat) -> float:
    delta = mats["delta"]
    with np.errstate(invalid="ignore", divide="ignore"):
        if par.matrix == "lambda":
            return est * sd_lat[par.col] * delta[par.row]
        if par.matrix == "psi":
            return est / (sd_lat[par.row] * sd_lat[par.col])
        if par.matrix == "theta":
            return est / np.sqrt(abs(resid[par.row] * resid[par.col]))
        if par.matrix == "tau":
            return est * delta[par.col]
        if par.matrix == "nu":
            return est * delta[par.row]
        if par.matrix == "alpha":
            return est / sd_lat[par.row]
        return 1.0  # scales: lavaan's std.all is 1


def _row(group, lhs, op, rhs, label, free, est, se, std) -> dict:
    z = est / se if free and se > 0 else float("nan")
    return {
        "group": group,
        "lhs": lhs,
        "op": op,
        "rhs": rhs,
        "label": label or "",
        "free": free,
        "est": est,
        "se": se,
        "z": z,
        "pvalue": float(2 * scipy.stats.norm.sf(abs(z))) if np.isfinite(z) else float("nan"),
        "std_all": float(std),
    }


# -- nested models --------------------------------------------------------------------------------
def satorra_2000_difference(
    looser: OrdinalProblem, x_looser: np.ndarray, tighter: OrdinalProblem, x_tighter: np.ndarray
) -> tuple[float, int, float]:
    """The scaled-and-shifted chi-square difference of nested DWLS fits (Satorra 2000), as
    lavaan's ``lavTestLRT(method = "satorra.2000", A.method = "delta")``, its default for WLSMV.

    The constraints that make the tighter model out of the looser one are found from the two
    models' Jacobians: ``H = Delta_1^+ Delta_0`` spans the tighter model's directions in the
    looser one's parameter space and the rows of ``A`` its orthogonal complement. With the
    looser model's information ``P``, ``M = P^-1 A' (A P^-1 A')^+ A P^-1`` and
    ``U = W Delta_1 M Delta_1' W``: ``a = sqrt(m / tr((U Gamma)^2))``, ``b = m - a tr(U Gamma)``
    and the statistic is ``a (T_0 - T_1) + b`` on ``m = df_0 - df_1`` degrees of freedom
    (``Gamma`` weighted ``N_g / N`` by group, the traces as lavaan 0.6-13 and later).

    Returns (statistic, df, p).
    """
    t1 = float(
        np.sum(
            [
                (s.n - 1) * f
                for s, f in zip(looser.stats, looser.group_discrepancies(x_looser), strict=True)
            ]
        )
    )
    t0 = float(
        np.sum(
            [
                (s.n - 1) * f
                for s, f in zip(tighter.stats, tighter.group_discrepancies(x_tighter), strict=True)
            ]
        )
    )
    m = looser.pt.n_free - tighter.pt.n_free
    if m <= 0:
        return t0 - t1, int(m), float("nan")
    delta1 = [looser.jacobian(x_looser, g) for g in range(len(looser.stats))]
    delta0 = np.vstack([tighter.jacobian(x_tighter, g) for g in range(len(tighter.stats))])
    d1 = np.vstack(delta1)
    h = np.linalg.pinv(d1) @ delta0
    u_h, sing, _ = np.linalg.svd(h, full_matrices=True)
    rank = int(np.sum(sing > max(h.shape) * np.finfo(float).eps * (sing[0] if sing.size else 0)))
    a = u_h[:, rank:].T
    stats = looser.stats
    f_g = looser.f_g
    info = sum(
        f * d.T @ (s.weights[:, None] * d) for f, d, s in zip(f_g, delta1, stats, strict=True)
    )
    p_inv = np.linalg.inv(info)
    middle = p_inv @ a.T @ np.linalg.pinv(a @ p_inv @ a.T) @ a @ p_inv
    trace = sum(
        f * np.trace((s.weights[:, None] * s.nacov * s.weights[None, :]) @ d @ middle @ d.T)
        for f, d, s in zip(f_g, delta1, stats, strict=True)
    )
    v = scipy.linalg.block_diag(*[np.diag(s.weights) for s in stats])
    gamma = scipy.linalg.block_diag(*[f * s.nacov for f, s in zip(f_g, stats, strict=True)])
    ug = v @ d1 @ middle @ d1.T @ v @ gamma
    trace2 = float(np.sum(ug * ug.T))
    scale = np.sqrt(m / trace2)
    shift = m - scale * trace
    statistic = float((t0 - t1) * scale + shift)
    return statistic, int(m), float(scipy.stats.chi2.sf(statistic, m))
