"""Time the disclosure gate with its release ledger on a whole study's reports.

Usage: python bench/disclosure_bench.py [n_orgs] [seed] [baseline_ref] [--reports-only]

A synthetic coalition of ``n_orgs`` organisations and two waves is ingested into a study; the
field-wide report and every organisation's report are gated as one release against the study's
ledger (what ``fieldsurvey report --all-orgs`` does), then a benchmark is gated against the
ledger that now holds them. With ``baseline_ref`` (a git commit of this repository, default
``eefff81``: the gate before the release ledger) the same reports are gated by that version in
the same run, each report on its own as it did then, and the ratio is printed.
``--reports-only`` leaves out the benchmark judged after the reports (at 500 organisations
it is judged against some 3 million recorded values and takes longer than the rest).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_BASELINE = r"""
import sys, time, json
from fieldsurvey.store import open_study
from fieldsurvey.report.study_data import load_study_data
from fieldsurvey.report.release import gated_tables, report_findings
from fieldsurvey.report.build import _findings
data = load_study_data(open_study(sys.argv[1]))
t0 = time.perf_counter(); c0 = time.process_time()
gated_tables(data, None, report_findings(data, _findings(None)))
for org in data.organisations:
    gated_tables(data, org)
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}))
"""


def make_study(folder: Path, n_orgs: int, seed: int) -> Path:
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.store import init_study
    from fieldsurvey.synthetic import generate_coalition

    synthetic = generate_coalition(n_orgs=n_orgs, seed=seed, waves=2)
    study = init_study(folder / "study", list(synthetic.params.instruments),
                       org_column="wf_org", waves=["1", "2"])
    for wave in ("1", "2"):
        rows = synthetic.responses[synthetic.responses["wave"].astype(str) == wave]
        path = folder / f"wave{wave}.csv"
        rows.drop(columns=["org", "wave"]).to_csv(path, index=False)
        ingest_file(study, path, wave=wave)
    return study.root


def baseline(study: Path, ref: str) -> dict[str, float] | None:
    """The old gate's time on the same study, from a checkout of ``ref`` (None if unavailable)."""
    with tempfile.TemporaryDirectory(prefix="fs-baseline-") as tmp:
        checkout = Path(tmp) / "baseline"
        made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach",
                               str(checkout), ref], capture_output=True, text=True, check=False)
        if made.returncode != 0:
            return None
        try:
            run = subprocess.run([sys.executable, "-c", _BASELINE, str(study)], text=True,
                                 capture_output=True, env={"PYTHONPATH": str(checkout / "src"),
                                                           "PATH": "/usr/bin:/bin"}, check=False)
            return json.loads(run.stdout.strip().splitlines()[-1]) if run.returncode == 0 else None
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(checkout)], capture_output=True, check=False)


def main() -> None:
    from fieldsurvey.analyse import load_study_data
    from fieldsurvey.disclosure import Ledger
    from fieldsurvey.outputs import benchmark
    from fieldsurvey.report.build import _findings
    from fieldsurvey.report.release import gate_reports
    from fieldsurvey.store import open_study

    reports_only = "--reports-only" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != "--reports-only"]
    n_orgs = int(args[0]) if len(args) > 0 else 25
    seed = int(args[1]) if len(args) > 1 else 1
    ref = args[2] if len(args) > 2 else "eefff81"
    with tempfile.TemporaryDirectory(prefix="fs-disclosure-bench-") as tmp:
        root = make_study(Path(tmp), n_orgs, seed)
        data = load_study_data(open_study(root))
        targets = [None, *data.organisations]
        # CPU time as well as wall time: the development machine is shared.
        from fieldsurvey.report.timing import reset_stage_times, stage_times

        reset_stage_times()
        t0, c0 = time.perf_counter(), time.process_time()
        gate_reports(data, targets, findings=_findings(None), command="bench")
        t1, c1 = time.perf_counter(), time.process_time()
        stages = stage_times()
        print(f"organisations={n_orgs} respondents={len(data.frame)} reports={len(targets)}")
        print(f"reports_gate_wall_s={t1 - t0:.1f} reports_gate_cpu_s={c1 - c0:.1f}")
        # The same run split: the reports' statistics (analysis) and the gate with the ledger.
        for name in ("analysis", "gate"):
            if name in stages:
                print(f"  of which {name}: wall_s={stages[name]['wall']:.1f} "
                      f"cpu_s={stages[name]['cpu']:.1f}")
        if not reports_only:
            benchmark(root, command="bench")
            t2, c2 = time.perf_counter(), time.process_time()
            print(f"benchmark_after_reports_wall_s={t2 - t1:.1f} cpu_s={c2 - c1:.1f}")
        releases = Ledger.for_study(open_study(root)).releases()
        print(f"ledger_releases={len(releases)} values_recorded={int(releases['values_shown'].sum())}",
              flush=True)
        old = baseline(root, ref)
        if old is None:
            print(f"baseline {ref}: not available (no git checkout of it)")
        else:
            print(f"baseline_{ref}_reports_gate_wall_s={old['wall']:.1f} cpu_s={old['cpu']:.1f}")
            print(f"ratio_new_over_baseline_cpu={(c1 - c0) / max(old['cpu'], 1e-9):.2f}")


if __name__ == "__main__":
    main()
