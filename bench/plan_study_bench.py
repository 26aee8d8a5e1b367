"""Time ``plan-study`` and the cross-level fit it repeats.

Run: ``.venv/bin/python bench/plan_study_bench.py``. Prints seconds per simulated study for the
bundled plan (H1-H9) and for a one-test plan, and the random-intercept REML fit of a cross-level
model against statsmodels ``MixedLM`` on the same data (the peer), with their ratio.
Target: a simulated study of 30 organisations under a second, so 200 replicates take minutes.
"""

from __future__ import annotations

import time

import numpy as np
import statsmodels.api as sm

from fieldsurvey.compare import random_intercept
from fieldsurvey.reproduce import load_plan, plan_from_dict
from fieldsurvey.resources import data_dir
from fieldsurvey.synthetic.planning import StudyDesign, plan_study

ONE_TEST = plan_from_dict({"title": "H6 only", "min_organisations": 10, "covariates": {},
                           "hypotheses": [{"id": "H6", "title": "t", "rationale": "r",
                                           "decision": "d", "tests": [{
                                               "id": "H6", "kind": "cross_level",
                                               "outcome": "burnout",
                                               "predictor": "org_peer_or_survivor_led",
                                               "direction": "negative"}]}]})


def per_replicate(plan, design: StudyDesign, reps: int, **coalition) -> float:
    start = time.perf_counter()
    plan_study(plan, design, reps=reps, **coalition)
    return (time.perf_counter() - start) / reps


def fit_ratio() -> tuple[float, float]:
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(200), 50)
    led = (np.arange(200) % 2)[groups].astype(float)
    y = -0.3 * led + rng.normal(0, 0.3, 200)[groups] + rng.normal(0, 1, groups.size)
    x = np.column_stack([np.ones(groups.size), led])
    start = time.perf_counter()
    for _ in range(5):
        random_intercept(y, x, groups)
    ours = (time.perf_counter() - start) / 5
    start = time.perf_counter()
    sm.MixedLM(y, x, groups).fit(reml=True)
    theirs = time.perf_counter() - start
    return ours, theirs


def main() -> None:
    design = StudyDesign(30, 15, 0.7, 0.1, {"H6": 0.4, "H7": 0.3, "H8": 0.5, "H9": 0.5})
    full = per_replicate(load_plan(data_dir("analysis") / "structural-burnout-plan.yaml"),
                         design, 5)
    print(f"plan-study, bundled plan (H1-H9), 30 orgs x 15 staff, 2 waves: {full:.2f} s per "
          "simulated study")
    one = per_replicate(ONE_TEST, StudyDesign(30, 10, 1.0, 0.1, {"H6": 0.4}, waves=1), 20,
                        instruments=("workforce-context", "proqol5"))
    print(f"plan-study, one cross-level test, 30 orgs x 10 staff, 1 wave: {one:.2f} s per "
          "simulated study")
    ours, theirs = fit_ratio()
    print(f"random-intercept REML fit, 10,000 staff in 200 organisations: fieldsurvey "
          f"{ours * 1000:.1f} ms, statsmodels MixedLM {theirs * 1000:.1f} ms "
          f"(ratio {theirs / ours:.0f}x)")


if __name__ == "__main__":
    main()
