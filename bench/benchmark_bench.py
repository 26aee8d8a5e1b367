"""Time the compare stage on a large coalition: 500 organisations, about 200,000 respondents.

Run: ``.venv/bin/python bench/benchmark_bench.py``. Prints one line per analysis and the total
of the compare stage (data generation and scoring are timed separately and not counted).
Target: the full benchmark and drivers in 20 s or less.
"""

from __future__ import annotations

import time

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


def build() -> pd.DataFrame:
    # Large organisations only (60-120 staff), five waves: 500 x ~81 x 5 ~ 200,000 rows.
    study = generate_coalition(
        n_orgs=500,
        seed=2026,
        waves=5,
        size_mix=(0.0, 0.0, 1.0),
        response_rate=0.9,
        instruments=("workforce-context", "proqol5", "structural-conditions"),
    )
    scores = score_scales(
        study.responses, ["proqol5", "structural-conditions"], id_column="response_id"
    )
    return pd.concat([scores, study.responses[CONTEXT].reset_index(drop=True)], axis=1)


def main() -> None:
    start = time.perf_counter()
    data = build()
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


if __name__ == "__main__":
    main()
