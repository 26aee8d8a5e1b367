"""Bands and bins of one score: the gate's imagined people must be people someone could be.

A scale's band (Low, Moderate, High) and its histogram bin are intervals of one score. An
attacker knows that a person in the bin 42-50 is in the High band, and that nobody in a Low
band can be in the bin 34-42. The gate protects empty cells with *phantoms* (imagined people,
see :mod:`fieldsurvey.disclosure.structure`); a phantom put in a bin and a band that share no
score is a world the attacker rules out, and a judgement that rests on it can be wrong.

Here nobody scores in the Low band (10-22), so its bins are empty. Before phantoms respected
the score ranges, the gate imagined the empty Low band's person in the bin most people are in
(34-42, say); the attacker, who knows Low is the union of the two lowest bins, then read
withheld cells from the rest (seeds 6, 14, 27 and 34 below: a High band of 3 or 4 people
within one, a withheld bin exactly). The attacker is :mod:`attacker`'s, which knows only the
categories, their score ranges and the released numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from attacker import Attacker, Cell, Layer
from fieldsurvey.disclosure import DisclosurePolicy, Results, gate
from fieldsurvey.disclosure.structure import Universe, build_structure

BANDS = {"Low": (10.0, 22.5), "Moderate": (22.5, 41.5), "High": (41.5, 50.0)}
#: Bins (a, b] of the scale's total; the two lowest make up the Low band.
BINS = {"10 to 16": (10.0, 16.0), "16 to 22": (16.0, 22.0), "22 to 34": (22.0, 34.0),
        "34 to 42": (34.0, 42.0), "42 to 50": (42.0, 50.0)}
ORGS = ("A", "B", "C")


def _label(score: int, ranges: dict[str, tuple[float, float]]) -> str:
    return next(k for k, (lo, hi) in ranges.items() if lo < score <= hi or score == lo == 10)


def _staff(seed: int) -> pd.DataFrame:
    """Three organisations of 8-39 staff, every score above the Low band."""
    rng = np.random.default_rng(seed)
    sizes = {"A": rng.integers(8, 30), "B": rng.integers(8, 30), "C": rng.integers(8, 40)}
    scores = [(org, int(rng.integers(23, 51))) for org, n in sizes.items() for _ in range(n)]
    staff = pd.DataFrame(scores, columns=["org", "score"])
    staff["cs_band"] = [_label(s, BANDS) for s in staff["score"]]
    staff["cs_bin"] = [_label(s, BINS) for s in staff["score"]]
    return staff


def _release(staff: pd.DataFrame) -> Results:
    """The field's histogram, the field's bands, and each organisation's bands."""
    release = Results(staff[["org", "cs_band", "cs_bin"]], ["org", "cs_band", "cs_bin"],
                      linked={"cs_band": "cs", "cs_bin": "cs"},
                      domains={"cs_band": list(BANDS), "cs_bin": list(BINS)},
                      score_ranges={"cs_band": BANDS, "cs_bin": BINS})
    release.add_table("histogram", pd.DataFrame({"cs_bin": list(BINS)}))
    release.add_table("field_bands", pd.DataFrame({"cs_band": list(BANDS)}))
    release.add_table("bands", pd.DataFrame([{"org": o, "cs_band": b}
                                             for o in ORGS for b in [None, *BANDS]]))
    return release


@pytest.mark.parametrize("seed", [6, 14, 27, 34, 40, 41])
def test_an_attacker_who_knows_bins_lie_in_bands_recovers_nothing(seed):
    staff = _staff(seed)
    gated = gate(_release(staff), DisclosurePolicy(min_cell=5))
    attacker = Attacker(staff, [Layer("cs", 10, 50, {"cs_band": dict(BANDS),
                                                     "cs_bin": dict(BINS)})],
                        min_cell=5, domains={"org": list(ORGS)})
    for name, table in gated.tables.items():
        for row in table.to_dict("records"):
            where = {k: row[k] for k in ("org", "cs_band", "cs_bin")
                     if isinstance(row.get(k), str)}
            attacker.count(Cell.of(where), None if pd.isna(row["n"]) else row["n"], name)
    assert attacker.targets, "nothing withheld: the scenario tests nothing"
    assert attacker.check() == []


def test_a_phantom_in_an_empty_bin_is_in_the_band_that_holds_it():
    """Nobody is in the bin 10-16, and most people are Moderate: the bin's phantom is Low
    (the only band with scores of 10-16), not the common band."""
    staff = _staff(0)
    universe = Universe(staff[["org", "cs_band", "cs_bin"]].astype(object),
                        {"org": list(ORGS), "cs_band": list(BANDS), "cs_bin": list(BINS)},
                        {"cs_band": "cs", "cs_bin": "cs"},
                        ranges={"cs_band": BANDS, "cs_bin": BINS})
    empty_bin = (("org", "A"), ("cs_bin", "10 to 16"))
    st = build_structure(universe, [empty_bin, (("org", "A"), ("cs_band", "Moderate"))])
    phantoms = st.atom_frame[st.atom_frame["n"] == 0]
    low, bin_10_16 = st.codes["cs_band"]["Low"], st.codes["cs_bin"]["10 to 16"]
    assert phantoms["cs_bin"].tolist() == [bin_10_16]
    assert phantoms["cs_band"].tolist() == [low]


def test_a_cell_no_score_can_be_in_gets_no_phantom():
    """A bin and a band that share no score (10-16 and High): the attacker knows the cell is
    empty, so there is nobody to imagine in it."""
    staff = _staff(0)
    universe = Universe(staff[["cs_band", "cs_bin"]].astype(object),
                        {"cs_band": list(BANDS), "cs_bin": list(BINS)},
                        {"cs_band": "cs", "cs_bin": "cs"},
                        ranges={"cs_band": BANDS, "cs_bin": BINS})
    st = build_structure(universe, [(("cs_band", "High"), ("cs_bin", "10 to 16"))])
    assert (st.atom_frame["n"] > 0).all()


def test_a_phantom_with_a_score_is_never_put_in_no_score():
    """Everyone scores 35 or more: the empty Low band's phantom goes to a bin with Low
    scores, never to "no score" (which has none)."""
    staff = _staff(0)
    staff = staff[staff["cs_bin"].isin(["34 to 42", "42 to 50"])]
    domains = {"cs_band": [*BANDS, "no score"], "cs_bin": [*BINS, "no score"]}
    universe = Universe(staff[["org", "cs_band", "cs_bin"]].astype(object),
                        {"org": list(ORGS), **domains}, {"cs_band": "cs", "cs_bin": "cs"},
                        ranges={"cs_band": BANDS, "cs_bin": BINS})
    st = build_structure(universe, [(("org", "A"), ("cs_band", "Low")),
                                    (("org", "A"), ("cs_bin", "34 to 42"))])
    phantoms = st.atom_frame[st.atom_frame["n"] == 0]
    assert phantoms["cs_band"].tolist() == [st.codes["cs_band"]["Low"]]
    assert phantoms["cs_bin"].tolist() == [st.codes["cs_bin"]["10 to 16"]]  # the widest fit


def test_a_count_with_a_score_beside_the_bands_does_not_give_away_the_last_band():
    """Everyone at A has a score. Shown: A's staff, its Moderate and High bands and how many
    have a score; then "no score" is 0 and Low the rest. The phantom of the empty "no score"
    band had a valid score (validity was not tied to the bands), so the gate judged both
    protected. Now it is someone without a score, and the attacker reads neither."""
    rng = np.random.default_rng(1)
    scores = np.r_[[15, 18, 20], rng.integers(23, 41, 12), rng.integers(42, 50, 9),
                   rng.integers(23, 50, 30)].astype(float)
    staff = pd.DataFrame({"org": ["A"] * 24 + ["B"] * 30, "cs": scores})
    staff["cs_band"] = [_label(int(s), BANDS) for s in scores]
    release = Results(staff[["org", "cs_band"]], ["org", "cs_band"],
                      measures=staff[["cs"]], linked={"cs_band": "cs"},
                      domains={"cs_band": [*BANDS, "no score"]},
                      unprotected={"cs_band": ["no score"]}, score_ranges={"cs_band": BANDS})
    release.add_table("bands", pd.DataFrame({"org": "A", "cs_band": [None, *BANDS, "no score"]}))
    release.add_table("scored", pd.DataFrame({"org": ["A"], "cs_n": [24], "cs_x": [1.0]}),
                      {"cs_x": "other"}, stat_n={"cs_x": "cs_n"}, measures={"cs_n": "cs"})
    gated = gate(release, DisclosurePolicy(min_cell=5))
    attacker = Attacker(staff, [Layer("cs", 10, 50, {"cs_band": dict(BANDS)})], min_cell=5,
                        domains={"org": ["A", "B"]})
    for row in gated["bands"].to_dict("records"):
        where = {k: row[k] for k in ("org", "cs_band") if isinstance(row.get(k), str)}
        attacker.count(Cell.of(where), None if pd.isna(row["n"]) else row["n"], "bands")
    scored = gated["scored"].iloc[0]
    attacker.count(Cell.of({"org": "A"}, "cs"), None if pd.isna(scored["cs_n"])
                   else scored["cs_n"], "scored")
    assert attacker.targets
    assert attacker.check() == []
