"""``fieldsurvey compare`` and ``fieldsurvey benchmark``: gated group comparisons and benchmarks."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pandas as pd

from fieldsurvey.cli.output import console, print_json, print_table, records
from fieldsurvey.outputs import benchmark, compare, comparison_json, untestable_tests


@click.command("compare")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--by", required=True, help="Grouping column, e.g. wf_lived_exp or wf_role.")
@click.option("-i", "--instrument", "instruments", multiple=True,
              help="Instruments of a data file (not needed for a study).")
@click.option("--group", "groups", multiple=True,
              help="Groups to compare, in order (labels or codes); default: all groups.")
@click.option("--scale", "scales", multiple=True, help="Scales to compare (default: all).")
@click.option("--correction", type=click.Choice(["holm", "fdr_bh"]), default="holm", show_default=True)
@click.option("--min-cell", type=int, default=None,
              help="A larger minimum cell size for this output (default: the study's setting, "
              "else 10; a smaller one is refused).")
@click.option("--map", "mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="With DATA: mapping file (as for ingest), columns -> item ids.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def compare_cmd(source: Path, by: str, instruments: tuple[str, ...], groups: tuple[str, ...],
                scales: tuple[str, ...], correction: str, min_cell: int | None,
                mapping: Path | None, fmt: str) -> None:
    """Compare scale scores between groups (a study folder, or DATA with -i)."""
    out = compare(source, by, instruments=instruments, groups=groups, scales=scales,
                  correction=correction, min_cell=min_cell, mapping=mapping,
                  command=" ".join(sys.argv))
    if fmt == "json":
        print_json(comparison_json(out, by))
        return
    shown = out.tables["groups"].rename(columns={by: "group", "n_valid": "n"})
    shown["group"] = shown["group"].fillna("everyone")
    print_table(shown[["scale", "group", "n", "mean", "sd"]],
                title=f"Scale scores by {by} (withheld: -; the minimum cell size is "
                f"{out.min_cell})")
    if "invariance" in out.tables:
        for r in out.tables["invariance"].itertuples():
            level = "withheld" if pd.isna(r.highest_level) else r.highest_level
            note = "" if pd.isna(r.note) or not r.note else f" ({r.note})"
            console.print(f"{r.scale}: measurement invariance up to {level}{note}")
    tests = out.tables["tests"]
    untestable = untestable_tests(out, by)
    shown_tests = pd.DataFrame({
        "scale": tests["scale"],
        "test": ["not computable" if r.scale in untestable else _test_text(r)
                 for r in tests.itertuples()],
        "p": tests["p_adj"],
        "effect": [f"{r.effect_size} {r.effect:.2f}" if pd.notna(r.effect) else "-"
                   for r in tests.itertuples()],
        "95% CI": [_interval(lo, hi) for lo, hi in zip(tests["effect_ci_low"],
                                                     tests["effect_ci_high"], strict=True)],
    })
    print_table(shown_tests, title=f"Tests ({correction}-corrected p; withheld: -)")
    for scale, reason in untestable.items():
        console.print(f"{scale}: test {reason}")


def _test_text(row) -> str:
    if pd.isna(row.statistic):
        return "-"
    if row.test == "welch_t":
        return f"t({row.df2:.1f}) = {row.statistic:.2f}"
    if row.test == "welch_anova":
        return f"F({row.df1:.0f}, {row.df2:.1f}) = {row.statistic:.2f}"
    return f"{row.test} {row.statistic:.2f}"


@click.command("benchmark")
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--org", default=None, help="Only this organisation's benchmark.")
@click.option("--wave-column", default="wave", show_default=True,
              help="Column of survey waves: the latest wave is benchmarked, earlier ones give the trend.")
@click.option("--standardise-roles", "role", default=None, metavar="ROLE_COLUMN",
              help="Also standardise each organisation to the field's role mix (e.g. wf_role).")
@click.option("--bands", is_flag=True,
              help="Also the band distribution of each scale against the field (choose a few --scale).")
@click.option("--scale", "scales", multiple=True, help="Scales to benchmark (default: all).")
@click.option("--min-cell", type=int, default=None,
              help="A larger minimum cell size for this output (never below the study's).")
@click.option("--wave", default=None,
              help="Benchmark this wave (default the latest); later waves are left out.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def benchmark_cmd(study_dir: Path, org: str | None, wave_column: str, role: str | None,
                  bands: bool, scales: tuple[str, ...], min_cell: int | None, wave: str | None,
                  fmt: str) -> None:
    """Each organisation against the field without it (shrunken means, funnel position)."""
    out = benchmark(study_dir, org=org, wave_column=wave_column, role=role, bands=bands,
                    scales=scales, min_cell=min_cell, command=" ".join(sys.argv), wave=wave)
    t = out.tables
    orgs = t["organisations"]
    if fmt == "json":
        doc = {"min_cell": out.min_cell}
        for name in ("field", "organisations", "differences", "fairness", "standardised",
                     "weighted", "trend", "change", "bands"):
            if name in t:
                doc[name] = _records(t[name])
        print_json(doc)
        return
    print_table(t["field"][["scale", "n_valid", "mean", "sd"]].rename(columns={"n_valid": "n"}),
                title="Field")
    merged = orgs.merge(t["differences"], on=["org", "scale"], how="left", suffixes=("", "_d"))
    if "fairness" in t and not t["fairness"].empty:
        merged = merged.merge(t["fairness"], on=["org", "scale"], how="left",
                              suffixes=("", "_f"))
    for scale, rows in merged.groupby("scale", sort=False):
        shown = pd.DataFrame({
            "org": rows["org"], "n": rows["n_valid"], "mean": rows["mean"],
            "difference": rows["diff"],
            "95% CI": [_interval(lo, hi) for lo, hi in zip(rows["diff_ci_low"],
                                                         rows["diff_ci_high"], strict=True)],
            "std diff": rows["std_diff"],
            "percentile": rows.get("percentile_rank"),
            "shrunken": rows.get("shrunk_mean"), "funnel z": rows.get("z_adjusted"),
        })
        print_table(shown, title=f"{scale}: organisations against the field without them "
                    f"(withheld: -)", digits=2)
    if "bands" in t:
        shown_bands = t["bands"].assign(org=lambda x: x["org"].fillna("field"))
        print_table(shown_bands[["org", "scale", "band", "n", "pct"]],
                    title="Staff in each band (% of staff with a score)", digits=1)
    if "change" in t:
        print_table(t["change"][["org", "scale", "previous_wave", "change", "change_ci_low",
                                 "change_ci_high"]],
                    title="Change since the previous wave (withheld unless both waves are shown)",
                    digits=2)
    console.print("std diff: difference in SDs; shrunken: empirical-Bayes estimate; funnel z: "
                  "position with overdispersion; ranks and models use the organisations shown.")


def _records(table: pd.DataFrame) -> list[dict]:
    return records(table.drop(columns=["suppressed"], errors="ignore"))


def _interval(low: float, high: float) -> str:
    if pd.isna(low) or pd.isna(high):
        return "-"
    return f"[{low:.2f}, {high:.2f}]"


COMMANDS = [compare_cmd, benchmark_cmd]
