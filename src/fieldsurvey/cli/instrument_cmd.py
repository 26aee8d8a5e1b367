"""``fieldsurvey instrument ...``: list, show, validate instruments and attach wording."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from fieldsurvey.cli.output import print_json, print_table
from fieldsurvey.instrument import (
    attach_wording,
    bundled_instrument_ids,
    load_instrument,
    resolve_instrument,
    wording_home,
)
from fieldsurvey.instrument.export import instrument_to_dict


@click.group("instrument")
def instrument_group() -> None:
    """List, inspect and validate instrument definitions."""


@instrument_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def list_cmd(fmt: str) -> None:
    """List the bundled instruments."""
    rows = []
    for inst_id in bundled_instrument_ids():
        inst = resolve_instrument(inst_id)
        if inst.licence.wording_included:
            wording = "included"
        elif (wording_home() / f"{inst.id}.yaml").is_file():
            wording = "attached by you"
        else:
            wording = "not included"
        rows.append(
            {"id": inst.id, "title": inst.title, "items": len(inst.items),
             "scales": len(inst.scales), "wording": wording}
        )
    table = pd.DataFrame(rows)
    if fmt == "json":
        print_json(rows)
    else:
        print_table(table, title="Bundled instruments")


@instrument_group.command("show")
@click.argument("instrument")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def show_cmd(instrument: str, fmt: str) -> None:
    """Show an instrument (bundled id or YAML path)."""
    inst = resolve_instrument(instrument)
    if fmt == "json":
        print_json(instrument_to_dict(inst))
        return
    click.echo(f"{inst.title} ({inst.id}, version {inst.version})")
    click.echo(f"Citation: {inst.citation}")
    click.echo(f"Licence: {inst.licence.holder}: {inst.licence.terms}")
    if inst.recall:
        click.echo(f"Recall: {inst.recall}")
    rows = []
    for sc in inst.scales:
        bands = ", ".join(
            f"{b.label} {'' if b.min is None else b.min}-{'' if b.max is None else b.max}"
            for b in sc.bands
        )
        rows.append({"scale": sc.id, "items": sc.k, "method": sc.method,
                     "min_answered": sc.min_answered, "higher_is": sc.higher_is,
                     "bands": bands or "-"})
    if rows:
        print_table(pd.DataFrame(rows), title="Scales")
    items = pd.DataFrame(
        [{"item": it.id, "response scale": it.scale, "reverse": it.reverse,
          "sensitive": it.sensitive} for it in inst.items]
    )
    print_table(items, title="Items")


@instrument_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def validate_cmd(file: Path) -> None:
    """Validate an instrument YAML file; every problem names the file and field."""
    inst = load_instrument(file)
    click.echo(f"{file.name}: valid ({len(inst.items)} items, {len(inst.scales)} scales)")


@instrument_group.command("wording")
@click.argument("instrument")
@click.option("--from", "source", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Your wording file: YAML {items: {item_id: text or {lang: text}}, adapted: bool}.")
def wording_cmd(instrument: str, source: Path) -> None:
    """Attach wording you hold a licence for (kept in your own folder, never in the package)."""
    stored = attach_wording(instrument, source)
    click.echo(f"wording for {instrument} stored at {stored}")


COMMANDS = [instrument_group]
