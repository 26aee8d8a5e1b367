"""``fieldsurvey releases``: what a study has released, from its release ledger."""

from __future__ import annotations

from pathlib import Path

import click

from fieldsurvey.cli.output import console, friendly_errors, print_json, print_table
from fieldsurvey.store import StudyError


@click.command("releases")
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--release", "release_id", default=None,
              help="Show every value this release showed (its id from the list).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@friendly_errors(StudyError)
def releases_cmd(study_dir: Path, release_id: str | None, fmt: str) -> None:
    """Every output released from the study, judged against everything released before."""
    from fieldsurvey.outputs.releases import releases

    table = releases(study_dir, release_id)
    if fmt == "json":
        out = table.astype(object)
        print_json(out.where(out.notna(), None).to_dict(orient="records"))
        return
    if table.empty:
        console.print("nothing released yet" if release_id is None else "no such release")
        return
    title = "Releases (oldest first)" if release_id is None else f"Values shown by {release_id}"
    print_table(table, title=title)


COMMANDS = [releases_cmd]
