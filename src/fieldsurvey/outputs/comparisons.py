"""``compare`` and ``benchmark``: group comparisons and organisation benchmarks, gated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.analyse.benchmark import benchmark_results
from fieldsurvey.analyse.comparison import group_comparison, invariance_results
from fieldsurvey.analyse.frame import load_frame
from fieldsurvey.disclosure import publish
from fieldsurvey.store import StudyError

__all__ = ["Output", "benchmark", "compare", "comparison_json", "untestable_tests"]


@dataclass
class Output:
    """The gated tables of one command run (withheld values are NA)."""

    tables: dict[str, pd.DataFrame]
    min_cell: int
    notes: list[str] = field(default_factory=list)


def _publish(results: Any, frame: Any, min_cell: int | None, output: str, command: str) -> Output:
    gated = publish(results, frame.study, min_cell=min_cell, output=output, command=command)
    return Output(dict(gated.tables), gated.policy.min_cell)


def compare(
    source: str | Path,
    by: str,
    *,
    instruments: Sequence[str] = (),
    groups: Sequence[str] = (),
    scales: Sequence[str] = (),
    correction: str = "holm",
    min_cell: int | None = None,
    mapping: str | Path | None = None,
    command: str = "",
) -> Output:
    """Scale scores by group and the tests between groups, through the gate.

    ``mapping``: for a data file, a mapping file (as for ``ingest``) naming its columns by
    item id.

    Examples
    --------
    >>> out = compare("my-study", "wf_lived_exp", groups=["Yes", "No"])  # doctest: +SKIP
    >>> out.tables["tests"][["scale", "statistic", "p_adj"]]  # doctest: +SKIP
    """
    frame = load_frame(source, tuple(instruments), mapping)
    chosen = frame.scale_ids(tuple(scales))
    weights = frame.weights()
    results = group_comparison(frame, chosen, by, groups=groups, correction=correction,
                               weights=weights)
    floor = frame.study.config.min_cell if frame.study is not None else 10
    invariance_results(results, frame, chosen, by, groups, max(floor, min_cell or 0))
    return _publish(results, frame, min_cell, f"compare:{by}", command)


def benchmark(
    study_dir: str | Path,
    *,
    org: str | None = None,
    wave_column: str = "wave",
    role: str | None = None,
    bands: bool = False,
    scales: Sequence[str] = (),
    min_cell: int | None = None,
    command: str = "",
    wave: str | None = None,
) -> Output:
    """Every organisation against the field without it, through the gate.

    With ``org`` the output shows only that organisation's rows (and the field's); the gate
    still judges the benchmark of every organisation, which the shrunken means and ranks rest
    on. With ``wave`` that wave is benchmarked (later waves are left out; earlier ones give
    the trend), so an organisation that did not take part in the latest wave can be
    benchmarked on a wave it did take part in.
    """
    frame = load_frame(study_dir)
    if frame.study is None:
        raise StudyError(f"{study_dir}: benchmark needs a study folder")
    if wave is not None:
        frame = _up_to_wave(frame, wave_column, str(wave))
    if role is not None and role not in frame.data:
        raise StudyError(f"no role column {role!r}")
    if org is not None and org not in set(frame.data["org"].astype(str)):
        raise StudyError(f"no organisation {org!r} in the study")
    chosen = frame.scale_ids(tuple(scales))
    wave = wave_column if wave_column in frame.data else None
    floor = max(frame.study.config.min_cell, min_cell or 0)
    results = benchmark_results(frame, chosen, wave=wave, role=role, weights=frame.weights(),
                                bands=bands, min_cell=floor)
    out = _publish(results, frame, min_cell, "benchmark", command)
    _band_shares(out)
    if org is not None:
        out.tables = {name: _only(table, org) for name, table in out.tables.items()}
    return out


def _up_to_wave(frame: Any, column: str, wave: str) -> Any:
    """The frame without the waves after ``wave`` (in the study's order of waves)."""
    from dataclasses import replace

    if column not in frame.data:
        raise StudyError(f"--wave: the data have no wave column {column!r}")
    present = frame.data[column].astype(str)
    declared = [str(w) for w in frame.study.config.waves]
    order = [w for w in declared if w in set(present)] + sorted(set(present) - set(declared))
    if wave not in order:
        raise StudyError(f"--wave: no responses in wave {wave!r}; the study has waves "
                         f"{', '.join(order)}")
    keep = present.isin(order[: order.index(wave) + 1]).to_numpy()
    keys = frame.keys[keep].reset_index(drop=True) if frame.keys is not None else None
    return replace(frame, data=frame.data[keep].reset_index(drop=True), keys=keys)


def _only(table: pd.DataFrame, org: str) -> pd.DataFrame:
    if "org" not in table.columns:
        return table
    keep = table["org"].map(lambda v: v is None or (isinstance(v, float) and np.isnan(v))
                            or str(v) == org)
    return table[keep.to_numpy(dtype=bool)].reset_index(drop=True)


def _band_shares(out: Output) -> None:
    """One table of band counts with each band's share of the unit's shown scored count.

    Shares are worked out from shown numbers only: a withheld count stays withheld as a share.
    """
    names = [n for n in out.tables if n.startswith("bands:")]
    if not names:
        return
    units = pd.concat([out.tables["field"], out.tables["organisations"]], ignore_index=True)
    scored = {(str(r.org) if r.org is not None and r.org == r.org else "", r.scale): r.n_valid
              for r in units.itertuples()}
    frames = []
    for name in names:
        counts = out.tables.pop(name)
        band = name.split(":", 1)[1]
        scale = band.removesuffix("_band")
        keys = [str(o) if o is not None and o == o else "" for o in counts["org"]]
        totals = pd.array([scored.get((k, scale), pd.NA) for k in keys], dtype="Float64")
        frames.append(pd.DataFrame({
            "org": counts["org"], "scale": scale, "band": counts[band], "n": counts["n"],
            "pct": 100.0 * counts["n"].astype("Float64") / totals,
        }))
    out.tables["bands"] = pd.concat(frames, ignore_index=True)


def untestable_tests(out: Output, by: str) -> dict[str, str]:
    """Scale -> why its test is not computable, for tests shown without a statistic. The
    reason is read off the shown group table (an SD of 0 there), never from the data."""
    groups, found = out.tables["groups"], {}
    for row in out.tables["tests"].itertuples(index=False):
        if bool(getattr(row, "suppressed", False)) or pd.notna(row.statistic):
            continue
        cells = groups[(groups["scale"] == row.scale) & groups[by].notna()]
        flat = [str(g) for g, sd in zip(cells[by], cells["sd"], strict=True)
                if pd.notna(sd) and sd == 0]
        if len(flat) == len(cells) and flat:
            found[row.scale] = "not computable: no variance in any group (every score the same)"
        elif flat and row.test == "welch_anova":
            found[row.scale] = ("not computable: Welch's ANOVA needs variance in every group; "
                                f"none in {', '.join(flat)}")
        else:
            found[row.scale] = ("not computable (a group has fewer than two scores, or no "
                                "variance)")
    return found


def comparison_json(out: Output, by: str) -> dict[str, Any]:
    """The ``compare --format json`` document (keys as documented in docs/compare.md)."""
    groups, tests = out.tables["groups"], out.tables["tests"]
    invariance = out.tables.get("invariance")
    untestable = untestable_tests(out, by)
    scales = []
    for scale in dict.fromkeys(groups["scale"]):
        rows = groups[(groups["scale"] == scale) & groups[by].notna()]
        entry: dict[str, Any] = {
            "scale": scale,
            "groups": [{"group": r[by], "n": _num(r["n_valid"]), "mean": _num(r["mean"]),
                        "sd": _num(r["sd"]), "suppressed": bool(pd.isna(r["mean"]))}
                       for _, r in rows.iterrows()],
        }
        test = tests[tests["scale"] == scale]
        if len(test):
            t = test.iloc[0]
            entry["test"] = {"name": t["test"], "statistic": _num(t["statistic"]),
                             "df1": _num(t["df1"]), "df2": _num(t["df2"]), "p": _num(t["p_adj"])}
            if scale in untestable:
                entry["test"]["note"] = untestable[scale]
            entry["effect_size"] = {"name": t["effect_size"], "value": _num(t["effect"]),
                                    "ci": [_num(t["effect_ci_low"]), _num(t["effect_ci_high"])]}
        if invariance is not None and (invariance["scale"] == scale).any():
            r = invariance[invariance["scale"] == scale].iloc[0]
            level = None if pd.isna(r["highest_level"]) else r["highest_level"]
            comparable = level in ("scalar", "strict") if level else None
            note = None if pd.isna(r["note"]) else (r["note"] or None)
            if comparable is False and note is None:
                note = ("scalar invariance does not hold: compare means of this scale between "
                        "the groups with care")
            entry["invariance"] = {"highest_level": level, "comparable": comparable,
                                   "note": note}
        scales.append(entry)
    return {"by": by, "min_cell": out.min_cell, "scales": scales}


def _num(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
