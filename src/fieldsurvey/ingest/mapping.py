"""Map an export's columns to instrument items, and its answers to the instruments' codes.

Columns map automatically when their name is an item id (ignoring case and underscores, which
LimeSurvey codes cannot hold), or ends in ``[item_id]`` (LimeSurvey array sub-questions); anything
else needs a mapping file. Unmapped columns are listed,
never guessed. Answers that arrive as labels ("Very Often") become codes through the instrument's
labels, ignoring case and spacing; a mapping file can add labels of its own.

Mapping file (YAML)::

    columns:            # source column -> item id
      Q12_1: pq01
    values:             # extra answer labels -> codes, per item id or "*" for every item
      "*": {"Nunca": 1}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from fieldsurvey.ingest.errors import IngestError
from fieldsurvey.instrument import Instrument
from fieldsurvey.instrument.answers import check_codes, parse_numbers
from fieldsurvey.instrument.model import ResponseScale

_BRACKETED = re.compile(r"^.*\[([A-Za-z_][A-Za-z0-9_]*)\]$")


@dataclass(frozen=True)
class MappingFile:
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnMapping:
    """Which source column answers which item."""

    item_for_column: dict[str, str]
    unmapped: list[str]
    missing_items: list[str]


def normalise_label(text: object) -> str:
    """Case- and spacing-insensitive form of an answer label."""
    return " ".join(str(text).split()).casefold()


def read_mapping_file(path: str | Path, instruments: Iterable[Instrument]) -> MappingFile:
    """Read and check a mapping file; errors name the file and the key."""
    path = Path(path)
    known = {item.id for inst in instruments for item in inst.items}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise IngestError(path.name, None, None, f"cannot read mapping file: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise IngestError(path.name, None, None, "a mapping file is {columns: ..., values: ...}")
    problems = []
    columns = raw.get("columns") or {}
    values = raw.get("values") or {}
    if not isinstance(columns, Mapping) or not isinstance(values, Mapping):
        raise IngestError(path.name, None, None, "'columns' and 'values' must be mappings")
    for src, item in columns.items():
        if item not in known:
            problems.append(f"columns.{src}: unknown item {item!r}")
    clean_values: dict[str, dict[str, int]] = {}
    for item, labels in values.items():
        if item != "*" and item not in known:
            problems.append(f"values.{item}: unknown item {item!r}")
            continue
        if not isinstance(labels, Mapping) or not all(isinstance(c, int) for c in labels.values()):
            problems.append(f"values.{item}: must map answer labels to integer codes")
            continue
        clean_values[str(item)] = {normalise_label(k): int(v) for k, v in labels.items()}
    if problems:
        raise IngestError(path.name, None, None, "; ".join(problems))
    return MappingFile(columns={str(k): str(v) for k, v in columns.items()}, values=clean_values)


def map_columns(
    columns: Iterable[str], instruments: Iterable[Instrument], mapping: MappingFile | None = None
) -> ColumnMapping:
    """Match source columns to item ids (see module docs). Each item takes one column at most."""
    instruments = list(instruments)
    item_ids = [item.id for inst in instruments for item in inst.items]
    by_folded = {i.casefold(): i for i in item_ids}
    # LimeSurvey codes allow only letters and digits, so fielding writes sc_pay1 as scpay1.
    for i in item_ids:
        by_folded.setdefault(i.replace("_", "").casefold(), i)
    explicit = mapping.columns if mapping else {}
    item_for_column: dict[str, str] = {}
    unmapped: list[str] = []
    taken: set[str] = set()
    for col in columns:
        item = explicit.get(col)
        if item is None:
            item = by_folded.get(str(col).casefold()) or by_folded.get(
                str(col).replace("_", "").casefold()
            )
        if item is None:
            bracket = _BRACKETED.match(str(col))
            if bracket:
                item = by_folded.get(bracket.group(1).casefold())
        if item is None or item in taken:
            unmapped.append(col)
            continue
        taken.add(item)
        item_for_column[col] = item
    missing = [i for i in item_ids if i not in taken]
    return ColumnMapping(item_for_column=item_for_column, unmapped=unmapped, missing_items=missing)


@dataclass
class CodedColumn:
    values: np.ndarray  # float codes, NaN where missing or invalid
    invalid: np.ndarray  # bool
    reasons: np.ndarray  # object, reason per invalid cell


def code_answers(column: pd.Series, scale: ResponseScale, extra_labels: Mapping[str, int] | None = None) -> CodedColumn:
    """Answers as codes: numbers stay, labels become codes, anything else is invalid."""
    values, _, non_numeric = parse_numbers(column)
    unresolved = non_numeric
    if non_numeric.any():
        lookup = {normalise_label(label): code for code, label in scale.labels.items()}
        if scale.type == "yesno":
            lookup.update({"yes": 1, "no": 0, "true": 1, "false": 0})
        lookup.update(extra_labels or {})
        positions = np.flatnonzero(non_numeric)
        labels = column.iloc[positions].map(normalise_label, na_action="ignore")
        codes = labels.map(lookup).to_numpy(dtype=float, na_value=np.nan)
        values = values.copy()
        values[positions] = codes
        unresolved = non_numeric.copy()
        unresolved[positions] = np.isnan(codes)
    values, invalid, reasons = check_codes(values, scale, unresolved)
    if invalid.any() and unresolved.any():
        reasons = reasons.copy()
        reasons[unresolved] = "not a number and not an answer label of this item"
    return CodedColumn(values=values, invalid=invalid, reasons=reasons)
