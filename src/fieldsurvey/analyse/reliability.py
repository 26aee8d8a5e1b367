"""Reliability tables as results: each statistic with the respondents it rests on.

A reliability analysis describes one sample, but its statistics rest on different numbers of
respondents: a scale's alpha on those who answered the scale, an item's mean on those who
answered the item. Each is declared with its own measure, so an item answered by fewer than the
minimum cell size is withheld even when its scale is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fieldsurvey.instrument import Instrument
from fieldsurvey.psychometrics.reliability import ITEM_STATISTICS
from fieldsurvey.results import ROW_VARIABLE, Results

__all__ = ["ITEM_STATS", "SCALE_STATS", "ReliabilityParts", "analyse_reliability", "reliability_parts",
           "reliability_results", "results_of_parts"]

SAMPLE = "sample"
SCALE_STATS = ("alpha", "alpha_std", "g6", "average_r", "median_r", "alpha_ci_low",
               "alpha_ci_high", "boot_ci_low", "boot_ci_high", "omega_total")
ITEM_STATS = ITEM_STATISTICS


@dataclass
class ReliabilityParts:
    """What the reliability results are built from, the answers no longer needed.

    ``validity`` holds who has a valid value of each measure (see :func:`_validity`);
    ``columns`` the item columns the answers had. Holding these instead of the answers lets a
    caller free the answers (12 MB of flags against 96 MB of numbers for 60 items x 200,000
    respondents) before the results and the gate take memory of their own.
    """

    summary: pd.DataFrame
    items: pd.DataFrame
    validity: pd.DataFrame | None
    n_respondents: int
    columns: frozenset
    notes: list[str]


def reliability_parts(answers: pd.DataFrame, instrument: Instrument, *,
                      missing: str = "pairwise", ci: float = 0.95) -> ReliabilityParts:
    """The reliability tables of ``answers`` and who each statistic rests on.

    Every statistic is computed (none is withheld here; ``min_respondents=1``); the gate
    decides what may be shown. Warnings the analysis gives are kept as ``notes``.

    Examples
    --------
    >>> parts = reliability_parts(answers, inst)  # doctest: +SKIP
    >>> del answers  # the results need only the parts  # doctest: +SKIP
    >>> results = results_of_parts(parts, inst)  # doctest: +SKIP
    """
    import warnings

    from fieldsurvey.psychometrics import instrument_reliability

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary, items = instrument_reliability(answers, instrument, missing=missing, ci=ci,
                                                min_respondents=1)
    return ReliabilityParts(summary, items,
                            _validity(answers, instrument, items, missing == "listwise"),
                            len(answers), frozenset(answers.columns),
                            [str(w.message) for w in caught])


def reliability_results(answers: pd.DataFrame, instrument: Instrument, summary: pd.DataFrame,
                        items: pd.DataFrame, missing: str = "pairwise",
                        keys: pd.Series | None = None) -> Results:
    """The tables of :func:`~fieldsurvey.psychometrics.instrument_reliability` as results.

    ``answers`` are the item answers the tables were computed from (one row per respondent).
    With pairwise deletion a scale's statistics rest on those who answered any of its items and
    an item's on those who answered it; with listwise deletion both rest on those who answered
    every item of the scale.

    Examples
    --------
    >>> results = reliability_results(answers, inst, summary, items)  # doctest: +SKIP
    """
    parts = ReliabilityParts(summary, items, _validity(answers, instrument, items,
                                                       missing == "listwise"),
                             len(answers), frozenset(answers.columns), [])
    return results_of_parts(parts, instrument, missing=missing, keys=keys)


def results_of_parts(parts: ReliabilityParts, instrument: Instrument, *,
                     missing: str = "pairwise", keys: pd.Series | None = None) -> Results:
    """The results of :func:`reliability_parts`: a scale's statistics rest on the respondents
    valid for ``answered:<scale>``, an item's (pairwise) on those who answered it."""
    summary, items = parts.summary, parts.items
    listwise = missing == "listwise"
    # One string object shared by every respondent (a list of them is inferred as Arrow text,
    # and np.full makes a string object per respondent: 13 MB for 200,000).
    sample = np.empty(parts.n_respondents, dtype=object)
    sample.fill("analysed")
    people = pd.DataFrame({SAMPLE: pd.Series(sample, dtype=object, copy=False)})
    results = Results(people, [SAMPLE], measures=parts.validity, keys=keys)
    scale_stats = [c for c in SCALE_STATS if c in summary]
    item_stats = [c for c in ITEM_STATS if c in items]
    scales = summary.rename(columns={"n": "n_answered"}).assign(
        measure=lambda t: "answered:" + t["scale"].astype(str))
    # A scale skipped for items missing from the data rests on nobody: no count to check.
    items_of = {sc.id: sc.items for sc in instrument.scales}
    complete = [bool(items_of.get(str(x))) and all(i in parts.columns for i in items_of[str(x)])
                for x in scales["scale"]]
    scales["n_answered"] = scales["n_answered"].astype("Float64").where(complete)
    known = scales["measure"].isin(list(results.measures)) | scales["n_answered"].isna()
    labels = [c for c in scales if c not in (*scale_stats, "n_answered", "measure")]
    results.add_table("scales", scales[known.to_numpy()].reset_index(drop=True),
                      dict.fromkeys(scale_stats, "other"),
                      stat_n=dict.fromkeys(scale_stats, "n_answered"), measures=ROW_VARIABLE,
                      variable="measure", labels=labels)
    item_cells = items.rename(columns={"n": "n_answered"})
    item_cells["measure"] = ("answered:" + item_cells["scale"].astype(str) if listwise
                             else item_cells["item"].astype(str))
    kinds = {**dict.fromkeys(item_stats, "other"), **({"mean": "mean", "sd": "sd"}
                                                      if "mean" in item_stats else {})}
    labels = [c for c in item_cells if c not in (*item_stats, "n_answered", "measure")]
    results.add_table("items", item_cells.reset_index(drop=True), kinds,
                      stat_n=dict.fromkeys(item_stats, "n_answered"), measures=ROW_VARIABLE,
                      variable="measure", labels=labels)
    return results


def _validity(answers: pd.DataFrame, instrument: Instrument, items: pd.DataFrame,
              listwise: bool) -> pd.DataFrame | None:
    """Who has a valid value of each measure: ``answered:<scale>`` (any of its items answered;
    listwise: all of them) and, pairwise, each item. Written into one boolean block, each
    item's answers looked at once (frames of flags per scale and a copy to gather them took
    40 MB for 60 items x 200,000 respondents; this takes the 12 MB of the flags)."""
    scales = [(sc.id, [i for i in sc.items if i in answers]) for sc in instrument.scales]
    scales = [(scale, present) for scale, present in scales if present]
    own = [] if listwise else [str(i) for i in (items["item"].unique() if len(items) else [])
                               if i in answers]
    names = [f"answered:{scale}" for scale, _ in scales] + own
    if not names:
        return None
    flags = np.empty((len(answers), len(names)), dtype=bool, order="F")
    column_of = {item: len(scales) + j for j, item in enumerate(own)}
    spare = np.empty(len(answers), dtype=bool)
    for j, item in enumerate(own):
        flags[:, len(scales) + j] = answers[item].notna().to_numpy()
    combine = np.logical_and if listwise else np.logical_or
    for j, (_, present) in enumerate(scales):
        for k, item in enumerate(present):
            if item in column_of:
                answered = flags[:, column_of[item]]
            else:
                answered = spare
                answered[:] = answers[item].notna().to_numpy()
            if k == 0:
                flags[:, j] = answered
            else:
                combine(flags[:, j], answered, out=flags[:, j])
    return pd.DataFrame(flags, columns=names, copy=False)


def analyse_reliability(answers: pd.DataFrame, instrument: Instrument, *, missing: str = "pairwise",
                        ci: float = 0.95, keys: pd.Series | None = None
                        ) -> tuple[Results, list[str]]:
    """Reliability of every scale of ``instrument`` as results, and the analysis's warnings.

    Every statistic is computed (none is withheld here); the gate decides what may be shown.
    A caller that can let the answers go first calls :func:`reliability_parts`, frees them,
    then :func:`results_of_parts`.
    """
    parts = reliability_parts(answers, instrument, missing=missing, ci=ci)
    return results_of_parts(parts, instrument, missing=missing, keys=keys), parts.notes
