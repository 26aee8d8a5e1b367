"""Study -> results bundle -> document -> rendered report.

One working folder per report::

    OUT/field/            the field-wide report
    OUT/org-<code>/       one per organisation
        bundle/           results bundle (tables, figures, manifest.json)
        report.qmd        the document, written from the bundle's gated tables
        report.html/.pdf/.docx

:func:`build_reports` is the entry point of ``fieldsurvey report`` and ``make demo``.
"""

from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fieldsurvey.analyse.study import StudyData, load_study_data, study_path
from fieldsurvey.report.bundle import ResultsBundle, file_sha256
from fieldsurvey.report.content import write_report_content
from fieldsurvey.report.release import GatedReport, gate_reports
from fieldsurvey.report.render import Engine, render_report
from fieldsurvey.report.timing import merge_stage_times, reset_stage_times, stage, stage_times
from fieldsurvey.resources import data_dir
from fieldsurvey.store import Study, open_study

__all__ = ["build_report", "build_reports", "report_folder", "report_settings"]

N_BOOT = 200


def report_folder(out_dir: str | Path, org: str | None) -> Path:
    """The working folder of one report inside ``out_dir``."""
    if org is None:
        return Path(out_dir) / "field"
    return Path(out_dir) / ("org-" + re.sub(r"[^A-Za-z0-9._-]+", "-", str(org)))


def _findings(path: str | Path | None) -> Any:
    source = Path(path) if path is not None else data_dir("analysis") / "field-findings.yaml"
    if not source.is_file():
        return None
    stat = source.stat()
    return _load_findings(source, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _load_findings(source: Path, mtime_ns: int, size: int) -> Any:
    """The findings file, read once per process while it is unchanged (every report of a
    run reads it; parsing its YAML took about 30 ms)."""
    from fieldsurvey.reproduce import load_findings

    return load_findings(source)


def report_settings(data: StudyData, findings_path: str | Path | None) -> dict[str, Any]:
    """Study settings recorded in the manifest (everything ``verify`` needs to recompute)."""
    settings: dict[str, Any] = {
        "study": data.study.config.to_yaml_dict(),
        "waves": list(data.waves),
        "reported_wave": data.latest,
        "n_boot": N_BOOT,
        "findings": Path(findings_path).resolve().as_posix() if findings_path else "bundled",
    }
    staff = data.study.config.staff_counts
    if staff is not None:  # the survey weights' input: a changed file changes weighted numbers
        settings["staff_counts_sha256"] = file_sha256(Path(data.study.root) / staff)
    return settings


def _inputs(data: StudyData) -> list[dict[str, Any]]:
    """Inputs as the manifest records them: wave and SHA-256 only (no names, no counts)."""
    return [{"wave": str(i["wave"]), "sha256": i["sha256"]} for i in data.inputs]


def _gated(data: StudyData, target: GatedReport | str | None,
           findings_path: str | Path | None, command: str) -> GatedReport:
    """A report's gated tables: as given, or gated now (one report, through the ledger)."""
    if isinstance(target, GatedReport):
        return target
    return gate_reports(data, [target], findings=_findings(findings_path), command=command)[target]


def make_bundle(
    data: StudyData,
    gated: GatedReport | str | None,
    folder: Path,
    *,
    command: str,
    findings_path: str | Path | None = None,
    date: str | None = None,
) -> Path:
    """Write the results bundle and the document of one report; return the ``.qmd`` path."""
    bundle_dir = folder / "bundle"
    if bundle_dir.exists():
        shutil.rmtree(bundle_dir)  # stale figures or tables must never linger
    bundle = ResultsBundle(bundle_dir)
    gated = _gated(data, gated, findings_path, command)
    org = gated.org
    with stage("content"):
        doc = write_report_content(
            data, gated, bundle, command=command, findings=_findings(findings_path), date=date
        )
    with stage("bundle"):
        bundle.write(
            inputs=_inputs(data),
            settings=report_settings(data, findings_path),
            command=command,
            study_path=study_path(data.study),
            report={"org": org, "wave": data.latest},
        )
        return doc.write(folder / "report.qmd")


def build_report(
    data: StudyData,
    out_dir: str | Path,
    gated: GatedReport | str | None,
    *,
    formats: Sequence[str] = ("html",),
    engine: Engine = "auto",
    command: str = "fieldsurvey.report.build_report",
    findings_path: str | Path | None = None,
) -> dict[str, Path]:
    """Build and render one report (``gated``: its gated tables, or the organisation whose
    report it is, gated now; None for the field-wide report).

    Returns
    -------
    dict of str to Path
        Format to rendered file.

    Examples
    --------
    >>> data = load_study_data(open_study("s"))  # doctest: +SKIP
    >>> gated = gate_reports(data, ["O01"])["O01"]  # doctest: +SKIP
    >>> build_report(data, "out", gated)  # doctest: +SKIP
    {'html': PosixPath('out/org-O01/report.html')}
    """
    gated = _gated(data, gated, findings_path, command)
    folder = report_folder(out_dir, gated.org)
    folder.mkdir(parents=True, exist_ok=True)
    document = make_bundle(data, gated, folder, command=command, findings_path=findings_path)
    return render_report(document, formats=formats, engine=engine, out_dir=folder)


def build_reports(
    study: Study | str | Path,
    out_dir: str | Path,
    orgs: str | Sequence[str] | None = None,
    *,
    formats: Sequence[str] = ("html", "pdf", "docx"),
    engine: Engine = "auto",
    command: str | None = None,
    findings_path: str | Path | None = None,
    progress: Callable[[str | None], None] | None = None,
    field: bool = True,
    jobs: int = 1,
    on_start: Callable[[int], None] | None = None,
    wave: str | None = None,
) -> list[tuple[str | None, dict[str, Path]]]:
    """The field-wide report and, with ``orgs``, one report per organisation.

    Parameters
    ----------
    study : Study or path
        The study (its store is read; nothing is written to it).
    out_dir : str or Path
        Parent of the report folders.
    orgs : "all", list of str, or None
        Organisation reports to build besides the field-wide one.
    formats : sequence of {"html", "pdf", "docx"}
    engine : {"auto", "quarto", "pandoc"}
    command : str, optional
        The command recorded in each manifest (default: a description of this call).
    findings_path : path, optional
        Findings file shown with the lived-experience results (default the bundled
        ``analysis/field-findings.yaml``).
    progress : callable, optional
        Called after each report with its organisation (None for the field report).
    field : bool
        Build the field-wide report (default True).
    on_start : callable, optional
        Called once with the number of reports, before the first is built (for progress bars).
    wave : str, optional
        The wave to report (default the latest); later waves are left out.
    jobs : int
        Worker processes (default 1). With more, reports are built in worker processes that
        share the loaded study (and compute organisation reports' fits while the main process
        analyses); results are the same bytes in the same order.

    Returns
    -------
    list of (org or None, dict of format to Path)

    Examples
    --------
    >>> build_reports("my-study", "out", orgs="all", formats=("html",))  # doctest: +SKIP
    [(None, {'html': PosixPath('out/field/report.html')}), ('O01', {...}), ...]
    """
    if not isinstance(study, Study):
        study = open_study(study)
    with stage("load"):
        data = load_study_data(study, n_boot=N_BOOT, wave=wave)
    if orgs == "all":
        selected = data.organisations
    elif orgs is None:
        selected = []
    elif isinstance(orgs, str):
        selected = [orgs]
    else:
        selected = [str(o) for o in orgs]
    unknown = [o for o in selected if o not in data.organisations]
    if unknown:
        raise ValueError(
            f"no responses from organisation(s) {', '.join(unknown)}; the study has "
            f"{', '.join(data.organisations)}"
        )
    if command is None:
        what = "all" if orgs == "all" else selected
        command = f"build_reports(study={study_path(study)!r}, orgs={what!r})"
    targets: list[str | None] = ([None] if field else []) + list(selected)
    if on_start is not None:
        on_start(len(targets))
    options = {
        "formats": tuple(formats),
        "engine": engine,
        "command": command,
        "findings_path": findings_path,
    }
    # Render workers start now and load while the reports are gated.
    pool = _start_pool(data, out_dir, options, jobs) if jobs > 1 and len(targets) > 1 else None
    try:
        # Meanwhile they compute each organisation's reliability and lived-experience tests
        # (most of an organisation report's analysis), which the analysis below picks up.
        ahead = _compute_ahead(pool, selected, jobs) if pool is not None else None
        # Gate every report first, one after the other through the study's ledger, so each is
        # judged with all the others; only then render (in parallel if asked).
        gated = gate_reports(data, targets, findings=_findings(findings_path), command=command,
                             ahead=ahead)
        if pool is not None:
            return _build_parallel(pool, [gated[o] for o in targets], progress)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    results: list[tuple[str | None, dict[str, Path]]] = []
    for org in targets:
        results.append((org, build_report(data, out_dir, gated[org], **options)))
        if progress is not None:
            progress(org)
    return results


# Set once in each worker by its initializer: the loaded study travels to a worker once, not
# pickled with every task.
_SHARED: dict[str, Any] = {}


def _init_worker(data: StudyData, out_dir: str | Path, options: dict[str, Any]) -> None:
    _SHARED.update(data=data, out_dir=out_dir, options=options)


def _entries_chunk(orgs: list[str]) -> tuple[dict[tuple, Any], dict[str, Any]]:
    from fieldsurvey.analyse.report import organisation_entries

    reset_stage_times()  # the worker's times travel back with the entries
    with stage("ahead"):
        entries = organisation_entries(_SHARED["data"], orgs)
    return entries, stage_times()


def _compute_ahead(pool: Any, orgs: Sequence[str], jobs: int
                   ) -> dict[str, Callable[[], dict[tuple, Any]]]:
    """Organisation reports' fits computed in the pool: a callable per organisation waiting
    for its chunk's entries (see :func:`~fieldsurvey.analyse.report.organisation_entries`).

    Organisations go in runs, in the order the analysis asks for them, a few per worker so
    the first rows are ready early.
    """
    size = max(1, -(-len(orgs) // (4 * jobs)))
    waiting: dict[str, Callable[[], Any]] = {}
    for start in range(0, len(orgs), size):
        chunk = list(orgs[start:start + size])
        fetch = _Fetch(pool.submit(_entries_chunk, chunk))
        waiting.update(dict.fromkeys(chunk, fetch.entries))
    return waiting


class _Fetch:
    """One chunk's result, its worker's stage times merged here once."""

    def __init__(self, future: Any) -> None:
        self.future = future
        self.done: dict[tuple, Any] | None = None

    def entries(self) -> dict[tuple, Any]:
        if self.done is None:
            self.done, times = self.future.result()
            merge_stage_times(times)
        return self.done


def _build_one(gated: GatedReport) -> tuple[str | None, dict[str, Path], dict[str, Any]]:
    reset_stage_times()  # the worker's stage times travel back with each report
    outputs = build_report(_SHARED["data"], _SHARED["out_dir"], gated, **_SHARED["options"])
    return gated.org, outputs, stage_times()


def _warm_up() -> None:
    """Load what rendering needs (typst, the pandoc binary's path, the section writers and
    matplotlib's fonts: about a second) while the main process is still analysing."""
    import typst  # noqa: F401
    from matplotlib import font_manager

    from fieldsurvey.report import content, figures  # noqa: F401
    from fieldsurvey.report.render import _pandoc_path, _typst_compiler

    _pandoc_path()
    _typst_compiler()
    font_manager.findfont(figures.HOUSE_STYLE["font.family"])


def _start_pool(data: StudyData, out_dir: str | Path, options: dict[str, Any],
                jobs: int) -> Any:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Workers come from a fresh fork server, not from this process: forking a process that runs
    # other threads (a progress bar, BLAS, DuckDB) can copy a held lock into the child and
    # hang it.
    context = multiprocessing.get_context("forkserver")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                               initargs=(data, out_dir, options))
    for _ in range(jobs):  # a task per worker starts them all
        pool.submit(_warm_up)
    return pool


def _build_parallel(
    pool: Any,
    targets: list[GatedReport],
    progress: Callable[[str | None], None] | None,
) -> list[tuple[str | None, dict[str, Path]]]:
    from concurrent.futures import as_completed

    done: dict[str | None, dict[str, Path]] = {}
    futures = [pool.submit(_build_one, gated) for gated in targets]
    for future in as_completed(futures):
        org, outputs, times = future.result()
        merge_stage_times(times)
        done[org] = outputs
        if progress is not None:
            progress(org)
    return [(g.org, done[g.org]) for g in targets]
