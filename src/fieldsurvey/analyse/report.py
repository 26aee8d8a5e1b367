"""The results of one report: every statistic it can show, as one set of results for the gate.

:func:`report_results` builds the field-wide report's results, or one organisation's, section
by section (:data:`SECTIONS`: one small function per section, each adding its tables). Every
row names its cell over the report's dimensions:

``org``, ``wave``, ``role``, ``lived_experience`` (sensitive), ``size_band``, and for every
wellbeing scale ``<scale>_band``; in the field-wide report one dimension per
population of the published findings it recomputes (:mod:`fieldsurvey.analyse.report_findings`).

An organisation's report has two units: the organisation (``org = X``) and the rest of the field
(``org = Except(X)``): the gate reads the rest as the field minus the organisation. Nothing in an
organisation's report describes another organisation; tables whose names start with ``_`` carry
the cells that model-based figures (shrunken means, funnel limits, drivers) are computed from,
for the gate's judgement only, and are never shown.

Statistics derived from several cells name them as sources (a test between lived-experience
staff and others, a difference with the rest of the field, a weighted mean over its weighting
cells); statistics from models over organisations are computed after the gate, on the
organisations whose cells it shows (:meth:`~fieldsurvey.results.Results.add_derived`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.analyse.cells import cell_mask, cell_statistics
from fieldsurvey.analyse.cells import object_dims as _object_dims
from fieldsurvey.analyse.report_benchmarking import BENCHMARK_SECTIONS
from fieldsurvey.analyse.report_findings import FINDING_HIT, HIT_VALUES, ReportFindings
from fieldsurvey.analyse.study import (
    LIVED_LABELS,
    NO_SCORE,
    NOT_STATED,
    SIZE_BANDS,
    StudyData,
    items_of,
    score_ranges,
)
from fieldsurvey.results import ROW_VARIABLE, Except, Results

__all__ = [
    "OTHER",
    "SECTIONS",
    "THIS",
    "ReportModels",
    "cell_statistics",
    "organisation_entries",
    "report_results",
]

THIS, OTHER = "this", "other"
VALID_SUFFIX = "_n"
LIVED_GROUPS = [*LIVED_LABELS.values(), NOT_STATED]
#: Infix of the survey-weighted statistic columns: ``<scale>_weighted_<statistic>``.
WEIGHTED = "_weighted_"
ANSWERED = "answered:"
NOT_REPORTED = "not reported"


def _count_cells(cells: Sequence[dict[str, Any]]) -> pd.DataFrame:
    dims = list(dict.fromkeys(k for cell in cells for k in cell))
    return _object_dims(pd.DataFrame([{d: c.get(d) for d in dims} for c in cells]), dims)


def _stat_spec(scales: Sequence[str]) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    kinds: dict[str, str] = {}
    stat_n: dict[str, str] = {}
    for s in scales:
        kinds[f"{s}_mean"] = "mean"
        kinds[f"{s}_sd"] = "sd"
        stat_n[f"{s}_mean"] = stat_n[f"{s}_sd"] = f"{s}_n"
    return kinds, stat_n, {f"{s}_n": s for s in scales}


def _quiet(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


@dataclass
class ReportModels:
    """Study-wide model results, computed once per set of organisations the gate shows.

    Every report of a study fits the same models (shrinkage, funnel limits, drivers) on the
    organisations whose cells are shown; when the set is the same, the fit is reused. What
    every organisation's report reads alike (its respondents' frame, the favourable answers
    per question, every organisation's cell) is also made once, in ``cache``.
    """

    data: StudyData
    cache: dict[tuple, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, orgs: Sequence[str], compute: Callable[[], Any]) -> Any:
        key = (name, tuple(sorted(orgs)))
        if key not in self.cache:
            try:
                self.cache[key] = _quiet(compute)
            except Exception as exc:  # an analysis the data cannot support: the report says why
                self.errors[name] = f"{type(exc).__name__}: {exc}"
                self.cache[key] = None
        return self.cache[key]

    def benchmark(self) -> pd.DataFrame | None:
        """Each organisation against the rest of the field (leave-one-out), latest wave."""
        from fieldsurvey.compare import benchmark_organisations

        scales = [s.id for s in self.data.wellbeing]
        return self.get("benchmark", (), lambda: benchmark_organisations(
            self.data.current, scales, min_cell=self.data.min_cell))


#: An organisation's own breakdowns (by role, band, score range, lived experience) are shown
#: only when it has at least this many times the minimum cell size of respondents this wave;
#: smaller organisations' reports show the field's breakdowns instead. Most of a small
#: organisation's breakdown cells would be withheld anyway, and each one shown beside the
#: rest of the field is a subtraction away from revealing a handful of people.
BREAKDOWN_FACTOR = 3


@dataclass
class ReportContext:
    """What the section builders of one report share."""

    data: StudyData
    org: str | None
    frame: pd.DataFrame
    models: ReportModels

    @property
    def breakdown(self) -> bool:
        """Whether this report breaks its own respondents down (see ``BREAKDOWN_FACTOR``)."""
        if self.org is None:
            return True
        now = self.data.current
        return int((now["org"] == self.org).sum()) >= BREAKDOWN_FACTOR * self.data.min_cell

    @property
    def breakdown_units(self) -> list[dict[str, Any]]:
        """The units breakdowns are shown for: this report's, or the field's."""
        return self.units if self.breakdown else [{}]

    @property
    def breakdown_own(self) -> dict[str, Any]:
        return self.own if self.breakdown else {}

    @property
    def latest(self) -> str:
        return self.data.latest

    @property
    def own(self) -> dict[str, Any]:
        return {"org": self.org} if self.org is not None else {}

    @property
    def units(self) -> list[dict[str, Any]]:
        if self.org is None:
            return [{}]
        return [{"org": self.org}, {"org": Except(self.org)}]

    @property
    def wellbeing(self) -> list[str]:
        return [s.id for s in self.data.wellbeing]

    @property
    def conditions(self) -> list[str]:
        return [s.id for s in self.data.conditions]


# --------------------------------------------------------------------------------------------
# Sections


def _who_responded(ctx: ReportContext, results: Results) -> None:
    results.add_table(
        "respondents_by_wave", _count_cells([{**ctx.own, "wave": w} for w in ctx.data.waves])
    )
    roles = sorted(ctx.frame["role"].unique(), key=lambda r: (r == NOT_STATED, r))
    own = ctx.breakdown_own
    cells = [{**own, "wave": ctx.latest, "role": r} for r in roles]
    results.add_table("respondents_by_role", _count_cells([*cells, {**own, "wave": ctx.latest}]))
    if ctx.org is None:
        sizes = [label for _, _, label in SIZE_BANDS]
        results.add_table(
            "respondents_by_size",
            _count_cells([{"wave": ctx.latest, "size_band": s} for s in sizes]),
        )
    # The field's count this wave: the cell field-wide models describe (never shown by itself
    # in an organisation's report).
    results.add_table("_field", _count_cells([{"wave": ctx.latest}]))


def _scale_scores(ctx: ReportContext, results: Results) -> None:
    scales = ctx.wellbeing + ctx.conditions
    kinds, stat_n, measures = _stat_spec(scales)
    cells = [{**u, "wave": ctx.latest} for u in ctx.units]
    results.add_table("scale_scores", cell_statistics(ctx.frame, cells, scales), kinds,
                      stat_n=stat_n, measures=measures)
    if not ctx.breakdown:
        # The field's counts with a score: the denominators of the field's band shares shown
        # in place of this organisation's.
        table = cell_statistics(ctx.frame, [{"wave": ctx.latest}], ctx.wellbeing)
        counts = [f"{s}_n" for s in ctx.wellbeing]
        results.add_table("field_scores", table[["wave", *counts]], dict.fromkeys(counts, "sum"),
                          measures={c: c[:-2] for c in counts})


def _bands(ctx: ReportContext, results: Results) -> None:
    for info in ctx.data.wellbeing:
        if info.scale.bands:
            dim = f"{info.id}_band"
            cells = [{**u, "wave": ctx.latest, dim: b}
                     for u in ctx.breakdown_units for b in info.band_labels]
            results.add_table(f"bands_{info.id}", _count_cells(cells))
        if ctx.org is None:  # the field's score distribution (score ranges), field report only
            dim = f"{info.id}_bin"
            cells = [{"wave": ctx.latest, dim: b} for b in info.bin_labels]
            results.add_table(f"bins_{info.id}", _count_cells(cells))



def _lived_experience(ctx: ReportContext, results: Results) -> None:
    kinds, stat_n, measures = _stat_spec(ctx.wellbeing)
    cells = [{**u, "wave": ctx.latest, "lived_experience": g}
             for u in ctx.breakdown_units for g in ("yes", "no")]
    results.add_table("lived_experience", cell_statistics(ctx.frame, cells, ctx.wellbeing),
                      kinds, stat_n=stat_n, measures=measures)


def _lived_tests(ctx: ReportContext, results: Results) -> None:
    """Welch test and Hedges' g of lived-experience against other staff, one row per scale."""
    unit = {**ctx.breakdown_own, "wave": ctx.latest}
    # Organisations too small for their own breakdowns all test the field's unit: one fit,
    # made once (or ahead, see :func:`organisation_entries`), on the shared frame.
    shared = ctx.frame is ctx.models.cache.get(("report_frame",))
    key = ("lived_tests", tuple(unit.items()))
    rows = ctx.models.cache.get(key) if shared else None
    if rows is None:
        rows = _lived_test_rows(ctx.data, ctx.frame, unit)
        if shared:
            ctx.models.cache[key] = rows
    table = _object_dims(pd.DataFrame(rows), list(unit))
    sources = [[{**unit, "lived_experience": "yes"}, {**unit, "lived_experience": "no"}]] * len(rows)
    results.add_table("lived_experience_tests", table,
                      dict.fromkeys(("g", "g_ci_low", "g_ci_high", "p"), "other"),
                      variable="scale", sources=sources, source_measure=ROW_VARIABLE)


def _lived_test_rows(data: StudyData, frame: pd.DataFrame, unit: dict[str, Any]
                     ) -> list[dict[str, Any]]:
    from fieldsurvey.compare import welch_two_groups

    subset = frame.loc[cell_mask(frame, unit)]
    rows = []
    for s in [info.id for info in data.wellbeing]:
        a = subset.loc[subset["lived_experience"] == "yes", s].dropna().to_numpy(dtype=float)
        b = subset.loc[subset["lived_experience"] == "no", s].dropna().to_numpy(dtype=float)
        row = {**unit, "scale": s, "g": np.nan, "g_ci_low": np.nan, "g_ci_high": np.nan,
               "p": np.nan}
        if a.size >= 2 and b.size >= 2:
            res = _quiet(welch_two_groups, a, b)
            row.update(g=float(res["effect"]), g_ci_low=float(res["effect_ci_low"]),
                       g_ci_high=float(res["effect_ci_high"]), p=float(res["p"]))
        rows.append(row)
    return rows


def _invariance_rows(data: StudyData, latest: object) -> list[dict[str, Any]]:
    """Highest invariance level of each ProQOL scale, lived-experience against other staff
    (ordinal multi-group CFA: configural, thresholds, loadings, intercepts)."""
    from fieldsurvey.psychometrics.invariance import measurement_invariance

    current = data.current
    subset = current[current["lived_experience"].isin(["yes", "no"])]
    answers = items_of(subset).assign(group=subset["lived_experience"].to_numpy())
    rows = []
    for info in [s for s in data.wellbeing if s.instrument.id == "proqol5"]:
        try:
            # Likert answers as ordinal, on every answer given (pairwise information), not on
            # complete cases only (Wu & Estabrook 2016 steps, as semTools' measEq.syntax).
            res = _quiet(measurement_invariance, answers, info.instrument, "group",
                         scales=[info.id], min_group_size=data.min_cell, ordered=True,
                         missing="pairwise", collapse_empty=True)
            level, note = str(res.highest_level), ""
        except Exception as exc:  # reported in the text, never raised into a report
            level, note = "not tested", str(exc).split("\n")[0]
        rows.append({"wave": latest, "scale": info.id, "highest_level": level, "note": note})
    return rows


def _invariance(ctx: ReportContext, results: Results) -> None:
    """Invariance of each ProQOL scale between lived-experience and other staff, field-wide."""
    # Field-wide: the same fits for every report of the study, made once.
    rows = ctx.models.get("invariance", (), lambda: _invariance_rows(ctx.data, ctx.latest))
    if not rows:
        return
    cell = {"wave": ctx.latest}
    sources = [[{**cell, "lived_experience": "yes"}, {**cell, "lived_experience": "no"}]]
    results.add_table("invariance", _object_dims(pd.DataFrame(rows), ["wave"]),
                      {"highest_level": "other", "note": "other"}, variable="scale",
                      sources=sources * len(rows), source_measure=ROW_VARIABLE)


def _reliability(ctx: ReportContext, results: Results) -> None:
    """Alpha and omega total of each wellbeing scale on the report's own respondents."""
    cell = {**ctx.own, "wave": ctx.latest}
    # An organisation's row may have been computed ahead, in parallel with the other reports
    # (see :func:`organisation_entries`): the same function of the same data.
    row = ctx.models.cache.get(("reliability", ctx.org)) if ctx.org is not None else None
    if row is None:
        row = _reliability_row(ctx.data, ctx.frame, cell)
    table = _object_dims(pd.DataFrame([row]), list(cell))
    stats = {c: "other" for c in table.columns if c.endswith(("_alpha", "_omega"))}
    results.add_table("reliability", table, stats,
                      stat_n={c: f"{c.rsplit('_', 1)[0]}_rel_n" for c in stats},
                      measures={f"{s}_rel_n": f"{ANSWERED}{s}" for s in ctx.wellbeing})


def _reliability_row(data: StudyData, frame: pd.DataFrame, cell: dict[str, Any]
                     ) -> dict[str, Any]:
    """The reliability table's one row: per scale, respondents with an answer, alpha, omega."""
    from fieldsurvey.psychometrics import instrument_reliability

    answers = items_of(frame.loc[cell_mask(frame, cell)])
    row: dict[str, Any] = dict(cell)
    by_instrument: dict[str, list[str]] = {}
    for info in data.wellbeing:
        by_instrument.setdefault(info.instrument.id, []).append(info.id)
    for scale_ids in by_instrument.values():
        inst = data.scale(scale_ids[0]).instrument
        try:
            summary, _ = _quiet(instrument_reliability, answers, inst, scales=scale_ids,
                                min_respondents=2)
            summary = summary.set_index("scale")
        except Exception:  # too few answers to compute: withheld like any empty value
            summary = pd.DataFrame(index=scale_ids, columns=["n", "alpha", "omega_total"])
        for s in scale_ids:
            answered = int(frame.loc[cell_mask(frame, cell), f"{ANSWERED}{s}"].sum())
            row[f"{s}_rel_n"] = answered
            row[f"{s}_alpha"] = float(summary.at[s, "alpha"]) if s in summary.index else np.nan
            row[f"{s}_omega"] = float(summary.at[s, "omega_total"]) if s in summary.index else (
                np.nan)
    return row


def organisation_entries(data: StudyData, orgs: Sequence[str]) -> dict[tuple, Any]:
    """Fits of organisation reports that depend on nothing but the data, computed ahead.

    Alpha and omega on each organisation's own respondents and its lived-experience tests
    are most of an organisation report's analysis. A caller with spare processes can compute
    them in parallel and put the entries in the shared :class:`ReportModels`
    (``models.cache.update(entries)``); :func:`report_results` then uses them as they are:
    the same functions of the same data.

    Examples
    --------
    >>> entries = organisation_entries(load_study_data(open_study("s")), ["O01"])  # doctest: +SKIP
    >>> ("reliability", "O01") in entries  # doctest: +SKIP
    True
    """
    models = ReportModels(data)
    frame = models.cache[("report_frame",)] = _report_frame(data, None)
    entries: dict[tuple, Any] = {}
    for org in orgs:
        ctx = ReportContext(data, org, frame, models)
        entries[("reliability", org)] = _reliability_row(data, frame, {**ctx.own,
                                                                       "wave": ctx.latest})
        unit = {**ctx.breakdown_own, "wave": ctx.latest}
        key = ("lived_tests", tuple(unit.items()))
        if key not in entries:
            entries[key] = _lived_test_rows(data, frame, unit)
    return entries


def _organisations(ctx: ReportContext, results: Results) -> None:
    """Every organisation's cell this wave: what models over organisations are computed from."""
    cached = ctx.models.cache.get(("organisations",))
    if cached is None or cached[0] is not ctx.frame:  # the same table in every org's report
        cells = [{"org": o, "wave": ctx.latest} for o in ctx.data.organisations]
        cached = (ctx.frame, cell_statistics(ctx.frame, cells, ctx.wellbeing))
        ctx.models.cache[("organisations",)] = cached
    table = cached[1].copy()
    counts = [f"{s}_n" for s in ctx.wellbeing]
    results.add_table("_organisations", table[["org", "wave", *counts]],
                      dict.fromkeys(counts, "sum"), measures={c: c[:-2] for c in counts})


def _shown_orgs(view: Any, scales: Sequence[str]) -> list[str]:
    """Organisations whose count of valid scores is shown for every scale."""
    table = view.table("_organisations")
    shown = table[[f"{s}_n" for s in scales]].notna().all(axis=1) & table["n"].notna()
    return table.loc[shown, "org"].astype(str).tolist()


def _current_of(data: StudyData, orgs: Sequence[str]) -> pd.DataFrame:
    """The latest wave's responses of ``orgs``."""
    now = data.current
    return now[now["org"].isin(orgs)]


def _drivers(ctx: ReportContext, results: Results) -> None:
    """Variance shares and ICC(1) of burnout, STS and compassion satisfaction, field-wide."""
    outcomes = [s for s in ("burnout", "sts", "compassion_satisfaction") if s in ctx.wellbeing]
    if not ctx.data.conditions or not outcomes:
        return
    data, models = ctx.data, ctx.models

    def compute(view: Any) -> tuple[pd.DataFrame, list]:
        orgs = _shown_orgs(view, outcomes)
        # The fits are shared by every report: select their rows only when one is made.
        shares = models.get("variance_shares", orgs, lambda: _variance_shares(
            data, _current_of(data, orgs), outcomes))
        icc = models.get("icc", orgs, lambda: _organisation_icc(_current_of(data, orgs),
                                                                 outcomes))
        row: dict[str, Any] = {"wave": data.latest, "organisations": len(orgs)}
        for r in shares.itertuples() if shares is not None else ():
            key = f"{r.outcome}_{r.component}"
            row.update({f"{key}_r2": float(r.r2), f"{key}_share": float(r.share),
                        f"{key}_share_ci_low": float(r.share_ci_low),
                        f"{key}_share_ci_high": float(r.share_ci_high)})
        for r in icc.itertuples() if icc is not None else ():
            row.update({f"{r.outcome}_icc": float(r.icc_model),
                        f"{r.outcome}_icc_ci_low": float(r.ci_low),
                        f"{r.outcome}_icc_ci_high": float(r.ci_high)})
        table = _object_dims(pd.DataFrame([row]), ["wave"])
        return table, [[{"org": o, "wave": data.latest} for o in orgs]]

    stats = {}
    measure = {}
    for outcome in outcomes:
        for col in _driver_columns(outcome):
            stats[col] = "other"
            measure[col] = outcome
    stats["organisations"] = "other"
    results.add_derived("drivers", compute, stats, source_measure=measure)


def _driver_columns(outcome: str) -> list[str]:
    cols = [f"{outcome}_icc", f"{outcome}_icc_ci_low", f"{outcome}_icc_ci_high"]
    for component in ("total", "organisation_conditions", "individual_conditions", "personal"):
        key = f"{outcome}_{component}"
        cols += [f"{key}_r2", f"{key}_share", f"{key}_share_ci_low", f"{key}_share_ci_high"]
    return cols


def _variance_shares(data: StudyData, now: pd.DataFrame, outcomes: list[str]) -> pd.DataFrame:
    from fieldsurvey import compare

    covariates = {c: k for c, k in compare.COVARIATES.items()
                  if c in now.columns and c != "wf_hours"}
    return compare.variance_shares(now, outcomes, covariates=covariates, n_boot=data.n_boot,
                                   seed=0)


def _organisation_icc(now: pd.DataFrame, outcomes: list[str]) -> pd.DataFrame:
    from fieldsurvey import compare

    return compare.organisation_icc(now, outcomes)


def _position(ctx: ReportContext, results: Results) -> None:
    """The organisation against the rest of the field: difference with its interval and p."""
    if ctx.org is None:
        return
    bench = ctx.models.benchmark()
    unit = {"org": ctx.org, "wave": ctx.latest}
    row: dict[str, Any] = dict(unit)
    stats: dict[str, str] = {}
    measure: dict[str, str] = {}
    # The study's benchmark split by organisation and scale once, not filtered per report.
    by_org = ctx.models.get("benchmark:rows", (), lambda: _benchmark_rows(bench))
    mine = by_org.get(ctx.org, {}) if by_org is not None else {}
    for s in ctx.wellbeing:
        values = mine.get(s)
        for k in ("diff", "diff_ci_low", "diff_ci_high", "p", "ci_low", "ci_high"):
            row[f"{s}_{k}"] = float(values[k]) if values is not None else np.nan
            stats[f"{s}_{k}"] = "other"
            measure[f"{s}_{k}"] = s
    sources = [[unit, {"org": Except(ctx.org), "wave": ctx.latest}]]
    results.add_table("position", _object_dims(pd.DataFrame([row]), list(unit)), stats,
                      sources=sources, source_measure=measure)


def _benchmark_rows(bench: pd.DataFrame | None) -> dict[str, dict[str, dict[str, Any]]]:
    """Organisation -> scale -> the benchmark's first row for them (column -> value)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    if bench is None:
        return out
    for org, scale, record in zip(bench["org"].astype(str), bench["scale"],
                                  bench.to_dict("records"), strict=True):
        out.setdefault(org, {}).setdefault(scale, record)
    return out


def _position_model(ctx: ReportContext, results: Results) -> None:
    """Shrunken mean and funnel limits, from a model of the organisations the gate shows.

    One row per scale: each scale's model uses the organisations whose valid scores on that
    scale are shown (its sources).
    """
    if ctx.org is None:
        return
    from fieldsurvey.compare import funnel_limits, shrink_organisation_means

    data, models, org, scales = ctx.data, ctx.models, ctx.org, ctx.wellbeing

    def compute(view: Any) -> tuple[pd.DataFrame, list]:
        rows, sources = [], []
        for scale in scales:
            orgs = _shown_orgs(view, [scale])
            row: dict[str, Any] = {"org": org, "wave": data.latest, "scale": scale}
            if len(orgs) >= 3:
                shrunk = models.get(f"shrinkage:{scale}", orgs, lambda o=orgs, s=scale:
                                    shrink_organisation_means(_current_of(data, o), [s]))
                funnel = models.get(f"funnel:{scale}", orgs, lambda o=orgs, s=scale:
                                    funnel_limits(_current_of(data, o), [s]))
                for r in _rows_of(models, f"shrinkage:{scale}", orgs, shrunk, org):
                    row.update({k: float(getattr(r, k)) for k in SHRINKAGE})
                for r in _rows_of(models, f"funnel:{scale}", orgs, funnel, org):
                    row.update({f"funnel_{k}": float(getattr(r, k)) for k in FUNNEL})
            rows.append(row)
            sources.append([{"org": o, "wave": data.latest} for o in orgs])
        return _object_dims(pd.DataFrame(rows), ["org", "wave"]), sources

    stats = dict.fromkeys([*SHRINKAGE, *(f"funnel_{k}" for k in FUNNEL)], "other")
    results.add_derived("position_model", compute, stats, variable="scale",
                        source_measure=ROW_VARIABLE)


SHRINKAGE = ("shrunk_mean", "shrunk_ci_low", "shrunk_ci_high")
FUNNEL = ("target", "lower95", "upper95", "lower998", "upper998", "sigma", "tau2")


def _rows_of(models: ReportModels, name: str, orgs: Sequence[str], table: pd.DataFrame | None,
             org: str) -> list[Any]:
    """The rows of a model's table (``models.get(name, orgs)``) about ``org``: the table is
    split by organisation once, not once per report."""
    if table is None:
        return []
    by_org = models.get(f"{name}:rows", orgs, lambda: _split_by_org(table))
    return by_org.get(org, []) if by_org is not None else []


def _split_by_org(table: pd.DataFrame) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for row, org in zip(table.itertuples(), table["org"].astype(str), strict=True):
        out.setdefault(org, []).append(row)
    return out


def _trend(ctx: ReportContext, results: Results) -> None:
    kinds, stat_n, measures = _stat_spec(ctx.wellbeing)
    cells = [{**u, "wave": w} for u in ctx.units for w in ctx.data.waves]
    results.add_table("trend", cell_statistics(ctx.frame, cells, ctx.wellbeing), kinds,
                      stat_n=stat_n, measures=measures)


def _weighted_scores(ctx: ReportContext, results: Results) -> None:
    """Survey-weighted means of the scale-score cells, from their weighting cells.

    A weighted mean is a weighted sum of the means of its weighting cells (organisation x
    role), so each names those cells as its sources: it is shown only where every weighting
    cell is. Field-wide: the field's weighted mean with an interval clustered by organisation.
    Organisation report: the organisation's and the rest of the field's, and the weighted
    difference (in the organisation's row, from both units' cells).
    """
    if ctx.data.weights is None:
        return
    from fieldsurvey.compare import weighted_means

    data, frame, latest = ctx.data, ctx.frame, ctx.latest
    now = frame.loc[frame["wave"] == latest]
    weights = data.weights.loc[now.index]
    weighted = now.loc[weights.notna().to_numpy()]
    scales = ctx.wellbeing
    rows, sources = [], []
    for u in ctx.units:
        cell = {**u, "wave": latest}
        part = weighted.loc[cell_mask(weighted, cell)]
        cells = part[["org", "role"]].drop_duplicates().sort_values(["org", "role"])
        sources.append([{"org": o, "role": r, "wave": latest} for o, r in cells.itertuples(
            index=False)])
        rows.append(cell)
    if ctx.org is None:
        stats = _quiet(weighted_means, now, scales, weights, cluster="org").set_index("scale")
        values = [{f"{s}{WEIGHTED}{k}": float(stats.at[s, c]) for s in scales
                   for k, c in (("mean", "weighted_mean"), ("ci_low", "ci_low"),
                                ("ci_high", "ci_high"))}]
    else:
        values = _weighted_org_values(ctx, now, weights, scales)
    table = _object_dims(pd.DataFrame([{**r, **v} for r, v in zip(rows, values, strict=True)]),
                         ["org", "wave"] if ctx.org is not None else ["wave"])
    if ctx.org is not None:
        # The difference rests on both units: its sources are both units' weighting cells.
        sources[0] = sources[0] + sources[1]
    stats = {c: "other" for c in table.columns if WEIGHTED in c}
    results.add_table("weighted_scores", table, stats, sources=sources,
                      source_measure={c: c.split(WEIGHTED)[0] for c in stats})


def _weighted_org_values(ctx: ReportContext, now: pd.DataFrame, weights: pd.Series,
                         scales: list[str]) -> list[dict[str, float]]:
    from fieldsurvey.compare import weighted_differences, weighted_means

    mine = _quiet(weighted_differences, now, scales, weights, org="org")
    mine = mine[mine["org"] == ctx.org].set_index("scale")
    rest = (now["org"] != ctx.org).to_numpy()
    field = _quiet(weighted_means, now[rest], scales, weights[rest], cluster="org")
    field = field.set_index("scale")
    this: dict[str, float] = {}
    other: dict[str, float] = {}
    for s in scales:
        pairs = {
            "mean": (mine.at[s, "weighted_mean"], field.at[s, "weighted_mean"]),
            "ci_low": (mine.at[s, "weighted_ci_low"], field.at[s, "ci_low"]),
            "ci_high": (mine.at[s, "weighted_ci_high"], field.at[s, "ci_high"]),
            "diff": (mine.at[s, "weighted_diff"], np.nan),
            "diff_ci_low": (mine.at[s, "weighted_diff_ci_low"], np.nan),
            "diff_ci_high": (mine.at[s, "weighted_diff_ci_high"], np.nan),
        }
        for stat, (a, b) in pairs.items():
            this[f"{s}{WEIGHTED}{stat}"] = float(a)
            other[f"{s}{WEIGHTED}{stat}"] = float(b)
    return [this, other]


def _findings(ctx: ReportContext, results: Results, findings: ReportFindings | None) -> None:
    if findings is not None:
        findings.add_to(results, ctx.frame)


#: The report's sections, in order; each adds its tables to the report's results.
SECTIONS: tuple[Callable[[ReportContext, Results], None], ...] = (
    _who_responded,
    _scale_scores,
    _weighted_scores,
    _bands,
    _lived_experience,
    _lived_tests,
    _invariance,
    _reliability,
    _organisations,
    _drivers,
    _position,
    _position_model,
    _trend,
    *BENCHMARK_SECTIONS,
)


def _report_frame(data: StudyData, findings: ReportFindings | None) -> pd.DataFrame:
    frame = data.frame
    for s in data.wellbeing:
        items = list(s.scale.items)
        answered = items_of(frame)[items].notna().any(axis=1) if items else False
        frame = frame.assign(**{f"{ANSWERED}{s.id}": answered})
    if findings is not None:
        extra = pd.concat([findings.dimensions, findings.values], axis=1)
        frame = frame.assign(**{c: extra[c].to_numpy() for c in extra.columns})
    return frame


def _declarations(data: StudyData, findings: ReportFindings | None) -> dict[str, Any]:
    """The report's dimensions with their categories, links and remainders."""
    bands = [s for s in data.wellbeing if s.scale.bands]
    dims = ["org", "wave", "role", "lived_experience", "size_band",
            *[f"{s.id}_band" for s in bands], *[f"{s.id}_bin" for s in data.wellbeing]]
    domains: dict[str, list[Any]] = {
        "lived_experience": LIVED_GROUPS,
        "role": list(data.roles),
        "size_band": [label for _, _, label in SIZE_BANDS],
        "wave": list(data.waves),
    }
    linked = {"size_band": "org", "org": "org"}
    unprotected: dict[str, list[Any]] = {}
    ranges: dict[str, dict[str, tuple[float, float]]] = {}
    for info in data.wellbeing:
        ranges.update(score_ranges(info))
        if info.scale.bands:
            domains[f"{info.id}_band"] = [*info.band_labels, NO_SCORE]
            linked[f"{info.id}_band"] = info.id
            unprotected[f"{info.id}_band"] = [NO_SCORE]
        domains[f"{info.id}_bin"] = [*info.bin_labels, NO_SCORE]
        linked[f"{info.id}_bin"] = info.id
        unprotected[f"{info.id}_bin"] = [NO_SCORE]
    if findings is not None:
        for column in findings.dimensions.columns:
            dims.append(column)
            hit = column.startswith(FINDING_HIT)
            domains[column] = [*HIT_VALUES, NOT_REPORTED] if hit else ["in", "out"]
            unprotected[column] = [NO_SCORE, NOT_REPORTED] if hit else []
        linked.update(findings.linked)
    return {"dims": dims, "domains": domains, "linked": linked, "unprotected": unprotected,
            "score_ranges": ranges,
            # Members know roughly how big the other members are.
            "determined_by": {"size_band": "org"}}


def _empty_results(data: StudyData, frame: pd.DataFrame,
                   findings: ReportFindings | None) -> Results:
    """A report's results before its sections add their tables."""
    spec = _declarations(data, findings)
    measures = frame[[s.id for s in [*data.wellbeing, *data.conditions]]
                     + [f"{ANSWERED}{s.id}" for s in data.wellbeing]]
    if findings is not None and not findings.values.empty:
        extra = findings.values.set_axis(frame.index)
        measures = pd.concat([measures, extra[[c for c in extra if c not in measures]]], axis=1)
    return Results(frame[spec["dims"]], spec["dims"], measures=measures, keys=data.keys,
                   linked=spec["linked"], determined_by=spec["determined_by"],
                   domains=spec["domains"],
                   unprotected=spec["unprotected"], score_ranges=spec["score_ranges"])


def report_results(
    data: StudyData,
    org: str | None = None,
    findings: ReportFindings | None = None,
    *,
    models: ReportModels | None = None,
) -> Results:
    """Every statistic of one report (the field-wide one, or ``org``'s), for the gate.

    Parameters
    ----------
    data : StudyData
        From :func:`~fieldsurvey.analyse.load_study_data`.
    org : str, optional
        The organisation whose report this is; None for the field-wide report.
    findings : ReportFindings, optional
        Published findings the field-wide report recomputes
        (:func:`~fieldsurvey.analyse.report_findings.report_findings`).
    models : ReportModels, optional
        Shared model fits of the study (pass the same object to every report of a study).

    Returns
    -------
    Results

    Examples
    --------
    >>> results = report_results(load_study_data(open_study("s")), org="O01")  # doctest: +SKIP
    >>> "scale_scores" in results.tables  # doctest: +SKIP
    True
    """
    if org is not None and org not in set(data.frame["org"]):
        raise ValueError(
            f"organisation {org!r} has no responses in this study; "
            f"organisations: {', '.join(data.organisations)}"
        )
    if org is not None:
        findings = None  # an organisation's report recomputes no published findings
    models = models or ReportModels(data)
    if findings is None:  # the same frame for every organisation's report: made once
        frame = models.cache.get(("report_frame",))
        if frame is None:
            frame = models.cache[("report_frame",)] = _report_frame(data, None)
    else:
        frame = _report_frame(data, findings)
    if findings is None:
        # The same respondents, dimensions and measures in every organisation's report: set
        # up once (about a tenth of an organisation report's analysis), tables added per report.
        cached = models.cache.get(("results",))
        if cached is None or cached[0] is not frame:
            cached = models.cache[("results",)] = (frame, _empty_results(data, frame, None))
        results = cached[1].without_tables()
    else:
        results = _empty_results(data, frame, findings)
    ctx = ReportContext(data, org, frame, models)
    for section in SECTIONS:
        section(ctx, results)
    _findings(ctx, results, findings)
    return results
