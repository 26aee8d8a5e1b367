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
from fieldsurvey.psychometrics.cfa_ml import GroupMoments, MLProblem
from fieldsurvey.psychometrics.cfa_partable import ParTable, build_partable
from fieldsurvey.psychometrics.lavaan_syntax import ModelTerm, parse_model
from fieldsurvey.psychometrics.sem_fit import fit_measures

#: Smallest group fitted in a multi-group model (disclosure threshold; a parameter everywhere).
DEFAULT_MIN_GROUP_SIZE = 10


class CFAError(FieldsurveyError, ValueError):
    """The data or model cannot be fitted; the message says what to change."""


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
        unrestricted_logl, aic, bic (lavaan's names with ``_`` for ``.``).
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

    Returns
    -------
    CFAResult

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
    pt_probe = build_partable(terms)  # observed-variable order only
    observed = pt_probe.observed
    frame = _numeric_columns(data, observed)
    levels, group_index, n_deleted = _complete_rows(data, frame, group, notes)
    moments = _moments(frame, group_index, levels, group, observed, min_group_size)

    pt = build_partable(
        terms,
        n_groups=len(levels),
        meanstructure=bool(meanstructure) or multigroup,
        group_equal=tuple(group_equal),
        group_partial=tuple(group_partial),
    )
    n_moments = len(levels) * (
        len(observed) * (len(observed) + 1) // 2 + (len(observed) if pt.meanstructure else 0)
    )
    if pt.n_free > n_moments:
        raise CFAError(
            f"the model has {pt.n_free} free parameters but the data only {n_moments} sample "
            "moments (negative degrees of freedom): the model is not identified"
        )
    problem = MLProblem(pt, moments)
    solution = problem.solve(max_iter=max_iter)
    problems: list[str] = []
    if not solution.converged:
        problems.append(
            f"the optimiser did not converge after {solution.iterations} iterations "
            f"(largest gradient {solution.max_abs_gradient:.2e}; {solution.message}); "
            "estimates and fit measures are not trustworthy"
        )
    with single_threaded_blas():
        vcov, identified = _vcov(problem, solution.x, problems)
    params = _parameter_table(pt, problem, solution.x, vcov, levels)
    heywood_cases = _heywood_cases(pt, problem, solution.x, params, levels)
    for case in heywood_cases.itertuples(index=False):
        problems.append(f"Heywood case ({case.kind}): {case.problem}")

    sigmas, mus = zip(*(problem.implied(solution.x, g) for g in range(len(levels))), strict=True)
    fit = fit_measures(
        fmin_groups=problem.group_discrepancies(solution.x),
        covs=[mo.cov for mo in moments],
        means=[mo.mean for mo in moments],
        sigmas=list(sigmas),
        mus=list(mus),
        ns=[mo.n for mo in moments],
        npar=pt.n_free,
        meanstructure=pt.meanstructure,
    )
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
        group=group,
        group_levels=[_label(level) for level in levels],
        group_sizes={_label(level): mo.n for level, mo in zip(levels, moments, strict=True)},
        model_syntax=syntax,
        iterations=solution.iterations,
        identified=identified,
        group_equal=tuple(group_equal),
        group_partial=tuple(group_partial),
        latent_means=_latent_means(latent),
    )


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
    data: pd.DataFrame, frame: pd.DataFrame, group: str | None, notes: list[str]
) -> tuple[list, np.ndarray, int]:
    keep = np.ones(len(frame), dtype=bool)
    if group is not None:
        if group not in data.columns:
            raise CFAError(f"data has no group column {group!r}")
        no_group = data[group].isna().to_numpy()
        if no_group.any():
            notes.append(f"{int(no_group.sum())} row(s) without a value of {group!r} dropped")
        keep &= ~no_group
    incomplete = frame.isna().any(axis=1).to_numpy() & keep
    n_deleted = int(incomplete.sum())
    if n_deleted:
        notes.append(
            f"listwise deletion: {n_deleted} of {int(keep.sum())} row(s) dropped for missing "
            "values (lavaan's default; full-information ML is not implemented)"
        )
    keep &= ~incomplete
    if group is None:
        return [None], np.where(keep, 0, -1), n_deleted
    values = data[group].to_numpy()
    levels = list(pd.unique(values[keep]))  # lavaan: groups in order of first appearance
    index = np.full(len(frame), -1)
    for g, level in enumerate(levels):
        index[keep & (values == level)] = g
    return levels, index, n_deleted


def _moments(
    frame: pd.DataFrame,
    group_index: np.ndarray,
    levels: list,
    group: str | None,
    observed: list[str],
    min_group_size: int,
) -> list[GroupMoments]:
    p = len(observed)
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
            f"{where} {'has' if group is None else 'have'} fewer than {min_group_size} complete "
            f"respondents; refusing to fit (disclosure threshold min_group_size={min_group_size})"
        )
    values = frame.to_numpy(dtype=float)
    moments = []
    for g, level in enumerate(levels):
        x = values[group_index == g]
        label = "" if group is None else f"group {_label(level)!r}: "
        if len(x) <= p:
            raise CFAError(f"{label}{len(x)} complete rows for {p} variables; need more rows")
        cov = np.cov(x, rowvar=False, bias=True)
        constant = [observed[i] for i in np.flatnonzero(np.diag(cov) <= 0)]
        if constant:
            raise CFAError(f"{label}column(s) {', '.join(constant)} have no variance")
        eig = np.linalg.eigvalsh(cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov))))
        if eig[0] <= 1e-10:
            raise CFAError(
                f"{label}the sample covariance matrix is singular: some columns are linear "
                "combinations of others (duplicated or sum-score columns?)"
            )
        moments.append(GroupMoments(len(x), cov, x.mean(axis=0)))
    return moments


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
