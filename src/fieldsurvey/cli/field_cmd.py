"""``fieldsurvey field``: write instruments as a form for a survey platform, paper or a codebook."""

from __future__ import annotations

from pathlib import Path

import click

from fieldsurvey.fielding import FORMATS, FieldingError, field_instruments
from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.store import open_study


@click.command("field")
@click.argument("study", required=False, type=click.Path(path_type=Path))
@click.option(
    "-i",
    "--instrument",
    "instruments",
    multiple=True,
    help="Bundled instrument id or YAML path; repeat for several (in form order).",
)
@click.option("--to", "to", required=True, type=click.Choice(FORMATS), help="Output format.")
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file (.xlsx, .csv, .qsf, .txt, .pdf/.docx, .html/.pdf) or folder.",
)
@click.option(
    "--language",
    "languages",
    multiple=True,
    help="Language code to field (repeatable); default every language of the wording.",
)
@click.option(
    "--consent",
    "consent_file",
    type=click.Path(exists=True, path_type=Path),
    help="Text file with the opening consent paragraph.",
)
@click.option("--title", default=None, help="Form title.")
def field_cmd(
    study: Path | None,
    instruments: tuple[str, ...],
    to: str,
    out: Path,
    languages: tuple[str, ...],
    consent_file: Path | None,
    title: str | None,
) -> None:
    """Export a STUDY's instruments (or those given with -i) to a platform format.

    \b
    Examples:
      fieldsurvey field -i workforce-context -i structural-conditions --to xlsform -o f.xlsx
      fieldsurvey field my-study --to redcap -o dictionary.csv
      fieldsurvey field -i proqol5 --to codebook -o codebook.html
    """
    if study is not None and instruments:
        raise FieldingError("give either a STUDY or -i INSTRUMENT, not both")
    if study is not None:
        opened = open_study(study)
        loaded = opened.instruments()
        title = title or opened.config.title
    elif instruments:
        loaded = [resolve_instrument(ref) for ref in instruments]
    else:
        raise FieldingError("nothing to field: give a STUDY folder or -i INSTRUMENT")
    consent = consent_file.read_text(encoding="utf-8") if consent_file else None
    path = field_instruments(
        loaded, to, out, languages=list(languages) or None, consent_text=consent, title=title
    )
    click.echo(f"Wrote {to} to {path}")


COMMANDS = [field_cmd]
