"""Scoring speed: 1,000,000 respondents x 60 items (two instruments), CSV in -> scores out.

Prints wall time and peak memory for the scoring step alone and for the whole command
(``fieldsurvey score``: read CSV, validate, score, write CSV). Target: scoring step <= 3 s and
<= 2 GB on a 2-core machine.

    python bench/score_bench.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from fieldsurvey.scoring import score_scales

INSTRUMENTS = ["proqol5", "structural-conditions"]  # 30 + 43 items; 60 scored columns used


def make_answers(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = [f"pq{i:02d}" for i in range(1, 31)]
    from fieldsurvey.instrument import resolve_instrument

    sc = resolve_instrument("structural-conditions")
    cols += [i for s in sc.scales for i in s.items][:30]
    data = rng.integers(1, 6, size=(rows, len(cols))).astype(float)
    data[rng.random(data.shape) < 0.03] = np.nan
    return pd.DataFrame(data, columns=cols)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    answers = make_answers(args.rows)
    # Only the scales whose items are all present are scored: ProQOL (30) + the first
    # structural subscales (30 items).
    from fieldsurvey.instrument import resolve_instrument

    sc = resolve_instrument("structural-conditions")
    present = set(answers.columns)
    missing = [i for s in sc.scales for i in s.items if i not in present]
    answers = answers.assign(**{m: np.nan for m in missing})
    print(f"data: {len(answers):,} respondents x 60 answered item columns")

    tracemalloc.start()
    start = time.perf_counter()
    scores = score_scales(answers, INSTRUMENTS)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"scoring step: {elapsed:.2f} s, peak {peak / 2**30:.2f} GB allocated "
          f"({scores.shape[1]} output columns)  [target <= 3 s, <= 2 GB]")

    with tempfile.TemporaryDirectory() as tmp:
        csv_in = Path(tmp) / "answers.csv"
        answers.to_csv(csv_in, index=False)
        out = Path(tmp) / "scores.csv"
        cmd = [sys.executable, "-m", "fieldsurvey", "score", str(csv_in), "-o", str(out)]
        for inst in INSTRUMENTS:
            cmd += ["-i", inst]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        whole = time.perf_counter() - start
        child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        print(f"whole command (read CSV, score, write CSV): {whole:.2f} s, "
              f"peak RSS {child_peak:.2f} GB")


if __name__ == "__main__":
    main()
