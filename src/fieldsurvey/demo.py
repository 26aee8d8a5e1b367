"""The built-in demo: a synthetic coalition study run through every stage.

``fieldsurvey demo DIR`` (and ``make demo``) calls :func:`run_demo`. The coalition's member
organisations field the survey on different platforms (as real coalitions do), their exports are
ingested into one study, and the study is scored, checked and compared. Each stage is one small
step function; every file the demo writes is listed at the end.

Two studies are made. The *structural study* (:data:`~fieldsurvey.synthetic.STRUCTURAL_STUDY`)
has every effect of the bundled analysis plan's hypotheses H1-H9 built in and goes through every
stage. Its *null study* (:data:`~fieldsurvey.synthetic.NULL_STUDY`: the same design and seed with
no effect) is ingested into a study of its own and run through the plan only; the demo prints
both studies' decisions side by side (``results/structural-vs-null.csv``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.progress import Progress

from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.resources import data_dir
from fieldsurvey.scoring import score_scales
from fieldsurvey.store import Study, init_study, load_responses
from fieldsurvey.synthetic import NULL_STUDY, STRUCTURAL_STUDY, SyntheticStudy, generate_coalition

INSTRUMENTS = ["workforce-context", "proqol5", "cbi", "stss", "structural-conditions"]
SCORED_INSTRUMENTS = INSTRUMENTS[1:]
# Member organisations field the survey on the platform they already use.
PLATFORM_OF_ORG_BLOCK = [("qualtrics", "default"), ("redcap", "raw"), ("kobo", "default"),
                         ("odk", "default"), ("limesurvey", "default")]
SUFFIX = {"qualtrics": ".csv", "redcap": ".csv", "kobo": ".csv", "odk": ".csv", "limesurvey": ".csv"}


@dataclass
class DemoRun:
    """What the demo has made so far; steps read earlier results from here."""

    out_dir: Path
    console: Console
    synthetic: SyntheticStudy | None = None
    study: Study | None = None
    scores: pd.DataFrame | None = None
    plan_results: pd.DataFrame | None = None
    made: list[tuple[str, Path]] = field(default_factory=list)

    def record(self, what: str, path: Path) -> None:
        self.made.append((what, path))


def _generate(run: DemoRun) -> None:
    run.synthetic = generate_coalition(STRUCTURAL_STUDY)
    truth = run.out_dir / "synthetic"
    truth.mkdir(parents=True, exist_ok=True)
    run.synthetic.responses.to_csv(truth / "answers.csv", index=False)
    run.synthetic.organisations.to_csv(truth / "organisations.csv", index=False)
    run.record("synthetic answers (the truth the pipeline must recover)", truth / "answers.csv")
    run.record("member organisations", truth / "organisations.csv")


def _field(run: DemoRun) -> None:
    from fieldsurvey.fielding import field_instruments

    out = run.out_dir / "fielding"
    out.mkdir(parents=True, exist_ok=True)
    instruments = [resolve_instrument(i) for i in INSTRUMENTS]
    codebook = field_instruments(instruments, "codebook", out / "codebook.html")
    run.record("codebook (every item, code, scale and licence)", codebook)
    # Licensed wording is not ours: only our own item banks are fielded until users attach it.
    own = [resolve_instrument(i) for i in ("workforce-context", "structural-conditions")]
    form = field_instruments(own, "xlsform", out / "structural-conditions.xlsx")
    run.record("XLSForm for KoboToolbox/ODK (own-wording instruments)", form)


def _init_study(run: DemoRun) -> None:
    run.study = init_study(run.out_dir / "study", INSTRUMENTS, title="Synthetic coalition staff survey",
                           org_column="wf_org", group_columns=["wf_role", "wf_lived_exp"],
                           waves=["1", "2"])
    run.record("study folder", run.study.root)


def _ingest(run: DemoRun) -> None:
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.synthetic.platform_exports import write_platform_export

    assert run.synthetic is not None and run.study is not None
    instruments = [resolve_instrument(i) for i in INSTRUMENTS]
    responses = run.synthetic.responses
    orgs = sorted(responses["org"].unique())
    imports = run.study.root / "imports"
    totals = {"read": 0, "stored": 0, "quarantined": 0}
    for wave in sorted(responses["wave"].unique()):
        for block, (platform, layout) in enumerate(PLATFORM_OF_ORG_BLOCK):
            members = orgs[block::len(PLATFORM_OF_ORG_BLOCK)]
            subset = responses[(responses["wave"] == wave) & responses["org"].isin(members)]
            path = imports / f"wave{wave}-{platform}{SUFFIX[platform]}"
            write_platform_export(subset, instruments, platform, path, layout=layout,
                                  seed=int(wave) * 10 + block,
                                  preview_rows=2 if platform == "qualtrics" else 0)
            summary = ingest_file(run.study, path, wave=str(wave))
            totals["read"] += summary.rows_read
            totals["stored"] += summary.stored
            totals["quarantined"] += summary.quarantined
            run.record(f"{platform} export, wave {wave} (ingested)", path)
    run.console.print(f"ingest: read {totals['read']}, stored {totals['stored']}, quarantined "
                      f"{totals['quarantined']} (platform previews); personal data dropped")
    _ingest_profiles(run)


def _ingest_profiles(run: DemoRun) -> None:
    """Each organisation's profile, one file per wave (``ingest --profile``)."""
    from fieldsurvey.ingest.profiles import ingest_profiles

    assert run.synthetic is not None and run.study is not None
    if run.synthetic.profiles is None:
        return
    for wave, part in run.synthetic.profiles.groupby("wave"):
        path = run.study.root / "imports" / f"profiles-wave{wave}.csv"
        part.to_csv(path, index=False)
        ingest_profiles(run.study, path, wave=str(wave))
        run.record(f"organisation profiles, wave {wave} (ingested)", path)


def _score(run: DemoRun) -> None:
    assert run.study is not None
    responses = load_responses(run.study)
    scores = score_scales(responses, SCORED_INSTRUMENTS, id_column="response_id")
    context = responses[["response_id", "org", "wave", "wf_role", "wf_lived_exp", "wf_payband",
                         "wf_tenure", "wf_hours", "wf_peer_role"]]
    # Scores come back row-aligned; response ids repeat across organisations (REDCap record 1).
    run.scores = pd.concat([context, scores.drop(columns="response_id")], axis=1)
    path = run.out_dir / "results" / "scores.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    run.scores.to_csv(path, index=False)
    run.record("scale scores (from the study store)", path)


def _export_data(run: DemoRun) -> None:
    from fieldsurvey.disclosure.microdata import export_microdata

    assert run.study is not None
    # The protected file (k-anonymity, l-diversity), as `fieldsurvey export-data` writes it.
    result = export_microdata(run.study, "sav", seed=1)
    run.record("respondent-level data for SPSS users (protected)", result.path)
    run.record("its disclosure risk report", result.report_path)


def _check_findings(run: DemoRun) -> None:
    from fieldsurvey.reproduce import check_findings, load_findings

    findings = load_findings(data_dir("analysis") / "field-findings.yaml")
    checks = check_findings(findings)
    path = run.out_dir / "results" / "published-findings-consistency.csv"
    checks.to_csv(path, index=False)
    counts = checks["verdict"].value_counts()
    shown = ", ".join(f"{int(n)} {str(verdict).replace('_', ' ')}" for verdict, n in counts.items())
    run.console.print(f"published findings checked: {shown}")
    run.record("consistency checks of published figures", path)


def _compare(run: DemoRun) -> None:
    from fieldsurvey.outputs import benchmark, compare

    assert run.study is not None
    scales = ["burnout", "sts", "compassion_satisfaction", "financial_strain", "pay_adequacy"]
    lens = compare(run.study.root, "wf_lived_exp", groups=["Yes", "No"], scales=scales,
                   command="fieldsurvey demo: compare --by wf_lived_exp")
    bench = benchmark(run.study.root, scales=["burnout", "sts", "compassion_satisfaction"],
                      command="fieldsurvey demo: benchmark")  # latest wave, with the trend
    out = run.out_dir / "results"
    lens.tables["groups"].to_csv(out / "lived-experience-groups.csv", index=False)
    lens.tables["tests"].to_csv(out / "lived-experience-tests.csv", index=False)
    if "invariance" in lens.tables:
        lens.tables["invariance"].to_csv(out / "invariance-lived-experience.csv", index=False)
        run.record("measurement invariance by lived experience (gated)",
                   out / "invariance-lived-experience.csv")
    bench.tables["organisations"].to_csv(out / "organisation-benchmarks.csv", index=False)
    bench.tables["change"].to_csv(out / "organisation-change.csv", index=False)
    withheld = int(bench.tables["organisations"]["suppressed"].sum())
    run.console.print(f"benchmarks: {withheld} organisation-scale rows withheld by the disclosure gate")
    run.record("lived-experience staff vs other staff (gated)", out / "lived-experience-groups.csv")
    run.record("organisation benchmarks against the field, latest wave (gated)",
               out / "organisation-benchmarks.csv")
    run.record("change since the previous wave (gated)", out / "organisation-change.csv")


def _plan_on(study_root: Path, command: str) -> pd.DataFrame:
    """The bundled plan on a study, as `fieldsurvey run-plan` runs it (gated)."""
    from fieldsurvey.outputs.findings import run_plan
    from fieldsurvey.reproduce import load_plan

    plan = load_plan(data_dir("analysis") / "structural-burnout-plan.yaml")
    # H7 compares pay in the organisation profiles with the bundled living-wage reference.
    reference = data_dir("analysis") / "living-wage" / "uk-real-living-wage-2024.yaml"
    return run_plan(study_root, plan, command=command, wage_reference=reference)


def _run_plan(run: DemoRun) -> None:
    assert run.study is not None
    results = _plan_on(run.study.root, "fieldsurvey demo: run-plan")
    run.plan_results = results
    path = run.out_dir / "results" / "structural-burnout-plan.csv"
    results.to_csv(path, index=False)
    decisions = results.drop_duplicates("hypothesis")[["hypothesis", "decision"]]
    run.console.print("analysis plan: " + ", ".join(
        f"{h} {'withheld' if pd.isna(d) else d}" for h, d in decisions.itertuples(index=False)))
    run.record("pre-registered hypotheses H1-H9 with decisions (gated)", path)


def _null_study(run: DemoRun) -> None:
    """The null study: ingested into a study of its own and run through the plan only."""
    from fieldsurvey.ingest.pipeline import ingest_file
    from fieldsurvey.ingest.profiles import ingest_profiles

    assert run.plan_results is not None
    null = generate_coalition(NULL_STUDY)
    root = run.out_dir / "null-study"
    study = init_study(root / "study", INSTRUMENTS, title="Synthetic coalition, null variant",
                       org_column="wf_org", group_columns=["wf_role", "wf_lived_exp"],
                       waves=["1", "2"])
    imports = study.root / "imports"
    imports.mkdir(parents=True, exist_ok=True)
    for wave, staff in null.responses.groupby("wave"):
        path = imports / f"wave{wave}-answers.csv"
        staff.drop(columns=["org", "wave"]).to_csv(path, index=False)
        ingest_file(study, path, wave=str(wave))
    assert null.profiles is not None
    for wave, part in null.profiles.groupby("wave"):
        path = imports / f"profiles-wave{wave}.csv"
        part.to_csv(path, index=False)
        ingest_profiles(study, path, wave=str(wave))
    results = _plan_on(study.root, "fieldsurvey demo: run-plan (null study)")
    (root / "results").mkdir(exist_ok=True)
    results.to_csv(root / "results" / "structural-burnout-plan.csv", index=False)
    run.record("null study (no effect built in)", study.root)
    run.record("its hypotheses H1-H9 with decisions (gated)",
               root / "results" / "structural-burnout-plan.csv")
    both = side_by_side(run.plan_results, results)
    path = run.out_dir / "results" / "structural-vs-null.csv"
    both.to_csv(path, index=False)
    run.record("decisions of the structural and the null study side by side", path)
    _print_side_by_side(run.console, both)


def side_by_side(structural: pd.DataFrame, null: pd.DataFrame) -> pd.DataFrame:
    """Each hypothesis's decision in two run-plan results ("withheld" where the gate withheld
    it): hypothesis, structural_study, null_study.

    Examples
    --------
    >>> a = pd.DataFrame({"hypothesis": ["H1", "H1", "H2"], "decision": ["supported"] * 2 + [None]})
    >>> b = pd.DataFrame({"hypothesis": ["H1", "H2"], "decision": ["not supported"] * 2})
    >>> side_by_side(a, b).values.tolist()
    [['H1', 'supported', 'not supported'], ['H2', 'withheld', 'not supported']]
    """
    def decisions(results: pd.DataFrame) -> pd.Series:
        first = results.drop_duplicates("hypothesis").set_index("hypothesis")["decision"]
        return first.astype(object).where(first.notna(), "withheld")

    out = pd.DataFrame({"structural_study": decisions(structural),
                        "null_study": decisions(null)})
    return out.rename_axis("hypothesis").reset_index()


def _print_side_by_side(console: Console, both: pd.DataFrame) -> None:
    from rich.table import Table

    table = Table(title="Plan decisions: structural study vs null study")
    for column in ("hypothesis", "structural study", "null study"):
        table.add_column(column)
    for row in both.itertuples(index=False):
        table.add_row(row.hypothesis, row.structural_study, row.null_study)
    console.print(table)


def _psychometrics(run: DemoRun) -> None:
    from fieldsurvey.outputs.reliability import reliability

    assert run.study is not None
    responses = load_responses(run.study)
    summary, _, _ = reliability(responses, "proqol5", study=run.study,
                                command="fieldsurvey demo: reliability -i proqol5")
    out = run.out_dir / "results"
    summary.to_csv(out / "proqol5-reliability.csv", index=False)
    alphas = ", ".join(f"{r.scale} {r.alpha:.2f}" for r in summary.itertuples()
                       if pd.notna(r.alpha))
    run.console.print(f"ProQOL reliability on this data (alpha): {alphas}")
    run.record("reliability of the ProQOL scales on this data (gated)",
               out / "proqol5-reliability.csv")


def _reports(run: DemoRun) -> None:
    from fieldsurvey.report import build_reports

    assert run.study is not None
    made = build_reports(run.study, run.out_dir / "reports", orgs="all", formats=("html", "pdf"),
                         jobs=2, command="fieldsurvey demo")
    for org, paths in made:
        label = "field-wide report" if org is None else f"report for {org}"
        for fmt, path in paths.items():
            run.record(f"{label} ({fmt})", path)


STEPS: list[tuple[str, Callable[[DemoRun], None]]] = [
    ("Generating the synthetic coalition", _generate),
    ("Fielding: codebook and XLSForm", _field),
    ("Creating the study", _init_study),
    ("Ingesting platform exports", _ingest),
    ("Scoring scales", _score),
    ("Exporting cleaned data", _export_data),
    ("Checking published findings", _check_findings),
    ("Comparing groups and benchmarking organisations", _compare),
    ("Running the structural-burnout analysis plan", _run_plan),
    ("The null study: same design, no effects, through the plan", _null_study),
    ("Reliability and measurement invariance", _psychometrics),
    ("Rendering the field-wide and organisation reports", _reports),
]


MARKER = ".fieldsurvey-demo"


def run_demo(out_dir: str | Path, console: Console | None = None) -> DemoRun:
    """Run the demo into ``out_dir`` and return what it made.

    A folder made by an earlier demo run is replaced; any other non-empty folder is refused, so
    the demo never deletes a user's files.
    """
    console = console or Console()
    run = DemoRun(out_dir=Path(out_dir), console=console)
    if run.out_dir.exists() and any(run.out_dir.iterdir()):
        if not (run.out_dir / MARKER).is_file():
            raise FileExistsError(f"{run.out_dir} is not empty and was not made by the demo; "
                                  "choose another folder")
        shutil.rmtree(run.out_dir)
    run.out_dir.mkdir(parents=True, exist_ok=True)
    (run.out_dir / MARKER).write_text("made by `fieldsurvey demo`; safe to delete\n")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("demo", total=len(STEPS))
        for title, step in STEPS:
            progress.update(task, description=title)
            step(run)
            progress.advance(task)
    return run
