"""``fieldsurvey reproduce`` and ``fieldsurvey run-plan``: published findings and a
pre-registered analysis plan, run on a study.

Both exit 0 whatever the verdicts, and 2 with every problem listed when the study, the findings
file or the plan is invalid.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pandas as pd
from rich.markup import escape

from fieldsurvey.cli.output import console, print_json, print_table
from fieldsurvey.outputs.findings import reproduce, run_plan
from fieldsurvey.reproduce import load_findings
from fieldsurvey.reproduce.plan import load_plan
from fieldsurvey.reproduce.recompute import reproduce_table
from fieldsurvey.store import open_study

_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Print a table, or JSON.",
)


def _value(x: object) -> object:
    """A table cell as a plain value: missing (withheld or not computed) becomes None."""
    if x is None or x is pd.NA:
        return None
    try:
        if pd.isna(x):  # type: ignore[arg-type]
            return None
    except (TypeError, ValueError):
        pass
    return x


def reproduce_json(results: pd.DataFrame) -> list[dict[str, object]]:
    """The ``findings`` list of ``fieldsurvey reproduce --format json`` (one dict per finding)."""
    out = []
    for r in results.to_dict(orient="records"):
        lo, hi = _value(r["ci_low"]), _value(r["ci_high"])
        n, lived_n = _value(r["n"]), _value(r["lived_n"])
        out.append(
            {
                "id": r["id"],
                "citation": r["citation"],
                "statement": r["statement"],
                "published": _value(r["published"]),
                "published_value": _value(r["published_value"]),
                "published_interval": [_value(r["published_low"]), _value(r["published_high"])],
                "study_value": _value(r["study_value"]),
                "ci": [lo, hi] if lo is not None and hi is not None else None,
                "ci_method": _value(r["ci_method"]),
                "n": int(n) if n is not None else None,
                "difference": _value(r["difference"]),
                "verdict": r["verdict"],
                "reason": _value(r["reason"]),
                "lived_experience": {
                    "value": _value(r["lived_value"]),
                    "n": int(lived_n) if lived_n is not None else None,
                    "suppressed": bool(r["lived_suppressed"]),
                    "reason": _value(r["lived_reason"]),
                },
            }
        )
    return out


@click.command("reproduce")
@click.argument("study_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("findings_file", type=click.Path(dir_okay=False, path_type=Path))
@_FORMAT
def reproduce_cmd(study_dir: Path, findings_file: Path, fmt: str) -> None:
    """Recompute the published findings in FINDINGS_FILE from the study in STUDY_DIR.

    For each finding: the published value, the study's value with its 95% interval, the
    difference and a verdict (matches / close / differs / not computable, with the reason), and
    the value for staff with lived experience. Values from fewer than the study's min_cell
    respondents are withheld.
    """
    findings = load_findings(findings_file)
    study = open_study(study_dir)
    results, _ = reproduce(study_dir, findings, command=" ".join(sys.argv))
    if fmt == "json":
        print_json(
            {
                "study": study.config.title,
                "findings_file": str(findings_file),
                "min_cell": study.config.min_cell,
                "findings": reproduce_json(results),
            }
        )
        return
    print_table(reproduce_table(results), title=f"{findings.title} - {study.config.title}")
    counts = results["verdict"].value_counts()
    console.print(
        ", ".join(f"{int(counts.get(v, 0))} {v}" for v in counts.index.tolist()) or "no findings"
    )


def plan_json(results: pd.DataFrame, plan: object) -> dict[str, object]:
    """The JSON document of ``fieldsurvey run-plan --format json``."""
    hypotheses = []
    for hyp in plan.hypotheses:  # type: ignore[attr-defined]
        rows = results[results["hypothesis"] == hyp.id]
        tests = []
        for r in rows.to_dict(orient="records"):
            lo, hi = _value(r["ci_low"]), _value(r["ci_high"])
            tests.append(
                {
                    "id": r["test"],
                    "kind": r["kind"],
                    "variable": r["variable"],
                    "effect": r["effect"],
                    "estimate": _value(r["estimate"]),
                    "ci": [lo, hi] if lo is not None and hi is not None else None,
                    "ci_method": r["ci_method"],
                    "n": _value(r["n"]),
                    "n_orgs": _value(r["n_orgs"]),
                    "p": _value(r["p"]),
                    "p_holm": _value(r["p_holm"]),
                    "direction": r["direction"],
                    "threshold": r["threshold"],
                    "decision": r["test_decision"],
                    "reason": r["reason"],
                }
            )
        hypotheses.append(
            {
                "id": hyp.id,
                "title": hyp.title,
                "decision": rows["decision"].iloc[0] if len(rows) else None,
                "decision_rule": hyp.decision,
                "family": hyp.family,
                "tests": tests,
            }
        )
    return {
        "plan": plan.title,  # type: ignore[attr-defined]
        "registered": plan.registered,  # type: ignore[attr-defined]
        "multiple_testing": results.attrs.get("multiple_testing", ""),
        "hypotheses": hypotheses,
    }


@click.command("run-plan")
@click.argument("study_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@_FORMAT
@click.option(
    "--bootstrap-reps",
    type=click.IntRange(min=100),
    default=None,
    help="Override the plan's bootstrap replicates (the plan's value is the registered one).",
)
@click.option("--wage-reference", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Living-wage reference table for org_below_living_wage "
              "(default: the shipped EXAMPLE; see docs/living-wage.md).")
def run_plan_cmd(study_dir: Path, plan_file: Path, fmt: str, bootstrap_reps: int | None,
                 wage_reference: Path | None) -> None:
    """Run the pre-registered analysis plan PLAN_FILE on the study in STUDY_DIR.

    Each hypothesis is reported with its tests' estimates, 95% intervals, n, p and Holm-adjusted
    p, and its decision (supported / not supported / inconclusive / not computable).
    """
    plan = load_plan(plan_file)
    open_study(study_dir)  # a clear error for a folder that is not a study
    results = run_plan(study_dir, plan, bootstrap_reps=bootstrap_reps,
                       wage_reference=wage_reference, command=" ".join(sys.argv))
    if fmt == "json":
        print_json(plan_json(results, plan))
        return
    shown = results[
        ["hypothesis", "test", "effect", "estimate", "ci_low", "ci_high", "n", "p_holm",
         "test_decision", "decision"]
    ]  # fmt: skip
    print_table(shown, title=plan.title)
    for hyp in plan.hypotheses:
        rows = results[results["hypothesis"] == hyp.id]
        console.print(
            f"[bold]{escape(hyp.id)}[/] {escape(hyp.title)}: [bold]{rows['decision'].iloc[0]}[/]",
            highlight=False,
        )
        for r in rows.itertuples(index=False):
            if r.reason:
                console.print(f"  {escape(r.test)}: {escape(str(r.reason))}", highlight=False)
    console.print(escape(results.attrs.get("multiple_testing", "")), highlight=False)


COMMANDS = [reproduce_cmd, run_plan_cmd]
