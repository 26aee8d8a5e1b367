"""The synthetic coalition is realistic where tests and demos rely on it, and its effects switch off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin as pg

from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.scoring import reverse_keyed, score_scales
from fieldsurvey.synthetic import generate_coalition


def _alpha(responses: pd.DataFrame, scale_id: str) -> float:
    inst = resolve_instrument("proqol5")
    items = inst.scale(scale_id).items
    keyed = reverse_keyed(inst, items, responses[list(items)].to_numpy(dtype=float, na_value=np.nan))
    return pg.cronbach_alpha(pd.DataFrame(keyed))[0]


def test_same_seed_same_study_and_skewed_sizes():
    a, b = generate_coalition(seed=5), generate_coalition(seed=5)
    pd.testing.assert_frame_equal(a.responses, b.responses)
    staff = a.organisations["staff"]
    assert (staff <= 15).mean() >= 0.4 and staff.max() >= 60


def test_proqol_reliabilities_land_in_published_ranges():
    responses = generate_coalition(n_orgs=40, seed=1).responses
    assert 0.84 <= _alpha(responses, "compassion_satisfaction") <= 0.92  # manual: .88
    assert 0.68 <= _alpha(responses, "burnout") <= 0.82  # about .75
    assert 0.76 <= _alpha(responses, "sts") <= 0.87  # about .81


def test_lived_experience_staff_paid_less_and_the_gap_switches_off():
    with_gap = generate_coalition(n_orgs=40, seed=2).responses
    pay = with_gap.groupby("wf_lived_exp")["wf_payband"].mean()
    assert pay[1] < pay[2] - 0.5
    without = generate_coalition(n_orgs=40, seed=2, lived_pay_gap=0.0, lived_strain=0.0).responses
    pay = without.groupby("wf_lived_exp")["wf_payband"].mean()
    assert abs(pay[1] - pay[2]) < 0.25


def test_burnout_is_structural_only_when_the_effect_is_on():
    def workload_burnout_r(effect: float) -> float:
        r = generate_coalition(n_orgs=40, seed=3, structural_effect=effect).responses
        s = score_scales(r, ["proqol5", "structural-conditions"])
        return s[["workload", "burnout"]].corr().iloc[0, 1]

    assert workload_burnout_r(1.0) < -0.2
    assert abs(workload_burnout_r(0.0)) < 0.08


def test_item_nonresponse_is_realistic():
    responses = generate_coalition(seed=4).responses
    items = [f"pq{i:02d}" for i in range(1, 31)]
    share = responses[items].isna().to_numpy().mean()
    assert 0.01 < share < 0.08
