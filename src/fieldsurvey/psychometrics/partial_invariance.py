"""Score tests of equality constraints and a search for partial invariance.

:func:`score_tests` is lavaan's ``lavTestScore()``: for a fitted multi-group model it tests, one
at a time, whether releasing each cross-group equality constraint would improve the fit (the
Lagrange multiplier or score test), and all of them together. With the gradient ``s`` of the
log-likelihood per respondent (for WLSMV: of the fit function) and the expected information
``I``, both in the *unconstrained* parameter space and at the constrained estimates, and ``R``
the constraints: ``X2 = N s' J s`` where J is the top-left block of the generalised inverse of
``[[I, R1'], [R1, 0]]``, R1 being every constraint but the one released (none, for the total
test, which has as many degrees of freedom as constraints). As lavaan, the ordinary score test is
used for robust estimators too.

:func:`partial_invariance` then frees the fewest constraints needed for a step to be supported
(see its docstring for the search).
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from fieldsurvey.instrument.model import Instrument
from fieldsurvey.psychometrics.cfa import CFAError, CFAResult, CFAWarning, fit_cfa
from fieldsurvey.psychometrics.cfa_fiml import FIMLProblem
from fieldsurvey.psychometrics.cfa_ml import MLProblem
from fieldsurvey.psychometrics.cfa_ordinal import OrdinalProblem
from fieldsurvey.psychometrics.cfa_partable import ParTable

# lavaan uses MASS::ginv with its default tolerance
_GINV_TOL = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class ScoreTests:
    """lavaan's ``lavTestScore()``: ``total`` (X2, df, p) and ``univariate`` (one row per
    constraint: the parameter it ties in the later group -- group, lhs, op, rhs --, the group it
    is tied to, its reference as ``group_partial`` takes it, X2, df, p)."""

    total: pd.Series
    univariate: pd.DataFrame


def score_tests(fit: CFAResult) -> ScoreTests:
    """Score tests of releasing each cross-group equality constraint of a fitted model.

    Examples
    --------
    >>> scalar = fit_cfa(hs, model, group="school",
    ...                  group_equal=("loadings", "intercepts"))  # doctest: +SKIP
    >>> score_tests(scalar).univariate.nlargest(2, "X2")[["ref", "X2"]]  # doctest: +SKIP
    """
    if fit.model_state is None or fit.group is None:
        raise CFAError("score tests need a fitted multi-group model")
    if not fit.converged:
        raise CFAError("score tests need a converged model")
    problem, x = fit.model_state.problem, fit.model_state.x
    released, unco_index, constraints = _unconstrained(problem.pt)
    if not constraints:
        raise CFAError("the model has no equality constraints across groups to test")
    x_unco = np.zeros(released.n_free)
    for par, k in zip(problem.pt.params, unco_index, strict=True):
        if k >= 0:
            x_unco[k] = x[par.index]
    unco = _with_partable(problem, released)
    score, info, n = _score_and_information(unco, x_unco)
    r = np.zeros((len(constraints), released.n_free))
    for row, (first, other, _) in enumerate(constraints):
        r[row, first], r[row, other] = 1.0, -1.0
    total = float(n * score @ np.linalg.pinv(info, rcond=_GINV_TOL) @ score)
    stats = [_one_released(score, info, np.delete(r, row, axis=0), n) for row in range(len(r))]
    labels = fit.group_levels
    rows = []
    for (first, _other, par), x2 in zip(constraints, stats, strict=True):
        tied = problem.pt.params[_param_position(unco_index, first)]
        rows.append({
            "group": labels[par.group], "lhs": par.lhs, "op": par.op, "rhs": par.rhs,
            "tied_to_group": labels[tied.group], "ref": _reference(par), "X2": x2, "df": 1,
            "p": float(scipy.stats.chi2.sf(x2, 1)),
        })  # fmt: skip
    df = len(constraints)
    return ScoreTests(
        total=pd.Series({"X2": total, "df": df, "p": float(scipy.stats.chi2.sf(total, df))}),
        univariate=pd.DataFrame(rows),
    )


def _reference(par) -> str:
    """The parameter as ``group_partial`` names it: 'f=~x2', 'x3~1', 'x1~~x1', 'x2|t1'."""
    if par.op == "~1":
        return f"{par.lhs}~1"
    if par.op == "|":
        return f"{par.lhs}|{par.rhs}"
    return f"{par.lhs}{par.op}{par.rhs}"


def _param_position(unco_index: list[int], k: int) -> int:
    return unco_index.index(k)


def _unconstrained(pt: ParTable) -> tuple[ParTable, list[int], list[tuple[int, int, object]]]:
    """The same parameters with every free one on its own; the constraints that tied them.

    Returns the released table, each original parameter's new index (-1 if fixed), and the
    constraints as (index of the first member, index of a later member, later parameter).
    """
    params = []
    new_index: list[int] = []
    members: dict[int, list[int]] = {}
    n_free = 0
    for par in pt.params:
        copy = dataclasses.replace(par)
        if par.free:
            copy.index = n_free
            members.setdefault(par.index, []).append(n_free)
            new_index.append(n_free)
            n_free += 1
        else:
            new_index.append(-1)
        params.append(copy)
    constraints = []
    for group_members in members.values():
        for other in group_members[1:]:
            later = params[new_index.index(other)]
            constraints.append((group_members[0], other, later))
    released = ParTable(pt.observed, pt.factors, pt.n_groups, pt.meanstructure, params, n_free)
    return released, new_index, constraints


def _with_partable(problem, pt: ParTable):
    if isinstance(problem, OrdinalProblem):
        return OrdinalProblem(pt, problem.stats)
    if isinstance(problem, FIMLProblem):
        return FIMLProblem(pt, problem.data, problem.h1)
    return MLProblem(pt, problem.moments)


def _score_and_information(problem, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-respondent score and expected information in lavaan's scaling, and N."""
    if isinstance(problem, OrdinalProblem):
        info = sum(
            f * j.T @ (s.weights[:, None] * j)
            for f, j, s in zip(
                problem.f_g, [problem.jacobian(x, g) for g in range(len(problem.stats))],
                problem.stats, strict=True,
            )
        )  # fmt: skip
        return 0.5 * problem.gradient(x), info, problem.n_total
    if isinstance(problem, FIMLProblem):
        return -0.5 * problem.gradient(x), problem.pattern_information(x), problem.n_total
    return -0.5 * problem.gradient(x), problem.information(x) / problem.n_total, problem.n_total


def _one_released(score: np.ndarray, info: np.ndarray, r1: np.ndarray, n: int) -> float:
    k = r1.shape[0]
    z = np.block([[info, r1.T], [r1, np.zeros((k, k))]])
    j = np.linalg.pinv(z, rcond=_GINV_TOL)[: info.shape[0], : info.shape[0]]
    return float(n * score @ j @ score)


# -- the search ---------------------------------------------------------------------------------
#: The parameters each step constrains, as ``group_partial`` names their kind.
_STEP_KIND = {
    "metric": "=~",
    "scalar": "~1",
    "strict": "~~",
    "thresholds": "|",
    "loadings": "=~",
    "intercepts": "~1",
}


@dataclass
class PartialInvarianceResult:
    """What :func:`partial_invariance` found.

    Attributes
    ----------
    level : str
        The step made partially invariant.
    freed : list of str
        The constraints released, as ``group_partial`` references ("x3~1"); empty when the full
        step is supported.
    supported : bool
        Whether the step is supported with ``freed`` released.
    fit : CFAResult
        The model of the step with ``freed`` released.
    comparison : dict
        The comparison with the previous step (as a row of ``InvarianceResult.comparisons``).
    candidates : pd.DataFrame
        The constraints considered, with their score statistics (``X2``, summed over groups)
        or, where the constraint is a fixed value rather than an equality, the chi-square drop
        when released alone (``drop``), ranked.
    models_tried : int
        Models fitted during the search.
    exhaustive : bool
        True when every set of fewer than ``len(freed)`` constraints (and every set of that size
        ranked before it) was tried: ``freed`` is then a smallest set. False when the budget ran
        out and the search went on greedily.
    notes : list of str
    """

    level: str
    freed: list[str]
    supported: bool
    fit: CFAResult
    comparison: dict
    candidates: pd.DataFrame
    models_tried: int
    exhaustive: bool
    notes: list[str]


def partial_invariance(
    data: pd.DataFrame,
    model: str | Instrument,
    group: str,
    *,
    level: str | None = None,
    ordered: bool = False,
    max_free: int = 4,
    max_models: int = 80,
    **options,
) -> PartialInvarianceResult:
    """Release the fewest equality constraints that make an invariance step supported.

    The search (documented in docs/cfa-invariance.md):

    1. Fit the steps up to ``level`` (default: scalar, or intercepts with ``ordered``) with
       :func:`~fieldsurvey.psychometrics.invariance.measurement_invariance`. The step before
       ``level`` must be supported; if ``level`` is supported too, nothing is released.
    2. Rank the constraints that ``level`` adds (loadings for metric, intercepts for scalar,
       residual variances for strict; thresholds, loadings or intercepts for the ordinal steps)
       by their score statistic (:func:`score_tests`, summed over groups). Ordinal intercepts
       are fixed to 0 rather than held equal, so they are ranked by the drop in chi-square
       when each is freed alone.
    3. For k = 1, 2, ... up to ``max_free``: try the sets of k constraints in order of their
       summed statistic, releasing them in every group (lavaan ``group.partial``), and stop at
       the first set whose model is supported against the previous step by the same criteria.
       The first k that works is the smallest number of parameters that can be freed; within
       it the set with the most misfit explained comes first. At most ``max_models`` models are
       fitted; if the budget runs out before a size is exhausted, the search continues
       greedily (adding the next-ranked constraint) and ``exhaustive`` is False.

    ``options`` are passed to ``measurement_invariance`` (``missing``, ``estimator``,
    ``criteria``, ``min_group_size``, ``scales``, ...).

    Returns
    -------
    PartialInvarianceResult
    """
    from fieldsurvey.psychometrics.invariance import (
        _GROUP_EQUAL,
        _ORDINAL_GROUP_EQUAL,
        ORDINAL_LEVELS,
        _compare,
        measurement_invariance,
    )

    level = level or ("intercepts" if ordered else "scalar")
    known = ORDINAL_LEVELS if ordered else ("metric", "scalar", "strict")
    if level not in known or level == "configural":
        raise CFAError(f"level must be one of {[lv for lv in known if lv != 'configural']}")
    base = measurement_invariance(
        data, model, group, ordered=ordered, strict=level == "strict",
        levels=_levels_up_to(level, ordered), **options,
    )  # fmt: skip
    steps = list(base.fits)
    previous = steps[steps.index(level) - 1]
    comparisons = base.comparisons.set_index("to")
    if previous != "configural" and not comparisons.loc[previous, "supported"]:
        raise CFAError(f"the {previous} step is not supported; make it (partially) invariant first")
    criteria = base.criteria
    if comparisons.loc[level, "supported"]:
        return PartialInvarianceResult(
            level, [], True, base.fits[level], comparisons.loc[level].to_dict(),
            pd.DataFrame(), 0, True, [f"the {level} step is supported without releasing anything"],
        )  # fmt: skip
    partial = tuple(options.pop("partial", ()))

    fit_options = {
        k: v for k, v in options.items() if k in ("scales", "min_group_size", "max_iter",
                                                   "reference_group", "group_order", "missing",
                                                   "estimator")
    }  # fmt: skip
    equal = (_ORDINAL_GROUP_EQUAL if ordered else _GROUP_EQUAL)[level]

    def fit_with(extra: tuple[str, ...]) -> CFAResult:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CFAWarning)
            return fit_cfa(
                data, model, group=group, group_equal=equal, group_partial=partial + extra,
                ordered=ordered, start=base.fits[level], **fit_options,
            )  # fmt: skip

    candidates = _rank(base.fits[level], _STEP_KIND[level], ordered, fit_with)
    refs = list(candidates["ref"])
    tried = 0
    exhaustive = True
    for k in range(1, min(max_free, len(refs)) + 1):
        for subset in _ranked_subsets(refs, candidates["score"].to_numpy(), k):
            if tried >= max_models:
                exhaustive = False
                break
            tried += 1
            fit = fit_with(subset)
            row = _compare(previous, level, base.fits[previous], fit, criteria)
            if row["supported"]:
                return _result(level, list(subset), True, fit, row, candidates, tried, True)
        if not exhaustive:
            break
    # budget spent: greedy continuation along the ranking
    chosen: list[str] = []
    for ref in refs[:max_free]:
        chosen.append(ref)
        fit = fit_with(tuple(chosen))
        tried += 1
        row = _compare(previous, level, base.fits[previous], fit, criteria)
        if row["supported"]:
            return _result(level, chosen, True, fit, row, candidates, tried, False)
    return _result(level, chosen, False, fit, row, candidates, tried, exhaustive)


def _levels_up_to(level: str, ordered: bool) -> tuple[str, ...]:
    from fieldsurvey.psychometrics.invariance import INVARIANCE_LEVELS, ORDINAL_LEVELS

    known = ORDINAL_LEVELS if ordered else INVARIANCE_LEVELS
    return tuple(known[: known.index(level) + 1])


def _rank(fit: CFAResult, op: str, ordered: bool, fit_with) -> pd.DataFrame:
    """The constraints of one kind with their statistics, most misfit first."""
    if ordered and op == "~1":
        # intercepts held at 0 in every group: rank by the chi-square drop of freeing each
        items = fit.model_state.problem.pt.observed
        rows = []
        for item in items:
            ref = f"{item}~1"
            rows.append({"ref": ref, "drop": fit.fit["chisq"] - fit_with((ref,)).fit["chisq"]})
        table = pd.DataFrame(rows)
        table["score"] = table["drop"]
    else:
        tests = score_tests(fit).univariate
        tests = (
            tests[tests["op"] == op]
            if op != "~~"
            else tests[(tests["op"] == "~~") & (tests["lhs"] == tests["rhs"])]
        )
        table = tests.groupby("ref", sort=False)["X2"].sum().reset_index()
        table["score"] = table["X2"]
    return table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def _ranked_subsets(refs: list[str], scores: np.ndarray, k: int):
    """All k-subsets of the candidates, the largest summed statistic first."""
    combos = list(itertools.combinations(range(len(refs)), k))
    combos.sort(key=lambda c: -float(sum(scores[i] for i in c)))
    for combo in combos:
        yield tuple(refs[i] for i in combo)


def _result(level, freed, supported, fit, row, candidates, tried, exhaustive):
    notes = [
        f"{level}: released {', '.join(freed) if freed else 'nothing'} "
        f"({'supported' if supported else 'still not supported'}) after {tried} model(s); "
        + ("no smaller set works" if exhaustive and supported else
           "a greedy continuation: a smaller set may exist" if supported else
           "raise max_free or max_models, or reconsider the model")
    ]  # fmt: skip
    return PartialInvarianceResult(
        level, list(freed), supported, fit, row, candidates, tried, exhaustive, notes
    )
