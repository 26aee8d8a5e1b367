"""Benchmark: ML CFA of a 30-item, 3-factor model on 100,000 simulated respondents.

Target: <= 5 s wall time for ``fit_cfa`` (data preparation, moments, optimisation, standard
errors, fit measures). Prints wall time and peak memory; never asserts.

    .venv/bin/python bench/cfa_bench.py [--n 100000] [--groups]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np
import pandas as pd

from fieldsurvey.psychometrics.cfa import fit_cfa
from fieldsurvey.psychometrics.invariance import measurement_invariance

N_FACTORS, ITEMS_PER_FACTOR = 3, 10


def simulate(n: int, seed: int = 2026) -> tuple[pd.DataFrame, str]:
    """Five-point answers generated from a correlated three-factor model."""
    rng = np.random.default_rng(seed)
    phi = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.4], [0.3, 0.4, 1.0]])
    factors = rng.multivariate_normal(np.zeros(N_FACTORS), phi, size=n)
    columns, lines = {}, []
    for f in range(N_FACTORS):
        names = [f"i{f * ITEMS_PER_FACTOR + k + 1:02d}" for k in range(ITEMS_PER_FACTOR)]
        loadings = np.linspace(0.5, 0.8, ITEMS_PER_FACTOR)
        for name, lam in zip(names, loadings, strict=True):
            latent = lam * factors[:, f] + np.sqrt(1 - lam**2) * rng.standard_normal(n)
            columns[name] = np.clip(np.round(3 + 1.2 * latent), 1, 5)
        lines.append(f"f{f + 1} =~ " + " + ".join(names))
    data = pd.DataFrame(columns)
    data["site"] = rng.choice(["north", "south"], size=n)
    return data, "\n".join(lines)


def measure(label: str, func) -> None:
    # Time without tracemalloc (it slows every allocation), then trace memory in a second run.
    start = time.perf_counter()
    result = func()
    wall = time.perf_counter() - start
    tracemalloc.start()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label}: wall {wall:.2f} s, peak traced memory {peak / 2**20:.1f} MiB")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--groups", action="store_true", help="also run the invariance sequence")
    args = parser.parse_args()
    data, model = simulate(args.n)
    print(f"{args.n} respondents x {N_FACTORS * ITEMS_PER_FACTOR} items, {N_FACTORS} factors")
    result = measure("fit_cfa (single group)", lambda: fit_cfa(data, model))
    f = result.fit
    print(
        f"  converged={result.converged} iterations={result.iterations} chisq={f['chisq']:.1f} "
        f"df={int(f['df'])} cfi={f['cfi']:.4f} rmsea={f['rmsea']:.4f} srmr={f['srmr']:.4f}"
    )
    if args.groups:
        inv = measure(
            "measurement_invariance (2 groups, 3 steps)",
            lambda: measurement_invariance(data, model, "site"),
        )
        print(inv.steps[["level", "chisq", "df", "cfi", "rmsea", "srmr"]].round(4).to_string())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS (incl. simulation): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
