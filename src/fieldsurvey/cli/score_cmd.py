"""``fieldsurvey score``: scale scores for a data file whose columns are item ids."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.scoring import score_scales

# The command's printing helpers (rich: 30 ms of a 1.2 s run) are loaded only on the paths that
# print more than one line: a preview, invalid answers counted, an error.


@click.command("score")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-i", "--instrument", "instruments", multiple=True, required=True,
              help="Bundled instrument id or YAML path; repeat for several.")
@click.option("--id-column", default=None, help="Column identifying respondents.")
@click.option("--invalid", type=click.Choice(["error", "missing"]), default="error",
              help="Invalid answers stop with an error (default) or count as missing.")
@click.option("--map", "mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Mapping file (as for ingest): columns -> item ids.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write scores to this CSV (or .parquet) file (default: print a preview).")
def score_cmd(data: Path, instruments: tuple[str, ...], id_column: str | None, invalid: str,
              mapping: Path | None, output: Path | None) -> None:
    """Score every scale of the instruments for each respondent in DATA."""
    from fieldsurvey.io import read_data, write_table

    read = read_data(data)
    table = read.answers()  # declared missing codes are never scored
    if mapping:
        from fieldsurvey.ingest.mapping import columns_as_items

        table = columns_as_items(table, [resolve_instrument(i) for i in instruments], mapping)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = score_scales(table, list(instruments), id_column=id_column, invalid=invalid,
                              source=data.name, row_numbers=read.row_numbers)
    del read, table  # the answers are let go before the scores are written
    counts = scores.attrs.get("invalid_answers", {})
    if counts:
        from fieldsurvey.cli.output import console

        total = sum(counts.values())
        detail = ", ".join(f"{k}: {v}" for k, v in counts.items())
        console.print(f"[yellow]{total} invalid answer(s) treated as missing ({detail})[/yellow]")
    if id_column:
        from fieldsurvey.cli.output import whole_numbers_as_integers

        scores[id_column] = whole_numbers_as_integers(scores[id_column])  # ids 2, not 2.0
    if output:
        if not output.parent.is_dir():
            raise _user_error(f"the folder {output.parent} does not exist: create it first, or "
                              "write the scores elsewhere with -o", output)
        try:
            write_table(scores, output)
        except OSError as exc:
            raise _user_error(f"cannot write the scores: {exc.strerror}", output) from None
        click.echo(f"wrote {len(scores)} rows x {scores.shape[1]} columns to {output}")
    else:
        from fieldsurvey.cli.output import print_table

        print_table(scores.head(20), title=f"Scores ({len(scores)} respondents; first 20 shown)")


def _user_error(message: str, file: Path) -> Exception:
    """The command's :class:`~fieldsurvey.cli.output.UserError` for ``file``."""
    from fieldsurvey.cli.output import UserError

    return UserError(message, file=str(file))


COMMANDS = [score_cmd]
