"""Benchmark: FIML and WLSMV invariance sequences against lavaan, in one run.

Data: 20,000 simulated respondents in two groups, 15 five-point items measuring three
correlated factors (five items each), 5% of answers missing completely at random; the second
group has shifted factor means and one item with shifted thresholds.

Timed, for every invariance step (two groups):

* FIML + MLR (``measurement_invariance(..., missing="fiml", estimator="MLR", strict=True)``):
  configural, metric, scalar, strict; lavaan ``cfa(missing = "ml", estimator = "MLR",
  group.equal = ...)``;
* WLSMV with pairwise information (``ordinal_invariance(..., missing="pairwise")``):
  configural, thresholds, loadings, intercepts (Wu & Estabrook 2016); lavaan
  ``cfa(ordered = TRUE, missing = "pairwise")`` on ``semTools::measEq.syntax`` models.

When Rscript with lavaan and semTools is on the PATH the same fits run in R in the same process
run (timed inside R, so R's start-up is not counted) and the script prints, per step, both
wall times, the ratio ours / lavaan and the chi-squares side by side. Without R it prints our
times only. It never asserts.

    .venv/bin/python bench/cfa_bench.py [--n 20000] [--ml]

``--ml`` runs the earlier benchmark instead: plain ML on 100,000 respondents x 30 items.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from fieldsurvey.psychometrics.cfa import fit_cfa
from fieldsurvey.psychometrics.invariance import measurement_invariance, ordinal_invariance

N_FACTORS, ITEMS_PER_FACTOR = 3, 5
FIML_STEPS = {
    "configural": "",
    "metric": '"loadings"',
    "scalar": 'c("loadings", "intercepts")',
    "strict": 'c("loadings", "intercepts", "residuals")',
}
ORDINAL_STEPS = {
    "configural": "",
    "thresholds": '"thresholds"',
    "loadings": 'c("thresholds", "loadings")',
    "intercepts": 'c("thresholds", "loadings", "intercepts")',
}


def simulate(n: int, seed: int = 2026, missing: float = 0.05) -> tuple[pd.DataFrame, str]:
    """Five-point answers of two groups from a correlated three-factor model."""
    rng = np.random.default_rng(seed)
    group = np.where(rng.random(n) < 0.5, "a", "b")
    phi = np.array([[1.0, 0.4, 0.3], [0.4, 1.0, 0.5], [0.3, 0.5, 1.0]])
    factors = rng.multivariate_normal(np.zeros(N_FACTORS), phi, size=n)
    factors[group == "b"] += np.array([0.2, -0.1, 0.3])
    cuts = np.array([-1.5, -0.5, 0.5, 1.5])
    columns, lines = {}, []
    for f in range(N_FACTORS):
        names = [f"y{f * ITEMS_PER_FACTOR + k + 1:02d}" for k in range(ITEMS_PER_FACTOR)]
        for k, name in enumerate(names):
            lam = 0.55 + 0.05 * k
            latent = lam * factors[:, f] + np.sqrt(1 - lam**2) * rng.standard_normal(n)
            if name == "y03":
                latent[group == "b"] += 0.3  # a non-invariant item
            columns[name] = (np.digitize(latent, cuts) + 1).astype(float)
        lines.append(f"f{f + 1} =~ " + " + ".join(names))
    data = pd.DataFrame(columns)
    data[rng.random(data.shape) < missing] = np.nan
    data["g"] = group
    return data, "\n".join(lines)


def timed(func):
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


def ours(data: pd.DataFrame, model: str) -> dict:
    """Our two sequences, timed step by step (each step fitted as measurement_invariance
    fits it) and as wholes."""
    out: dict = {"fiml": {}, "ordinal": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        equal = {"configural": (), "metric": ("loadings",), "scalar": ("loadings", "intercepts"),
                 "strict": ("loadings", "intercepts", "residuals")}  # fmt: skip
        for step, eq in equal.items():
            fit, seconds = timed(
                lambda eq=eq: fit_cfa(
                    data, model, group="g", group_equal=eq, missing="fiml", estimator="MLR"
                )  # fmt: skip
            )
            out["fiml"][step] = (seconds, fit.fit["chisq"], fit.fit["chisq_scaled"])
        inv, out["fiml_total"] = timed(
            lambda: measurement_invariance(
                data, model, "g", strict=True, missing="fiml", estimator="MLR"
            )  # fmt: skip
        )
        out["fiml_highest"] = inv.highest_level
        ord_equal = {"configural": (), "thresholds": ("thresholds",),
                     "loadings": ("thresholds", "loadings"),
                     "intercepts": ("thresholds", "loadings", "intercepts")}  # fmt: skip
        for step, eq in ord_equal.items():
            fit, seconds = timed(
                lambda eq=eq: fit_cfa(
                    data, model, group="g", group_equal=eq, ordered=True, missing="pairwise"
                )  # fmt: skip
            )
            out["ordinal"][step] = (seconds, fit.fit["chisq"], fit.fit["chisq_scaled"])
        inv, out["ordinal_total"] = timed(
            lambda: ordinal_invariance(data, model, "g", missing="pairwise")
        )
        out["ordinal_highest"] = inv.highest_level
    return out


R_SCRIPT = r"""
suppressPackageStartupMessages({library(lavaan); library(semTools); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
model <- paste(readLines(args[2]), collapse = "\n")
items <- setdiff(names(d), "g")
out <- list(fiml = list(), ordinal = list())
fiml <- list(%FIML%)
for (step in names(fiml)) {
  eq <- fiml[[step]]
  t <- system.time(f <- suppressWarnings(cfa(model, d, group = "g", missing = "ml",
                                             estimator = "MLR", group.equal = eq)))
  out$fiml[[step]] <- list(seconds = unname(t["elapsed"]),
                           chisq = fitMeasures(f, "chisq")[[1]],
                           chisq_scaled = fitMeasures(f, "chisq.scaled")[[1]])
}
ordinal <- list(%ORDINAL%)
for (step in names(ordinal)) {
  eq <- ordinal[[step]]
  t <- system.time({
    s <- measEq.syntax(configural.model = model, data = d, ordered = items,
                       parameterization = "delta", ID.fac = "std.lv",
                       ID.cat = "Wu.Estabrook.2016", group = "g", group.equal = eq)
    f <- suppressWarnings(cfa(as.character(s), d, ordered = items, group = "g",
                              missing = "pairwise"))
  })
  out$ordinal[[step]] <- list(seconds = unname(t["elapsed"]),
                              chisq = fitMeasures(f, "chisq")[[1]],
                              chisq_scaled = fitMeasures(f, "chisq.scaled")[[1]])
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), args[3])
"""


def lavaan(data: pd.DataFrame, model: str) -> dict | None:
    """The same fits by lavaan, or None when Rscript, lavaan or semTools is missing."""
    if shutil.which("Rscript") is None:
        return None
    check = subprocess.run(
        ["Rscript", "-e", "library(lavaan); library(semTools)"], capture_output=True, text=True
    )
    if check.returncode != 0:
        return None

    def r_list(steps: dict) -> str:
        return ", ".join(f"{k} = {v or chr(34) + chr(34)}" for k, v in steps.items())

    script = R_SCRIPT.replace("%FIML%", r_list(FIML_STEPS)).replace(
        "%ORDINAL%", r_list(ORDINAL_STEPS)
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data.to_csv(folder / "data.csv", index=False)
        (folder / "model.lav").write_text(model + "\n")
        (folder / "bench.R").write_text(script)
        run = subprocess.run(
            ["Rscript", str(folder / "bench.R"), str(folder / "data.csv"),
             str(folder / "model.lav"), str(folder / "out.json")],
            capture_output=True, text=True,
        )  # fmt: skip
        if run.returncode != 0:
            print("lavaan run failed:", run.stderr[-2000:])
            return None
        return json.loads((folder / "out.json").read_text())


def report(mine: dict, theirs: dict | None) -> None:
    for kind, label in (("fiml", "FIML + MLR"), ("ordinal", "WLSMV, pairwise")):
        print(f"\n{label}")
        header = f"{'step':<12}{'ours s':>9}"
        if theirs:
            header += f"{'lavaan s':>10}{'ratio':>8}{'chisq ours':>13}{'lavaan':>12}"
            header += f"{'scaled ours':>13}{'lavaan':>12}"
        print(header)
        total_ours = total_theirs = 0.0
        for step, (seconds, chisq, scaled) in mine[kind].items():
            line = f"{step:<12}{seconds:>9.2f}"
            total_ours += seconds
            if theirs:
                r = theirs[kind][step]
                total_theirs += r["seconds"]
                line += f"{r['seconds']:>10.2f}{seconds / r['seconds']:>8.2f}"
                line += (
                    f"{chisq:>13.3f}{r['chisq']:>12.3f}{scaled:>13.3f}{r['chisq_scaled']:>12.3f}"
                )
            print(line)
        line = f"{'all steps':<12}{total_ours:>9.2f}"
        if theirs:
            line += f"{total_theirs:>10.2f}{total_ours / total_theirs:>8.2f}"
        print(line)
        highest = mine[f"{kind}_highest"]
        print(f"whole sequence (fits + comparisons): {mine[f'{kind}_total']:.2f} s; "
              f"highest level supported: {highest}")  # fmt: skip
    if theirs is None:
        print("\n(lavaan not run: Rscript with lavaan and semTools not found, or the run failed)")
    print(
        "\nOur sample statistics of the ordinal model (thresholds, polychorics, NACOV) are "
        "computed once per data set and reused by later steps; lavaan recomputes them for "
        "every fit, so compare the totals."
    )


def ml_benchmark(n: int) -> None:
    """The earlier benchmark: plain ML, 30 items, 3 factors."""
    rng = np.random.default_rng(2026)
    phi = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.4], [0.3, 0.4, 1.0]])
    factors = rng.multivariate_normal(np.zeros(3), phi, size=n)
    columns, lines = {}, []
    for f in range(3):
        names = [f"i{f * 10 + k + 1:02d}" for k in range(10)]
        for name, lam in zip(names, np.linspace(0.5, 0.8, 10), strict=True):
            latent = lam * factors[:, f] + np.sqrt(1 - lam**2) * rng.standard_normal(n)
            columns[name] = np.clip(np.round(3 + 1.2 * latent), 1, 5)
        lines.append(f"f{f + 1} =~ " + " + ".join(names))
    data = pd.DataFrame(columns)
    result, seconds = timed(lambda: fit_cfa(data, "\n".join(lines)))
    print(f"ML fit_cfa, {n} x 30 items: {seconds:.2f} s, chisq {result.fit['chisq']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--ml", action="store_true", help="the plain ML benchmark instead")
    args = parser.parse_args()
    if args.ml:
        ml_benchmark(100_000 if args.n == 20_000 else args.n)
        return
    data, model = simulate(args.n)
    print(f"{args.n} respondents, 2 groups, {N_FACTORS * ITEMS_PER_FACTOR} five-point items, "
          f"{N_FACTORS} factors, {data.drop(columns='g').isna().mean().mean():.1%} missing")  # fmt: skip
    mine = ours(data, model)
    theirs = lavaan(data, model)
    report(mine, theirs)


if __name__ == "__main__":
    main()
