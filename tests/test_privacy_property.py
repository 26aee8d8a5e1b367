"""Issue 13, property: random small studies, every output, nothing withheld comes back.

Each example is a study of a few organisations of 3 to 20 staff, in one or two waves, with
lived experience, roles and the ProQOL scales drawn at random. Every command runs on it in
sequence through the Python outputs API (so the study's release ledger is used): ``status``,
``compare`` by lived experience (all groups, then two of them), ``benchmark --bands``,
``reproduce`` with the bundled findings, ``run-plan``, and the field-wide and every
organisation's report. The attacker of :mod:`attacker` then solves all the released equations
together and inverts the derived statistics; no withheld value may be determined or narrowed
below the protection interval.

Few examples and no shrinking (each example builds a study and runs every command): the test
runs in about a minute. ``derandomize`` keeps CI runs repeatable.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from attack_studies import (
    FINDINGS,
    PLAN,
    assert_nothing_recovered,
    attacker_of,
    build,
    finding_recipes,
    lived_label,
    read_reports,
    reports,
    staff,
)
from attacker import (
    read_benchmark,
    read_compare,
    read_reproduce,
    read_run_plan,
    read_status,
)
from fieldsurvey import outputs
from fieldsurvey.outputs.findings import reproduce, run_plan
from fieldsurvey.outputs.status import status
from fieldsurvey.reproduce import load_findings, load_plan
from fieldsurvey.store import open_study

LIVED = ["yes", "no", "prefer not to say", None]
BANDS = ["Low", "Moderate", "High", "no score"]


@st.composite
def studies(draw: st.DrawFn) -> dict:
    """Organisations (3-20 staff per wave), one or two waves, per-person lived experience,
    role and burnout band."""
    n_orgs = draw(st.integers(2, 4))
    waves = draw(st.sampled_from([["1"], ["1", "2"]]))
    files = []
    for wave in waves:
        frames = []
        for k in range(n_orgs):
            org = "ABCD"[k]
            n = draw(st.integers(3, 20), label=f"size {org} {wave}")
            lived = draw(st.lists(st.sampled_from(LIVED), min_size=n, max_size=n))
            if k == 0 and wave == "1":  # staff with and without lived experience somewhere
                lived[:2] = ["yes", "no"]
            role = draw(st.lists(st.sampled_from([1, 2, 3, 4, None]), min_size=n, max_size=n))
            burnout = draw(st.lists(st.sampled_from(BANDS), min_size=n, max_size=n))
            frames.append(staff(org, n, wave=wave, seed=k, lived=lived, role=role,
                                bands={"burnout": burnout}))
        files.append((wave, f"wave{wave}.csv", pd.concat(frames, ignore_index=True)))
    return {"files": files, "waves": waves, "orgs": ["ABCD"[k] for k in range(n_orgs)]}


@settings(max_examples=4, deadline=None, derandomize=True, phases=[Phase.explicit,
                                                                   Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(study=studies())
def test_no_output_of_a_random_small_study_gives_back_a_withheld_value(study, tmp_path_factory):
    base = tmp_path_factory.mktemp("random-study")
    root = build(base / "study", study["files"], waves=study["waves"])
    (base / "plan.yaml").write_text(PLAN)
    att = attacker_of(Path(root))

    read_status(att, status(open_study(root)))
    by_lived = outputs.compare(root, "wf_lived_exp")
    read_compare(att, by_lived.tables, "wf_lived_exp", column="lived", label=lived_label,
                 source="compare --by wf_lived_exp")
    two = outputs.compare(root, "wf_lived_exp", groups=["Yes", "No"])
    read_compare(att, two.tables, "wf_lived_exp", column="lived", label=lived_label,
                 groups=["Yes", "No"], source="compare --group Yes --group No")
    bench = outputs.benchmark(root, bands=True, scales=["burnout"])
    read_benchmark(att, bench.tables, source="benchmark --bands")
    rows, _ = reproduce(root, load_findings(FINDINGS))
    read_reproduce(att, rows, finding_recipes())
    plan = load_plan(base / "plan.yaml")
    read_run_plan(att, run_plan(root, plan, bootstrap_reps=100, seed=1), plan,
                  group_columns={"wf_lived_exp": ("lived", {1: "yes", 2: "no"})},
                  orgs=study["orgs"])
    read_reports(att, reports(root, [None, *study["orgs"]], findings=load_findings(FINDINGS)))
    # Moments included: the attacker bounds band counts by every shown mean and SD, jointly;
    # the gate checks them group by group and across releases (disclosure/moments.py).
    assert_nothing_recovered(att)
