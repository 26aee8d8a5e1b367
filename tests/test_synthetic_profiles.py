"""Synthetic organisation profiles: the staff data of a seed is unchanged, profiles are valid
org-profile answers, and the organisation-level effects are built in (and absent when null)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from fieldsurvey.compare.living_wage import entry_pay_vs_reference, share_below_reference
from fieldsurvey.compare.wage_reference import load_wage_reference
from fieldsurvey.ingest.profiles import ingest_profiles
from fieldsurvey.outputs.living_wage import living_wage
from fieldsurvey.scoring import score_scales
from fieldsurvey.store import init_study
from fieldsurvey.store.profiles import load_profiles
from fieldsurvey.synthetic import generate_coalition


def digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:16]


@pytest.mark.parametrize("overrides,responses,organisations", [
    ({}, "1e713a5ef20ba90a", "8d670a15690dfd39"),
    ({"n_orgs": 12, "seed": 7, "waves": 2}, "be8a318415feb085", "ffc43cfafe735c33"),
    ({"n_orgs": 12, "seed": 7, "waves": 2, "structural_effect": 0}, "42c886f6c8db8587",
     "ffc43cfafe735c33"),
    ({"n_orgs": 12, "seed": 7, "waves": 2, "profile_effect": 0}, "be8a318415feb085",
     "ffc43cfafe735c33"),
])
def test_staff_data_is_what_it_was_before_profiles(overrides, responses, organisations):
    # Digests taken from the generator before profiles were added.
    study = generate_coalition(**overrides)
    assert digest(study.responses) == responses
    assert digest(study.organisations) == organisations


def test_profiles_are_valid_answers_one_per_organisation_and_wave(tmp_path):
    study = generate_coalition(n_orgs=10, seed=3, waves=2)
    profiles = study.profiles
    assert len(profiles) == 20
    assert not profiles.duplicated(["org", "wave"]).any()
    root = init_study(tmp_path / "s", ["workforce-context"], org_column="wf_org",
                      waves=["1", "2"])
    for wave, part in profiles.groupby("wave"):
        path = tmp_path / f"profiles-{wave}.csv"
        part.to_csv(path, index=False)
        summary = ingest_profiles(root, path, wave=str(wave))
        assert (summary.stored, summary.quarantined) == (10, 0), summary.quarantine_reasons
    stored = load_profiles(root)
    assert len(stored) == 20
    assert (stored["op_leavers"] <= stored["op_staff"]).all()
    assert set(living_wage(root)) == {"reference", "organisations", "roles"}


def _effects(**overrides) -> dict[str, float]:
    study = generate_coalition(n_orgs=120, seed=11, size_mix=(0.7, 0.3, 0.0), **overrides)
    scores = score_scales(study.responses, ["proqol5", "structural-conditions"],
                          id_column="response_id")
    means = scores.assign(org=study.responses["org"].to_numpy()).groupby("org")[
        ["burnout", "financial_strain", "intention_to_leave"]].mean()
    profiles = study.profiles.set_index("org").loc[means.index]
    shares = share_below_reference(entry_pay_vs_reference(study.profiles, load_wage_reference()))
    below = (shares.dropna(subset=["org"]).set_index("org")["share_staff_below"] > 0.5)
    below = below.loc[means.index].astype(float)
    peer = (profiles["op_peer_led"] < 3).astype(float)
    leave_rate = profiles["op_leavers"] / profiles["op_staff"]

    def r(a, b) -> float:
        return float(np.corrcoef(a, b)[0, 1])

    return {"peer_burnout": r(peer, means["burnout"]),
            "below_strain": r(below, means["financial_strain"]),
            "below_leave": r(below, means["intention_to_leave"]),
            "training_leavers": r(np.log(profiles["op_train_hours"]), leave_rate)}


def test_structural_profiles_carry_the_effects():
    found = _effects()
    assert found["peer_burnout"] < -0.2
    assert found["below_strain"] > 0.1
    assert found["below_leave"] > 0.25
    assert found["training_leavers"] < -0.4


@pytest.mark.parametrize("overrides", [{"profile_effect": 0}, {"structural_effect": 0}])
def test_null_profiles_carry_none(overrides):
    found = _effects(**overrides)
    assert all(abs(v) < 0.2 for v in found.values()), found
