"""Reliability tables as users see them: released only through the disclosure gate.

A reliability analysis describes one sample, but its statistics rest on different numbers of
respondents: a scale's alpha on those who answered the scale, an item's mean on those who answered
the item. Each statistic is handed to the gate with its own count, so an item answered by fewer
than the minimum cell size is withheld even when its scale is shown.
"""

from __future__ import annotations

import pandas as pd

from fieldsurvey.disclosure import DisclosurePolicy, Release, gate
from fieldsurvey.psychometrics.reliability import ITEM_STATISTICS

_SAMPLE = "sample"
SCALE_STATS = ("alpha", "alpha_std", "g6", "average_r", "median_r", "alpha_ci_low", "alpha_ci_high",
               "boot_ci_low", "boot_ci_high", "omega_total")
ITEM_STATS = ITEM_STATISTICS


def gate_reliability(summary: pd.DataFrame, items: pd.DataFrame, respondents: int, *,
                     min_cell: int = 10, force_min_cell: bool = False
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Withhold every reliability statistic that rests on fewer than ``min_cell`` respondents.

    Parameters
    ----------
    summary, items : the tables of :func:`~fieldsurvey.psychometrics.instrument_reliability`
    respondents : rows in the analysed data (the sample the tables describe)

    Returns
    -------
    summary, items with withheld values as NA (``n`` included) and a ``suppressed`` column.

    Examples
    --------
    >>> s = pd.DataFrame({"scale": ["a"], "n": [8], "alpha": [0.8]})
    >>> i = pd.DataFrame({"scale": ["a"], "item": ["x"], "n": [8], "mean": [2.0]})
    >>> gate_reliability(s, i, 30)[0]["alpha"].isna().tolist()
    [True]
    """
    people = pd.DataFrame({_SAMPLE: ["analysed"] * respondents})
    scale_stats = [c for c in SCALE_STATS if c in summary]
    item_stats = [c for c in ITEM_STATS if c in items]
    scale_cells = summary.rename(columns={"n": "n_answered"}).assign(**{_SAMPLE: None})
    item_cells = items.rename(columns={"n": "n_answered"}).assign(**{_SAMPLE: None})
    scale_labels = [c for c in scale_cells if c not in (*scale_stats, "n_answered", _SAMPLE)]
    item_labels = [c for c in item_cells if c not in (*item_stats, "n_answered", _SAMPLE)]
    release = Release(people, [_SAMPLE])
    # Reliability statistics are not sums over respondents: kind "other", withheld with their count.
    release.add_table("scales", scale_cells, {c: "other" for c in scale_stats},
                      stat_n={c: "n_answered" for c in scale_stats}, labels=scale_labels,
                      variable="scale")
    release.add_table("items", item_cells,
                      {**{c: "other" for c in item_stats}, "mean": "mean", "sd": "sd"}
                      if "mean" in item_stats else {c: "other" for c in item_stats},
                      stat_n={c: "n_answered" for c in item_stats}, labels=item_labels,
                      variable="item")
    gated = gate(release, DisclosurePolicy(min_cell=min_cell, force_below_5=force_min_cell))
    tables = gated.public_tables()
    out = []
    for name in ("scales", "items"):
        table = tables[name].drop(columns=[_SAMPLE, "n"]).rename(columns={"n_answered": "n"})
        out.append(table)
    return out[0], out[1]
