"""A study folder: ``study.yaml`` (its settings) and the folders and database it uses.

::

    my-study/
      study.yaml        title, instruments, organisation column, groups, waves, minimum cell
                        size, exclusion rules, microdata (what ``export-data`` protects)
      store.duckdb      the study store (see fieldsurvey.store.database)
      imports/          nothing is written here by fieldsurvey: a place to keep received files
      exports/          cleaned data written by ``fieldsurvey export-data``
      reports/          reports written by ``fieldsurvey report``

``study.yaml`` is validated on load; every problem names the field, e.g.
``study.yaml: exclusions.speeder_seconds: must be a positive number``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fieldsurvey.errors import FieldsurveyError
from fieldsurvey.instrument import Instrument, InstrumentError, resolve_instrument

STUDY_FILE = "study.yaml"
STORE_FILE = "store.duckdb"
MIN_CELL_FLOOR = 5


class StudyError(FieldsurveyError, ValueError):
    """A study folder or its ``study.yaml`` is invalid."""


@dataclass(frozen=True)
class Exclusions:
    """Which flagged responses are left out of analyses (they stay in the store)."""

    incomplete: bool = True  # platform says not finished
    min_progress: float = 0.0  # percent; below it a response counts as incomplete
    speeder_seconds: float | None = None  # faster than this is flagged as a speeder
    speeders: bool = False  # exclude speeders (else only flagged)
    straightlining: bool = False  # exclude straight-liners (else only flagged)
    attention_failed: bool = True  # exclude failed attention checks


@dataclass(frozen=True)
class MicrodataSettings:
    """How ``export-data`` protects respondent-level files (see docs/microdata.md).

    ``key_variables`` and ``sensitive`` of None mean the defaults found in the data: keys
    org, role, tenure, pay band, lived experience, peer role, age band and gender; sensitive
    lived experience. ``recode`` gives a key its own ladder of wider groups: for each rung, a
    mapping of new label -> the codes it covers.
    """

    key_variables: tuple[str, ...] | None = None
    sensitive: tuple[str, ...] | None = None
    l_diversity: int = 2
    max_suppression: float = 0.05
    recode: dict[str, tuple[dict[str, tuple[Any, ...]], ...]] = field(default_factory=dict)

    def to_yaml_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("key_variables", "sensitive"):
            if getattr(self, name) is not None:
                out[name] = list(getattr(self, name))
        out["l_diversity"], out["max_suppression"] = self.l_diversity, self.max_suppression
        if self.recode:
            out["recode"] = {var: [{label: list(codes) for label, codes in rung.items()}
                                   for rung in rungs] for var, rungs in self.recode.items()}
        return out


@dataclass(frozen=True)
class StudyConfig:
    """The settings in ``study.yaml``."""

    title: str
    instruments: tuple[str, ...]
    org_column: str | None = None
    group_columns: tuple[str, ...] = ()
    waves: tuple[str, ...] = ()
    min_cell: int = 10
    keep_free_text: bool = False
    # Survey weights: a CSV of staff head counts (columns org, role, staff) beside study.yaml.
    staff_counts: str | None = None
    role_column: str = "wf_role"
    weighting: str = "poststratify"
    attention_checks: dict[str, int] = field(default_factory=dict)
    exclusions: Exclusions = field(default_factory=Exclusions)
    microdata: MicrodataSettings = field(default_factory=MicrodataSettings)
    #: The field report's coalition view names organisations by their codes (else "Member 1"...).
    name_organisations: bool = False

    def to_yaml_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["instruments"] = list(self.instruments)
        out["group_columns"] = list(self.group_columns)
        out["waves"] = list(self.waves)
        if self.microdata == MicrodataSettings():
            del out["microdata"]
        else:
            out["microdata"] = self.microdata.to_yaml_dict()
        if not self.name_organisations:
            del out["name_organisations"]
        return out


@dataclass(frozen=True)
class Study:
    """An opened study folder."""

    root: Path
    config: StudyConfig

    @property
    def store_path(self) -> Path:
        return self.root / STORE_FILE

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def instruments(self) -> list[Instrument]:
        return [resolve_instrument(ref) for ref in self.config.instruments]

    def staff_table(self) -> pd.DataFrame | None:
        """Staff head counts by organisation and role (for survey weights), if the study has them.

        The file has columns ``org``, ``role`` and ``staff``; ``role`` is renamed to the study's
        ``role_column``.
        """
        if self.config.staff_counts is None:
            return None
        path = self.root / self.config.staff_counts
        table = pd.read_csv(path, dtype={"org": str})
        missing = [c for c in ("org", "role", "staff") if c not in table.columns]
        if missing:
            raise StudyError(f"{path.name}: missing column(s) {', '.join(missing)} "
                             "(expected org, role, staff)")
        return table.rename(columns={"role": self.config.role_column})

    def default_wave(self) -> str:
        return self.config.waves[0] if self.config.waves else "1"


def init_study(
    root: str | Path,
    instruments: list[str],
    *,
    title: str | None = None,
    org_column: str | None = None,
    group_columns: list[str] | None = None,
    waves: list[str] | None = None,
    min_cell: int = 10,
) -> Study:
    """Create a study folder with ``study.yaml`` and an empty store.

    Parameters
    ----------
    root : folder to create (must not already hold a study)
    instruments : bundled instrument ids or YAML paths
    org_column : the column (an item id such as ``wf_org``, or a source column) that names each
        response's organisation; ``--org`` at ingest can set it for a whole file instead
    min_cell : minimum cell size for anything shown (default 10; below 5 refused)

    Examples
    --------
    >>> study = init_study(tmp_path / "s", ["workforce-context", "proqol5"],
    ...                    org_column="wf_org")  # doctest: +SKIP
    """
    root = Path(root)
    if (root / STUDY_FILE).exists():
        raise StudyError(f"{root / STUDY_FILE}: a study already exists here")
    config = StudyConfig(
        title=title or root.name,
        instruments=tuple(instruments),
        org_column=org_column,
        group_columns=tuple(group_columns or ()),
        waves=tuple(str(w) for w in waves or ()),
        min_cell=min_cell,
    )
    config = _validate(config.to_yaml_dict(), root / STUDY_FILE)  # same checks as on load
    _check_columns(config)
    for sub in ("imports", "exports", "reports"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / STUDY_FILE).write_text(
        "# fieldsurvey study settings; see docs/study.md\n"
        + yaml.safe_dump(config.to_yaml_dict(), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    study = Study(root=root, config=config)
    from fieldsurvey.store.database import open_store

    open_store(study).close()
    return study


def _check_columns(config: StudyConfig) -> None:
    """Group columns must be items (only items are stored); an org column that is not one must
    be in every file ingested, which is worth a warning."""
    insts = [resolve_instrument(ref) for ref in config.instruments]
    items = {item.id for inst in insts for item in inst.items}
    grouping = [item.id for inst in insts for item in inst.items
                if inst.response_scale_of(item.id).type in ("categorical", "yesno")]
    unknown = [c for c in config.group_columns if c not in items]
    if unknown:
        raise StudyError(
            f"group column(s) {', '.join(map(repr, unknown))} are not items of the study's "
            f"instruments, so ingest could never store them: use item ids "
            f"({', '.join(grouping) or 'none of the instruments has a grouping item'}), or add "
            "an instrument that defines the column"
        )
    if config.org_column and config.org_column not in items:
        warnings.warn(
            f"org column {config.org_column!r} is not an item of the study's instruments: every "
            "file you ingest must have a column of that name (or give --org); it is used as the "
            "organisation code and not stored as an answer",
            UserWarning,
            stacklevel=3,
        )


def open_study(root: str | Path) -> Study:
    """Open and validate an existing study folder."""
    root = Path(root)
    path = root / STUDY_FILE
    if not path.is_file():
        raise StudyError(f"{root}: not a study folder (no {STUDY_FILE}); create one with "
                         "`fieldsurvey init`")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise StudyError(f"{path}: cannot read: {exc}") from exc
    return Study(root=root, config=_validate(raw, path))


def _validate(raw: Any, path: Path) -> StudyConfig:
    name = path.name
    problems: list[str] = []

    def bad(where: str, message: str) -> None:
        problems.append(f"{name}: {where}: {message}")

    if not isinstance(raw, Mapping):
        raise StudyError(f"{name}: must be a mapping of settings")
    known = {f for f in StudyConfig.__dataclass_fields__}
    for key in raw:
        if key not in known:
            bad(str(key), f"unknown setting (expected one of {sorted(known)})")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        bad("title", "is required")
    instruments = raw.get("instruments")
    if not isinstance(instruments, list) or not instruments:
        bad("instruments", "is required: a list of instrument ids or YAML paths")
        instruments = []
    for i, ref in enumerate(instruments):
        ref_path = Path(str(ref))
        if not ref_path.is_absolute() and str(ref).endswith((".yaml", ".yml")):
            ref_path = path.parent / ref_path
            instruments[i] = str(ref_path)
        try:
            resolve_instrument(str(ref_path) if str(ref).endswith((".yaml", ".yml")) else str(ref))
        except InstrumentError as exc:
            bad(f"instruments[{i}]", str(exc).splitlines()[0])
    min_cell = raw.get("min_cell", 10)
    if "force_min_cell" in raw:
        bad("force_min_cell", "is no longer supported: no minimum cell size below "
            f"{MIN_CELL_FLOOR} is accepted")
    if isinstance(min_cell, bool) or not isinstance(min_cell, int) or min_cell < 1:
        bad("min_cell", "must be a whole number of respondents (default 10)")
        min_cell = 10
    elif min_cell < MIN_CELL_FLOOR:
        bad("min_cell", f"{min_cell} is below {MIN_CELL_FLOOR}: refused (a threshold of 1-4 "
            "singles out people in small organisations)")
    for key in ("group_columns", "waves"):
        value = raw.get(key) or []
        if not isinstance(value, list):
            bad(key, "must be a list")
    exclusions_raw = raw.get("exclusions") or {}
    exclusions = Exclusions()
    if not isinstance(exclusions_raw, Mapping):
        bad("exclusions", "must be a mapping")
    else:
        fields = Exclusions.__dataclass_fields__
        for key in exclusions_raw:
            if key not in fields:
                bad(f"exclusions.{key}", f"unknown rule (expected one of {sorted(fields)})")
        speed = exclusions_raw.get("speeder_seconds")
        if speed is not None and (not isinstance(speed, int | float) or isinstance(speed, bool) or speed <= 0):
            bad("exclusions.speeder_seconds", "must be a positive number of seconds")
        progress = exclusions_raw.get("min_progress", 0)
        if not isinstance(progress, int | float) or not 0 <= progress <= 100:
            bad("exclusions.min_progress", "must be a percentage 0-100")
        for flag in ("incomplete", "speeders", "straightlining", "attention_failed"):
            if flag in exclusions_raw and not isinstance(exclusions_raw[flag], bool):
                bad(f"exclusions.{flag}", "must be true or false")
        if not problems:
            exclusions = Exclusions(**{k: v for k, v in exclusions_raw.items() if k in fields})
    staff_counts = raw.get("staff_counts")
    if staff_counts is not None:
        staff_path = path.parent / str(staff_counts)
        if not staff_path.is_file():
            bad("staff_counts", f"no file {staff_path.name} beside study.yaml")
    weighting = raw.get("weighting", "poststratify")
    if weighting not in ("poststratify", "rake"):
        bad("weighting", "must be 'poststratify' or 'rake'")
    role_column = raw.get("role_column", "wf_role")
    if not isinstance(role_column, str):
        bad("role_column", "must be a column name")
    checks = raw.get("attention_checks") or {}
    if not isinstance(checks, Mapping) or not all(isinstance(v, int) for v in checks.values()):
        bad("attention_checks", "must map item ids to the expected answer code")
        checks = {}
    microdata = _validate_microdata(raw.get("microdata"), instruments, bad)
    named = raw.get("name_organisations", False)
    if not isinstance(named, bool):
        bad("name_organisations", "must be true or false")
    if problems:
        raise StudyError("\n".join(problems))
    return StudyConfig(
        title=title,
        instruments=tuple(str(i) for i in instruments),
        org_column=raw.get("org_column"),
        group_columns=tuple(raw.get("group_columns") or ()),
        waves=tuple(str(w) for w in raw.get("waves") or ()),
        min_cell=min_cell,
        keep_free_text=bool(raw.get("keep_free_text", False)),
        attention_checks=dict(checks),
        exclusions=exclusions,
        staff_counts=str(staff_counts) if staff_counts is not None else None,
        role_column=role_column,
        weighting=weighting,
        microdata=microdata,
        name_organisations=bool(named),
    )


def _validate_microdata(raw: Any, instruments: list, bad) -> MicrodataSettings:
    """The ``microdata`` settings; every problem is reported through ``bad``."""
    if raw is None:
        return MicrodataSettings()
    if not isinstance(raw, Mapping):
        bad("microdata", "must be a mapping (key_variables, sensitive, l_diversity, "
            "max_suppression, recode)")
        return MicrodataSettings()
    fields = set(MicrodataSettings.__dataclass_fields__)
    for key in raw:
        if key not in fields:
            bad(f"microdata.{key}", f"unknown setting (expected one of {sorted(fields)})")
    columns = {"org"}
    for ref in instruments:
        try:
            columns |= {item.id for item in resolve_instrument(str(ref)).items}
        except InstrumentError:
            pass  # reported under instruments
    lists: dict[str, tuple[str, ...] | None] = {}
    for name in ("key_variables", "sensitive"):
        value = raw.get(name)
        if value is not None and (not isinstance(value, list)
                                  or not all(isinstance(v, str) for v in value)):
            bad(f"microdata.{name}", "must be a list of column names (item ids or org)")
            value = None
        for i, column in enumerate(value or []):
            if column not in columns:
                bad(f"microdata.{name}[{i}]", f"{column!r} is not org or an item of the "
                    "study's instruments")
        lists[name] = tuple(value) if value is not None else None
    l_div = raw.get("l_diversity", 2)
    if isinstance(l_div, bool) or not isinstance(l_div, int) or l_div < 1:
        bad("microdata.l_diversity", "must be a whole number of at least 1 (default 2)")
        l_div = 2
    share = raw.get("max_suppression", 0.05)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        bad("microdata.max_suppression", "must be a share between 0 and 1 (default 0.05)")
        share = 0.05
    recode = _validate_recode(raw.get("recode") or {}, bad)
    return MicrodataSettings(lists["key_variables"], lists["sensitive"], l_div, float(share),
                             recode)


def _validate_recode(raw: Any, bad) -> dict[str, tuple[dict[str, tuple[Any, ...]], ...]]:
    shape = "must map a key variable to a list of rungs, each {new label: [codes]}"
    if not isinstance(raw, Mapping):
        bad("microdata.recode", shape)
        return {}
    out = {}
    for var, rungs in raw.items():
        ok = isinstance(rungs, list) and all(
            isinstance(r, Mapping) and all(isinstance(c, list) for c in r.values()) for r in rungs)
        if not ok:
            bad(f"microdata.recode.{var}", shape)
            continue
        out[str(var)] = tuple({str(label): tuple(codes) for label, codes in rung.items()}
                              for rung in rungs)
    return out
