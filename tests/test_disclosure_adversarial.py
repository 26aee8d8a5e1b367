"""Attacks on the disclosure gate: nothing under the threshold may be read or derived.

Each scenario gates a release and then lets an independent integer-programming attacker
(defined below) compute what it can about every withheld count.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from fieldsurvey.disclosure import (
    ROW_VARIABLE,
    DisclosurePolicy,
    Results,
    audit,
    gate,
    gate_table,
    margin_cells,
)

POLICY = DisclosurePolicy(min_cell=10)


# --- An independent attacker ------------------------------------------------------------
# It rebuilds the linear system from scratch (every combination of dimension values is an
# unknown non-negative integer count; every shown cell is an equation) and asks scipy's MILP
# solver for the true integer range of each withheld count. It shares no code with the gate.


def integer_ranges(people: pd.DataFrame, dims: list[str], tables: dict[str, pd.DataFrame]):
    """Yield (table, row, true n, lo, hi) for every withheld row of every gated table."""
    domains = [sorted(people[d].unique().tolist(), key=str) for d in dims]
    atoms = pd.DataFrame(list(itertools.product(*domains)), columns=dims)

    def mask(row: pd.Series) -> np.ndarray:
        m = np.ones(len(atoms), dtype=bool)
        for d in dims:
            if d in row.index and pd.notna(row[d]):
                m &= (atoms[d] == row[d]).to_numpy() | (
                    atoms[d].astype(str) == str(row[d])
                ).to_numpy()
        return m

    truth = atoms.merge(people.groupby(dims).size().rename("n").reset_index(), how="left")
    truth = truth["n"].fillna(0).to_numpy()
    eq_rows, eq_vals, hidden = [], [], []
    for name, df in tables.items():
        for pos in range(len(df)):
            row = df.iloc[pos]
            m = mask(row).astype(float)
            if bool(row["suppressed"]):
                hidden.append((name, pos, float(m @ truth), m))
            else:
                eq_rows.append(m)
                eq_vals.append(float(row["n"]))
    cons = []
    if eq_rows:
        a = np.array(eq_rows)
        cons = [LinearConstraint(a, np.array(eq_vals), np.array(eq_vals))]
    integrality = np.ones(len(atoms))
    bounds = Bounds(np.zeros(len(atoms)), np.full(len(atoms), np.inf))
    for name, pos, true_n, m in hidden:
        lo = milp(m, integrality=integrality, bounds=bounds, constraints=cons)
        hi = milp(-m, integrality=integrality, bounds=bounds, constraints=cons)
        assert lo.status == 0, lo.message
        hi_val = math.inf if hi.status != 0 else -hi.fun
        yield name, pos, true_n, round(lo.fun), hi_val


def assert_protected(people, dims, gated, min_cell: int) -> None:
    """Fail if any withheld count is pinned down or boxed inside the small range."""
    for name, df in gated.tables.items():
        shown = ~df["suppressed"].to_numpy(dtype=bool)
        assert (df.loc[shown, "n"].astype(int) >= min_cell).all(), name
        assert df.loc[~shown, "n"].isna().all(), name
    for name, pos, true_n, lo, hi in integer_ranges(people, dims, gated.tables):
        assert lo <= true_n <= hi
        assert hi - lo >= 1, f"{name} row {pos}: count fixed at {lo}"
        assert hi >= min_cell or lo == 0, f"{name} row {pos}: boxed in [{lo}, {hi}]"


def people_from(counts: dict[tuple, int], dims: list[str]) -> pd.DataFrame:
    rows = [key for key, n in counts.items() for _ in range(n)]
    return pd.DataFrame(rows, columns=dims)


def margins(people: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Every margin of a cross-tabulation (cells, sub-totals, grand total) as cell rows."""
    return margin_cells(people, by)


def test_one_lived_experience_respondent_in_org_of_12():
    dims = ["org", "lived_experience"]
    people = people_from(
        {("A", "yes"): 1, ("A", "no"): 11, ("B", "no"): 40, ("B", "yes"): 15}, dims
    )
    rel = Results(people, dims).add_table("le", margins(people, dims))
    gated = gate(rel, POLICY)
    t = gated["le"]
    a_rows = t[(t["org"] == "A") & t["lived_experience"].notna()]
    assert a_rows["suppressed"].all()  # yes=1 primary, no=11 in the same sensitive block
    assert a_rows["n"].isna().all()
    assert audit(gated).passed
    assert_protected(people, dims, gated, 10)


def test_two_organisations_of_four():
    dims = ["org"]
    people = people_from({("A",): 4, ("B",): 4, ("C",): 30, ("D",): 25}, dims)
    gated = gate(Results(people, dims).add_table("orgs", margins(people, dims)), POLICY)
    t = gated["orgs"]
    assert t["suppressed"].tolist() == [False, True, True, False, False]  # total, A, B, C, D
    # A+B = 8 is readable from the total, but each is anywhere in [0, 8]: allowed by the rule.
    ranges = [(lo, hi) for *_, lo, hi in integer_ranges(people, dims, gated.tables)]
    assert ranges == [(0, 8), (0, 8)]
    assert audit(gated).passed
    assert_protected(people, dims, gated, 10)


def test_subgroups_adding_up_to_org_total():
    dims = ["org", "role"]
    people = people_from({("A", "frontline"): 15, ("A", "manager"): 3, ("A", "admin"): 12}, dims)
    cells = pd.DataFrame({"org": ["A"] * 4, "role": [None, "frontline", "manager", "admin"]})
    gated = gate(Results(people, dims).add_table("roles", cells), POLICY)
    t = gated["roles"]
    assert t["suppressed"].tolist() == [False, False, True, True]  # admin (12) < frontline (15)
    assert_protected(people, dims, gated, 10)


def test_field_total_beside_all_but_one_organisation():
    dims = ["org"]
    people = people_from({("A",): 6, ("B",): 50, ("C",): 20, ("D",): 35}, dims)
    gated = gate(Results(people, dims).add_table("orgs", margins(people, dims)), POLICY)
    t = gated["orgs"].set_index("org")
    assert t.loc["A", "suppressed"] and t.loc["C", "suppressed"]  # C is the smallest shown
    assert not t.loc["B", "suppressed"] and not t.loc["D", "suppressed"]
    assert audit(gated).passed
    assert_protected(people, dims, gated, 10)


def test_field_total_in_another_table_is_still_used():
    """Subtraction across tables: the field total lives in a separate summary table."""
    dims = ["org"]
    people = people_from({("A",): 6, ("B",): 50, ("C",): 20}, dims)
    rel = Results(people, dims)
    rel.add_table("orgs", pd.DataFrame({"org": ["A", "B", "C"]}))
    rel.add_table("headline", pd.DataFrame({"org": [None]}))
    gated = gate(rel, POLICY)
    assert gated["orgs"]["suppressed"].tolist() == [True, False, True]
    assert_protected(people, dims, gated, 10)


def test_waves_whose_sum_is_shown():
    dims = ["org", "wave"]
    people = people_from(
        {("A", 1): 14, ("A", 2): 3, ("A", 3): 11, ("B", 1): 30, ("B", 2): 25, ("B", 3): 28}, dims
    )
    rel = Results(people, dims).add_table("waves", margins(people, dims))
    gated = gate(rel, POLICY)
    t = gated["waves"]
    a2 = t[(t["org"] == "A") & (t["wave"] == 2)]
    assert a2["suppressed"].all()
    assert audit(gated).passed
    assert_protected(people, dims, gated, 10)


def test_group_mean_not_recoverable_from_overall_mean():
    """n*mean is linear: overall sum minus shown group sums would give the hidden group's sum."""
    dims = ["org", "role"]
    people = people_from({("A", "frontline"): 20, ("A", "manager"): 5, ("A", "admin"): 30}, dims)
    people["burnout"] = np.arange(len(people), dtype=float)
    cells = margins(people, dims)
    cells = cells[cells["org"].notna()].reset_index(drop=True)
    means = [
        people.loc[
            (people["org"] == r.org) & (people["role"] == r.role if pd.notna(r.role) else True),
            "burnout",
        ].mean()
        for r in cells.itertuples()
    ]
    cells["burnout_mean"] = means
    gated = gate(Results(people, dims).add_table("t", cells, {"burnout_mean": "mean"}), POLICY)
    t = gated["t"]
    hidden = t["suppressed"].to_numpy()
    assert t.loc[hidden, "burnout_mean"].isna().all()
    assert hidden.sum() >= 2  # manager and one complement
    result = audit(gated)
    assert result.passed, result.violations
    assert_protected(people, dims, gated, 10)


def test_statistic_on_few_valid_answers_gets_its_own_complement():
    """Counts are large but one group's mean rests on 4 answers (item non-response)."""
    dims = ["org", "role"]
    people = people_from({("A", "frontline"): 20, ("A", "manager"): 15, ("A", "admin"): 12}, dims)
    cells = pd.DataFrame(
        {
            "org": ["A"] * 4,
            "role": [None, "frontline", "manager", "admin"],
            "sts_mean": [21.0, 20.0, 25.0, 22.0],
            "sts_n": [36, 20, 4, 12],
        }
    )
    # Who has an STS score: everyone but 11 of the managers.
    scored = np.ones(len(people), dtype=bool)
    scored[np.flatnonzero((people["role"] == "manager").to_numpy())[4:]] = False
    rel = Results(people, dims, measures=pd.DataFrame({"sts": scored})).add_table(
        "t", cells, {"sts_mean": "mean"}, stat_n={"sts_mean": "sts_n"}, measures="sts"
    )
    gated = gate(rel, POLICY)
    t = gated["t"]
    assert pd.isna(t["sts_mean"].iloc[2]) and pd.isna(t["sts_n"].iloc[2])
    # The managers' scored count (4) = 36 - 20 - 12 unless another group's is withheld; the
    # admins' scored count is their count (all 12 answered), so their row goes with it.
    assert t["sts_mean"].iloc[1:].isna().sum() >= 2
    assert t["n"].notna().sum() >= 2
    assert_protected(people, dims, gated, 10)
    result = audit(gated)
    assert result.passed, result.violations


def test_lived_experience_by_role_in_small_org_suppressed_as_block():
    dims = ["org", "role", "lived_experience"]
    people = people_from(
        {
            ("A", "frontline", "yes"): 2,
            ("A", "frontline", "no"): 10,
            ("A", "manager", "no"): 12,
            ("B", "frontline", "yes"): 20,
            ("B", "frontline", "no"): 25,
            ("B", "manager", "no"): 11,
            ("B", "manager", "yes"): 10,
        },
        dims,
    )
    cells = margins(people, dims)
    gated = gate(Results(people, dims).add_table("cross", cells), POLICY)
    t = gated["cross"]
    block = t[(t["org"] == "A") & (t["role"] == "frontline") & t["lived_experience"].notna()]
    assert block["suppressed"].all()
    # The manager block of A has nobody with lived experience: showing 'no: 12' would reveal it.
    block = t[(t["org"] == "A") & (t["role"] == "manager") & t["lived_experience"].notna()]
    assert block["suppressed"].all()
    assert audit(gated).passed
    assert_protected(people, dims, gated, 10)


def test_tampered_release_fails_audit():
    dims = ["org"]
    people = people_from({("A",): 6, ("B",): 50, ("C",): 20}, dims)
    gated = gate(Results(people, dims).add_table("orgs", margins(people, dims)), POLICY)
    t = gated["orgs"]
    comp = t.index[t["suppressed"] & (t["org"] != "A")][0]
    t.loc[comp, "suppressed"] = False
    t.loc[comp, "n"] = 20
    result = audit(gated)
    assert not result.passed
    assert "count derivable from shown values" in set(result.violations["problem"])
    assert "org=A" in set(result.violations["cell"])


def test_showing_a_small_cell_fails_audit():
    dims = ["org"]
    people = people_from({("A",): 6, ("B",): 50}, dims)
    gated = gate(Results(people, dims).add_table("orgs", pd.DataFrame({"org": ["A", "B"]})))
    t = gated["orgs"]
    t.loc[0, "suppressed"] = False
    t.loc[0, "n"] = 6
    problems = set(audit(gated).violations["problem"])
    assert "shown with n=6<10" in problems


@st.composite
def hierarchical_study(draw):
    n_orgs = draw(st.integers(1, 4))
    groups = ["g1", "g2", "g3"][: draw(st.integers(2, 3))]
    waves = [1, 2][: draw(st.integers(1, 2))]
    counts = {}
    for o in range(n_orgs):
        for g in groups:
            for w in waves:
                counts[(f"org{o}", g, w)] = draw(st.integers(0, 25))
    if sum(counts.values()) == 0:
        counts[("org0", groups[0], waves[0])] = 1
    min_cell = draw(st.sampled_from([5, 10]))
    by = draw(st.sampled_from([["org", "group"], ["org", "group", "wave"], ["org", "wave"]]))
    return counts, min_cell, by


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hierarchical_study())
def test_random_hierarchical_tables_are_protected(study):
    counts, min_cell, by = study
    dims = ["org", "group", "wave"]
    people = people_from(counts, dims)
    rel = Results(people, dims).add_table("t", margins(people, by))
    rel.add_table("orgs", margins(people, ["org"]))
    policy = DisclosurePolicy(min_cell=min_cell, sensitive=())
    gated = gate(rel, policy)
    result = audit(gated)
    assert result.passed, result.violations
    for df in gated.tables.values():
        shown = ~df["suppressed"]
        assert (df.loc[shown, "n"].astype(int) >= min_cell).all()
    assert_protected(people, dims, gated, min_cell)


@pytest.mark.parametrize("label", [None, "All"])
def test_gate_table_with_pivot_margins(label):
    t = pd.DataFrame(
        {
            "org": ["A", "A", "B", "B", "A", "B", "All", "All", "All"],
            "role": ["f", "m", "f", "m", "All", "All", "f", "m", "All"],
            "n": [15, 3, 40, 22, 18, 62, 55, 25, 80],
        }
    )
    if label is None:
        t = t.replace("All", None)
    out = gate_table(t, dims=["org", "role"], total_label=label)
    assert out["suppressed"].tolist()[:4] == [True, True, True, True]
    assert (out.loc[~out["suppressed"], "n"] >= 10).all()
    assert out["org"].tolist() == t["org"].tolist()


@st.composite
def crossed_study(draw):
    """Organisations x groups x a sensitive flag, shown as 1-3 overlapping tables."""
    counts = {}
    for o in range(draw(st.integers(1, 4))):
        for g in ["g1", "g2", "g3"][: draw(st.integers(1, 3))]:
            for le in ["yes", "no"]:
                counts[(f"org{o}", g, le)] = draw(st.integers(0, 15))
    if sum(counts.values()) == 0:
        counts[("org0", "g1", "no")] = 1
    layouts = [["org"], ["org", "group"], ["org", "le"], ["group", "le"], ["org", "group", "le"]]
    tables = draw(st.lists(st.sampled_from(layouts), min_size=1, max_size=3, unique_by=tuple))
    return counts, tables, draw(st.booleans())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crossed_study())
def test_random_crossed_tables_with_sensitive_flag_are_protected(study):
    counts, tables, sensitive = study
    dims = ["org", "group", "le"]
    people = people_from(counts, dims)
    rel = Results(people, dims)
    for i, by in enumerate(tables):
        rel.add_table(f"t{i}", margins(people, by))
    gated = gate(rel, DisclosurePolicy(min_cell=5, sensitive=("le",) if sensitive else ()))
    result = audit(gated)
    assert result.passed, result.violations
    assert_protected(people, dims, gated, 5)


def test_long_table_one_row_per_scale_protects_each_scale_separately():
    """Tidy output of group comparisons: one row per (group, scale) with n_valid per scale."""
    dims = ["org", "role"]
    people = people_from({("A", "frontline"): 20, ("A", "manager"): 15, ("A", "admin"): 12}, dims)
    roles = [None, "frontline", "manager", "admin"]
    cells = pd.DataFrame(
        {
            "org": ["A"] * 8,
            "role": roles * 2,
            "scale": ["burnout"] * 4 + ["sts"] * 4,
            "n": [47, 20, 15, 12] * 2,
            "n_valid": [36, 20, 4, 12, 47, 20, 15, 12],
            "mean": [21.0, 20.0, 25.0, 22.0, 30.0, 31.0, 29.0, 28.0],
            "sd": [4.0, 4.1, 4.2, 4.3, 5.0, 5.1, 5.2, 5.3],
        }
    )
    burnout = np.ones(len(people), dtype=bool)
    burnout[np.flatnonzero((people["role"] == "manager").to_numpy())[4:]] = False
    measures = pd.DataFrame({"burnout": burnout, "sts": np.ones(len(people), dtype=bool)})
    rel = Results(people, dims, measures=measures).add_table(
        "long",
        cells,
        {"mean": "mean", "sd": "sd"},
        stat_n={"mean": "n_valid", "sd": "n_valid"},
        measures=ROW_VARIABLE,
        variable="scale",
    )
    gated = gate(rel, POLICY)
    t = gated["long"]
    burnout = t[t["scale"] == "burnout"]
    sts = t[t["scale"] == "sts"]
    assert burnout["mean"].isna().sum() >= 2  # manager (4 answers) and its complement
    assert pd.isna(burnout["n_valid"].iloc[2])
    # STS rests on the same people as the counts (everyone answered it): its means go with
    # whichever counts protect the burnout managers, and no further.
    assert sts["mean"].isna().tolist() == t.loc[sts.index, "suppressed"].tolist()
    result = audit(gated)
    assert result.passed, result.violations
    # Re-showing the complement breaks the audit: the managers' scored count becomes derivable.
    comp = burnout.index[burnout["mean"].isna()].difference([burnout.index[2]])[0]
    t.loc[comp, ["mean", "sd", "n_valid"]] = cells.loc[comp, ["mean", "sd", "n_valid"]].to_numpy()
    problems = audit(gated).violations
    assert "count derivable from shown values" in set(problems["problem"])


def test_comparison_rows_withheld_when_a_compared_group_is_small():
    """A difference of means plus the overall mean gives each group's mean: its sources are the
    two groups, and it is shown only where both are."""
    dims = ["org", "lived_experience"]
    people = people_from(
        {("A", "yes"): 4, ("A", "no"): 30, ("B", "yes"): 15, ("B", "no"): 25, ("C", "no"): 20},
        dims,
    )
    contrasts = pd.DataFrame(
        {"org": ["A", "B", "C", None], "difference": [3.1, -1.2, np.nan, 0.4], "p": [0.2] * 4}
    )
    sources = [[{"org": o, "lived_experience": g} if o else {"lived_experience": g}
                for g in ("yes", "no")] for o in ["A", "B", "C", None]]
    rel = Results(people, dims).add_table(
        "le_gap", contrasts, {"difference": "other", "p": "other"}, sources=sources
    )
    gated = gate(rel, POLICY)
    t = gated["le_gap"]
    assert not t["suppressed"].any()  # the organisations themselves are large enough
    assert t["p"].isna().tolist() == [True, False, True, False]  # A: 4 'yes'; C: nobody
    assert audit(gated).passed
    t.loc[0, "p"] = 0.2
    assert not audit(gated).passed
