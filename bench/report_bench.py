"""Benchmark: the field-wide report and one report per organisation of a 100-organisation study.

Builds a synthetic study (``generate_coalition``, 100 organisations, two waves) through the
real ingest pipeline (with their organisation profiles), then times ``fieldsurvey.report.build_reports`` writing every report as
HTML + PDF with the pandoc + typst engine: load and analyse the study once, then per report
gate its release, draw its figures, write the results bundle and the document, and render.
Reports are built on a pool of worker processes (default 2, the CI machine's cores).

Usage::

    python bench/report_bench.py              # 100 organisations, 2 workers
    python bench/report_bench.py -n 20 -j 2 --keep out/bench

Target: the 100 organisation reports in <= 120 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

INSTRUMENTS = ["workforce-context", "proqol5", "cbi", "stss", "structural-conditions"]


def make_study(root: Path, n_orgs: int, seed: int) -> Path:
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.ingest.profiles import ingest_profiles
    from fieldsurvey.store import init_study
    from fieldsurvey.synthetic import generate_coalition

    study = init_study(root / "study", INSTRUMENTS, org_column="wf_org", waves=["1", "2"])
    synthetic = generate_coalition(n_orgs=n_orgs, seed=seed, waves=2)
    responses, profiles = synthetic.responses, synthetic.profiles
    for wave in ("1", "2"):
        path = root / f"wave{wave}.csv"
        rows = responses[responses["wave"].astype(str) == wave]
        rows.drop(columns=["org", "wave"]).to_csv(path, index=False)
        ingest_file(study, path, wave=wave)
        # Organisation profiles: comparator groups and response rates, as in the demo.
        path = root / f"profiles{wave}.csv"
        rows = profiles[profiles["wave"].astype(str) == wave]
        rows.drop(columns=["org", "wave"]).to_csv(path, index=False)
        ingest_profiles(study, path, wave=wave)
    return study.root


STAGE_ORDER = ("load", "analysis", "ahead", "gate", "content", "figures", "bundle", "pandoc", "typst")
TARGET_ISSUE_18 = 120.0  # s for 100 organisation reports (HTML + PDF): issue 18
TARGET_ISSUE_17 = 60.0  # the same, issue 17


def print_stages(times: dict[str, dict[str, float]], n_reports: int) -> float:
    """One line per stage (wall and CPU seconds, per report); returns the CPU total."""
    print(f"{'stage':<10} {'wall s':>8} {'CPU s':>8} {'wall/report':>12} {'CPU/report':>11}")
    names = [s for s in STAGE_ORDER if s in times] + sorted(set(times) - set(STAGE_ORDER))
    for name in names:
        wall, cpu = times[name]["wall"], times[name]["cpu"]
        print(f"{name:<10} {wall:8.1f} {cpu:8.1f} {wall / n_reports:12.2f} "
              f"{cpu / n_reports:11.2f}")
    wall = sum(t["wall"] for t in times.values())
    cpu = sum(t["cpu"] for t in times.values())
    print(f"{'all':<10} {wall:8.1f} {cpu:8.1f} {wall / n_reports:12.2f} {cpu / n_reports:11.2f}")
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--orgs", type=int, default=100)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--engine", default="pandoc", choices=["auto", "pandoc", "quarto"])
    parser.add_argument("--keep", type=Path, help="keep the study and reports in this folder")
    args = parser.parse_args()
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1772323200")  # 2026-03-01, reproducible

    from fieldsurvey.analyse import load_study_data
    from fieldsurvey.report.build import build_reports
    from fieldsurvey.report.timing import reset_stage_times, stage_times
    from fieldsurvey.store import open_study

    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        study = make_study(root, args.orgs, args.seed)
        made = time.perf_counter()
        n_responses = len(load_study_data(open_study(study)).frame)
        loaded = time.perf_counter()
        reset_stage_times()
        cpu_start = os.times()
        results = build_reports(
            study,
            root / "reports",
            orgs="all",
            formats=("html", "pdf"),
            engine=args.engine,
            jobs=args.jobs,
        )
        end = time.perf_counter()
        cpu_end = os.times()
        times = stage_times()
    cpu_here = sum(
        getattr(cpu_end, f) - getattr(cpu_start, f)
        for f in ("user", "system", "children_user", "children_system")
    )
    total = end - loaded
    n_org_reports = len(results) - 1
    print(
        f"study: {args.orgs} organisations, {n_responses} responses in 2 waves "
        f"(synthetic + ingest {made - start:.1f} s, load/score {loaded - made:.1f} s)"
    )
    print(
        f"reports: field-wide + {n_org_reports} organisation reports (HTML + PDF), engine "
        f"{args.engine}, {args.jobs} worker process(es)"
    )
    workers = " (summed over the worker processes)" if args.jobs > 1 else ""
    print(f"\nseconds per stage{workers}:")
    print_stages(times, len(results))
    worker_cpu = sum(t["cpu"] for n, t in times.items() if n in ("ahead", "content", "figures",
                                                                   "bundle", "pandoc", "typst"))
    cpu = cpu_here + (worker_cpu if args.jobs > 1 else 0.0)
    print(f"\nall {len(results)} reports: wall {total:.1f} s, CPU {cpu:.1f} s "
          f"({total / len(results):.2f} s wall, {cpu / len(results):.2f} s CPU per report)")
    # load, analysis and gate run in the main process one after the other; the workers
    # render after the gate (and compute "ahead" during analysis).
    serial = sum(times[n]["wall"] for n in ("load", "analysis", "gate") if n in times)
    print(f"wall: {serial:.1f} s analysing and gating in the main process, then "
          f"{total - serial:.1f} s rendering on {args.jobs} worker(s)")
    if n_org_reports == 100:
        print(f"100 organisation reports: actual wall {total:.1f} s, CPU {cpu:.1f} s")
    else:
        # The gate judges all reports as one release: its cost grows faster than the number
        # of reports, so a projection from a smaller run is a lower bound.
        scale = 100 / max(n_org_reports, 1)
        print(f"100 organisation reports: projected wall {total * scale:.0f} s, CPU "
              f"{cpu * scale:.0f} s (linear from {n_org_reports}; a lower bound: the gate "
              "grows faster than linearly)")
    print(f"targets: <= {TARGET_ISSUE_18:.0f} s (issue 18), < {TARGET_ISSUE_17:.0f} s "
          "(issue 17) for 100 organisation reports")


if __name__ == "__main__":
    main()
