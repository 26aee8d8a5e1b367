"""``fieldsurvey report`` and ``fieldsurvey verify``: reports from a study, and their check."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from fieldsurvey.cli.output import UserError, console, friendly_errors, print_table
from fieldsurvey.store import StudyError


def _formats(value: str) -> tuple[str, ...]:
    from fieldsurvey.report import FORMATS

    chosen = tuple(dict.fromkeys(f.strip().lower() for f in value.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise UserError(
            f"--format: unknown format(s) {', '.join(unknown) or value!r}; "
            f"choose from {', '.join(FORMATS)}"
        )
    return chosen


@click.command("report")
@click.argument("study", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--org", default=None, help="Also write this organisation's report.")
@click.option("--all-orgs", is_flag=True, help="Also write one report per organisation.")
@click.option(
    "--format",
    "formats",
    default="html,pdf,docx",
    show_default=True,
    help="Comma-separated output formats: html, pdf, docx.",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "quarto", "pandoc"]),
    default="auto",
    show_default=True,
    help="Quarto when installed (auto), else pandoc + typst.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the reports (default: the study's reports/ folder).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes (useful with --all-orgs).",
)
@click.option(
    "--wave",
    default=None,
    help="Report this wave (default the latest); later waves are left out.",
)
@click.option(
    "--findings",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Findings file set beside the results (default: the bundled field-findings.yaml).",
)
@friendly_errors(StudyError, ValueError)
def report_cmd(
    study: Path,
    org: str | None,
    all_orgs: bool,
    formats: str,
    engine: str,
    output: Path | None,
    jobs: int,
    findings: Path | None,
    wave: str | None,
) -> None:
    """Write the field-wide report of STUDY (and organisation reports with --org/--all-orgs).

    Each report gets its own folder holding the results bundle (gated tables, figures,
    manifest.json with SHA-256s) and the rendered files.
    """
    from rich.progress import Progress

    from fieldsurvey.report.build import build_reports
    from fieldsurvey.store import open_study

    if org and all_orgs:
        raise UserError("use either --org ORG or --all-orgs, not both")
    opened = open_study(study)
    out = output if output is not None else opened.reports_dir
    chosen = _formats(formats)
    command = (
        shlex.join(["fieldsurvey", *sys.argv[1:]])
        if sys.argv[1:2] == ["report"]
        else (shlex.join(["fieldsurvey", "report", str(study)]))
    )
    orgs = "all" if all_orgs else org
    if all_orgs:
        with Progress(console=console, transient=True) as bar:
            # Indeterminate until the study is loaded and the number of reports is known.
            task = bar.add_task("Loading the study", total=None)

            def start(total: int) -> None:
                bar.update(task, total=total, description="Writing reports")

            def tick(done: str | None) -> None:
                bar.update(task, advance=1, description=f"Wrote {done or 'field-wide'} report")

            results = build_reports(
                opened,
                out,
                orgs,
                formats=chosen,
                engine=engine,  # type: ignore[arg-type]
                command=command,
                progress=tick,
                on_start=start,
                jobs=jobs,
                findings_path=findings,
                wave=wave,
            )
    else:
        results = build_reports(
            opened,
            out,
            orgs,
            formats=chosen,
            engine=engine,  # type: ignore[arg-type]
            command=command,
            jobs=jobs,
            findings_path=findings,
            wave=wave,
        )
    for name, outputs in results:
        label = name if name is not None else "field-wide"
        for fmt, path in outputs.items():
            click.echo(f"{label} {fmt}: {path}")


@click.command("verify")
@click.argument("report_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@friendly_errors(StudyError, FileNotFoundError, ValueError)
def verify_cmd(report_dir: Path) -> None:
    """Recompute REPORT_DIR's results bundle from its recorded inputs and compare every number.

    Exits 1 when anything differs, naming each table, row and column.
    """
    from fieldsurvey.report.verify import verify_report

    result = verify_report(report_dir)
    if result.identical:
        click.echo(
            f"identical: every number of {result.files_checked} bundle files recomputes "
            "exactly from the recorded inputs"
        )
        return
    diffs = result.differences
    click.echo(f"DIFFERENT: {len(diffs)} difference(s) between the bundle and a recomputation")
    print_table(diffs.head(50).astype(str), title="Differences (first 50)")
    for row in diffs.head(50).itertuples():
        where = f"{row.file}" + (f" row {row.row}" if not _na(row.row) else "")
        click.echo(
            f"{where} column {row.column}: recorded {row.recorded!r}, recomputed {row.recomputed!r}"
        )
    sys.exit(1)


def _na(value: object) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


COMMANDS = [report_cmd, verify_cmd]
