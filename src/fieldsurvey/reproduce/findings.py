"""Findings files: published field-wide findings written down as checkable claims.

A findings file (YAML, e.g. ``analysis/field-findings.yaml``) lists findings. Each names its source
(full citation), says what was found, gives the published values exactly as printed, describes the
population, and carries a *recipe*: how the same figure would be recomputed from a study scored with
fieldsurvey (statistic, instrument scale, band or cut, filters, groups). The recipe is what the
compare stage will run; the printed values are what :func:`check_findings` checks for internal
consistency without any data. See ``docs/findings-format.md``.

Loading validates everything and raises one :class:`FindingsError` listing every problem, each
naming the file, the finding and the field, e.g.
``field-findings.yaml: findings[2] (maier-2023-sts).recipe.statistic: unknown statistic 'median2'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fieldsurvey.reproduce.published_value import (
    PublishedValue,
    PublishedValueError,
    parse_published_value,
)
from fieldsurvey.validation import (
    Problems,
    ProblemsError,
    column_names,
    read_yaml,
    unknown_keys,
)

Computable = Literal["exact", "assumed", "no"]
COMPUTABLE_LEVELS: tuple[str, ...] = ("exact", "assumed", "no")

# Each statistic a recipe can ask for, with the recipe fields it needs (when computable).
STATISTICS: dict[str, tuple[str, ...]] = {
    "proportion_in_band": ("scale", "band"),
    "proportion_above_cut": ("scale", "cut"),
    "proportion_below_cut": ("scale", "cut"),
    "mean": ("scale",),
    "sd": ("scale",),
    "correlation": ("scale", "with"),
    "group_difference": ("scale", "groups"),
    "test": ("test", "scale"),
}
TESTS: dict[str, tuple[str, ...]] = {
    "t": ("groups",),
    "welch_t": ("groups",),
    "anova": ("groups",),
    "chi2": ("groups",),
    "pearson": ("with",),
    "spearman": ("with",),
    "regression": ("predictors",),
}
CORRELATION_METHODS: tuple[str, ...] = ("pearson", "spearman")
DIFFERENCE_MEASURES: tuple[str, ...] = ("mean_difference", "cohens_d", "hedges_g")

_TOP_KEYS = ("title", "description", "findings")
_FINDING_KEYS = ("id", "citation", "statement", "population", "values", "recipe", "notes")
_POPULATION_KEYS = ("description", "n")
_VALUE_KEYS = ("printed", "label", "n", "items", "step", "tails", "range")
_RECIPE_KEYS = (
    "statistic", "instrument", "scale", "band", "cut", "inclusive", "with", "method", "measure",
    "compare", "test", "predictors", "covariates", "filters", "groups", "computable",
    "computable_note",
)  # fmt: skip
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class FindingsError(ProblemsError):
    """A findings file is invalid. ``problems`` holds one message per problem."""


@dataclass(frozen=True)
class ScaleRef:
    """A scale named by a recipe: ``proqol5.burnout`` is instrument ``proqol5``, scale ``burnout``.

    ``instrument`` is None when the recipe names a bare scale id ("burnout") that the study defines.
    """

    instrument: str | None
    scale: str

    def __str__(self) -> str:
        return f"{self.instrument}.{self.scale}" if self.instrument else self.scale


@dataclass(frozen=True)
class Population:
    description: str
    n: int | None = None


@dataclass(frozen=True)
class FindingValue:
    """A published value and what a consistency check needs to know about it.

    ``n`` overrides the population's n for this value; ``items`` is how many integer answers are
    averaged into one person's score (1 for sum scores) and ``step`` the distance between answer
    codes in score units, both for GRIM/GRIMMER; ``range`` the lowest and highest possible score.
    """

    printed: str
    parsed: PublishedValue
    label: str = ""
    n: int | None = None
    items: int | None = None
    step: float | None = None
    tails: int = 2
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class Recipe:
    """How to recompute a finding from a study (run by the compare stage)."""

    statistic: str
    scale: ScaleRef | None = None
    band: str | None = None
    cut: float | None = None
    inclusive: bool = True
    with_: ScaleRef | None = None
    method: str = "pearson"
    measure: str = "mean_difference"
    compare: tuple[str, ...] = ()
    test: str | None = None
    predictors: tuple[str, ...] = ()
    covariates: tuple[str, ...] = ()
    filters: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    computable: Computable = "exact"
    computable_note: str = ""

    @property
    def scales(self) -> tuple[ScaleRef, ...]:
        """Every scale score the recipe reads (its scale and, for correlations, ``with``)."""
        return tuple(r for r in (self.scale, self.with_) if r is not None)

    @property
    def study_columns(self) -> tuple[str, ...]:
        """Study columns other than scale scores the recipe reads, in order, without repeats.

        Examples
        --------
        >>> Recipe("mean", filters={"role": ("advocate",)}, groups=("lived_experience",)).study_columns
        ('role', 'lived_experience')
        """
        names = [*self.filters, *self.groups, *self.predictors, *self.covariates]
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Finding:
    id: str
    citation: str
    statement: str
    population: Population
    values: tuple[FindingValue, ...]
    recipe: Recipe
    notes: str = ""


@dataclass(frozen=True)
class FindingsFile:
    title: str
    findings: tuple[Finding, ...]
    description: str = ""
    source: Path | None = None

    def finding(self, finding_id: str) -> Finding:
        for f in self.findings:
            if f.id == finding_id:
                return f
        raise KeyError(f"no finding {finding_id!r}")


def load_findings(path: str | Path) -> FindingsFile:
    """Load and validate a findings file.

    Parameters
    ----------
    path : str or Path
        The YAML file.

    Returns
    -------
    FindingsFile

    Raises
    ------
    FindingsError
        Listing every problem, each naming the file, the finding and the field.

    Examples
    --------
    >>> from fieldsurvey.resources import data_dir
    >>> ff = load_findings(data_dir("analysis") / "field-findings.yaml")
    >>> ff.finding("hiroyama-2025-burnout").values[0].printed
    '65%'
    """
    path = Path(path)
    return findings_from_dict(read_yaml(path, FindingsError), filename=path.name, source=path)


def findings_from_dict(
    raw: Any, filename: str = "<findings>", source: Path | None = None
) -> FindingsFile:
    """Validate a parsed findings mapping and build a :class:`FindingsFile` (see load_findings).

    Examples
    --------
    >>> ff = findings_from_dict({"title": "t", "findings": [{
    ...     "id": "a", "citation": "Doe (2020). J.", "statement": "38% were high.",
    ...     "population": {"description": "advocates", "n": 41},
    ...     "values": [{"printed": "38%"}],
    ...     "recipe": {"statistic": "proportion_in_band", "scale": "proqol5.burnout",
    ...                "band": "High"}}]})
    >>> ff.findings[0].recipe.scale.instrument
    'proqol5'
    """
    p = Problems(filename)
    if not isinstance(raw, Mapping):
        p.add("(top level)", "must be a mapping with 'title' and 'findings'")
        raise FindingsError(p.lines)
    unknown_keys(raw, _TOP_KEYS, "", p)
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        p.add("title", "is required and must be non-empty text")
    items = raw.get("findings")
    findings: list[Finding] = []
    if not isinstance(items, list) or not items:
        p.add("findings", "is required: a non-empty list of findings")
        items = []
    seen: set[str] = set()
    for i, spec in enumerate(items):
        finding = _finding(spec, i, p, source.parent if source else None)
        if finding is None:
            continue
        if finding.id in seen:
            p.add(f"findings[{i}] ({finding.id}).id", f"duplicate finding id {finding.id!r}")
            continue
        seen.add(finding.id)
        findings.append(finding)
    if p.lines:
        raise FindingsError(p.lines)
    return FindingsFile(
        title=str(title),
        findings=tuple(findings),
        description=str(raw.get("description") or ""),
        source=source,
    )


def _text(spec: Mapping, key: str, where: str, p: Problems, required: bool = True) -> str:
    value = spec.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        p.add(f"{where}.{key}", "is required and must be non-empty text")
        return ""
    return value.strip()


def _finding(spec: Any, i: int, p: Problems, base: Path | None) -> Finding | None:
    where = f"findings[{i}]"
    if not isinstance(spec, Mapping):
        p.add(where, "must be a mapping with id, citation, statement, population, values, recipe")
        return None
    fid = spec.get("id")
    if isinstance(fid, str) and _ID_RE.fullmatch(fid):
        where = f"{where} ({fid})"
    else:
        p.add(f"{where}.id", f"must be a short name of letters, digits, '-', '_' (got {fid!r})")
        fid = None
    unknown_keys(spec, _FINDING_KEYS, where, p)
    before = len(p.lines)
    citation = _text(spec, "citation", where, p)
    statement = _text(spec, "statement", where, p)
    population = _population(spec.get("population"), f"{where}.population", p)
    values = _values(spec.get("values"), f"{where}.values", p)
    recipe = _recipe(spec.get("recipe"), f"{where}.recipe", p, base)
    notes = spec.get("notes")
    if notes is not None and not isinstance(notes, str):
        p.add(f"{where}.notes", "must be text")
    if fid is None or len(p.lines) > before or population is None or recipe is None:
        return None
    return Finding(
        id=fid,
        citation=citation,
        statement=statement,
        population=population,
        values=tuple(values),
        recipe=recipe,
        notes=str(notes or "").strip(),
    )


def _count(value: Any, where: str, p: Problems, minimum: int = 1) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        p.add(where, f"must be a whole number of at least {minimum} (got {value!r})")
        return None
    return value


def _population(spec: Any, where: str, p: Problems) -> Population | None:
    if not isinstance(spec, Mapping):
        p.add(where, "is required: {description: ..., n: ...} (n may be omitted when unknown)")
        return None
    unknown_keys(spec, _POPULATION_KEYS, where, p)
    description = _text(spec, "description", where, p)
    return Population(description=description, n=_count(spec.get("n"), f"{where}.n", p))


def _values(spec: Any, where: str, p: Problems) -> list[FindingValue]:
    if spec is None:
        return []
    if not isinstance(spec, list):
        p.add(where, "must be a list of {printed: ...} (empty when nothing numeric was published)")
        return []
    out = []
    for j, item in enumerate(spec):
        at = f"{where}[{j}]"
        if isinstance(item, str):
            item = {"printed": item}
        if not isinstance(item, Mapping):
            p.add(at, "must be a mapping with 'printed' (the value exactly as published)")
            continue
        unknown_keys(item, _VALUE_KEYS, at, p)
        printed = item.get("printed")
        if not isinstance(printed, str):
            p.add(
                f"{at}.printed",
                f'must be the value as printed, in quotes, e.g. "38%" (got {printed!r})',
            )
            continue
        try:
            parsed = parse_published_value(printed)
        except PublishedValueError as exc:
            p.add(f"{at}.printed", str(exc))
            continue
        n = _count(item.get("n"), f"{at}.n", p)
        if n is not None and parsed.n is not None and n != parsed.n:
            p.add(f"{at}.n", f"is {n} but the printed value says n = {parsed.n}")
        items = _count(item.get("items"), f"{at}.items", p)
        step = item.get("step")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int | float)):
            p.add(f"{at}.step", f"must be a positive number (got {step!r})")
            step = None
        elif step is not None and step <= 0:
            p.add(f"{at}.step", f"must be a positive number (got {step!r})")
            step = None
        tails = item.get("tails", 2)
        if tails not in (1, 2):
            p.add(f"{at}.tails", f"must be 1 or 2 (got {tails!r})")
            tails = 2
        rng = _range(item.get("range"), f"{at}.range", p)
        label = item.get("label")
        if label is not None and not isinstance(label, str):
            p.add(f"{at}.label", "must be text")
        out.append(
            FindingValue(
                printed=printed,
                parsed=parsed,
                label=str(label or ""),
                n=n if n is not None else parsed.n,
                items=items,
                step=float(step) if step is not None else None,
                tails=tails,
                range=rng,
            )
        )
    return out


def _range(spec: Any, where: str, p: Problems) -> tuple[float, float] | None:
    if spec is None:
        return None
    ok = (
        isinstance(spec, list)
        and len(spec) == 2
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in spec)
    )
    if not ok or spec[0] >= spec[1]:
        p.add(where, f"must be [lowest, highest] possible score, lowest first (got {spec!r})")
        return None
    return float(spec[0]), float(spec[1])


def _scale_ref(value: Any, instrument: Any, where: str, p: Problems) -> ScaleRef | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        p.add(where, f"must name a scale, e.g. 'proqol5.burnout' or 'burnout' (got {value!r})")
        return None
    text = value.strip()
    if instrument is not None:
        if "." in text:
            p.add(where, f"give either 'instrument' or a dotted scale, not both (got {text!r})")
            return None
        return ScaleRef(str(instrument), text)
    if "." in text:
        inst, _, scale = text.partition(".")
        if not inst or not scale or "." in scale:
            p.add(where, f"must be 'instrument.scale' or 'scale' (got {text!r})")
            return None
        return ScaleRef(inst, scale)
    return ScaleRef(None, text)


def _filters(value: Any, where: str, p: Problems) -> dict[str, tuple[Any, ...]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        p.add(where, "must map a column to the values kept, e.g. {role: [advocate, counsellor]}")
        return {}
    out: dict[str, tuple[Any, ...]] = {}
    for column, kept in value.items():
        kept_list = kept if isinstance(kept, list) else [kept]
        if not kept_list or any(isinstance(v, list | Mapping) or v is None for v in kept_list):
            p.add(f"{where}.{column}", f"must be a value or a list of values (got {kept!r})")
            continue
        out[str(column)] = tuple(kept_list)
    return out


def _recipe(spec: Any, where: str, p: Problems, base: Path | None = None) -> Recipe | None:
    if not isinstance(spec, Mapping):
        p.add(where, "is required: {statistic: ..., scale: ..., computable: exact|assumed|no}")
        return None
    unknown_keys(spec, _RECIPE_KEYS, where, p)
    before = len(p.lines)
    statistic = spec.get("statistic")
    if statistic not in STATISTICS:
        p.add(
            f"{where}.statistic",
            f"unknown statistic {statistic!r} (expected one of {', '.join(STATISTICS)})",
        )
        return None
    computable = spec.get("computable", "exact")
    if computable not in COMPUTABLE_LEVELS:
        p.add(f"{where}.computable", f"must be one of exact, assumed, no (got {computable!r})")
        computable = "no"
    note = spec.get("computable_note")
    if note is not None and not isinstance(note, str):
        p.add(f"{where}.computable_note", "must be text")
        note = None
    if computable != "exact" and not (note or "").strip():
        p.add(
            f"{where}.computable_note",
            f"is required when computable is {computable!r}: say what is assumed or missing",
        )
    instrument = spec.get("instrument")
    if instrument is not None and (not isinstance(instrument, str) or not instrument.strip()):
        p.add(
            f"{where}.instrument", f"must be an instrument id or a YAML path (got {instrument!r})"
        )
        instrument = None
    elif instrument is not None and instrument.endswith((".yaml", ".yml")) and base is not None:
        # An instrument file named in a findings file is found next to that file.
        if not Path(instrument).is_absolute():
            instrument = str(base / instrument)
    scale = _scale_ref(spec.get("scale"), instrument, f"{where}.scale", p)
    with_ = _scale_ref(spec.get("with"), None, f"{where}.with", p)
    band = spec.get("band")
    if band is not None and (not isinstance(band, str) or not band.strip()):
        p.add(f"{where}.band", f"must be a band label of the scale, e.g. 'High' (got {band!r})")
    cut = spec.get("cut")
    if cut is not None and (isinstance(cut, bool) or not isinstance(cut, int | float)):
        p.add(f"{where}.cut", f"must be a number (got {cut!r})")
    inclusive = spec.get("inclusive", True)
    if not isinstance(inclusive, bool):
        p.add(f"{where}.inclusive", "must be true or false")
    method = spec.get("method", "pearson")
    if method not in CORRELATION_METHODS:
        p.add(f"{where}.method", f"must be one of {', '.join(CORRELATION_METHODS)}")
    measure = spec.get("measure", "mean_difference")
    if measure not in DIFFERENCE_MEASURES:
        p.add(f"{where}.measure", f"must be one of {', '.join(DIFFERENCE_MEASURES)}")
    test = spec.get("test")
    if test is not None and test not in TESTS:
        p.add(f"{where}.test", f"unknown test {test!r} (expected one of {', '.join(TESTS)})")
        test = None
    compare = spec.get("compare")
    compare_t: tuple[str, ...] = ()
    if compare is not None:
        if not isinstance(compare, list) or len(compare) != 2:
            p.add(f"{where}.compare", "must list the two group values compared, e.g. [yes, no]")
        else:
            compare_t = tuple(str(c) for c in compare)
    recipe = Recipe(
        statistic=statistic,
        scale=scale,
        band=band if isinstance(band, str) else None,
        cut=float(cut) if isinstance(cut, int | float) and not isinstance(cut, bool) else None,
        inclusive=inclusive if isinstance(inclusive, bool) else True,
        with_=with_,
        method=method if method in CORRELATION_METHODS else "pearson",
        measure=measure if measure in DIFFERENCE_MEASURES else "mean_difference",
        compare=compare_t,
        test=test,
        predictors=column_names(spec.get("predictors"), f"{where}.predictors", p),
        covariates=column_names(spec.get("covariates"), f"{where}.covariates", p),
        filters=_filters(spec.get("filters"), f"{where}.filters", p),
        groups=column_names(spec.get("groups"), f"{where}.groups", p),
        computable=computable,
        computable_note=(note or "").strip(),
    )
    if computable != "no":
        _require_fields(recipe, where, p)
    return recipe if len(p.lines) == before else None


def _require_fields(recipe: Recipe, where: str, p: Problems) -> None:
    """A recipe the compare stage is meant to run must carry what its statistic needs."""
    present = {
        "scale": recipe.scale is not None,
        "band": recipe.band is not None,
        "cut": recipe.cut is not None,
        "with": recipe.with_ is not None,
        "groups": bool(recipe.groups),
        "test": recipe.test is not None,
        "predictors": bool(recipe.predictors),
    }
    needed = [(name, f"statistic {recipe.statistic!r}") for name in STATISTICS[recipe.statistic]]
    if recipe.statistic == "test" and recipe.test is not None:
        needed += [(name, f"test {recipe.test!r}") for name in TESTS[recipe.test]]
    for name, what in needed:
        if not present[name]:
            p.add(
                f"{where}.{name}",
                f"is required for {what} (or set computable: no with a computable_note)",
            )
