"""Scale scoring: hand-computed cases, missing-data rules, reversal, bands, invalid answers."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fieldsurvey.instrument import instrument_from_dict, resolve_instrument
from fieldsurvey.scoring import ScoringError, reverse_keyed, score_scales

PROQOL = resolve_instrument("proqol5")


def _proqol(rows: list[dict[str, float]]) -> pd.DataFrame:
    base = {f"pq{i:02d}": 3 for i in range(1, 31)}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_proqol_burnout_hand_computed_with_reversal():
    # Burnout items 1,4,15,17,29 are reversed (6 - x). All 5s: reversed five give 1 each.
    answers = _proqol([{f"pq{i:02d}": 5 for i in (1, 4, 8, 10, 15, 17, 19, 21, 26, 29)}])
    scores = score_scales(answers, PROQOL)
    assert scores.loc[0, "burnout"] == 5 * 1 + 5 * 5
    assert scores.loc[0, "burnout_answered"] == 10
    assert scores.loc[0, "compassion_satisfaction"] == 30


def test_prorated_sum_uses_mean_of_answered_times_items():
    answers = _proqol([{"pq08": np.nan, "pq10": np.nan, "pq19": 5}])
    # 8 answered: reversed 1,4,15,17,29 at 3 -> 3; pq19 = 5; pq21, pq26 = 3 -> total 26 over 8.
    assert score_scales(answers, PROQOL).loc[0, "burnout"] == pytest.approx(26 / 8 * 10)


def test_below_min_answered_the_score_is_missing_never_zero():
    answers = _proqol([{"pq08": np.nan, "pq10": np.nan, "pq19": np.nan}])
    scores = score_scales(answers, PROQOL)
    assert np.isnan(scores.loc[0, "burnout"])
    assert scores.loc[0, "burnout_answered"] == 7
    assert pd.isna(scores.loc[0, "burnout_band"])


@pytest.mark.parametrize(
    ("total_over_8", "band"),
    [(17.6, "Low"), (17.8, "Low"), (18.0, "Moderate"), (32.8, "Moderate"), (33.6, "High")],
)
def test_bands_at_their_edges_with_half_up_rounding(total_over_8, band):
    # A prorated score s = total/8*10; 22.5 rounds half up to 23 (Moderate); 41.5 -> 42 (High).
    score = total_over_8 / 8 * 10
    from fieldsurvey.instrument import assign_bands

    assert assign_bands(np.array([score]), PROQOL.scale("burnout"))[0] == band


def test_band_edges_exact_values():
    from fieldsurvey.instrument import assign_bands

    got = list(
        assign_bands(np.array([22.0, 22.49, 22.5, 41.0, 41.5, 42.0]), PROQOL.scale("burnout"))
    )
    assert got == ["Low", "Low", "Moderate", "Moderate", "High", "High"]


def test_cbi_mean_0_100_and_its_missing_rule():
    cbi = resolve_instrument("cbi")
    row = {f"cbi{i:02d}": 3 for i in range(1, 20)}
    row.update(
        {"cbi01": 5, "cbi02": 1, "cbi03": np.nan, "cbi04": np.nan, "cbi05": np.nan, "cbi06": np.nan}
    )
    row.update({"cbi13": 1})  # reversed work item: 1 -> 5 -> 100
    scores = score_scales(pd.DataFrame([row]), cbi)
    assert np.isnan(scores.loc[0, "cbi_personal"])  # 2 of 6 answered, rule needs 3
    assert scores.loc[0, "cbi_work"] == pytest.approx((6 * 50 + 100) / 7)
    assert scores.loc[0, "cbi_client"] == 50
    row["cbi03"] = 4
    assert score_scales(pd.DataFrame([row]), cbi).loc[0, "cbi_personal"] == pytest.approx(
        (100 + 0 + 75) / 3
    )


def test_stss_total_needs_every_item_and_uses_bride_bands():
    stss = resolve_instrument("stss")
    row = {f"stss{i:02d}": 2 for i in range(1, 18)}
    row["stss01"] = 5  # 16*2 + 5 = 37: the top of Mild
    scores = score_scales(pd.DataFrame([row, {**row, "stss02": np.nan}]), stss)
    assert scores.loc[0, "stss_total"] == 37 and scores.loc[0, "stss_total_band"] == "Mild"
    assert np.isnan(scores.loc[1, "stss_total"])


def test_mean_method_and_norm_based_t_scores():
    raw = {
        "id": "toy",
        "title": "Toy",
        "version": "1",
        "citation": "c",
        "licence": {"holder": "h", "terms": "t", "wording_included": False},
        "response_scales": {"a": {"type": "likert", "min": 0, "max": 4}},
        "items": [{"id": f"x{i}", "scale": "a"} for i in range(3)],
        "scales": [
            {
                "id": "m",
                "label": "M",
                "items": ["x0", "x1", "x2"],
                "method": "mean",
                "min_answered": 2,
                "norms": {"mean": 2.0, "sd": 0.5, "metric": "t"},
            }
        ],
    }
    inst = instrument_from_dict(raw)
    scores = score_scales(pd.DataFrame({"x0": [4, 1], "x1": [3, np.nan], "x2": [2, np.nan]}), inst)
    assert scores.loc[0, "m"] == 3.0 and scores.loc[0, "m_t"] == pytest.approx(70.0)
    assert np.isnan(scores.loc[1, "m"])


def test_invalid_answers_are_errors_naming_row_and_column():
    answers = _proqol([{}, {"pq07": 6}, {"pq12": "often"}])
    answers.insert(0, "rid", ["a", "b", "c"])
    with pytest.raises(ScoringError) as info:
        score_scales(answers, PROQOL, id_column="rid", source="wave1.csv")
    message = str(info.value)
    assert (
        "wave1.csv: row 3 (id b), column 'pq07': outside the response scale 1..5 (value 6)"
        in message
    )
    assert "wave1.csv: row 4 (id c), column 'pq12': not a number (value 'often')" in message


def test_invalid_answers_can_be_treated_as_missing_and_are_counted():
    answers = _proqol([{"pq07": 6}, {"pq07": 2.5}])
    with pytest.warns(UserWarning, match="2 invalid answer"):
        scores = score_scales(answers, PROQOL, invalid="missing")
    assert scores.attrs["invalid_answers"] == {"pq07": 2}
    assert scores.loc[0, "sts_answered"] == 9


def test_text_answers_and_blank_cells_from_csv_are_read():
    answers = _proqol([{}]).astype(str)
    answers.loc[0, "pq02"] = " "
    scores = score_scales(answers, PROQOL)
    assert scores.loc[0, "sts_answered"] == 9 and scores.loc[0, "sts"] == 30


def test_missing_item_columns_are_named():
    answers = _proqol([{}]).drop(columns=["pq03", "pq08"])
    with pytest.raises(
        ScoringError, match=r"proqol5.compassion_satisfaction: pq03; proqol5.burnout: pq08"
    ):
        score_scales(answers, PROQOL)


def test_output_columns_in_order():
    scores = score_scales(_proqol([{}]).assign(rid=["r1"]), PROQOL, id_column="rid")
    assert list(scores.columns[:5]) == [
        "rid",
        "compassion_satisfaction",
        "compassion_satisfaction_answered",
        "compassion_satisfaction_band",
        "burnout",
    ]


def test_duplicate_scale_ids_across_instruments_are_refused():
    raw = copy.deepcopy(resolve_instrument("cbi"))
    with pytest.raises(ScoringError, match="defined by both"):
        score_scales(pd.DataFrame(), [raw, raw])


answers_strategy = arrays(
    np.float64,
    st.tuples(st.integers(1, 30), st.just(10)),
    elements=st.one_of(st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0]), st.just(np.nan)),
)


@settings(max_examples=150, deadline=None)
@given(answers_strategy)
def test_reversing_twice_is_identity(block):
    items = PROQOL.scale("burnout").items
    twice = reverse_keyed(PROQOL, items, reverse_keyed(PROQOL, items, block))
    np.testing.assert_array_equal(twice, block)


@settings(max_examples=150, deadline=None)
@given(answers_strategy)
def test_scores_stay_in_range_and_prorated_equals_sum_when_complete(block):
    items = PROQOL.scale("burnout").items
    frame = _proqol([{}] * block.shape[0])
    frame[list(items)] = block
    scores = score_scales(frame, PROQOL)["burnout"].to_numpy()
    ok = ~np.isnan(scores)
    assert np.all((scores[ok] >= 10) & (scores[ok] <= 50))
    complete = ~np.isnan(block).any(axis=1)
    keyed = reverse_keyed(PROQOL, items, block)
    np.testing.assert_allclose(scores[complete], keyed[complete].sum(axis=1))
    answered = (~np.isnan(block)).sum(axis=1)
    assert np.array_equal(ok, answered >= 8)
