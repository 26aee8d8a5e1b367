"""Consistency checks on published values that need no data.

Each check asks whether a printed value could have come from any data set at all, given what else
was printed (n, the number of items, the scale's range, the test's df). Every printed number stands
for the interval of values that round to it, and the rounding interval is taken as closed, so a
value is judged inconsistent only when no rounding convention could have produced it.

Checks
------
grim
    Brown & Heathers (2017): the mean of n integer scores is a whole number divided by n, so only
    some means are possible. With k integer items averaged per person the step is 1/(n k).
grimmer
    Anaya (2016), as described by him and Allard: for integer data the sum of squares is a whole
    number, and it has the same parity (odd/even) as the sum, since x^2 and x are both odd or both
    even. The SD fixes the sum of squares for each possible sum; if no whole number of the right
    parity falls in the interval the printed SD allows, the SD is impossible.
percent_n
    A percentage of n people is 100 c / n for a whole count c.
p_value
    See :mod:`fieldsurvey.reproduce.pvalues`.
range
    A mean must lie in the scale's possible range, an SD cannot exceed the largest SD a bounded
    scale allows for that mean, percentages lie in 0..100, correlations in -1..1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

import pandas as pd

from fieldsurvey.instrument import Instrument
from fieldsurvey.reproduce.check_result import CheckResult
from fieldsurvey.reproduce.findings import Finding, FindingsFile, FindingValue
from fieldsurvey.reproduce.published_value import Reported, parse_number
from fieldsurvey.reproduce.pvalues import check_p_value
from fieldsurvey.reproduce.recipe_check import (
    InstrumentCache,
    ScaleFacts,
    check_recipe,
    scale_facts,
)

RESULT_COLUMNS = ["finding_id", "value", "check", "verdict", "expected", "reported", "explanation"]
_MAX_CANDIDATE_SUMS = (
    200_000  # GRIMMER looks at every possible sum; beyond this it is uninformative
)


def _as_reported(value: str | float | Reported) -> Reported:
    if isinstance(value, Reported):
        return value
    return parse_number(value if isinstance(value, str) else repr(value))


def _fraction(x: float) -> Fraction:
    return Fraction(x).limit_denominator(10**6)


def _show(x: Fraction, decimals: int) -> str:
    return f"{float(x):.{decimals}f}"


def _possible_sums(mean: Reported, n: int, unit: Fraction) -> tuple[int, int]:
    """First and last whole sum T (in units) whose mean T * unit / n rounds to the printed mean."""
    first = math.ceil(mean.low * n / unit)
    last = math.floor(mean.high * n / unit)
    return first, last


def grim(mean: str | Reported, n: int, items: int = 1, step: float = 1.0) -> CheckResult:
    """GRIM: can n people's scores, each a whole number of ``step`` / ``items``, have this mean?

    Parameters
    ----------
    mean : str or Reported
        The mean as printed, e.g. ``"5.19"`` (its decimals set the rounding interval).
    n : int
        Number of people the mean is over.
    items : int
        Integer answers averaged into one person's score (1 for sum scores).
    step : float
        Distance between neighbouring answer codes in score units (1 for 1..5 codes; 25 for
        answers scored 0/25/50/75/100).

    Returns
    -------
    CheckResult

    Examples
    --------
    >>> grim("5.19", 28).verdict   # 145/28 = 5.179, 146/28 = 5.214
    'inconsistent'
    >>> grim("5.18", 28).verdict
    'consistent'
    """
    m = _as_reported(mean)
    unit = _fraction(step) / items
    what = _granularity_text(n, items, step)
    first, last = _possible_sums(m, n, unit)
    if first <= last:
        closest = min(max(round(m.exact * n / unit), first), last)
        possible = closest * unit / n
        note = ""
        if unit / n < Fraction(1, 10**m.decimals):
            note = (
                f"; GRIM has little power here: possible means are {float(unit / n):.4g} apart, "
                f"finer than the {m.decimals} decimals printed"
            )
        return CheckResult(
            "grim",
            "consistent",
            f"mean {_show(possible, m.decimals + 3)} ({closest * unit}/{n})",
            m.text,
            f"{what}, a mean of {_show(possible, m.decimals + 3)} is possible and prints as "
            f"{m.text}{note}",
        )
    below, above = last * unit / n, first * unit / n
    return CheckResult(
        "grim",
        "inconsistent",
        f"{_show(below, m.decimals)} or {_show(above, m.decimals)}",
        m.text,
        f"{what}, the possible means nearest {m.text} are {_show(below, m.decimals + 3)} and "
        f"{_show(above, m.decimals + 3)}, printed as {_show(below, m.decimals)} and "
        f"{_show(above, m.decimals)}: no set of answers has a mean that prints as {m.text}",
    )


def _granularity_text(n: int, items: int, step: float) -> str:
    score = "whole-number scores" if items == 1 else f"means of {items} whole-number answers"
    if step != 1:
        score = f"{score} in steps of {step:g}"
    return f"with n = {n} {score}"


def grimmer(
    mean: str | Reported,
    sd: str | Reported,
    n: int,
    items: int = 1,
    step: float = 1.0,
) -> CheckResult:
    """GRIMMER: is the SD possible for n integer scores with this mean?

    For every possible sum T (those passing GRIM) the printed SD bounds the sum of squares Q,
    ``Q = (n - 1) SD^2 + T^2 / n``. Q must be a whole number with the parity of T. The SD is
    consistent when some T admits such a Q. The SD is taken as the sample SD (n - 1).

    Parameters
    ----------
    mean, sd : str or Reported
        As printed.
    n : int
    items, step : see :func:`grim`

    Examples
    --------
    >>> grimmer("3.00", "1.58", 5).verdict   # 1, 2, 3, 4, 5 has SD 1.581
    'consistent'
    >>> grimmer("3.00", "1.50", 5).verdict   # sum 15 is odd, sum of squares would be 54
    'inconsistent'
    """
    m, s = _as_reported(mean), _as_reported(sd)
    if n < 2:
        return CheckResult("grimmer", "not_checkable", "", s.text, "an SD needs n of at least 2")
    unit = _fraction(step) / items
    first, last = _possible_sums(m, n, unit)
    if first > last:
        return CheckResult(
            "grimmer",
            "inconsistent",
            "a mean that passes GRIM",
            f"M = {m.text}, SD = {s.text}",
            f"the mean {m.text} is impossible with n = {n} (see GRIM), so no SD can be consistent",
        )
    if last - first > _MAX_CANDIDATE_SUMS:
        return CheckResult(
            "grimmer",
            "not_checkable",
            "",
            s.text,
            f"too many possible sums ({last - first + 1}) for GRIMMER to be informative",
        )
    # Work in whole units: a person's score is x = S * unit with S an integer.
    sd_low = max(s.low, Fraction(0)) / unit
    sd_high = s.high / unit
    integer_found = parity_found = False
    for total in range(first, last + 1):
        base = Fraction(total * total, n)
        q_low = (n - 1) * sd_low * sd_low + base
        q_high = (n - 1) * sd_high * sd_high + base
        q = math.ceil(q_low)
        if q > q_high:
            continue
        integer_found = True
        if (q - total) % 2:
            q += 1
        if q > q_high:
            continue
        parity_found = True
        # Whole numbers with sum T cannot be closer together than a mix of floor(T/n) and
        # floor(T/n) + 1, so the sum of squares has a floor (same parity as T).
        q = max(q, _least_sum_of_squares(total, n))
        if q <= q_high:
            sd_value = _sd_from(q, total, n) * unit
            return CheckResult(
                "grimmer",
                "consistent",
                f"SD {float(sd_value):.{s.decimals + 3}f}",
                s.text,
                f"with n = {n} and sum {total * unit}, a sum of squares of {q * unit * unit} "
                f"gives SD {float(sd_value):.{s.decimals + 3}f}, which prints as {s.text}",
            )
    if parity_found:
        reason = "the SD is smaller than any set of whole numbers with that mean allows"
    elif integer_found:
        reason = (
            "for every possible sum the sum of squares the SD implies would have the wrong "
            "parity (it must be odd exactly when the sum is odd)"
        )
    else:
        reason = "no whole-number sum of squares gives an SD that rounds to it"
    closest = min(max(round(m.exact * n / unit), first), last)
    lower, upper = _nearest_sds(closest, n, sd_low, sd_high, unit)
    shown = [f"{float(x):.{s.decimals}f}" for x in (lower, upper) if x is not None]
    precise = [f"{float(x):.{s.decimals + 3}f}" for x in (lower, upper) if x is not None]
    if lower is None:
        expected = f"at least {shown[0]}"
        nearest = f"the smallest possible SD is {precise[0]}"
    else:
        expected = f"{shown[0]} or {shown[1]}"
        nearest = f"the nearest possible SDs are {precise[0]} and {precise[1]}"
    return CheckResult(
        "grimmer",
        "inconsistent",
        expected,
        s.text,
        f"with n = {n} and mean {m.text}, {reason}; {nearest}",
    )


def _least_sum_of_squares(total: int, n: int) -> int:
    base, extra = divmod(total, n)
    return n * base * base + extra * (2 * base + 1)


def _sd_from(q: int, total: int, n: int) -> float:
    return math.sqrt(max(Fraction(q) - Fraction(total * total, n), Fraction(0)) / (n - 1))


def _nearest_sds(
    total: int, n: int, sd_low: Fraction, sd_high: Fraction, unit: Fraction
) -> tuple[Fraction | None, Fraction]:
    """SDs of the closest possible sums of squares below and above the printed SD's interval.

    The lower one is None when even the smallest possible sum of squares lies above the interval.
    """
    base = Fraction(total * total, n)
    least = _least_sum_of_squares(total, n)
    below = math.floor((n - 1) * sd_low * sd_low + base)
    if (below - total) % 2:
        below -= 1
    above = math.ceil((n - 1) * sd_high * sd_high + base)
    if (above - total) % 2:
        above += 1
    above = max(above, least)
    lower = _fraction(_sd_from(below, total, n)) * unit if below >= least else None
    return lower, _fraction(_sd_from(above, total, n)) * unit


def percent_possible(percent: str | Reported, n: int) -> CheckResult:
    """Can a whole count out of n give this percentage once rounded?

    Examples
    --------
    >>> percent_possible("38", 41).verdict   # 15/41 = 36.6%, 16/41 = 39.0%
    'inconsistent'
    >>> percent_possible("39", 41).expected
    '16/41 = 39.02%'
    """
    pct = _as_reported(percent.rstrip("%") if isinstance(percent, str) else percent)
    first = max(math.ceil(pct.low * n / 100), 0)
    last = min(math.floor(pct.high * n / 100), n)
    digits = pct.decimals + 2
    if first <= last:
        count = min(max(round(pct.exact * n / 100), first), last)
        counts = f"{first} to {last}" if last > first else f"{first}"
        return CheckResult(
            "percent_n",
            "consistent",
            f"{count}/{n} = {float(Fraction(100 * count, n)):.{digits}f}%",
            f"{pct.text}%",
            f"{count} of {n} is {float(Fraction(100 * count, n)):.{digits}f}%, which prints as "
            f"{pct.text}% (counts that do: {counts})",
        )
    below, above = max(last, 0), min(first, n)
    pb, pa = Fraction(100 * below, n), Fraction(100 * above, n)
    return CheckResult(
        "percent_n",
        "inconsistent",
        f"{_show(pb, pct.decimals)}% or {_show(pa, pct.decimals)}%",
        f"{pct.text}%",
        f"with n = {n} the nearest possible percentages are {below}/{n} = {float(pb):.{digits}f}% "
        f"and {above}/{n} = {float(pa):.{digits}f}%; none prints as {pct.text}%",
    )


def value_in_range(
    value: FindingValue, score_range: tuple[float, float] | None, n: int | None
) -> CheckResult:
    """Is the value inside what its scale allows (see the module docstring for the rules)?

    Examples
    --------
    >>> from fieldsurvey.reproduce.findings import FindingValue
    >>> from fieldsurvey.reproduce.published_value import parse_published_value
    >>> v = FindingValue("M = 52.0, SD = 4.0", parse_published_value("M = 52.0, SD = 4.0"))
    >>> value_in_range(v, (10, 50), 30).verdict
    'inconsistent'
    """
    pv = value.parsed
    if pv.kind == "percent":
        return _interval_check(pv.percent, Fraction(0), Fraction(100), "percentage", "%")
    if pv.kind == "test":
        if pv.test == "r":
            return _interval_check(pv.statistic, Fraction(-1), Fraction(1), "correlation", "")
        if pv.test in ("F", "chi2"):
            return _interval_check(pv.statistic, Fraction(0), None, f"{pv.test} statistic", "")
        return CheckResult(
            "range", "not_checkable", "", pv.text, f"a {pv.test} statistic has no bounded range"
        )
    mean = pv.mean if pv.kind == "descriptives" else pv.number
    if score_range is None:
        return CheckResult(
            "range",
            "not_checkable",
            "",
            pv.text,
            "the scale's possible range is unknown: name a bundled instrument scale in the "
            "recipe or give 'range: [lowest, highest]' on the value",
        )
    lo, hi = _fraction(score_range[0]), _fraction(score_range[1])
    span = f"{float(lo):g} to {float(hi):g}"
    if mean is not None and (mean.high < lo or mean.low > hi):
        return CheckResult(
            "range",
            "inconsistent",
            f"mean within {span}",
            mean.text,
            f"the scale's scores run from {span}; a mean of {mean.text} is impossible",
        )
    if pv.kind == "descriptives" and pv.sd is not None:
        if mean is None or n is None or n < 2:
            return CheckResult(
                "range",
                "consistent" if mean is not None else "not_checkable",
                f"mean within {span}",
                pv.text,
                "the mean lies in the scale's range; the SD's upper limit needs both the mean "
                "and n",
            )
        largest = _max_sd(mean, lo, hi, n)
        if pv.sd.low > largest:
            return CheckResult(
                "range",
                "inconsistent",
                f"SD at most {float(largest):.{pv.sd.decimals + 2}f}",
                pv.sd.text,
                f"on a {span} scale with mean {mean.text} and n = {n} the largest possible SD is "
                f"{float(largest):.{pv.sd.decimals + 2}f} (everyone at one end or the other)",
            )
        return CheckResult(
            "range",
            "consistent",
            f"mean within {span}; SD at most {float(largest):.{pv.sd.decimals + 2}f}",
            pv.text,
            f"the mean lies in {span} and the SD is below the largest possible for that mean",
        )
    what = "mean" if pv.kind == "descriptives" else "value"
    return CheckResult(
        "range", "consistent", f"{what} within {span}", pv.text, f"the {what} lies in {span}"
    )


def _max_sd(mean: Reported, lo: Fraction, hi: Fraction, n: int) -> Fraction:
    """Largest sample SD on [lo, hi] for any mean that rounds to the printed one (Bhatia-Davis)."""
    centre = (lo + hi) / 2
    m = min(max(centre, mean.low), mean.high)
    m = min(max(m, lo), hi)
    variance = (m - lo) * (hi - m) * n / (n - 1)
    return _fraction(math.sqrt(variance))


def _interval_check(
    x: Reported | None, lo: Fraction, hi: Fraction | None, what: str, suffix: str
) -> CheckResult:
    assert x is not None
    span = f"{float(lo):g} to {float(hi):g}" if hi is not None else f"at least {float(lo):g}"
    if x.high < lo or (hi is not None and x.low > hi):
        return CheckResult(
            "range",
            "inconsistent",
            f"within {span}",
            f"{x.text}{suffix}",
            f"a {what} must lie {'in ' if hi is not None else ''}{span}",
        )
    return CheckResult(
        "range", "consistent", f"within {span}", f"{x.text}{suffix}", f"the {what} lies in range"
    )


def _value_checks(finding: Finding, value: FindingValue, facts: ScaleFacts) -> list[CheckResult]:
    pv = value.parsed
    n = value.n if value.n is not None else finding.population.n
    score_range = value.range or facts.score_range
    items = value.items if value.items is not None else facts.items
    step = value.step if value.step is not None else (facts.step or 1.0)
    no_grain = (
        "GRIM needs the score's grain: name a bundled instrument scale in the recipe or give "
        f"'items' on the value ({facts.reason or 'no scale named'})"
    )
    out: list[CheckResult] = []
    if pv.kind == "percent":
        if n is None:
            out.append(CheckResult("percent_n", "not_checkable", "", pv.text, "n is not known"))
        else:
            out.append(percent_possible(pv.percent, n))
        out.append(value_in_range(value, None, n))
    elif pv.kind == "test":
        out.append(check_p_value(pv, value.tails))
        if pv.test not in ("t", "z"):  # t and z have no bounded range: no row that never applies
            out.append(value_in_range(value, None, n))
    elif pv.kind == "descriptives" or finding.recipe.statistic == "mean":
        mean = pv.mean if pv.kind == "descriptives" else pv.number
        if mean is not None:
            if n is None:
                out.append(CheckResult("grim", "not_checkable", "", mean.text, "n is not known"))
            elif items is None:
                out.append(CheckResult("grim", "not_checkable", "", mean.text, no_grain))
            else:
                out.append(grim(mean, n, items, step))
        if pv.sd is not None:
            if pv.mean is None or n is None or items is None:
                missing = "the mean" if pv.mean is None else "n" if n is None else "the grain"
                why = no_grain if missing == "the grain" else f"{missing} is not known"
                out.append(CheckResult("grimmer", "not_checkable", "", pv.sd.text, why))
            else:
                out.append(grimmer(pv.mean, pv.sd, n, items, step))
        out.append(_range_with_reason(value, score_range, n, facts))
    else:
        out.append(
            CheckResult(
                "range",
                "not_checkable",
                "",
                pv.text,
                "a bare number is only checked when the recipe's statistic is 'mean' "
                f"(here {finding.recipe.statistic!r})",
            )
        )
    return out


def _range_with_reason(
    value: FindingValue, score_range: tuple[float, float] | None, n: int | None, facts: ScaleFacts
) -> CheckResult:
    result = value_in_range(value, score_range, n)
    if result.verdict == "not_checkable" and score_range is None and facts.reason:
        return CheckResult(
            result.check,
            result.verdict,
            "",
            result.reported,
            f"{result.explanation} ({facts.reason})",
        )
    return result


def check_findings(
    findings: FindingsFile | list[Finding] | tuple[Finding, ...],
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """Run every consistency check that applies to each published value.

    Parameters
    ----------
    findings : FindingsFile or list of Finding
        From :func:`fieldsurvey.reproduce.load_findings`.
    instruments : mapping of id to Instrument, optional
        Instruments to use before looking up bundled ones (for user-defined instruments).
        A recipe naming an instrument that cannot be found makes its range and GRIM checks
        ``not_checkable``, never an error.

    Returns
    -------
    pandas.DataFrame
        One row per check: ``finding_id``, ``value`` (as printed), ``check`` (grim, grimmer,
        percent_n, p_value, range, recipe), ``verdict`` (consistent, inconsistent,
        not_checkable), ``expected``, ``reported``, ``explanation``. A finding with no printed
        value gets one ``values`` row marked not_checkable. A recipe naming an instrument scale
        gets a ``recipe`` row: inconsistent when the scale, band or cut does not exist.

    Examples
    --------
    >>> from fieldsurvey.reproduce.findings import findings_from_dict
    >>> ff = findings_from_dict({"title": "t", "findings": [{
    ...     "id": "a", "citation": "Doe (2020). J.", "statement": "38% were high.",
    ...     "population": {"description": "advocates", "n": 41},
    ...     "values": [{"printed": "38%"}],
    ...     "recipe": {"statistic": "proportion_in_band", "scale": "burnout", "band": "High"}}]})
    >>> check_findings(ff)[["check", "verdict"]].values.tolist()
    [['percent_n', 'inconsistent'], ['range', 'consistent']]
    """
    items = findings.findings if isinstance(findings, FindingsFile) else tuple(findings)
    instruments = dict(instruments or {})
    cache: InstrumentCache = {}
    rows: list[dict[str, str]] = []
    for finding in items:
        facts = scale_facts(finding.recipe.scale, instruments, cache)
        recipe_result = check_recipe(finding.recipe, instruments, cache)
        if recipe_result is not None:
            rows.append(_row(finding.id, "", recipe_result))
        if not finding.values:
            rows.append(
                _row(
                    finding.id,
                    "",
                    CheckResult(
                        "values",
                        "not_checkable",
                        "",
                        "",
                        "no numeric value is recorded for this finding (a statement only)",
                    ),
                )
            )
        for value in finding.values:
            for result in _value_checks(finding, value, facts):
                rows.append(_row(finding.id, value.printed, result))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def _row(finding_id: str, printed: str, result: CheckResult) -> dict[str, str]:
    return {
        "finding_id": finding_id,
        "value": printed,
        "check": result.check,
        "verdict": result.verdict,
        "expected": result.expected,
        "reported": result.reported,
        "explanation": result.explanation,
    }
