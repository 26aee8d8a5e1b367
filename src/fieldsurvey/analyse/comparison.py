"""Group comparisons as results: every group (missing answers included), and the tests.

A test between groups is derived from the groups' cells (a Welch t with its df and Hedges' g
with its interval give back each group's n, mean and SD), so its sources are the groups it
compares: the gate shows it only where every compared group is shown.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from fieldsurvey.analyse.cells import cell_statistics
from fieldsurvey.analyse.frame import NOT_STATED, AnalysisFrame, group_categories, group_labels
from fieldsurvey.results import ROW_VARIABLE, Results

__all__ = ["TEST_LABELS", "TEST_STATISTICS", "chosen_groups", "group_comparison"]

# Columns of compare_groups' result shown per test: names of the tests, then their numbers.
TEST_LABELS = ("test", "effect_size", "robust_test")
TEST_STATISTICS = ("statistic", "df1", "df2", "p", "p_adj", "effect", "effect_ci_low",
                   "effect_ci_high", "robust_statistic", "robust_p")


def chosen_groups(values: pd.Series, groups: Sequence[str]) -> list[str] | None:
    """The groups asked for, matched to the data's categories (case-insensitive)."""
    from fieldsurvey.store import StudyError

    if not groups:
        return None
    present = list(pd.unique(values))
    out = []
    for g in groups:
        match = [v for v in present if str(v).casefold() == str(g).casefold()]
        if not match:
            raise StudyError(f"no group {g!r}; groups are {', '.join(map(str, present))}")
        out.append(match[0])
    return out


def group_comparison(
    frame: AnalysisFrame,
    scales: Sequence[str],
    by: str,
    *,
    groups: Sequence[str] = (),
    correction: str = "holm",
    weights: pd.Series | None = None,
) -> Results:
    """Scale scores by group and the tests between groups, as results for the gate.

    Tables: ``groups`` (one row per group x scale, every category of ``by`` including "not
    stated", plus everyone), ``tests`` (one row per scale, its sources the compared groups),
    and with survey ``weights`` ``weighted`` (each group's weighted mean, its sources the
    group's weighting cells, organisation x role).

    Examples
    --------
    >>> results = group_comparison(load_frame("s"), ["burnout"], "wf_lived_exp")  # doctest: +SKIP
    """
    from fieldsurvey.compare import compare_groups

    labels = group_labels(frame, by)
    data = frame.data.assign(**{by: labels})
    compared = chosen_groups(labels, groups)
    categories = sorted(pd.unique(labels), key=lambda v: (v == NOT_STATED, str(v)))
    tested = compared or [c for c in categories if c != NOT_STATED]
    dims = [by]
    respondents = pd.DataFrame({by: labels})
    if weights is not None:
        respondents["org"] = data["org"].astype(str).to_numpy()
        respondents["role"] = data[frame.study.config.role_column].astype("string").fillna(
            NOT_STATED).astype(object).to_numpy()
        dims += ["org", "role"]
    results = Results(respondents, dims, measures=data[list(scales)], keys=frame.keys,
                      domains={by: group_categories(frame, by)})
    rows = []
    for scale in scales:
        stats = cell_statistics(data, [{by: g} for g in categories] + [{by: None}], [scale])
        for cell, row in zip([*categories, None], stats.itertuples(index=False), strict=True):
            rows.append({by: cell, "scale": scale, "n_valid": getattr(row, f"{scale}_n"),
                         "mean": getattr(row, f"{scale}_mean"),
                         "sd": getattr(row, f"{scale}_sd")})
    table = pd.DataFrame(rows)
    table[by] = table[by].astype(object).where(table[by].notna(), None)
    results.add_table("groups", table, {"mean": "mean", "sd": "sd"},
                      stat_n={"mean": "n_valid", "sd": "n_valid"}, measures=ROW_VARIABLE,
                      variable="scale")
    tests = compare_groups(data.loc[labels.isin(tested).to_numpy()], list(scales), by,
                           groups=tested, correction=correction)
    test_cells = tests[["scale", *TEST_LABELS, *TEST_STATISTICS]].copy()
    sources = [[{by: g} for g in tested]] * len(test_cells)
    results.add_table("tests", test_cells, dict.fromkeys(TEST_STATISTICS, "other"),
                      variable="scale", labels=list(TEST_LABELS), sources=sources,
                      source_measure=ROW_VARIABLE)
    if weights is not None:
        _weighted(results, data, list(scales), by, weights)
    return results


def _weighted(results: Results, data: pd.DataFrame, scales: list[str], by: str,
              weights: pd.Series) -> None:
    """Each group's survey-weighted mean, from its weighting cells (organisation x role)."""
    from fieldsurvey.compare import weighted_means

    frame = results.respondents
    has_weight = weights.notna().to_numpy()
    table = weighted_means(data, scales, weights, by=by, cluster="org").rename(
        columns={"ci_low": "weighted_ci_low", "ci_high": "weighted_ci_high"})
    table[by] = table[by].astype(object).where(table[by].notna(), None)
    table = table[[by, "scale", "weighted_mean", "weighted_ci_low", "weighted_ci_high"]]
    sources = []
    for value in table[by]:
        inside = has_weight & ((frame[by] == value).to_numpy() if value is not None else True)
        cells = frame.loc[inside, ["org", "role"]].drop_duplicates()
        sources.append([{by: value, "org": o, "role": r} if value is not None
                        else {"org": o, "role": r} for o, r in cells.itertuples(index=False)])
    results.add_table("weighted", table, dict.fromkeys(
        ["weighted_mean", "weighted_ci_low", "weighted_ci_high"], "other"), variable="scale",
        sources=sources, source_measure=ROW_VARIABLE)


def invariance_results(results: Results, frame: AnalysisFrame, scales: Sequence[str], by: str,
                       groups: Sequence[str], min_cell: int) -> None:
    """Measurement invariance between two compared groups, per scale of three or more items.

    The level reached is a statistic of both groups' answers: its sources are the two groups.
    """
    import warnings

    from fieldsurvey.psychometrics import CFAError, measurement_invariance

    labels = group_labels(frame, by)
    compared = chosen_groups(labels, groups) or [
        c for c in pd.unique(labels) if c != NOT_STATED]
    if len(compared) != 2:
        return
    subset = frame.data.assign(**{by: labels})
    subset = subset[labels.isin(compared).to_numpy()]
    rows = []
    for scale in scales:
        inst = next((i for i in frame.instruments if scale in {s.id for s in i.scales}), None)
        if inst is None or inst.scale(scale).k < 3:
            continue
        items = list(inst.scale(scale).items)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = measurement_invariance(subset[[*items, by]].dropna(subset=items), inst, by,
                                             scales=[scale], min_group_size=min_cell)
            level, note = str(res.highest_level), ""
        except (CFAError, ValueError) as exc:
            level, note = "not tested", str(exc).splitlines()[0]
        rows.append({"scale": scale, "highest_level": level, "note": note})
    if rows:
        sources = [[{by: g} for g in compared]] * len(rows)
        results.add_table("invariance", pd.DataFrame(rows),
                          {"highest_level": "other", "note": "other"}, variable="scale",
                          sources=sources, source_measure=ROW_VARIABLE)
