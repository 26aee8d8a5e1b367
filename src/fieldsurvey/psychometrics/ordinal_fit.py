"""``fit_cfa(..., ordered=True)``: the data side and result of an ordinal CFA.

The estimator itself is in :mod:`fieldsurvey.psychometrics.cfa_ordinal` and the sample
statistics in :mod:`fieldsurvey.psychometrics.ordinal_stats`; this module prepares the answers
(ordinal codes per item, categories shared by all groups), applies lavaan's missing-data
options, builds the Wu & Estabrook (2016) identification for multi-group models and assembles a
:class:`~fieldsurvey.psychometrics.cfa.CFAResult`.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fieldsurvey.psychometrics._blas import single_threaded_blas
from fieldsurvey.psychometrics.cfa import (
    CFAError,
    CFAResult,
    CFAWarning,
    ModelState,
    _answered_rows,
    _complete_rows,
    _label,
    _latent_means,
    _refuse_small_groups,
    _start_from,
    _withhold_fit,
)
from fieldsurvey.psychometrics.cfa_ordinal import (
    OrdinalProblem,
    OrdinalSpec,
    build_ordinal_partable,
    ordinal_inference,
    ordinal_parameters,
)
from fieldsurvey.psychometrics.lavaan_syntax import ModelTerm
from fieldsurvey.psychometrics.ordinal_stats import OrdinalStatistics, ordinal_statistics

#: How incomplete rows are handled in an ordinal model (lavaan's options for WLSMV).
ORDINAL_MISSING: tuple[str, ...] = ("listwise", "pairwise")
#: ``group_equal`` keywords of an ordinal model (Wu & Estabrook 2016 steps).
ORDINAL_GROUP_EQUAL: tuple[str, ...] = ("thresholds", "loadings", "intercepts")


def wu_estabrook_spec(group_equal: Sequence[str], partial: Sequence[str] = ()) -> OrdinalSpec:
    """The identification of an invariance step per Wu & Estabrook (2016), as
    ``semTools::measEq.syntax(ID.cat = "Wu.Estabrook.2016", ID.fac = "std.lv",
    parameterization = "delta")``:

    ============================ ====================================================
    equal across groups          freed in the groups after the first
    ============================ ====================================================
    (nothing: configural)        --
    thresholds                   intercepts, scales (delta)
    thresholds, loadings         intercepts, scales, factor variances
    thresholds, loadings,        scales, factor variances, latent means
    intercepts
    ============================ ====================================================

    Factor variances are 1, latent means and intercepts 0, scales 1 wherever not freed.
    """
    unknown = [kw for kw in group_equal if kw not in ORDINAL_GROUP_EQUAL]
    if unknown:
        raise CFAError(
            f"group_equal {unknown} are not ordinal invariance steps; use "
            f"{', '.join(ORDINAL_GROUP_EQUAL)}"
        )
    equal = frozenset(group_equal)
    if equal and "thresholds" not in equal:
        raise CFAError(
            "with ordinal items the thresholds are constrained first (Wu & Estabrook 2016): "
            "group_equal must include 'thresholds'"
        )
    free: set[str] = set()
    if "thresholds" in equal:
        free |= {"delta"} | ({"intercepts"} if "intercepts" not in equal else {"means"})
    if "loadings" in equal:
        free.add("lv.variances")
    return OrdinalSpec(std_lv=True, equal=equal, free_later=frozenset(free), partial=tuple(partial))


def fit_ordinal_cfa(
    data: pd.DataFrame,
    frame: pd.DataFrame,
    terms: list[ModelTerm],
    syntax: str,
    notes: list[str],
    *,
    group: str | None,
    group_equal: Sequence[str],
    group_partial: Sequence[str],
    group_order: Sequence[object] | None,
    min_group_size: int,
    missing: str,
    max_iter: int,
    start: CFAResult | None,
    collapse_empty: bool = False,
) -> CFAResult:
    """The ordinal branch of :func:`~fieldsurvey.psychometrics.cfa.fit_cfa`."""
    if missing not in ORDINAL_MISSING:
        raise CFAError(
            f"with ordered items missing must be one of {ORDINAL_MISSING} (got {missing!r}); "
            "full-information ML is for continuous indicators"
        )
    if missing == "pairwise":
        levels, index, n_deleted = _answered_rows(
            data, frame, group, notes, group_order, pairwise=True
        )
    else:
        levels, index, n_deleted = _complete_rows(data, frame, group, notes, group_order)
    _refuse_small_groups(index, levels, group, min_group_size)
    codes, categories = _ordinal_codes(
        frame.where(pd.Series(index >= 0, index=frame.index), np.nan)
    )
    if collapse_empty and len(levels) > 1:
        codes, categories = _collapse_empty(codes, categories, index, list(frame.columns), notes)
    with single_threaded_blas():
        stats = _group_statistics(codes, categories, list(frame.columns), index, levels, group)
    spec = wu_estabrook_spec(group_equal, group_partial) if group is not None else OrdinalSpec()
    if group is not None and group_equal:
        few = [name for name, c in zip(frame.columns, categories, strict=True) if len(c) < 3]
        if few:
            raise CFAError(
                f"item(s) {', '.join(few)} have fewer than 3 answer categories; the threshold "
                "invariance steps of Wu & Estabrook (2016) need 3 or more"
            )
    pt = build_ordinal_partable(
        terms, [len(c) - 1 for c in categories], n_groups=len(levels), spec=spec
    )
    n_stats = sum(s.vector.size for s in stats)
    if pt.n_free > n_stats:
        raise CFAError(
            f"the model has {pt.n_free} free parameters but the data only {n_stats} sample "
            "statistics: the model is not identified"
        )
    problem = OrdinalProblem(pt, stats)
    with single_threaded_blas():
        x0 = _start_from(start, pt, problem, levels) if start is not None else None
        solution = problem.solve(x0, max_iter=max_iter)
        inference = ordinal_inference(problem, solution.x)
    problems: list[str] = []
    vcov, fit = inference.vcov, inference.fit
    if not solution.converged:
        problems.append(
            f"the optimiser did not converge after {solution.iterations} iterations "
            f"(largest gradient {solution.max_abs_gradient:.2e}; {solution.message}); "
            "no fit measures or standard errors are reported"
        )
        vcov = np.full_like(vcov, np.nan)
        fit = _withhold_fit(fit)
    identified = bool(np.isfinite(inference.e_inv).all())
    if not identified:
        problems.append("the information matrix is singular: the model is not identified")
    labels = [None if level is None else _label(level) for level in levels]
    params = pd.DataFrame(ordinal_parameters(problem, solution.x, vcov, labels))
    if group is None:
        params = params.drop(columns="group")
    heywood = _heywood(params)
    problems.extend(f"Heywood case: {case}" for case in heywood)
    for message in problems:
        warnings.warn(message, CFAWarning, stacklevel=3)
    if "thresholds" in group_equal:
        notes.append(
            "robust CFI/TLI/RMSEA with thresholds held equal: lavaan 0.6-14 reports NA here (its "
            "catML refit drops the thresholds but keeps their equality constraints and fails); "
            "these are computed as lavaan computes them for the configural model"
        )
    notes.append(
        "ordinal indicators: polychoric correlations and thresholds, DWLS estimation, robust "
        "standard errors and the mean- and variance-adjusted (WLSMV) test, as lavaan "
        "cfa(ordered = TRUE)"
    )
    loadings = params[params["op"] == "=~"].rename(
        columns={"lhs": "factor", "rhs": "item", "std_all": "std"}
    )
    load_cols = ["factor", "item", "est", "se", "std"]
    if group is not None:
        load_cols = ["group", *load_cols]
    latent = params[(params["op"] == "~1") & params["lhs"].isin(pt.factors) & params["free"]]
    return CFAResult(
        fit=pd.Series(fit, name="fit"),
        loadings=loadings[load_cols].reset_index(drop=True),
        parameters=params,
        converged=solution.converged,
        heywood=bool(heywood),
        heywood_cases=pd.DataFrame({"problem": heywood}),
        warnings=problems,
        notes=notes,
        n=int(fit["n"]),
        n_listwise_deleted=n_deleted,
        group=group,
        group_levels=[lab for lab in labels if lab is not None],
        group_sizes={lab or "": s.n for lab, s in zip(labels, stats, strict=True)},
        model_syntax=syntax,
        iterations=solution.iterations,
        identified=identified,
        group_equal=tuple(group_equal),
        group_partial=tuple(group_partial),
        latent_means=_latent_means(latent),
        missing=missing,
        estimator="WLSMV",
        model_state=ModelState(problem, solution.x),
    )


def _group_statistics(
    codes: np.ndarray,
    categories: list[np.ndarray],
    names: list[str],
    index: np.ndarray,
    levels: list,
    group: str | None,
) -> list[OrdinalStatistics]:
    stats = []
    for g, level in enumerate(levels):
        label = "" if group is None else f" in group {_label(level)!r}"
        x = codes[index == g]
        _check_categories(x, categories, names, label)
        stats.append(_statistics(x, [len(c) for c in categories]))
    return stats


_CACHE: dict[tuple, OrdinalStatistics] = {}
_CACHE_SIZE = 16


def _statistics(x: np.ndarray, n_categories: list[int]) -> OrdinalStatistics:
    """Sample statistics of a group, remembered for the same answers: the invariance steps and
    the partial-invariance search fit many models to the same data."""
    key = (hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest(), x.shape,
           tuple(n_categories))  # fmt: skip
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = ordinal_statistics(x, n_categories)
    return _CACHE[key]


def _ordinal_codes(frame: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
    """Answers as category numbers 1..K per item (K = the item's distinct answers)."""
    values = frame.to_numpy(dtype=float)
    codes = np.full(values.shape, np.nan)
    categories = []
    for j, name in enumerate(frame.columns):
        col = values[:, j]
        answered = ~np.isnan(col)
        bad = answered & (col != np.round(col))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise CFAError(
                f"column {name!r}, row {row + 1}: value {col[row]:g} is not an answer code; "
                "ordinal items need whole numbers"
            )
        cats = np.unique(col[answered])
        if cats.size < 2:
            raise CFAError(f"column {name!r} has {cats.size} answer category; need 2 or more")
        codes[answered, j] = np.searchsorted(cats, col[answered]) + 1
        categories.append(cats)
    return codes, categories


def _collapse_empty(
    codes: np.ndarray,
    categories: list[np.ndarray],
    index: np.ndarray,
    names: list[str],
    notes: list[str],
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Merge answer categories that some group never used with a neighbouring category, in
    every group, until every group uses every category (a deliberate difference from lavaan,
    which refuses such data; each merge is noted).

    An empty end category joins its neighbour; an empty middle category joins the neighbour
    with fewer answers overall.
    """
    codes = codes.copy()
    categories = [c.astype(object) for c in categories]
    groups = [g for g in np.unique(index) if g >= 0]
    for j, name in enumerate(names):
        while True:
            k = len(categories[j])
            freq = np.array(
                [np.bincount(codes[index == g, j][~np.isnan(codes[index == g, j])].astype(int),
                             minlength=k + 1)[1:] for g in groups]
            )  # fmt: skip
            empty = np.flatnonzero((freq == 0).any(axis=0))
            if empty.size == 0 or k <= 2:
                break
            c = int(empty[0])
            total = freq.sum(axis=0)
            if c == 0:
                partner = 1
            elif c == k - 1:
                partner = k - 2
            else:
                partner = c - 1 if total[c - 1] <= total[c + 1] else c + 1
            low, high = sorted((c, partner))
            merged = f"{_text(categories[j][low])}-{_text(categories[j][high])}"
            notes.append(
                f"item {name!r}: answers {_text(categories[j][low])} and "
                f"{_text(categories[j][high])} merged into one category, because a group "
                "used only one of them (lavaan would refuse these data)"
            )
            column = codes[:, j]
            column[column == high + 1] = low + 1
            column[column > high + 1] -= 1
            categories[j] = np.array(
                [*categories[j][:low], merged, *categories[j][high + 1 :]], dtype=object
            )
    return codes, categories


def _text(value: object) -> str:
    return f"{value:g}" if isinstance(value, float | np.floating) else str(value)


def _check_categories(
    x: np.ndarray, categories: list[np.ndarray], names: list[str], where: str
) -> None:
    for j, (name, cats) in enumerate(zip(names, categories, strict=True)):
        col = x[:, j]
        freq = np.bincount(col[~np.isnan(col)].astype(int), minlength=cats.size + 1)[1:]
        if (freq == 0).any():
            empty = ", ".join(_text(c) for c in cats[freq == 0])
            raise CFAError(
                f"item {name!r}{where}: nobody answered {empty} (frequencies "
                f"{' '.join(map(str, freq))}); every answer category must be used in every "
                "group (lavaan refuses too) -- merge rare categories first"
            )


def _heywood(params: pd.DataFrame) -> list[str]:
    cases = []
    residuals = params[(params["op"] == "~~") & (params["lhs"] == params["rhs"]) & ~params["free"]]
    for row in residuals.itertuples(index=False):
        if row.est < 0 and row.lhs in set(params.loc[params["op"] == "|", "lhs"]):
            where = f" in group {row.group!r}" if "group" in params.columns else ""
            cases.append(f"residual variance of {row.lhs} is {row.est:.4f}{where}")
    loads = params[params["op"] == "=~"]
    for row in loads.itertuples(index=False):
        if np.isfinite(row.std_all) and abs(row.std_all) > 1:
            cases.append(f"standardised loading of {row.rhs} on {row.lhs} is {row.std_all:.3f}")
    return cases
