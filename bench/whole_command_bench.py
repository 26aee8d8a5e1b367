"""Whole commands, as users run them: a fresh ``fieldsurvey`` process reading the file included.

Prints, from one run on one machine, wall time, CPU time (user + system, all threads) and peak
resident size of each whole process, the peak as a multiple of the data (the answers as 8-byte
numbers, and the file), and its ratio to two peers timed in the same run: pandas' ``read_csv`` of the same file (in this
process) and R (``Rscript``: read.csv + psych::scoreItems / psych::alpha + write.csv) when R and
psych are installed. Targets (issue 17): ``score`` 500,000 x 30 at most 0.2x R and at most 3x
pandas' read; ``reliability`` 60 items x 200,000 at most 0.2x R; ``score`` 1,000,000 x 60 (here 66) under
6 s and 1.5 GB; ``ingest`` of 1,000,000 rows under 15 s; start-up (``--version``) under
0.3 s. Figures only, never assertions.

    python bench/whole_command_bench.py [--quick] [--only score,reliability,score66,ingest]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fieldsurvey.instrument import resolve_instrument

R_SCORE = """
suppressMessages(library(psych))
a <- commandArgs(TRUE)
d <- read.csv(a[1])
keys <- list(s1 = names(d)[1:10], s2 = names(d)[11:20], s3 = names(d)[21:30])
s <- scoreItems(keys, d, totals = TRUE, impute = "none")
write.csv(s$scores, a[2], row.names = FALSE)
"""
R_ALPHA = """
suppressMessages(library(psych))
a <- commandArgs(TRUE)
d <- read.csv(a[1])
r <- psych::alpha(d, check.keys = FALSE, warnings = FALSE)
write.csv(r$item.stats, a[2])
"""


# Runs ``fieldsurvey`` and reports the peak resident size of this process alone. The kernel's
# ru_maxrss of a child also counts its parent's size at fork (this script holds the data it
# timed pandas on), so the peak is read from the child's own /proc/self/status at exit.
_PEAK_OF_CHILD = """
import atexit, runpy, sys
def _peak():
    try:
        with open("/proc/self/status") as status:
            kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        sys.stderr.write(f"\\npeak-kb {kb}\\n")
    except (OSError, StopIteration):
        pass
atexit.register(_peak)
sys.argv = ["fieldsurvey", *sys.argv[1:]]
runpy.run_module("fieldsurvey", run_name="__main__", alter_sys=True)
"""


def whole(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak resident GB of one child process (times from its own
    rusage, via wait4). On a shared machine wall time varies with the load; CPU time much
    less. A ``python -m fieldsurvey`` command reports its own peak (see ``_PEAK_OF_CHILD``)."""
    if cmd[1:3] == ["-m", "fieldsurvey"]:
        cmd = [cmd[0], "-c", _PEAK_OF_CHILD, *cmd[3:]]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err}")
    peaks = [int(line.split()[1]) for line in err.splitlines() if line.startswith("peak-kb ")]
    peak = peaks[-1] / 2**20 if peaks else usage.ru_maxrss / 2**20
    return wall, usage.ru_utime + usage.ru_stime, peak


def answers_csv(path: Path, rows: int, columns: list[str], seed: int = 1) -> None:
    """One-factor 1..5 answers, 3% missing, written as a plain CSV (integers, empty = missing)."""
    rng = np.random.default_rng(seed)
    factor = rng.standard_normal((rows, 1))
    latent = factor * 0.6 + rng.standard_normal((rows, len(columns))) * 0.8
    data = np.clip(np.round(latent * 1.1 + 3.0), 1, 5)
    data[rng.random(data.shape) < 0.03] = np.nan
    pd.DataFrame(data, columns=columns).to_csv(path, index=False, float_format="%.0f")


def sixty_item_instrument(path: Path) -> list[str]:
    """A 60-item one-scale instrument (YAML) for the reliability run; returns the item ids."""
    items = [f"q{i:02d}" for i in range(1, 61)]
    lines = ["id: bench60", "title: Benchmark scale", 'version: "1"', "citation: none (benchmark)",
             "licence: {holder: none, terms: none, wording_included: false}",
             "response_scales:", "  five: {type: likert, min: 1, max: 5}", "items:"]
    lines += [f"  - {{id: {i}, scale: five, label: item {i}}}" for i in items]
    lines += ["scales:", "  - id: all60", "    label: All sixty", f"    items: [{', '.join(items)}]",
              "    method: mean"]
    path.write_text("\n".join(lines) + "\n")
    return items


def pandas_read(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of pandas' ``read_csv`` of ``path`` in this process (pandas
    already imported)."""
    start, cpu = time.perf_counter(), time.process_time()
    pd.read_csv(path, low_memory=False)
    return time.perf_counter() - start, time.process_time() - cpu


def r_time(script: str, data: Path, out: Path, folder: Path) -> tuple[float, float] | None:
    """Wall and CPU seconds of the whole R process, or None without R (or psych)."""
    if shutil.which("Rscript") is None:
        return None
    source = folder / "run.R"
    source.write_text(script)
    try:
        return whole(["Rscript", str(source), str(data), str(out)])[:2]
    except SystemExit as exc:  # psych missing: say so, keep the other figures
        print(f"  R run failed ({str(exc).splitlines()[-1][:80]})")
        return None


#: Peak RSS of ``fieldsurvey --version`` (the interpreter and its libraries), set by main().
BASE_RSS = [0.0]


def line(what: str, run: tuple[float, float, float],
         peers: dict[str, tuple[float, float] | None], data: Path, cells: int) -> None:
    """One command's figures: times, peak RSS as a multiple of its data, ratios to peers (wall
    to wall, then CPU to CPU, which varies less with the machine's load)."""
    wall, cpu, rss = run
    numbers, file = cells * 8 / 2**30, data.stat().st_size / 2**30
    ratios = ", ".join(
        f"{wall / t[0]:.2f}x {name} ({t[0]:.2f} s wall; by CPU {cpu / t[1]:.2f}x of {t[1]:.2f} s)"
        for name, t in peers.items() if t)
    print(f"{what}: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.2f} GB = "
          f"{rss / numbers:.1f}x the answers as numbers ({numbers:.2f} GB; "
          f"{(rss - BASE_RSS[0]) / numbers:.1f}x above start-up), {rss / file:.1f}x the file "
          f"({file:.2f} GB)" + (f"; {ratios}" if ratios else ""))


def score_run(fs: list[str], folder: Path, scale: int) -> None:
    """``score`` of 500,000 x 30 against pandas' read and R's read.csv + scoreItems + write.csv."""
    data = folder / "score30.csv"
    answers_csv(data, 500_000 // scale, [f"pq{i:02d}" for i in range(1, 31)])
    peers = {"pandas read_csv": pandas_read(data),
             "R": r_time(R_SCORE, data, folder / "r.csv", folder)}
    run = whole([*fs, "score", str(data), "-i", "proqol5", "-o", str(folder / "s.csv")])
    line(f"score {500_000 // scale:,} x 30 (whole process)", run, peers, data,
         500_000 // scale * 30)
    print("  [targets: <= 0.2x R, <= 3x pandas read_csv]")


def reliability_run(fs: list[str], folder: Path, scale: int) -> None:
    """``reliability`` of 60 items x 200,000 against R's read.csv + psych::alpha."""
    items = sixty_item_instrument(folder / "bench60.yaml")
    data = folder / "rel60.csv"
    answers_csv(data, 200_000 // scale, items)
    peers = {"pandas read_csv": pandas_read(data),
             "R": r_time(R_ALPHA, data, folder / "r.csv", folder)}
    run = whole([*fs, "reliability", str(data), "-i", str(folder / "bench60.yaml")])
    line(f"reliability 60 x {200_000 // scale:,} (whole process)", run, peers, data,
         200_000 // scale * 60)
    print("  [target: <= 0.2x R]")


def score66_run(fs: list[str], folder: Path, scale: int) -> None:
    """``score`` of 1,000,000 x 66 (three instruments, ten scales)."""
    data = folder / "score66.csv"
    scored = ["proqol5", "cbi", "stss"]  # 30 + 19 + 17 = 66 item columns, 10 scales
    columns = [item.id for ref in scored for item in resolve_instrument(ref).items]
    answers_csv(data, 1_000_000 // scale, columns)
    peers = {"pandas read_csv": pandas_read(data)}
    command = [*fs, "score", str(data), "-o", str(folder / "s.csv")]
    run = whole(command + [arg for ref in scored for arg in ("-i", ref)])
    line(f"score {1_000_000 // scale:,} x {len(columns)} (whole process)", run, peers, data,
         1_000_000 // scale * len(columns))
    print("  [target: < 6 s, < 1.5 GB]")


def ingest_run(fs: list[str], folder: Path, scale: int) -> None:
    """``ingest`` of a 1,000,000-row Qualtrics export into a new study."""
    from ingest_bench import write_qualtrics_csv  # bench/ is on the path of its scripts

    data = folder / "qualtrics.csv"
    write_qualtrics_csv(data, 1_000_000 // scale)
    study = folder / "study"
    whole([*fs, "init", str(study), "-i", "workforce-context", "-i", "proqol5", "-i",
           "structural-conditions", "--org-column", "wf_org"])
    peers = {"pandas read_csv": pandas_read(data)}
    run = whole([*fs, "ingest", str(study), str(data)])
    line(f"ingest {1_000_000 // scale:,} rows x 73 columns (whole process)", run, peers,
         data, 1_000_000 // scale * 73)
    print("  [target: < 15 s]")


RUNS = {"score": score_run, "reliability": reliability_run, "score66": score66_run,
        "ingest": ingest_run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows")
    parser.add_argument("--only", default=",".join(RUNS),
                        help="the runs to make, comma-separated (default: all of them)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    unknown = set(args.only.split(",")) - set(RUNS)
    if unknown:
        parser.error(f"unknown runs {sorted(unknown)}; choose from {', '.join(RUNS)}")
    fs = [sys.executable, "-m", "fieldsurvey"]
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wall, cpu, rss = whole([*fs, "--version"])
        BASE_RSS[0] = rss
        print(f"start-up (fieldsurvey --version): {wall:.2f} s wall, {cpu:.2f} s CPU, "
              f"peak RSS {rss:.2f} GB [target < 0.3 s]")
        for name, run in RUNS.items():
            if name in args.only.split(","):
                run(fs, folder, scale)


if __name__ == "__main__":
    main()
