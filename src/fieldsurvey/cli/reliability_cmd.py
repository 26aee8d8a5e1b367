"""``fieldsurvey reliability``: alpha, G6, omega and item statistics of an instrument's scales."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import pandas as pd

from fieldsurvey.cli.output import (
    UserError,
    console,
    err_console,
    print_json,
    print_table,
)
from fieldsurvey.errors import FieldsurveyError
from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.outputs.reliability import reliability_of


@click.command("reliability")
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option("-i", "--instrument", required=True, help="Bundled instrument id or YAML path.")
@click.option(
    "--missing",
    type=click.Choice(["pairwise", "listwise"]),
    default="pairwise",
    show_default=True,
    help="Pairwise-complete covariances (as R psych) or listwise.",
)
@click.option(
    "--ci",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Level of the Feldt confidence interval of alpha.",
)
@click.option(
    "--min-cell",
    type=int,
    default=None,
    help="A larger minimum cell size than the default 10 (a smaller one is refused).",
)
@click.option("--map", "mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Mapping file (as for ingest): columns -> item ids.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def reliability_cmd(
    data: Path, instrument: str, missing: str, ci: float, min_cell: int | None,
    mapping: Path | None, fmt: str
) -> None:
    """Reliability of every scale of INSTRUMENT in DATA (CSV, XLSX, SPSS .sav or Stata .dta,
    or a study folder: its stored responses, judged with the study's release ledger).

    DATA has one column per item id (read with fieldsurvey.io.read_data). Reverse-keyed items are
    reversed with the instrument's declared response bounds before anything is computed; answers
    outside those bounds are an error naming the file row and column.
    """
    inst = resolve_instrument(instrument)
    try:
        summary, items, notes = reliability_of(data, inst.id if not instrument.endswith(
            (".yaml", ".yml")) else instrument, missing=missing, ci=ci, min_cell=min_cell,
            mapping=mapping, command=" ".join(sys.argv))
    except ValueError as exc:
        if isinstance(exc, FieldsurveyError):
            raise
        raise UserError(f"{data.name}: {exc}") from exc
    for note in notes:
        err_console.print(f"[yellow]warning: {note}[/yellow]")
    if fmt == "json":
        print_json(reliability_json(summary, items))
        return
    # Short headers so the table fits an 80-column terminal; notes follow as plain lines.
    shown = summary[list(_TABLE_HEADERS)].rename(columns=_TABLE_HEADERS)
    print_table(shown, title=f"Reliability: {inst.id} ({missing} missing, {ci:.0%} Feldt CI)")
    for row in summary.itertuples(index=False):
        if row.note:
            console.print(f"{row.scale}: {row.note}")
    for scale_id, rows in items.groupby("scale", sort=False):
        print_table(rows.drop(columns="scale"), title=f"Items of {scale_id}")


_TABLE_HEADERS = {
    "scale": "scale",
    "n": "n",
    "k": "k",
    "alpha": "alpha",
    "alpha_std": "std_alpha",
    "g6": "G6",
    "average_r": "avg_r",
    "alpha_ci_low": "ci_low",
    "alpha_ci_high": "ci_high",
    "omega_total": "omega_t",
}


def reliability_json(summary: pd.DataFrame, items: pd.DataFrame) -> dict[str, Any]:
    """The JSON document of ``fieldsurvey reliability --format json``."""
    scales = []
    for row in summary.itertuples(index=False):
        its = items[items["scale"] == row.scale]
        scales.append({
            "scale": row.scale,
            "n": row.n,
            "k": row.k,
            "alpha": row.alpha,
            "alpha_std": row.alpha_std,
            "g6": row.g6,
            "average_r": row.average_r,
            "alpha_ci": [row.alpha_ci_low, row.alpha_ci_high],
            "omega_total": row.omega_total,
            "note": row.note or None,
            "items": [
                {
                    "item": it.item,
                    "reversed": it.reversed,
                    "n": it.n,
                    "mean": it.mean,
                    "sd": it.sd,
                    "r_drop": it.r_drop,
                    "alpha_if_deleted": it.alpha_if_deleted,
                }
                for it in its.itertuples(index=False)
            ],
        })  # fmt: skip
    return {"scales": scales}


COMMANDS = [reliability_cmd]
