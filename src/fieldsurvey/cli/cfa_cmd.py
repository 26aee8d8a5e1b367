"""``fieldsurvey cfa`` and ``fieldsurvey invariance``: thin commands over the CFA API."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from fieldsurvey.cli.output import UserError, console, print_json, print_table
from fieldsurvey.instrument import InstrumentError, resolve_instrument
from fieldsurvey.psychometrics.cfa import (
    DEFAULT_MIN_GROUP_SIZE,
    CFAConvergenceError,
    CFAError,
    CFAResult,
    fit_cfa,
)
from fieldsurvey.psychometrics.invariance import InvarianceResult, measurement_invariance
from fieldsurvey.psychometrics.lavaan_syntax import LavaanSyntaxError
from fieldsurvey.psychometrics.partial_invariance import partial_invariance

_FIT_KEYS = ("chisq", "df", "pvalue", "cfi", "tli", "rmsea")


def _read_data(path: Path) -> pd.DataFrame:
    """Read a respondent table with the one reader every command uses
    (:func:`fieldsurvey.io.read_data`), declared missing codes blanked."""
    from fieldsurvey.io import read_data

    return read_data(path).answers()


def _model(instrument_ref: str | None, model: str | None):
    if bool(instrument_ref) == bool(model):
        raise UserError("give exactly one of -i/--instrument or --model")
    if instrument_ref:
        try:
            return resolve_instrument(instrument_ref)
        except InstrumentError as exc:
            raise UserError(str(exc)) from exc
    path = Path(model)
    if path.suffix in (".lav", ".txt", ".model") and path.is_file():
        return path.read_text(encoding="utf-8")
    return model


class NotConvergedError(click.ClickException):
    """A model did not converge: nothing is reported, exit code 3 (``not_converged`` under
    ``--format json``)."""

    exit_code = 3
    error_code = "not_converged"


def _run(path: Path, action):
    try:
        return action()
    except CFAConvergenceError as exc:
        raise NotConvergedError(f"{path.name}: {exc}") from exc
    except LavaanSyntaxError as exc:
        raise UserError(f"model: {exc}") from exc
    except CFAError as exc:
        raise UserError(f"{path.name}: {exc}") from exc


#: Scaled and robust measures printed when the estimator reports them (MLR, FIML).
_ROBUST_KEYS = (
    "chisq_scaled", "pvalue_scaled", "chisq_scaling_factor", "cfi_scaled", "tli_scaled",
    "rmsea_scaled", "cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust",
    "rmsea_ci_upper_robust",
)  # fmt: skip


def cfa_payload(result: CFAResult) -> dict:
    """The JSON document of ``fieldsurvey cfa --format json``."""
    f = result.fit
    robust = {key: f[key] for key in _ROBUST_KEYS if key in f.index}
    return {
        "missing": result.missing,
        "estimator": result.estimator,
        **robust,
        "n": int(f["n"]),
        **{key: f[key] for key in _FIT_KEYS},
        "rmsea_ci": [f["rmsea_ci_lower"], f["rmsea_ci_upper"]],
        "srmr": f["srmr"],
        "loglik": f.get("logl"),
        "aic": f.get("aic"),
        "bic": f.get("bic"),
        "loadings": result.loadings.to_dict(orient="records"),
        "converged": result.converged,
        "heywood": result.heywood,
        "warnings": result.warnings,
        "notes": result.notes,
    }


def invariance_payload(result: InvarianceResult) -> dict:
    """The JSON document of ``fieldsurvey invariance --format json``."""
    step_cols = ["level", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr"]
    step_cols += [c for c in _DECIDING_COLUMNS if c in result.steps.columns]
    comp_cols = [
        "from",
        "to",
        "delta_chisq",
        "delta_df",
        "p",
        "delta_cfi",
        "delta_rmsea",
        "delta_srmr",
        "supported",
        "criteria",
    ]
    return {
        "group": result.group,
        "groups": result.group_levels,
        "steps": result.steps[step_cols].to_dict(orient="records"),
        "comparisons": result.comparisons[comp_cols].to_dict(orient="records"),
        "highest_level": result.highest_level,
        "latent_means": result.latent_means.to_dict(orient="records"),
        "warnings": result.warnings,
        "notes": result.notes,
    }


#: Scaled or robust step measures the comparisons use (WLSMV: scaled; MLR: robust).
_DECIDING_COLUMNS = (
    "chisq_scaled", "cfi_scaled", "tli_scaled", "rmsea_scaled", "cfi_robust", "tli_robust",
    "rmsea_robust",
)  # fmt: skip


def _steps_table(result: InvarianceResult) -> pd.DataFrame:
    """The steps with the indices the comparisons judge: scaled for WLSMV, robust for MLR."""
    estimator = next(iter(result.fits.values())).estimator
    suffix = {"WLSMV": "_scaled", "MLR": "_robust"}.get(estimator)
    columns = ["level", "chisq", "df", "cfi", "tli", "rmsea", "srmr"]
    if suffix is None:
        return result.steps[columns]
    chosen = {c: f"{c}{suffix}" for c in ("cfi", "tli", "rmsea")}
    chosen["chisq"] = "chisq_scaled"
    table = result.steps[[chosen.get(c, c) for c in columns]]
    return table.rename(columns={v: f"{k} ({suffix[1:]})" for k, v in chosen.items()})


def _quiet(func, *args, **kwargs):
    """Call an API function with its CFAWarnings held back: the command prints them itself."""
    import warnings

    from fieldsurvey.psychometrics.cfa import CFAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CFAWarning)
        return func(*args, **kwargs)


def _print_messages(warnings: list[str], notes: list[str]) -> None:
    for message in warnings:
        console.print(f"[bold red]Warning:[/] {message}")
    for message in notes:
        console.print(f"Note: {message}")


_model_options = [
    click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    click.option(
        "-i",
        "--instrument",
        "instrument_ref",
        help="Bundled instrument id or YAML path: each scale is a factor.",
    ),
    click.option("--model", help="lavaan model syntax, or a .lav/.txt file holding it."),
    click.option(
        "--scale", "scales", multiple=True, help="With -i: model only this scale (repeatable)."
    ),
    click.option(
        "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
    ),
]


def _with_model_options(func):
    for option in reversed(_model_options):
        func = option(func)
    return func


_estimation_options = [
    click.option(
        "--missing",
        type=click.Choice(["listwise", "fiml", "pairwise"]),
        default="listwise",
        show_default=True,
        help="Delete incomplete rows (lavaan's default), full-information ML on every answer, "
        "or (with --ordered) pairwise information.",
    ),
    click.option(
        "--ordered",
        is_flag=True,
        help="Ordinal items: polychoric correlations, WLSMV (as lavaan ordered = TRUE); "
        "invariance then tests thresholds, loadings, intercepts (Wu & Estabrook 2016).",
    ),
    click.option(
        "--estimator",
        type=click.Choice(["ML", "MLR"]),
        default="ML",
        show_default=True,
        help="MLR: robust SEs, Yuan-Bentler scaled chi-square, robust CFI/TLI/RMSEA.",
    ),
]


def _with_estimation_options(func):
    for option in reversed(_estimation_options):
        func = option(func)
    return func


_max_iter_option = click.option(
    "--max-iter",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Iteration limit of the optimiser (for each step).",
)


@click.command("cfa")
@_with_model_options
@_with_estimation_options
@_max_iter_option
def cfa_command(
    data: Path, instrument_ref, model, scales, fmt, missing, ordered, estimator, max_iter
) -> None:
    """Confirmatory factor analysis (ML, as lavaan's cfa()) of DATA.

    Incomplete rows are deleted listwise unless --missing fiml. Exit code 3 when the model does
    not converge.
    """
    spec = _model(instrument_ref, model)
    frame = _read_data(data)
    result = _run(
        data,
        lambda: _quiet(
            fit_cfa,
            frame,
            spec,
            scales=scales or None,
            max_iter=max_iter,
            missing=missing,
            estimator=estimator,
            ordered=ordered,
        ),
    )
    if not result.converged:
        raise NotConvergedError(
            f"{data.name}: the model did not converge, so no fit is reported: {result.warnings[0]}"
        )
    if fmt == "json":
        print_json(cfa_payload(result))
        return
    f = result.fit
    measures = pd.DataFrame(
        {
            "measure": [
                "n",
                "chi-square",
                "df",
                "p",
                "CFI",
                "TLI",
                "RMSEA",
                "RMSEA 90% CI",
                "SRMR",
                "log-likelihood",
                "AIC",
                "BIC",
            ],
            "value": [
                str(int(f["n"])),
                f"{f['chisq']:.3f}",
                str(int(f["df"])),
                f"{f['pvalue']:.4f}",
                f"{f['cfi']:.3f}",
                f"{f['tli']:.3f}",
                f"{f['rmsea']:.3f}",
                f"[{f['rmsea_ci_lower']:.3f}, {f['rmsea_ci_upper']:.3f}]",
                f"{f['srmr']:.3f}",
                f"{f.get('logl', float('nan')):.3f}",
                f"{f.get('aic', float('nan')):.3f}",
                f"{f.get('bic', float('nan')):.3f}",
            ],
        }
    )
    robust = [(key, f[key]) for key in _ROBUST_KEYS if key in f.index]
    if robust:
        extra = pd.DataFrame(
            {"measure": [k for k, _ in robust], "value": [f"{v:.3f}" for _, v in robust]}
        )
        measures = pd.concat([measures, extra], ignore_index=True)
    how = result.estimator + {"fiml": ", full-information", "pairwise": ", pairwise"}.get(
        missing, ""
    )
    print_table(measures, title=f"Fit ({how}, lavaan conventions)")
    print_table(result.loadings, title="Loadings (std = standardised, all)")
    _print_messages(result.warnings, result.notes)


@click.command("invariance")
@_with_model_options
@click.option("--group", required=True, help="Column holding the groups.")
@click.option("--strict", is_flag=True, help="Also test strict invariance (equal residuals).")
@click.option(
    "--partial",
    multiple=True,
    help="Free a parameter in constrained steps, e.g. 'visual=~x2' or 'x3~1'.",
)
@click.option(
    "--min-group-size",
    type=int,
    default=DEFAULT_MIN_GROUP_SIZE,
    show_default=True,
    help="Refuse groups with fewer complete respondents (disclosure threshold).",
)
@click.option(
    "--reference-group",
    help="The group whose latent means are fixed to 0 (default: first in the data, as lavaan).",
)
@click.option(
    "--search-partial",
    is_flag=True,
    help="If the last step fails, release the fewest constraints (ranked by score tests) "
    "that make it hold, and report them.",
)
@_with_estimation_options
@_max_iter_option
def invariance_command(
    data: Path,
    instrument_ref,
    model,
    scales,
    fmt,
    group,
    strict,
    partial,
    min_group_size,
    reference_group,
    search_partial,
    missing,
    ordered,
    estimator,
    max_iter,
) -> None:
    """Measurement invariance of a CFA across the groups in column --group of DATA.

    Exit code 3 when a step does not converge (the message names it): then nothing is reported.
    """
    spec = _model(instrument_ref, model)
    frame = _read_data(data)
    result = _run(
        data,
        lambda: _quiet(
            measurement_invariance,
            frame,
            spec,
            group,
            strict=strict,
            partial=partial,
            scales=scales or None,
            min_group_size=min_group_size,
            max_iter=max_iter,
            reference_group=reference_group,
            missing=missing,
            estimator=estimator,
            ordered=ordered,
        ),
    )
    search = None
    if search_partial and result.highest_level != list(result.fits)[-1]:
        search = _run(
            data,
            lambda: _quiet(
                partial_invariance, frame, spec, group, ordered=ordered, partial=partial,
                scales=scales or None, min_group_size=min_group_size, max_iter=max_iter,
                reference_group=reference_group, missing=missing, estimator=estimator,
                level=_next_level(result),
            ),
        )  # fmt: skip
    if fmt == "json":
        payload = invariance_payload(result)
        if search is not None:
            payload["partial_search"] = {
                "level": search.level, "freed": search.freed, "supported": search.supported,
                "models_tried": search.models_tried, "exhaustive": search.exhaustive,
                "notes": search.notes,
            }  # fmt: skip
        print_json(payload)
        return
    print_table(
        _steps_table(result),
        title=f"Invariance steps by {group} ({', '.join(result.group_levels)})",
    )
    comparisons = result.comparisons.rename(
        columns={
            "delta_chisq": "d_chisq",
            "delta_df": "d_df",
            "delta_cfi": "d_cfi",
            "delta_rmsea": "d_rmsea",
            "delta_srmr": "d_srmr",
            "supported": "ok",
        }
    )
    print_table(
        comparisons[["to", "d_chisq", "d_df", "p", "d_cfi", "d_rmsea", "d_srmr", "ok"]],
        title="Comparisons with the previous step",
    )
    for row in result.comparisons.itertuples(index=False):
        console.print(f"{row.to}: {row.criteria}")
    console.print(f"Highest level supported: [bold]{result.highest_level}[/]")
    if not result.latent_means.empty:
        print_table(result.latent_means, title="Latent means vs the reference group")
    _print_messages(result.warnings, result.notes)
    if search is not None:
        console.print(
            f"Partial {search.level} invariance: release {', '.join(search.freed) or 'nothing'}"
            f" ({'supported' if search.supported else 'not reached'})"
        )
        for note in search.notes:
            console.print(f"Note: {note}")


def _next_level(result: InvarianceResult) -> str:
    """The first step after the highest supported one."""
    steps = list(result.fits)
    return steps[steps.index(result.highest_level) + 1]


COMMANDS = [cfa_command, invariance_command]
