"""Map an export's columns to instrument items, and its answers to the instruments' codes.

A column maps to an item, in this order of preference:

1. the mapping file says so (``columns:``);
2. its name is the item id (ignoring case and underscores, which LimeSurvey codes cannot hold);
3. its name ends in ``[item_id]`` (LimeSurvey array sub-questions) or ``/item_id`` (a KoboToolbox
   group path kept because the same field sits in several groups, e.g. ``v1/hh_sex`` and
   ``v2/hh_sex`` when a group was renamed between form versions);
4. the question wording the platform wrote (SurveyMonkey, REDCap labels and Qualtrics exports
   name questions by position or label, not by item id) equals the item's wording in one of the
   languages the instrument (or the user's attached wording) holds.

Anything else needs a mapping file. Unmapped columns are listed, never guessed. Several columns
may answer one item (form versions, renamed groups): ingest coalesces them row by row and
quarantines a row where two of them hold different answers, so nothing is silently lost.

Answers that arrive as labels ("Very Often") become codes through the instrument's labels,
ignoring case and spacing; a mapping file can add labels of its own.

Mapping file (YAML)::

    columns:            # source column -> item id
      Q12_1: pq01
    values:             # extra answer labels -> codes, per item id or "*" for every item
      "*": {"Nunca": 1}
    events:             # REDCap longitudinal exports: event name -> the study's wave
      baseline_arm_1: "2025"
      followup_arm_1: "2026"
"""

from __future__ import annotations

import html
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
_REPEAT_INDEX = re.compile(r"\[\d+\]")


_MAPPING_KEYS = ("columns", "values", "events")


@dataclass(frozen=True)
class MappingFile:
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, int]] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnMapping:
    """Which source columns answer which item (several columns may answer one item)."""

    item_for_column: dict[str, str]
    unmapped: list[str]
    missing_items: list[str]
    by_wording: list[str] = field(default_factory=list)

    def columns_for_item(self) -> dict[str, list[str]]:
        """Item id -> the columns answering it, in file order."""
        out: dict[str, list[str]] = {}
        for column, item in self.item_for_column.items():
            out.setdefault(item, []).append(column)
        return out


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
    problems = [f"{key}: unknown section (expected {', '.join(_MAPPING_KEYS)})"
                for key in raw if key not in _MAPPING_KEYS]
    columns = raw.get("columns") or {}
    values = raw.get("values") or {}
    events = raw.get("events") or {}
    if not all(isinstance(section, Mapping) for section in (columns, values, events)):
        raise IngestError(path.name, None, None, "'columns', 'values' and 'events' must be mappings")
    for src, item in columns.items():
        if not isinstance(item, str) or item not in known:
            problems.append(f"columns.{src}: unknown item {item!r}")
    clean_values: dict[str, dict[str, int]] = {}
    for item, labels in values.items():
        if item != "*" and (not isinstance(item, str) or item not in known):
            problems.append(f"values.{item}: unknown item {item!r}")
            continue
        if not isinstance(labels, Mapping) or not all(
                isinstance(c, int) and not isinstance(c, bool) for c in labels.values()):
            problems.append(f"values.{item}: must map answer labels to integer codes")
            continue
        clean_values[str(item)] = {normalise_label(k): int(v) for k, v in labels.items()}
    for event, wave in events.items():
        if not isinstance(wave, str | int) or isinstance(wave, bool):
            problems.append(f"events.{event}: must name a wave (text)")
    if problems:
        raise IngestError(path.name, None, None, "; ".join(problems))
    return MappingFile(columns={str(k): str(v) for k, v in columns.items()}, values=clean_values,
                       events={str(k): str(v) for k, v in events.items()})


def normalise_wording(text: object) -> str:
    """Question wording reduced for comparison: no markup, case, punctuation or numbering.

    Examples
    --------
    >>> normalise_wording("<b>1.</b> I am  happy!")
    'i am happy'
    """
    plain = html.unescape(re.sub(r"<[^>]*>", " ", str(text)))
    words = re.sub(r"[\W_]+", " ", plain.casefold()).strip()
    return re.sub(r"^(?:q?\d+[a-z]?\s)+", "", words)


def wording_candidates(label: str) -> list[str]:
    """The parts of a platform's column label that can be an item's wording: the whole label,
    a matrix row after the heading (SurveyMonkey ``heading [row]``, Qualtrics ``heading - row``).
    """
    found = [label]
    bracket = re.match(r"^.*\[(.+)\]\s*$", label, re.S)
    if bracket:
        found.append(bracket.group(1))
    if " - " in label:
        found.append(label.rsplit(" - ", 1)[1])
    return [normalise_wording(c) for c in found if normalise_wording(c)]


def _items_by_wording(instruments: list[Instrument]) -> dict[str, str | None]:
    """Normalised wording -> item id (None where two items share a wording: never guessed)."""
    out: dict[str, str | None] = {}
    for inst in instruments:
        for item in inst.items:
            for text in (item.text or {}).values():
                key = normalise_wording(text)
                if key:
                    out[key] = item.id if out.get(key, item.id) == item.id else None
    return out


def map_columns(
    columns: Iterable[str],
    instruments: Iterable[Instrument],
    mapping: MappingFile | None = None,
    labels: Mapping[str, str] | None = None,
) -> ColumnMapping:
    """Match source columns to item ids (see the module docs for the order of the rules).

    ``labels`` are the question texts the export carries per column, used for rule 4.
    """
    instruments = list(instruments)
    item_ids = [item.id for inst in instruments for item in inst.items]
    by_folded = {i.casefold(): i for i in item_ids}
    # LimeSurvey codes allow only letters and digits, so fielding writes sc_pay1 as scpay1.
    for i in item_ids:
        by_folded.setdefault(i.replace("_", "").casefold(), i)
    explicit = mapping.columns if mapping else {}
    wordings = _items_by_wording(instruments) if labels else {}
    item_for_column: dict[str, str] = {}
    unmapped: list[str] = []
    by_wording: list[str] = []
    for col in columns:
        item = explicit.get(col) or _by_name(str(col), by_folded)
        if item is None and labels and col in labels:
            item = next((wordings[w] for w in wording_candidates(str(labels[col]))
                         if wordings.get(w)), None)
            if item is not None:
                by_wording.append(col)
        if item is None:
            unmapped.append(col)
            continue
        item_for_column[col] = item
    taken = set(item_for_column.values())
    missing = [i for i in item_ids if i not in taken]
    return ColumnMapping(item_for_column=item_for_column, unmapped=unmapped,
                         missing_items=missing, by_wording=by_wording)


def _by_name(column: str, by_folded: Mapping[str, str]) -> str | None:
    """The item a column's name gives (rules 2 and 3 of the module docs), or None."""
    item = by_folded.get(column.casefold()) or by_folded.get(column.replace("_", "").casefold())
    if item is None:
        bracket = _BRACKETED.match(column)
        if bracket:
            item = by_folded.get(bracket.group(1).casefold())
    # A group path, but not a repeat's numbered copy (children[2]/age is another person's age).
    if item is None and "/" in column and not _REPEAT_INDEX.search(column):
        item = by_folded.get(column.rsplit("/", 1)[1].casefold())
    return item


def columns_as_items(table: pd.DataFrame, instruments: Iterable[Instrument],
                     mapping: str | Path) -> pd.DataFrame:
    """``table`` with the columns a mapping file (``columns:``) names renamed to their items.

    For the analysis commands (``score``, ``reliability``, ``compare`` with ``--map``): data whose
    columns carry other names (R-style ``full.of.pep``, a platform's ``Q12_1``) is analysed
    with the same mapping file ingest uses. Only ``columns:`` is used here; a column already
    named by an item id needs no entry.

    Raises
    ------
    IngestError
        A bad mapping file, a mapped column the table does not have, or two columns mapped to
        one item (which of them is the answer cannot be told here).

    Examples
    --------
    >>> import tempfile, os
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> p = os.path.join(tempfile.mkdtemp(), "map.yaml")
    >>> _ = open(p, "w").write("columns: {full.of.pep: pq01}")
    >>> t = pd.DataFrame({"full.of.pep": [3], "pq02": [4]})
    >>> list(columns_as_items(t, [resolve_instrument("proqol5")], p).columns)
    ['pq01', 'pq02']
    """
    instruments = list(instruments)
    map_file = read_mapping_file(mapping, instruments)
    name = Path(mapping).name
    absent = [c for c in map_file.columns if c not in table.columns]
    if absent:
        raise IngestError(name, None, f"columns.{absent[0]}",
                          f"the data has no column {absent[0]!r} (its columns: "
                          f"{', '.join(map(str, list(table.columns)[:12]))})")
    targets: dict[str, str] = {}
    for column, item in map_file.columns.items():
        other = next((c for c, i in targets.items() if i == item), None)
        if other is not None or (item in table.columns and item != column):
            twin = other if other is not None else item
            raise IngestError(name, None, f"columns.{column}",
                              f"both {twin!r} and {column!r} would be item {item!r}: keep one")
        targets[column] = item
    out = table.rename(columns=targets)
    out.attrs = dict(table.attrs)
    return out


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
