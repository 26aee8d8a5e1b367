"""``plan-study``: the power of an analysis plan's hypotheses for a study design, simulated
through scoring, the disclosure gate and the plan (see docs/analysis-plans.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from fieldsurvey.cli.output import console, print_json, print_table
from fieldsurvey.errors import FieldsurveyError


def _effects(values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for value in values:
        key, sep, number = value.partition("=")
        try:
            out[key.strip()] = float(number)
        except ValueError:
            raise FieldsurveyError(f"--effect {value!r}: give HYPOTHESIS=SIZE, e.g. H6=0.4") from None
        if not sep:
            raise FieldsurveyError(f"--effect {value!r}: give HYPOTHESIS=SIZE, e.g. H6=0.4")
    return out


@click.command("plan-study")
@click.option("--plan", "plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Analysis plan (default: the bundled structural-burnout plan).")
@click.option("--orgs", type=click.IntRange(min=2), required=True,
              help="Number of organisations.")
@click.option("--staff", type=click.IntRange(min=1), required=True,
              help="Staff per organisation.")
@click.option("--response-rate", type=click.FloatRange(0, 1, min_open=True), default=0.7,
              show_default=True, help="Expected share of staff who answer.")
@click.option("--icc", type=click.FloatRange(0, 1, max_open=True), default=0.1, show_default=True,
              help="Intra-class correlation of the staff outcomes (latent scale).")
@click.option("--effect", "effects", multiple=True, metavar="H=SIZE",
              help="Effect of H6-H9 (repeatable): H6/H7 in SDs, H8/H9 in log-odds per SD.")
@click.option("--waves", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--reps", type=click.IntRange(min=1), default=200, show_default=True,
              help="Simulated studies (Monte Carlo SE of a power at most 0.5/sqrt(reps)).")
@click.option("--min-cell", type=click.IntRange(min=5), default=10, show_default=True,
              help="The study's minimum cell size (the disclosure rule).")
@click.option("--bootstrap-reps", type=click.IntRange(min=100), default=200, show_default=True,
              help="Bootstrap replicates inside each simulated study.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def plan_study_cmd(plan_file: Path | None, orgs: int, staff: int, response_rate: float,
                   icc: float, effects: tuple[str, ...], waves: int, reps: int, min_cell: int,
                   bootstrap_reps: int, seed: int, fmt: str) -> None:
    """Power of each hypothesis of an analysis plan, and what the disclosure rules withhold,
    from simulated studies of the synthetic coalition with this design."""
    from fieldsurvey.reproduce import load_plan
    from fieldsurvey.resources import data_dir
    from fieldsurvey.synthetic.planning import StudyDesign, plan_study

    plan = load_plan(plan_file or data_dir("analysis") / "structural-burnout-plan.yaml")
    design = StudyDesign(orgs, staff, response_rate, icc, _effects(effects), waves)
    design.check()
    columns = (TextColumn("simulating studies"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("plan-study", total=reps)
        power = plan_study(plan, design, reps=reps, seed=seed, min_cell=min_cell,
                           bootstrap_reps=bootstrap_reps,
                           on_replicate=lambda _: progress.advance(task))
    withheld = power.organisations["withheld"]
    if fmt == "json":
        print_json({"design": {**design.__dict__, "effects": dict(design.effects)},
                    "reps": reps, "seed": seed, "min_cell": min_cell,
                    "hypotheses": json.loads(power.hypotheses.to_json(orient="records")),
                    "tests": json.loads(power.tests.to_json(orient="records")),
                    "organisations_withheld": {"mean": float(withheld.mean()),
                                               "max": int(withheld.max()), "of": orgs}})
        return
    print_table(power.hypotheses, title=f"{plan.title}: power over {reps} simulated studies")
    print_table(power.tests, title="Tests (shares of simulated studies)")
    console.print(f"Disclosure rules (min cell {min_cell}): on average {withheld.mean():.1f} of "
                  f"{orgs} organisations withheld (at most {int(withheld.max())}); their "
                  "results are not shown and the plan's tests run without them.",
                  highlight=False)


COMMANDS = [plan_study_cmd]
