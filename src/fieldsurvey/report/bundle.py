"""The results bundle: the gated tables and figures one report is written from, with a manifest.

A bundle is a folder::

    bundle/
      tables/<name>.csv     every gated table the report shows (withheld values empty)
      tables/<name>.json    small records (summary sentences, settings) as JSON
      figures/<name>.png    figures drawn from gated values only
      manifest.json         every file with its SHA-256, the inputs' SHA-256s, package
                            versions, study settings and the command that made it

Everything is written byte-for-byte reproducibly: CSVs with ``\\n`` line ends and Python's
shortest round-trip float text, JSON with sorted keys, no wall-clock time anywhere. The same
inputs give the same bytes, which is what ``fieldsurvey verify`` relies on.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "MANIFEST",
    "PACKAGES",
    "ResultsBundle",
    "file_sha256",
    "package_versions",
    "read_manifest",
    "read_table",
]

MANIFEST = "manifest.json"
#: Packages whose versions can change a number or a figure; recorded in every manifest.
PACKAGES = (
    "fieldsurvey",
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "pingouin",
    "duckdb",
    "matplotlib",
    "pypandoc-binary",
    "typst",
)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file as hex.

    Examples
    --------
    >>> file_sha256("bundle/manifest.json")  # doctest: +SKIP
    '3f1c...'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`PACKAGES` ("not installed" when absent)."""
    return dict(_installed_versions())


@cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    # Looked up once per process: each lookup scans the environment's metadata (tens of ms),
    # and every report's manifest records the same versions.
    out = []
    for name in PACKAGES:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            out.append((name, "not installed"))
    return tuple(out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, int | str):
        return value
    if isinstance(value, Path):
        return value.as_posix()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _dump_json(data: Any) -> bytes:
    return (
        json.dumps(_jsonable(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    ).encode("utf-8")


def _csv_bytes(table: pd.DataFrame) -> bytes:
    # repr floats (shortest round-trip), empty for missing: stable across runs and platforms.
    return table.to_csv(index=False, lineterminator="\n", na_rep="").encode("utf-8")


@dataclass
class ResultsBundle:
    """A results bundle under construction; :meth:`write` puts it on disk with its manifest.

    Parameters
    ----------
    folder : Path
        The bundle folder (created on write).

    Examples
    --------
    >>> b = ResultsBundle(Path("out/field/bundle"))  # doctest: +SKIP
    >>> b.add_table("respondents_by_wave", table)  # doctest: +SKIP
    >>> b.write(inputs=[...], settings={...}, command="fieldsurvey report s")  # doctest: +SKIP
    """

    folder: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    records: dict[str, Any] = field(default_factory=dict)

    @property
    def figures_dir(self) -> Path:
        return self.folder / "figures"

    def add_table(self, name: str, table: pd.DataFrame) -> pd.DataFrame:
        """Register a gated table (written as ``tables/<name>.csv``) and return it."""
        if name in self.tables:
            raise ValueError(f"bundle table {name!r} added twice")
        self.tables[name] = table.reset_index(drop=True)
        return self.tables[name]

    def add_record(self, name: str, record: Any) -> None:
        """Register a JSON record (written as ``tables/<name>.json``)."""
        if name in self.records:
            raise ValueError(f"bundle record {name!r} added twice")
        self.records[name] = record

    def write(
        self,
        *,
        inputs: list[dict[str, Any]],
        settings: dict[str, Any],
        command: str,
        study_path: str,
        report: dict[str, Any],
    ) -> dict[str, Any]:
        """Write tables, records and ``manifest.json``; return the manifest.

        Figures must already be in :attr:`figures_dir`; every file under the folder except the
        manifest is listed with its SHA-256.
        """
        tables_dir = self.folder / "tables"
        tables_dir.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables.items():
            (tables_dir / f"{name}.csv").write_bytes(_csv_bytes(table))
        for name, record in self.records.items():
            (tables_dir / f"{name}.json").write_bytes(_dump_json(record))
        files = []
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
            relative = path.relative_to(self.folder).as_posix()
            if relative == MANIFEST:
                continue
            files.append({"path": relative, "sha256": file_sha256(path)})
        manifest = {
            "format": "fieldsurvey-results-bundle/1",
            "report": report,
            "study": study_path,
            "command": command,
            "inputs": inputs,
            "settings": settings,
            "packages": package_versions(),
            "files": files,
        }
        (self.folder / MANIFEST).write_bytes(_dump_json(manifest))
        return manifest


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """Read a bundle's ``manifest.json`` (``folder`` may be the bundle or the report folder)."""
    folder = Path(folder)
    for candidate in (folder / MANIFEST, folder / "bundle" / MANIFEST):
        if candidate.is_file():
            return json.loads(candidate.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"no {MANIFEST} in {folder} or {folder / 'bundle'}")


def read_table(folder: str | Path, name: str) -> pd.DataFrame:
    """Read one bundle table back as strings (exactly as written; empty = withheld/missing)."""
    return pd.read_csv(Path(folder) / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)
