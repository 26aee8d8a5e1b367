"""Comparisons and benchmarks as users see them: computed here, released only through the gate.

The statistics modules of this package compute everything for every cell; these functions put
one output set (one CLI run) into a single :class:`~fieldsurvey.disclosure.Release`, gate it,
audit it, and return only the gated tables. Nothing here decides what may be shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.compare.benchmark import benchmark_organisations, organisation_trend
from fieldsurvey.compare.funnel import funnel_limits
from fieldsurvey.compare.groups import compare_groups, group_descriptives
from fieldsurvey.compare.shrinkage import empirical_bayes, shrink_organisation_means
from fieldsurvey.compare.standardise import (
    standardise_role_mix,
    weighted_differences,
    weighted_means,
)
from fieldsurvey.disclosure import DisclosureError, DisclosurePolicy, Release, audit, gate

NOT_STATED = "not stated"
COMPARED = "compared"
# Columns of compare_groups' result shown per test: names of the tests, then their numbers.
TEST_LABELS = ("test", "effect_size", "robust_test")
TEST_STATISTICS = ("statistic", "df1", "df2", "p", "p_adj", "effect", "effect_ci_low",
                   "effect_ci_high", "robust_statistic", "robust_p")


@dataclass(frozen=True)
class GatedTables:
    """Gated tables of one output set; withheld values are NA and ``suppressed`` is True."""

    tables: dict[str, pd.DataFrame]
    min_cell: int


def _respondents(data: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    # Every respondent is counted: a missing answer is its own category, never dropped.
    out = pd.DataFrame(index=data.index)
    for dim in dims:
        out[dim] = data[dim].astype("string").fillna(NOT_STATED).astype(object)
    return out.reset_index(drop=True)


def _as_dim(values: pd.Series) -> pd.Series:
    """Cell values as the release's category strings; NA stays NA ("everyone")."""
    return values.astype("string").astype(object).where(values.notna(), None)


def _gate(release: Release, min_cell: int, force: bool) -> dict[str, pd.DataFrame]:
    gated = gate(release, DisclosurePolicy(min_cell=min_cell, force_below_5=force))
    result = audit(gated)
    if not result.passed:  # never expected: the gate runs the same audit until it passes
        raise DisclosureError(f"disclosure audit failed: {result.violations[:3]}")
    return gated.public_tables()


def gated_group_comparison(
    data: pd.DataFrame,
    scales: Sequence[str],
    by: str,
    *,
    groups: Sequence[Any] | None = None,
    min_cell: int = 10,
    force_min_cell: bool = False,
    correction: str = "holm",
    weights: pd.Series | None = None,
    cluster: str | None = None,
) -> GatedTables:
    """Group descriptives and tests of ``scales`` by ``by``, through the disclosure gate.

    Returns tables ``groups`` (one row per group x scale, plus the everyone row with ``by``
    NA) and ``tests`` (one row per scale). A test is withheld when any group it compares is
    below ``min_cell``. With survey ``weights`` each group's mean is also given weighted, with
    a linearisation interval clustered by ``cluster`` (the organisation) when given.

    Examples
    --------
    >>> from fieldsurvey.synthetic import generate_coalition
    >>> from fieldsurvey.scoring import score_scales
    >>> r = generate_coalition(n_orgs=8, seed=3).responses
    >>> d = r.join(score_scales(r, "proqol5").drop(columns="row"))
    >>> out = gated_group_comparison(d, ["burnout"], "wf_lived_exp", groups=[1, 2])
    >>> sorted(out.tables)
    ['groups', 'tests']
    """
    desc = group_descriptives(data, list(scales), by)
    tests = compare_groups(data, list(scales), by, groups=groups, correction=correction)
    desc_cells = pd.DataFrame(
        {
            by: _as_dim(desc[by]),
            "scale": desc["scale"],
            "n": desc["n"],
            "n_valid": desc["n_valid"],
            "mean": desc["mean"],
            "sd": desc["sd"],
        }
    )
    stats = {"mean": "mean", "sd": "sd"}
    if weights is not None:
        weighted = weighted_means(data, list(scales), weights, by=by, cluster=cluster).rename(
            columns={"ci_low": "weighted_ci_low", "ci_high": "weighted_ci_high"}
        )
        weighted[by] = _as_dim(weighted[by])
        key = weighted[by].astype(object).where(weighted[by].notna(), "\0").astype(str) + "|" + weighted["scale"]
        mine = desc_cells[by].astype(object).where(desc_cells[by].notna(), "\0").astype(str) + "|" + desc_cells["scale"]
        for column in ("weighted_mean", "weighted_ci_low", "weighted_ci_high"):
            desc_cells[column] = mine.map(dict(zip(key, weighted[column], strict=True))).to_numpy()
            stats[column] = "other"
    test_cells = tests[["scale", *TEST_LABELS, *TEST_STATISTICS]].copy()
    test_cells.insert(0, by, None)
    # A test's respondents are those in the compared groups (not "prefer not to say", say):
    # ``compared`` makes that set a cell, so the gate protects what it implies by subtraction.
    respondents = _respondents(data, [by])
    if groups is not None:
        wanted = {str(g) for g in groups}
        respondents[COMPARED] = np.where(respondents[by].isin(wanted), "yes", "no").astype(object)
        test_cells.insert(1, COMPARED, "yes")
    release = Release(respondents, list(respondents.columns))
    release.add_table(
        "groups",
        desc_cells,
        stats,
        stat_n={c: "n_valid" for c in stats},
        variable="scale",
        labels=["scale"],
    )
    release.add_table(
        "tests",
        test_cells,
        dict.fromkeys(TEST_STATISTICS, "other"),
        variable="scale",
        labels=list(TEST_LABELS),
        compares=by,
    )
    return GatedTables(tables=_gate(release, min_cell, force_min_cell), min_cell=min_cell)


def comparison_json(gated: GatedTables, by: str) -> dict[str, Any]:
    """The ``compare --format json`` document (keys as documented in docs/compare.md)."""
    groups, tests = gated.tables["groups"], gated.tables["tests"]
    scales = []
    for scale in dict.fromkeys(groups["scale"]):
        rows = groups[(groups["scale"] == scale) & groups[by].notna()]
        test = tests[tests["scale"] == scale].iloc[0] if (tests["scale"] == scale).any() else None
        entry: dict[str, Any] = {
            "scale": scale,
            "groups": [
                {
                    "group": r[by],
                    "n": _num(r["n"]),
                    "mean": _num(r["mean"]),
                    "sd": _num(r["sd"]),
                    "suppressed": bool(r["suppressed"]),
                }
                for _, r in rows.iterrows()
            ],
        }
        if test is not None:
            entry["test"] = {
                "name": test["test"],
                "statistic": _num(test["statistic"]),
                "df1": _num(test["df1"]),
                "df2": _num(test["df2"]),
                "p": _num(test["p_adj"]),
            }
            entry["effect_size"] = {
                "name": test["effect_size"],
                "value": _num(test["effect"]),
                "ci": [_num(test["effect_ci_low"]), _num(test["effect_ci_high"])],
            }
        scales.append(entry)
    return {"by": by, "min_cell": gated.min_cell, "scales": scales}


def gated_benchmark(
    data: pd.DataFrame,
    scales: Sequence[str],
    *,
    org: str = "org",
    wave: str | None = None,
    focus: str | None = None,
    role: str | None = None,
    weights: pd.Series | None = None,
    bands: bool = False,
    min_cell: int = 10,
    force_min_cell: bool = False,
) -> GatedTables:
    """Each organisation against the field without it, through the disclosure gate.

    With ``weights`` (one survey weight per row of ``data``, e.g. from
    :func:`~fieldsurvey.compare.survey_weights`), every benchmark estimate is also given
    weighted with linearisation intervals: the organisation's mean, the field without it
    (clustered by organisation), their difference, and the field's mean
    (:func:`~fieldsurvey.compare.standardise.weighted_differences`).

    With ``bands`` and ``<scale>_band`` columns in the data, a ``bands`` table gives the number
    and share of staff in each band per organisation and for the field. Each banded scale adds
    a dimension to the release, so ask for bands of a few scales at a time.

    With ``role`` each organisation's mean is also directly standardised to the field's role mix
    (``standardised_mean`` with its CI; ``role_complete`` is False where the organisation lacks
    some of the field's roles), so organisations with different staff mixes compare fairly.

    With a ``wave`` column the latest wave is benchmarked and, where there are several waves,
    each organisation's mean per wave and its change since the previous wave are released too.

    Tables: ``field`` (the whole field per scale), ``organisations`` (one row per organisation x
    scale: mean with CI, the field without it, the difference with CI, the standardised
    difference, percentile rank, the empirical-Bayes shrunken mean and the funnel z-score with
    its 95%/99.8% flags), and with several waves ``trend`` (means per wave) and ``change``
    (latest wave minus the previous one, withheld unless both waves' cells are shown). With
    ``focus`` only that organisation's rows (and the field's) are released, so an organisation's
    own output never carries another organisation's numbers.
    """
    scales = list(scales)
    waves = sorted(data[wave].astype(str).unique()) if wave else []
    current = waves[-1] if waves else None
    now = data[data[wave].astype(str) == current] if wave else data
    bench = benchmark_organisations(now, scales, org=org, min_cell=min_cell)
    shrunk = shrink_organisation_means(now, scales, org=org)
    funnel = funnel_limits(now, scales, org=org)
    table = bench.merge(
        shrunk[[org, "scale", "shrunk_mean", "shrunk_ci_low", "shrunk_ci_high"]],
        on=[org, "scale"],
        how="left",
    ).merge(
        funnel[[org, "scale", "z_adjusted", "outside95", "outside998"]],
        on=[org, "scale"],
        how="left",
    )
    if focus is not None:
        if focus not in set(table[org].astype(str)):
            raise DisclosureError(f"no organisation {focus!r} in the data")
        table = table[table[org].astype(str) == focus]
    stat_cols = [
        "mean",
        "sd",
        "ci_low",
        "ci_high",
        "field_mean",
        "field_sd",
        "diff",
        "diff_ci_low",
        "diff_ci_high",
        "t",
        "df",
        "p",
        "std_diff",
        "percentile_rank",
        "shrunk_mean",
        "shrunk_ci_low",
        "shrunk_ci_high",
        "z_adjusted",
        "outside95",
        "outside998",
    ]
    if role is not None:
        standard = standardise_role_mix(now, scales, org=org, role=role).rename(
            columns={"ci_low": "standardised_ci_low", "ci_high": "standardised_ci_high",
                     "complete": "role_complete"}
        )
        added = ["standardised_mean", "standardised_ci_low", "standardised_ci_high", "role_complete"]
        table = table.merge(standard[[org, "scale", *added]], on=[org, "scale"], how="left")
        table["role_complete"] = table["role_complete"].astype("boolean")
        stat_cols += added
    weighted = None
    if weights is not None:
        w_now = weights.loc[now.index]
        per_org = _weighted_fairness(weighted_differences(now, scales, w_now, org=org), org,
                                     min_cell, now)
        added = [c for c in per_org.columns if c not in (org, "scale")]
        table = table.merge(per_org, on=[org, "scale"], how="left")
        stat_cols += added
        weighted = weighted_means(now, scales, w_now, cluster=org).rename(
            columns={"ci_low": "weighted_ci_low", "ci_high": "weighted_ci_high"}
        )
    cells = table[[org, "scale", "n", "n_valid", *stat_cols]].copy()
    cells[org] = _as_dim(cells[org])
    for flag in ("outside95", "outside998"):
        cells[flag] = cells[flag].astype("boolean")
    # Comparator and model columns describe more than the organisation's own cell: they are
    # withheld with it (kind "other"); its own mean and SD are linear and audited as sums.
    kinds = {c: "other" for c in stat_cols}
    kinds.update({"mean": "mean", "sd": "sd"})
    field_cells = pd.DataFrame(
        {
            org: None,
            "scale": scales,
            "n": len(now),
            "n_valid": [int(now[s].notna().sum()) for s in scales],
            "mean": [float(now[s].mean()) for s in scales],
            "sd": [float(now[s].std()) for s in scales],
        }
    )
    field_stats = {"mean": "mean", "sd": "sd"}
    if weighted is not None:
        everyone = weighted.set_index("scale")
        for column in ("weighted_mean", "weighted_ci_low", "weighted_ci_high"):
            field_cells[column] = field_cells["scale"].map(everyone[column]).to_numpy()
            field_stats[column] = "other"
    dims = [org, wave] if wave else [org]
    band_columns = [f"{s}_band" for s in scales if bands and f"{s}_band" in data]
    if wave:
        cells.insert(1, wave, current)
        field_cells.insert(1, wave, current)
    # With band dimensions the possible crossings explode; declaring the observed combinations
    # public makes the audit assume a stronger attacker (it can only add suppression).
    support = [tuple(dims + band_columns)] if band_columns else []
    release = Release(_respondents(data, dims + band_columns), dims + band_columns,
                      public_support=support)
    release.add_table(
        "field",
        field_cells,
        field_stats,
        stat_n={c: "n_valid" for c in field_stats},
        variable="scale",
        labels=["scale"],
    )
    # Every statistic rests on the organisation's valid scores: all are withheld together when
    # those are too few (else mean = diff + field_mean would give the withheld mean back).
    release.add_table(
        "organisations",
        cells,
        kinds,
        stat_n={c: "n_valid" for c in stat_cols},
        variable="scale",
        labels=["scale"],
    )
    for band in band_columns:
        _add_bands(release, now, band, org, wave, current, focus)
    if wave and len(waves) > 1:
        _add_trend(release, data, scales, org, wave, waves, focus)
    tables = _gate(release, min_cell, force_min_cell)
    if band_columns:
        tables["bands"] = _band_shares(tables, band_columns, org)
    return GatedTables(tables=tables, min_cell=min_cell)


def _weighted_fairness(per_org: pd.DataFrame, org: str, min_cell: int,
                       now: pd.DataFrame) -> pd.DataFrame:
    """Shrinkage and percentile rank of the weighted organisation means.

    The empirical-Bayes model takes each organisation's weighted mean with its design variance
    (the linearised SE squared), so small organisations are pulled toward the field as in the
    unweighted benchmark. Percentile ranks are among organisations with ``min_cell`` or more
    respondents.
    """
    out = []
    counts = now.groupby(org).size()
    for _, rows in per_org.groupby("scale", sort=False):
        rows = rows.copy()
        ok = (np.isfinite(rows["weighted_se"]) & (rows["weighted_se"] > 0)).to_numpy()
        rows["weighted_shrunk_mean"] = np.nan
        rows["weighted_shrunk_ci_low"] = np.nan
        rows["weighted_shrunk_ci_high"] = np.nan
        if ok.sum() >= 3:
            eb = empirical_bayes(rows.loc[ok, "weighted_mean"].to_numpy(),
                                 rows.loc[ok, "weighted_se"].to_numpy() ** 2)
            rows.loc[ok, "weighted_shrunk_mean"] = eb["shrunk_mean"].to_numpy()
            rows.loc[ok, "weighted_shrunk_ci_low"] = eb["shrunk_ci_low"].to_numpy()
            rows.loc[ok, "weighted_shrunk_ci_high"] = eb["shrunk_ci_high"].to_numpy()
        ranked = rows[rows[org].map(counts).fillna(0).to_numpy() >= min_cell]["weighted_mean"]
        rows["weighted_percentile_rank"] = [
            100.0 * (ranked < m).mean() + 50.0 * (ranked == m).mean() if pd.notna(m) and len(ranked)
            else np.nan for m in rows["weighted_mean"]
        ]
        out.append(rows.drop(columns="weighted_se"))
    return pd.concat(out, ignore_index=True)


def _add_bands(release: Release, now: pd.DataFrame, band: str, org: str, wave: str | None,
               current: str | None, focus: str | None) -> None:
    """Counts of staff per band: each organisation's (or only ``focus``'s) and the field's."""
    categories = list(pd.unique(_respondents(now, [band])[band]))
    units = [focus] if focus is not None else sorted(now[org].dropna().astype(str).unique())
    rows = [{org: unit, band: category} for unit in [None, *units] for category in categories]
    cells = pd.DataFrame(rows, columns=[org, band]).astype(object)
    cells = cells.where(cells.notna(), None)
    if wave:
        cells.insert(1, wave, current)
    release.add_table(f"bands:{band}", cells)


def _band_shares(tables: dict[str, pd.DataFrame], band_columns: list[str], org: str) -> pd.DataFrame:
    """One long table of gated band counts, with each band's share of the unit's scored staff.

    Shares are worked out after gating from shown numbers only (the band count and the unit's
    shown number of staff with a score), never released on their own: a withheld count stays
    withheld as a share.
    """
    scored = pd.concat([tables["field"], tables["organisations"]], ignore_index=True)
    scored = scored.assign(_unit=scored[org].fillna("\0").astype(str))
    scored = scored.drop_duplicates(["_unit", "scale"])  # the field row appears in both tables
    valid = scored.set_index(["_unit", "scale"])["n_valid"]
    frames = []
    for band in band_columns:
        counts = tables.pop(f"bands:{band}")
        scale = band.removesuffix("_band")
        counts = counts[counts[band] != NOT_STATED]  # staff without a score have no band
        units = counts[org].fillna("\0").astype(str)
        totals = pd.Series([valid.get((u, scale), pd.NA) for u in units], index=counts.index,
                           dtype="Float64")
        frames.append(pd.DataFrame({
            org: counts[org], "scale": scale, "band": counts[band], "n": counts["n"],
            "pct": 100.0 * counts["n"].astype("Float64") / totals,
        }))
    return pd.concat(frames, ignore_index=True)


def _add_trend(
    release: Release,
    data: pd.DataFrame,
    scales: list[str],
    org: str,
    wave: str,
    waves: list[str],
    focus: str | None,
) -> None:
    trend = organisation_trend(
        data.assign(**{wave: data[wave].astype(str)}), scales, org=org, wave=wave
    )
    if focus is not None:
        trend = trend[trend[org].isna() | (trend[org].astype(str) == focus)]
    levels = trend[[org, wave, "scale", "n", "n_valid", "mean", "sd"]].copy()
    levels[org] = _as_dim(levels[org])
    levels[wave] = _as_dim(levels[wave])
    release.add_table(
        "trend",
        levels,
        {"mean": "mean", "sd": "sd"},
        stat_n={"mean": "n_valid", "sd": "n_valid"},
        variable="scale",
        labels=["scale"],
    )
    latest = trend[trend[wave].astype(str) == waves[-1]]
    change = latest[
        [org, "scale", "previous_wave", "change", "change_ci_low", "change_ci_high", "p"]
    ].copy()
    change[org] = _as_dim(change[org])
    change.insert(1, wave, None)
    change["previous_wave"] = change["previous_wave"].astype("string").astype(object)
    # A change contrasts two waves of the same organisation: withheld unless both are shown.
    release.add_table(
        "change",
        change,
        {c: "other" for c in ("change", "change_ci_low", "change_ci_high", "p")},
        variable="scale",
        labels=["scale", "previous_wave"],
        compares=wave,
    )


def _num(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
