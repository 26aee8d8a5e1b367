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
class _Estimate:
    value: float
    ci_low: float
    ci_high: float
    ci_method: str
    n: int


# --------------------------------------------------------------------------------------------
# Public API


def reproduce_findings(
    data: pd.DataFrame,
    findings: FindingsFile | Sequence[Finding],
    instruments: Iterable[Instrument] | None = None,
    *,
    min_cell: int = 10,
    lived_column: str = LIVED_COLUMN,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Recompute every finding on a study's respondents and give a verdict for each.

    Parameters
    ----------
    data : DataFrame
        One row per respondent: study columns (``wf_role``, ``wf_lived_exp``, ...) and either
        item answers (scored here with ``instruments``) or scale scores already scored (when
        every scale of ``instruments`` already has its column, nothing is re-scored).
    findings : FindingsFile or sequence of Finding
        From :func:`fieldsurvey.reproduce.load_findings`.
    instruments : iterable of Instrument, optional
        The study's instruments. When given, ``data`` is scored with them and a recipe naming an
        instrument the study does not use is not computable. When omitted, ``data`` must already
        hold the score columns (``burnout``, ``burnout_band``, ...).
    min_cell : int
        Disclosure threshold: no value from fewer respondents is shown.
    lived_column : str
        Lived-experience answer column (1 yes, 2 no, 3 prefer not to say).
    confidence : float
        Level of the intervals.

    Returns
    -------
    DataFrame
        One row per finding with the columns in ``REPRODUCE_COLUMNS``: the published text and its
        value with rounding interval (``published_low`` inclusive, ``published_high``
        exclusive), ``study_value`` with ``ci_low``/``ci_high`` (``ci_method`` names the
        interval), its ``n``, ``difference`` (study minus published), ``verdict``, ``reason``
        (why not computable, or how the verdict was reached), and the lived-experience value
        (``lived_value``, ``lived_n``, ``lived_suppressed``, ``lived_reason``).

    Examples
    --------
    >>> import pandas as pd
    >>> from fieldsurvey.reproduce import findings_from_dict
    >>> ff = findings_from_dict({"title": "t", "findings": [{
    ...     "id": "a", "citation": "Doe (2020). J.", "statement": "Mean burnout was 2.5.",
    ...     "population": {"description": "staff"}, "values": ["M = 2.5"],
    ...     "recipe": {"statistic": "mean", "scale": "burnout"}}]})
    >>> data = pd.DataFrame({"burnout": [1.0, 2, 3, 4] * 5, "wf_lived_exp": [1, 2] * 10})
    >>> reproduce_findings(data, ff)[["study_value", "verdict", "lived_value"]].values.tolist()
    [[2.5, 'matches', 2.0]]
    """
    items = findings.findings if isinstance(findings, FindingsFile) else tuple(findings)
    instrument_list = list(instruments) if instruments is not None else None
    frame = _with_scores(data, instrument_list)
    frame = _with_lived_group(frame, lived_column)
    is_lived = (
        pd.to_numeric(frame[lived_column], errors="coerce").eq(1).fillna(False).to_numpy(bool)
        if lived_column in frame.columns
        else np.zeros(len(frame), dtype=bool)
    )
    known_instruments = (
        {inst.id for inst in instrument_list} if instrument_list is not None else None
    )

    rows: list[dict[str, object]] = []
    cells: list[tuple[Finding, np.ndarray, _Estimate | None, _Estimate | None]] = []
    for finding in items:
        row, population, overall, lived = _one_finding(
            finding, frame, is_lived, known_instruments, min_cell, confidence, lived_column
        )
        rows.append(row)
        cells.append((finding, population, overall, lived))
    _apply_gate(rows, cells, is_lived, min_cell)
    out = pd.DataFrame(rows, columns=REPRODUCE_COLUMNS)
    return out


def reproduce_study(
    study: object,
    findings: FindingsFile | Sequence[Finding],
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """:func:`reproduce_findings` on a study folder (its responses, instruments and min_cell).

    Parameters
    ----------
    study : fieldsurvey.store.Study
        From :func:`fieldsurvey.store.open_study`.
    findings : FindingsFile or sequence of Finding
    confidence : float

    Returns
    -------
    DataFrame
        As :func:`reproduce_findings`.

    Examples
    --------
    >>> from fieldsurvey.store import open_study
    >>> reproduce_study(open_study("my-study"), load_findings("f.yaml"))  # doctest: +SKIP
    """
    from fieldsurvey.store import load_responses

    responses = load_responses(study)  # type: ignore[arg-type]
    return reproduce_findings(
        responses,
        findings,
        study.instruments(),  # type: ignore[attr-defined]
        min_cell=study.config.min_cell,  # type: ignore[attr-defined]
        confidence=confidence,
    )


def reproduce_table(results: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """The reproduction as a display table (text cells) for reports and the terminal.

    Parameters
    ----------
    results : DataFrame
        From :func:`reproduce_findings` or :func:`reproduce_study` (already gated).
    digits : int
        Decimals shown for study values, intervals and differences.

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
        value = _num(r.get("study_value"))
        shown = "-" if value is None else f"{value:.{digits}f}"
        lo, hi = _num(r.get("ci_low")), _num(r.get("ci_high"))
        if value is not None and lo is not None and hi is not None:
            shown += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
        diff = _num(r.get("difference"))
        n = _num(r.get("n"))
        lived_value, lived_n = _num(r.get("lived_value")), _num(r.get("lived_n"))
        if bool(r.get("lived_suppressed")):
            lived = "suppressed"
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
                "Published": r.get("published") or "-",
                "This study": shown,
                "n": "-" if n is None else str(int(n)),
                "Difference": "-" if diff is None else f"{diff:+.{digits}f}",
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


def _with_scores(data: pd.DataFrame, instruments: list[Instrument] | None) -> pd.DataFrame:
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
) -> tuple[dict[str, object], np.ndarray, _Estimate | None, _Estimate | None]:
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

    lived: _Estimate | None = None
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


def _verdict(row: dict[str, object], published: Reported | None, est: _Estimate) -> None:
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
) -> _Estimate:
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


def _proportion(part: pd.DataFrame, recipe: Recipe, score: str, confidence: float) -> _Estimate:
    if recipe.statistic == "proportion_in_band":
        band = f"{score}_band"
        if band not in part.columns:
            raise NotComputable(f"the study has no bands for scale {score!r}")
        valid = part[band].notna().to_numpy()
        hits = (part[band].astype("string") == str(recipe.band)).fillna(False).to_numpy(bool)
    else:
        x = _numeric(part, score)
        valid = x.notna().to_numpy()
        cut = float(recipe.cut)  # type: ignore[arg-type]
        if recipe.statistic == "proportion_above_cut":
            hits = (x >= cut if recipe.inclusive else x > cut).to_numpy(bool)
        else:
            hits = (x <= cut if recipe.inclusive else x < cut).to_numpy(bool)
    n = int(valid.sum())
    if n == 0:
        raise NotComputable("no respondent has this score")
    k = int((hits & valid).sum())
    lo, hi = wilson_interval(k, n, confidence)
    return _Estimate(100.0 * k / n, 100.0 * lo, 100.0 * hi, "wilson", n)


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


def _mean(x: np.ndarray, confidence: float) -> _Estimate:
    n = x.size
    if n < 2:
        raise NotComputable("fewer than 2 respondents have this score")
    m, se = float(x.mean()), float(x.std(ddof=1) / math.sqrt(n))
    t = stats.t.ppf(0.5 + confidence / 2, n - 1)
    return _Estimate(m, m - t * se, m + t * se, "t", n)


def _sd(x: np.ndarray, confidence: float) -> _Estimate:
    n = x.size
    if n < 2:
        raise NotComputable("fewer than 2 respondents have this score")
    s = float(x.std(ddof=1))
    a = (1 - confidence) / 2
    lo = s * math.sqrt((n - 1) / stats.chi2.ppf(1 - a, n - 1))
    hi = s * math.sqrt((n - 1) / stats.chi2.ppf(a, n - 1))
    return _Estimate(s, lo, hi, "chi-square (normal theory)", n)


def _correlation(
    part: pd.DataFrame, recipe: Recipe, known: set[str] | None, confidence: float, method: str
) -> _Estimate:
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
    return _Estimate(r, math.tanh(centre - z * se), math.tanh(centre + z * se), how, n)


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
) -> _Estimate:
    import pingouin as pg

    a, b = _two_groups(part, recipe, score, min_cell)
    n = int(a.size + b.size)
    if recipe.statistic == "test":
        equal = recipe.test == "t"
        t = float(stats.ttest_ind(a, b, equal_var=equal).statistic)
        return _Estimate(t, math.nan, math.nan, "none (a test statistic)", n)
    if recipe.measure == "mean_difference":
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
        d = float(a.mean() - b.mean())
        half = stats.t.ppf(0.5 + confidence / 2, df) * math.sqrt(va + vb)
        return _Estimate(d, d - half, d + half, "Welch t", n)
    kind = "cohen" if recipe.measure == "cohens_d" else "hedges"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = float(pg.compute_effsize(a, b, eftype=kind))
        lo, hi = pg.compute_esci(
            stat=es, nx=a.size, ny=b.size, eftype=kind, confidence=confidence, decimals=12
        )
    return _Estimate(es, float(lo), float(hi), f"normal approximation ({recipe.measure})", n)


# --------------------------------------------------------------------------------------------
# Disclosure


_KINDS = {"proportion_in_band": "proportion", "proportion_above_cut": "proportion",
          "proportion_below_cut": "proportion", "mean": "mean", "sd": "sd"}  # fmt: skip


def _apply_gate(
    rows: list[dict[str, object]],
    cells: list[tuple[Finding, np.ndarray, _Estimate | None, _Estimate | None]],
    is_lived: np.ndarray,
    min_cell: int,
) -> None:
    """Withhold every value (overall and lived experience) the disclosure gate does not pass.

    Each finding's population (its filters) becomes a dimension of the release, so cells of
    different findings are audited together; lived experience is the sensitive dimension
    ("yes" against everyone else, so "all" minus "yes" is protected too).
    """
    from fieldsurvey.disclosure import DisclosurePolicy, Release, gate

    if not rows:
        return
    n_people = len(is_lived)
    respondents = pd.DataFrame({LIVED_GROUP: np.where(is_lived, "yes", "other")})
    dims = [LIVED_GROUP]
    pop_dim: dict[int, str] = {}
    signatures: dict[bytes, str] = {}
    for i, (_finding, population, overall, _) in enumerate(cells):
        if overall is None or population.all():
            continue
        sig = np.packbits(population).tobytes()
        if sig not in signatures:
            name = f"population_{len(signatures) + 1}"
            signatures[sig] = name
            respondents[name] = np.where(population, "in", "out")
            dims.append(name)
        pop_dim[i] = signatures[sig]
    if n_people == 0:
        for row in rows:
            _withhold(row, min_cell)
        return
    domains = {d: ["in", "out"] for d in dims[1:]}
    domains[LIVED_GROUP] = ["yes", "other"]  # nobody with lived experience is a real, empty cell
    release = Release(respondents, dims, domains=domains)
    tables: dict[int, str] = {}
    for i, (finding, _, overall, lived) in enumerate(cells):
        if overall is None:
            continue
        value_col, n_col = f"value_{i}", f"n_{i}"
        frame = pd.DataFrame({LIVED_GROUP: [None, "yes"]})
        if i in pop_dim:
            frame[pop_dim[i]] = ["in", "in"]
        frame[value_col] = [overall.value, lived.value if lived else np.nan]
        frame[n_col] = [overall.n, lived.n if lived else 0]
        kind = _KINDS.get(finding.recipe.statistic, "other")
        tables[i] = f"finding_{i}"
        release.add_table(tables[i], frame, {value_col: kind}, stat_n={value_col: n_col})
    if not tables:
        return
    gated = gate(release, DisclosurePolicy(min_cell=min_cell, force_below_5=min_cell < 5))
    for i, name in tables.items():
        table = gated[name]
        row = rows[i]
        if pd.isna(table[f"value_{i}"].iat[0]):
            _withhold(row, min_cell)
        lived_shown = not pd.isna(table[f"value_{i}"].iat[1])
        if not lived_shown and cells[i][3] is not None:
            row.update(lived_value=None, lived_n=None, lived_suppressed=True)
            row["lived_reason"] = f"suppressed: fewer than {min_cell} respondents (min_cell)"
        elif not lived_shown and row["lived_reason"] is None:
            row.update(lived_suppressed=True)
            row["lived_reason"] = f"suppressed: fewer than {min_cell} respondents (min_cell)"


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
