"""Living-wage reference tables: reference pay by region and household type, with its source.

A reference table is a YAML file (see docs/living-wage.md)::

    title: Real Living Wage, 2024-25 rates (United Kingdom) - EXAMPLE
    example: true                 # shipped figures: say so wherever they are used
    source: Living Wage Foundation (2024) ...
    url: https://www.livingwage.org.uk/
    year: "2024-25"
    currency: GBP                 # ISO code, as the profile's currency labels
    period: hour                  # hour | year
    hours_per_year: 1950          # optional: the source's full-time year (default 2080)
    default_household: all
    rates:
      - {region: London, code: "1", household: all, pay: 13.85}

A profile's region matches a rate by its ``region`` name or its ``code`` (the code the study
gave that region on its forms), ignoring case and surrounding spaces.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fieldsurvey.resources import data_dir
from fieldsurvey.validation import Problems, ProblemsError, read_yaml

#: Full-time hours per year when the table does not say: 40 hours x 52 weeks, the convention of
#: the MIT Living Wage Calculator.
DEFAULT_HOURS_PER_YEAR = 2080.0
#: The example table shipped with fieldsurvey.
EXAMPLE_REFERENCE = "uk-real-living-wage-2024"

_KEYS = ("title", "example", "note", "source", "url", "year", "currency", "period",
         "hours_per_year", "default_household", "rates")


class WageReferenceError(ProblemsError):
    """A living-wage reference table is invalid; each problem names the file and the field."""


@dataclass(frozen=True)
class WageReference:
    """A validated reference table: ``rates`` has columns region, code, household, pay."""

    title: str
    source: str
    year: str
    currency: str
    period: str
    hours_per_year: float
    default_household: str
    rates: pd.DataFrame
    example: bool = False
    url: str = ""
    note: str = ""
    file: str = ""

    def hourly(self, pay: float) -> float:
        """A pay of this table's period as an hourly rate."""
        return pay if self.period == "hour" else pay / self.hours_per_year


def example_reference_path() -> Path:
    """The shipped example table (UK real Living Wage 2024-25; replace it for real use)."""
    return data_dir("analysis") / "living-wage" / f"{EXAMPLE_REFERENCE}.yaml"


def load_wage_reference(path: str | Path | None = None) -> WageReference:
    """Read and validate a living-wage reference table (default: the shipped example).

    Raises
    ------
    WageReferenceError
        Listing every problem, each naming the file and the field (``rates[2].pay``).

    Examples
    --------
    >>> ref = load_wage_reference()
    >>> ref.example, ref.currency, ref.period, ref.hours_per_year
    (True, 'GBP', 'hour', 1950.0)
    >>> ref.rates[["region", "pay"]].values.tolist()
    [['London', 13.85], ['UK outside London', 12.6]]
    """
    path = Path(path) if path is not None else example_reference_path()
    raw = read_yaml(path, WageReferenceError)
    p = Problems(path.name)
    if not isinstance(raw, Mapping):
        raise WageReferenceError([f"{path.name}: the top level must be a mapping (title, "
                                  "source, year, currency, period, rates)"])
    for key in raw:
        if key not in _KEYS:
            p.add(str(key), f"unknown key (expected one of {', '.join(_KEYS)})")
    text = {k: _text(raw, k, p, required=k in ("title", "source", "year", "currency"))
            for k in ("title", "source", "year", "currency", "url", "note")}
    period = raw.get("period")
    if period not in ("hour", "year"):
        p.add("period", f"must be 'hour' or 'year' (got {period!r})")
    hours = raw.get("hours_per_year", DEFAULT_HOURS_PER_YEAR)
    if not _positive(hours) or hours > 8784:
        p.add("hours_per_year", f"must be a number of hours above 0 and at most 8784 (got {hours!r})")
    rates = _rates(raw.get("rates"), p)
    households = list(dict.fromkeys(rates["household"])) if len(rates) else []
    default = str(raw.get("default_household", households[0] if len(households) == 1 else ""))
    if households and default not in households:
        p.add("default_household", f"must be one of the table's household types "
                                   f"{households} (got {default!r})")
    if not isinstance(raw.get("example", False), bool):
        p.add("example", "must be true or false")
    if p.lines:
        raise WageReferenceError(p.lines)
    return WageReference(**text, period=str(period), hours_per_year=float(hours),
                         default_household=default, rates=rates,
                         example=bool(raw.get("example", False)), file=path.name)


def _text(raw: Mapping, key: str, p: Problems, *, required: bool) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool) or not str(value).strip():
        p.add(key, "is required and must be non-empty text")
        return ""
    return " ".join(str(value).split())


def _positive(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def _rates(raw: Any, p: Problems) -> pd.DataFrame:
    columns = ["region", "code", "household", "pay"]
    if not isinstance(raw, list) or not raw:
        p.add("rates", "is required: a list of {region, code, household, pay}")
        return pd.DataFrame(columns=columns)
    rows, seen = [], set()
    for i, spec in enumerate(raw):
        where = f"rates[{i}]"
        if not isinstance(spec, Mapping):
            p.add(where, "must be a mapping {region, code, household, pay}")
            continue
        for key in spec:
            if key not in columns:
                p.add(f"{where}.{key}", f"unknown key (expected one of {', '.join(columns)})")
        region, household = spec.get("region"), spec.get("household", "all")
        if not isinstance(region, str) or not region.strip():
            p.add(f"{where}.region", "is required and must be non-empty text")
            continue
        if not _positive(spec.get("pay")):
            p.add(f"{where}.pay", f"must be a positive number (got {spec.get('pay')!r})")
            continue
        key = (region.strip().casefold(), str(household))
        if key in seen:
            p.add(where, f"region {region!r}, household {household!r} is listed twice")
            continue
        seen.add(key)
        code = spec.get("code")
        rows.append({"region": region.strip(), "code": None if code is None else str(code).strip(),
                     "household": str(household), "pay": float(spec["pay"])})
    return pd.DataFrame(rows, columns=columns)
