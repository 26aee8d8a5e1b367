"""The gate's check of shown means and SDs against withheld band counts (disclosure/moments.py).

A band holds scores in a known range, so a group's mean and SD bound how many of its people
can be in each band. These tests build releases directly (no study) where the bound is tight
and where it is not, and solve the attacker's programme independently (scipy, not the
module's code) to prove what the gate shows does not narrow the withheld count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from fieldsurvey.disclosure import Ledger, gate
from fieldsurvey.disclosure.exposure import is_protected
from fieldsurvey.results import Results

RANGES = {"Low": (10.0, 22.5), "Moderate": (22.5, 41.5), "High": (41.5, 50.0)}


def _release(scores: np.ndarray, ledger_keys: bool = False) -> Results:
    bands = pd.cut(scores, [10, 22.5, 41.5, 50], labels=list(RANGES), include_lowest=True)
    people = pd.DataFrame({"group": ["g"] * len(scores),
                           "band": pd.Series(bands).astype(object).to_numpy()})
    keys = [f"r{i}" for i in range(len(scores))] if ledger_keys else None
    return Results(people, ["group", "band"], measures=pd.DataFrame({"score": scores}),
                   keys=keys, linked={"band": "score"}, score_ranges={"band": RANGES})


def _with_tables(release: Results, scores: np.ndarray) -> Results:
    moments = pd.DataFrame({"group": ["g"], "score_n": [len(scores)],
                            "score_mean": [scores.mean()], "score_sd": [scores.std(ddof=1)]})
    release.add_table("moments", moments, {"score_mean": "mean", "score_sd": "sd"},
                      stat_n={"score_mean": "score_n", "score_sd": "score_n"},
                      measures={"score_n": "score"})
    bands = pd.DataFrame({"group": ["g"] * 3, "band": list(RANGES)})
    return release.add_table("bands", bands)


def _attacker_range(n: int, mean: float, sd: float, known: dict[str, int], target: str
                    ) -> tuple[float, float]:
    """min/max of the target band's count given n, mean, SD and the known band counts."""
    labels = list(RANGES)
    k = len(labels)  # columns: x (counts), s (sums), q (sums of squares) per band
    a_eq, b_eq, a_ub, b_ub = [], [], [], []

    def row(entries: dict[int, float]) -> list[float]:
        out = [0.0] * (3 * k)
        for j, v in entries.items():
            out[j] = v
        return out

    a_eq += [row({j: 1 for j in range(k)}), row({k + j: 1 for j in range(k)}),
             row({2 * k + j: 1 for j in range(k)})]
    b_eq += [n, n * mean, (n - 1) * sd * sd + n * mean * mean]
    for label, count in known.items():
        a_eq.append(row({labels.index(label): 1}))
        b_eq.append(count)
    for j, (lo, hi) in enumerate(RANGES.values()):
        a_ub += [row({k + j: -1, j: lo}), row({k + j: 1, j: -hi}),
                 row({2 * k + j: -1, j: lo * lo}),
                 row({2 * k + j: 1, k + j: -(lo + hi), j: lo * hi})]
        b_ub += [0, 0, 0, 0]
    bounds = [(0, None)] * k + [(None, None)] * (2 * k)
    c = np.zeros(3 * k)
    c[labels.index(target)] = 1
    low = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    high = linprog(-c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds,
                   method="highs")
    return low.fun, -high.fun


def _spread_group() -> np.ndarray:
    """12 people: one high (50), ten moderate (41), one low (22)."""
    return np.array([50.0] + [41.0] * 10 + [22.0])


def test_the_attacker_narrows_the_high_band_without_the_check():
    """The scenario is a real threat: with n, mean, SD and the moderate count, the
    attacker's own programme tells that someone is in the withheld high band (1 or 2)."""
    scores = _spread_group()
    lo, hi = _attacker_range(12, scores.mean(), scores.std(ddof=1), {"Moderate": 10}, "High")
    assert not is_protected(lo, hi, 10), (lo, hi)


def test_a_mean_that_would_narrow_a_withheld_band_is_withheld():
    scores = _spread_group()
    gated = gate(_with_tables(_release(scores), scores))
    bands = gated["bands"].set_index("band")["n"]
    assert pd.isna(bands["High"]) and pd.isna(bands["Low"])
    assert bands["Moderate"] == 10
    row = gated["moments"].iloc[0]
    assert row["score_n"] == 12  # the count stays: it rests on 12 people
    assert pd.isna(row["score_mean"]) and pd.isna(row["score_sd"])


def test_a_mean_that_narrows_nothing_is_shown():
    """Everyone moderate but one low and one high... spread thinly: n, mean and SD with the
    moderate count leave the withheld bands wide, so the mean is shown."""
    scores = np.array([30.0, 31.0, 29.0, 32.0, 28.0, 30.0, 33.0, 27.0, 30.0, 31.0, 29.0, 30.0,
                       20.0, 45.0])
    gated = gate(_with_tables(_release(scores), scores))
    shown = gated["bands"].set_index("band")["n"]
    row = gated["moments"].iloc[0]
    assert not pd.isna(row["score_mean"])
    known = {b: int(v) for b, v in shown.items() if not pd.isna(v)}
    for band in (b for b in RANGES if b not in known):
        lo, hi = _attacker_range(len(scores), row["score_mean"], row["score_sd"], known, band)
        assert is_protected(lo, hi, 10), (band, lo, hi)


def test_a_mean_released_before_makes_the_counts_beside_it_withheld():
    """The mean comes out first (nothing withheld beside it yet); a later table of band
    counts must not pin the high band with it: its moderate count is withheld too."""
    scores = _spread_group()
    ledger = Ledger.in_memory()
    first = _release(scores, ledger_keys=True)
    moments_only = pd.DataFrame({"group": ["g"], "score_n": [12],
                                 "score_mean": [scores.mean()],
                                 "score_sd": [scores.std(ddof=1)]})
    first.add_table("moments", moments_only, {"score_mean": "mean", "score_sd": "sd"},
                    stat_n={"score_mean": "score_n", "score_sd": "score_n"},
                    measures={"score_n": "score"})
    assert not pd.isna(gate(first, ledger=ledger)["moments"].iloc[0]["score_mean"])
    later = _release(scores, ledger_keys=True)
    later.add_table("bands", pd.DataFrame({"group": ["g"] * 3, "band": list(RANGES)}))
    bands = gate(later, ledger=ledger)["bands"].set_index("band")["n"]
    known = {b: int(v) for b, v in bands.items() if not pd.isna(v)}
    for band in (b for b in RANGES if b not in known):
        lo, hi = _attacker_range(12, scores.mean(), scores.std(ddof=1), known, band)
        assert is_protected(lo, hi, 10), (band, lo, hi, known)


@pytest.mark.parametrize("bad", [{"nope": RANGES}, {"group": RANGES}])
def test_score_ranges_must_name_a_linked_dimension(bad):
    people = pd.DataFrame({"group": ["g"] * 12, "band": ["Low"] * 12})
    with pytest.raises(ValueError, match="score_ranges"):
        Results(people, ["group", "band"], linked={"band": "score"}, score_ranges=bad)
