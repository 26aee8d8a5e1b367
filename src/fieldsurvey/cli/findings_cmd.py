"""``fieldsurvey check-findings``: consistency checks on a findings file's published values."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from fieldsurvey.cli.output import console, print_json, print_table
from fieldsurvey.reproduce import check_findings, load_findings

_TABLE_COLUMNS = ["finding_id", "value", "check", "verdict", "expected", "reported"]


@click.command("check-findings")
@click.argument("findings_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Print a table, or JSON with every check and its explanation.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Exit with code 1 when any published value is inconsistent (default: always 0).",
)
def check_findings_cmd(findings_file: Path, fmt: str, strict: bool) -> None:
    """Check the published values in FINDINGS_FILE for internal consistency.

    Runs GRIM, GRIMMER, percentages against n, p values recomputed from the test statistic, and
    range checks; none needs data. The report exits 0 unless --strict is given and something is
    inconsistent (exit 1). An invalid findings file exits 2 with every problem listed.
    """
    findings = load_findings(findings_file)
    results = check_findings(findings)
    counts = results["verdict"].value_counts()
    summary = {
        "checks": len(results),
        "consistent": int(counts.get("consistent", 0)),
        "inconsistent": int(counts.get("inconsistent", 0)),
        "not_checkable": int(counts.get("not_checkable", 0)),
    }
    if fmt == "json":
        print_json(
            {
                "file": str(findings_file),
                "title": findings.title,
                "summary": summary,
                "checks": results.to_dict(orient="records"),
            }
        )
    else:
        print_table(results[_TABLE_COLUMNS], title=f"{findings.title} ({findings_file.name})")
        console.print(
            f"{summary['checks']} checks: {summary['consistent']} consistent, "
            f"{summary['inconsistent']} inconsistent, {summary['not_checkable']} not checkable"
        )
        for row in results[results["verdict"] == "inconsistent"].itertuples(index=False):
            console.print(
                f"[bold red]inconsistent[/] {escape(row.finding_id)} {escape(repr(row.value))} "
                f"({row.check}): {escape(row.explanation)}",
                highlight=False,
            )
    if strict and summary["inconsistent"]:
        click.get_current_context().exit(1)


COMMANDS = [check_findings_cmd]
