"""Find instruments by bundled id or by path, and attach user-supplied wording.

Licensed instruments ship without their wording. A user who holds the wording attaches it with
``fieldsurvey instrument wording ID --from FILE``; the file is copied into the user's own wording
folder (``$FIELDSURVEY_HOME/wording``, default ``~/.local/share/fieldsurvey/wording``), never into
the package, and is merged into the instrument only when a caller asks for wording
(``resolve_instrument(ref, with_wording=True)``), e.g. for fielding.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import yaml

from fieldsurvey.instrument.load import InstrumentError, load_instrument
from fieldsurvey.instrument.model import Instrument
from fieldsurvey.resources import data_dir


def bundled_instrument_path(instrument_id: str) -> Path:
    """Path of a bundled instrument's YAML file."""
    path = data_dir("instruments") / f"{instrument_id}.yaml"
    if not path.is_file():
        known = ", ".join(bundled_instrument_ids())
        raise InstrumentError([f"no bundled instrument {instrument_id!r} (bundled: {known})"])
    return path


def bundled_instrument_ids() -> list[str]:
    return sorted(p.stem for p in data_dir("instruments").glob("*.yaml"))


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime: float) -> Instrument:
    return load_instrument(path)


def resolve_instrument(ref: str | Path | Instrument, with_wording: bool = False) -> Instrument:
    """Return an instrument given a bundled id (``"proqol5"``), a YAML path, or an Instrument.

    Parameters
    ----------
    ref : str, Path or Instrument
    with_wording : bool
        Merge wording the user attached with :func:`attach_wording` (needed for fielding).

    Examples
    --------
    >>> resolve_instrument("proqol5").title
    'Professional Quality of Life Scale, version 5 (ProQOL 5)'
    """
    if isinstance(ref, Instrument):
        inst = ref
    else:
        text = str(ref)
        path = Path(text)
        if text.endswith((".yaml", ".yml")) or path.is_file():
            if not path.is_file():
                raise InstrumentError([f"{path}: no such instrument file"])
        else:
            path = bundled_instrument_path(text)
        inst = _load_cached(str(path.resolve()), path.stat().st_mtime)
    if with_wording and not inst.has_wording:
        inst = _merge_user_wording(inst)
    return inst


def wording_home() -> Path:
    base = os.environ.get("FIELDSURVEY_HOME")
    root = Path(base) if base else Path.home() / ".local" / "share" / "fieldsurvey"
    return root / "wording"


def attach_wording(instrument_id: str, source: str | Path) -> Path:
    """Check a wording file against the instrument and store it in the user's wording folder.

    The file is YAML: ``{items: {pq01: {en: "...", es: "..."}, ...}}`` or ``{items: {pq01: "..."}}``,
    plus optional ``adapted: true`` when the wording was changed from the original (fielded forms
    then say so, as licences such as the ProQOL's require). Returns the stored path.
    """
    inst = resolve_instrument(instrument_id)
    source = Path(source)
    wording = _read_wording(source)
    _merge(inst, wording, source.name)  # validates coverage and languages
    target = wording_home() / f"{inst.id}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def wording_is_adapted(instrument_id: str) -> bool:
    path = wording_home() / f"{instrument_id}.yaml"
    return path.is_file() and bool(_read_wording(path).get("adapted", False))


def _read_wording(path: Path) -> Mapping:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InstrumentError([f"{path.name}: cannot read wording file: {exc}"]) from exc
    if not isinstance(raw, Mapping) or not isinstance(raw.get("items"), Mapping):
        raise InstrumentError([f"{path.name}: items: a wording file needs 'items: {{item_id: text}}'"])
    return raw


def _merge(inst: Instrument, wording: Mapping, filename: str) -> Instrument:
    texts = wording["items"]
    problems = []
    unknown = [k for k in texts if k not in inst.item_ids]
    for key in unknown:
        problems.append(f"{filename}: items.{key}: unknown item for instrument {inst.id!r}")
    normalised: dict[str, dict[str, str]] = {}
    for item_id in inst.item_ids:
        value = texts.get(item_id)
        if value is None:
            problems.append(f"{filename}: items.{item_id}: missing wording")
            continue
        normalised[item_id] = {"en": value} if isinstance(value, str) else dict(value)
    langs = {lang for v in normalised.values() for lang in v}
    for item_id, v in normalised.items():
        for lang in sorted(langs - set(v)):
            problems.append(f"{filename}: items.{item_id}: no wording in language {lang!r}")
    if problems:
        raise InstrumentError(problems)
    items = tuple(replace(it, text=normalised[it.id]) for it in inst.items)
    return replace(inst, items=items)


def _merge_user_wording(inst: Instrument) -> Instrument:
    path = wording_home() / f"{inst.id}.yaml"
    if not path.is_file():
        return inst
    return _merge(inst, _read_wording(path), path.name)
