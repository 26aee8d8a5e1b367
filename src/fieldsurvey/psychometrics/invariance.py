"""Measurement invariance across groups: the configural -> metric -> scalar (-> strict) sequence.

Each step is a multi-group CFA (:func:`fieldsurvey.psychometrics.cfa.fit_cfa` with ``group=``)
with lavaan's ``group.equal`` settings:

========== ======================================= =============================================
step       lavaan group.equal                      meaning
========== ======================================= =============================================
configural (none)                                  same pattern of loadings in every group
metric     "loadings"                              loadings equal (weak invariance)
scalar     "loadings", "intercepts"                + intercepts equal; latent means free after
                                                   the first group (strong invariance)
strict     "loadings", "intercepts", "residuals"   + residual variances equal
========== ======================================= =============================================

With ordinal indicators (``ordered=True``) the steps are those of Wu & Estabrook (2016) as
``semTools::measEq.syntax(ID.cat = "Wu.Estabrook.2016")`` writes them: configural, thresholds,
thresholds + loadings, thresholds + loadings + intercepts (see
:func:`fieldsurvey.psychometrics.ordinal_fit.wu_estabrook_spec`), fitted by WLSMV and compared
with the Satorra (2000) scaled-and-shifted difference test (lavaan's ``lavTestLRT`` default) and
the changes in the scaled CFI and RMSEA.

Partial invariance frees named parameters in every constrained step (lavaan ``group.partial``).
Consecutive steps are compared with the chi-square difference test (as ``lavTestLRT``) and the
changes in CFI, RMSEA and SRMR judged against Chen (2007): a step is supported when
dCFI >= -0.010 and dRMSEA <= 0.015 and dSRMR <= 0.030 (loadings) or <= 0.010 (intercepts,
residuals). Chen states the rule as dCFI supplemented by dRMSEA or dSRMR; requiring all three is
the stricter reading. Latent mean differences (each group against the first) are reported only
when the scalar step is supported.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.stats

from fieldsurvey.instrument.model import Instrument
from fieldsurvey.psychometrics._blas import single_threaded_blas
from fieldsurvey.psychometrics.cfa import (
    DEFAULT_MIN_GROUP_SIZE,
    CFAConvergenceError,
    CFAError,
    CFAResult,
    CFAWarning,
    fit_cfa,
)
from fieldsurvey.psychometrics.cfa_ordinal import satorra_2000_difference

#: The steps in the order they are tested.
INVARIANCE_LEVELS: tuple[str, ...] = ("configural", "metric", "scalar", "strict")
#: The steps with ordinal indicators (Wu & Estabrook 2016).
ORDINAL_LEVELS: tuple[str, ...] = ("configural", "thresholds", "loadings", "intercepts")

_GROUP_EQUAL: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
}
_ORDINAL_GROUP_EQUAL: dict[str, tuple[str, ...]] = {
    "configural": (),
    "thresholds": ("thresholds",),
    "loadings": ("thresholds", "loadings"),
    "intercepts": ("thresholds", "loadings", "intercepts"),
}
#: The step from which latent means are reported (continuous, ordinal).
_MEANS_LEVEL = {False: "scalar", True: "intercepts"}


@dataclass(frozen=True)
class ChenCriteria:
    """Cut-offs for the change in fit between steps (Chen 2007, Struct. Equ. Modeling 14:464)."""

    delta_cfi: float = -0.010  # a step is supported when dCFI >= this
    delta_rmsea: float = 0.015  # ... and dRMSEA <= this
    delta_srmr_metric: float = 0.030  # ... and dSRMR <= this for loadings
    delta_srmr_scalar: float = 0.010  # ... or this for intercepts and residuals

    def srmr_cut(self, level: str) -> float:
        """The SRMR cut-off of a step: loadings (metric) or intercept-like (the rest)."""
        return self.delta_srmr_metric if level in ("metric", "loadings") else self.delta_srmr_scalar

    def describe(self, level: str) -> str:
        return (
            f"Chen (2007): dCFI >= {self.delta_cfi:.3f} and dRMSEA <= {self.delta_rmsea:.3f} "
            f"and dSRMR <= {self.srmr_cut(level):.3f}"
        )


@dataclass
class InvarianceResult:
    """The invariance sequence.

    Attributes
    ----------
    steps : pd.DataFrame
        One row per step: level, group_equal, group_partial, npar, chisq, df, pvalue, cfi,
        tli, rmsea, rmsea_ci_lower, rmsea_ci_upper, srmr, aic, bic, converged, heywood.
    comparisons : pd.DataFrame
        One row per consecutive pair: from, to, delta_chisq, delta_df, p, delta_cfi,
        delta_rmsea, delta_srmr, cfi_ok, rmsea_ok, srmr_ok, supported, criteria.
    latent_means : pd.DataFrame
        Latent means of each group against the first (group, factor, est, se, z, pvalue,
        std_all), empty unless the scalar step is supported.
    highest_level : str
        The last step supported by every comparison up to it.
    fits : dict of str to CFAResult
        The fitted model of every step.
    """

    group: str
    group_levels: list[str]
    steps: pd.DataFrame
    comparisons: pd.DataFrame
    latent_means: pd.DataFrame
    highest_level: str
    fits: dict[str, CFAResult]
    criteria: ChenCriteria
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def measurement_invariance(
    data: pd.DataFrame,
    model: str | Instrument,
    group: str,
    *,
    levels: Sequence[str] | None = None,
    strict: bool = False,
    partial: Sequence[str] = (),
    scales: Sequence[str] | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    criteria: ChenCriteria | None = None,
    max_iter: int = 500,
    reference_group: object | None = None,
    group_order: Sequence[object] | None = None,
    missing: str = "listwise",
    estimator: str = "ML",
    ordered: bool = False,
    collapse_empty: bool = False,
) -> InvarianceResult:
    """Test configural, metric, scalar (and strict) invariance of a CFA across groups.

    Parameters
    ----------
    data : pd.DataFrame
        Respondents; the model's columns plus ``group``.
    model : str or Instrument
        lavaan syntax or an instrument (see :func:`~fieldsurvey.psychometrics.cfa.fit_cfa`).
    group : str
        Column holding the groups, ordered as lavaan orders them: by first appearance in the
        whole data (rows with missing answers included). The first group is the reference.
    levels : sequence of str, optional
        Steps to fit, a subset of ``INVARIANCE_LEVELS`` (fitted in that order); default
        configural, metric, scalar. With ``ordered``: a subset of ``ORDINAL_LEVELS``, default
        all four.
    strict : bool
        Add the strict step (residual variances equal).
    partial : sequence of str
        Parameters freed in every constrained step, lavaan ``group.partial`` syntax:
        ``"visual=~x2"`` (a loading), ``"x3~1"`` (an intercept), ``"x1~~x1"`` (a residual).
    scales : sequence of str, optional
        With an instrument: the scales to model.
    min_group_size : int
        Groups with fewer complete respondents are refused (disclosure threshold).
    criteria : ChenCriteria, optional
        Cut-offs for the change in fit (default Chen 2007).
    max_iter : int
        Iteration limit of the optimiser for each step.
    reference_group : optional
        The group whose latent means are fixed to 0 (default: the first group).
    group_order : sequence, optional
        All groups in the order to use (lavaan ``group.label``).
    missing : {"listwise", "fiml"}
        ``"fiml"``: full-information ML on every answer given (see
        :func:`~fieldsurvey.psychometrics.cfa.fit_cfa`), so the test no longer rests on the
        complete cases.
    estimator : {"ML", "MLR"}
        ``"MLR"``: robust standard errors, scaled chi-square; consecutive steps are then
        compared with the Satorra-Bentler (2001) scaled chi-square difference (lavaan's
        ``lavTestLRT`` default for MLR) and with the robust CFI and RMSEA.
    ordered : bool
        Ordinal indicators: WLSMV and the threshold invariance steps of Wu & Estabrook (2016)
        (``ORDINAL_LEVELS``); ``missing`` is then ``"listwise"`` or ``"pairwise"`` (pairwise
        information: every respondent's answers count, not only complete cases). Latent means
        are reported from the "intercepts" step.
    collapse_empty : bool
        With ``ordered``: merge answer categories some group never used (see
        :func:`~fieldsurvey.psychometrics.cfa.fit_cfa`).

    Returns
    -------
    InvarianceResult

    Raises
    ------
    CFAConvergenceError
        A step did not converge even when refitted from a neighbouring step's estimates, or a
        less constrained step fits worse than a more constrained one; ``step`` names it.

    Examples
    --------
    >>> import pandas as pd
    >>> hs = pd.read_csv("tests/data/HolzingerSwineford1939.csv")  # doctest: +SKIP
    >>> res = measurement_invariance(hs, "visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; "
    ...                              "speed =~ x7 + x8 + x9", "school")  # doctest: +SKIP
    >>> res.comparisons[["to", "delta_chisq", "delta_df"]].round(3)  # doctest: +SKIP
           to  delta_chisq  delta_df
    0  metric        8.192         6
    1  scalar       40.059         6
    """
    criteria = criteria or ChenCriteria()
    chosen = _levels(levels, strict, ordered)
    equal_of = _ORDINAL_GROUP_EQUAL if ordered else _GROUP_EQUAL

    def fit_step(level: str, start: CFAResult | None = None) -> CFAResult:
        with warnings.catch_warnings():  # each step's problems are collected in its result
            warnings.simplefilter("ignore", CFAWarning)
            return fit_cfa(
                data,
                model,
                group=group,
                group_equal=equal_of[level],
                group_partial=tuple(partial) if level != "configural" else (),
                scales=scales,
                min_group_size=min_group_size,
                max_iter=max_iter,
                start=start,
                group_order=group_order,
                reference_group=reference_group,
                missing=missing,
                estimator=estimator,
                ordered=ordered,
                **({"collapse_empty": collapse_empty} if ordered else {}),
            )

    fits = {level: fit_step(level) for level in chosen}
    restarts = _settle(fits, chosen, fit_step)
    steps = pd.DataFrame([_step_row(level, fit) for level, fit in fits.items()])
    comparisons = pd.DataFrame(
        [
            _compare(a, b, fits[a], fits[b], criteria)
            for a, b in zip(chosen[:-1], chosen[1:], strict=True)
        ],
        columns=[
            "from",
            "to",
            "delta_chisq",
            "delta_df",
            "p",
            "difference_test",
            "delta_cfi",
            "delta_rmsea",
            "delta_srmr",
            "cfi_ok",
            "rmsea_ok",
            "srmr_ok",
            "supported",
            "criteria",
        ],
    )
    highest = chosen[0]
    for row in comparisons.itertuples(index=False):
        if not row.supported:
            break
        highest = row.to
    first = next(iter(fits.values()))
    notes = list(first.notes)
    if partial:
        notes.append(f"partial invariance: {', '.join(partial)} free in every constrained step")
    latent = pd.DataFrame(columns=["group", "factor", "est", "se", "z", "pvalue", "std_all"])
    means_level = _MEANS_LEVEL[ordered]
    if means_level in fits and chosen.index(highest) >= chosen.index(means_level):
        latent = fits[means_level].latent_means
        notes.append(
            f"latent means are differences from the reference group {first.group_levels[0]!r} "
            f"(its means are fixed to 0), from the {means_level} model"
        )
    elif means_level in fits:
        notes.append(f"{means_level} invariance is not supported: latent means are not comparable")
    notes.extend(restarts)
    problems = [f"{level}: {w}" for level, fit in fits.items() for w in fit.warnings]
    for message in problems:
        warnings.warn(message, CFAWarning, stacklevel=2)
    return InvarianceResult(
        group=group,
        group_levels=first.group_levels,
        steps=steps,
        comparisons=comparisons,
        latent_means=latent,
        highest_level=highest,
        fits=fits,
        criteria=criteria,
        notes=notes,
        warnings=problems,
    )


def _settle(fits: dict[str, CFAResult], chosen: list[str], fit_step) -> list[str]:
    """Make sure every step reached its minimum, or raise naming the step that did not.

    A step that did not converge is refitted from the estimates of a neighbouring step that
    did. The steps are nested, so a more constrained model can never fit better than a less
    constrained one: if it does (a negative chi-square difference), the less constrained model
    stopped short of its minimum and is refitted from the constrained solution, which is a
    point of its own parameter space.
    """
    notes: list[str] = []
    for i, level in enumerate(chosen):
        if fits[level].converged:
            continue
        for other in chosen[i + 1 :] + chosen[:i][::-1]:
            if fits[other].converged:
                retry = fit_step(level, start=fits[other])
                if retry.converged:
                    fits[level] = retry
                    notes.append(f"the {level} model was refitted from the {other} estimates")
                    break
        if not fits[level].converged:
            raise CFAConvergenceError(
                f"the {level} model did not converge ({fits[level].warnings[0]}); "
                "no invariance result can be reported",
                step=level,
                result=fits[level],
            )
    for looser, tighter in zip(chosen[:-1], chosen[1:], strict=True):
        gap = fits[tighter].fit["chisq"] - fits[looser].fit["chisq"]
        if gap >= -1e-6 * max(1.0, fits[looser].fit["chisq"]):
            continue
        retry = fit_step(looser, start=fits[tighter])
        if retry.converged and retry.fit["chisq"] <= fits[looser].fit["chisq"]:
            fits[looser] = retry
            notes.append(
                f"the {looser} model was refitted from the {tighter} estimates (it had stopped "
                "short of its minimum)"
            )
        gap = fits[tighter].fit["chisq"] - fits[looser].fit["chisq"]
        if gap < -1e-6 * max(1.0, fits[looser].fit["chisq"]):
            raise CFAConvergenceError(
                f"the {looser} model did not reach its minimum: the more constrained {tighter} "
                f"model fits better (chi-square {fits[tighter].fit['chisq']:.3f} against "
                f"{fits[looser].fit['chisq']:.3f}); no invariance result can be reported",
                step=looser,
                result=fits[looser],
            )
    return notes


def _levels(levels: Sequence[str] | None, strict: bool, ordered: bool = False) -> list[str]:
    known = ORDINAL_LEVELS if ordered else INVARIANCE_LEVELS
    if levels is None:
        levels = ORDINAL_LEVELS if ordered else ("configural", "metric", "scalar")
    if isinstance(levels, str):
        levels = (levels,)
    unknown = [lv for lv in levels if lv not in known]
    if unknown:
        raise CFAError(f"unknown invariance level(s) {unknown}; known: {known}")
    if strict and ordered:
        raise CFAError("strict invariance is not one of the ordinal steps")
    wanted = set(levels) | ({"strict"} if strict else set())
    chosen = [lv for lv in known if lv in wanted]
    if len(chosen) < 1:
        raise CFAError("no invariance level to fit")
    return chosen


#: Fit measures of each step beyond the standard ones, when the estimator reports them.
_ROBUST_STEP_COLUMNS = (
    "chisq_scaled", "chisq_scaling_factor", "pvalue_scaled", "cfi_scaled", "tli_scaled",
    "rmsea_scaled", "cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust",
    "rmsea_ci_upper_robust",
)  # fmt: skip


def _step_row(level: str, fit: CFAResult) -> dict:
    f = fit.fit
    row = {
        "level": level,
        "group_equal": ", ".join(fit.group_equal),
        "group_partial": ", ".join(fit.group_partial),
        "npar": int(f["npar"]),
        "chisq": f["chisq"],
        "df": int(f["df"]),
        "pvalue": f["pvalue"],
        "cfi": f["cfi"],
        "tli": f["tli"],
        "rmsea": f["rmsea"],
        "rmsea_ci_lower": f["rmsea_ci_lower"],
        "rmsea_ci_upper": f["rmsea_ci_upper"],
        "srmr": f["srmr"],
        "aic": f.get("aic", np.nan),  # no likelihood with WLSMV
        "bic": f.get("bic", np.nan),
        "converged": fit.converged,
        "heywood": fit.heywood,
    }
    row.update({name: f[name] for name in _ROBUST_STEP_COLUMNS if name in f.index})
    return row


def scaled_difference(fit_a: CFAResult, fit_b: CFAResult) -> tuple[float, int, float]:
    """The chi-square difference of nested fits ``a`` (looser) and ``b`` (tighter), as
    lavaan's ``lavTestLRT``: plain for ML; for WLSMV the Satorra (2000) scaled-and-shifted
    difference (:func:`~fieldsurvey.psychometrics.cfa_ordinal.satorra_2000_difference`); for
    MLR the Satorra-Bentler (2001) scaled
    difference ``(T_b - T_a) / c_d`` with ``c_d = (df_b c_b - df_a c_a) / (df_b - df_a)``
    (a saturated ``a`` counts with ``c_a = 1``; a negative ``c_d`` gives NaN).

    Returns (statistic, df, p).
    """
    fa, fb = fit_a.fit, fit_b.fit
    if fit_a.estimator == "WLSMV" and fit_a.model_state and fit_b.model_state:
        a, b = fit_a.model_state, fit_b.model_state
        with single_threaded_blas():
            return satorra_2000_difference(a.problem, a.x, b.problem, b.x)
    delta = float(fb["chisq"] - fa["chisq"])
    df = int(fb["df"] - fa["df"])
    if "chisq_scaling_factor" in fb.index and df > 0:
        c_a = 1.0 if fa["df"] == 0 else fa["chisq_scaling_factor"]
        c_d = (fb["df"] * fb["chisq_scaling_factor"] - fa["df"] * c_a) / df
        delta = delta / c_d if c_d >= 0 else float("nan")
    p = float(scipy.stats.chi2.sf(max(delta, 0.0), df)) if df > 0 else np.nan
    return delta, df, p


def _difference_test_name(fit: CFAResult) -> str:
    if fit.estimator == "WLSMV":
        return "Satorra (2000) scaled-and-shifted difference"
    if fit.estimator == "MLR":
        return "Satorra-Bentler (2001) scaled difference"
    return "chi-square difference"


def _compare(a: str, b: str, fit_a: CFAResult, fit_b: CFAResult, criteria: ChenCriteria) -> dict:
    fa, fb = fit_a.fit, fit_b.fit
    delta_chisq, delta_df, p = scaled_difference(fit_a, fit_b)
    robust = "cfi_robust" in fb.index and fit_a.estimator == "MLR"
    cfi_name, rmsea_name = ("cfi_robust", "rmsea_robust") if robust else ("cfi", "rmsea")
    if fit_a.estimator == "WLSMV":
        cfi_name, rmsea_name = "cfi_scaled", "rmsea_scaled"
    d_cfi = float(fb[cfi_name] - fa[cfi_name])
    d_rmsea = float(fb[rmsea_name] - fa[rmsea_name])
    d_srmr = float(fb["srmr"] - fa["srmr"])
    cfi_ok = d_cfi >= criteria.delta_cfi
    rmsea_ok = d_rmsea <= criteria.delta_rmsea
    srmr_ok = d_srmr <= criteria.srmr_cut(b)
    described = criteria.describe(b)
    if robust:
        described += " (robust CFI and RMSEA)"
    elif fit_a.estimator == "WLSMV":
        described += " (scaled CFI and RMSEA)"
    return {
        "from": a,
        "to": b,
        "delta_chisq": delta_chisq,
        "delta_df": delta_df,
        "p": p,
        "difference_test": _difference_test_name(fit_a),
        "delta_cfi": d_cfi,
        "delta_rmsea": d_rmsea,
        "delta_srmr": d_srmr,
        "cfi_ok": cfi_ok,
        "rmsea_ok": rmsea_ok,
        "srmr_ok": srmr_ok,
        "supported": bool(cfi_ok and rmsea_ok and srmr_ok and fit_b.converged),
        "criteria": described,
    }


def ordinal_invariance(
    data: pd.DataFrame,
    model: str | Instrument,
    group: str,
    *,
    missing: str = "pairwise",
    collapse_empty: bool = True,
    **options,
) -> InvarianceResult:
    """Threshold invariance of ordinal (Likert) items across groups, Wu & Estabrook (2016).

    :func:`measurement_invariance` with ``ordered=True``: WLSMV fits of the configural,
    thresholds, thresholds + loadings and thresholds + loadings + intercepts models (as
    ``semTools::measEq.syntax(ID.cat = "Wu.Estabrook.2016")`` writes them and lavaan fits
    them), compared by the Satorra (2000) scaled-and-shifted difference test and the changes in
    the scaled CFI and RMSEA. ``missing="pairwise"`` (the default here) uses every answer given:
    each threshold and polychoric correlation rests on the respondents who answered its items,
    not on complete cases only; ``"listwise"`` is lavaan's default. ``collapse_empty`` (the
    default here, unlike lavaan, which refuses the data) merges an answer category that a
    group never used with its neighbour, in every group, and says so in ``notes``: small
    groups of staff often leave an extreme answer unused.

    Examples
    --------
    >>> res = ordinal_invariance(staff, proqol, "lived_experience",
    ...                          scales=["burnout"])  # doctest: +SKIP
    >>> res.highest_level  # doctest: +SKIP
    'intercepts'
    """
    return measurement_invariance(
        data, model, group, missing=missing, ordered=True, estimator="ML",
        collapse_empty=collapse_empty, **options,
    )  # fmt: skip
