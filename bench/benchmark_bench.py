"""Time ``benchmark`` on a large coalition: 500 organisations, about 200,000 respondents.

Run: ``.venv/bin/python bench/benchmark_bench.py [--orgs 500] [--timeout 900]``. Prints one
line per analysis and the total of the compare stage (data generation and scoring are timed
separately and not counted; target: 20 s or less), then the whole command as users run it:
the coalition's five waves written as Qualtrics exports and ingested into a fresh study (not
timed), then a fresh ``fieldsurvey benchmark STUDY --format json`` process, reading the store,
analysing, gating and printing, with its wall and CPU time and peak resident size (issue 17
target: under 10 s whole-process). A run longer than ``--timeout`` is stopped and reported.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from fieldsurvey.compare import (
    benchmark_bands,
    benchmark_organisations,
    block_tests,
    funnel_limits,
    lived_experience_lens,
    organisation_icc,
    organisation_trend,
    shrink_organisation_means,
    standardise_role_mix,
    structural_drivers,
    variance_shares,
)
from fieldsurvey.scoring import score_scales
from fieldsurvey.synthetic import generate_coalition

CONTEXT = [
    "org",
    "wave",
    "wf_role",
    "wf_lived_exp",
    "wf_payband",
    "wf_peer_role",
    "wf_tenure",
    "wf_hours",
]
SCALES = ["burnout", "sts", "compassion_satisfaction", "intention_to_leave"]
BANDS = ["burnout_band", "sts_band", "compassion_satisfaction_band"]


INSTRUMENTS = ("workforce-context", "proqol5", "structural-conditions")


def coalition(n_orgs: int):
    # Large organisations only (60-120 staff), five waves: 500 x ~81 x 5 ~ 200,000 rows.
    return generate_coalition(
        n_orgs=n_orgs,
        seed=2026,
        waves=5,
        size_mix=(0.0, 0.0, 1.0),
        response_rate=0.9,
        instruments=INSTRUMENTS,
    )


def build(study) -> pd.DataFrame:
    scores = score_scales(
        study.responses, ["proqol5", "structural-conditions"], id_column="response_id"
    )
    return pd.concat([scores, study.responses[CONTEXT].reset_index(drop=True)], axis=1)


def ingested_study(study, folder: Path) -> Path:
    """The coalition's waves written as Qualtrics exports and ingested into a new study."""
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.instrument import resolve_instrument
    from fieldsurvey.store import init_study
    from fieldsurvey.synthetic.platform_exports import write_platform_export

    instruments = [resolve_instrument(i) for i in INSTRUMENTS]
    responses = study.responses
    waves = [str(w) for w in sorted(responses["wave"].unique())]
    store = init_study(folder / "study", list(INSTRUMENTS), org_column="wf_org",
                       group_columns=["wf_role", "wf_lived_exp"], waves=waves)
    for wave in waves:
        path = folder / f"wave{wave}.csv"
        write_platform_export(responses[responses["wave"].astype(str) == wave], instruments,
                              "qualtrics", path, layout="default", seed=int(wave))
        ingest_file(store, path, wave=wave)
    return store.root


def whole_benchmark(study_dir: Path, timeout: float) -> None:
    """A fresh ``fieldsurvey benchmark`` process: wall, CPU (its own, from the kernel's
    accounting of reaped children) and peak RSS (its own, as whole_command_bench reads it)."""
    import resource

    from whole_command_bench import _PEAK_OF_CHILD  # bench/ is on the path of its scripts

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _PEAK_OF_CHILD, "benchmark", str(study_dir),
                             "--format", "json"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        print(f"whole `fieldsurvey benchmark`: not finished after {timeout:.0f} s (stopped)  "
              "(target < 10 s)")
        return
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(err.decode()[-2000:])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    peaks = [int(line.split()[1]) for line in err.decode().splitlines()
             if line.startswith("peak-kb ")]
    peak = f"{peaks[-1] / 2**20:.2f} GB" if peaks else "unknown"
    print(f"whole `fieldsurvey benchmark` (fresh process, fresh study): {wall:.2f} s wall, "
          f"{cpu:.2f} s CPU, peak RSS {peak}  (target < 10 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    start = time.perf_counter()
    study = coalition(args.orgs)
    data = build(study)
    print(
        f"generate + score: {time.perf_counter() - start:6.2f} s  "
        f"({len(data):,} respondents, {data['org'].nunique()} organisations, "
        f"{data['wave'].nunique()} waves)"
    )
    steps = [
        (
            "benchmark_organisations (4 scales x 5 waves)",
            lambda: benchmark_organisations(data, SCALES, wave="wave"),
        ),
        (
            "benchmark_bands (3 band columns x 5 waves)",
            lambda: benchmark_bands(data, BANDS, wave="wave"),
        ),
        ("organisation_trend (4 scales)", lambda: organisation_trend(data, SCALES)),
        (
            "shrink_organisation_means (REML, per wave)",
            lambda: shrink_organisation_means(data, SCALES, wave="wave"),
        ),
        ("funnel_limits (additive, per wave)", lambda: funnel_limits(data, SCALES, wave="wave")),
        ("standardise_role_mix (4 scales)", lambda: standardise_role_mix(data, SCALES)),
        (
            "structural_drivers (4 outcomes, OLS cluster + random intercept)",
            lambda: structural_drivers(data, SCALES),
        ),
        ("block_tests (4 outcomes, joint condition Wald tests)", lambda: block_tests(data, SCALES)),
        ("organisation_icc (4 outcomes)", lambda: organisation_icc(data, SCALES)),
        (
            "variance_shares (4 outcomes, 200 org bootstraps)",
            lambda: variance_shares(data, SCALES, wave="wave", n_boot=200),
        ),
        (
            "lived_experience_lens (4 scales + pay band, field and orgs)",
            lambda: lived_experience_lens(data, SCALES).tests,
        ),
    ]
    total = 0.0
    results = {}
    for name, step in steps:
        t0 = time.perf_counter()
        results[name] = step()
        elapsed = time.perf_counter() - t0
        total += elapsed
        print(f"{name:<66} {elapsed:6.2f} s  ({len(results[name]):,} rows)")
    print(f"{'compare stage total':<66} {total:6.2f} s  (target <= 20 s)")
    shares = results["variance_shares (4 outcomes, 200 org bootstraps)"]
    burnout = shares.loc[shares["outcome"] == "burnout"].set_index("component")
    print(
        "burnout R^2 shares: "
        + ", ".join(
            f"{c} {burnout.loc[c, 'r2']:.3f} [{burnout.loc[c, 'ci_low']:.3f}, "
            f"{burnout.loc[c, 'ci_high']:.3f}]"
            for c in burnout.index
        )
    )
    icc = results["organisation_icc (4 outcomes)"].set_index("outcome")
    print(
        f"burnout ICC(1): model {icc.loc['burnout', 'icc_model']:.3f}, "
        f"ANOVA {icc.loc['burnout', 'icc_anova']:.3f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        study_dir = ingested_study(study, Path(tmp))
        print(f"exports written and ingested in {time.perf_counter() - start:.1f} s (not timed)")
        whole_benchmark(study_dir, args.timeout)


if __name__ == "__main__":
    main()
