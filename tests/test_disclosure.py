"""The disclosure gate's API: policy, results, primary suppression, measures, derived
statistics, zeros, the ledger and the audit helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from fieldsurvey.disclosure import (
    DisclosureError,
    DisclosurePolicy,
    Except,
    Ledger,
    Results,
    ResultsError,
    audit,
    find_exposures,
    gate,
    gate_table,
    is_protected,
    policy_for,
)
from fieldsurvey.disclosure.rowspace import DENSE_LIMIT, RowSpace


def orgs(**sizes: int) -> pd.DataFrame:
    return pd.DataFrame({"org": [o for o, n in sizes.items() for _ in range(n)]})


def test_policy_defaults_to_ten():
    policy = DisclosurePolicy()
    assert policy.min_cell == 10
    assert policy.sensitive == ("lived_experience",)


@pytest.mark.parametrize("value", [0, 1, 2, 3, 4])
def test_min_cell_below_five_is_always_refused(value):
    with pytest.raises(DisclosureError, match="below 5"):
        DisclosurePolicy(min_cell=value)


@pytest.mark.parametrize("value", [2.5, True, "10"])
def test_min_cell_must_be_a_whole_number(value):
    with pytest.raises(DisclosureError, match="whole number"):
        DisclosurePolicy(min_cell=value)


class _Config:
    min_cell = 12


def test_policy_comes_from_the_study_and_can_only_be_raised():
    assert policy_for(_Config()).min_cell == 12
    assert policy_for(_Config(), min_cell=20).min_cell == 20
    with pytest.raises(DisclosureError, match="never lower"):
        policy_for(_Config(), min_cell=10)
    with pytest.raises(DisclosureError, match="never lower"):
        policy_for(None, min_cell=5)  # outside a study the floor is 10


def test_a_raised_threshold_is_applied():
    people = orgs(A=12, B=15, C=40)
    rel = Results(people, ["org"]).add_table("t", pd.DataFrame({"org": ["A", "B", "C"]}))
    gated = gate(rel, policy_for(None, min_cell=13))
    assert gated["t"]["suppressed"].tolist() == [True, False, False]


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
    out = gate(Results(people, ["org"]).add_table("t", cells, stats, labels=["label"]))["t"]
    row = out.iloc[0]
    assert row["suppressed"] and "suppression_reason" not in out.columns
    assert all(pd.isna(row[c]) for c in ["n", *stats])
    assert row["label"] == "Org A"  # labels are not statistics and stay
    assert out["n"].tolist()[1:] == [30, 40]
    assert out["burnout_mean"].tolist()[1:] == [22.0, 24.0]


def test_undeclared_column_is_refused():
    """A forgotten statistic must not slip through unsuppressed."""
    cells = pd.DataFrame({"org": ["A"], "pct_high_burnout": [0.1]})
    with pytest.raises(ResultsError, match=r"\['pct_high_burnout'\] are neither"):
        Results(orgs(A=12), ["org"]).add_table("t", cells)
    with pytest.raises(ResultsError, match="neither"):
        gate_table(pd.DataFrame({"org": ["A"], "n": [12], "m": [1.0]}), dims=["org"])


def test_extremes_refused_unless_policy_allows():
    people = orgs(A=30, B=40)
    cells = pd.DataFrame({"org": ["A", "B"], "burnout_max": [40.0, 38.0]})
    with pytest.raises(ResultsError, match="minimum/maximum"):
        Results(people, ["org"]).add_table("t", cells, ["burnout_max"])
    rel = Results(people, ["org"]).add_table("t", cells, {"burnout_max": "extreme"})
    with pytest.raises(DisclosureError, match="unless the study allows them"):
        gate(rel)
    out = gate(rel, DisclosurePolicy(allow_extremes=True))["t"]
    assert out["burnout_max"].tolist() == [40.0, 38.0]


def test_count_column_must_match_definition():
    people = orgs(A=12, B=40)
    cells = pd.DataFrame({"org": ["A", "B"], "n": [12, 41]})
    with pytest.raises(DisclosureError, match="row 1: column 'n' says 41"):
        gate(Results(people, ["org"]).add_table("t", cells))


def test_unknown_category_names_table_and_row():
    people = orgs(A=12, B=40)
    rel = Results(people, ["org"]).add_table("t", pd.DataFrame({"org": ["A", "Z"]}))
    with pytest.raises(DisclosureError, match=r"org='Z'.*not a category"):
        gate(rel)


def test_declared_empty_category_is_a_real_hidden_cell():
    people = orgs(A=12, B=40)
    rel = Results(people, ["org"], domains={"org": ["Z"]})
    rel.add_table("t", pd.DataFrame({"org": ["A", "B", "Z"]}))
    out = gate(rel)["t"]
    assert out["suppressed"].tolist() == [False, False, True]


def test_missing_dimension_value_in_respondents_is_an_error():
    people = pd.DataFrame({"org": ["A", None, "B"]})
    with pytest.raises(ResultsError, match="missing at row 1"):
        Results(people, ["org"])


def test_table_column_errors():
    rel = Results(orgs(A=12), ["org"])
    with pytest.raises(ResultsError, match="not in the table"):
        rel.add_table("t", pd.DataFrame({"org": ["A"]}), ["mean"])
    with pytest.raises(ResultsError, match="unknown kind"):
        rel.add_table("t", pd.DataFrame({"org": ["A"], "m": [1.0]}), {"m": "magic"})
    with pytest.raises(ResultsError, match="name it in measures"):
        rel.add_table("t", pd.DataFrame({"org": ["A"], "m": [1.0], "k": [3]}), ["m"],
                      stat_n={"m": "k"})
    rel.add_table("t", pd.DataFrame({"org": ["A"]}))
    with pytest.raises(ResultsError, match="already added"):
        rel.add_table("t", pd.DataFrame({"org": ["A"]}))


def test_same_respondent_set_gets_one_decision_across_tables():
    people = pd.DataFrame({"org": ["A"] * 14 + ["B"] * 40, "wave": [1] * 54})
    rel = Results(people, ["org", "wave"])
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
    first = gate(Results(people, ["org", "role"]).add_table("t", cells))["t"]
    second = gate(Results(people, ["org", "role"]).add_table("t", cells))["t"]
    pd.testing.assert_frame_equal(first, second)


def test_summary_counts_cells_and_reasons_stay_internal():
    people = orgs(A=6, B=50, C=20)
    gated = gate(
        Results(people, ["org"]).add_table("t", pd.DataFrame({"org": ["A", "B", "C", None]}))
    )
    summary = gated.summary().iloc[0]
    assert (summary["cells"], summary["suppressed"]) == (4, 2)
    assert gated.withheld_reasons().to_dict() == {"primary": 1, "complementary": 1}


def test_a_zero_is_protected_like_a_small_count():
    """Nobody of org A is in the high band: with A's total and its other bands shown, the empty
    high band would be known to be empty. The gate treats it as a cell one person could be in."""
    people = pd.DataFrame({"org": ["A"] * 25 + ["B"] * 30,
                           "band": ["low"] * 15 + ["mid"] * 10 + ["low"] * 10 + ["mid"] * 10
                           + ["high"] * 10})
    cells = pd.DataFrame({"org": ["A", "A", "A", "A"], "band": ["low", "mid", "high", None]})
    gated = gate(Results(people, ["org", "band"]).add_table("t", cells))
    out = gated["t"]
    assert out["suppressed"].tolist() == [False, True, True, False]  # mid withheld with high
    assert audit(gated).passed


def test_the_count_with_a_score_is_part_of_the_band_margin():
    """36 of 40 have a score; bands low 20, mid 15, high 1. With the scored count shown, the
    high band is 36 - 20 - 15: the gate withholds a second band."""
    people = pd.DataFrame({"org": ["A"] * 40,
                           "band": ["low"] * 20 + ["mid"] * 15 + ["high"] + ["no score"] * 4})
    score = pd.DataFrame({"burnout": np.where(people["band"] == "no score", np.nan, 1.0)})
    rel = Results(people, ["org", "band"], measures=score, linked={"band": "burnout"},
                  unprotected={"band": ["no score"]})
    rel.add_table("scores", pd.DataFrame({"org": ["A"], "n_valid": [36], "mean": [1.0]}),
                  {"mean": "mean"}, stat_n={"mean": "n_valid"}, measures="burnout")
    rel.add_table("bands", pd.DataFrame({"org": ["A"] * 3, "band": ["low", "mid", "high"]}))
    gated = gate(rel)
    assert gated["scores"]["n_valid"].tolist() == [36]
    assert gated["bands"]["n"].isna().tolist() == [False, True, True]
    with pytest.raises(DisclosureError, match="'n_valid' says 35"):
        gate(Results(people, ["org", "band"], measures=score).add_table(
            "scores", pd.DataFrame({"org": ["A"], "n_valid": [35], "mean": [1.0]}),
            {"mean": "mean"}, stat_n={"mean": "n_valid"}, measures="burnout"))


@pytest.mark.parametrize(("size_b", "shown"), [(6, [False, False]), (12, [True, True])])
def test_a_test_between_groups_is_shown_only_when_both_groups_are(size_b, shown):
    """Welch t, df and g with its interval give back each group's n, mean and SD. With group b
    small, b's test is withheld; and since everyone's count is shown, a or c must be withheld
    too (everyone - a - c = b), taking the other test with it."""
    people = pd.DataFrame({"g": ["a"] * 30 + ["b"] * size_b + ["c"] * 30})
    rel = Results(people, ["g"])
    rel.add_table("groups", pd.DataFrame({"g": ["a", "b", "c"]}))
    tests = pd.DataFrame({"pair": ["a-b", "a-c"], "t": [2.0, 1.5]})
    rel.add_table("tests", tests, {"t": "other"}, labels=["pair"],
                  sources=[[{"g": "a"}, {"g": "b"}], [{"g": "a"}, {"g": "c"}]])
    gated = gate(rel)
    assert gated["tests"]["t"].notna().tolist() == shown
    assert audit(gated).passed


def test_the_rest_of_the_field_is_shown_only_with_the_organisation():
    people = orgs(A=8, B=30, C=25)
    cells = pd.DataFrame({"org": [None, Except("A"), Except("B")]})
    gated = gate(Results(people, ["org"]).add_table("t", cells))
    # Field minus A would give A (8 people): withheld. Field minus B gives B (30): shown.
    assert gated["t"]["n"].tolist() == [63, pd.NA, 33]
    assert audit(gated).passed


def test_a_table_implies_the_categories_it_leaves_out():
    """Everyone and groups A and B shown: everyone minus A minus B is group C (3 people)."""
    people = pd.DataFrame({"g": ["A"] * 20 + ["B"] * 25 + ["C"] * 3})
    out = gate(Results(people, ["g"]).add_table("t", pd.DataFrame({"g": ["A", "B", None]})))["t"]
    assert out["suppressed"].sum() >= 1


def test_the_ledger_protects_across_outputs():
    """Release 1 shows the field; release 2 shows organisation B: field - B = A (7 people)."""
    ledger = Ledger.in_memory()
    people = orgs(A=7, B=30)
    keys = [f"r{i}" for i in range(37)]
    first = gate(Results(people, ["org"], keys=keys).add_table("t", pd.DataFrame({"org": [None]})),
                 ledger=ledger, output="field")
    assert first["t"]["n"].tolist() == [37]
    second = gate(Results(people, ["org"], keys=keys).add_table("t", pd.DataFrame({"org": ["B"]})),
                  ledger=ledger, output="by org")
    assert second["t"]["n"].isna().all()
    # Without the ledger the same output alone shows B.
    alone = gate(Results(people, ["org"], keys=keys).add_table("t", pd.DataFrame({"org": ["B"]})))
    assert alone["t"]["n"].tolist() == [30]
    assert ledger.releases()["output"].tolist() == ["field", "by org"]


def test_cells_withheld_before_are_judged_again_only_where_a_release_adds_rows():
    """Release 1 withholds A (3 people) and B beside the field. Release 2 counts other people
    (staff posts): it adds no row to the part of the system A and B lie in, so they are
    settled, and the audit still passes. Release 3 counts the same people by role: new rows
    there, so A and B are judged again (the roles leave A anywhere in 0-23: protected)."""
    ledger = Ledger.in_memory()
    people = pd.DataFrame({"org": ["A"] * 3 + ["B"] * 30,
                           "role": ["f"] * 23 + ["s"] * 10})
    keys = [f"r{i}" for i in range(33)]
    first = gate(Results(people, ["org", "role"], keys=keys)
                 .add_table("t", pd.DataFrame({"org": ["A", "B", None]})), ledger=ledger,
                 output="by org")
    assert first["t"]["suppressed"].tolist() == [True, True, False]
    posts = orgs(A=12, B=40)
    second = gate(Results(posts, ["org"], keys=[f"p{i}" for i in range(52)])
                  .add_table("posts", pd.DataFrame({"org": ["A", "B"]})), ledger=ledger,
                  output="posts")
    assert second["posts"]["n"].tolist() == [12, 40]
    assert second.settled.sum() == 2 and audit(second).passed
    third = gate(Results(people, ["org", "role"], keys=keys)
                 .add_table("t", pd.DataFrame({"role": ["f", "s"]})), ledger=ledger,
                 output="by role")
    assert third["t"]["n"].tolist() == [23, 10]
    assert not third.settled.any() and audit(third).passed


def test_a_late_file_cannot_reveal_its_respondents():
    """Before a late file the field is 30; after it 33: the difference is the 3 late people."""
    ledger = Ledger.in_memory()
    early = pd.DataFrame({"org": ["A"] * 30})
    gate(Results(early, ["org"], keys=[f"r{i}" for i in range(30)])
         .add_table("t", pd.DataFrame({"org": [None]})), ledger=ledger, output="benchmark")
    late = pd.DataFrame({"org": ["A"] * 33})
    after = gate(Results(late, ["org"], keys=[f"r{i}" for i in range(33)])
                 .add_table("t", pd.DataFrame({"org": [None]})), ledger=ledger, output="benchmark")
    assert after["t"]["n"].isna().all()


def test_the_same_results_released_again_show_the_same():
    ledger = Ledger.in_memory()
    people = orgs(A=7, B=30, C=20)
    keys = [f"r{i}" for i in range(57)]

    def release():
        return Results(people, ["org"], keys=keys).add_table(
            "t", pd.DataFrame({"org": ["A", "B", "C", None]}))

    first = gate(release(), ledger=ledger, output="x")
    again = gate(release(), ledger=ledger, output="x")
    assert again.reused
    pd.testing.assert_frame_equal(first["t"], again["t"], check_dtype=False)
    assert len(ledger.releases()) == 1


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


def _field_with_rest_rows(n_org: int) -> np.ndarray:
    """Per-organisation band and group totals, field band totals, and "rest of the field" rows.

    Atoms are (organisation, band, group) counts, 3 bands x 2 groups per organisation. Each
    organisation's report shows the field minus itself: hundreds of long rows, almost all of
    them combinations of the field totals and the organisation's own rows.
    """
    k = n_org * 6
    def atoms(org, band=None, group=None):
        row = np.zeros(k)
        for b in range(3):
            for g in range(2):
                if band in (None, b) and group in (None, g):
                    row[org * 6 + b * 2 + g] = 1.0
        return row
    rows = []
    for o in range(n_org):
        rows += [atoms(o, band=b) for b in range(3)] + [atoms(o, group=g) for g in range(2)]
    field = [sum(atoms(o, band=b) for o in range(n_org)) for b in range(3)]
    rows += field
    for o in range(n_org):
        rows += [field[b] - atoms(o, band=b) for b in range(3)]
    return np.array(rows)


@pytest.mark.parametrize("gram_limit", [0, 10_000])
def test_rowspace_beyond_max_global_long_rows(monkeypatch, gram_limit):
    # Past MAX_GLOBAL long rows: the Gram-basis route (gram_limit 10,000), or, for systems of
    # more rows than GRAM_LIMIT, blocks with only the independent long rows kept (0).
    import fieldsurvey.disclosure.rowspace as rowspace

    a = _field_with_rest_rows(60)
    rng = np.random.default_rng(3)
    h = np.vstack(
        [a[rng.integers(0, len(a))] - a[rng.integers(0, len(a))] for _ in range(10)]
        + [(rng.random(a.shape[1]) < 0.05).astype(float) for _ in range(10)]
        + [np.eye(a.shape[1])[j] for j in range(0, a.shape[1], 7)]
    ).T
    coef = np.linalg.lstsq(a.T, h, rcond=None)[0]
    dense_in = np.linalg.norm(a.T @ coef - h, axis=0) < 1e-6
    assert 10 <= dense_in.sum() < h.shape[1]
    plain = RowSpace(sparse.csr_matrix(a))
    monkeypatch.setattr(rowspace, "MAX_GLOBAL", 8)
    monkeypatch.setattr(rowspace, "GRAM_LIMIT", gram_limit)
    space = RowSpace(sparse.csr_matrix(a))
    rest_rows = set(range(a.shape[0] - 180, a.shape[0]))
    if gram_limit:
        assert space.gram is not None and not space.blocks
        # Pivoting prefers the long rows, but the basis has the rank of the system.
        assert space.gram.basis.size == np.linalg.matrix_rank(a)
    else:
        # The 180 "rest of field" rows are combinations of the rest: none is kept.
        assert space.gram is None
        assert 0 < len(space.global_rows) < len(plain.global_rows)
        assert not set(space.global_rows) & rest_rows
    assert space.contains(h).tolist() == dense_in.tolist() == plain.contains(h).tolist()
    for col, used in zip(np.flatnonzero(dense_in), space.rows_used(h[:, dense_in]), strict=True):
        sol = np.linalg.lstsq(a[used].T, h[:, col], rcond=None)[0]
        assert np.allclose(a[used].T @ sol, h[:, col])
