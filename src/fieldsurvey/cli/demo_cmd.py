"""``fieldsurvey demo``: the synthetic coalition study through every stage."""

from __future__ import annotations

from pathlib import Path

import click

from fieldsurvey.cli.output import UserError, console


@click.command("demo")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default="demo-study")
def demo_cmd(directory: Path) -> None:
    """Generate a synthetic coalition study in DIRECTORY and run every stage on it."""
    from fieldsurvey.demo import run_demo

    try:
        run = run_demo(directory, console=console)
    except FileExistsError as exc:
        raise UserError(str(exc)) from exc
    console.print(f"[bold]fieldsurvey demo[/bold]: made {len(run.made)} outputs in {directory}")
    for what, path in run.made:
        console.print(f"  {what}: {path}")


COMMANDS = [demo_cmd]
