"""Confirmatory factor analysis by maximum likelihood, matching R lavaan's ``cfa()`` defaults.

One function, :func:`fit_cfa`, fits a model given either as lavaan syntax or as an
:class:`~fieldsurvey.instrument.Instrument` (each scale a factor, its items the indicators) and
returns a :class:`CFAResult` with fit measures, loadings and the full parameter table.

lavaan conventions followed: marker-variable identification (first loading fixed to 1), free
factor covariances, normal-theory ML with the sample covariance divided by N, chi-square
``= N F_ML``, standard errors from the expected information, ``std.all`` standardisation, and
(with ``group=``) a mean structure with free intercepts. Incomplete rows are deleted listwise
(lavaan's default ``missing = "listwise"``); full-information ML is not implemented.

Deliberate differences from lavaan: standard errors of fixed parameters are NaN (lavaan shows
0), and groups smaller than ``min_group_size`` are refused (a disclosure threshold for staff
surveys, not a statistical rule).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.stats

from fieldsurvey.errors import FieldsurveyError
from fieldsurvey.instrument.model import Instrument
from fieldsurvey.psychometrics._blas import single_threaded_blas
from fieldsurvey.psychometrics.cfa_fiml import FIMLProblem, em_saturated, group_data
from fieldsurvey.psychometrics.cfa_ml import GroupMoments, MLProblem
from fieldsurvey.psychometrics.cfa_partable import ParTable, build_partable
from fieldsurvey.psychometrics.cfa_robust import robust_fit
from fieldsurvey.psychometrics.lavaan_syntax import ModelTerm, parse_model
from fieldsurvey.psychometrics.sem_fit import fit_measures

#: Smallest group fitted in a multi-group model (disclosure threshold; a parameter everywhere).
DEFAULT_MIN_GROUP_SIZE = 10
#: How incomplete rows are handled: deleted (lavaan's default) or full-information ML.
MISSING: tuple[str, ...] = ("listwise", "fiml")
#: Estimators: normal-theory ML, or ML with robust standard errors and scaled tests.
ESTIMATORS: tuple[str, ...] = ("ML", "MLR")


class CFAError(FieldsurveyError, ValueError):
    """The data or model cannot be fitted; the message says what to change."""


class CFAConvergenceError(CFAError):
    """A model did not converge, so it has no result to report.

    ``step`` names the invariance step (None for a single fit) and ``result`` holds the
    non-converged fit for diagnosis (its fit measures and standard errors are NaN).
    """

    def __init__(self, message: str, *, step: str | None = None, result: CFAResult | None = None):
        super().__init__(message)
        self.step = step
        self.result = result


@dataclass(frozen=True)
class ModelState:
    """The estimation problem of a fit and its solution (``problem.pt`` is the parameter
    table; ``x`` the free-parameter estimates)."""

    problem: object
    x: np.ndarray


class CFAWarning(UserWarning):
    """A fitted model has a problem: no convergence, Heywood case, not identified."""


@dataclass
class CFAResult:
    """A fitted CFA.

    Attributes
    ----------
    fit : pd.Series
        Fit measures: n, n_groups, npar, chisq, df, pvalue, baseline_chisq, baseline_df, cfi,
        tli, rmsea, rmsea_ci_lower, rmsea_ci_upper, srmr, srmr_nomean, logl,
        unrestricted_logl, aic, bic (lavaan's names with ``_`` for ``.``). With FIML also
        cfi_robust, tli_robust, rmsea_robust, rmsea_ci_lower_robust, rmsea_ci_upper_robust;
        with MLR also chisq_scaled, pvalue_scaled, chisq_scaling_factor,
        baseline_chisq_scaled, baseline_chisq_scaling_factor, cfi_scaled, tli_scaled,
        rmsea_scaled, rmsea_ci_lower_scaled, rmsea_ci_upper_scaled and the robust ones.
    loadings : pd.DataFrame
        One row per loading: [group,] factor, item, est, se, std (std = lavaan's std.all).
    parameters : pd.DataFrame
        Every parameter: group, lhs, op, rhs, label, free, est, se, z, pvalue, std_all.
    converged : bool
        The optimiser reached a point with a vanishing gradient.
    heywood : bool
        Any negative variance, non-positive-definite factor covariance matrix or
        |standardised loading| > 1; the cases are listed in ``heywood_cases``.
    warnings : list of str
        Every problem found (also issued as :class:`CFAWarning`).
    notes : list of str
        What was done to the data (listwise deletion, reversed items, dropped rows).
    """

    fit: pd.Series
    loadings: pd.DataFrame
    parameters: pd.DataFrame
    converged: bool
    heywood: bool
    heywood_cases: pd.DataFrame
    warnings: list[str]
    notes: list[str]
    n: int
    n_listwise_deleted: int
    group: str | None
    group_levels: list[str]
    group_sizes: dict[str, int]
    model_syntax: str
    iterations: int
    identified: bool = True
    group_equal: tuple[str, ...] = ()
    group_partial: tuple[str, ...] = ()
    latent_means: pd.DataFrame = field(default_factory=pd.DataFrame)
    missing: str = "listwise"
    estimator: str = "ML"
    #: The fitted problem and estimates, for tests that need the model itself (scaled
    #: differences, score tests); not part of the reported result.
    model_state: ModelState | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        f = self.fit
        return (
            f"CFAResult(n={self.n}, chisq={f['chisq']:.3f}, df={int(f['df'])}, "
            f"cfi={f['cfi']:.3f}, tli={f['tli']:.3f}, rmsea={f['rmsea']:.3f}, "
            f"srmr={f['srmr']:.3f}, converged={self.converged}, heywood={self.heywood})"
        )


def fit_cfa(
    data: pd.DataFrame,
    model: str | Instrument,
    *,
    group: str | None = None,
    group_equal: Sequence[str] = (),
    group_partial: Sequence[str] = (),
    scales: Sequence[str] | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    meanstructure: bool | None = None,
    max_iter: int = 500,
    start: CFAResult | None = None,
    group_order: Sequence[object] | None = None,
    reference_group: object | None = None,
    missing: str = "listwise",
    estimator: str = "ML",
    ordered: bool = False,
    collapse_empty: bool = False,
) -> CFAResult:
    """Fit a confirmatory factor analysis by maximum likelihood, as lavaan's ``cfa()``.

    Parameters
    ----------
    data : pd.DataFrame
        One row per respondent; columns named as the model's observed variables.
    model : str or Instrument
        lavaan syntax (``"visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6"``) or an instrument:
        each scale becomes a factor measured by its items, reverse-keyed items reversed with the
        declared bounds (min + max - x) and declared missing codes set missing first.
    group : str, optional
        Column defining groups: a multi-group model with a mean structure (lavaan ``group=``).
        Groups are ordered as lavaan orders them, by first appearance in the whole data
        (including rows later dropped for missing answers); the first is the reference group.
    group_equal : sequence of str
        lavaan ``group.equal`` keywords: "loadings", "intercepts", "means", "residuals",
        "residual.covariances", "lv.variances", "lv.covariances".
    group_partial : sequence of str
        Parameters exempt from ``group_equal`` (lavaan ``group.partial``): "visual=~x2", "x3~1".
    scales : sequence of str, optional
        With an instrument: the scales to model (default all; their items must not overlap).
    min_group_size : int
        Groups with fewer complete rows are refused (disclosure threshold).
    meanstructure : bool, optional
        Model intercepts in a single group too (default: only with ``group`` or ``~ 1`` terms).
    max_iter : int
        Iteration limit of the optimiser; reaching it is reported as non-convergence.
    group_order : sequence, optional
        The groups in the order to use (lavaan ``group.label``); groups not listed are left out.
    reference_group : optional
        The group to put first (the reference group of latent means); the others keep
        lavaan's order. Give this or ``group_order``, not both.
    start : CFAResult, optional
        Start from the estimates of another fit (lavaan ``start = fit``): parameters are
        matched by group, lhs, op and rhs; the others start at lavaan's defaults.
    missing : {"listwise", "fiml"}
        ``"listwise"`` (lavaan's default): incomplete rows are deleted. ``"fiml"`` (lavaan
        ``missing = "ml"``): full-information ML on every answer given, with a mean structure
        and the saturated model by EM; only rows without any answer are left out. Standard
        errors then come from the observed information, as lavaan.
    estimator : {"ML", "MLR", "WLSMV"}
        ``"MLR"``: robust (Huber-White) standard errors, the Yuan-Bentler scaled chi-square
        (Mplus variant) and the scaled and robust CFI/TLI/RMSEA, as lavaan's
        ``estimator = "MLR"`` (see :mod:`fieldsurvey.psychometrics.cfa_robust`). With
        ``ordered`` the estimator is ``"WLSMV"`` (the default then).
    ordered : bool
        Treat every indicator as ordinal (lavaan ``ordered = TRUE``): polychoric correlations
        and thresholds, DWLS with robust standard errors and the mean- and variance-adjusted
        test (see :mod:`fieldsurvey.psychometrics.cfa_ordinal`). ``missing`` is then
        ``"listwise"`` or ``"pairwise"``; with ``group``, ``group_equal`` takes the threshold
        invariance steps of Wu & Estabrook (2016): "thresholds", "loadings", "intercepts"
        (see :func:`~fieldsurvey.psychometrics.ordinal_fit.wu_estabrook_spec`).
    collapse_empty : bool
        With ``ordered`` and groups: merge an answer category that some group never used
        with its neighbour (in every group) instead of refusing the data as lavaan does;
        every merge is listed in ``notes``. Small groups of staff often leave an extreme
        answer unused.

    Returns
    -------
    CFAResult
        When the optimiser does not converge, ``converged`` is False and the fit measures,
        standard errors and test statistics are NaN (lavaan: "fit measures not available if
        model did not converge"); the estimates are kept only for diagnosis.

    Raises
    ------
    CFAError
        Missing or non-numeric columns, values outside an instrument's bounds, groups below
        ``min_group_size``, a singular covariance matrix, more parameters than moments.
    LavaanSyntaxError
        The model text cannot be read.

    Examples
    --------
    >>> import pandas as pd
    >>> from fieldsurvey.psychometrics.cfa import fit_cfa
    >>> hs = pd.read_csv("tests/data/HolzingerSwineford1939.csv")  # doctest: +SKIP
    >>> res = fit_cfa(hs, "visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; "
    ...                   "speed =~ x7 + x8 + x9")  # doctest: +SKIP
    >>> round(res.fit["chisq"], 3), round(res.fit["cfi"], 3)  # doctest: +SKIP
    (85.306, 0.931)
    """
    notes: list[str] = []
    if isinstance(model, Instrument):
        terms, syntax, data = _instrument_model(model, data, scales, notes)
    elif isinstance(model, str):
        syntax = model
        terms = parse_model(syntax)
    else:
        raise CFAError("model must be lavaan syntax (str) or an Instrument")
    multigroup = group is not None
    if not multigroup and (group_equal or group_partial):
        raise CFAError("group_equal / group_partial need a group column (group=...)")
    if ordered:
        if estimator not in ("ML", "WLSMV"):
            raise CFAError(f"with ordered items the estimator is WLSMV (got {estimator!r})")
        from fieldsurvey.psychometrics.ordinal_fit import fit_ordinal_cfa

        frame = _numeric_columns(data, build_partable(terms).observed)
        return fit_ordinal_cfa(
            data, frame, terms, syntax, notes, group=group, group_equal=group_equal,
            group_partial=group_partial, min_group_size=min_group_size, missing=missing,
            max_iter=max_iter, start=start,
            group_order=_resolve_order(data, group, group_order, reference_group),
            collapse_empty=collapse_empty,
        )  # fmt: skip
    if missing not in MISSING:
        raise CFAError(f"missing must be one of {MISSING} (got {missing!r})")
    if estimator not in ESTIMATORS:
        raise CFAError(f"estimator must be one of {ESTIMATORS} (got {estimator!r})")
    fiml = missing == "fiml"
    observed = build_partable(terms).observed  # observed-variable order only
    frame = _numeric_columns(data, observed)
    group_order = _resolve_order(data, group, group_order, reference_group)
    if fiml:
        levels, index, n_deleted = _answered_rows(data, frame, group, notes, group_order)
    else:
        levels, index, n_deleted = _complete_rows(data, frame, group, notes, group_order)
    pt = build_partable(
        terms,
        n_groups=len(levels),
        meanstructure=bool(meanstructure) or multigroup or fiml,
        group_equal=tuple(group_equal),
        group_partial=tuple(group_partial),
    )
    _check_identified(pt, len(levels), len(observed))
    problems: list[str] = []
    if fiml or estimator == "MLR":
        problem = _incomplete_problem(
            pt, frame, index, levels, group, min_group_size, problems
        )  # fmt: skip
        moments = problem.moments
    else:
        moments = _moments(frame, index, levels, group, observed, min_group_size)
        problem = MLProblem(pt, moments)
    x0 = _start_from(start, pt, problem, levels) if start is not None else None
    solution = problem.solve(x0, max_iter=max_iter)
    if not solution.converged:
        problems.append(
            f"the optimiser did not converge after {solution.iterations} iterations "
            f"(largest gradient {solution.max_abs_gradient:.2e}; {solution.message}); "
            "no fit measures or standard errors are reported"
        )
    with single_threaded_blas():
        if isinstance(problem, FIMLProblem):
            vcov, identified, fit = _robust_inference(
                problem, solution.x, estimator, fiml, problems
            )
        else:
            vcov, identified = _vcov(problem, solution.x, problems)
            fit = _standard_fit(problem, solution.x)
    if not solution.converged:
        vcov = np.full_like(vcov, np.nan)
        fit = _withhold_fit(fit)
    params = _parameter_table(pt, problem, solution.x, vcov, levels)
    heywood_cases = _heywood_cases(pt, problem, solution.x, params, levels)
    for case in heywood_cases.itertuples(index=False):
        problems.append(f"Heywood case ({case.kind}): {case.problem}")
    for message in problems:
        warnings.warn(message, CFAWarning, stacklevel=2)

    loadings = params[params["op"] == "=~"].rename(
        columns={"lhs": "factor", "rhs": "item", "std_all": "std"}
    )
    load_cols = ["factor", "item", "est", "se", "std"]
    if multigroup:
        load_cols = ["group", *load_cols]
    latent = params[(params["op"] == "~1") & params["lhs"].isin(pt.factors) & params["free"]]
    return CFAResult(
        fit=pd.Series(fit, name="fit"),
        loadings=loadings[load_cols].reset_index(drop=True),
        parameters=params,
        converged=solution.converged,
        heywood=not heywood_cases.empty,
        heywood_cases=heywood_cases,
        warnings=problems,
        notes=notes,
        n=int(fit["n"]),
        n_listwise_deleted=n_deleted,
        missing=missing,
        estimator=estimator,
        group=group,
        group_levels=[_label(level) for level in levels],
        group_sizes={_label(level): mo.n for level, mo in zip(levels, moments, strict=True)},
        model_syntax=syntax,
        iterations=solution.iterations,
        identified=identified,
        group_equal=tuple(group_equal),
        group_partial=tuple(group_partial),
        latent_means=_latent_means(latent),
        model_state=ModelState(problem, solution.x),
    )


def _resolve_order(
    data: pd.DataFrame,
    group: str | None,
    group_order: Sequence[object] | None,
    reference_group: object | None,
) -> Sequence[object] | None:
    if reference_group is None:
        return group_order
    if group_order is not None:
        raise CFAError("give group_order or reference_group, not both")
    if group is None:
        raise CFAError("reference_group needs a group column (group=...)")
    if group not in data.columns:
        raise CFAError(f"data has no group column {group!r}")
    return order_with_reference(data[group], reference_group)


def _check_identified(pt: ParTable, n_groups: int, p: int) -> None:
    n_moments = n_groups * (p * (p + 1) // 2 + (p if pt.meanstructure else 0))
    if pt.n_free > n_moments:
        raise CFAError(
            f"the model has {pt.n_free} free parameters but the data only {n_moments} sample "
            "moments (negative degrees of freedom): the model is not identified"
        )


def _standard_fit(problem: MLProblem, x: np.ndarray) -> dict[str, float]:
    n_groups = len(problem.moments)
    sigmas, mus = zip(*(problem.implied(x, g) for g in range(n_groups)), strict=True)
    return fit_measures(
        fmin_groups=problem.group_discrepancies(x),
        covs=[mo.cov for mo in problem.moments],
        means=[mo.mean for mo in problem.moments],
        sigmas=list(sigmas),
        mus=list(mus),
        ns=[mo.n for mo in problem.moments],
        npar=problem.pt.n_free,
        meanstructure=problem.pt.meanstructure,
    )


def _incomplete_problem(
    pt: ParTable,
    frame: pd.DataFrame,
    index: np.ndarray,
    levels: list,
    group: str | None,
    min_group_size: int,
    problems: list[str],
) -> FIMLProblem:
    """The FIML problem (also used for MLR on complete rows): patterns and EM per group."""
    values = frame.to_numpy(dtype=float)
    _refuse_small_groups(index, levels, group, min_group_size)
    data, h1 = [], []
    for g, level in enumerate(levels):
        label = "" if group is None else f"group {_label(level)!r}: "
        gd = group_data(values[index == g])
        observed = ~np.isnan(gd.y)
        lonely = [frame.columns[j] for j in range(values.shape[1]) if observed[:, j].sum() < 2]
        if lonely:
            raise CFAError(f"{label}column(s) {', '.join(lonely)} have fewer than 2 answers")
        sat = em_saturated(gd)
        if not sat.converged:
            problems.append(
                f"{label}the EM estimates of the saturated model did not converge in "
                f"{sat.iterations} iterations; the chi-square is approximate"
            )
        _check_covariance(sat.cov, list(frame.columns), label)
        data.append(gd)
        h1.append(sat)
    return FIMLProblem(pt, data, h1)


def _robust_inference(
    problem: FIMLProblem, x: np.ndarray, estimator: str, fiml: bool, problems: list[str]
) -> tuple[np.ndarray, bool, dict[str, float]]:
    """Standard errors from the observed information (MLR: sandwich) and all fit measures."""
    vcov, fit = robust_fit(problem, x, robust=estimator == "MLR", fiml=fiml)
    identified = bool(np.isfinite(vcov).all())
    if not identified:
        problems.append(
            "the information matrix is singular: the model is not identified; standard "
            "errors are not available"
        )
    return vcov, identified, fit


def _withhold_fit(fit: dict[str, float]) -> dict[str, float]:
    """A non-converged model keeps only its counts: no statistic describes a non-solution."""
    kept = ("n", "n_groups", "npar", "df", "baseline_chisq", "baseline_df", "unrestricted_logl")
    return {k: (v if k in kept else float("nan")) for k, v in fit.items()}


def _start_from(previous: CFAResult, pt: ParTable, problem: MLProblem, levels: list) -> np.ndarray:
    """Start values taken from another fit's estimates where the parameters match."""
    x0 = problem.start_values()
    table = previous.parameters
    key_cols = ["group", "lhs", "op", "rhs"] if "group" in table else ["lhs", "op", "rhs"]
    estimates = {
        tuple(row[:-1]): row[-1] for row in table[[*key_cols, "est"]].itertuples(index=False)
    }
    sums = np.zeros(pt.n_free)
    counts = np.zeros(pt.n_free)
    for par in pt.params:
        if not par.free:
            continue
        level = levels[par.group]
        key = (par.lhs, par.op, par.rhs)
        if "group" in table:
            key = (None if level is None else _label(level), *key)
        if key in estimates and np.isfinite(estimates[key]):
            sums[par.index] += estimates[key]
            counts[par.index] += 1
    return np.where(counts > 0, sums / np.maximum(counts, 1), x0)


def _latent_means(free_means: pd.DataFrame) -> pd.DataFrame:
    """Free latent means (multi-group models with equal intercepts), one row per group/factor."""
    table = free_means.rename(columns={"lhs": "factor"})
    columns = ["group", "factor", "est", "se", "z", "pvalue", "std_all"]
    return table[[c for c in columns if c in table.columns]].reset_index(drop=True)


# -- data preparation ---------------------------------------------------------------------
def _instrument_model(
    instrument: Instrument, data: pd.DataFrame, scales: Sequence[str] | None, notes: list[str]
) -> tuple[list[ModelTerm], str, pd.DataFrame]:
    """Terms (built directly, so any scale or item id works), their syntax, prepared data."""
    known = [sc.id for sc in instrument.scales]
    unknown = [s for s in scales or () if s not in known]
    if unknown:
        raise CFAError(f"{instrument.id!r} has no scale(s) {unknown}; its scales: {known}")
    chosen = [instrument.scale(s) for s in scales] if scales else list(instrument.scales)
    if not chosen:
        raise CFAError(f"instrument {instrument.id!r} has no scales to model")
    owner: dict[str, str] = {}
    for sc in chosen:
        for item in sc.items:
            if item in owner:
                raise CFAError(
                    f"item {item!r} belongs to scales {owner[item]!r} and {sc.id!r}; pick "
                    f"non-overlapping scales with scales=[...] (e.g. the subscales of "
                    f"{instrument.id!r})"
                )
            owner[item] = sc.id
    missing = [item for item in owner if item not in data.columns]
    if missing:
        raise CFAError(f"data has no column for item(s) {', '.join(missing)}")
    data = data.copy()
    reversed_items = []
    for item_id in owner:
        rs = instrument.response_scale_of(item_id)
        if rs.type not in ("likert", "numeric", "yesno"):
            raise CFAError(f"item {item_id!r} is {rs.type}; CFA needs numeric answers")
        column = _to_numeric(data[item_id], item_id)
        if rs.missing_codes:
            column = column.mask(column.isin(rs.missing_codes))
        outside = column.notna() & (
            ((column < rs.min) if rs.min is not None else False)
            | ((column > rs.max) if rs.max is not None else False)
        )
        if outside.any():
            pos = int(np.flatnonzero(outside.to_numpy())[0])
            raise CFAError(
                f"column {item_id!r}, row {pos + 1}: value {column.iloc[pos]:g} is outside the "
                f"declared range {rs.min:g}..{rs.max:g} of {instrument.id!r}"
            )
        if instrument.item(item_id).reverse:
            if rs.min is None or rs.max is None:
                raise CFAError(f"item {item_id!r} is reverse-keyed but its scale has no bounds")
            column = rs.min + rs.max - column
            reversed_items.append(item_id)
        data[item_id] = column
    if reversed_items:
        notes.append(f"reverse-keyed items reversed as min + max - x: {', '.join(reversed_items)}")
    terms = [ModelTerm(sc.id, "=~", item) for sc in chosen for item in sc.items]
    syntax = "\n".join(f"{sc.id} =~ {' + '.join(sc.items)}" for sc in chosen)
    return terms, syntax, data


def _to_numeric(column: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(column):
        return column.astype(float)
    if pd.api.types.is_numeric_dtype(column):
        return column.astype(float)
    text = column.astype("string").str.strip()
    text = text.mask(text == "")
    converted = pd.to_numeric(text, errors="coerce")
    bad = text.notna() & converted.isna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise CFAError(f"column {name!r}, row {pos + 1}: value {text.iloc[pos]!r} is not a number")
    return converted.astype(float)


def _numeric_columns(data: pd.DataFrame, observed: list[str]) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise CFAError("data must be a pandas DataFrame")
    missing = [name for name in observed if name not in data.columns]
    if missing:
        raise CFAError(f"data has no column(s) {', '.join(missing)} named in the model")
    return pd.DataFrame({name: _to_numeric(data[name], name) for name in observed})


def _complete_rows(
    data: pd.DataFrame,
    frame: pd.DataFrame,
    group: str | None,
    notes: list[str],
    group_order: Sequence[object] | None = None,
) -> tuple[list, np.ndarray, int]:
    """Groups and the rows kept for listwise deletion: complete rows with a group."""
    levels, index, keep = _group_rows(data, frame, group, notes, group_order)
    incomplete = frame.isna().any(axis=1).to_numpy() & keep
    n_deleted = int(incomplete.sum())
    if n_deleted:
        notes.append(
            f"listwise deletion: {n_deleted} of {int(keep.sum())} row(s) dropped for missing "
            "values (lavaan's default; missing='fiml' uses them)"
        )
    index[incomplete] = -1
    return levels, index, n_deleted


def _answered_rows(
    data: pd.DataFrame,
    frame: pd.DataFrame,
    group: str | None,
    notes: list[str],
    group_order: Sequence[object] | None = None,
    *,
    pairwise: bool = False,
) -> tuple[list, np.ndarray, int]:
    """Groups and the rows kept for FIML (or pairwise deletion): every row with a group and at
    least one answer."""
    levels, index, keep = _group_rows(data, frame, group, notes, group_order)
    empty = frame.isna().all(axis=1).to_numpy() & keep
    n_empty = int(empty.sum())
    if n_empty:
        notes.append(
            f"{n_empty} row(s) without any answer to the model's items left out (as lavaan)"
        )
    index[empty] = -1
    used = index >= 0
    n_missing = int(frame.isna().to_numpy()[used].sum())
    if pairwise:
        notes.append(
            f"pairwise deletion (lavaan missing = 'pairwise'): {int(used.sum())} "
            f"respondent(s); each threshold and polychoric correlation uses those who answered "
            f"its items ({n_missing} missing answer(s))"
        )
    else:
        notes.append(
            f"full-information ML (lavaan missing = 'ml'): {int(used.sum())} respondent(s); "
            f"{n_missing} missing answer(s) handled through the likelihood of the answers given"
        )
    return levels, index, n_empty


def _group_rows(
    data: pd.DataFrame,
    frame: pd.DataFrame,
    group: str | None,
    notes: list[str],
    group_order: Sequence[object] | None,
) -> tuple[list, np.ndarray, np.ndarray]:
    """The groups in lavaan's order and each row's group (-1: no group), and the rows kept."""
    keep = np.ones(len(frame), dtype=bool)
    if group is None:
        return [None], np.zeros(len(frame), dtype=int), keep
    if group not in data.columns:
        raise CFAError(f"data has no group column {group!r}")
    values = data[group].to_numpy()
    no_group = data[group].isna().to_numpy()
    if no_group.any():
        notes.append(f"{int(no_group.sum())} row(s) without a value of {group!r} dropped")
    keep &= ~no_group
    levels = group_levels(data[group], group_order)
    listed = np.isin(values, levels) if len(levels) else keep
    unlisted = keep & ~listed
    if unlisted.any():
        notes.append(f"{int(unlisted.sum())} row(s) of groups not in group_order dropped")
    keep &= listed
    index = np.full(len(frame), -1)
    for g, level in enumerate(levels):
        index[keep & (values == level)] = g
    return levels, index, keep


def group_levels(column: pd.Series, group_order: Sequence[object] | None = None) -> list:
    """The groups of a multi-group model, in lavaan's order.

    lavaan orders groups by first appearance in the whole data (``unique(data[[group]])``),
    before any row is dropped for missing answers; the first group is the reference group
    (its latent means are fixed to 0). ``group_order`` (lavaan ``group.label``) sets the order
    instead: groups are matched by their text, so ``7`` and ``"7"`` are the same group, and
    groups not listed are left out.

    Examples
    --------
    >>> group_levels(pd.Series(["b", None, "a", "b"]))
    ['b', 'a']
    >>> group_levels(pd.Series(["b", "a", "c"]), ["a", "b"])
    ['a', 'b']
    """
    present = list(pd.unique(column.dropna()))
    if group_order is None:
        return present
    by_label = {_label(level): level for level in present}
    wanted = [_label(level) for level in group_order]
    unknown = [w for w in wanted if w not in by_label]
    if unknown:
        raise CFAError(
            f"group(s) {', '.join(map(repr, unknown))} of group_order are not in column "
            f"{column.name!r} (its groups: {', '.join(map(repr, by_label))})"
        )
    if len(set(wanted)) != len(wanted):
        raise CFAError("group_order names a group more than once")
    return [by_label[w] for w in wanted]


def order_with_reference(column: pd.Series, reference_group: object) -> list:
    """lavaan's group order with ``reference_group`` moved to the front."""
    present = group_levels(column)
    first = group_levels(column, [reference_group])
    return first + [level for level in present if _label(level) != _label(first[0])]


def _moments(
    frame: pd.DataFrame,
    group_index: np.ndarray,
    levels: list,
    group: str | None,
    observed: list[str],
    min_group_size: int,
) -> list[GroupMoments]:
    p = len(observed)
    _refuse_small_groups(group_index, levels, group, min_group_size)
    values = frame.to_numpy(dtype=float)
    moments = []
    for g, level in enumerate(levels):
        x = values[group_index == g]
        label = "" if group is None else f"group {_label(level)!r}: "
        if len(x) <= p:
            raise CFAError(f"{label}{len(x)} complete rows for {p} variables; need more rows")
        cov = np.cov(x, rowvar=False, bias=True)
        _check_covariance(cov, observed, label)
        moments.append(GroupMoments(len(x), cov, x.mean(axis=0)))
    return moments


def _refuse_small_groups(
    group_index: np.ndarray, levels: list, group: str | None, min_group_size: int
) -> None:
    if group is not None and len(levels) < 2:
        raise CFAError(f"group column {group!r} has {len(levels)} group(s) with data; need 2+")
    small = [
        (_label(lv), int(np.sum(group_index == g)))
        for g, lv in enumerate(levels)
        if np.sum(group_index == g) < min_group_size
    ]
    if small:
        listed = ", ".join(f"{name!r} (n={n})" for name, n in small)
        where = "the data" if group is None else f"group(s) {listed}"
        raise CFAError(
            f"{where} {'has' if group is None else 'have'} fewer than {min_group_size} "
            f"respondents with data; refusing to fit (disclosure threshold "
            f"min_group_size={min_group_size})"
        )


def _check_covariance(cov: np.ndarray, observed: list[str], label: str) -> None:
    constant = [observed[i] for i in np.flatnonzero(np.diag(cov) <= 0)]
    if constant:
        raise CFAError(f"{label}column(s) {', '.join(constant)} have no variance")
    eig = np.linalg.eigvalsh(cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov))))
    if eig[0] <= 1e-10:
        raise CFAError(
            f"{label}the sample covariance matrix is singular: some columns are linear "
            "combinations of others (duplicated or sum-score columns?)"
        )


# -- results ------------------------------------------------------------------------------
def _label(level: object) -> str:
    """A group's name as text; 7.0 (a float column with missing values) reads as 7."""
    if isinstance(level, float | np.floating) and float(level).is_integer():
        return str(int(level))
    return str(level)


def _vcov(problem: MLProblem, x: np.ndarray, problems: list[str]) -> tuple[np.ndarray, bool]:
    info = problem.information(x)
    eig = np.linalg.eigvalsh(info) if info.size else np.array([1.0])
    ratio = eig[0] / max(eig[-1], 1e-300)
    if ratio <= 1e-13:  # rank-deficient to machine precision
        problems.append(
            "the information matrix is singular: the model is not identified; standard "
            "errors are not available"
        )
        return np.full(info.shape, np.nan), False
    if ratio <= 1e-9:
        # lavaan reports standard errors here without comment; they are huge and unstable.
        problems.append(
            f"the information matrix is nearly singular (smallest/largest eigenvalue "
            f"{ratio:.1e}): the model may be empirically under-identified and some standard "
            "errors are unreliable"
        )
    return np.linalg.inv(info), True


def _parameter_table(
    pt: ParTable, problem: MLProblem, x: np.ndarray, vcov: np.ndarray, levels: list
) -> pd.DataFrame:
    se_free = np.sqrt(np.clip(np.diag(vcov), 0, None)) if vcov.size else np.array([])
    rows = []
    for g, level in enumerate(levels):
        mats = problem.matrices(x, g)
        sigma, _ = problem.implied(x, g)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd_obs = np.sqrt(np.diag(sigma))
            sd_lat = np.sqrt(np.diag(mats["psi"]))
        for par in pt.in_group(g):
            est = float(x[par.index]) if par.free else par.value
            se = float(se_free[par.index]) if par.free else float("nan")
            with np.errstate(invalid="ignore", divide="ignore"):
                if par.matrix == "lambda":
                    std = est * sd_lat[par.col] / sd_obs[par.row]
                elif par.matrix == "theta" and par.row == par.col:
                    std = est / sd_obs[par.row] ** 2
                elif par.matrix == "theta":
                    # lavaan: a residual covariance is standardised by the residual variances
                    # (a correlation of residuals), with their absolute product
                    theta = mats["theta"]
                    std = est / np.sqrt(abs(theta[par.row, par.row] * theta[par.col, par.col]))
                elif par.matrix == "psi":
                    std = est / (sd_lat[par.row] * sd_lat[par.col])
                elif par.matrix == "nu":
                    std = est / sd_obs[par.row]
                else:
                    std = est / sd_lat[par.row]
                z = est / se if par.free and se > 0 else float("nan")
            rows.append(
                {
                    "group": None if level is None else _label(level),
                    "lhs": par.lhs,
                    "op": par.op,
                    "rhs": par.rhs,
                    "label": par.label or "",
                    "free": par.free,
                    "est": est,
                    "se": se,
                    "z": z,
                    "pvalue": float(2 * scipy.stats.norm.sf(abs(z))) if np.isfinite(z) else np.nan,
                    "std_all": float(std),
                }
            )
    table = pd.DataFrame(rows)
    if levels == [None]:
        table = table.drop(columns="group")
    return table


def _heywood_cases(
    pt: ParTable, problem: MLProblem, x: np.ndarray, params: pd.DataFrame, levels: list
) -> pd.DataFrame:
    cases = []
    for g, level in enumerate(levels):
        level = None if level is None else _label(level)
        where = "" if level is None else f" in group {level!r}"
        mats = problem.matrices(x, g)
        for i, name in enumerate(pt.observed):
            if mats["theta"][i, i] < 0:
                cases.append(
                    (
                        level,
                        name,
                        "negative residual variance",
                        f"residual variance of {name} is {mats['theta'][i, i]:.4f}{where}",
                    )
                )
        for f, name in enumerate(pt.factors):
            if mats["psi"][f, f] < 0:
                cases.append(
                    (
                        level,
                        name,
                        "negative factor variance",
                        f"variance of factor {name} is {mats['psi'][f, f]:.4f}{where}",
                    )
                )
        if len(pt.factors) > 1 and np.all(np.diag(mats["psi"]) > 0):
            if np.linalg.eigvalsh(mats["psi"])[0] < 0:
                cases.append(
                    (
                        level,
                        "",
                        "factor covariance matrix not positive definite",
                        f"the factor covariance matrix is not positive definite{where} "
                        "(a factor correlation beyond +-1)",
                    )
                )
    loads = params[params["op"] == "=~"]
    for row in loads.itertuples(index=False):
        if np.isfinite(row.std_all) and abs(row.std_all) > 1:
            level = getattr(row, "group", None)
            where = "" if level is None else f" in group {level!r}"
            cases.append(
                (
                    level,
                    row.rhs,
                    "standardised loading beyond 1",
                    f"standardised loading of {row.rhs} on {row.lhs} is {row.std_all:.3f}{where}",
                )
            )
    return pd.DataFrame(cases, columns=["group", "variable", "kind", "problem"])
