"""How often the bundled plan decides as it should on the demo's two studies, seed by seed.

Run: ``PYTHONPATH=src .venv/bin/python bench/demo_studies_rates.py [SEEDS]`` (default seeds 1-60
and the demo's 2026). Each seed's structural study (``STRUCTURAL_STUDY``), null study
(``NULL_STUDY``) and default coalition (``CoalitionParams(waves=2)``, no cross-level effects) goes
through scoring, the organisation profiles (shipped living-wage example), the plan's tests at 200
bootstrap replicates and the disclosure gate (nothing recorded), as ``plan-study`` runs a
replicate. Prints, per study, at how many seeds H6-H9 were all supported (structural, default)
or none was (null), and how often each hypothesis missed. The figures are in
docs/synthetic-data.md.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace

import pandas as pd

from fieldsurvey.analyse.frame import AnalysisFrame, respondent_keys
from fieldsurvey.analyse.plan import join_profiles, plan_results
from fieldsurvey.compare.wage_reference import load_wage_reference
from fieldsurvey.disclosure import publish
from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.reproduce import load_plan
from fieldsurvey.resources import data_dir
from fieldsurvey.scoring import score_scales
from fieldsurvey.synthetic import NULL_STUDY, STRUCTURAL_STUDY, CoalitionParams, generate_coalition

PLAN = load_plan(data_dir("analysis") / "structural-burnout-plan.yaml")
REFERENCE = load_wage_reference(data_dir("analysis") / "living-wage" / "uk-real-living-wage-2024.yaml")
ORGANISATION = ["H6", "H7", "H8", "H9"]


def decisions(params: CoalitionParams) -> pd.Series:
    """Each hypothesis's gated decision on the study ``params`` generates."""
    synthetic = generate_coalition(params)
    responses = synthetic.responses.reset_index(drop=True)
    instruments = [resolve_instrument(i) for i in synthetic.params.instruments]
    scores = score_scales(responses, [i for i in instruments if i.scales])
    scores.index = responses.index
    new = [c for c in scores.columns if c not in responses.columns and c != "row"]
    data = join_profiles(pd.concat([responses, scores[new]], axis=1), synthetic.profiles, PLAN,
                         REFERENCE)
    frame = AnalysisFrame(data, instruments, None, respondent_keys(data))
    results = plan_results(frame, PLAN, min_cell=10, bootstrap_reps=200, seed=params.seed)
    tests = publish(results, None, min_cell=10, output="rates", record=False).tables["tests"]
    return tests.drop_duplicates("hypothesis").set_index("hypothesis")["decision"]


def main(seeds: list[int]) -> None:
    studies = {"structural": (STRUCTURAL_STUDY, "supported"),
               "null": (NULL_STUDY, "not supported"),
               "default": (CoalitionParams(waves=2), "supported")}
    for name, (params, wanted) in studies.items():
        hits, missed = 0, Counter()
        for seed in seeds:
            got = decisions(replace(params, seed=seed))
            if name == "null":
                off = [h for h in got.index if got[h] == "supported"]
                hits += not any(h in ORGANISATION for h in off)
            else:
                off = [h for h in got.index if got[h] != wanted]
                hits += not any(h in ORGANISATION for h in off)
            missed.update(off)
        rule = "none of H6-H9 supported" if name == "null" else "all of H6-H9 supported"
        print(f"{name}: {rule} at {hits} of {len(seeds)} seeds; "
              f"hypotheses off, by seeds: {dict(sorted(missed.items()))}", flush=True)


if __name__ == "__main__":
    chosen = ([int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1
              else [*range(1, 61), 2026])
    main(chosen)
