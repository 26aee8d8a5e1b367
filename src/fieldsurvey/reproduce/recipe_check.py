"""Look up the instrument scale a recipe names: its range and grain, and whether the recipe fits.

The consistency checks need two facts about a recipe's scale: the range of possible scores (range
check) and the grain of a person's score (GRIM and GRIMMER: whole sums, means of k whole answers,
or answers scored in steps such as 0/25/50/75/100). The same lookup also confirms that the recipe's
scale, band and cut exist, so a recipe the compare stage will run later is known to resolve now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fieldsurvey.instrument import Instrument, InstrumentError, Scale, resolve_instrument
from fieldsurvey.reproduce.check_result import CheckResult
from fieldsurvey.reproduce.findings import Recipe, ScaleRef

InstrumentCache = dict[str, "Instrument | str"]


@dataclass(frozen=True)
class ScaleFacts:
    """What the checks know about a recipe's scale; ``reason`` says why something is unknown."""

    score_range: tuple[float, float] | None = None
    items: int | None = None
    step: float | None = None
    reason: str = ""


def lookup_scale(
    ref: ScaleRef, instruments: Mapping[str, Instrument], cache: InstrumentCache
) -> tuple[Instrument, Scale] | str:
    """The instrument and scale a reference names, or a sentence saying why they are not found.

    ``instruments`` are consulted first, then bundled ids and YAML paths (resolve_instrument).
    """
    if ref.instrument is None:
        return f"the recipe's scale {ref.scale!r} names no instrument"
    if ref.instrument not in cache:
        try:
            cache[ref.instrument] = instruments.get(ref.instrument) or resolve_instrument(
                ref.instrument
            )
        except (InstrumentError, FileNotFoundError) as exc:
            cache[ref.instrument] = f"instrument {ref.instrument!r} is not available ({exc})"
    inst = cache[ref.instrument]
    if isinstance(inst, str):
        return inst
    try:
        return inst, inst.scale(ref.scale)
    except KeyError:
        known = ", ".join(s.id for s in inst.scales)
        return f"instrument {inst.id!r} has no scale {ref.scale!r} (it has {known})"


def scale_facts(
    ref: ScaleRef | None, instruments: Mapping[str, Instrument], cache: InstrumentCache
) -> ScaleFacts:
    """Range and grain of the scale a recipe names (see the module docstring)."""
    if ref is None:
        return ScaleFacts(reason="the recipe names no scale")
    found = lookup_scale(ref, instruments, cache)
    if isinstance(found, str):
        return ScaleFacts(reason=found)
    inst, scale = found
    response = inst.response_scale_of(scale.items[0])
    score_range = inst.score_range(scale.id)
    if not response.is_coded or response.min is None or response.max is None:
        return ScaleFacts(score_range, reason=f"{ref} is not scored from whole-number answers")
    if scale.method in ("sum", "prorated_sum"):
        # A prorated sum is whole only when every item was answered: GRIM assumes complete data.
        return ScaleFacts(score_range, items=1, step=1.0)
    if scale.method == "mean":
        return ScaleFacts(score_range, items=scale.k, step=1.0)
    return ScaleFacts(score_range, items=scale.k, step=100.0 / (response.max - response.min))


def check_recipe(
    recipe: Recipe, instruments: Mapping[str, Instrument], cache: InstrumentCache
) -> CheckResult | None:
    """Do the recipe's instrument scales, band and cut exist? None when it names no instrument."""
    refs = [r for r in (recipe.scale, recipe.with_) if r is not None and r.instrument]
    if not refs:
        return None
    shown = ", ".join(str(r) for r in refs)
    found = []
    for ref in refs:
        result = lookup_scale(ref, instruments, cache)
        if isinstance(result, str):
            verdict = "inconsistent" if "has no scale" in result else "not_checkable"
            return CheckResult("recipe", verdict, "a scale of the instrument", str(ref), result)
        found.append(result)
    inst, scale = found[0]
    details = [f"{recipe.scale} scores {_span(inst.score_range(scale.id))}"]
    if recipe.band is not None:
        labels = [b.label for b in scale.bands]
        if recipe.band not in labels:
            return CheckResult(
                "recipe",
                "inconsistent",
                f"one of {', '.join(labels) or '(no bands)'}",
                recipe.band,
                f"{recipe.scale} has no band {recipe.band!r} (its bands: "
                f"{', '.join(labels) or 'none'})",
            )
        band = scale.bands[labels.index(recipe.band)]
        details.append(f"band {band.label} is {_band_text(band.min, band.max)}")
    if recipe.cut is not None:
        lo, hi = inst.score_range(scale.id)
        if not lo <= recipe.cut <= hi:
            return CheckResult(
                "recipe",
                "inconsistent",
                f"a cut within {_span((lo, hi))}",
                f"{recipe.cut:g}",
                f"the cut {recipe.cut:g} lies outside {recipe.scale}'s scores ({_span((lo, hi))})",
            )
        details.append(f"cut {recipe.cut:g}")
    return CheckResult("recipe", "consistent", "", shown, "; ".join(details))


def _span(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:g} to {bounds[1]:g}"


def _band_text(lo: float | None, hi: float | None) -> str:
    if lo is None:
        return f"{hi:g} or less"
    if hi is None:
        return f"{lo:g} or more"
    return f"{lo:g} to {hi:g}"
