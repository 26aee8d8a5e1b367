"""Instrument -> plain dict with the YAML's keys (for ``instrument show --format json``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fieldsurvey.instrument.model import Instrument


def instrument_to_dict(inst: Instrument) -> dict[str, Any]:
    """The parsed instrument as a JSON-ready dict spelled like the YAML format.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> d = instrument_to_dict(resolve_instrument("proqol5"))
    >>> d["scales"][1]["id"], d["scales"][1]["min_answered"]
    ('burnout', 8)
    """
    scales = []
    for sc in inst.scales:
        entry = asdict(sc)
        entry["items"] = list(sc.items)
        entry["bands"] = [asdict(b) for b in sc.bands]
        entry.pop("band_decimals")
        if sc.norms is None:
            entry.pop("norms")
        scales.append(entry)
    return {
        "id": inst.id,
        "title": inst.title,
        "version": inst.version,
        "citation": inst.citation,
        "licence": asdict(inst.licence),
        "recall": inst.recall,
        "response_scales": {
            name: {
                "type": rs.type,
                "min": rs.min,
                "max": rs.max,
                "labels": {str(k): v for k, v in rs.labels.items()},
                **({"missing_codes": list(rs.missing_codes)} if rs.missing_codes else {}),
            }
            for name, rs in inst.response_scales.items()
        },
        "items": [
            {
                "id": it.id,
                "scale": it.scale,
                "reverse": it.reverse,
                "text": it.text,
                "sensitive": it.sensitive,
                "required": it.required,
                **({"label": it.label} if it.label else {}),
            }
            for it in inst.items
        ],
        "scales": scales,
    }
