"""The built-in demo: a synthetic coalition study run through every stage that exists.

``fieldsurvey demo DIR`` (and ``make demo``) calls :func:`run_demo`. Each stage is one small step
function so the demo grows with the pipeline; every file it writes is listed at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.progress import Progress

from fieldsurvey.scoring import score_scales
from fieldsurvey.synthetic import CoalitionParams, SyntheticStudy, generate_coalition

SCORED_INSTRUMENTS = ["proqol5", "cbi", "stss", "structural-conditions"]


@dataclass
class DemoRun:
    """What the demo has made so far; steps read earlier results from here."""

    out_dir: Path
    study: SyntheticStudy | None = None
    scores: pd.DataFrame | None = None
    made: list[tuple[str, Path]] = field(default_factory=list)

    def record(self, what: str, path: Path) -> None:
        self.made.append((what, path))


def _generate(run: DemoRun) -> None:
    run.study = generate_coalition(CoalitionParams(waves=2))
    data_dir = run.out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    responses = data_dir / "coalition-responses.csv"
    run.study.responses.to_csv(responses, index=False)
    orgs = data_dir / "organisations.csv"
    run.study.organisations.to_csv(orgs, index=False)
    run.record("synthetic responses (2 waves)", responses)
    run.record("member organisations", orgs)


def _score(run: DemoRun) -> None:
    assert run.study is not None
    run.scores = score_scales(run.study.responses, SCORED_INSTRUMENTS, id_column="response_id")
    path = run.out_dir / "results" / "scores.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    run.scores.to_csv(path, index=False)
    run.record("scale scores", path)


STEPS: list[tuple[str, Callable[[DemoRun], None]]] = [
    ("Generating the synthetic coalition", _generate),
    ("Scoring scales", _score),
]


def run_demo(out_dir: str | Path, console: Console | None = None) -> DemoRun:
    """Run the demo into ``out_dir`` and return what it made.

    Examples
    --------
    >>> run = run_demo(tmp_path)  # doctest: +SKIP
    >>> [what for what, _ in run.made][:2]  # doctest: +SKIP
    ['synthetic responses (2 waves)', 'member organisations']
    """
    console = console or Console()
    run = DemoRun(out_dir=Path(out_dir))
    run.out_dir.mkdir(parents=True, exist_ok=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("demo", total=len(STEPS))
        for title, step in STEPS:
            progress.update(task, description=title)
            step(run)
            progress.advance(task)
    return run
