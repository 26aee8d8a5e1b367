"""Instrument definitions: the declarative YAML format, its validator and the bundled library."""

from fieldsurvey.instrument.banding import assign_bands, check_bands_cover, possible_scores
from fieldsurvey.instrument.load import InstrumentError, instrument_from_dict, load_instrument
from fieldsurvey.instrument.model import (
    Band,
    Instrument,
    Item,
    Licence,
    Norms,
    ResponseScale,
    Scale,
)
from fieldsurvey.instrument.registry import (
    attach_wording,
    bundled_instrument_ids,
    bundled_instrument_path,
    resolve_instrument,
    wording_home,
    wording_is_adapted,
)

__all__ = [
    "Band",
    "Instrument",
    "InstrumentError",
    "Item",
    "Licence",
    "Norms",
    "ResponseScale",
    "Scale",
    "assign_bands",
    "attach_wording",
    "bundled_instrument_ids",
    "bundled_instrument_path",
    "check_bands_cover",
    "instrument_from_dict",
    "load_instrument",
    "possible_scores",
    "resolve_instrument",
    "wording_home",
    "wording_is_adapted",
]
