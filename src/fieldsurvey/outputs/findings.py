"""``reproduce`` and ``run-plan``: published findings and pre-registered plans, gated."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fieldsurvey.analyse.frame import load_frame
from fieldsurvey.analyse.plan import plan_results
from fieldsurvey.disclosure import publish
from fieldsurvey.reproduce import FindingsFile, Plan
from fieldsurvey.reproduce.recompute import (
    compute_findings,
    findings_results,
    findings_rows,
    lived_groups,
)

__all__ = ["reproduce", "run_plan"]


def reproduce(study_dir: str | Path, findings: FindingsFile, *, confidence: float = 0.95,
              command: str = "") -> tuple[pd.DataFrame, int]:
    """Every published finding recomputed on the study, with only what the gate shows.

    Returns the rows (``REPRODUCE_COLUMNS``) and the minimum cell size applied.

    Examples
    --------
    >>> rows, min_cell = reproduce("my-study", load_findings("findings.yaml"))  # doctest: +SKIP
    """
    frame = load_frame(study_dir)
    floor = frame.study.config.min_cell if frame.study is not None else 10
    cells = compute_findings(frame.data, findings, frame.instruments, min_cell=floor,
                             confidence=confidence)
    results = findings_results(cells, lived_groups(frame.data), frame.keys)
    if not results.tables:
        return findings_rows(cells, {}, floor), floor
    gated = publish(results, frame.study, output="reproduce", command=command)
    return findings_rows(cells, gated.tables, gated.policy.min_cell), gated.policy.min_cell


def run_plan(study_dir: str | Path, plan: Plan, *, bootstrap_reps: int | None = None,
             seed: int | None = None, command: str = "") -> pd.DataFrame:
    """Every test of a pre-registered plan, on the organisations whose results can be shown.

    Returns one row per test (``PLAN_COLUMNS`` plus ``note``, the multiple-testing sentence);
    a test the gate withholds keeps its labels and loses its numbers and decision.
    """
    frame = load_frame(study_dir)
    floor = frame.study.config.min_cell if frame.study is not None else 10
    results = plan_results(frame, plan, min_cell=floor, bootstrap_reps=bootstrap_reps,
                           seed=seed)
    gated = publish(results, frame.study, output="run-plan", command=command)
    table = gated.tables["tests"].drop(columns=["n"], errors="ignore").rename(
        columns={"suppressed": "withheld", "n_respondents": "n"})
    table.attrs["multiple_testing"] = str(table["note"].iloc[0]) if len(table) else ""
    return table
