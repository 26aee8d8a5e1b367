"""Organisation benchmarks as results: each organisation against the field without it.

Tables (latest wave unless named otherwise):

``field``
    the whole field per scale (n with a score, mean, SD; survey-weighted mean with weights).
``organisations``
    every organisation per scale: n with a score, mean, SD and the mean's interval.
``rest``
    the field without each organisation (``org = Except(o)``): shown only where both the
    field and the organisation are, since it is their difference.
``differences``
    organisation minus the rest of the field, with its interval, t, df, p and the standardised
    difference; its sources are the organisation and the rest.
``fairness`` (computed after the gate)
    percentile rank, empirical-Bayes shrunken mean and funnel position, from a model of the
    organisations whose cells the gate shows (a model of all organisations would carry the
    withheld ones' means; see docs/disclosure.md).
``standardised`` (with a role column)
    each organisation directly standardised to the field's role mix; its sources are the
    organisation's role cells and the field's.
``weighted`` (with survey weights)
    each organisation's survey-weighted mean and its difference with the rest of the field;
    its sources are the weighting cells (organisation x role).
``trend`` and ``change`` (several waves)
    means per organisation and wave, and each organisation's change since its previous wave
    (its sources: the two waves' cells).
``bands`` (with bands)
    staff per band, per organisation and for the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.analyse.cells import cell_statistics, rest_statistics
from fieldsurvey.analyse.frame import NOT_STATED, AnalysisFrame
from fieldsurvey.analyse.study import scale_info, score_ranges
from fieldsurvey.results import ROW_VARIABLE, Except, Results

__all__ = ["benchmark_results"]

NO_SCORE = "no score"


def _long(data: pd.DataFrame, cells: list[dict[str, Any]] | pd.DataFrame, scales: Sequence[str],
          dims: list[str]) -> pd.DataFrame:
    """n with a score, mean and SD of each scale in each cell, one row per cell x scale
    (``cells``: the cells, or their statistics from :mod:`fieldsurvey.analyse.cells`)."""
    wide = cells if isinstance(cells, pd.DataFrame) else cell_statistics(data, cells, list(scales))
    parts = []
    for s in scales:
        part = wide[[d for d in dims if d in wide.columns]].copy()
        part["scale"] = s
        part["n_valid"] = wide[f"{s}_n"].to_numpy()
        part["mean"] = wide[f"{s}_mean"].to_numpy()
        part["sd"] = wide[f"{s}_sd"].to_numpy()
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    for d in dims:
        if d in out:
            out[d] = out[d].astype(object).where(out[d].notna(), None)
    return out


def _add_long(results: Results, name: str, table: pd.DataFrame, extra: dict[str, str] | None = None,
              **kwargs: Any) -> None:
    stats = {"mean": "mean", "sd": "sd", **(extra or {})}
    results.add_table(name, table, stats, stat_n={c: "n_valid" for c in stats},
                      measures=ROW_VARIABLE, variable="scale", **kwargs)


def benchmark_results(
    frame: AnalysisFrame,
    scales: Sequence[str],
    *,
    wave: str | None = "wave",
    role: str | None = None,
    weights: pd.Series | None = None,
    bands: bool = False,
    min_cell: int = 10,
) -> Results:
    """Every organisation against the field without it, as results for the gate.

    Examples
    --------
    >>> results = benchmark_results(load_frame("my-study"), ["burnout"])  # doctest: +SKIP
    """
    data = frame.data.copy()
    data["org"] = data["org"].astype(str)
    waves = sorted(data[wave].astype(str).unique()) if wave and wave in data else []
    if waves:
        data[wave] = data[wave].astype(str)
    latest = waves[-1] if waves else None
    scales = list(scales)
    band_dims = [f"{s}_band" for s in scales if bands and f"{s}_band" in data]
    dims = ["org", *([wave] if waves else []), *band_dims]
    respondents = data[["org", *([wave] if waves else [])]].copy()
    for band in band_dims:
        respondents[band] = data[band].astype("string").fillna(NO_SCORE).astype(object)
    role_source = role
    if role_source is None and weights is not None and frame.study is not None:
        role_source = frame.study.config.role_column  # the weighting cells are org x role
    if role_source is not None:
        respondents["role"] = data[role_source].astype("string").fillna(NOT_STATED).astype(object)
        dims.append("role")
    linked = {b: b.removesuffix("_band") for b in band_dims}
    measures = data[scales]
    results = Results(respondents, dims, measures=measures, keys=frame.keys,
                      linked=linked, unprotected={b: [NO_SCORE] for b in band_dims},
                      score_ranges=_band_score_ranges(frame, band_dims))
    now = {wave: latest} if latest is not None else {}
    orgs = sorted(data["org"].unique())
    _add_long(results, "field", _long(data, [now], scales, dims))
    org_table = _long(data, [{"org": o, **now} for o in orgs], scales, dims)
    moments = _org_moments(org_table)
    _add_long(results, "organisations", org_table.assign(**moments),
              {"ci_low": "other", "ci_high": "other"})
    # The field less each organisation (one pass over the data, not one per organisation).
    rest = _long(data, rest_statistics(data, "org", orgs, scales, now), scales, dims)
    _add_long(results, "rest", rest)
    _differences(results, data, scales, now, min_cell)
    _fairness(results, data, scales, now)
    if role is not None:
        _standardised(results, data, scales, now, role)
    if weights is not None:
        _weighted(results, data, scales, now, weights, frame)
    if len(waves) > 1:
        _trend(results, data, scales, orgs, wave, waves, dims)
    for band in band_dims:
        _bands(results, band, orgs, now)
    return results


def _band_score_ranges(frame: AnalysisFrame, band_dims: Sequence[str]
                       ) -> dict[str, dict[str, tuple[float, float]]]:
    """The scores each shown band can hold (the gate bounds band counts by means with them)."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for inst in frame.instruments:
        for sc in inst.scales:
            if f"{sc.id}_band" in band_dims:
                out.update(score_ranges(scale_info(inst, sc), bins=False))
    return out


def _org_moments(table: pd.DataFrame) -> dict[str, Any]:
    """The t interval of each organisation's mean."""
    from fieldsurvey._distributions import t_ppf

    n = table["n_valid"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = t_ppf(0.975, n - 1) * table["sd"].to_numpy() / np.sqrt(n)
    return {"ci_low": table["mean"].to_numpy() - half, "ci_high": table["mean"].to_numpy() + half}


def _differences(results: Results, data: pd.DataFrame, scales: list[str], now: dict,
                 min_cell: int) -> None:
    from fieldsurvey.compare import benchmark_organisations

    current = data if not now else data[data[next(iter(now))] == next(iter(now.values()))]
    bench = benchmark_organisations(current, scales, min_cell=min_cell)
    bench = bench[bench["org"].notna()]
    bench = bench.assign(org=bench["org"].astype(str))
    columns = ["diff", "diff_ci_low", "diff_ci_high", "t", "df", "p", "std_diff"]
    table = bench[["org", "scale", *columns]].copy()
    for key, value in now.items():
        table.insert(1, key, value)
    table = table.reset_index(drop=True)
    sources = [[{"org": o, **now}, {"org": Except(o), **now}] for o in table["org"]]
    results.add_table("differences", table, dict.fromkeys(columns, "other"), variable="scale",
                      sources=sources, source_measure=ROW_VARIABLE)


def _fairness(results: Results, data: pd.DataFrame, scales: list[str], now: dict) -> None:
    """Rank, shrunken mean and funnel position among the organisations the gate shows."""
    from fieldsurvey.compare import funnel_limits, shrink_organisation_means

    current = data if not now else data[data[next(iter(now))] == next(iter(now.values()))]

    def compute(view: Any) -> tuple[pd.DataFrame, list]:
        shown = view.table("organisations")
        parts, sources = [], []
        for scale in scales:
            part = shown[(shown["scale"] == scale) & shown["mean"].notna()]
            orgs = part["org"].astype(str).tolist()
            if len(orgs) < 3:
                continue
            sub = current[current["org"].isin(orgs)]
            shrunk = shrink_organisation_means(sub, [scale]).set_index("org").reindex(orgs)
            funnel = funnel_limits(sub, [scale]).set_index("org").reindex(orgs)
            means = part["mean"].to_numpy(dtype=float)
            parts.append(pd.DataFrame({
                "org": orgs, **{k: [v] * len(orgs) for k, v in now.items()}, "scale": scale,
                "percentile_rank": _percentile_ranks(means), "n_ranked": len(orgs),
                **{c: shrunk[c].to_numpy(dtype=float)
                   for c in ("shrunk_mean", "shrunk_ci_low", "shrunk_ci_high")},
                "z_adjusted": funnel["z_adjusted"].to_numpy(dtype=float),
                "outside95": funnel["outside95"].to_numpy(dtype=bool),
                "outside998": funnel["outside998"].to_numpy(dtype=bool),
            }))
            # Every row of a scale rests on the same organisations: one list, shared.
            cells = [{"org": o, **now} for o in orgs]
            sources.extend([cells] * len(orgs))
        columns = ["org", *now, "scale", *FAIRNESS]
        table = (pd.concat(parts, ignore_index=True)[columns] if parts
                 else pd.DataFrame(columns=columns))
        for flag in ("outside95", "outside998"):
            table[flag] = table[flag].astype("boolean")
        return table, sources

    results.add_derived("fairness", compute, dict.fromkeys(FAIRNESS, "other"), variable="scale",
                        source_measure=ROW_VARIABLE)


def _percentile_ranks(means: np.ndarray) -> np.ndarray:
    """100 x (share of means below + half the share equal, itself included)."""
    ordered = np.sort(means)
    below = np.searchsorted(ordered, means, side="left")
    equal = np.searchsorted(ordered, means, side="right") - below
    return 100.0 * (below / len(means)) + 50.0 * (equal / len(means))


FAIRNESS = ("percentile_rank", "n_ranked", "shrunk_mean", "shrunk_ci_low", "shrunk_ci_high",
            "z_adjusted", "outside95", "outside998")


def _standardised(results: Results, data: pd.DataFrame, scales: list[str], now: dict,
                  role: str) -> None:
    """Direct standardisation to the field's role mix; sources: the role cells it weighs."""
    from fieldsurvey.compare import standardise_role_mix

    current = data if not now else data[data[next(iter(now))] == next(iter(now.values()))]
    table = standardise_role_mix(current, scales, role=role).rename(
        columns={"ci_low": "standardised_ci_low", "ci_high": "standardised_ci_high",
                 "complete": "role_complete"})
    table = table[table["org"].notna()].assign(org=lambda t: t["org"].astype(str))
    columns = ["standardised_mean", "standardised_ci_low", "standardised_ci_high",
               "role_complete"]
    table = table[["org", "scale", *columns]].reset_index(drop=True)
    table["role_complete"] = table["role_complete"].astype("boolean")
    for key, value in now.items():
        table.insert(1, key, value)
    roles = sorted(current[role].dropna().astype(str).unique())
    sources = [[{"org": o, "role": r, **now} for r in roles] + [{"role": r, **now} for r in roles]
               for o in table["org"]]
    results.add_table("standardised", table, dict.fromkeys(columns, "other"), variable="scale",
                      sources=sources, source_measure=ROW_VARIABLE)


def _weighted(results: Results, data: pd.DataFrame, scales: list[str], now: dict,
              weights: pd.Series, frame: AnalysisFrame) -> None:
    """Weighted organisation means and differences; sources: their weighting cells."""
    from fieldsurvey.compare import weighted_differences

    mask = np.ones(len(data), dtype=bool) if not now else (
        data[next(iter(now))] == next(iter(now.values()))).to_numpy()
    current, w = data.loc[mask], weights.loc[mask]
    table = weighted_differences(current, scales, w, org="org")
    table = table[table["org"].notna()].assign(org=lambda t: t["org"].astype(str))
    columns = [c for c in table.columns if "weighted_" in c and c != "weighted_se"]
    table = table[["org", "scale", *columns]].reset_index(drop=True)
    for key, value in now.items():
        table.insert(1, key, value)
    role = frame.study.config.role_column if frame.study is not None else "wf_role"
    pairs = current.loc[w.notna().to_numpy(), ["org"]].assign(
        role=current.loc[w.notna().to_numpy(), role].astype("string").fillna(NOT_STATED)
    ).drop_duplicates()
    cells = [{"org": o, "role": r, **now} for o, r in pairs.itertuples(index=False)]
    from fieldsurvey.compare import weighted_means

    field = weighted_means(current, scales, w, cluster="org")
    field_rows = pd.DataFrame({"org": None, **{k: v for k, v in now.items()},
                               "scale": field["scale"].to_numpy(),
                               "weighted_mean": field["weighted_mean"].to_numpy(),
                               "weighted_ci_low": field["ci_low"].to_numpy(),
                               "weighted_ci_high": field["ci_high"].to_numpy()})
    table = pd.concat([field_rows, table], ignore_index=True)
    table["org"] = table["org"].astype(object).where(table["org"].notna(), None)
    sources = [cells] * len(table)  # a difference with the rest weighs every organisation
    results.add_table("weighted", table, dict.fromkeys(columns, "other"), variable="scale",
                      sources=sources, source_measure=ROW_VARIABLE)


def _trend(results: Results, data: pd.DataFrame, scales: list[str], orgs: list[str], wave: str,
           waves: list[str], dims: list[str]) -> None:
    from fieldsurvey.compare import organisation_trend

    cells = [{"org": o, wave: w} for o in [None, *orgs] for w in waves]
    _add_long(results, "trend", _long(data, cells, scales, dims))
    trend = organisation_trend(data, scales, org="org", wave=wave)
    latest = trend[(trend[wave].astype(str) == waves[-1]) & trend["org"].notna()]
    latest = latest[latest["previous_wave"].notna()]
    columns = ["change", "change_ci_low", "change_ci_high", "p"]
    table = pd.DataFrame({"org": latest["org"].astype(str).to_numpy(),
                          "scale": latest["scale"].to_numpy(),
                          "previous_wave": latest["previous_wave"].astype(str).to_numpy(),
                          **{c: latest[c].to_numpy() for c in columns}})
    sources = [[{"org": o, wave: p}, {"org": o, wave: waves[-1]}]
               for o, p in zip(table["org"], table["previous_wave"], strict=True)]
    results.add_table("change", table, dict.fromkeys(columns, "other"), variable="scale",
                      labels=["previous_wave"], sources=sources, source_measure=ROW_VARIABLE)


def _bands(results: Results, band: str, orgs: list[str], now: dict) -> None:
    categories = sorted(c for c in pd.unique(results.respondents[band]) if c != NO_SCORE)
    cells = [{"org": o, **now, band: c} for o in [None, *orgs] for c in categories]
    table = pd.DataFrame(cells).astype(object)
    table = table.where(table.notna(), None)
    results.add_table(f"bands:{band}", table)
