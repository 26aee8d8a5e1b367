"""The release of one report: every table it shows, gated together.

One report is one output set. :func:`report_release` lists every respondent cell the report
can show - response counts, scale statistics, band and score-range counts, reliability,
lived-experience groups, structural conditions, trend, an organisation's position - as
tables of one :class:`~fieldsurvey.disclosure.Release`, and :func:`gated_tables` gates them
together so complementary suppression works across all tables of the report.

Dimensions of the release (one row per response):

``wave``, ``role``, ``lived_experience`` (sensitive), ``size_band``, ``<scale>_band`` and
``<scale>_bin`` for every wellbeing scale, in the field-wide report one
``finding_population_<k>`` (``in``/``out``) for each distinct population that published
findings' filters define (see :func:`report_findings`), and in an organisation's report
``focus``: ``this`` (the organisation) or ``other`` (the rest of the field). A cell ``focus=other`` is "the field
without this organisation", so the gate sees that it and the organisation's own cell add up to
the field. Other organisations are never cells of an organisation's report: nothing in it
describes another organisation.

When the study gives staff head counts (:attr:`StudyData.weights`), the table
``weighted_scores`` holds survey-weighted means of the ``scale_scores`` cells, each withheld
with its scale's unweighted mean (see :func:`_weighted_statistics`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.disclosure import DisclosurePolicy, GatedRelease, Release, gate
from fieldsurvey.report.study_data import (
    LIVED_LABELS,
    NOT_STATED,
    SIZE_BANDS,
    StudyData,
)
from fieldsurvey.reproduce.findings import FindingsFile
from fieldsurvey.reproduce.recompute import (
    LIVED_GROUP,
    REPRODUCE_COLUMNS,
    Estimate,
    FindingCell,
    add_finding_table,
    compute_findings,
    gated_finding_row,
    mean_estimate,
    population_dimensions,
    proportion_estimate,
    sd_estimate,
    shown_finding_row,
)

__all__ = [
    "ReportFindings",
    "cell_statistics",
    "gated_tables",
    "report_findings",
    "report_release",
]

THIS, OTHER = "this", "other"
VALID_SUFFIX = "_n"  # a scale's count of valid scores, as in the scale tables
LIVED_GROUPS = [*LIVED_LABELS.values(), NOT_STATED]
FINDING_POPULATION = "finding_population_"
FINDING_HIT = "finding_counts_"
HIT_VALUES = ["yes", "no", "no score"]
#: Infix of the survey-weighted statistic columns: ``<scale>_weighted_<statistic>``.
WEIGHTED = "_weighted_"
NOT_REPORTED = "not reported"
#: Shown instead of a reason that would tell how few respondents a population has.
TOO_FEW = (
    "too few respondents: the value rests on fewer than the minimum cell size or would reveal "
    "a smaller group"
)


def cell_statistics(
    frame: pd.DataFrame, cells: Sequence[dict[str, Any]], scales: Sequence[str]
) -> pd.DataFrame:
    """n, mean and SD of each scale in each cell (``None`` in a cell means "all").

    Returns one row per cell: the cell's dimension columns, then ``<scale>_n``,
    ``<scale>_mean``, ``<scale>_sd`` per scale.

    Examples
    --------
    >>> f = pd.DataFrame({"wave": ["1", "1", "2"], "x": [1.0, 3.0, 5.0]})
    >>> cell_statistics(f, [{"wave": "1"}, {"wave": None}], ["x"])["x_mean"].tolist()
    [2.0, 3.0]
    """
    dims = list(dict.fromkeys(k for cell in cells for k in cell))
    values = frame[list(scales)].to_numpy(dtype=float)
    rows = []
    for cell in cells:
        mask = np.ones(len(frame), dtype=bool)
        for dim, value in cell.items():
            if value is not None:
                mask &= (frame[dim] == value).to_numpy()
        block = values[mask]
        valid = ~np.isnan(block)
        n = valid.sum(axis=0)
        total = np.where(valid, block, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
            squares = np.where(valid, (block - mean) ** 2, 0.0).sum(axis=0)
            sd = np.where(n > 1, np.sqrt(squares / np.maximum(n - 1, 1)), np.nan)
        row: dict[str, Any] = {d: cell.get(d) for d in dims}
        for j, scale in enumerate(scales):
            row[f"{scale}_n"] = int(n[j])
            row[f"{scale}_mean"] = float(mean[j])
            row[f"{scale}_sd"] = float(sd[j])
        rows.append(row)
    out = pd.DataFrame(rows)
    for d in dims:
        out[d] = out[d].astype(object)
    return out


def _stat_spec(scales: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    kinds: dict[str, str] = {}
    stat_n: dict[str, str] = {}
    for s in scales:
        kinds[f"{s}_mean"] = "mean"
        kinds[f"{s}_sd"] = "sd"
        stat_n[f"{s}_mean"] = f"{s}_n"
        stat_n[f"{s}_sd"] = f"{s}_n"
    return kinds, stat_n


def _count_cells(cells: Sequence[dict[str, Any]]) -> pd.DataFrame:
    dims = list(dict.fromkeys(k for cell in cells for k in cell))
    return pd.DataFrame([{d: cell.get(d) for d in dims} for cell in cells], dtype=object)


@dataclass
class ReportFindings:
    """Published findings recomputed on the field-wide report's respondents (ungated).

    ``cells`` are the findings in file order (:class:`~fieldsurvey.reproduce.recompute.
    FindingCell`). ``dimensions`` holds, one row per response of the study, an ``in``/``out``
    column per distinct filtered population (``in`` only in the reported wave) and a
    ``yes``/``no``/``no score`` column per distinct proportion (whom the proportion counts);
    ``values`` the score columns the findings need that the report frame lacks.
    ``population``, ``hit`` and ``tables`` name each finding's population dimension, counting
    dimension and release table. Nothing here may be shown before :meth:`gated_rows`.
    """

    title: str
    wave: str
    cells: list[FindingCell]
    dimensions: pd.DataFrame
    values: pd.DataFrame
    population: dict[int, str] = field(default_factory=dict)
    hit: dict[int, str] = field(default_factory=dict)
    tables: dict[int, str] = field(default_factory=dict)

    def _where(self, i: int) -> dict[str, Any]:
        where: dict[str, Any] = {"wave": self.wave}
        if i in self.population:
            where[self.population[i]] = "in"
        return where

    def add_to(self, release: Release, frame: pd.DataFrame) -> None:
        """Add every computed finding to the report's release.

        A proportion is released as counts: its population's scored count (``<scale>_n``,
        the same variable as in the scale tables) and the count of respondents it counts (a
        cell of its counting dimension), like the report's band shares. A mean or SD is
        released as ``<scale>_mean``/``<scale>_sd`` of its population with ``<scale>_n``, the
        variables of the scale tables, so the audit sees one population's figures in every
        table at once. Other statistics (correlations, tests, effect sizes) are ``other``
        statistics of their population (:func:`~fieldsurvey.reproduce.recompute.
        add_finding_table`). Interval and difference are computed after gating, from the shown
        numbers only.
        """
        lived_cell = {"lived_experience": "yes"}
        for i, cell in enumerate(self.cells):
            if i not in self.tables:
                continue
            where = self._where(i)
            scale = cell.scale
            if cell.hit is not None and scale is not None:
                valid = f"{scale}_n"
                counted = {**where, self.hit[i]: "yes"}
                cells = [where, counted, {**where, **lived_cell}, {**counted, **lived_cell}]
                table = _count_cells(cells)
                scored = cell_statistics(frame, [where, {**where, **lived_cell}], [scale])
                table[valid] = [scored[valid].iat[0], np.nan, scored[valid].iat[1], np.nan]
                release.add_table(self.tables[i], table, {valid: "sum"}, stat_n={valid: valid})
            elif scale is not None:
                kinds, stat_n = _stat_spec([scale])
                table = cell_statistics(frame, [where, {**where, **lived_cell}], [scale])
                release.add_table(self.tables[i], table, kinds, stat_n=stat_n)
            else:
                compares = "lived_experience" if cell.compares_lived else None
                lived = None if compares else lived_cell
                add_finding_table(release, self.tables[i], cell, where, lived, compares=compares)

    def gated_rows(self, gated: GatedRelease) -> pd.DataFrame:
        """One row per finding (``REPRODUCE_COLUMNS``) holding only what ``gated`` shows."""
        min_cell = gated.policy.min_cell
        rows = []
        for i, cell in enumerate(self.cells):
            if i not in self.tables:
                row = dict(cell.row)
            elif cell.scale is None:
                row = gated_finding_row(cell, gated.tables[self.tables[i]], min_cell)
            else:
                table = gated.tables[self.tables[i]]
                overall, lived = (_shown_estimate(cell, table, pos) for pos in (0, 1))
                row = shown_finding_row(cell, overall, lived, min_cell)
            if row["verdict"] == "not computable" and "respondent" in str(row["reason"]):
                # "fewer than 2 respondents have this score" tells how small a group is.
                row["reason"] = TOO_FEW
            rows.append(row)
        return pd.DataFrame(rows, columns=REPRODUCE_COLUMNS)


def _number(value: Any) -> float | None:
    if value is None or value is pd.NA or pd.isna(value):
        return None
    return float(value)


def _shown_estimate(cell: FindingCell, table: pd.DataFrame, which: int) -> Estimate | None:
    """The estimate of row ``which`` (0 population, 1 lived experience) from gated numbers."""
    scale, level = str(cell.scale), cell.confidence
    if cell.hit is not None:
        k = _number(table["n"].iat[2 * which + 1])
        n = _number(table[f"{scale}_n"].iat[2 * which])
        if k is None or n is None or n <= 0:
            return None
        return proportion_estimate(int(k), int(n), level)
    n = _number(table[f"{scale}_n"].iat[which])
    mean = _number(table[f"{scale}_mean"].iat[which])
    sd = _number(table[f"{scale}_sd"].iat[which])
    if n is None or mean is None or sd is None or n < 2:
        return None
    if cell.finding.recipe.statistic == "sd":
        return sd_estimate(sd, int(n), level)
    return mean_estimate(mean, sd, int(n), level)


def _findings_frame(data: StudyData) -> tuple[pd.DataFrame, np.ndarray]:
    """The reported wave's responses with every scale score, and their rows in ``data.frame``."""
    rows = np.flatnonzero((data.frame["wave"] == data.latest).to_numpy())
    scores = data.scores
    keep = [
        c
        for c in data.frame.columns
        if not c.startswith("item:") and c not in scores.columns and not c.endswith("_bin")
    ]
    context = data.frame.iloc[rows][keep].reset_index(drop=True)
    if scores.empty:  # a StudyData built without every scale: the reported scales only
        return data.frame.iloc[rows].reset_index(drop=True), rows
    return pd.concat([context, scores.iloc[rows].reset_index(drop=True)], axis=1), rows


def _spread(rows: np.ndarray, n: int, values: np.ndarray, other: str) -> np.ndarray:
    """Values of the reported wave's rows placed into all ``n`` responses (``other`` elsewhere)."""
    full = np.full(n, other, dtype=object)
    full[rows] = values
    return full


def report_findings(data: StudyData, findings: FindingsFile) -> ReportFindings:
    """Recompute published findings on the reported wave for the field-wide report's release.

    Each finding's population (its recipe's ``filters``) becomes a dimension of the report's
    release and its lived-experience staff the cell ``lived_experience = yes`` in it, so the
    gate sees the findings' values with every other table of the report. A finding whose
    filters single out organisations, or that compares groups other than lived experience,
    is not computable in the report (the reason says so): the field-wide report describes no
    single organisation and has no other group dimension to gate a contrast on.

    Parameters
    ----------
    data : StudyData
    findings : FindingsFile

    Returns
    -------
    ReportFindings

    Examples
    --------
    >>> rf = report_findings(data, load_findings("analysis/field-findings.yaml"))  # doctest: +SKIP
    >>> gated_tables(data, None, rf)  # doctest: +SKIP
    """
    frame, rows = _findings_frame(data)
    cells = compute_findings(frame, findings, data.study.instruments(), min_cell=data.min_cell)
    org_columns = {"org", str(data.study.config.org_column)}
    for cell in cells:
        recipe = cell.finding.recipe
        if not cell.computed:
            continue
        if org_columns & set(recipe.filters):
            cell.mark_not_computable(
                "the recipe filters on organisation; the field-wide report describes no single "
                "organisation"
            )
        elif recipe.groups and list(recipe.groups) != [LIVED_GROUP]:
            cell.mark_not_computable(
                f"the finding compares groups of {', '.join(recipe.groups)}, which the report "
                "cannot gate (only lived-experience comparisons are shown)"
            )
    n = len(data.frame)
    latest = pd.DataFrame(index=range(len(frame)))
    population = population_dimensions(cells, latest, prefix=FINDING_POPULATION)
    dimensions = pd.DataFrame(
        {c: _spread(rows, n, latest[c].to_numpy(), "out") for c in latest.columns}, index=range(n)
    )
    hit: dict[int, str] = {}
    seen: dict[bytes, str] = {}
    values = pd.DataFrame(index=range(n))
    tables: dict[int, str] = {}
    for i, cell in enumerate(cells):
        if not cell.computed:
            continue
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", cell.finding.id)
        name = f"finding_{slug}"
        tables[i] = name if name not in tables.values() else f"{name}_{i + 1}"
        if cell.scale is not None and cell.scale not in data.frame.columns:
            values[cell.scale] = _spread(
                rows, n, pd.to_numeric(frame[cell.scale], errors="coerce").to_numpy(), "nan"
            ).astype(float)
        if cell.hit is not None:
            key = pd.Categorical(cell.hit, categories=HIT_VALUES).codes.tobytes()
            if key not in seen:
                seen[key] = f"{FINDING_HIT}{len(seen) + 1}"
                dimensions[seen[key]] = _spread(rows, n, cell.hit, NOT_REPORTED)
            hit[i] = seen[key]
    title = findings.title if isinstance(findings, FindingsFile) else ""
    return ReportFindings(title, data.latest, cells, dimensions, values, population, hit, tables)


def report_release(
    data: StudyData,
    org: str | None = None,
    findings: ReportFindings | FindingsFile | None = None,
) -> Release:
    """All tables of one report (the field-wide one, or ``org``'s) as one release.

    Parameters
    ----------
    data : StudyData
    org : str, optional
        The organisation whose report this is; None for the field-wide report.
    findings : ReportFindings or FindingsFile, optional
        Published findings whose reproduction the field-wide report shows (ignored in an
        organisation's report, which shows no reproduction).

    Returns
    -------
    Release

    Examples
    --------
    >>> rel = report_release(load_study_data(open_study("s")), org="O01")  # doctest: +SKIP
    >>> "scale_scores" in rel.tables  # doctest: +SKIP
    True
    """
    frame = data.frame
    if org is not None:
        if org not in set(frame["org"]):
            raise ValueError(
                f"organisation {org!r} has no responses in this study; "
                f"organisations: {', '.join(data.organisations)}"
            )
        frame = frame.assign(focus=np.where(frame["org"] == org, THIS, OTHER))
    wellbeing = [s.id for s in data.wellbeing]
    conditions = [s.id for s in data.conditions]
    band_dims = [f"{s.id}_band" for s in data.wellbeing if s.scale.bands]
    bin_dims = [f"{s.id}_bin" for s in data.wellbeing]
    dims = ["wave", "role", "lived_experience", "size_band", *band_dims, *bin_dims]
    if org is not None:
        dims = ["focus", *dims]
    reproduced: ReportFindings | None = None
    if org is None and findings is not None:
        reproduced = (
            findings if isinstance(findings, ReportFindings) else report_findings(data, findings)
        )
        extra = pd.concat([reproduced.dimensions, reproduced.values], axis=1)
        frame = frame.assign(**{c: extra[c].to_numpy() for c in extra.columns})
        dims += list(reproduced.dimensions.columns)
    domains: dict[str, list[Any]] = {
        "lived_experience": LIVED_GROUPS,
        "size_band": [label for _, _, label in SIZE_BANDS],
        "wave": list(data.waves),
    }
    for info in data.wellbeing:
        if info.scale.bands:
            domains[f"{info.id}_band"] = info.band_labels
        domains[f"{info.id}_bin"] = info.bin_labels
    if org is not None:
        domains["focus"] = [THIS, OTHER]
    if reproduced is not None:
        for column in reproduced.dimensions.columns:
            counts = column.startswith(FINDING_HIT)
            domains[column] = [*HIT_VALUES, NOT_REPORTED] if counts else ["in", "out"]
    # Band and score-range dimensions are crossed only as observed: the audit then assumes an
    # attacker knows which score combinations occur (a stronger attacker, so more suppression,
    # never less) and the universe of atoms stays near the number of respondents.
    release = Release(frame[dims], dims, domains=domains, public_support=[tuple(dims)])
    latest = data.latest
    own = {"focus": THIS} if org is not None else {}
    units = [{"focus": THIS}, {"focus": OTHER}] if org is not None else [{}]

    # Who responded.
    release.add_table(
        "respondents_by_wave",
        _count_cells([{**own, "wave": w} for w in data.waves]),
    )
    roles = sorted(frame["role"].unique(), key=lambda r: (r == NOT_STATED, r))
    release.add_table(
        "respondents_by_role",
        _count_cells(
            [{**own, "wave": latest, "role": r} for r in roles] + [{**own, "wave": latest}]
        ),
    )
    if org is None:
        sizes = [label for _, _, label in SIZE_BANDS]
        release.add_table(
            "respondents_by_size",
            _count_cells([{"wave": latest, "size_band": s} for s in sizes]),
        )

    # Scale statistics, this wave: the report's unit(s).
    kinds, stat_n = _stat_spec(wellbeing + conditions)
    cells = [{**u, "wave": latest} for u in units]
    scale_scores = cell_statistics(frame, cells, wellbeing + conditions)
    release.add_table("scale_scores", scale_scores, kinds, stat_n=stat_n)
    if data.weights is not None:
        # Survey-weighted estimates are further statistics of the same cells. Each names its
        # scale's valid-score count as its own count, the variable the unweighted mean names,
        # so the gate withholds both together (same withheld set, complements included).
        counts = scale_scores[[c for c in scale_scores.columns if c in dims]
                              + [f"{s}_n" for s in wellbeing]]  # fmt: skip
        weighted = pd.DataFrame(_weighted_statistics(data, frame, org, wellbeing))
        release.add_table(
            "weighted_scores",
            pd.concat([counts, weighted.set_index(counts.index)], axis=1),
            {c: "other" for c in weighted.columns},
            stat_n={c: f"{c.split(WEIGHTED)[0]}_n" for c in weighted.columns},
        )
    for info in data.wellbeing:
        if info.scale.bands:
            dim = f"{info.id}_band"
            release.add_table(
                f"bands_{info.id}",
                _count_cells(
                    [{**u, "wave": latest, dim: b} for u in units for b in info.band_labels]
                ),
            )
        dim = f"{info.id}_bin"
        release.add_table(
            f"bins_{info.id}",
            _count_cells([{**own, "wave": latest, dim: b} for b in info.bin_labels]),
        )

    # Lived experience next to other staff (and, in an organisation's report, in the rest of
    # the field).
    kinds_w, stat_n_w = _stat_spec(wellbeing)
    lived_cells = [
        {**u, "wave": latest, "lived_experience": g} for u in units for g in ("yes", "no")
    ]
    release.add_table(
        "lived_experience",
        cell_statistics(frame, lived_cells, wellbeing),
        kinds_w,
        stat_n=stat_n_w,
    )

    lived_tests = _lived_tests(frame, wellbeing, latest, own)
    release.add_table(
        "lived_experience_tests",
        lived_tests,
        {c: "other" for c in lived_tests.columns if c not in dims},
    )

    # Reliability on this report's own respondents.
    reliability = _reliability(data, frame, {**own, "wave": latest})
    release.add_table(
        "reliability",
        reliability,
        {c: "other" for c in reliability.columns if not c.endswith("_rel_n") and c not in dims},
        stat_n={
            f"{s}_{k}": f"{s}_rel_n"
            for s in wellbeing
            for k in ("alpha", "omega")
            if f"{s}_alpha" in reliability
        },
    )

    # Drivers: field-wide model results (every organisation's respondents).
    drivers = _drivers(data)
    if drivers is not None:
        release.add_table("drivers", drivers, {c: "other" for c in drivers.columns if c != "wave"})
    if org is not None:
        position = _position(data, org)
        # Each scale's figures rest on the organisation's valid scores of that scale: withheld
        # with them (a large organisation can still have few scores on one scale).
        counts = {c for c in position.columns if c.endswith(VALID_SUFFIX)}
        stats = [c for c in position.columns if c not in dims and c not in counts]
        stat_n = {}
        for column in stats:
            scale = next((c[: -len(VALID_SUFFIX)] for c in counts
                          if column.startswith(c[: -len(VALID_SUFFIX)] + "_")), None)
            if scale is not None:
                stat_n[column] = scale + VALID_SUFFIX
        release.add_table("position", position, {c: "other" for c in stats}, stat_n=stat_n)

    # Trend over waves.
    trend_cells = [{**u, "wave": w} for u in units for w in data.waves]
    release.add_table(
        "trend", cell_statistics(frame, trend_cells, wellbeing), kinds_w, stat_n=stat_n_w
    )

    # Published findings recomputed on this wave (field-wide report only).
    if reproduced is not None:
        reproduced.add_to(release, frame)
    return release


def _weighted_statistics(
    data: StudyData, frame: pd.DataFrame, org: str | None, scales: Sequence[str]
) -> dict[str, list[float]]:
    """Survey-weighted statistics of the ``scale_scores`` cells, in the cells' order.

    Field-wide report (one cell): ``<scale>_weighted_mean``, ``_weighted_ci_low``,
    ``_weighted_ci_high`` of the whole field, with linearisation intervals clustered by
    organisation. Organisation report (cells ``this``, ``other``): the organisation's weighted
    mean (its respondents the units of variance) and the weighted field without it (clustered
    by organisation), and in the ``this`` row the weighted difference with its interval
    (:func:`~fieldsurvey.compare.standardise.weighted_differences`).
    """
    from fieldsurvey.compare import weighted_differences, weighted_means

    assert data.weights is not None
    current = (frame["wave"] == data.latest).to_numpy()
    now = frame.loc[current]
    weights = data.weights.loc[now.index]
    out: dict[str, list[float]] = {}
    if org is None:
        field_wide = weighted_means(now, list(scales), weights, cluster="org").set_index("scale")
        for s in scales:
            for stat, column in (("mean", "weighted_mean"), ("ci_low", "ci_low"),
                                 ("ci_high", "ci_high")):  # fmt: skip
                out[f"{s}{WEIGHTED}{stat}"] = [float(field_wide.at[s, column])]
        return out
    mine = weighted_differences(now, list(scales), weights, org="org")
    mine = mine[mine["org"] == org].set_index("scale")
    rest = now["focus"] == OTHER
    field = weighted_means(now[rest], list(scales), weights[rest], cluster="org")
    field = field.set_index("scale")
    for s in scales:
        pairs = {
            "mean": (mine.at[s, "weighted_mean"], field.at[s, "weighted_mean"]),
            "ci_low": (mine.at[s, "weighted_ci_low"], field.at[s, "ci_low"]),
            "ci_high": (mine.at[s, "weighted_ci_high"], field.at[s, "ci_high"]),
            "diff": (mine.at[s, "weighted_diff"], np.nan),
            "diff_ci_low": (mine.at[s, "weighted_diff_ci_low"], np.nan),
            "diff_ci_high": (mine.at[s, "weighted_diff_ci_high"], np.nan),
        }
        for stat, (this, other) in pairs.items():
            out[f"{s}{WEIGHTED}{stat}"] = [float(this), float(other)]
    return out


def _withhold_unpaired_differences(gated: GatedRelease, org: str | None) -> GatedRelease:
    """Withhold a weighted difference whose rest-of-field mean is withheld.

    The difference sits in the organisation's row and is withheld with the organisation's
    mean by the gate; with the organisation's weighted mean it would also give the rest of
    the field's, so it is shown only when that is shown too (as the report does for every
    difference). Only withholds, never shows.
    """
    if org is None or "weighted_scores" not in gated.tables:
        return gated
    table = gated.tables["weighted_scores"]
    other = (table["focus"] == OTHER).to_numpy()
    this = (table["focus"] == THIS).to_numpy()
    for column in [c for c in table.columns if c.endswith(f"{WEIGHTED}mean")]:
        scale = column.split(WEIGHTED)[0]
        if table.loc[other, column].isna().any():
            for stat in ("diff", "diff_ci_low", "diff_ci_high"):
                table.loc[this, f"{scale}{WEIGHTED}{stat}"] = np.nan
    return gated


def gated_tables(
    data: StudyData,
    org: str | None = None,
    findings: ReportFindings | FindingsFile | None = None,
) -> GatedRelease:
    """Build the report's release and gate it with the study's minimum cell size.

    Examples
    --------
    >>> gated = gated_tables(load_study_data(open_study("s")))  # doctest: +SKIP
    >>> gated["respondents_by_wave"]  # doctest: +SKIP
    """
    policy = DisclosurePolicy(
        min_cell=data.min_cell,
        force_below_5=bool(data.study.config.force_min_cell),
        sensitive=("lived_experience",),
    )
    return _withhold_unpaired_differences(gate(report_release(data, org, findings), policy), org)


def _lived_tests(
    frame: pd.DataFrame, scales: Sequence[str], latest: str, own: dict[str, Any]
) -> pd.DataFrame:
    """Welch test and Hedges' g of lived-experience vs other staff, on the 'yes' cell."""
    from fieldsurvey.compare import welch_two_groups

    mask = (frame["wave"] == latest).to_numpy().copy()
    for dim, value in own.items():
        mask &= (frame[dim] == value).to_numpy()
    subset = frame.loc[mask]
    row: dict[str, Any] = {**own, "wave": latest, "lived_experience": "yes"}
    for s in scales:
        a = subset.loc[subset["lived_experience"] == "yes", s].dropna().to_numpy(dtype=float)
        b = subset.loc[subset["lived_experience"] == "no", s].dropna().to_numpy(dtype=float)
        g = p = lo = hi = np.nan
        if a.size >= 2 and b.size >= 2:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = welch_two_groups(a, b)
            g, p = float(res["effect"]), float(res["p"])
            lo, hi = float(res["effect_ci_low"]), float(res["effect_ci_high"])
        row.update({f"{s}_g": g, f"{s}_g_ci_low": lo, f"{s}_g_ci_high": hi, f"{s}_p": p})
    out = pd.DataFrame([row])
    for d in [*own, "wave", "lived_experience"]:
        out[d] = out[d].astype(object)
    return out


def _reliability(data: StudyData, frame: pd.DataFrame, cell: dict[str, Any]) -> pd.DataFrame:
    """Alpha and omega total of each wellbeing scale on the cell's respondents."""
    import warnings

    from fieldsurvey.psychometrics import instrument_reliability
    from fieldsurvey.report.study_data import items_of

    mask = np.ones(len(frame), dtype=bool)
    for dim, value in cell.items():
        mask &= (frame[dim] == value).to_numpy()
    answers = items_of(frame.loc[mask])
    row: dict[str, Any] = dict(cell)
    # Too few respondents: the gate would withhold every value, so do not compute any.
    too_few = int(mask.sum()) < data.min_cell
    by_instrument: dict[str, list[str]] = {}
    for info in data.wellbeing:
        by_instrument.setdefault(info.instrument.id, []).append(info.id)
    for scale_ids in by_instrument.values():
        inst = data.scale(scale_ids[0]).instrument
        try:
            if too_few:
                raise ValueError("too few respondents")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                summary, _ = instrument_reliability(
                    answers, inst, scales=scale_ids, min_respondents=2
                )
            summary = summary.set_index("scale")
        except Exception:
            summary = pd.DataFrame(index=scale_ids, columns=["n", "alpha", "omega_total"])
        for s in scale_ids:
            n = summary.at[s, "n"] if s in summary.index else np.nan
            row[f"{s}_rel_n"] = int(n) if pd.notna(n) else 0
            row[f"{s}_alpha"] = float(summary.at[s, "alpha"]) if s in summary.index else np.nan
            row[f"{s}_omega"] = (
                float(summary.at[s, "omega_total"]) if s in summary.index else np.nan
            )
    out = pd.DataFrame([row])
    for d in cell:
        out[d] = out[d].astype(object)
    return out


def _drivers(data: StudyData) -> pd.DataFrame | None:
    shares = data.analyses.get("variance_shares")
    icc = data.analyses.get("icc")
    if shares is None and icc is None:
        return None
    row: dict[str, Any] = {"wave": data.latest}
    if shares is not None:
        for r in shares.itertuples():
            key = f"{r.outcome}_{r.component}"
            row[f"{key}_r2"] = float(r.r2)
            row[f"{key}_share"] = float(r.share)
            row[f"{key}_share_ci_low"] = float(r.share_ci_low)
            row[f"{key}_share_ci_high"] = float(r.share_ci_high)
    if icc is not None:
        for r in icc.itertuples():
            row[f"{r.outcome}_icc"] = float(r.icc_model)
            row[f"{r.outcome}_icc_ci_low"] = float(r.ci_low)
            row[f"{r.outcome}_icc_ci_high"] = float(r.ci_high)
    out = pd.DataFrame([row])
    out["wave"] = out["wave"].astype(object)
    return out


def _position(data: StudyData, org: str) -> pd.DataFrame:
    """The organisation against the rest of the field, its shrunken mean and funnel limits."""
    row: dict[str, Any] = {"focus": THIS, "wave": data.latest}
    bench = data.analyses.get("benchmark")
    if bench is not None:
        for r in bench[bench["org"] == org].itertuples():
            row[f"{r.scale}{VALID_SUFFIX}"] = int(r.n_valid)
            for k in ("diff", "diff_ci_low", "diff_ci_high", "p", "ci_low", "ci_high"):
                row[f"{r.scale}_{k}"] = float(getattr(r, k))
    shrunk = data.analyses.get("shrinkage")
    if shrunk is not None:
        for r in shrunk[shrunk["org"] == org].itertuples():
            for k in ("shrunk_mean", "shrunk_ci_low", "shrunk_ci_high"):
                row[f"{r.scale}_{k}"] = float(getattr(r, k))
    funnel = data.analyses.get("funnel")
    if funnel is not None:
        for r in funnel[funnel["org"] == org].itertuples():
            for k in ("target", "lower95", "upper95", "lower998", "upper998"):
                row[f"{r.scale}_funnel_{k}"] = float(getattr(r, k))
    out = pd.DataFrame([row])
    for d in ("focus", "wave"):
        out[d] = out[d].astype(object)
    return out
