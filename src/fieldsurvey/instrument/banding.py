"""Banding of scale scores, and the proof that every possible score falls in exactly one band.

Published bands are printed for whole-number sums ("22 or less Low, 23-41 Moderate"), but prorated
and mean scores can fall between them (22.5). A scale therefore declares ``band_rounding``: the score
is rounded (``half_up``, ``floor`` or ``ceil``) to the bands' precision before it is banded, or
compared as it is (``none``). :func:`check_bands_cover` enumerates every score the scale can produce
under its method and missing-item rule, in exact rational arithmetic, and reports any score that
lands in no band or in two.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd

from fieldsurvey.instrument.model import Scale

_MAX_GRID = 200_000  # grid points checked for continuous (numeric-item) scales


def round_for_banding(values: np.ndarray, rounding: str, decimals: int) -> np.ndarray:
    """Round scores the way the scale's ``band_rounding`` says, before comparing with bands."""
    if rounding == "none":
        return values
    factor = 10.0**decimals
    # A tiny nudge keeps exact halves (22.5) from being misrounded by binary floating point.
    scaled = values * factor
    if rounding == "half_up":
        return np.floor(scaled + 0.5 + 1e-9) / factor
    if rounding == "floor":
        return np.floor(scaled + 1e-9) / factor
    return np.ceil(scaled - 1e-9) / factor


def assign_bands(scores: np.ndarray | pd.Series, scale: Scale) -> pd.Categorical:
    """Band labels for scores (missing scores get a missing band), ordered as declared.

    Examples
    --------
    >>> from fieldsurvey.instrument.model import Band, Scale
    >>> sc = Scale("bo", "Burnout", ("a",), "prorated_sum", 1,
    ...            bands=(Band("Low", max=22), Band("Moderate", 23, 41), Band("High", min=42)),
    ...            band_rounding="half_up")
    >>> list(assign_bands(np.array([22.0, 22.5, 41.4, np.nan]), sc))
    ['Low', 'Moderate', 'Moderate', nan]
    """
    labels = [b.label for b in scale.bands]
    values = np.asarray(scores, dtype=float)
    rounded = round_for_banding(values, scale.band_rounding, scale.band_decimals)
    codes = np.full(values.shape, -1, dtype=np.int16)
    for i, band in enumerate(scale.bands):
        inside = ~np.isnan(rounded) & (codes == -1)
        if band.min is not None:
            inside &= rounded >= band.min - 1e-9
        if band.max is not None:
            inside &= rounded <= band.max + 1e-9
        codes[inside] = i
    return pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype=object), ordered=True)


def possible_scores(scale: Scale, item_bounds: list[tuple[float, float]]) -> list[Fraction] | None:
    """Every score the scale can produce, exactly; None when items are continuous (non-integer).

    ``item_bounds`` gives each item's declared (min, max), in the scale's item order.
    """
    if not all(float(lo).is_integer() and float(hi).is_integer() for lo, hi in item_bounds):
        return None
    k = len(item_bounds)
    ranges = [int(hi) - int(lo) for lo, hi in item_bounds]
    if scale.method == "mean_0_100":
        common = math.lcm(*ranges)
        options = [[(x - int(lo)) * (common // r) for x in range(int(lo), int(hi) + 1)]
                   for (lo, hi), r in zip(item_bounds, ranges, strict=True)]
    else:
        options = [list(range(int(lo), int(hi) + 1)) for lo, hi in item_bounds]
        common = 1
    # Reachable (answered count, total) pairs; skipping an item is allowed down to min_answered.
    states: set[tuple[int, int]] = {(0, 0)}
    for opts in options:
        states = states | {(m + 1, t + v) for m, t in states for v in opts}
    values: set[Fraction] = set()
    for m, total in states:
        if m < scale.min_answered or m == 0:
            continue
        if scale.method == "sum":
            if m == k:
                values.add(Fraction(total))
        elif scale.method == "mean":
            values.add(Fraction(total, m))
        elif scale.method == "prorated_sum":
            values.add(Fraction(total * k, m))
        else:
            values.add(Fraction(total * 100, m * common))
    return sorted(values)


def _round_exact(value: Fraction, rounding: str, decimals: int) -> Fraction:
    if rounding == "none":
        return value
    factor = 10**decimals
    scaled = value * factor
    if rounding == "half_up":
        return Fraction(math.floor(scaled + Fraction(1, 2)), factor)
    if rounding == "floor":
        return Fraction(math.floor(scaled), factor)
    return Fraction(math.ceil(scaled), factor)


def _as_fraction(x: float | None) -> Fraction | None:
    return None if x is None else Fraction(str(x))


def check_bands_cover(scale: Scale, item_bounds: list[tuple[float, float]]) -> list[str]:
    """Messages for every possible score that gets no band or more than one (empty list: valid)."""
    bands = [(b.label, _as_fraction(b.min), _as_fraction(b.max)) for b in scale.bands]
    exact = possible_scores(scale, item_bounds)
    if exact is None:
        if scale.band_rounding == "none":
            return ["scores of numeric items are continuous: set band_rounding (half_up, floor or ceil) "
                    "so every score can be banded"]
        lo = Fraction(str(sum(b[0] for b in item_bounds) if scale.method in ("sum", "prorated_sum") else min(b[0] for b in item_bounds)))
        hi = Fraction(str(sum(b[1] for b in item_bounds) if scale.method in ("sum", "prorated_sum") else max(b[1] for b in item_bounds)))
        if scale.method == "mean_0_100":
            lo, hi = Fraction(0), Fraction(100)
        step = Fraction(1, 10**scale.band_decimals)
        count = int((hi - lo) / step) + 1
        if count > _MAX_GRID:
            return [f"cannot check {count} grid points; use fewer band decimals"]
        candidates = [_round_exact(lo + i * step, "half_up", scale.band_decimals) for i in range(count)]
    else:
        candidates = exact
    problems: list[str] = []
    gaps: list[str] = []
    overlaps: list[str] = []
    for value in candidates:
        rounded = _round_exact(value, scale.band_rounding, scale.band_decimals)
        hits = [label for label, lo, hi in bands
                if (lo is None or rounded >= lo) and (hi is None or rounded <= hi)]
        if not hits:
            gaps.append(_show(value))
        elif len(hits) > 1:
            overlaps.append(f"{_show(value)} ({' and '.join(hits)})")
    if gaps:
        hint = "" if scale.band_rounding != "none" else "; set band_rounding (e.g. half_up) or close the gap"
        problems.append(f"possible scores fall in no band: {', '.join(gaps[:6])}"
                        f"{' ...' if len(gaps) > 6 else ''}{hint}")
    if overlaps:
        problems.append(f"bands overlap at possible scores: {', '.join(overlaps[:6])}"
                        f"{' ...' if len(overlaps) > 6 else ''}")
    return problems


def _show(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.4g}"
