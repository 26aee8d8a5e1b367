"""Benchmarking sections of a report: per question, comparator group, response rate, change,
priorities and the coalition's heat map, as results for the gate.

Each function here is one section of :data:`fieldsurvey.analyse.report.SECTIONS` and adds its
tables to the report's :class:`~fieldsurvey.results.Results`:

``response_rate``
    respondents over paid staff per organisation and wave (staff from the organisation profile
    or the study's staff counts); its source is the count of the organisation's cell.
``items`` and ``item_tests_rest``, ``item_tests_change``
    the share of staff answering favourably (top-two-box: one of the two answers at the
    scale's good end, after reversal) on each item of each structural-condition and wellbeing
    scale, for the organisation, the rest of the field and its previous wave; and the differences with Newcombe's hybrid score interval and the pooled
    two-proportion z test, naming the two cells they compare. A share's denominator is the
    staff of the cell with a score on the item's scale (the scale's count shown beside it), and
    a skipped item counts as not favourable: every share then rests on the same respondents
    as the scale's mean, so per-question results add no cell the gate has to protect.
``comparator`` (computed after the gate)
    the organisation's comparator group (:mod:`fieldsurvey.analyse.comparators`): the other
    members whose cells the gate shows, their pooled scale means and favourable shares, and the
    organisation's differences with them (Welch; Newcombe and z test), naming every member's
    cell as a source.
``previous_scores`` and ``scale_change``
    scale means in the wave before the reported one, and the change with a Welch interval.
``condition_gaps``, ``driver_importance`` and ``priorities`` (computed after the gate)
    each structural condition's gap to the rest of the field; field-wide, how strongly each
    goes with burnout and with intention to leave (Pearson r, Fisher-z interval); and the
    priority matrix crossing the two, from the shown values only.
``org_scores`` (field report)
    every organisation's scale means for the coalition's heat map.

Waves are compared as independent samples (responses are anonymous: nobody is followed from
one wave to the next).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from fieldsurvey.analyse.comparators import NONE
from fieldsurvey.analyse.study import StudyData
from fieldsurvey.compare.proportions import newcombe_difference, two_proportion_test
from fieldsurvey.results import ROW_VARIABLE, Except, Results

__all__ = ["BENCHMARK_SECTIONS", "FavourableItem", "favourable_items", "priority_rows"]

ITEM = "item:"
#: Outcomes the priority matrix reads conditions against (when the study measures them).
OUTCOMES = ("burnout", "intention_to_leave")
TEST_STATS = ("diff", "diff_ci_low", "diff_ci_high", "p")


@dataclass(frozen=True)
class FavourableItem:
    """One item and the answers that count as favourable on it."""

    id: str
    scale: str
    label: str
    #: The item's wording, only where the instrument's licence lets us print it.
    text: str | None
    codes: tuple[float, ...]

    @property
    def measure(self) -> str:
        return ITEM + self.id


def favourable_items(data: StudyData) -> list[FavourableItem]:
    """Every Likert item of the structural-condition and wellbeing scales, with its favourable
    answers: the two answers at the end of the scale that is good for staff (after reversal).

    A burnout item answered "never" or "rarely" is favourable; so is "agree" or "strongly
    agree" on a supervision item and "disagree" on a reverse-keyed one.
    """
    out = []
    for info in [*data.conditions, *data.wellbeing]:
        inst = info.instrument
        for item_id in info.scale.items:
            rs = inst.response_scale_of(item_id)
            if rs.type != "likert" or f"{ITEM}{item_id}" not in data.frame:
                continue
            item = inst.item(item_id)
            codes = [float(c) for c in range(int(rs.min), int(rs.max) + 1)]
            good_high = (info.scale.higher_is == "better") != bool(item.reverse)
            text = (item.text or {}).get("en") if inst.licence.wording_included else None
            out.append(FavourableItem(item_id, info.id, item.label or item_id, text,
                                      tuple(codes[-2:] if good_high else codes[:2])))
    return out


def _mask(frame: pd.DataFrame, cell: dict[str, Any]) -> np.ndarray:
    from fieldsurvey.analyse.report import cell_mask

    return cell_mask(frame, cell)


def _object(table: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    for d in dims:
        if d in table:
            table[d] = table[d].astype(object).where(table[d].notna(), None)
    return table


def _wide_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``pd.DataFrame(rows)`` for rows with the same keys, its float columns built as one
    block: per-question tables have hundreds of columns, and pandas infers a type for each
    column of a list of records (about half of such a table's cost). Columns whose values
    are all floats are the float64 columns pandas infers; the others are inferred as before.

    Examples
    --------
    >>> rows = [{"org": "A", "n": 3, "x": 0.5}, {"org": None, "n": 0, "x": np.nan}]
    >>> _wide_frame(rows).equals(pd.DataFrame(rows))
    True
    >>> _wide_frame(rows).dtypes.equals(pd.DataFrame(rows).dtypes)
    True
    """
    columns = list(rows[0]) if rows else []
    if any(list(row) != columns for row in rows):
        return pd.DataFrame(rows)
    floats = [c for c in columns
              if all(isinstance(row[c], float | np.floating) for row in rows)]
    if not floats:
        return pd.DataFrame(rows)
    block = pd.DataFrame(np.array([[row[c] for c in floats] for row in rows], dtype=float),
                         columns=floats)
    chosen = set(floats)
    others = pd.DataFrame({c: [row[c] for row in rows] for c in columns if c not in chosen},
                          index=block.index)
    return pd.concat([others, block], axis=1)[columns]


def favourable_counts(frame: pd.DataFrame, mask: np.ndarray, scale: str,
                      items: Sequence[FavourableItem]) -> tuple[int, np.ndarray]:
    """Staff with a score on ``scale`` in a cell, and how many of them answered each item
    favourably (a skipped item counts as not favourable).

    Examples
    --------
    >>> f = pd.DataFrame({"s": [1.0, 2.0, np.nan], "item:a": [5.0, np.nan, 4.0]})
    >>> favourable_counts(f, np.ones(3, bool), "s", [FavourableItem("a", "s", "a", None, (4, 5))])
    (2, array([1]))
    """
    scored = mask & frame[scale].notna().to_numpy()
    block = frame.loc[scored, [i.measure for i in items]].to_numpy(float)
    fav = np.column_stack([np.isin(block[:, j], i.codes) for j, i in enumerate(items)])
    return int(scored.sum()), fav.sum(axis=0)


def _favourable_answers(ctx: Any, scale: str,
                        items: Sequence[FavourableItem]) -> tuple[np.ndarray, np.ndarray]:
    """Which rows of the report's frame have a score on ``scale``, and which answered each
    item favourably (rows x items): :func:`favourable_counts` of every cell at once.

    Organisation reports share one frame: these are made once per study, not per report.
    """
    key = ("favourable", scale)
    cached = ctx.models.cache.get(key)
    if cached is None or cached[0] is not ctx.frame:
        scored = ctx.frame[scale].notna().to_numpy()
        block = ctx.frame[[i.measure for i in items]].to_numpy(float)
        favourable = np.column_stack([np.isin(block[:, j], i.codes)
                                      for j, i in enumerate(items)]) & scored[:, None]
        cached = ctx.models.cache[key] = (ctx.frame, scored, favourable)
    return cached[1], cached[2]


def _units(ctx: Any) -> dict[str, dict[str, Any]]:
    """The cells a report's per-question and scale results describe, by role."""
    latest = ctx.latest
    previous = _previous_wave(ctx.data)
    if ctx.org is None:
        out = {"this": {"wave": latest}}
        if previous is not None:
            out["previous"] = {"wave": previous}
        return out
    out = {"this": {"org": ctx.org, "wave": latest},
           "rest": {"org": Except(ctx.org), "wave": latest}}
    if previous is not None:
        out["previous"] = {"org": ctx.org, "wave": previous}
    return out


def _group_of(ctx: Any) -> str | None:
    attributes = ctx.data.org_attributes
    if ctx.org is None or "peer_group" not in attributes or ctx.org not in attributes.index:
        return None
    group = str(attributes.at[ctx.org, "peer_group"])
    return None if group == NONE else group


def _previous_wave(data: StudyData) -> str | None:
    waves = list(data.waves)
    return waves[-2] if len(waves) > 1 else None


# --------------------------------------------------------------------------------------------
# Per question


def _item_results(ctx: Any, results: Results) -> None:
    """The favourable share of every item in each unit's cell (one wide table), and the
    differences between units (one table per comparison)."""
    units = _units(ctx)
    by_scale: dict[str, list[FavourableItem]] = {}
    for item in favourable_items(ctx.data):
        by_scale.setdefault(item.scale, []).append(item)
    if not by_scale:
        return
    rows, counts = [], {}
    answers = {scale: _favourable_answers(ctx, scale, items) for scale, items in by_scale.items()}
    for role, cell in units.items():
        row: dict[str, Any] = dict(cell)
        mask = _mask(ctx.frame, cell)
        for scale, items in by_scale.items():
            scored, favourable = answers[scale]
            in_cell = mask & scored
            n, k = int(in_cell.sum()), favourable[in_cell].sum(axis=0)
            counts[role, scale] = (n, k)
            row[f"{scale}_n"] = n
            row.update({i.id: k[j] / n if n else np.nan for j, i in enumerate(items)})
        rows.append(row)
    table = _object(_wide_frame(rows), ["org", "wave"])
    owner = {i.id: scale for scale, items in by_scale.items() for i in items}
    results.add_table("items", table, dict.fromkeys(owner, "proportion"),
                      stat_n={i: f"{s}_n" for i, s in owner.items()},
                      measures={f"{s}_n": s for s in by_scale})
    for role, kind in (("rest", "rest"), ("previous", "change")):
        if role in units:
            _item_tests(results, f"item_tests_{kind}", by_scale, (units["this"], units[role]),
                        {s: (counts["this", s], counts[role, s]) for s in by_scale})


def _item_tests(results: Results, name: str, by_scale: dict[str, list[FavourableItem]],
                cells: tuple[dict, dict], counts: dict[str, tuple]) -> None:
    """This cell's favourable shares minus the other's: Newcombe's interval, z-test p."""
    row: dict[str, Any] = dict(cells[0])
    measure: dict[str, str] = {}
    for scale, items in by_scale.items():
        (n1, k1), (n2, k2) = counts[scale]
        diff, low, high = newcombe_difference(k1, n1, k2, n2)
        p = two_proportion_test(k1, n1, k2, n2)
        for j, item in enumerate(items):
            values = (diff[j], low[j], high[j], p[j])
            for stat, value in zip(TEST_STATS, values, strict=True):
                row[f"{item.id}_{stat}"] = float(value)
                measure[f"{item.id}_{stat}"] = scale
    table = _object(_wide_frame([row]), ["org", "wave"])
    results.add_table(name, table, dict.fromkeys(measure, "other"), sources=[list(cells)],
                      source_measure=measure)


# --------------------------------------------------------------------------------------------
# Scales: comparator group, previous wave, gaps


def welch_difference(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean of ``a`` minus mean of ``b`` with Welch's 95% interval and two-sided p.

    .. math:: d \\pm t_{0.975,\\nu}\\sqrt{s_a^2/n_a + s_b^2/n_b},\\quad
              \\nu = \\frac{(s_a^2/n_a + s_b^2/n_b)^2}{\\frac{(s_a^2/n_a)^2}{n_a-1}
              + \\frac{(s_b^2/n_b)^2}{n_b-1}}

    Matches R's ``t.test(a, b)`` (Welch). NaN when a group has fewer than two values.

    Examples
    --------
    >>> r = welch_difference(np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 6]))
    >>> round(r["diff"], 3), round(r["diff_ci_low"], 3), round(r["p"], 3)
    (-1.5, -5.542, 0.334)
    """
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    out = dict.fromkeys(TEST_STATS, math.nan)
    if a.size < 2 or b.size < 2:
        return out
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    diff = float(a.mean() - b.mean())
    if se == 0:
        return {**out, "diff": diff}
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    # scipy.special's t functions, which stats.t.ppf and stats.t.sf evaluate (the same
    # numbers), without the distribution machinery's cost on every one of a report's tests.
    half = float(special.stdtrit(df, 0.975)) * se
    p = float(2 * special.stdtr(df, -abs(diff / se)))
    return {"diff": diff, "diff_ci_low": diff - half, "diff_ci_high": diff + half, "p": p}


def _scale_tests(ctx: Any, results: Results, name: str, this: dict, other: dict,
                 scales: list[str]) -> None:
    a_rows, b_rows = _mask(ctx.frame, this), _mask(ctx.frame, other)
    rows = []
    for s in scales:
        values = ctx.frame[s].to_numpy(dtype=float)
        rows.append({**this, "scale": s, **welch_difference(values[a_rows], values[b_rows])})
    table = _object(pd.DataFrame(rows), ["org", "wave"])
    results.add_table(name, table, dict.fromkeys(TEST_STATS, "other"), variable="scale",
                      sources=[[this, other]] * len(rows), source_measure=ROW_VARIABLE)


def _scale_cells(ctx: Any, results: Results, name: str, cells: list[dict]) -> None:
    from fieldsurvey.analyse.report import _stat_spec, cell_statistics

    scales = ctx.wellbeing + ctx.conditions
    kinds, stat_n, measures = _stat_spec(scales)
    table = _object(cell_statistics(ctx.frame, cells, scales), ["org", "wave"])
    results.add_table(name, table, kinds, stat_n=stat_n, measures=measures)


def _comparator(ctx: Any, results: Results) -> None:
    """The organisation against its comparator group, computed after the gate.

    The group is the other members of the organisation's comparator group whose cells the gate
    shows (a group total that took in a withheld member would give that member away, as the
    group minus the members shown). Its means and favourable shares are then combinations of
    shown cells, and every row names them as its sources.
    """
    group = _group_of(ctx)
    if group is None:
        return
    from fieldsurvey.analyse.report import cell_statistics

    data, org, frame = ctx.data, ctx.org, ctx.frame
    members = [o for o, g in data.org_attributes["peer_group"].items() if g == group and o != org]
    scales = ctx.wellbeing + ctx.conditions
    # The members' cells with every scale's count: what the comparator is computed from
    # (support table, never shown).
    counts = cell_statistics(frame, [{"org": o, "wave": data.latest} for o in members], scales)
    columns = [f"{s}_n" for s in scales]
    results.add_table("_comparator_orgs", counts[["org", "wave", *columns]],
                      dict.fromkeys(columns, "sum"), measures={c: c[:-2] for c in columns})
    this = {"org": org, "wave": data.latest}
    by_scale: dict[str, list[FavourableItem]] = {}
    for item in favourable_items(data):
        by_scale.setdefault(item.scale, []).append(item)

    answers = {scale: _favourable_answers(ctx, scale, items) for scale, items in by_scale.items()}

    def compute(view: Any) -> tuple[pd.DataFrame, list]:
        table = view.table("_comparator_orgs")
        shown = table[columns].notna().all(axis=1) & table["n"].notna()
        peers = table.loc[shown, "org"].astype(str).tolist()
        row: dict[str, Any] = {**this, "comparator_orgs": len(peers)}
        if len(peers) >= 2:
            row.update(comparator_values(frame, this, peers, data.latest, scales, by_scale,
                                         answers))
        sources = [this, *({"org": o, "wave": data.latest} for o in peers)]
        return _object(pd.DataFrame([row]), ["org", "wave"]), [sources]

    stats = {"comparator_orgs": "other"}
    measure = {"comparator_orgs": scales[0]} if scales else {}
    for s in scales:
        for k in ("mean", *TEST_STATS):
            stats[f"{s}_{k}"], measure[f"{s}_{k}"] = "other", s
    for scale, items in by_scale.items():
        for i in items:
            for k in ("share", *TEST_STATS):
                stats[f"{i.id}_{k}"], measure[f"{i.id}_{k}"] = "other", scale
    results.add_derived("comparator", compute, stats, source_measure=measure)


def comparator_values(frame: pd.DataFrame, this: dict, peers: list[str], wave: str,
                      scales: list[str], by_scale: dict[str, list[FavourableItem]],
                      answers: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
                      ) -> dict[str, float]:
    """The comparator group's means and favourable shares, and this cell's differences.

    ``answers`` (per scale, :func:`_favourable_answers`: who has a score, who answered each
    item favourably) spares reading the items again for every report.
    """
    mine = _mask(frame, this)
    theirs = (frame["org"].isin(peers) & (frame["wave"] == wave)).to_numpy()
    out: dict[str, float] = {}
    for s in scales:
        values = frame[s].to_numpy(dtype=float)
        group = values[theirs]
        out[f"{s}_mean"] = float(np.nanmean(group)) if (~np.isnan(group)).any() else np.nan
        out.update({f"{s}_{k}": v for k, v in welch_difference(values[mine], group).items()})
    for scale, items in by_scale.items():
        if answers is not None and scale in answers:
            scored, favourable = answers[scale]
            n1, k1 = int((mine & scored).sum()), favourable[mine].sum(axis=0)
            n2, k2 = int((theirs & scored).sum()), favourable[theirs].sum(axis=0)
        else:
            n1, k1 = favourable_counts(frame, mine, scale, items)
            n2, k2 = favourable_counts(frame, theirs, scale, items)
        diff, low, high = newcombe_difference(k1, n1, k2, n2)
        p = two_proportion_test(k1, n1, k2, n2)
        for j, i in enumerate(items):
            out[f"{i.id}_share"] = float(k2[j] / n2) if n2 else np.nan
            values = (diff[j], low[j], high[j], p[j])
            out.update({f"{i.id}_{k}": float(v) for k, v in zip(TEST_STATS, values, strict=True)})
    return out


def _change(ctx: Any, results: Results) -> None:
    units = _units(ctx)
    if "previous" not in units:
        return
    previous = [{**u, "wave": units["previous"]["wave"]} for u in ctx.units]
    _scale_cells(ctx, results, "previous_scores", previous)
    _scale_tests(ctx, results, "scale_change", units["this"], units["previous"],
                 ctx.wellbeing + ctx.conditions)


def _condition_gaps(ctx: Any, results: Results) -> None:
    if ctx.org is None or not ctx.conditions:
        return
    units = _units(ctx)
    _scale_tests(ctx, results, "condition_gaps", units["this"], units["rest"], ctx.conditions)


# --------------------------------------------------------------------------------------------
# What to change first


def correlation(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, int]:
    """Pearson r on pairs with both values, with its Fisher-z 95% interval and n.

    .. math:: \\tanh\\left(\\operatorname{atanh} r \\pm 1.96/\\sqrt{n-3}\\right)

    Examples
    --------
    >>> r, lo, hi, n = correlation(np.arange(10.0), np.arange(10.0) ** 2)
    >>> round(r, 3), round(lo, 3), n
    (0.963, 0.846, 10)
    """
    both = ~np.isnan(x) & ~np.isnan(y)
    n = int(both.sum())
    if n < 4 or np.std(x[both]) == 0 or np.std(y[both]) == 0:
        return math.nan, math.nan, math.nan, n
    r = float(np.corrcoef(x[both], y[both])[0, 1])
    z, half = math.atanh(min(max(r, -0.999999), 0.999999)), 1.959963984540054 / math.sqrt(n - 3)
    return r, math.tanh(z - half), math.tanh(z + half), n


def _driver_importance(ctx: Any, results: Results) -> None:
    """Field-wide: how strongly each structural condition goes with each outcome (latest wave)."""
    outcomes = [o for o in OUTCOMES if o in ctx.frame.columns and o in
                ctx.wellbeing + ctx.conditions]
    conditions = [c for c in ctx.conditions if c not in OUTCOMES]
    if not outcomes or not conditions:
        return
    cell = {"wave": ctx.latest}
    # The same field-wide table in every report of the study: made once.
    cached = ctx.models.cache.get(("driver_importance",))
    if cached is None or cached[0] is not ctx.frame:
        now = ctx.frame.loc[_mask(ctx.frame, cell)]
        rows = []
        for c in conditions:
            row: dict[str, Any] = {**cell, "scale": c}
            for o in outcomes:
                r, lo, hi, _ = correlation(now[c].to_numpy(float), now[o].to_numpy(float))
                row.update({f"r_{o}": r, f"r_{o}_low": lo, f"r_{o}_high": hi})
            rows.append(row)
        cached = (ctx.frame, _object(pd.DataFrame(rows), ["wave"]))
        ctx.models.cache[("driver_importance",)] = cached
    table = cached[1].copy()
    columns = [c for c in table.columns if c.startswith("r_")]
    results.add_table("driver_importance", table, dict.fromkeys(columns, "other"),
                      variable="scale")


#: Priority classes, most urgent first.
PRIORITY_CLASSES = ("act first", "also behind", "keep up", "lower priority")


def priority_rows(gaps: pd.DataFrame, importance: pd.DataFrame, directions: dict[str, str],
                  outcomes: Sequence[str]) -> pd.DataFrame:
    """The priority matrix: importance field-wide x this organisation's gap, per condition.

    ``importance`` of a condition is the mean, over the outcomes, of its correlation with the
    outcome turned so that positive means "better conditions go with better outcomes" (every
    outcome here is worse when higher, so r is negated, and negated again for a condition that
    is worse when higher, such as financial strain). ``gap`` is the organisation's mean minus
    the rest of the field's, turned so that negative means worse for staff. Classes: *act first*
    (behind the field beyond the 95% limits, importance at or above the median of the
    conditions), *also behind* (behind, lower importance), *keep up* (not behind, importance at
    or above the median), *lower priority* (the rest). Ranks: 1 = the largest gap against the
    organisation (``gap_rank``), 1 = the highest priority score, importance x shortfall
    (``priority_rank``).
    """
    imp = importance.set_index("scale")
    rows = []
    for g in gaps.itertuples():
        if g.scale not in imp.index or any(pd.isna(getattr(g, k)) for k in TEST_STATS[:3]):
            continue
        sign = 1.0 if directions[g.scale] == "better" else -1.0
        rs = [imp.at[g.scale, f"r_{o}"] for o in outcomes]
        if any(pd.isna(r) for r in rs):
            continue
        low, high = sorted((sign * g.diff_ci_low, sign * g.diff_ci_high))
        rows.append({"scale": g.scale, "importance": -sign * float(np.mean(rs)),
                     "gap": sign * g.diff, "gap_ci_low": low, "gap_ci_high": high})
    out = pd.DataFrame(rows, columns=["scale", "importance", "gap", "gap_ci_low", "gap_ci_high"])
    if out.empty:
        return out.assign(priority=pd.Series(dtype=object), gap_rank=pd.Series(dtype=float),
                          priority_rank=pd.Series(dtype=float))
    high = out["importance"] >= out["importance"].median()
    behind = out["gap_ci_high"] < 0
    out["priority"] = np.select([behind & high, behind, high], PRIORITY_CLASSES[:3],
                                PRIORITY_CLASSES[3])
    out["gap_rank"] = out["gap"].rank(method="first").astype(float)
    score = out["importance"].clip(lower=0) * (-out["gap"]).clip(lower=0)
    # Ties (no shortfall) are ordered by the gap, most behind first.
    order = np.lexsort((out["gap"].to_numpy(), -score.to_numpy()))
    out["priority_rank"] = np.empty(len(out))
    out.loc[out.index[order], "priority_rank"] = np.arange(1.0, len(out) + 1)
    return out


def _priorities(ctx: Any, results: Results) -> None:
    if ctx.org is None or "driver_importance" not in results.tables:
        return
    data, org = ctx.data, ctx.org
    directions = {c: data.scale(c).scale.higher_is for c in ctx.conditions}
    outcomes = [c.removeprefix("r_") for c in results.tables["driver_importance"].stats
                if c.startswith("r_") and not c.endswith(("_low", "_high"))]
    cells = [{"org": org, "wave": data.latest}, {"org": Except(org), "wave": data.latest},
             {"wave": data.latest}]

    def compute(view: Any) -> tuple[pd.DataFrame, list]:
        out = priority_rows(view.table("condition_gaps"), view.table("driver_importance"),
                            directions, outcomes)
        out.insert(0, "wave", data.latest)
        out.insert(0, "org", org)
        return out, [cells] * len(out)

    stats = dict.fromkeys(("importance", "gap", "gap_ci_low", "gap_ci_high", "priority",
                           "gap_rank", "priority_rank"), "other")
    results.add_derived("priorities", compute, stats, variable="scale",
                        source_measure=ROW_VARIABLE)


# --------------------------------------------------------------------------------------------
# Response rate and the coalition's heat map


def _response_rate(ctx: Any, results: Results) -> None:
    """Respondents over paid staff, per wave, where the staff count is known."""
    staff = ctx.data.staff
    if staff is None or staff.empty:
        return
    rows, sources = [], []
    for wave in ctx.data.waves:
        known = staff[staff["wave"] == wave].set_index("org")
        if ctx.org is not None:
            if ctx.org not in known.index:
                continue
            cell: dict[str, Any] = {"org": ctx.org, "wave": wave}
            total, source = float(known.at[ctx.org, "staff"]), str(known.at[ctx.org, "source"])
        else:
            present = set(ctx.frame.loc[ctx.frame["wave"] == wave, "org"])
            if not present <= set(known.index):
                continue  # the field's rate needs every responding organisation's staff
            cell = {"wave": wave}
            total = float(known["staff"].sum())
            source = "; ".join(sorted(set(known["source"])))
        n = int(_mask(ctx.frame, cell).sum())
        rows.append({**cell, "staff": total, "staff_source": source,
                     "response_rate": n / total if total > 0 else np.nan})
        sources.append([cell])
    if not rows:
        return
    table = _object(pd.DataFrame(rows), ["org", "wave"])
    results.add_table("response_rate", table, {"response_rate": "other"},
                      labels=["staff", "staff_source"], sources=sources)


def _heatmap(ctx: Any, results: Results) -> None:
    """Field report: every organisation's scale means this wave (the coalition's heat map)."""
    if ctx.org is not None:
        return
    cells = [{"org": o, "wave": ctx.latest} for o in ctx.data.organisations]
    _scale_cells(ctx, results, "org_scores", cells)


#: The sections of this module, in the order the report adds them.
BENCHMARK_SECTIONS = (
    _response_rate,
    _comparator,
    _change,
    _item_results,
    _condition_gaps,
    _driver_importance,
    _priorities,
    _heatmap,
)


# --------------------------------------------------------------------------------------------
# Lived-experience staff: coarser results, and who carries the burden


def _lived_coarser(ctx: Any, results: Results) -> None:
    """The field's lived-experience comparison this wave, for an organisation report whose own
    figures may be withheld. (The organisation's waves pooled would be a new pair of cells
    whose difference with the wave's cells the gate must then protect: in the demo it cost
    other organisations their own counts, so the coarser level is the field's.)"""
    if ctx.org is None or not ctx.breakdown or "lived_experience" not in ctx.frame:
        return
    from fieldsurvey.analyse.report import _stat_spec, cell_statistics

    cells = [{"wave": ctx.latest, "lived_experience": g} for g in ("yes", "no")]
    kinds, stat_n, measures = _stat_spec(ctx.wellbeing)
    table = _object(cell_statistics(ctx.frame, cells, ctx.wellbeing), ["org", "wave"])
    results.add_table("lived_experience_coarser", table, kinds, stat_n=stat_n,
                      measures=measures)


#: Pay bands counted as low pay in the lived-experience comparison (codes of ``wf_payband``).
LOW_PAY_BANDS = (1.0, 2.0)


def _burden(ctx: Any, results: Results) -> None:
    """Field report: low pay and financial strain of lived-experience and other staff.

    One share per group (staff in the lowest two pay bands, of all the group's staff) and the
    groups' mean financial strain and pay adequacy, all statistics of the two group cells, and
    the Mann-Whitney test of the whole pay-band distribution naming both cells.
    """
    if ctx.org is not None or "wf_payband" not in ctx.frame:
        return
    from fieldsurvey.analyse.report import _stat_spec, cell_statistics

    groups = [{"wave": ctx.latest, "lived_experience": g} for g in ("yes", "no")]
    scales = [s for s in ("financial_strain", "pay_adequacy") if s in ctx.conditions]
    kinds, stat_n, measures = _stat_spec(scales)
    table = _object(cell_statistics(ctx.frame, groups, scales), ["wave"])
    low = [float(ctx.frame.loc[_mask(ctx.frame, g), "wf_payband"].isin(LOW_PAY_BANDS).mean())
           for g in groups]
    table["low_pay"] = low
    kinds["low_pay"] = "proportion"
    results.add_table("burden", table, kinds, stat_n=stat_n, measures=measures)
    yes, no = (ctx.frame.loc[_mask(ctx.frame, g), "wf_payband"].dropna().to_numpy(float)
               for g in groups)
    test = {"wave": ctx.latest, "p": np.nan, "rank_biserial": np.nan}
    if yes.size and no.size:
        u = stats.mannwhitneyu(yes, no, alternative="two-sided")
        test.update(p=float(u.pvalue), rank_biserial=float(2 * u.statistic / (yes.size * no.size)
                                                            - 1))
    results.add_table("burden_test", _object(pd.DataFrame([test]), ["wave"]),
                      {"p": "other", "rank_biserial": "other"}, sources=[groups])


def payband_labels(data: StudyData) -> dict[float, str]:
    """Pay band code -> label, from the study's workforce-context instrument."""
    for inst in data.study.instruments():
        if "wf_payband" in inst.item_ids:
            scale = inst.item("wf_payband").scale
            return {float(k): str(v) for k, v in inst.response_scales[scale].labels.items()}
    return {}


BENCHMARK_SECTIONS = (*BENCHMARK_SECTIONS, _lived_coarser, _burden)
