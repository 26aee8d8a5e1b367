"""Exploratory factor analysis and parallel analysis, as R ``psych::fa`` and ``psych::fa.parallel``.

:func:`efa` follows ``psych::fa`` step by step:

1. **Correlations**: pairwise Pearson (psych's default ``use = "pairwise"``), or a given matrix.
2. **Extraction** over the uniquenesses ``Psi``, bounded to ``[0.005, max(1, SMC)]`` and
   started at ``1 - SMC`` as psych does:

   * ``fm="minres"`` (minimum residual, psych's default): minimise the sum of squared
     off-diagonal residuals of ``R - L L'``, the loadings being the first ``k`` eigenvectors of
     ``R - diag(Psi)`` scaled by the roots of their eigenvalues;
   * ``fm="ml"``: maximum likelihood, ``sum(log(e) - e)`` over the trailing eigenvalues ``e``
     of ``Psi^-1/2 R Psi^-1/2`` (Lawley & Maxwell; R's ``factanal``), loadings
     ``Psi^1/2 V (E - I)^1/2``.

   psych minimises with ``optim``'s L-BFGS-B at its default tolerance; we minimise the same
   function to a far smaller tolerance, so loadings agree to about 1e-6.
3. **Signs**: every factor is reflected so its loadings sum to a positive number.
4. **Rotation**: ``"varimax"`` is R's ``stats::varimax`` (Kaiser-normalised, stopping at
   ``eps = 1e-5`` as R); ``"oblimin"`` is ``GPArotation::oblimin`` (direct quartimin by gradient
   projection from the unrotated loadings, ``eps = 1e-5``, at most 1000 iterations, the same
   step-halving rule), which also gives the factor correlations ``Phi = T'T``; ``"none"``.
5. **Order and names**: factors are reflected again, then sorted by the variance they account
   for (``diag(Phi L'L)``); each keeps the name of its place in the extraction (``MR2``, ``ML1``,
   ...), as psych names them.

Results: pattern loadings, communalities ``h2`` (of the unrotated solution, as psych),
uniquenesses ``u2 = 1 - h2``, Hofmann's complexity ``(sum l^2)^2 / sum l^4`` per item, psych's
variance table (``Vaccounted``) and ``Phi``. psych's chi-square-based fit statistics are not
reproduced.

:func:`parallel_analysis` follows ``psych::fa.parallel`` (``fa = "both"``): the observed
eigenvalues of ``R`` (components) and of the reduced matrix of a one-factor minres solution
(factors), against the 95% quantile of the same eigenvalues in ``n_iter`` data sets of
independent normal variables of the same size; the suggested number is the count of leading
observed eigenvalues above that quantile. The simulations are random (seeded here, unseeded in
psych), so simulated values agree with psych's only up to simulation error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize

from fieldsurvey.instrument.model import Instrument
from fieldsurvey.psychometrics.omega import varimax
from fieldsurvey.psychometrics.reliability import reverse_keyed, squared_multiple_correlations

_LOWER = 0.005  # psych's lower bound on a uniqueness
VARIANCE_ROWS = (
    "SS loadings", "Proportion Var", "Cumulative Var", "Proportion Explained",
    "Cumulative Proportion",
)  # fmt: skip


@dataclass
class EFAResult:
    """An exploratory factor solution.

    Attributes
    ----------
    loadings : pd.DataFrame
        Items x factors pattern loadings (psych's order, names and signs).
    communality : pd.Series
        ``h2`` of each item.
    uniqueness : pd.Series
        ``u2 = 1 - h2``.
    complexity : pd.Series
        Hofmann's index of each item (1 = loads on one factor only).
    variance : pd.DataFrame
        psych's ``Vaccounted``: SS loadings, proportion and cumulative variance, proportion and
        cumulative proportion explained (rows) by factor (columns).
    phi : pd.DataFrame or None
        Factor correlations (oblique rotations).
    structure : pd.DataFrame
        Structure loadings ``L Phi`` (the pattern for orthogonal solutions).
    correlation : pd.DataFrame
        The correlation matrix analysed.
    fm, rotate : str
    n_obs : int or None
    notes : list of str
    """

    loadings: pd.DataFrame
    communality: pd.Series
    uniqueness: pd.Series
    complexity: pd.Series
    variance: pd.DataFrame
    phi: pd.DataFrame | None
    structure: pd.DataFrame
    correlation: pd.DataFrame
    fm: str
    rotate: str
    n_obs: int | None
    notes: list[str] = field(default_factory=list)


def efa(
    data: pd.DataFrame,
    n_factors: int,
    *,
    fm: Literal["minres", "ml"] = "minres",
    rotate: Literal["oblimin", "varimax", "none"] = "oblimin",
) -> EFAResult:
    """Exploratory factor analysis, as ``psych::fa(x, nfactors, fm, rotate)``.

    Parameters
    ----------
    data : pd.DataFrame
        Item responses (one column per item, missing as NaN; pairwise correlations are used),
        or a square correlation matrix with item names as index and columns.
    n_factors : int
        Factors to extract.
    fm : {"minres", "ml"}
        Extraction: minimum residual (psych's default) or maximum likelihood.
    rotate : {"oblimin", "varimax", "none"}
        Rotation (psych's default: oblimin).

    Returns
    -------
    EFAResult

    Examples
    --------
    >>> lam = np.array([[.8, 0], [.7, 0], [.6, 0], [0, .8], [0, .7], [0, .6]])
    >>> r = lam @ lam.T; np.fill_diagonal(r, 1)
    >>> res = efa(pd.DataFrame(r, index=list("abcdef"), columns=list("abcdef")), 2)
    >>> res.loadings.round(3).abs().max(axis=0).tolist()
    [0.8, 0.8]
    """
    if fm not in ("minres", "ml"):
        raise ValueError(f"fm must be 'minres' or 'ml' (got {fm!r})")
    if rotate not in ("oblimin", "varimax", "none"):
        raise ValueError(f"rotate must be 'oblimin', 'varimax' or 'none' (got {rotate!r})")
    corr, n_obs = _correlation(data)
    p = corr.shape[0]
    if not 1 <= n_factors < p:
        raise ValueError(f"cannot extract {n_factors} factors from {p} items")
    names = list(corr.index)
    r = corr.to_numpy()
    loadings = _extract(r, n_factors, fm)
    if n_factors > 1:
        loadings = loadings * _signs(loadings)
    elif loadings.sum() < 0:
        loadings = -loadings
    loadings[loadings == 0] = 1e-15
    h2 = np.sum(loadings**2, axis=1)
    phi = None
    if n_factors > 1 and rotate == "varimax":
        loadings = varimax(loadings, tol=1e-5)
    elif n_factors > 1 and rotate == "oblimin":
        loadings, phi = gpa_oblimin(loadings)
    signs = _signs(loadings)
    loadings = loadings * signs
    if phi is not None:
        phi = phi * np.outer(signs, signs)
    prefix = "MR" if fm == "minres" else "ML"
    labels = [f"{prefix}{k + 1}" for k in range(n_factors)]
    if n_factors > 1:
        explained = np.diag((phi if phi is not None else np.eye(n_factors)) @ loadings.T @ loadings)
        order = np.argsort(-explained, kind="stable")
        loadings = loadings[:, order]
        labels = [labels[k] for k in order]
        if phi is not None:
            phi = phi[np.ix_(order, order)]
    return _result(loadings, phi, h2, r, names, labels, fm, rotate, n_obs)


def _correlation(data: pd.DataFrame) -> tuple[pd.DataFrame, int | None]:
    if not isinstance(data, pd.DataFrame):
        raise TypeError("data must be a pandas DataFrame (responses or a correlation matrix)")
    values = data.to_numpy(dtype=float)
    square = values.shape[0] == values.shape[1] and list(data.index) == list(data.columns)
    if square and np.allclose(values, values.T) and np.allclose(np.diag(values), 1.0):
        return data.astype(float), None
    corr = data.apply(pd.to_numeric, errors="coerce").corr()
    if corr.isna().any().any():
        bad = corr.columns[corr.isna().any()].tolist()
        raise ValueError(f"no correlation can be computed for item(s) {bad} (too few answers?)")
    return corr, int(len(data))


def _signs(loadings: np.ndarray) -> np.ndarray:
    signs = np.sign(loadings.sum(axis=0))
    return np.where(signs == 0, 1.0, signs)


def _extract(
    r: np.ndarray, k: int, fm: str, *, ftol: float = 1e-15, max_iter: int = 10_000
) -> np.ndarray:
    """Unrotated loadings by minres or ML over the uniquenesses, as psych's ``fac``
    (``ftol``: the optimiser's relative tolerance on the criterion; ``max_iter``: its
    iteration limit)."""
    smc = squared_multiple_correlations(r)
    upper = max(float(np.max(smc)), 1.0)
    start = np.diag(r) - smc
    bounds = [(_LOWER, upper)] * r.shape[0]
    if fm == "ml":
        objective, gradient = _ml_objective, _ml_gradient
    else:
        objective, gradient = _minres_objective, _minres_gradient
    fit = optimize.minimize(
        objective,
        np.clip(start, _LOWER, upper),
        args=(r, k),
        jac=gradient,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": ftol, "gtol": 1e-12 if ftol < 1e-12 else 1e-8, "maxiter": max_iter},
    )
    psi = fit.x
    if fm == "ml":
        scale = 1.0 / np.sqrt(psi)
        values, vectors = _top_eigen(scale[:, None] * r * scale[None, :], k)
        return np.sqrt(psi)[:, None] * vectors * np.sqrt(np.maximum(values - 1.0, 0.0))
    values, vectors = _top_eigen(r - np.diag(psi), k)
    return vectors * np.sqrt(np.maximum(values, 0.0))


def _top_eigen(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh(matrix)
    order = np.argsort(values)[::-1][:k]
    return values[order], vectors[:, order]


def _minres_model(psi: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    values, vectors = _top_eigen(r - np.diag(psi), k)
    load = vectors * np.sqrt(np.maximum(values, 0.0))
    return load @ load.T


def _minres_objective(psi: np.ndarray, r: np.ndarray, k: int) -> float:
    resid = r - _minres_model(psi, r, k)
    lower = np.tril_indices_from(resid, -1)
    return float(np.sum(resid[lower] ** 2))


def _minres_gradient(psi: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    return np.diag(_minres_model(psi, r, k) + np.diag(psi) - r)


def _ml_parts(psi: np.ndarray, r: np.ndarray, k: int):
    scale = 1.0 / np.sqrt(psi)
    values, vectors = np.linalg.eigh(scale[:, None] * r * scale[None, :])
    return values[::-1], vectors[:, ::-1]


def _ml_objective(psi: np.ndarray, r: np.ndarray, k: int) -> float:
    values, _ = _ml_parts(psi, r, k)
    e = values[k:]
    return float(-(np.sum(np.log(e) - e) - k + r.shape[0]))


def _ml_gradient(psi: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    values, vectors = _ml_parts(psi, r, k)
    load = vectors[:, :k] * np.sqrt(np.maximum(values[:k] - 1.0, 0.0))
    load = np.sqrt(psi)[:, None] * load
    g = load @ load.T + np.diag(psi) - r
    return np.diag(g) / psi**2


def gpa_oblimin(
    loadings: np.ndarray, *, eps: float = 1e-5, max_iter: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """Direct quartimin (oblimin, gamma 0), exactly as ``GPArotation::oblimin`` (GPFoblq).

    Gradient projection (Bernaards & Jennrich 2005) from the identity: at each step the step
    size doubles, then halves (up to 11 tries) until the criterion improves by at least half
    the squared projected gradient times the step; stops when the projected gradient is below
    ``eps``. Returns (pattern loadings, factor correlations ``T'T``).
    """
    a = loadings
    m = a.shape[1]
    off = 1.0 - np.eye(m)

    def criterion(lam: np.ndarray) -> tuple[float, np.ndarray]:
        x = (lam**2) @ off
        return float(np.sum(lam**2 * x) / 4.0), lam * x

    t = np.eye(m)
    lam = a @ np.linalg.inv(t).T
    f, gq = criterion(lam)
    g = -(lam.T @ gq @ np.linalg.inv(t)).T
    step = 1.0
    for _ in range(max_iter + 1):
        gp = g - t @ np.diag(np.sum(t * g, axis=0))
        s = float(np.sqrt(np.sum(gp * gp)))
        if s < eps:
            break
        step *= 2.0
        for _ in range(11):
            x = t - step * gp
            t_new = x / np.sqrt(np.sum(x**2, axis=0))
            lam = a @ np.linalg.inv(t_new).T
            f_new, gq = criterion(lam)
            if f - f_new > 0.5 * s**2 * step:
                break
            step /= 2.0
        t = t_new
        f = f_new
        g = -(lam.T @ gq @ np.linalg.inv(t)).T
    return lam, t.T @ t


def _result(loadings, phi, h2, r, names, labels, fm, rotate, n_obs) -> EFAResult:
    k = loadings.shape[1]
    phi_m = phi if phi is not None else np.eye(k)
    explained = np.diag(phi_m @ loadings.T @ loadings)
    total = float(r.shape[0])  # sum of communalities and uniquenesses of a correlation matrix
    rows = [explained, explained / total]
    if k > 1:
        rows += [np.cumsum(explained / total), explained / explained.sum(),
                 np.cumsum(explained / explained.sum())]  # fmt: skip
    variance = pd.DataFrame(rows, index=list(VARIANCE_ROWS[: len(rows)]), columns=labels)
    complexity = np.sum(loadings**2, axis=1) ** 2 / np.sum(loadings**4, axis=1)
    frame = pd.DataFrame(loadings, index=names, columns=labels)
    return EFAResult(
        loadings=frame,
        communality=pd.Series(h2, index=names, name="h2"),
        uniqueness=pd.Series(1.0 - h2, index=names, name="u2"),
        complexity=pd.Series(complexity, index=names, name="com"),
        variance=variance,
        phi=None if phi is None else pd.DataFrame(phi, index=labels, columns=labels),
        structure=pd.DataFrame(loadings @ phi_m, index=names, columns=labels),
        correlation=pd.DataFrame(r, index=names, columns=names),
        fm=fm,
        rotate=rotate if k > 1 else "none",
        n_obs=n_obs,
    )


# -- which items load where ------------------------------------------------------------------------
def loading_report(
    result: EFAResult,
    *,
    cutoff: float = 0.3,
    intended: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Which factor each item loads on, and whether that is where it belongs.

    Parameters
    ----------
    result : EFAResult
    cutoff : float
        A loading of at least this size (absolute) is salient.
    intended : dict item -> scale, optional
        The scale each item is meant to measure (e.g. from an instrument). Each factor is then
        matched to the scale most of whose items have their largest loading on it, and every
        item is checked against its scale's factor.

    Returns
    -------
    pd.DataFrame
        One row per item: ``item``, ``factor`` (its largest absolute loading), ``loading``,
        ``cross_loadings`` (other salient loadings, "MR2 0.34; ..."), ``communality``,
        ``complexity``, and with ``intended``: ``scale``, ``scale_factor``, ``verdict`` --
        "as intended", "cross-loads" (salient elsewhere too), "loads elsewhere" (its largest
        loading is on another scale's factor) or "no salient loading".
    """
    load = result.loadings
    rows = []
    for item, values in load.iterrows():
        absolute = values.abs()
        primary = absolute.idxmax()
        cross = [f"{f} {values[f]:.2f}" for f in load.columns if f != primary
                 and absolute[f] >= cutoff]  # fmt: skip
        rows.append({
            "item": item, "factor": primary, "loading": float(values[primary]),
            "cross_loadings": "; ".join(cross), "salient": bool(absolute[primary] >= cutoff),
            "communality": float(result.communality[item]),
            "complexity": float(result.complexity[item]),
        })  # fmt: skip
    table = pd.DataFrame(rows)
    if intended:
        table["scale"] = table["item"].map(intended)
        home = table.groupby("scale")["factor"].agg(lambda f: f.value_counts().index[0])
        table["scale_factor"] = table["scale"].map(home)
        table["verdict"] = [_verdict(row) for row in table.itertuples(index=False)]
    return table.drop(columns="salient")


def _verdict(row) -> str:
    if not row.salient:
        return "no salient loading"
    if row.factor != row.scale_factor:
        return "loads elsewhere"
    if row.cross_loadings:
        return "cross-loads"
    return "as intended"


# -- parallel analysis -------------------------------------------------------------------------------
@dataclass
class ParallelAnalysis:
    """``psych::fa.parallel``: observed and simulated eigenvalues and the numbers suggested."""

    fa_values: pd.Series
    pc_values: pd.Series
    fa_simulated: pd.Series
    pc_simulated: pd.Series
    fa_threshold: pd.Series
    pc_threshold: pd.Series
    n_factors: int
    n_components: int
    n_iter: int


def parallel_analysis(
    data: pd.DataFrame, *, n_iter: int = 20, quantile: float = 0.95, seed: int | None = 0
) -> ParallelAnalysis:
    """Horn's parallel analysis as ``psych::fa.parallel(x)`` (``fa = "both"``, minres).

    The observed eigenvalues of the pairwise correlation matrix (components) and of its reduced
    matrix with the communalities of a one-factor minres solution on the diagonal (factors)
    are compared with the ``quantile`` of the same eigenvalues of ``n_iter`` correlation
    matrices of independent normal data with as many rows and columns. The number suggested
    is how many leading observed eigenvalues exceed it (psych: the position of the first that
    does not, minus one). Simulated eigenvalues come from a seeded generator (psych's are
    unseeded), so they agree with psych's up to simulation error.

    Examples
    --------
    >>> pa = parallel_analysis(answers)  # doctest: +SKIP
    >>> pa.n_factors, pa.n_components  # doctest: +SKIP
    (6, 6)
    """
    corr, n_obs = _correlation(data)
    if n_obs is None:
        raise ValueError("parallel analysis needs the responses, not a correlation matrix")
    r = corr.to_numpy()
    pc_values = np.sort(np.linalg.eigvalsh(r))[::-1]
    fa_values = _reduced_eigenvalues(r)
    rng = np.random.default_rng(seed)
    p = r.shape[0]
    sim_pc = np.empty((n_iter, p))
    sim_fa = np.empty((n_iter, p))
    for i in range(n_iter):
        sim = np.corrcoef(rng.standard_normal((n_obs, p)), rowvar=False)
        sim_pc[i] = np.sort(np.linalg.eigvalsh(sim))[::-1]
        # noise has a flat criterion: psych's optim stops at its default 100 iterations, so do we
        sim_fa[i] = _reduced_eigenvalues(sim, ftol=1e-10, max_iter=100)
    pc_cut = np.quantile(sim_pc, quantile, axis=0)
    fa_cut = np.quantile(sim_fa, quantile, axis=0)
    index = [f"{k + 1}" for k in range(p)]
    return ParallelAnalysis(
        fa_values=pd.Series(fa_values, index=index),
        pc_values=pd.Series(pc_values, index=index),
        fa_simulated=pd.Series(sim_fa.mean(axis=0), index=index),
        pc_simulated=pd.Series(sim_pc.mean(axis=0), index=index),
        fa_threshold=pd.Series(fa_cut, index=index),
        pc_threshold=pd.Series(pc_cut, index=index),
        n_factors=_leading(fa_values, fa_cut),
        n_components=_leading(pc_values, pc_cut),
        n_iter=n_iter,
    )


def _reduced_eigenvalues(r: np.ndarray, ftol: float = 1e-15, max_iter: int = 10_000) -> np.ndarray:
    """Eigenvalues of R with the communalities of a one-factor minres solution on the diagonal
    (psych's ``fa(r, 1, rotate = "none")$values``)."""
    load = _extract(r, 1, "minres", ftol=ftol, max_iter=max_iter)
    reduced = r.copy()
    np.fill_diagonal(reduced, (load**2).ravel())
    return np.sort(np.linalg.eigvalsh(reduced))[::-1]


def _leading(values: np.ndarray, cut: np.ndarray) -> int:
    below = np.flatnonzero(~(values > cut))
    return int(below[0]) if below.size else int(values.size)


def scale_membership(instrument: Instrument, scales: Sequence[str] | None = None) -> dict[str, str]:
    """Item -> scale of an instrument's (chosen) scales, for :func:`loading_report`."""
    chosen = [instrument.scale(s) for s in scales] if scales else list(instrument.scales)
    return {item: sc.id for sc in chosen for item in sc.items}


@dataclass
class ItemBankValidation:
    """:func:`validate_item_bank`'s findings: parallel analysis, the EFA and the item report."""

    parallel: ParallelAnalysis
    efa: EFAResult
    report: pd.DataFrame
    n_scales: int
    notes: list[str]


def validate_item_bank(
    data: pd.DataFrame,
    instrument: Instrument,
    *,
    scales: Sequence[str] | None = None,
    n_factors: int | None = None,
    fm: Literal["minres", "ml"] = "minres",
    rotate: Literal["oblimin", "varimax", "none"] = "oblimin",
    cutoff: float = 0.3,
    seed: int | None = 0,
) -> ItemBankValidation:
    """Does an instrument's item bank have the structure its scales claim, in these data?

    The items (reverse-keyed ones reversed with the declared bounds, declared missing codes
    blanked) are factor analysed: parallel analysis (:func:`parallel_analysis`) says how many
    factors the data support; the EFA extracts as many factors as there are scales (or
    ``n_factors``) and :func:`loading_report` checks each item against its scale. Items of
    scales that overlap are analysed once.

    Returns
    -------
    ItemBankValidation
    """

    membership = scale_membership(instrument, scales)
    missing = [item for item in membership if item not in data.columns]
    if missing:
        raise ValueError(f"data has no column for item(s) {', '.join(missing)}")
    keyed, _ = reverse_keyed(data[list(membership)], instrument)
    n_scales = len(set(membership.values()))
    parallel = parallel_analysis(keyed, seed=seed)
    solution = efa(keyed, n_factors or n_scales, fm=fm, rotate=rotate)
    report = loading_report(solution, cutoff=cutoff, intended=membership)
    notes = [
        f"parallel analysis suggests {parallel.n_factors} factor(s) for {n_scales} scale(s)",
        f"{int((report['verdict'] == 'as intended').sum())} of {len(report)} item(s) load as "
        f"intended (largest loading on their scale's factor, no other loading >= {cutoff})",
    ]
    return ItemBankValidation(parallel, solution, report, n_scales, notes)
