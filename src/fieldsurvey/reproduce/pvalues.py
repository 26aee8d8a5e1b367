"""Recompute p values from a printed test statistic and its degrees of freedom.

A printed statistic is rounded (``t(28) = 2.20`` means 2.195 to 2.205), so it does not give one p
but a range of p. A printed p is consistent when that range meets the p interval the print allows
(``p = .04`` is .035 to .045; ``p < .05`` is anything below .05). This is the logic of statcheck
(Nuijten et al. 2016), written here from that description.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

from fieldsurvey.reproduce.check_result import CheckResult
from fieldsurvey.reproduce.published_value import PublishedValue, Reported, ReportedP


def recompute_p(test: str, statistic: float, df: Sequence[float] = (), tails: int = 2) -> float:
    """The p value of a test statistic.

    Parameters
    ----------
    test : {"t", "F", "chi2", "r", "z"}
    statistic : float
        The statistic (for ``r``, the correlation coefficient).
    df : sequence of float
        ``(df,)`` for t, chi2 and r (r's df is n - 2), ``(df1, df2)`` for F, ``()`` for z.
    tails : {1, 2}
        Two-sided by default. F and chi-square tests have one rejection region, so ``tails`` does
        not change them.

    Examples
    --------
    >>> round(recompute_p("t", 2.20, (28,)), 4)
    0.0362
    >>> round(recompute_p("chi2", 4.2, (1,)), 4)
    0.0404
    """
    if tails not in (1, 2):
        raise ValueError(f"tails must be 1 or 2, got {tails!r}")
    x = float(statistic)
    if test == "F":
        return float(stats.f.sf(x, df[0], df[1])) if x > 0 else 1.0
    if test == "chi2":
        return float(stats.chi2.sf(x, df[0])) if x > 0 else 1.0
    if test == "t":
        one = float(stats.t.sf(abs(x), df[0]))
    elif test == "z":
        one = float(stats.norm.sf(abs(x)))
    elif test == "r":
        if abs(x) >= 1:
            return 0.0
        t_value = abs(x) * math.sqrt(df[0] / (1 - x * x))
        one = float(stats.t.sf(t_value, df[0]))
    else:
        raise ValueError(f"unknown test {test!r}; expected one of t, F, chi2, r, z")
    return min(1.0, one * tails)


def p_range(
    test: str, statistic: Reported, df: Sequence[float], tails: int = 2
) -> tuple[float, float]:
    """Smallest and largest p over every statistic that rounds to the printed one.

    p falls as the statistic's absolute value grows, so the extremes sit at the ends of the
    statistic's rounding interval (or at zero when the interval straddles it).
    """
    lo, hi = float(statistic.low), float(statistic.high)
    if test in ("F", "chi2"):
        small, large = max(lo, 0.0), max(hi, 0.0)
    elif lo <= 0 <= hi:
        small, large = 0.0, max(-lo, hi)
    else:
        small, large = sorted((abs(lo), abs(hi)))
    if test == "r":
        large = min(large, 1.0)
    return recompute_p(test, large, df, tails), recompute_p(test, small, df, tails)


def _meets(p_min: float, p_max: float, p: ReportedP) -> bool:
    bound = p.bound
    if p.comparator == "=":
        return p_min <= float(bound.high) and p_max >= max(float(bound.low), 0.0)
    b = bound.value
    return {
        "<": p_min < b,
        "<=": p_min <= b,
        ">": p_max > b,
        ">=": p_max >= b,
    }[p.comparator]


def _fmt_p(p: float) -> str:
    if p < 0.0001:
        return f"{p:.2e}"
    return f"{p:.4f}"


def _significant(p_min: float, p_max: float) -> bool | None:
    """True/False when every p in the range falls on one side of .05; None when it straddles."""
    if p_max < 0.05:
        return True
    if p_min >= 0.05:
        return False
    return None


def _reported_significant(p: ReportedP) -> bool | None:
    b = p.bound.value
    if p.comparator in ("<", "<=") and b <= 0.05:
        return True
    if p.comparator in (">", ">=") and b >= 0.05:
        return False
    if p.comparator == "=":
        if float(p.bound.high) < 0.05:
            return True
        if float(p.bound.low) >= 0.05:
            return False
    return None


def check_p_value(value: PublishedValue, tails: int = 2) -> CheckResult:
    """Is the printed p what the printed statistic and df give (within rounding of both)?

    Examples
    --------
    >>> from fieldsurvey.reproduce.published_value import parse_published_value
    >>> check_p_value(parse_published_value("t(28) = 2.20, p = .04")).verdict
    'consistent'
    >>> check_p_value(parse_published_value("t(28) = 2.20, p = .01")).verdict
    'inconsistent'
    """
    if value.kind != "test" or value.test is None or value.statistic is None:
        return CheckResult("p_value", "not_checkable", "", value.text, "not a test result")
    if value.p is None:
        return CheckResult(
            "p_value", "not_checkable", "", value.text, "no p value printed with the test"
        )
    sided = "two-sided" if tails == 2 or value.test in ("F", "chi2") else "one-sided"
    p_min, p_max = p_range(value.test, value.statistic, value.df, tails)
    shown = (
        _fmt_p(p_min) if _fmt_p(p_min) == _fmt_p(p_max) else f"{_fmt_p(p_min)} to {_fmt_p(p_max)}"
    )
    stat_text = f"{value.test}{_df_text(value.df)} = {value.statistic.text}"
    expected = f"p = {shown} ({sided})"
    if _meets(p_min, p_max, value.p):
        return CheckResult(
            "p_value",
            "consistent",
            expected,
            value.p.text,
            f"{stat_text} (any value that rounds to it) gives p = {shown}, {sided}, which agrees "
            f"with the printed {value.p.text}",
        )
    explanation = (
        f"{stat_text} (any value that rounds to it) gives p = {shown}, {sided}; "
        f"the printed {value.p.text} is not reachable"
    )
    if tails == 2 and value.test in ("t", "z", "r"):
        one_min, one_max = p_range(value.test, value.statistic, value.df, 1)
        if _meets(one_min, one_max, value.p):
            explanation += "; it would be consistent with a one-sided test (set tails: 1 if so)"
    computed_sig = _significant(p_min, p_max)
    reported_sig = _reported_significant(value.p)
    if computed_sig is not None and reported_sig is not None and computed_sig != reported_sig:
        explanation += "; this changes significance at .05 (a decision error)"
    return CheckResult("p_value", "inconsistent", expected, value.p.text, explanation)


def _df_text(df: Sequence[float]) -> str:
    if not df:
        return ""
    return "(" + ", ".join(f"{d:g}" for d in df) + ")"
