"""The disclosure gate's API: policy, release building, primary suppression, audit helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from fieldsurvey.disclosure import (
    DisclosureError,
    DisclosurePolicy,
    Release,
    audit,
    find_exposures,
    gate,
    gate_table,
    is_protected,
)
from fieldsurvey.disclosure.rowspace import DENSE_LIMIT, RowSpace


def orgs(**sizes: int) -> pd.DataFrame:
    return pd.DataFrame({"org": [o for o, n in sizes.items() for _ in range(n)]})


def test_policy_defaults_to_ten():
    policy = DisclosurePolicy()
    assert policy.min_cell == 10
    assert policy.primary_reason == "primary: n<10"
    assert policy.sensitive == ("lived_experience",)


@pytest.mark.parametrize("value", [1, 2, 3, 4])
def test_min_cell_below_five_refused_unless_forced(value):
    with pytest.raises(DisclosureError, match="below 5"):
        DisclosurePolicy(min_cell=value)
    assert DisclosurePolicy(min_cell=value, force_below_5=True).min_cell == value


@pytest.mark.parametrize("value", [0, -3, 2.5, True, "10"])
def test_min_cell_must_be_positive_whole_number(value):
    with pytest.raises(DisclosureError):
        DisclosurePolicy(min_cell=value, force_below_5=True)


def test_forced_low_threshold_is_applied():
    people = orgs(A=3, B=2, C=40)
    rel = Release(people, ["org"]).add_table("t", pd.DataFrame({"org": ["A", "B", "C"]}))
    gated = gate(rel, DisclosurePolicy(min_cell=3, force_below_5=True))
    assert gated["t"]["suppressed"].tolist() == [False, True, False]


def test_withheld_cell_loses_every_statistic():
    people = orgs(A=6, B=30, C=40)
    cells = pd.DataFrame(
        {
            "org": ["A", "B", "C"],
            "burnout_mean": [20.0, 22.0, 24.0],
            "burnout_sd": [4.0, 5.0, 6.0],
            "burnout_median": [19.0, 21.0, 23.0],
            "band": ["high", "average", "average"],
            "label": ["Org A", "Org B", "Org C"],
        }
    )
    stats = {"burnout_mean": "mean", "burnout_sd": "sd", "burnout_median": "other", "band": "other"}
    out = gate(Release(people, ["org"]).add_table("t", cells, stats, labels=["label"]))["t"]
    row = out.iloc[0]
    assert row["suppressed"] and row["suppression_reason"] == "primary: n<10"
    assert all(pd.isna(row[c]) for c in ["n", *stats])
    assert row["label"] == "Org A"  # labels are not statistics and stay
    assert out["n"].tolist()[1:] == [30, 40]
    assert out["burnout_mean"].tolist()[1:] == [22.0, 24.0]


def test_undeclared_column_is_refused():
    """A forgotten statistic must not slip through unsuppressed."""
    cells = pd.DataFrame({"org": ["A"], "pct_high_burnout": [0.1]})
    with pytest.raises(DisclosureError, match=r"\['pct_high_burnout'\] are neither"):
        Release(orgs(A=12), ["org"]).add_table("t", cells)
    with pytest.raises(DisclosureError, match="neither"):
        gate_table(pd.DataFrame({"org": ["A"], "n": [12], "m": [1.0]}), dims=["org"])


def test_extremes_refused_unless_policy_allows():
    people = orgs(A=30, B=40)
    cells = pd.DataFrame({"org": ["A", "B"], "burnout_max": [40.0, 38.0]})
    with pytest.raises(DisclosureError, match="minimum/maximum"):
        Release(people, ["org"]).add_table("t", cells, ["burnout_max"])
    rel = Release(people, ["org"]).add_table("t", cells, {"burnout_max": "extreme"})
    with pytest.raises(DisclosureError, match="allow_extremes"):
        gate(rel)
    out = gate(rel, DisclosurePolicy(allow_extremes=True))["t"]
    assert out["burnout_max"].tolist() == [40.0, 38.0]


def test_count_column_must_match_definition():
    people = orgs(A=12, B=40)
    cells = pd.DataFrame({"org": ["A", "B"], "n": [12, 41]})
    with pytest.raises(DisclosureError, match="row 1: column 'n' says 41"):
        gate(Release(people, ["org"]).add_table("t", cells))


def test_unknown_category_names_table_and_row():
    people = orgs(A=12, B=40)
    rel = Release(people, ["org"]).add_table("t", pd.DataFrame({"org": ["A", "Z"]}))
    with pytest.raises(DisclosureError, match=r"table 't' row 1: org='Z'"):
        gate(rel)


def test_declared_empty_category_is_a_real_hidden_cell():
    people = orgs(A=12, B=40)
    rel = Release(people, ["org"], domains={"org": ["Z"]})
    rel.add_table("t", pd.DataFrame({"org": ["A", "B", "Z"]}))
    out = gate(rel)["t"]
    assert out["suppressed"].tolist() == [False, False, True]


def test_missing_dimension_value_in_respondents_is_an_error():
    people = pd.DataFrame({"org": ["A", None, "B"]})
    with pytest.raises(DisclosureError, match="missing at row 1"):
        Release(people, ["org"])


def test_table_column_errors():
    rel = Release(orgs(A=12), ["org"])
    with pytest.raises(DisclosureError, match="not in the table"):
        rel.add_table("t", pd.DataFrame({"org": ["A"]}), ["mean"])
    with pytest.raises(DisclosureError, match="unknown kind"):
        rel.add_table("t", pd.DataFrame({"org": ["A"], "m": [1.0]}), {"m": "magic"})
    rel.add_table("t", pd.DataFrame({"org": ["A"]}))
    with pytest.raises(DisclosureError, match="already added"):
        rel.add_table("t", pd.DataFrame({"org": ["A"]}))


def test_same_respondent_set_gets_one_decision_across_tables():
    people = pd.DataFrame({"org": ["A"] * 14 + ["B"] * 40, "wave": [1] * 54})
    rel = Release(people, ["org", "wave"])
    rel.add_table("by_org", pd.DataFrame({"org": ["A", "B", None]}))
    # Same sets written differently: wave as a float (NA forces floats) and a wave-qualified total.
    rel.add_table("by_wave", pd.DataFrame({"org": ["A", "B", None], "wave": [1.0, 1.0, np.nan]}))
    gated = gate(rel)
    assert gated["by_org"]["suppressed"].tolist() == gated["by_wave"]["suppressed"].tolist()
    assert audit(gated).passed


def test_gate_is_deterministic():
    rng = np.random.default_rng(3)
    people = pd.DataFrame(
        {"org": rng.choice(list("ABCDEFG"), 300), "role": rng.choice(["f", "m", "s"], 300)}
    )
    cells = pd.concat(
        [
            people[["org", "role"]].drop_duplicates(),
            people[["org"]].drop_duplicates(),
            people[["role"]].drop_duplicates(),
            pd.DataFrame(index=[0]),
        ],
        ignore_index=True,
    )
    first = gate(Release(people, ["org", "role"]).add_table("t", cells))["t"]
    second = gate(Release(people, ["org", "role"]).add_table("t", cells))["t"]
    pd.testing.assert_frame_equal(first, second)


def test_summary_counts_reasons():
    people = orgs(A=6, B=50, C=20)
    gated = gate(
        Release(people, ["org"]).add_table("t", pd.DataFrame({"org": ["A", "B", "C", None]}))
    )
    summary = gated.summary().iloc[0]
    assert (summary["cells"], summary["suppressed"]) == (4, 2)
    assert (summary["primary"], summary["complementary"]) == (1, 1)


def test_public_support_makes_structural_zeros_known():
    """Org A took no part in wave 3 and everyone knows it: A's pooled total then pins wave 2."""
    people = pd.DataFrame(
        {
            "org": ["A"] * 25 + ["B"] * 90,
            "wave": [1] * 20 + [2] * 5 + [1] * 30 + [2] * 30 + [3] * 30,
        }
    )
    cells = pd.DataFrame({"org": ["A", "A", "A"], "wave": [np.nan, 1, 2]})
    assumed_open = gate(Release(people, ["org", "wave"]).add_table("t", cells))["t"]
    # Without the public fact, A wave 2 could be anything in [0, 5] (A wave 3 might hold some).
    assert assumed_open["suppressed"].tolist() == [False, False, True]
    known = Release(people, ["org", "wave"], public_support=[("org", "wave")])
    gated = gate(known.add_table("t", cells))
    assert gated["t"]["suppressed"].tolist() == [False, True, True]
    assert audit(gated).passed


def test_gate_table_rejects_inconsistent_margins():
    t = pd.DataFrame({"org": ["A", "B", None], "n": [12, 30, 45]})
    with pytest.raises(DisclosureError, match="margins must equal"):
        gate_table(t, dims=["org"])
    with pytest.raises(DisclosureError, match="not a whole count"):
        gate_table(pd.DataFrame({"org": ["A"], "n": [2.5]}), dims=["org"])


def test_gate_table_keeps_statistics_of_shown_cells():
    t = pd.DataFrame(
        {"org": ["A", "B", "C", None], "n": [4, 30, 25, 59], "m": [1.0, 2.0, 3.0, 2.4]}
    )
    out = gate_table(t, dims=["org"], stat_cols=["m"])
    assert out["m"].isna().tolist() == [True, False, True, False]


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (0, 8, True),
        (0, 1, True),
        (3, 12, True),
        (3, 5, False),
        (4, 4, False),
        (0, 0, False),
        (10, np.inf, True),
        (0.4, 1.6, False),
        (0, 0.5, False),
    ],
)
def test_protection_rule(lo, hi, expected):
    assert is_protected(lo, hi, 10) is expected


def test_find_exposures_subtraction_and_interval():
    # atoms a, b; units: total, a, b
    rows = sparse.csr_matrix(np.array([[1, 1], [1, 0], [0, 1]]))
    truth = np.array([3.0, 20.0])
    shown = np.array([True, False, True])
    exp = find_exposures(rows, shown, ~shown, min_cell=10, atom_values=truth)
    assert [(e.unit, e.kind, e.lo) for e in exp] == [(1, "determined", 3.0)]
    assert set(exp[0].candidates) == {0, 2}
    shown = np.array([True, False, False])
    assert find_exposures(rows, shown, ~shown, min_cell=10, atom_values=truth) == []
    # a + b = 7 and b + c = 5 shown: a is boxed in [2, 7] (>0 and <10), c in [0, 5] is fine.
    rows = sparse.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]]))
    truth = np.array([4.0, 3.0, 2.0])
    shown = np.array([True, True, False, False])
    exp = find_exposures(rows, shown, ~shown, min_cell=10, atom_values=truth)
    assert [(e.unit, e.kind, e.lo, e.hi) for e in exp] == [(2, "interval", 2.0, 7.0)]


def test_find_exposures_interval_rule_catches_boxed_cell():
    # Unit 0 = a + b = 5 shown, unit 1 = b hidden with nothing else: b in [0, 5] protected.
    # Add unit 2 = b + c = 5 and unit 3 = c + d = 2 shown: c <= 2 so b in [3, 5] -> boxed.
    rows = sparse.csr_matrix(np.array([[1, 1, 0, 0], [0, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]))
    truth = np.array([1.0, 4.0, 1.0, 1.0])
    shown = np.array([True, False, True, True])
    exp = find_exposures(rows, shown, ~shown, min_cell=10, atom_values=truth)
    assert [(e.unit, e.kind, e.lo, e.hi) for e in exp] == [(1, "interval", 3.0, 5.0)]


@pytest.mark.parametrize("k", [40, DENSE_LIMIT + 200])
def test_rowspace_agrees_with_dense_least_squares(k):
    rng = np.random.default_rng(k)
    blocks = [list(range(i, min(i + 8, k))) for i in range(0, k, 8)]
    rows = []
    for b in blocks:  # per-block sub-totals, some redundant
        for _ in range(4):
            rows.append([1.0 if (j in b and rng.random() < 0.6) else 0.0 for j in range(k)])
    for _ in range(3):  # a few long global rows
        rows.append((rng.random(k) < 0.5).astype(float).tolist())
    a = np.array(rows)
    h = np.vstack(
        [a[rng.integers(0, len(a))] + a[rng.integers(0, len(a))] for _ in range(10)]
        + [(rng.random(k) < 0.05).astype(float) for _ in range(10)]
    ).T
    space = RowSpace(sparse.csr_matrix(a))
    if k > DENSE_LIMIT:
        assert len(space.global_rows) > 0
    coef = np.linalg.lstsq(a.T, h, rcond=None)[0]
    dense_in = np.linalg.norm(a.T @ coef - h, axis=0) < 1e-6
    assert space.contains(h).tolist() == dense_in.tolist()
    assert dense_in[:10].all()
    for col, used in zip(np.flatnonzero(dense_in), space.rows_used(h[:, dense_in]), strict=True):
        sol = np.linalg.lstsq(a[used].T, h[:, col], rcond=None)[0]
        assert np.allclose(a[used].T @ sol, h[:, col])
