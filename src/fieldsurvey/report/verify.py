"""Recompute a report's results bundle from its recorded inputs and compare every number.

``fieldsurvey verify REPORT_DIR`` reads ``bundle/manifest.json``, reopens the study folder it
records, rebuilds the bundle in a scratch folder with the recorded command and settings, and
compares: every table cell by cell (naming table, row and column of each difference), every
figure and record by SHA-256, the input files' SHA-256s (and the staff head counts' file,
when the study weights its estimates), and each file on disk against the
SHA-256 the manifest lists for it (so an edited bundle file is caught even when the edit
happens to match the recomputation).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fieldsurvey.analyse.study import load_study_data
from fieldsurvey.report.build import _findings, make_bundle
from fieldsurvey.report.bundle import MANIFEST, file_sha256, read_manifest
from fieldsurvey.report.release import gate_reports
from fieldsurvey.store import open_study

__all__ = ["VerifyResult", "verify_report"]

DIFF_COLUMNS = ["file", "row", "column", "recorded", "recomputed"]


@dataclass
class VerifyResult:
    """The outcome of :func:`verify_report`.

    Attributes
    ----------
    identical : bool
        True when every number, figure and input matches.
    differences : DataFrame
        One row per difference: ``file`` (e.g. ``tables/scale_scores.csv``), ``row`` (0-based
        data row, NA for whole files), ``column``, ``recorded``, ``recomputed``.
    files_checked : int
    """

    identical: bool
    differences: pd.DataFrame
    files_checked: int


def _bundle_dir(report_dir: Path) -> Path:
    if (report_dir / MANIFEST).is_file():
        return report_dir
    return report_dir / "bundle"


def _compare_tables(name: str, recorded: Path, recomputed: Path) -> list[dict]:
    a = pd.read_csv(recorded, dtype=str, keep_default_na=False)
    b = pd.read_csv(recomputed, dtype=str, keep_default_na=False)
    out = []
    for col in sorted(set(a.columns) ^ set(b.columns)):
        out.append(
            {
                "file": name,
                "row": pd.NA,
                "column": col,
                "recorded": "present" if col in a.columns else "absent",
                "recomputed": "present" if col in b.columns else "absent",
            }
        )
    if len(a) != len(b):
        out.append(
            {
                "file": name,
                "row": pd.NA,
                "column": "(rows)",
                "recorded": str(len(a)),
                "recomputed": str(len(b)),
            }
        )
    for col in [c for c in a.columns if c in b.columns]:
        for i in range(min(len(a), len(b))):
            x, y = a.at[i, col], b.at[i, col]
            if x != y:
                out.append({"file": name, "row": i, "column": col, "recorded": x, "recomputed": y})
    return out


def verify_report(report_dir: str | Path) -> VerifyResult:
    """Recompute a report's bundle from the recorded study and compare every number.

    Parameters
    ----------
    report_dir : str or Path
        A report folder (holding ``bundle/``) or the bundle folder itself.

    Returns
    -------
    VerifyResult

    Examples
    --------
    >>> res = verify_report("out/org-O01")  # doctest: +SKIP
    >>> res.identical  # doctest: +SKIP
    True
    """
    bundle_dir = _bundle_dir(Path(report_dir))
    manifest = read_manifest(bundle_dir)
    diffs: list[dict] = []
    recorded_files = {f["path"]: f["sha256"] for f in manifest["files"]}
    for path, sha in recorded_files.items():
        on_disk = bundle_dir / path
        actual = file_sha256(on_disk) if on_disk.is_file() else "missing"
        if actual != sha:
            diffs.append(
                {
                    "file": path,
                    "row": pd.NA,
                    "column": "(sha256 in manifest)",
                    "recorded": sha,
                    "recomputed": actual,
                }
            )
    study = open_study(manifest["study"])
    settings = manifest.get("settings", {})
    findings = settings.get("findings")
    data = load_study_data(study, n_boot=int(settings.get("n_boot", 200)),
                           wave=settings.get("reported_wave"))
    recorded_inputs = [(i["wave"], i["sha256"]) for i in manifest.get("inputs", [])]
    current_inputs = [(str(i["wave"]), i["sha256"]) for i in data.inputs]
    if recorded_inputs != current_inputs:
        diffs.append(
            {
                "file": MANIFEST,
                "row": pd.NA,
                "column": "inputs",
                "recorded": "; ".join(f"{n} {s[:12]}" for n, s in recorded_inputs),
                "recomputed": "; ".join(f"{n} {s[:12]}" for n, s in current_inputs),
            }
        )
    recorded_staff = settings.get("staff_counts_sha256")
    staff_file = study.config.staff_counts
    current_staff = file_sha256(study.root / staff_file) if staff_file is not None else None
    if recorded_staff != current_staff:  # the survey weights' input changed
        diffs.append(
            {
                "file": MANIFEST,
                "row": pd.NA,
                "column": "staff_counts_sha256",
                "recorded": recorded_staff or "absent",
                "recomputed": current_staff or "absent",
            }
        )
    org = manifest.get("report", {}).get("org")
    with tempfile.TemporaryDirectory(prefix="fieldsurvey-verify-") as tmp:
        folder = Path(tmp) / "report"
        findings_path = None if findings in (None, "bundled") else findings
        gated = gate_reports(data, [org], findings=_findings(findings_path),
                             command=manifest["command"], record=False)[org]
        make_bundle(data, gated, folder, command=manifest["command"],
                    findings_path=findings_path)
        fresh_dir = folder / "bundle"
        fresh = {
            p.relative_to(fresh_dir).as_posix(): p
            for p in fresh_dir.rglob("*")
            if p.is_file() and p.name != MANIFEST
        }
        for path in sorted(set(recorded_files) | set(fresh)):
            mine, theirs = bundle_dir / path, fresh.get(path)
            if theirs is None or not mine.is_file():
                diffs.append(
                    {
                        "file": path,
                        "row": pd.NA,
                        "column": "(file)",
                        "recorded": "present" if mine.is_file() else "absent",
                        "recomputed": "present" if theirs is not None else "absent",
                    }
                )
                continue
            if path.endswith(".csv"):
                diffs.extend(_compare_tables(path, mine, theirs))
            elif file_sha256(mine) != file_sha256(theirs):
                diffs.append(
                    {
                        "file": path,
                        "row": pd.NA,
                        "column": "(sha256)",
                        "recorded": file_sha256(mine),
                        "recomputed": file_sha256(theirs),
                    }
                )
    table = pd.DataFrame(diffs, columns=DIFF_COLUMNS)
    table["row"] = table["row"].astype("Int64")
    return VerifyResult(identical=table.empty, differences=table, files_checked=len(recorded_files))
