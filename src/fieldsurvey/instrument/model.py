"""The parsed, validated form of an instrument definition.

These classes are plain frozen dataclasses: :func:`fieldsurvey.instrument.load_instrument` builds
them from YAML after validation, and every later stage (fielding, ingest, scoring, psychometrics,
reports) reads them. Nothing here reads files or decides validity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ResponseType = Literal["likert", "numeric", "categorical", "yesno", "text"]
ScoringMethod = Literal["sum", "mean", "prorated_sum", "mean_0_100"]
BandRounding = Literal["none", "half_up", "floor", "ceil"]

RESPONSE_TYPES: tuple[str, ...] = ("likert", "numeric", "categorical", "yesno", "text")
SCORING_METHODS: tuple[str, ...] = ("sum", "mean", "prorated_sum", "mean_0_100")
BAND_ROUNDINGS: tuple[str, ...] = ("none", "half_up", "floor", "ceil")


@dataclass(frozen=True)
class ResponseScale:
    """How an item is answered: its type, bounds and answer labels (code -> label)."""

    name: str
    type: ResponseType
    min: float | None = None
    max: float | None = None
    labels: dict[int, str] = field(default_factory=dict)
    # Codes that mean "no answer given" (e.g. 99 = prefer not to say); never scored.
    missing_codes: tuple[int, ...] = ()

    @property
    def is_coded(self) -> bool:
        """True when answers are integer codes (likert, categorical, yesno)."""
        return self.type in ("likert", "categorical", "yesno")


@dataclass(frozen=True)
class Item:
    """One question. ``text`` maps a language code to wording, or is None (wording not shipped)."""

    id: str
    scale: str
    reverse: bool = False
    text: dict[str, str] | None = None
    sensitive: bool = False
    required: bool = False
    label: str | None = None  # short descriptive label for codebooks (ours, never licensed wording)


@dataclass(frozen=True)
class Band:
    """An interpretive band of a scale score; ``min``/``max`` are inclusive, None is open."""

    label: str
    min: float | None = None
    max: float | None = None

    def contains(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


@dataclass(frozen=True)
class Norms:
    """Reference-population mean and SD of the raw scale score, and the metric to express it in."""

    mean: float
    sd: float
    metric: Literal["t", "z"] = "t"
    source: str = ""


@dataclass(frozen=True)
class Scale:
    """A scored scale: which items, how they are combined, and when a score is withheld."""

    id: str
    label: str
    items: tuple[str, ...]
    method: ScoringMethod
    min_answered: int  # always a count after loading; a proportion in YAML is resolved (ceil)
    higher_is: Literal["better", "worse"] = "worse"
    bands: tuple[Band, ...] = ()
    band_rounding: BandRounding = "none"
    band_decimals: int = 0
    norms: Norms | None = None
    description: str = ""

    @property
    def k(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Licence:
    holder: str
    terms: str
    wording_included: bool
    notice: str = ""
    url: str = ""


@dataclass(frozen=True)
class Instrument:
    """A validated instrument definition. Build it with :func:`load_instrument`."""

    id: str
    title: str
    version: str
    citation: str
    licence: Licence
    response_scales: dict[str, ResponseScale]
    items: tuple[Item, ...]
    scales: tuple[Scale, ...]
    recall: str | None = None
    description: str = ""
    source: Path | None = None

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(f"{self.id}: no item {item_id!r}")

    def scale(self, scale_id: str) -> Scale:
        for sc in self.scales:
            if sc.id == scale_id:
                return sc
        raise KeyError(f"{self.id}: no scale {scale_id!r}")

    def response_scale_of(self, item_id: str) -> ResponseScale:
        return self.response_scales[self.item(item_id).scale]

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(it.id for it in self.items)

    @property
    def languages(self) -> tuple[str, ...]:
        langs: list[str] = []
        for it in self.items:
            for lang in it.text or {}:
                if lang not in langs:
                    langs.append(lang)
        return tuple(langs)

    @property
    def has_wording(self) -> bool:
        """True when every non-empty item has wording in at least one language."""
        return bool(self.items) and all(it.text for it in self.items)

    def score_range(self, scale_id: str) -> tuple[float, float]:
        """The lowest and highest score the scale can take when scored."""
        sc = self.scale(scale_id)
        rs = self.response_scale_of(sc.items[0])
        lo, hi = float(rs.min), float(rs.max)  # type: ignore[arg-type]
        if sc.method in ("sum", "prorated_sum"):
            return lo * sc.k, hi * sc.k
        if sc.method == "mean":
            return lo, hi
        return 0.0, 100.0
