"""Recompute published findings from a study's data and say whether the study agrees.

Each finding's recipe (see ``docs/findings-format.md``) is run on the study's respondents. The
study value comes with a 95% interval and is set against the published value:

``matches``
    the study value lies inside the published value's rounding interval: ``38%`` stands for
    [37.5, 38.5), ``27.3`` for [27.25, 27.35);
``close``
    it does not, but the published value lies inside the study value's interval;
``differs``
    neither;
``not computable``
    the recipe cannot be run on this study, with the reason (recipe marked ``computable: no``,
    no such scale or instrument in the study, a filter or group column missing, too few
    respondents for the disclosure threshold, no published value of the kind computed).

Intervals: Wilson for proportions, t for means, chi-square (normal theory) for SDs, Fisher z for
correlations (with the Bonett-Wright variance for Spearman), Welch t for mean differences, and the
pingouin normal approximation for Cohen's d and Hedges' g. All analytic, no bootstrap: findings are
one-number summaries and the report must be reproducible to the digit.

Proportions are given in percent (so differences are percentage points), like printed figures.

Beside each finding sits the same statistic for staff with lived experience (``wf_lived_exp == 1``).
Every number shown, the overall value as well as the lived-experience value, passes the
disclosure gate (:func:`fieldsurvey.disclosure.gate`): a value from fewer than ``min_cell``
respondents is withheld (null) and marked suppressed.

:func:`reproduce_findings` gates the findings in a release of their own (one output: the
``fieldsurvey reproduce`` run). An output that shows other tables too (a report) must gate
everything in one release: it computes with :func:`compute_findings`, adds each finding to its
release with :func:`add_finding_table` and reads the shown values with
:func:`gated_finding_row`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from fieldsurvey.instrument import Instrument
from fieldsurvey.reproduce.findings import Finding, FindingsFile, Recipe, ScaleRef
from fieldsurvey.reproduce.published_value import Reported

VERDICTS: tuple[str, ...] = ("matches", "close", "differs", "not computable")
LIVED_COLUMN = "wf_lived_exp"
#: Name of the derived lived-experience group column a recipe may use in ``groups``.
LIVED_GROUP = "lived_experience"
_EXACT_WORDS = frozenset({"none", "no one", "nobody", "all", "everyone"})
_LIVED_CODES = {1: "yes", 2: "no", 3: "prefer not to say"}

REPRODUCE_COLUMNS = [
    "id", "citation", "statement", "statistic", "published", "published_value",
    "published_low", "published_high", "study_value", "ci_low", "ci_high", "ci_method", "n",
    "difference", "verdict", "reason", "lived_value", "lived_n", "lived_suppressed",
    "lived_reason",
]  # fmt: skip


class NotComputable(Exception):  # noqa: N818 - a reason, not a failure of the program
    """Why a recipe cannot be run on this study (the message is shown to users)."""


@dataclass(frozen=True)
class Estimate:
    """A study value with its interval (``ci_method`` names it) and its respondent count."""

    value: float
    ci_low: float
    ci_high: float
    ci_method: str
    n: int


# --------------------------------------------------------------------------------------------
# Public API


@dataclass
class FindingCell:
    """One finding computed on a study, *before* the disclosure gate: never show it as it is.

    ``row`` holds the ungated values under ``REPRODUCE_COLUMNS``; ``population`` marks the
    respondents of the finding's population (its filters), ``is_lived`` those with lived
    experience; ``overall`` and ``lived`` are the estimates (None when not computed). Hand the
    cell to a release with :func:`add_finding_table` and read the shown values back with
    :func:`gated_finding_row`, or (when the release gates the counts and moments behind the
    value, as a report does) rebuild the estimates from gated numbers with
    :func:`proportion_estimate` / :func:`mean_estimate` / :func:`sd_estimate` and
    :func:`shown_finding_row`.
    """

    finding: Finding
    row: dict[str, object]
    population: np.ndarray
    is_lived: np.ndarray
    overall: Estimate | None
    lived: Estimate | None
    #: The score column the statistic was computed from (None for correlations and tests).
    scale: str | None = None
    #: For proportions: "yes" (counted), "no" or "no score" for every respondent.
    hit: np.ndarray | None = None
    confidence: float = 0.95
    #: Who has every score the statistic needs (its "n" counts these within the population).
    valid: np.ndarray | None = None

    @property
    def computed(self) -> bool:
        """True when the study value was computed (it may still be withheld by the gate)."""
        return self.overall is not None

    @property
    def compares_lived(self) -> bool:
        """True when the finding itself contrasts lived-experience staff with others."""
        return LIVED_GROUP in self.finding.recipe.groups

    def mark_not_computable(self, reason: str) -> None:
        """Drop the computed values (e.g. a population the output cannot show), with a reason."""
        for column in ("study_value", "ci_low", "ci_high", "ci_method", "n", "difference"):
            self.row[column] = None
        self.row.update(
            verdict="not computable",
            reason=reason,
            lived_value=None,
            lived_n=None,
            lived_reason="not computable",
        )
        self.overall = None
        self.lived = None
        self.scale = None
        self.hit = None


def compute_findings(
    data: pd.DataFrame,
    findings: FindingsFile | Sequence[Finding],
    instruments: Iterable[Instrument] | None = None,
    *,
    min_cell: int = 10,
    lived_column: str = LIVED_COLUMN,
    confidence: float = 0.95,
) -> list[FindingCell]:
    """Every finding computed on the study, ungated (the first half of :func:`reproduce_findings`).

    Use this when the values must pass through a release that also holds other tables (a
    report): add each computed cell with :func:`add_finding_table`, gate the release once and
    read the rows back with :func:`gated_finding_row`. Parameters as :func:`reproduce_findings`.

    Returns
    -------
    list of FindingCell
        One per finding, in file order.

    Examples
    --------
    >>> import pandas as pd
    >>> from fieldsurvey.reproduce import findings_from_dict
    >>> ff = findings_from_dict({"title": "t", "findings": [{
    ...     "id": "a", "citation": "Doe (2020). J.", "statement": "Mean burnout was 2.5.",
    ...     "population": {"description": "staff"}, "values": ["M = 2.5"],
    ...     "recipe": {"statistic": "mean", "scale": "burnout"}}]})
    >>> data = pd.DataFrame({"burnout": [1.0, 2, 3, 4] * 5, "wf_lived_exp": [1, 2] * 10})
    >>> [c.row["study_value"] for c in compute_findings(data, ff)]
    [2.5]
    """
    items = findings.findings if isinstance(findings, FindingsFile) else tuple(findings)
    instrument_list = list(instruments) if instruments is not None else None
    frame = with_scores(data, instrument_list)
    frame = _with_lived_group(frame, lived_column)
    is_lived = (
        pd.to_numeric(frame[lived_column], errors="coerce").eq(1).fillna(False).to_numpy(bool)
        if lived_column in frame.columns
        else np.zeros(len(frame), dtype=bool)
    )
    known_instruments = (
        {inst.id for inst in instrument_list} if instrument_list is not None else None
    )
    cells: list[FindingCell] = []
    for finding in items:
        row, population, overall, lived = _one_finding(
            finding, frame, is_lived, known_instruments, min_cell, confidence, lived_column
        )
        cell = FindingCell(finding, row, population, is_lived, overall, lived)
        cell.confidence = confidence
        if overall is not None:
            cell.valid = _valid_scores(frame, finding.recipe)
        if overall is not None and finding.recipe.statistic in _KINDS:
            cell.scale = _score_column(frame, finding.recipe.scale, known_instruments, "")
            if finding.recipe.statistic.startswith("proportion"):
                hits, valid = _hits(frame, finding.recipe, cell.scale)
                cell.hit = np.where(valid, np.where(hits, "yes", "no"), "no score").astype(object)
        cells.append(cell)
    return cells


def _valid_scores(frame: pd.DataFrame, recipe: Recipe) -> np.ndarray:
    """Who has every score a recipe's statistic uses."""
    valid = np.ones(len(frame), dtype=bool)
    for ref in (recipe.scale, recipe.with_):
        if ref is not None and ref.scale in frame.columns:
            valid &= _numeric(frame, ref.scale).notna().to_numpy()
    return valid


def reproduce_table(
    results: pd.DataFrame, digits: int = 1, *, withheld: str = "suppressed"
) -> pd.DataFrame:
    """The reproduction as a display table (text cells) for reports and the terminal.

    Parameters
    ----------
    results : DataFrame
        From :func:`reproduce_findings` or :func:`reproduce_study` (already gated).
    digits : int
        Decimals shown for study values, intervals and differences (one more for
        correlations and test statistics).
    withheld : str
        Text shown for a withheld lived-experience value (reports say "withheld").

    Returns
    -------
    DataFrame
        Columns ``Finding``, ``Published``, ``This study`` (value and interval), ``n``,
        ``Difference``, ``Verdict``, ``Lived experience`` (value and n, or "suppressed").

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame([{"id": "a", "published": "38%", "study_value": 40.0, "ci_low": 35.2,
    ...     "ci_high": 45.0, "n": 300, "difference": 2.0, "verdict": "close", "reason": "",
    ...     "lived_value": None, "lived_n": None, "lived_suppressed": True, "statistic": "mean"}])
    >>> reproduce_table(r).iloc[0].tolist()
    ['a', '38%', '40.0 [35.2, 45.0]', '300', '+2.0', 'close', 'suppressed']
    """
    out = []
    for r in results.to_dict(orient="records"):
        # Correlations and test statistics live on a small scale: one more decimal.
        statistic = str(r.get("statistic") or "")
        places = (
            digits + 1 if statistic == "correlation" or statistic.startswith("test") else digits
        )
        value = _num(r.get("study_value"))
        shown = "-" if value is None else f"{value:.{places}f}"
        lo, hi = _num(r.get("ci_low")), _num(r.get("ci_high"))
        if value is not None and lo is not None and hi is not None:
            shown += f" [{lo:.{places}f}, {hi:.{places}f}]"
        diff = _num(r.get("difference"))
        n = _num(r.get("n"))
        lived_value, lived_n = _num(r.get("lived_value")), _num(r.get("lived_n"))
        if bool(r.get("lived_suppressed")):
            lived = withheld
        elif lived_value is None:
            lived = "-"
        else:
            lived = f"{lived_value:.{digits}f} (n = {int(lived_n or 0)})"
        verdict = str(r.get("verdict"))
        if verdict == "not computable" and r.get("reason"):
            verdict = f"not computable: {r['reason']}"
        out.append(
            {
                "Finding": r.get("id"),
                "Published": "-" if _missing_text(r.get("published")) else r["published"],
                "This study": shown,
                "n": "-" if n is None else str(int(n)),
                "Difference": "-" if diff is None else f"{diff:+.{places}f}",
                "Verdict": verdict,
                "Lived experience": lived,
            }
        )
    return pd.DataFrame(
        out,
        columns=[
            "Finding", "Published", "This study", "n", "Difference", "Verdict", "Lived experience",
        ],
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Data preparation


def _num(value: object) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def _missing_text(value: object) -> bool:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return True
    return not str(value).strip()


def with_scores(data: pd.DataFrame, instruments: list[Instrument] | None) -> pd.DataFrame:
    if not instruments:
        return data.reset_index(drop=True)
    if all(sc.id in data.columns for inst in instruments for sc in inst.scales):
        return data.reset_index(drop=True)  # already scored (e.g. the report stage's frame)
    from fieldsurvey.scoring import score_scales

    base = data.reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = score_scales(base, instruments, invalid="missing")
    scores = scores.drop(columns=[c for c in ("row",) if c in scores.columns])
    scores.index = base.index
    new = [c for c in scores.columns if c not in base.columns]
    return pd.concat([base, scores[new]], axis=1)


def _with_lived_group(frame: pd.DataFrame, lived_column: str) -> pd.DataFrame:
    if LIVED_GROUP in frame.columns or lived_column not in frame.columns:
        return frame
    codes = pd.to_numeric(frame[lived_column], errors="coerce")
    return frame.assign(**{LIVED_GROUP: codes.map(_LIVED_CODES)})


def _key(value: object) -> str:
    """Compare recipe values and data values as text: YAML ``3`` and data ``3.0`` are the same."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "\0missing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | np.integer | np.floating):
        x = float(value)
        return str(int(x)) if x.is_integer() else repr(x)
    return str(value).strip()


def _keys(column: pd.Series) -> pd.Series:
    return column.map(_key)


def _population(frame: pd.DataFrame, recipe: Recipe) -> np.ndarray:
    keep = np.ones(len(frame), dtype=bool)
    for column, kept in recipe.filters.items():
        if column not in frame.columns:
            raise NotComputable(f"filter column {column!r} missing from the study")
        wanted = {_key(v) for v in kept}
        keep &= _keys(frame[column]).isin(wanted).to_numpy()
    return keep


def _instrument_id(ref: str) -> str:
    """A recipe may name an instrument by a YAML path: compare studies by the file's id."""
    if not ref.endswith((".yaml", ".yml")):
        return ref
    from fieldsurvey.instrument import InstrumentError, resolve_instrument

    try:
        return resolve_instrument(ref).id
    except (InstrumentError, OSError):
        return ref


def _score_column(
    frame: pd.DataFrame, ref: ScaleRef | None, known: set[str] | None, role: str
) -> str:
    if ref is None:
        raise NotComputable("the recipe names no scale")
    instrument, scale = ref.instrument, ref.scale
    if known is not None and instrument is not None and _instrument_id(instrument) not in known:
        uses = ", ".join(sorted(known)) or "none"
        raise NotComputable(f"the study does not use instrument {instrument!r} (it uses {uses})")
    if scale not in frame.columns:
        what = f"{role} scale" if role else "scale"
        raise NotComputable(f"no {what} {scale!r} in the study")
    return scale


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


# --------------------------------------------------------------------------------------------
# One finding


def _published(finding: Finding) -> tuple[str | None, Reported | None]:
    """The first printed value of the kind the recipe's statistic gives."""
    recipe = finding.recipe
    families = {"t": "t", "welch_t": "t", "pearson": "r", "spearman": "r"}
    for value in finding.values:
        pv = value.parsed
        number: Reported | None = None
        if recipe.statistic.startswith("proportion"):
            number = pv.percent
        elif recipe.statistic == "mean":
            number = pv.mean if pv.kind == "descriptives" else pv.number
        elif recipe.statistic == "sd":
            number = pv.sd if pv.kind == "descriptives" else pv.number
        elif recipe.statistic == "correlation":
            number = pv.statistic if pv.test == "r" else pv.number
        elif recipe.statistic == "group_difference":
            number = pv.number
        elif recipe.statistic == "test" and pv.kind == "test":
            number = pv.statistic if families.get(recipe.test or "") == pv.test else None
        if number is not None:
            return value.printed, number
    return None, None


def _one_finding(
    finding: Finding,
    frame: pd.DataFrame,
    is_lived: np.ndarray,
    known: set[str] | None,
    min_cell: int,
    confidence: float,
    lived_column: str,
) -> tuple[dict[str, object], np.ndarray, Estimate | None, Estimate | None]:
    recipe = finding.recipe
    printed, published = _published(finding)
    row: dict[str, object] = {c: None for c in REPRODUCE_COLUMNS}
    row.update(
        id=finding.id,
        citation=finding.citation,
        statement=finding.statement,
        statistic=recipe.statistic if recipe.statistic != "test" else f"test:{recipe.test}",
        published=printed,
        published_value=published.value if published else None,
        published_low=float(published.low) if published else None,
        published_high=float(published.high) if published else None,
        lived_suppressed=False,
    )
    population = np.zeros(len(frame), dtype=bool)
    if recipe.computable == "no":
        row.update(
            verdict="not computable",
            reason=f"recipe computable: no ({recipe.computable_note})",
            lived_reason="not computable",
        )
        return row, population, None, None
    try:
        population = _population(frame, recipe)
        overall = _estimate(frame.loc[population], recipe, known, min_cell, confidence)
    except NotComputable as exc:
        row.update(verdict="not computable", reason=str(exc), lived_reason="not computable")
        return row, population, None, None

    lived: Estimate | None = None
    if LIVED_GROUP in recipe.groups:
        row["lived_reason"] = "the finding itself compares lived-experience staff"
    elif lived_column not in frame.columns:
        row["lived_reason"] = f"no lived-experience column {lived_column!r} in the study"
    else:
        try:
            lived = _estimate(frame.loc[population & is_lived], recipe, known, min_cell, confidence)
        except NotComputable as exc:
            if int((population & is_lived).sum()) < min_cell:
                row["lived_suppressed"] = True
                row["lived_reason"] = f"suppressed: fewer than {min_cell} respondents (min_cell)"
            else:
                row["lived_reason"] = str(exc)
    row.update(
        study_value=overall.value,
        ci_low=overall.ci_low,
        ci_high=overall.ci_high,
        ci_method=overall.ci_method,
        n=overall.n,
    )
    if lived is not None:
        row.update(lived_value=lived.value, lived_n=lived.n)
    _verdict(row, published, overall)
    return row, population, overall, lived


def _verdict(row: dict[str, object], published: Reported | None, est: Estimate) -> None:
    if published is None:
        row.update(
            verdict="not computable",
            reason="the finding prints no value of the kind this recipe computes",
        )
        return
    row["difference"] = est.value - published.value
    low, high = float(published.low), float(published.high)
    if str(row["published"]).strip().lower() in _EXACT_WORDS:
        # "none" and "all" are counts, not rounded figures: only exactly 0% / 100% matches.
        low = high = published.value
        row.update(published_low=low, published_high=high)
    if low <= est.value < high or (low == high == est.value):
        row.update(verdict="matches", reason=f"within the rounding interval [{low:g}, {high:g})")
    elif not math.isnan(est.ci_low) and est.ci_low <= published.value <= est.ci_high:
        row.update(verdict="close", reason="the published value lies inside the study's interval")
    else:
        row.update(verdict="differs", reason="outside the rounding interval and the interval")


# --------------------------------------------------------------------------------------------
# Statistics


def _estimate(
    part: pd.DataFrame,
    recipe: Recipe,
    known: set[str] | None,
    min_cell: int,
    confidence: float,
) -> Estimate:
    stat = recipe.statistic
    if recipe.groups and stat not in ("group_difference", "test"):
        raise NotComputable("splitting a single statistic by groups is not reproduced")
    if stat in ("group_difference", "test") and recipe.test not in (None, "t", "welch_t"):
        if recipe.test in ("pearson", "spearman"):
            return _correlation(part, recipe, known, confidence, recipe.test)
        raise NotComputable(f"test {recipe.test!r} is not reproduced yet")
    score = _score_column(part, recipe.scale, known, "")
    if stat in ("proportion_in_band", "proportion_above_cut", "proportion_below_cut"):
        return _proportion(part, recipe, score, confidence)
    if stat == "mean":
        return _mean(_numeric(part, score).dropna().to_numpy(), confidence)
    if stat == "sd":
        return _sd(_numeric(part, score).dropna().to_numpy(), confidence)
    if stat == "correlation":
        return _correlation(part, recipe, known, confidence, recipe.method)
    return _difference(part, recipe, score, min_cell, confidence)


def _hits(frame: pd.DataFrame, recipe: Recipe, score: str) -> tuple[np.ndarray, np.ndarray]:
    """Which respondents count for a proportion (``hits``) among those with a score (``valid``)."""
    if recipe.statistic == "proportion_in_band":
        band = f"{score}_band"
        if band not in frame.columns:
            raise NotComputable(f"the study has no bands for scale {score!r}")
        valid = frame[band].notna().to_numpy()
        hits = (frame[band].astype("string") == str(recipe.band)).fillna(False).to_numpy(bool)
    else:
        x = _numeric(frame, score)
        valid = x.notna().to_numpy()
        cut = float(recipe.cut)  # type: ignore[arg-type]
        if recipe.statistic == "proportion_above_cut":
            hits = (x >= cut if recipe.inclusive else x > cut).to_numpy(bool)
        else:
            hits = (x <= cut if recipe.inclusive else x < cut).to_numpy(bool)
    return hits & valid, valid


def _proportion(part: pd.DataFrame, recipe: Recipe, score: str, confidence: float) -> Estimate:
    hits, valid = _hits(part, recipe, score)
    n = int(valid.sum())
    if n == 0:
        raise NotComputable("no respondent has this score")
    return proportion_estimate(int(hits.sum()), n, confidence)


def proportion_estimate(k: int, n: int, confidence: float = 0.95) -> Estimate:
    """k of n as a percentage with its Wilson interval.

    Examples
    --------
    >>> e = proportion_estimate(38, 100)
    >>> round(e.value, 1), round(e.ci_low, 1), round(e.ci_high, 1), e.n
    (38.0, 29.1, 47.8, 100)
    """
    lo, hi = wilson_interval(k, n, confidence)
    return Estimate(100.0 * k / n, 100.0 * lo, 100.0 * hi, "wilson", n)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion k / n (as a share, 0..1).

    Examples
    --------
    >>> [round(float(x), 4) for x in wilson_interval(38, 100)]
    [0.291, 0.4779]
    """
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def _mean(x: np.ndarray, confidence: float) -> Estimate:
    n = x.size
    if n < 2:
        raise NotComputable("fewer than 2 respondents have this score")
    return mean_estimate(float(x.mean()), float(x.std(ddof=1)), n, confidence)


def mean_estimate(mean: float, sd: float, n: int, confidence: float = 0.95) -> Estimate:
    """A mean with its t interval, from the mean, the SD (n - 1) and n.

    Examples
    --------
    >>> e = mean_estimate(25.0, 6.0, 36)
    >>> round(e.ci_low, 2), round(e.ci_high, 2)
    (22.97, 27.03)
    """
    t = float(stats.t.ppf(0.5 + confidence / 2, n - 1))
    se = sd / math.sqrt(n)
    return Estimate(mean, mean - t * se, mean + t * se, "t", n)


def _sd(x: np.ndarray, confidence: float) -> Estimate:
    n = x.size
    if n < 2:
        raise NotComputable("fewer than 2 respondents have this score")
    return sd_estimate(float(x.std(ddof=1)), n, confidence)


def sd_estimate(sd: float, n: int, confidence: float = 0.95) -> Estimate:
    """An SD (n - 1) with its chi-square (normal theory) interval.

    Examples
    --------
    >>> e = sd_estimate(6.0, 36)
    >>> round(e.ci_low, 2), round(e.ci_high, 2)
    (4.87, 7.83)
    """
    a = (1 - confidence) / 2
    lo = sd * math.sqrt((n - 1) / float(stats.chi2.ppf(1 - a, n - 1)))
    hi = sd * math.sqrt((n - 1) / float(stats.chi2.ppf(a, n - 1)))
    return Estimate(sd, lo, hi, "chi-square (normal theory)", n)


def _correlation(
    part: pd.DataFrame, recipe: Recipe, known: set[str] | None, confidence: float, method: str
) -> Estimate:
    if recipe.with_ is None:
        raise NotComputable("a correlation needs 'with' (the second scale)")
    a = _score_column(part, recipe.scale, known, "")
    b = _score_column(part, recipe.with_, known, "'with'")
    pair = pd.DataFrame({"a": _numeric(part, a), "b": _numeric(part, b)}).dropna()
    n = len(pair)
    if n < 4:
        raise NotComputable("fewer than 4 respondents have both scores")
    if method == "spearman":
        r = float(stats.spearmanr(pair["a"], pair["b"]).statistic)
        se = math.sqrt((1 + r * r / 2) / (n - 3))  # Bonett & Wright (2000)
        how = "Fisher z (Bonett-Wright)"
    else:
        r = float(np.corrcoef(pair["a"], pair["b"])[0, 1])
        se = 1 / math.sqrt(n - 3)
        how = "Fisher z"
    z = stats.norm.ppf(0.5 + confidence / 2)
    centre = math.atanh(max(min(r, 1 - 1e-12), -1 + 1e-12))
    return Estimate(r, math.tanh(centre - z * se), math.tanh(centre + z * se), how, n)


def _two_groups(
    part: pd.DataFrame, recipe: Recipe, score: str, min_cell: int
) -> tuple[np.ndarray, np.ndarray]:
    if len(recipe.groups) != 1:
        raise NotComputable("a group difference needs exactly one 'groups' column")
    column = recipe.groups[0]
    if column not in part.columns:
        raise NotComputable(f"group column {column!r} missing from the study")
    labels = _keys(part[column])
    if recipe.compare:
        first, second = (_key(v) for v in recipe.compare)
    elif column == LIVED_GROUP:
        first, second = "yes", "no"
    else:
        present = sorted(v for v in labels.unique() if v != "\0missing")
        if len(present) != 2:
            raise NotComputable(f"give 'compare': {column!r} has {len(present)} groups, not 2")
        first, second = present
    x = _numeric(part, score)
    a = x[(labels == first).to_numpy()].dropna().to_numpy()
    b = x[(labels == second).to_numpy()].dropna().to_numpy()
    for name, sample in ((first, a), (second, b)):
        if sample.size < max(min_cell, 2):
            raise NotComputable(
                f"too few respondents in group {column} = {name!r} (fewer than min_cell {min_cell})"
            )
    return a, b


def _difference(
    part: pd.DataFrame, recipe: Recipe, score: str, min_cell: int, confidence: float
) -> Estimate:
    import pingouin as pg

    a, b = _two_groups(part, recipe, score, min_cell)
    n = int(a.size + b.size)
    if recipe.statistic == "test":
        equal = recipe.test == "t"
        t = float(stats.ttest_ind(a, b, equal_var=equal).statistic)
        return Estimate(t, math.nan, math.nan, "none (a test statistic)", n)
    if recipe.measure == "mean_difference":
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
        d = float(a.mean() - b.mean())
        half = stats.t.ppf(0.5 + confidence / 2, df) * math.sqrt(va + vb)
        return Estimate(d, d - half, d + half, "Welch t", n)
    kind = "cohen" if recipe.measure == "cohens_d" else "hedges"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = float(pg.compute_effsize(a, b, eftype=kind))
        lo, hi = pg.compute_esci(
            stat=es, nx=a.size, ny=b.size, eftype=kind, confidence=confidence, decimals=12
        )
    return Estimate(es, float(lo), float(hi), f"normal approximation ({recipe.measure})", n)


# --------------------------------------------------------------------------------------------
# Disclosure


_KINDS = {"proportion_in_band": "proportion", "proportion_above_cut": "proportion",
          "proportion_below_cut": "proportion", "mean": "mean", "sd": "sd"}  # fmt: skip


#: Statistic columns of a finding's table in a release (withheld together, see add_finding_table).
FINDING_STATS: tuple[str, ...] = ("value", "ci_low", "ci_high", "difference")
FINDING_N = "value_n"
FINDING_VARIABLE = "finding"


def add_finding_table(
    release: object,
    name: str,
    cell: FindingCell,
    population: dict[str, object],
    lived: dict[str, object] | None,
    *,
    compares: str | None = None,
    measure: str | None = None,
) -> None:
    """Hand one computed finding to a set of results as a table of (at most) two cells.

    Row 0 is the finding's population (``population``: the cell that holds exactly the
    finding's respondents, e.g. ``{"wave": "2", "finding_population_1": "in"}``); row 1, when
    ``lived`` is given, the lived-experience staff in it (``population`` plus ``lived``).
    Statistic columns ``value`` (kind from the recipe: proportion, mean, sd, else other),
    ``ci_low``, ``ci_high``, ``difference`` and ``value_n`` (respondents with the score) are
    withheld with their cell. Rows carry the finding id in the ``finding`` column (the table's
    ``variable``), so one finding's value is never audited as another's.

    Parameters
    ----------
    release : fieldsurvey.results.Results
        The output's results; their dimensions must include every key of ``population``
        and ``lived``.
    name : str
        Table name.
    cell : FindingCell
        A computed cell (``cell.computed`` must be True).
    population, lived : dict
        Cells (dimension to value; a dimension left out means "all").
    compares : str, optional
        For a finding that contrasts the groups of a dimension (``lived_experience``): its
        sources are the population's ``yes`` and ``no`` cells, so the gate shows it only when
        both groups are shown.
    measure : str, optional
        The results' measure of who has the statistic's scores: the statistics then rest on
        those respondents of the cell (``value_n`` is their count), and the sources too.

    Examples
    --------
    >>> lived = {"lived_experience": "yes"}
    >>> add_finding_table(release, "finding_1", cell, {"wave": "2"}, lived)  # doctest: +SKIP
    """
    if cell.overall is None:
        raise ValueError(f"finding {cell.finding.id!r} has no computed value to release")
    if cell.hit is not None:
        # A percentage of a small group is its count: release whom it counts as counts
        # (fieldsurvey.analyse.report_findings.findings_release), never as a statistic.
        raise ValueError(f"finding {cell.finding.id!r} is a proportion: release its counts")
    overall, est = cell.overall, cell.lived
    diff = cell.row.get("difference")
    rows = [
        {
            **population,
            FINDING_VARIABLE: cell.finding.id,
            "value": overall.value,
            "ci_low": overall.ci_low,
            "ci_high": overall.ci_high,
            "difference": np.nan if diff is None else float(diff),  # type: ignore[arg-type]
            FINDING_N: overall.n,
        }
    ]
    if lived is not None:
        rows.append(
            {
                **population,
                **lived,
                FINDING_VARIABLE: cell.finding.id,
                "value": est.value if est is not None else np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "difference": np.nan,
                FINDING_N: est.n if est is not None else np.nan,
            }
        )
    frame = pd.DataFrame(rows)
    dims = [c for c in frame.columns if c not in (*FINDING_STATS, FINDING_N, FINDING_VARIABLE)]
    for d in dims:
        frame[d] = frame[d].astype(object).where(frame[d].notna(), None)
    kinds = {s: "other" for s in FINDING_STATS}
    kinds["value"] = _KINDS.get(cell.finding.recipe.statistic, "other")
    sources = None
    if compares is not None:
        groups = [{**population, compares: g} for g in ("yes", "no")]
        sources = [groups] * len(frame)
    if measure is None:
        kinds[FINDING_N] = "other"
        release.add_table(  # type: ignore[attr-defined]
            name, frame, kinds, variable=FINDING_VARIABLE, sources=sources)
        return
    frame[FINDING_N] = frame[FINDING_N].astype("Int64")
    release.add_table(  # type: ignore[attr-defined]
        name, frame, kinds, stat_n=dict.fromkeys(FINDING_STATS, FINDING_N),
        measures={FINDING_N: measure}, variable=FINDING_VARIABLE, sources=sources,
        source_measure=measure)


def gated_finding_row(
    cell: FindingCell, table: pd.DataFrame | None, min_cell: int
) -> dict[str, object]:
    """The finding's row (``REPRODUCE_COLUMNS``) with only what the gated ``table`` shows.

    ``table`` is the gated table :func:`add_finding_table` added (None when the cell was not
    computed). See :func:`shown_finding_row`.

    Examples
    --------
    >>> gated_finding_row(cell, gated["finding_1"], 10)["verdict"]  # doctest: +SKIP
    'matches'
    """
    if cell.overall is None or table is None:
        return dict(cell.row)
    overall = None if pd.isna(table["value"].iat[0]) else cell.overall
    lived_shown = len(table) > 1 and not pd.isna(table["value"].iat[1])
    return shown_finding_row(cell, overall, cell.lived if lived_shown else None, min_cell)


def shown_finding_row(
    cell: FindingCell, overall: Estimate | None, lived: Estimate | None, min_cell: int
) -> dict[str, object]:
    """The finding's row (``REPRODUCE_COLUMNS``) from the estimates a gate let through.

    ``overall`` and ``lived`` are what may be shown (None: withheld). A withheld study value
    makes a computed finding ``not computable`` (too few respondents) and withholds its
    lived-experience value with it; a withheld lived-experience value is null and marked
    suppressed. The verdict is decided on the shown estimate.

    Examples
    --------
    >>> shown_finding_row(cell, proportion_estimate(38, 100), None, 10)  # doctest: +SKIP
    """
    row = dict(cell.row)
    if cell.overall is None:
        return row
    if overall is None:
        _withhold(row, min_cell)
        return row
    row.update(
        study_value=overall.value,
        ci_low=overall.ci_low,
        ci_high=overall.ci_high,
        ci_method=overall.ci_method,
        n=overall.n,
        difference=None,
    )
    _, published = _published(cell.finding)
    _verdict(row, published, overall)
    if lived is not None:
        row.update(lived_value=lived.value, lived_n=lived.n)
    elif cell.lived is not None or row["lived_reason"] is None:
        row.update(lived_value=None, lived_n=None, lived_suppressed=True)
        row["lived_reason"] = f"suppressed: fewer than {min_cell} respondents (min_cell)"
    return row


def lived_groups(data: pd.DataFrame, lived_column: str = LIVED_COLUMN) -> np.ndarray:
    """Each respondent's lived-experience group: "yes", "no" or "other" (not said, not asked)."""
    if lived_column not in data.columns:
        return np.full(len(data), "other", dtype=object)
    codes = pd.to_numeric(data[lived_column], errors="coerce").to_numpy()
    return np.where(codes == 1, "yes", np.where(codes == 2, "no", "other")).astype(object)


def population_dimensions(
    cells: Sequence[FindingCell], respondents: pd.DataFrame, prefix: str = "population_"
) -> dict[int, str]:
    """Add an ``in``/``out`` column to ``respondents`` for each distinct filtered population.

    Findings with the same respondents share one column; a population of everyone needs none.
    Returns the column of each finding (by position) that has one. ``respondents`` must have
    one row per respondent in the order the cells were computed on.

    Examples
    --------
    >>> people = pd.DataFrame(index=range(len(cells[0].population)))  # doctest: +SKIP
    >>> population_dimensions(cells, people)  # doctest: +SKIP
    {2: 'population_1'}
    """
    pop_dim: dict[int, str] = {}
    signatures: dict[bytes, str] = {}
    for i, cell in enumerate(cells):
        if not cell.computed or cell.population.all():
            continue
        sig = np.packbits(cell.population).tobytes()
        if sig not in signatures:
            name = f"{prefix}{len(signatures) + 1}"
            signatures[sig] = name
            respondents[name] = np.where(cell.population, "in", "out")
        pop_dim[i] = signatures[sig]
    return pop_dim


def _withhold(row: dict[str, object], min_cell: int) -> None:
    row.update(
        study_value=None,
        ci_low=None,
        ci_high=None,
        n=None,
        difference=None,
        verdict="not computable",
        reason=f"too few respondents: the value rests on fewer than {min_cell} (min_cell) or "
        "would reveal a smaller group",
        lived_value=None,
        lived_n=None,
        lived_suppressed=True,
        lived_reason="suppressed with the overall value",
    )
