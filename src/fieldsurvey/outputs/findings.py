"""``reproduce`` and ``run-plan``: published findings and pre-registered plans, gated."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from fieldsurvey.analyse.frame import load_frame
from fieldsurvey.analyse.living_wage import load_wage_reference
from fieldsurvey.analyse.plan import plan_results
from fieldsurvey.analyse.report_findings import findings_release
from fieldsurvey.disclosure import publish
from fieldsurvey.instrument import Instrument
from fieldsurvey.reproduce import Finding, FindingsFile, Plan
from fieldsurvey.reproduce.recompute import (
    REPRODUCE_COLUMNS,
    compute_findings,
    lived_groups,
    with_scores,
)

__all__ = ["reproduce", "reproduce_findings", "run_plan"]


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
    return _reproduce(frame.data, findings, frame.instruments, frame.study, frame.keys, floor,
                      None, confidence, command)


def _reproduce(data: pd.DataFrame, findings: FindingsFile | Sequence[Finding],
               instruments: Iterable[Instrument] | None, study: object, keys: pd.Series | None,
               floor: int, min_cell: int | None, confidence: float, command: str
               ) -> tuple[pd.DataFrame, int]:
    cells = compute_findings(data, findings, instruments, min_cell=floor, confidence=confidence)
    title = findings.title if isinstance(findings, FindingsFile) else ""
    scored = with_scores(data, list(instruments) if instruments is not None else None)
    results, found = findings_release(scored, cells, lived_groups(scored), keys, title)
    if not results.tables:  # nothing computed: every row says why
        return pd.DataFrame([c.row for c in cells], columns=REPRODUCE_COLUMNS), floor
    gated = publish(results, study, min_cell=min_cell, output="reproduce", command=command)
    return found.gated_rows(gated.tables, gated.policy.min_cell), gated.policy.min_cell


def reproduce_findings(data: pd.DataFrame, findings: FindingsFile | Sequence[Finding],
                       instruments: Iterable[Instrument] | None = None, *,
                       min_cell: int | None = None, confidence: float = 0.95,
                       command: str = "") -> pd.DataFrame:
    """Published findings recomputed on a data frame (outside a study), through the gate.

    The minimum cell size is 10 unless a larger one is given; nothing is recorded beyond this
    process (an in-memory ledger).

    Examples
    --------
    >>> import pandas as pd
    >>> from fieldsurvey.reproduce import findings_from_dict
    >>> ff = findings_from_dict({"title": "t", "findings": [{
    ...     "id": "a", "citation": "Doe (2020). J.", "statement": "Mean burnout was 2.5.",
    ...     "population": {"description": "staff"}, "values": ["M = 2.5"],
    ...     "recipe": {"statistic": "mean", "scale": "burnout"}}]})
    >>> data = pd.DataFrame({"burnout": [1.0, 2, 3, 4] * 5, "wf_lived_exp": [1, 2] * 10})
    >>> reproduce_findings(data, ff)[["study_value", "verdict", "lived_value"]].values.tolist()
    [[2.5, 'matches', 2.0]]
    """
    floor = 10 if min_cell is None else max(10, min_cell)
    rows, _ = _reproduce(data, findings, instruments, None, None, floor, min_cell, confidence,
                         command)
    return rows


def run_plan(study_dir: str | Path, plan: Plan, *, bootstrap_reps: int | None = None,
             seed: int | None = None, wage_reference: str | Path | None = None,
             command: str = "") -> pd.DataFrame:
    """Every test of a pre-registered plan, on the organisations whose results can be shown.

    Returns one row per test (``PLAN_COLUMNS`` plus ``note``, the multiple-testing sentence);
    a test the gate withholds keeps its labels and loses its numbers and decision.
    ``wage_reference`` is the living-wage table for tests on ``org_below_living_wage``
    (default: the shipped example).
    """
    frame = load_frame(study_dir)
    floor = frame.study.config.min_cell if frame.study is not None else 10
    reference = load_wage_reference(wage_reference) if wage_reference is not None else None
    results = plan_results(frame, plan, min_cell=floor, bootstrap_reps=bootstrap_reps,
                           seed=seed, wage_reference=reference)
    gated = publish(results, frame.study, output="run-plan", command=command)
    table = gated.tables["tests"].drop(columns=["n"], errors="ignore").rename(
        columns={"suppressed": "withheld", "n_respondents": "n"})
    table.attrs["multiple_testing"] = str(table["note"].iloc[0]) if len(table) else ""
    return table
