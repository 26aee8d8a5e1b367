"""Benchmark: build and render N example organisation reports as HTML and PDF.

Each report is the example from ``fieldsurvey.report.checks.build_example_report`` (five
figures, a table, five sections) written to its own folder, then rendered with the pandoc +
typst engine. Reports are spread over a process pool (default 2 workers, the CI machine's
cores); every worker imports matplotlib/pandas once and reuses it for all its reports.

Usage::

    python bench/report_bench.py            # 100 reports, 2 workers
    python bench/report_bench.py -n 20 -j 2 --keep out/bench

Target: 100 reports in <= 120 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _one_report(args: tuple[int, str, str]) -> tuple[float, float]:
    index, root, engine = args
    from fieldsurvey.report import render_report
    from fieldsurvey.report.checks import build_example_report

    start = time.perf_counter()
    document = build_example_report(
        Path(root) / f"org-{index:03d}", f"Organisation {index:03d}", seed=index
    )
    built = time.perf_counter()
    render_report(document, formats=("html", "pdf"), engine=engine)
    done = time.perf_counter()
    return built - start, done - built


def _warm_up() -> None:
    # Pay imports once per worker, outside the timed tasks' first report.
    import fieldsurvey.report.checks  # noqa: F401


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--reports", type=int, default=100)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--engine", default="pandoc", choices=["auto", "pandoc", "quarto"])
    parser.add_argument("--keep", type=Path, help="keep the reports in this folder")
    args = parser.parse_args()
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1772323200")  # 2026-03-01, reproducible

    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        tasks = [(i, str(root), args.engine) for i in range(args.reports)]
        start = time.perf_counter()
        cpu_start = os.times()
        with ProcessPoolExecutor(max_workers=args.jobs, initializer=_warm_up) as pool:
            timings = list(pool.map(_one_report, tasks))
        total = time.perf_counter() - start
        cpu_end = os.times()
    # CPU seconds of the workers and the pandoc processes they started: a reading that holds
    # when other jobs share the machine (wall time on idle cores ~ cpu / workers).
    cpu = sum(
        getattr(cpu_end, f) - getattr(cpu_start, f)
        for f in ("user", "system", "children_user", "children_system")
    )

    build = sum(t[0] for t in timings)
    render = sum(t[1] for t in timings)
    n = args.reports
    print(f"reports: {n} (HTML + PDF), engine {args.engine}, {args.jobs} worker process(es)")
    print(f"wall time: {total:.1f} s total, {total / n:.3f} s per report")
    print(
        f"  per report inside a worker: build document + figures {build / n:.3f} s, "
        f"render {render / n:.3f} s"
    )
    print(
        f"CPU time: {cpu:.1f} s ({cpu / n:.3f} s per report); on {args.jobs} idle cores "
        f"about {cpu / args.jobs / n * 100:.0f} s per 100 reports"
    )
    print(f"extrapolated to 100 reports: {total / n * 100:.0f} s (target <= 120 s)")


if __name__ == "__main__":
    main()
