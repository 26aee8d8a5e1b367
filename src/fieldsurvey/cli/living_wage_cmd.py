"""``living-wage``: entry pay against a living-wage reference (through the disclosure gate)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from fieldsurvey.cli.output import console, print_json, print_table
from fieldsurvey.store import open_study


@click.command("living-wage")
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--reference", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Living-wage reference table (default: the shipped EXAMPLE).")
@click.option("--household", default=None, help="Household type of the reference table.")
@click.option("--hours-per-year", type=float, default=None,
              help="Full-time hours a year for converting pay (default: the table's, else 2080).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def living_wage_cmd(study_dir: Path, reference: Path | None, household: str | None,
                    hours_per_year: float | None, fmt: str) -> None:
    """Share of roles and staff paid below the living wage, by organisation and field-wide."""
    from fieldsurvey.outputs.living_wage import living_wage

    tables = living_wage(open_study(study_dir), reference=reference, household=household,
                         hours_per_year=hours_per_year, command=" ".join(sys.argv))
    if fmt == "json":
        print_json({name: json.loads(frame.to_json(orient="records"))
                    for name, frame in tables.items()})
        return
    ref = tables["reference"].iloc[0]
    if ref["example"]:
        console.print("[bold red]The reference is the shipped EXAMPLE table: replace it with "
                      "your own (--reference FILE, see docs/living-wage.md).[/bold red]")
    console.print(f"Reference: {ref['title']} ({ref['year']}, {ref['currency']} per "
                  f"{ref['period']}; household {ref['household']}; "
                  f"{ref['hours_per_year']:g} hours a year). Source: {ref['source']}",
                  markup=False, highlight=False)
    if "organisations" not in tables:
        console.print("No organisation profile gives an entry pay.")
        return
    for name in ("organisations", "roles"):
        print_table(tables[name], title=f"{name} (n = staff posts; withheld: -)")
COMMANDS = [living_wage_cmd]
