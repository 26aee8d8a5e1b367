"""Benchmark: reliability of a 60-item scale answered by 1,000,000 respondents, 5% missing.

Target: scale_reliability(..., missing="pairwise") in 2 s or less. Prints the wall time of the
call with the default BLAS threads and with BLAS limited to one thread (multi-threaded BLAS
slows down badly when other processes hold the cores), the peak memory the call allocated on top
of the data (tracemalloc sees numpy's buffers) and the process's peak resident size.
Run:  .venv/bin/python bench/reliability_bench.py [n_respondents]
"""

from __future__ import annotations

import os
import resource
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from fieldsurvey.psychometrics.reliability import scale_reliability

N_ITEMS = 60
MISSING_SHARE = 0.05


def make_items(n: int, k: int = N_ITEMS, seed: int = 1) -> pd.DataFrame:
    """One-factor answers on a 1..5 response scale with missing completely at random."""
    rng = np.random.default_rng(seed)
    factor = rng.standard_normal((n, 1))
    loadings = rng.uniform(0.4, 0.8, k)
    latent = factor * loadings + rng.standard_normal((n, k)) * np.sqrt(1 - loadings**2)
    answers = np.clip(np.round(latent * 1.1 + 3.0), 1, 5)
    del latent
    answers[rng.random((n, k)) < MISSING_SHARE] = np.nan
    return pd.DataFrame(answers, columns=[f"q{i + 1:02d}" for i in range(k)])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    items = make_items(n)
    scale_reliability(items.iloc[:1000])  # warm up imports and BLAS threads
    tracemalloc.start()
    start = time.perf_counter()
    result = scale_reliability(items, missing="pairwise")
    wall = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    with threadpool_limits(limits=1, user_api="blas"):
        start = time.perf_counter()
        scale_reliability(items, missing="pairwise")
        wall_one = time.perf_counter() - start
    s = result.summary
    print(f"respondents={n:,} items={N_ITEMS} missing={MISSING_SHARE:.0%} (pairwise)")
    print(f"alpha={s['alpha']:.4f} g6={s['g6']:.4f} omega_total={s['omega_total']:.4f}")
    print(
        f"wall time: {wall:.2f} s default BLAS threads, {wall_one:.2f} s one BLAS thread "
        "(target <= 2 s)"
    )
    print(
        f"peak memory allocated by the call: {peak / 2**20:.0f} MiB "
        f"(data itself: {items.memory_usage().sum() / 2**20:.0f} MiB)"
    )
    # BLAS threads spin when other processes hold the cores: read the time together with the load.
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak resident size: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
