"""Read an instrument definition from YAML, validate it, and build an :class:`Instrument`.

Validation collects every problem it finds and raises one :class:`InstrumentError` listing them,
each prefixed with the file and the field path, e.g.
``proqol5.yaml: scales[1].items[3]: unknown item 'pq31'``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fieldsurvey.instrument.banding import check_bands_cover
from fieldsurvey.instrument.model import (
    BAND_ROUNDINGS,
    RESPONSE_TYPES,
    SCORING_METHODS,
    Band,
    Instrument,
    Item,
    Licence,
    Norms,
    ResponseScale,
    Scale,
)
from fieldsurvey.validation import Problems, ProblemsError, read_yaml


class InstrumentError(ProblemsError):
    """An instrument definition is invalid. ``problems`` holds one message per problem."""


class _Problems(Problems):
    """Collects ``file: field: message`` lines; a problem of the whole file (no field) is
    ``file: message``."""

    def add(self, where: str, message: str) -> None:
        if where:
            super().add(where, message)
        else:
            self.lines.append(f"{self.filename}: {message}")


def load_instrument(path: str | Path) -> Instrument:
    """Load and validate an instrument definition from a YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file.

    Returns
    -------
    Instrument

    Raises
    ------
    InstrumentError
        Listing every problem, each naming the file and field.

    Examples
    --------
    >>> from fieldsurvey.instrument import bundled_instrument_path
    >>> inst = load_instrument(bundled_instrument_path("proqol5"))
    >>> [s.id for s in inst.scales]
    ['compassion_satisfaction', 'burnout', 'sts']
    """
    path = Path(path)
    return instrument_from_dict(read_yaml(path, InstrumentError), filename=path.name, source=path)


def instrument_from_dict(
    raw: Any, filename: str = "<instrument>", source: Path | None = None
) -> Instrument:
    """Validate a parsed YAML mapping and build an :class:`Instrument` (see :func:`load_instrument`)."""
    p = _Problems(filename)
    if not isinstance(raw, Mapping):
        p.add("", "the top level must be a mapping of keys (id, title, items, scales, ...)")
        raise InstrumentError(p.lines)

    known_top = {
        "id",
        "title",
        "version",
        "citation",
        "licence",
        "recall",
        "response_scales",
        "items",
        "scales",
        "description",
    }
    for key in raw:
        if key not in known_top:
            p.add(str(key), f"unknown key (expected one of {sorted(known_top)})")

    inst_id = _req_str(raw, "id", "id", p)
    title = _req_str(raw, "title", "title", p)
    version = str(raw.get("version", "")) if raw.get("version") is not None else ""
    if not version:
        p.add("version", 'is required (quote it, e.g. version: "1")')
    citation = _req_str(raw, "citation", "citation", p)
    licence = _licence(raw.get("licence"), p)
    recall = raw.get("recall")
    if recall is not None and not isinstance(recall, str):
        p.add("recall", "must be text, e.g. 'last 30 days'")

    response_scales = _response_scales(raw.get("response_scales"), p)
    items = _items(raw.get("items"), response_scales, p)
    scales = _scales(raw.get("scales"), items, response_scales, p)

    if licence is not None and items:
        has_text = any(it.text for it in items)
        if has_text and not licence.wording_included:
            p.add(
                "licence.wording_included",
                "is false but items carry wording; remove the wording or set it true",
            )
        if licence.wording_included and not all(it.text for it in items):
            missing = [it.id for it in items if not it.text]
            p.add(
                "licence.wording_included",
                f"is true but items have no text: {', '.join(missing[:5])}",
            )

    if p.lines:
        raise InstrumentError(p.lines)
    assert licence is not None
    return Instrument(
        id=inst_id,
        title=title,
        version=version,
        citation=citation,
        licence=licence,
        response_scales=response_scales,
        items=tuple(items),
        scales=tuple(scales),
        recall=recall,
        description=str(raw.get("description", "") or ""),
        source=source,
    )


def _req_str(raw: Mapping, key: str, where: str, p: _Problems) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        p.add(where, "is required and must be non-empty text")
        return ""
    return value


def _licence(raw: Any, p: _Problems) -> Licence | None:
    if not isinstance(raw, Mapping):
        p.add("licence", "is required: {holder: ..., terms: ..., wording_included: true|false}")
        return None
    for key in raw:
        if key not in ("holder", "terms", "wording_included", "notice", "url"):
            p.add(f"licence.{key}", "unknown key")
    holder = _req_str(raw, "holder", "licence.holder", p)
    terms = _req_str(raw, "terms", "licence.terms", p)
    included = raw.get("wording_included")
    if not isinstance(included, bool):
        p.add("licence.wording_included", "is required and must be true or false")
        included = False
    return Licence(
        holder=holder,
        terms=terms,
        wording_included=included,
        notice=str(raw.get("notice", "") or ""),
        url=str(raw.get("url", "") or ""),
    )


def _response_scales(raw: Any, p: _Problems) -> dict[str, ResponseScale]:
    out: dict[str, ResponseScale] = {}
    if not isinstance(raw, Mapping) or not raw:
        p.add("response_scales", "is required: a mapping of name -> {type, min, max, labels}")
        return out
    for name, spec in raw.items():
        where = f"response_scales.{name}"
        if not isinstance(spec, Mapping):
            p.add(where, "must be a mapping with at least 'type'")
            continue
        for key in spec:
            if key not in ("type", "min", "max", "labels", "missing_codes"):
                p.add(f"{where}.{key}", "unknown key")
        rtype = spec.get("type")
        if rtype not in RESPONSE_TYPES:
            p.add(f"{where}.type", f"must be one of {', '.join(RESPONSE_TYPES)} (got {rtype!r})")
            continue
        lo, hi = spec.get("min"), spec.get("max")
        labels_raw = spec.get("labels") or {}
        labels: dict[int, str] = {}
        if not isinstance(labels_raw, Mapping):
            p.add(f"{where}.labels", "must be a mapping of code -> label")
            labels_raw = {}
        for code, label in labels_raw.items():
            if isinstance(code, bool) or not isinstance(code, int):
                p.add(f"{where}.labels.{code}", "codes must be integers")
                continue
            labels[code] = str(label)
        missing_codes = tuple(spec.get("missing_codes") or ())
        if rtype == "yesno":
            lo = 0 if lo is None else lo
            hi = 1 if hi is None else hi
            labels = labels or {0: "No", 1: "Yes"}
        if rtype in ("likert", "numeric"):
            if not _is_number(lo) or not _is_number(hi):
                p.add(where, f"a {rtype} scale needs numeric 'min' and 'max'")
                continue
            if lo >= hi:
                p.add(where, f"min ({lo}) must be below max ({hi})")
                continue
        if rtype == "likert" and not (float(lo).is_integer() and float(hi).is_integer()):
            p.add(where, "likert min and max must be whole numbers")
            continue
        if rtype == "categorical" and labels:
            # Without labels a categorical scale is open-coded: codes are set by the study
            # (organisation codes, say) and are not range-checked.
            lo = min(labels) if lo is None else lo
            hi = max(labels) if hi is None else hi
        if rtype in ("likert", "categorical", "yesno") and lo is not None and hi is not None:
            for code in labels:
                if code in missing_codes:
                    continue
                if not (lo <= code <= hi):
                    p.add(
                        f"{where}.labels.{code}", f"code {code} lies outside min..max ({lo}..{hi})"
                    )
        out[str(name)] = ResponseScale(
            name=str(name), type=rtype, min=lo, max=hi, labels=labels, missing_codes=missing_codes
        )
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _items(raw: Any, response_scales: dict[str, ResponseScale], p: _Problems) -> list[Item]:
    out: list[Item] = []
    if not isinstance(raw, list) or not raw:
        p.add("items", "is required: a list of {id, scale, reverse, text}")
        return out
    seen: set[str] = set()
    languages: list[str] = []
    for i, spec in enumerate(raw):
        where = f"items[{i}]"
        if not isinstance(spec, Mapping):
            p.add(where, "must be a mapping with at least 'id' and 'scale'")
            continue
        for key in spec:
            if key not in ("id", "scale", "reverse", "text", "sensitive", "required", "label"):
                p.add(f"{where}.{key}", "unknown key")
        item_id = spec.get("id")
        if not isinstance(item_id, str) or not item_id.isidentifier():
            p.add(f"{where}.id", f"must be a simple name (letters, digits, _), got {item_id!r}")
            continue
        if item_id in seen:
            p.add(f"{where}.id", f"duplicate item id {item_id!r}")
            continue
        seen.add(item_id)
        scale_name = spec.get("scale")
        if scale_name not in response_scales:
            p.add(f"{where}.scale", f"unknown response scale {scale_name!r}")
            continue
        reverse = spec.get("reverse", False)
        if not isinstance(reverse, bool):
            p.add(f"{where}.reverse", "must be true or false")
            reverse = False
        if reverse and response_scales[scale_name].type != "likert":
            p.add(
                f"{where}.reverse",
                f"item {item_id!r} is reverse-keyed but its response scale {scale_name!r} is "
                f"{response_scales[scale_name].type}, not likert",
            )
        text = spec.get("text")
        if text is not None:
            if isinstance(text, str):
                text = {"en": text}
            if not isinstance(text, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in text.items()
            ):
                p.add(f"{where}.text", "must be text or a mapping language -> text")
                text = None
            else:
                text = dict(text)
                for lang in text:
                    if lang not in languages:
                        languages.append(lang)
        for flag in ("sensitive", "required"):
            if not isinstance(spec.get(flag, False), bool):
                p.add(f"{where}.{flag}", "must be true or false")
        out.append(
            Item(
                id=item_id,
                scale=scale_name,
                reverse=reverse,
                text=text or None,
                sensitive=bool(spec.get("sensitive", False)),
                required=bool(spec.get("required", False)),
                label=spec.get("label"),
            )
        )
    # Every language used anywhere must cover every item, so no form is fielded half-translated.
    if languages:
        for i, item in enumerate(out):
            if item.text is None:
                continue
            for lang in languages:
                if lang not in item.text:
                    p.add(
                        f"items[{i}].text", f"item {item.id!r} has no wording in language {lang!r}"
                    )
    return out


def _scales(
    raw: Any, items: list[Item], response_scales: dict[str, ResponseScale], p: _Problems
) -> list[Scale]:
    out: list[Scale] = []
    if raw is None:
        return out
    if not isinstance(raw, list):
        p.add("scales", "must be a list")
        return out
    by_id = {it.id: it for it in items}
    seen: set[str] = set()
    for i, spec in enumerate(raw):
        where = f"scales[{i}]"
        if not isinstance(spec, Mapping):
            p.add(where, "must be a mapping")
            continue
        known = {
            "id",
            "label",
            "items",
            "method",
            "min_answered",
            "higher_is",
            "bands",
            "band_rounding",
            "norms",
            "description",
        }
        for key in spec:
            if key not in known:
                p.add(f"{where}.{key}", f"unknown key (expected one of {sorted(known)})")
        scale_id = spec.get("id")
        if not isinstance(scale_id, str) or not scale_id.isidentifier():
            p.add(f"{where}.id", f"must be a simple name, got {scale_id!r}")
            continue
        if scale_id in seen or scale_id in by_id:
            p.add(f"{where}.id", f"duplicate id {scale_id!r}")
            continue
        seen.add(scale_id)
        item_ids = spec.get("items")
        if not isinstance(item_ids, list) or not item_ids:
            p.add(f"{where}.items", "must be a non-empty list of item ids")
            continue
        ok = True
        for j, ref in enumerate(item_ids):
            if ref not in by_id:
                p.add(f"{where}.items[{j}]", f"unknown item {ref!r}")
                ok = False
            elif response_scales[by_id[ref].scale].type not in ("likert", "numeric"):
                p.add(
                    f"{where}.items[{j}]",
                    f"item {ref!r} is {response_scales[by_id[ref].scale].type}; only likert and numeric items can be scored",
                )
                ok = False
        if len(set(item_ids)) != len(item_ids):
            p.add(f"{where}.items", "lists an item more than once")
            ok = False
        method = spec.get("method")
        if method not in SCORING_METHODS:
            p.add(
                f"{where}.method", f"must be one of {', '.join(SCORING_METHODS)} (got {method!r})"
            )
            ok = False
        if not ok:
            continue
        k = len(item_ids)
        bounds = {
            (response_scales[by_id[r].scale].min, response_scales[by_id[r].scale].max)
            for r in item_ids
        }
        if method != "mean_0_100" and len(bounds) > 1:
            p.add(
                f"{where}.items",
                f"items have different response bounds {sorted(bounds)}; use method mean_0_100 or one response scale",
            )
            continue
        min_answered = _min_answered(
            spec.get("min_answered"), k, method, f"{where}.min_answered", p
        )
        if min_answered is None:
            continue
        higher_is = spec.get("higher_is", "worse")
        if higher_is not in ("better", "worse"):
            p.add(f"{where}.higher_is", "must be 'better' or 'worse'")
        rounding = spec.get("band_rounding", "none")
        if rounding not in BAND_ROUNDINGS:
            p.add(f"{where}.band_rounding", f"must be one of {', '.join(BAND_ROUNDINGS)}")
            rounding = "none"
        bands = _bands(spec.get("bands"), f"{where}.bands", p)
        norms = _norms(spec.get("norms"), f"{where}.norms", p)
        decimals = max((_decimals(b.min) for b in bands), default=0)
        decimals = max([decimals] + [_decimals(b.max) for b in bands])
        scale = Scale(
            id=scale_id,
            label=str(spec.get("label") or scale_id),
            items=tuple(item_ids),
            method=method,
            min_answered=min_answered,
            higher_is=higher_is if higher_is in ("better", "worse") else "worse",
            bands=tuple(bands),
            band_rounding=rounding,
            band_decimals=decimals,
            norms=norms,
            description=str(spec.get("description", "") or ""),
        )
        if bands:
            item_bounds = [
                (response_scales[by_id[r].scale].min, response_scales[by_id[r].scale].max)
                for r in item_ids
            ]
            for message in check_bands_cover(scale, item_bounds):
                p.add(f"{where}.bands", message)
        out.append(scale)
    return out


def _min_answered(value: Any, k: int, method: str, where: str, p: _Problems) -> int | None:
    if value is None:
        return k
    if isinstance(value, bool) or not _is_number(value) or value <= 0:
        p.add(where, f"must be a count (1..{k}) or a proportion (0 < p <= 1), got {value!r}")
        return None
    if isinstance(value, float) and value <= 1:
        count = math.ceil(value * k - 1e-9)
    elif float(value).is_integer():
        count = int(value)
    else:
        p.add(where, f"must be a whole count or a proportion <= 1, got {value!r}")
        return None
    if count > k:
        p.add(where, f"min_answered {count} is larger than the scale's {k} items")
        return None
    if method == "sum" and count < k:
        p.add(
            where,
            f"method 'sum' needs every item answered (min_answered {count} < {k} items would "
            "silently score partial sums as lower); use method 'prorated_sum'",
        )
        return None
    return count


def _bands(raw: Any, where: str, p: _Problems) -> list[Band]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        p.add(where, "must be a list of {label, min, max}")
        return []
    out = []
    for i, spec in enumerate(raw):
        if not isinstance(spec, Mapping) or not isinstance(spec.get("label"), str):
            p.add(f"{where}[{i}]", "must be a mapping with a 'label' and 'min' and/or 'max'")
            continue
        lo, hi = spec.get("min"), spec.get("max")
        if (lo is not None and not _is_number(lo)) or (hi is not None and not _is_number(hi)):
            p.add(f"{where}[{i}]", "min and max must be numbers")
            continue
        if lo is None and hi is None:
            p.add(f"{where}[{i}]", "needs 'min' and/or 'max'")
            continue
        if lo is not None and hi is not None and lo > hi:
            p.add(f"{where}[{i}]", f"min ({lo}) is above max ({hi})")
            continue
        out.append(Band(label=spec["label"], min=lo, max=hi))
    return out


def _norms(raw: Any, where: str, p: _Problems) -> Norms | None:
    if raw is None:
        return None
    if (
        not isinstance(raw, Mapping)
        or not _is_number(raw.get("mean"))
        or not _is_number(raw.get("sd"))
    ):
        p.add(
            where, "must give numeric 'mean' and 'sd' of the raw score in the reference population"
        )
        return None
    if raw["sd"] <= 0:
        p.add(f"{where}.sd", "must be positive")
        return None
    metric = raw.get("metric", "t")
    if metric not in ("t", "z"):
        p.add(f"{where}.metric", "must be 't' (50 + 10z) or 'z'")
        return None
    return Norms(
        mean=float(raw["mean"]),
        sd=float(raw["sd"]),
        metric=metric,
        source=str(raw.get("source", "")),
    )


def _decimals(value: float | None) -> int:
    if value is None or float(value).is_integer():
        return 0
    text = repr(float(value))
    return len(text.split(".")[1]) if "." in text else 0
