"""Study commands: ``init``, ``ingest``, ``status``, ``export-data``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pandas as pd

from fieldsurvey.cli.output import console, print_json, print_table
from fieldsurvey.disclosure.microdata import export_microdata, risk_summary_lines
from fieldsurvey.store import init_study, open_study
from fieldsurvey.store.export_data import FORMATS


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("-i", "--instrument", "instruments", multiple=True, required=True,
              help="Bundled instrument id or YAML path; repeat for several.")
@click.option("--org-column", default=None, help="Column naming each response's organisation.")
@click.option("--group-column", "group_columns", multiple=True, help="Grouping column; repeatable.")
@click.option("--wave", "waves", multiple=True, help="A wave label; repeatable.")
@click.option("--min-cell", default=10, show_default=True, type=int,
              help="Minimum number of respondents behind anything shown.")
@click.option("--title", default=None)
def init_cmd(directory: Path, instruments: tuple[str, ...], org_column: str | None,
             group_columns: tuple[str, ...], waves: tuple[str, ...], min_cell: int,
             title: str | None) -> None:
    """Create a study folder with study.yaml and an empty study store."""
    study = init_study(directory, list(instruments), title=title, org_column=org_column,
                       group_columns=list(group_columns), waves=list(waves), min_cell=min_cell)
    click.echo(f"created study {study.config.title!r} in {directory} "
               f"({len(instruments)} instruments, minimum cell {min_cell})")


@click.command("ingest")
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--platform", default="auto", show_default=True,
              type=click.Choice(["auto", "qualtrics", "redcap", "kobo", "odk", "limesurvey",
                                 "surveymonkey", "table"]))
@click.option("--wave", default=None, help="Wave label (default: the study's first wave).")
@click.option("--org", default=None, help="Organisation code for every row of the file.")
@click.option("--map", "mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Mapping file: columns -> item ids, extra answer labels.")
@click.option("--dictionary", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="REDCap data dictionary for the export.")
@click.option("--details", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="SurveyMonkey survey details JSON (for API exports).")
@click.option("--form", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="KoboToolbox/ODK form (asset JSON or XLSForm).")
@click.option("--structure", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="LimeSurvey survey-structure file.")
@click.option("--profile", "profile", is_flag=False, flag_value="org-profile", default=None,
              help="The file holds organisation profiles (one per organisation and wave), of "
                   "the bundled org-profile instrument or the instrument given.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def ingest_cmd(study_dir: Path, file: Path, platform: str, wave: str | None, org: str | None,
               mapping: Path | None, dictionary: Path | None, details: Path | None,
               form: Path | None, structure: Path | None, profile: str | None,
               fmt: str) -> None:
    """Read a platform export into the study store; every row is stored or quarantined."""
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.ingest.profiles import ingest_profiles

    companions = {"dictionary": dictionary, "details": details, "form": form,
                  "structure": structure}
    if profile is not None:
        summary = ingest_profiles(open_study(study_dir), file, instrument=profile,
                                  platform=platform, wave=wave, org=org, mapping=mapping,
                                  **companions)
    else:
        summary = ingest_file(open_study(study_dir), file, platform=platform, wave=wave, org=org,
                              mapping=mapping, **companions)
    if fmt == "json":
        print_json(summary.to_dict())
        return
    if summary.already_ingested:
        console.print(f"{file.name}: {summary.notes[0]}")
        return
    console.print(f"[bold]{file.name}[/bold] ({summary.platform}): read {summary.rows_read}, "
                  f"stored {summary.stored}, quarantined {summary.quarantined} (batch {summary.batch_id})")
    for reason, count in summary.quarantine_reasons.items():
        console.print(f"  quarantined {count}: {reason}", markup=False, highlight=False)
        rows = summary.quarantine_rows.get(reason, [])
        if rows:
            shown = ", ".join(f"row {r['row']}" + (f" (id {r['response_id']})"
                                                  if r["response_id"] is not None else "")
                              for r in rows)
            more = " ..." if count > len(rows) else ""
            console.print(f"    {shown}{more}", markup=False, highlight=False)
    for flag, count in summary.flags.items():
        console.print(f"  flagged {count}: {flag}")
    if summary.dropped_personal:
        console.print("  dropped as personal data (never stored):", highlight=False)
        for d in summary.dropped_personal:
            # markup=False: a withheld name reads "[column name withheld: ...]", not a style
            console.print(f"    {d['column']}: {d['reason']}", markup=False, highlight=False,
                          soft_wrap=True)
    if summary.free_text_columns:
        where = "kept in the restricted free_text table" if summary.free_text_kept else "dropped"
        console.print(f"  free text {where}: {', '.join(summary.free_text_columns)}",
                      markup=False, highlight=False)
    if summary.unmapped_columns:
        console.print(f"  unmapped columns (not stored; map them with --map): "
                      f"{', '.join(map(str, summary.unmapped_columns))}", markup=False,
                      highlight=False)
    if summary.missing_items:
        missing = summary.missing_items
        shown = ", ".join(missing[:12]) + (f" ... and {len(missing) - 12} more"
                                           if len(missing) > 12 else "")
        console.print(f"  items with no column in this file ({len(missing)}): {shown}")
    for note in summary.notes:
        console.print(f"  note: {note}", markup=False, highlight=False)


@click.command("status")
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--full", is_flag=True,
              help="The data manager's view: every file with its counts, ungated. Never share it.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def status_cmd(study_dir: Path, full: bool, fmt: str) -> None:
    """Responses per organisation and wave, quarantine reasons and flags (through the gate)."""
    from fieldsurvey.outputs.status import status

    study = open_study(study_dir)
    tables = status(study, full=full, command=" ".join(sys.argv))
    if fmt == "json":
        doc = {name: _records(frame) for name, frame in tables.items()}
        if not full:
            for row in doc.get("responses", []):  # a withheld count is null and says so
                row["withheld"] = row["responses"] is None
        doc["min_cell"] = study.config.min_cell
        if full:
            doc["warning"] = FULL_WARNING
        print_json(doc)
        return
    console.print(f"[bold]{study.config.title}[/bold] ({study_dir})")
    if full:
        console.print(f"[bold red]{FULL_WARNING}[/bold red]")
    for name, frame in tables.items():
        if frame.empty:
            console.print(f"{name}: none")
        else:
            print_table(frame, title=name + ("" if full else " (withheld: -)"))


FULL_WARNING = ("Data manager's view: ungated counts and file names that can identify "
                "organisations and people. Do not share or publish it.")


def _records(frame: pd.DataFrame) -> list[dict]:
    out = frame.astype(object)
    return out.where(out.notna(), None).to_dict(orient="records")


@click.command("export-data")
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--identifiable", is_flag=True, default=False,
              help="Write the stored responses unprotected (for the research team only).")
def export_data_cmd(study_dir: Path, fmt: str, output: Path | None, identifiable: bool) -> None:
    """Write respondent-level data safe to hand over (recoded and suppressed until every
    combination of key variables is shared by at least min_cell respondents), with its
    metadata and risk report. --identifiable writes the data unprotected."""
    result = export_microdata(open_study(study_dir), fmt, output, identifiable=identifiable)
    lines = risk_summary_lines(result.report)
    if identifiable:
        console.print(f"[bold red]{lines[0]}[/bold red]", highlight=False, soft_wrap=True)
        lines = lines[1:]
    console.print(f"wrote {result.path} ({'IDENTIFIABLE' if identifiable else 'protected'})",
                  markup=False, highlight=False, soft_wrap=True)
    for line in lines:
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"  risk report: {result.report_path}; metadata: {result.metadata_path}",
                  markup=False, highlight=False, soft_wrap=True)


COMMANDS = [init_cmd, ingest_cmd, status_cmd, export_data_cmd]
