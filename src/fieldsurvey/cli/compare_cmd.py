"""``fieldsurvey compare`` and ``fieldsurvey benchmark``: gated group comparisons and benchmarks."""

from __future__ import annotations

import warnings
from pathlib import Path

import click
import pandas as pd

from fieldsurvey.cli.output import console, print_json, print_table
from fieldsurvey.compare import survey_weights
from fieldsurvey.compare.gated import comparison_json, gated_benchmark, gated_group_comparison
from fieldsurvey.ingest.mapping import columns_as_items
from fieldsurvey.instrument import Instrument, resolve_instrument
from fieldsurvey.scoring import score_scales
from fieldsurvey.store import StudyError, open_study, scored_responses
from fieldsurvey.store.study import STUDY_FILE


def _load(source: Path, instruments: tuple[str, ...], min_cell: int | None,
          mapping: Path | None = None) -> tuple[pd.DataFrame, list[Instrument], int, bool]:
    """Scored data from a study folder or from a data file scored with ``-i`` instruments."""
    if source.is_dir() and (source / STUDY_FILE).is_file():
        study = open_study(source)
        cell = study.config.min_cell if min_cell is None else min_cell
        return scored_responses(study), study.instruments(), cell, study.config.force_min_cell
    if source.is_dir():
        raise StudyError(f"{source}: not a study folder (no {STUDY_FILE})")
    if not instruments:
        raise StudyError("a data file needs its instruments: give -i INSTRUMENT (repeatable)")
    from fieldsurvey.io import read_table, without_missing_codes

    table = without_missing_codes(read_table(source))
    insts = [resolve_instrument(i) for i in instruments]
    if mapping:
        table = columns_as_items(table, insts, mapping)
    table.attrs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = score_scales(table, [i for i in insts if i.scales], source=source.name)
    new = [c for c in scores.columns if c not in table.columns and c != "row"]
    return pd.concat([table, scores[new]], axis=1), insts, 10 if min_cell is None else min_cell, False


def _scale_ids(instruments: list[Instrument], chosen: tuple[str, ...], data: pd.DataFrame) -> list[str]:
    available = [sc.id for inst in instruments for sc in inst.scales if sc.id in data]
    if not available:
        raise StudyError("nothing to compare: the instruments "
                         f"({', '.join(i.id for i in instruments)}) have no scored scales")
    if not chosen:
        return available
    unknown = [s for s in chosen if s not in available]
    if unknown:
        raise StudyError(f"unknown scale(s) {', '.join(unknown)}; available: {', '.join(available)}")
    return list(chosen)


def _labelled(data: pd.DataFrame, column: str, instruments: list[Instrument]) -> pd.Series:
    """Group codes shown as their answer labels where the column is a coded item."""
    if column not in data:
        raise StudyError(f"no column {column!r} to group by")
    for inst in instruments:
        if column in inst.item_ids:
            labels = inst.response_scale_of(column).labels
            if labels:
                codes = pd.to_numeric(data[column], errors="coerce").astype("Int64")
                return codes.map(labels, na_action="ignore").astype(object)
    return data[column].astype("string").astype(object)


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
              help="Minimum cell size (default: the study's setting, else 10).")
@click.option("--map", "mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="With DATA: mapping file (as for ingest), columns -> item ids.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def compare_cmd(source: Path, by: str, instruments: tuple[str, ...], groups: tuple[str, ...],
                scales: tuple[str, ...], correction: str, min_cell: int | None,
                mapping: Path | None, fmt: str) -> None:
    """Compare scale scores between groups (a study folder, or DATA with -i)."""
    data, insts, cell, forced = _load(source, instruments, min_cell, mapping)
    data = data.assign(**{by: _labelled(data, by, insts)})
    chosen = _chosen_groups(data[by], groups)
    weights = _study_weights(source, data)
    gated = gated_group_comparison(data, _scale_ids(insts, scales, data), by, groups=chosen,
                                   min_cell=cell, force_min_cell=forced, correction=correction,
                                   weights=weights, cluster="org" if weights is not None else None)
    invariance = _invariance(data, insts, gated, by, chosen, cell)
    untestable = _untestable(gated.tables["groups"], gated.tables["tests"], by)
    if fmt == "json":
        doc = comparison_json(gated, by)
        for entry in doc["scales"]:
            entry["invariance"] = invariance.get(entry["scale"])
            if entry["scale"] in untestable and "test" in entry:
                entry["test"]["note"] = untestable[entry["scale"]]
        print_json(doc)
        return
    shown = gated.tables["groups"].rename(columns={by: "group"})
    shown["group"] = shown["group"].fillna("everyone")
    print_table(shown[["scale", "group", "n", "mean", "sd"]],
                title=f"Scale scores by {by} (cells under {cell} respondents withheld: -)")
    for scale, result in invariance.items():
        console.print(f"{scale}: measurement invariance up to {result['highest_level']}"
                      + (f" ({result['note']})" if result["note"] else ""))
    tests = gated.tables["tests"]
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


def _untestable(groups: pd.DataFrame, tests: pd.DataFrame, by: str) -> dict[str, str]:
    """Scale -> why its test is not computable, for tests that were not withheld but have no
    statistic. The reason is read off the released group table (an SD of 0 shown there)."""
    out: dict[str, str] = {}
    for row in tests.itertuples(index=False):
        if bool(getattr(row, "suppressed", False)) or pd.notna(row.statistic):
            continue
        cells = groups[(groups["scale"] == row.scale) & groups[by].notna()]
        flat = [str(g) for g, sd in zip(cells[by], cells["sd"], strict=True)
                if pd.notna(sd) and sd == 0]
        if len(flat) == len(cells) and flat:
            out[row.scale] = "not computable: no variance in any group (every score the same)"
        elif flat and row.test == "welch_anova":
            out[row.scale] = ("not computable: Welch's ANOVA needs variance in every group; "
                              f"none in {', '.join(flat)}")
        else:
            out[row.scale] = "not computable (a group has fewer than two scores, or no variance)"
    return out


def _test_text(row) -> str:
    if pd.isna(row.statistic):
        return "-"
    if row.test == "welch_t":
        return f"t({row.df2:.1f}) = {row.statistic:.2f}"
    if row.test == "welch_anova":
        return f"F({row.df1:.0f}, {row.df2:.1f}) = {row.statistic:.2f}"
    return f"{row.test} {row.statistic:.2f}"


def _invariance(data: pd.DataFrame, instruments: list[Instrument], gated, by: str,
                groups: list[str] | None, min_cell: int) -> dict[str, dict[str, object]]:
    """Can the two groups be compared on each scale? Multi-group CFA up to scalar invariance.

    Only for two compared groups and scales of at least three items; a comparison of means is
    meaningful only where scalar (loadings and intercepts) invariance holds.
    """
    from fieldsurvey.psychometrics import CFAError, measurement_invariance

    compared = groups if groups else list(pd.unique(data[by].dropna()))
    if len(compared) != 2:
        return {}
    subset = data[data[by].isin(compared)]
    out: dict[str, dict[str, object]] = {}
    for scale in dict.fromkeys(gated.tables["groups"]["scale"]):
        inst = next((i for i in instruments if scale in {s.id for s in i.scales}), None)
        if inst is None or inst.scale(scale).k < 3:
            continue
        items = list(inst.scale(scale).items)
        frame = subset[[*items, by]].dropna(subset=items)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = measurement_invariance(frame, inst, by, scales=[scale],
                                                min_group_size=min_cell)
        except (CFAError, ValueError) as exc:
            out[scale] = {"highest_level": "not tested", "comparable": None,
                          "note": str(exc).splitlines()[0]}
            continue
        level = str(result.highest_level)
        comparable = level in ("scalar", "strict")
        out[scale] = {"highest_level": level, "comparable": comparable,
                      "note": "" if comparable else "scalar invariance does not hold: compare "
                      "means of this scale between the groups with care"}
    return out


def _study_weights(source: Path, data: pd.DataFrame) -> pd.Series | None:
    """Survey weights when ``source`` is a study whose study.yaml gives staff head counts."""
    if not (source.is_dir() and (source / STUDY_FILE).is_file()):
        return None
    study = open_study(source)
    staff = study.staff_table()
    if staff is None:
        return None
    return survey_weights(data, staff, org="org", role=study.config.role_column,
                          method=study.config.weighting)


def _chosen_groups(values: pd.Series, groups: tuple[str, ...]) -> list[str] | None:
    if not groups:
        return None
    present = [v for v in pd.unique(values.dropna())]
    chosen = []
    for g in groups:
        match = [v for v in present if str(v).casefold() == g.casefold()]
        if not match:
            raise StudyError(f"no group {g!r}; groups are {', '.join(map(str, present))}")
        chosen.append(match[0])
    return chosen


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
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def benchmark_cmd(study_dir: Path, org: str | None, wave_column: str, role: str | None,
                  bands: bool, scales: tuple[str, ...], fmt: str) -> None:
    """Each organisation against the field without it (shrunken means, funnel position)."""
    data, insts, cell, forced = _load(study_dir, (), None)
    wave = wave_column if wave_column in data else None
    if role is not None and role not in data:
        raise StudyError(f"no role column {role!r}")
    weights = _study_weights(study_dir, data)
    gated = gated_benchmark(data, _scale_ids(insts, scales, data), org="org", wave=wave, focus=org,
                            role=role, weights=weights, bands=bands, min_cell=cell,
                            force_min_cell=forced)
    orgs = gated.tables["organisations"]
    orgs = orgs[orgs["org"].notna()]
    if fmt == "json":
        doc = {"min_cell": cell, "field": gated.tables["field"].to_dict(orient="records"),
               "organisations": orgs.to_dict(orient="records")}
        for name in ("trend", "change", "bands"):
            if name in gated.tables:
                doc[name] = gated.tables[name].to_dict(orient="records")
        print_json(doc)
        return
    print_table(gated.tables["field"][["scale", "n", "mean", "sd"]], title="Field")
    for scale, rows in orgs.groupby("scale", sort=False):
        shown = pd.DataFrame({
            "org": rows["org"], "n": rows["n"], "mean": rows["mean"],
            "field without": rows["field_mean"], "difference": rows["diff"],
            "95% CI": [_interval(lo, hi) for lo, hi in zip(rows["diff_ci_low"], rows["diff_ci_high"], strict=True)],
            "std diff": rows["std_diff"], "percentile": rows["percentile_rank"],
            "shrunken": rows["shrunk_mean"], "funnel z": rows["z_adjusted"],
        })
        if "standardised_mean" in rows:
            shown["role-standardised"] = rows["standardised_mean"]
        if "weighted_mean" in rows:
            shown["weighted"] = rows["weighted_mean"]
            shown["weighted diff"] = rows["weighted_diff"]
        print_table(shown, title=f"{scale}: organisations against the field without them "
                    f"(under {cell} respondents withheld: -)", digits=2)
    if "bands" in gated.tables:
        shown_bands = gated.tables["bands"].assign(org=lambda t: t["org"].fillna("field"))
        print_table(shown_bands[["org", "scale", "band", "n", "pct"]],
                    title="Staff in each band (% of staff with a score)", digits=1)
    if "change" in gated.tables:
        change = gated.tables["change"]
        change = change[change["org"].notna()]
        print_table(change[["org", "scale", "previous_wave", "change", "change_ci_low",
                            "change_ci_high"]],
                    title="Change since the previous wave (withheld unless both waves are shown)",
                    digits=2)
    console.print("std_diff: difference in field SDs; shrunk_mean: empirical-Bayes estimate; "
                  "z_adjusted / outside95: funnel position with overdispersion.")


def _interval(low: float, high: float) -> str:
    if pd.isna(low) or pd.isna(high):
        return "-"
    return f"[{low:.2f}, {high:.2f}]"


COMMANDS = [compare_cmd, benchmark_cmd]
