"""Published findings recomputed inside the field-wide report's results.

Each finding's population (its recipe's filters) becomes a dimension of the report's results
and its lived-experience staff the cell ``lived_experience = yes`` in it, so the gate judges the
findings' values together with every other table of the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.analyse.study import StudyData
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
from fieldsurvey.results import Results

__all__ = ["FINDING_HIT", "HIT_VALUES", "ReportFindings", "findings_release", "report_findings"]

FINDING_POPULATION = "finding_population_"
FINDING_HIT = "finding_counts_"
HIT_VALUES = ["yes", "no", "no score"]
NOT_REPORTED = "not reported"
#: Shown instead of a reason that would tell how few respondents a population has.
TOO_FEW = (
    "too few respondents: the value rests on fewer than the minimum cell size or would reveal "
    "a smaller group"
)


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

    @property
    def linked(self) -> dict[str, str]:
        """Each counting dimension's scale: both are computed from the same answers, so the
        gate imagines someone in an empty cell only with a band and a count that agree."""
        return {self.hit[i]: str(self.cells[i].scale) for i in self.hit
                if self.cells[i].scale is not None}

    def _where(self, i: int) -> dict[str, Any]:
        where: dict[str, Any] = {"wave": self.wave}
        if i in self.population:
            where[self.population[i]] = "in"
        return where

    def add_to(self, release: Results, frame: pd.DataFrame) -> None:
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
        from fieldsurvey.analyse.report import _count_cells, _stat_spec, cell_statistics

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
                release.add_table(self.tables[i], table, {valid: "sum"},
                                  measures={valid: scale})
            elif scale is not None:
                kinds, stat_n, measures = _stat_spec([scale])
                table = cell_statistics(frame, [where, {**where, **lived_cell}], [scale])
                release.add_table(self.tables[i], table, kinds, stat_n=stat_n, measures=measures)
            else:
                compares = LIVED_GROUP if cell.compares_lived else None
                lived = None if compares else lived_cell
                add_finding_table(release, self.tables[i], cell, where, lived, compares=compares)

    def gated_rows(self, tables: dict[str, pd.DataFrame], min_cell: int) -> pd.DataFrame:
        """One row per finding (``REPRODUCE_COLUMNS``) holding only what the gated tables show."""
        rows = []
        for i, cell in enumerate(self.cells):
            if i not in self.tables:
                row = dict(cell.row)
            elif cell.scale is None:
                row = gated_finding_row(cell, tables[self.tables[i]], min_cell)
            else:
                table = tables[self.tables[i]]
                overall, lived = (_shown_estimate(cell, table, pos) for pos in (0, 1))
                row = shown_finding_row(cell, overall, lived, min_cell)
                _shown_counts(row, cell, table)
            if row["verdict"] == "not computable" and "respondent" in str(row["reason"]):
                # "fewer than 2 respondents have this score" tells how small a group is.
                row["reason"] = TOO_FEW
            rows.append(row)
        return pd.DataFrame(rows, columns=REPRODUCE_COLUMNS)


def _number(value: Any) -> float | None:
    if value is None or value is pd.NA or pd.isna(value):
        return None
    return float(value)


def _shown_counts(row: dict[str, Any], cell: FindingCell, table: pd.DataFrame) -> None:
    """Counts of scored respondents the gate shows where the value itself is withheld: a
    count printed as withheld must not be one another output shows."""
    step = 2 if cell.hit is not None else 1
    for column, which in (("n", 0), ("lived_n", 1)):
        if row.get(column) is None:
            n = _number(table[f"{cell.scale}_n"].iat[step * which])
            row[column] = None if n is None else int(n)


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
    title = findings.title if isinstance(findings, FindingsFile) else ""
    return _assemble(cells, frame, rows, len(data.frame), set(data.frame.columns), title,
                     data.latest)


def _assemble(cells: list[FindingCell], frame: pd.DataFrame, rows: np.ndarray, n: int,
              present: set[str], title: str, wave: str) -> ReportFindings:
    """The findings' dimensions (populations, counted groups) and values over all ``n`` rows.

    ``frame`` holds the rows the findings were computed on (``rows`` of the ``n``); columns in
    ``present`` need not be carried again.
    """
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
        if cell.scale is not None and cell.scale not in present:
            values[cell.scale] = _spread(
                rows, n, pd.to_numeric(frame[cell.scale], errors="coerce").to_numpy(), "nan"
            ).astype(float)
        if cell.hit is not None:
            key = pd.Categorical(cell.hit, categories=HIT_VALUES).codes.tobytes()
            if key not in seen:
                seen[key] = f"{FINDING_HIT}{len(seen) + 1}"
                dimensions[seen[key]] = _spread(rows, n, cell.hit, NOT_REPORTED)
            hit[i] = seen[key]
    return ReportFindings(title, wave, cells, dimensions, values, population, hit, tables)


def findings_release(data: pd.DataFrame, cells: list[FindingCell], lived: np.ndarray,
                     keys: pd.Series | None = None, title: str = ""
                     ) -> tuple[Results, ReportFindings]:
    """Findings computed on a whole data set as results, exactly as the field report has them.

    A proportion is released as counts (whom it counts, and those with a score), a mean or SD
    with its count of scores, anything else as a statistic of its population; lived experience
    (``lived``: yes, no or other) is the sensitive dimension. Read the shown values back with
    :meth:`ReportFindings.gated_rows`.
    """
    n = len(data)
    found = _assemble(cells, data.reset_index(drop=True), np.arange(n), n, set(), title, "all")
    frame = pd.concat([pd.DataFrame({"wave": "all", LIVED_GROUP: np.asarray(lived, object)}),
                       found.dimensions, found.values], axis=1)
    dims = ["wave", LIVED_GROUP, *found.dimensions.columns]
    domains: dict[str, list[object]] = {LIVED_GROUP: ["yes", "no", "other"]}
    unprotected: dict[str, list[object]] = {}
    for column in found.dimensions.columns:
        counted = column.startswith(FINDING_HIT)
        domains[column] = [*HIT_VALUES, NOT_REPORTED] if counted else ["in", "out"]
        unprotected[column] = ["no score", NOT_REPORTED] if counted else []
    scales = list(found.values.columns)
    results = Results(frame[dims], dims, measures=frame[scales] if scales else None, keys=keys,
                      domains=domains, unprotected=unprotected, linked=found.linked)
    found.add_to(results, frame)
    return results, found
