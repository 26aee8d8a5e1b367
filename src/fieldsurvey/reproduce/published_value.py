"""Parse published values exactly as they were printed, keeping their precision.

A figure printed as ``27.3`` stands for any value that rounds to it: 27.25 to 27.35. Every check in
:mod:`fieldsurvey.reproduce.consistency` works with that interval rather than the bare number, so
each number is parsed into a :class:`Reported` that remembers its text and decimals and gives the
interval as exact fractions (no binary floating-point surprises at the half-way points).

Supported forms (spaces optional, ``-``/``−`` minus, ``≤``/``≥``/``<=``/``>=`` for p)::

    38%            38.5 %         none            all
    M = 27.3, SD = 6.1, n = 41      (keys M/mean, SD/sd, n/N, in any order)
    t(28) = 2.20, p = .04           t(27.4) = -2.2, p < .05
    r(87) = .31                     r(87) = .31, p = .003
    F(2, 40) = 3.1, p = .06
    chi2(1, N = 90) = 4.2           χ²(1) = 4.2, p = .04
    z = 1.96, p = .05
    27.3                            (a bare number)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

ValueKind = Literal["percent", "descriptives", "test", "number"]
TestFamily = Literal["t", "F", "chi2", "r", "z"]
Comparator = Literal["=", "<", ">", "<=", ">="]

TEST_FAMILIES: tuple[str, ...] = ("t", "F", "chi2", "r", "z")
# How many degrees of freedom each test family prints in its parentheses.
_DF_COUNT = {"t": 1, "F": 2, "chi2": 1, "r": 1, "z": 0}

_NUMBER = r"[-−]?(?:\d+(?:\.\d*)?|\.\d+)"


class PublishedValueError(ValueError):
    """A published value could not be parsed; the message says what form was expected."""


@dataclass(frozen=True)
class Reported:
    """A number as printed: its text, value and number of decimals.

    Examples
    --------
    >>> x = parse_number("27.3")
    >>> x.decimals, float(x.low), float(x.high)
    (1, 27.25, 27.35)
    """

    text: str
    value: float
    decimals: int

    @property
    def exact(self) -> Fraction:
        return Fraction(self.text.replace("−", "-"))

    @property
    def half_unit(self) -> Fraction:
        """Half of the last printed digit: the widest rounding error the print allows."""
        return Fraction(1, 2 * 10**self.decimals)

    @property
    def low(self) -> Fraction:
        return self.exact - self.half_unit

    @property
    def high(self) -> Fraction:
        return self.exact + self.half_unit


@dataclass(frozen=True)
class ReportedP:
    """A p value as printed, e.g. ``p = .04`` or ``p < .001``."""

    text: str
    comparator: Comparator
    bound: Reported


@dataclass(frozen=True)
class PublishedValue:
    """One published value, parsed. Only the fields its ``kind`` uses are set.

    Attributes
    ----------
    text : the value exactly as printed
    kind : "percent", "descriptives", "test" or "number"
    percent : the percentage (kind "percent"); "none" is 0 and "all" is 100, both exact
    mean, sd : descriptives (kind "descriptives")
    n : sample size printed with the value (``n = 41``, or ``N = 90`` inside a chi-square)
    test : "t", "F", "chi2", "r" or "z" (kind "test")
    df : degrees of freedom of the test
    statistic : the test statistic
    p : the p value printed with the test, if any
    number : a bare number (kind "number")
    """

    text: str
    kind: ValueKind
    percent: Reported | None = None
    mean: Reported | None = None
    sd: Reported | None = None
    n: int | None = None
    test: TestFamily | None = None
    df: tuple[float, ...] = ()
    statistic: Reported | None = None
    p: ReportedP | None = None
    number: Reported | None = None


def parse_number(text: str) -> Reported:
    """Parse one printed number, keeping its decimals (``.31`` has 2, ``30`` has 0)."""
    clean = text.strip().replace("−", "-")
    if not re.fullmatch(_NUMBER, clean):
        raise PublishedValueError(f"{text!r} is not a number")
    decimals = len(clean.split(".", 1)[1]) if "." in clean else 0
    return Reported(text=clean, value=float(clean), decimals=decimals)


def parse_published_value(text: str) -> PublishedValue:
    """Parse a value as printed in a publication.

    Parameters
    ----------
    text : str
        E.g. ``"38%"``, ``"M = 27.3, SD = 6.1, n = 41"``, ``"t(28) = 2.20, p = .04"``.

    Returns
    -------
    PublishedValue

    Raises
    ------
    PublishedValueError
        When the text is in none of the supported forms.

    Examples
    --------
    >>> v = parse_published_value("F(2, 40) = 3.1, p = .06")
    >>> v.test, v.df, v.statistic.value, v.p.comparator, v.p.bound.value
    ('F', (2.0, 40.0), 3.1, '=', 0.06)
    >>> parse_published_value("38%").percent.decimals
    0
    """
    if not isinstance(text, str) or not text.strip():
        raise PublishedValueError("a published value must be non-empty text, e.g. '38%'")
    raw = text.strip()
    s = raw.replace("−", "-")
    lowered = s.lower()
    if lowered in ("none", "no one", "nobody"):
        return PublishedValue(raw, "percent", percent=Reported("0", 0.0, 0))
    if lowered in ("all", "everyone"):
        return PublishedValue(raw, "percent", percent=Reported("100", 100.0, 0))
    m = re.fullmatch(rf"({_NUMBER})\s*%", s)
    if m:
        return PublishedValue(raw, "percent", percent=parse_number(m.group(1)))
    if re.fullmatch(_NUMBER, s):
        return PublishedValue(raw, "number", number=parse_number(s))
    test = _parse_test(raw, s)
    if test is not None:
        return test
    return _parse_descriptives(raw, s)


_TEST_NAMES = {
    "t": "t",
    "f": "F",
    "r": "r",
    "z": "z",
    "chi2": "chi2",
    "chi^2": "chi2",
    "chi²": "chi2",
    "chi-square": "chi2",
    "χ2": "chi2",
    "χ²": "chi2",
    "χ^2": "chi2",
    "x2": "chi2",
}
_TEST_RE = re.compile(
    r"(?P<name>chi-square|chi\^2|chi2|chi²|χ\^2|χ2|χ²|x2|t|f|r|z)\s*"
    r"(?:\((?P<inside>[^)]*)\))?\s*=\s*(?P<stat>" + _NUMBER + r")"
    r"(?:\s*[,;]\s*p\s*(?P<cmp><=|>=|≤|≥|=|<|>)\s*(?P<p>" + _NUMBER + r"))?",
    re.IGNORECASE,
)


def _parse_test(raw: str, s: str) -> PublishedValue | None:
    m = _TEST_RE.fullmatch(s.strip())
    if m is None:
        if re.match(r"\s*(chi|χ|t|f|r|z)\s*[(=]", s, re.IGNORECASE):
            raise PublishedValueError(
                f"{raw!r}: cannot read this test result; write it as e.g. 't(28) = 2.20, p = .04', "
                "'F(2, 40) = 3.1', 'chi2(1, N = 90) = 4.2', 'r(87) = .31' or 'z = 1.96, p = .05'"
            )
        return None
    name = _TEST_NAMES[m.group("name").lower()]
    df: list[float] = []
    n: int | None = None
    inside = m.group("inside")
    if inside is not None:
        for part in (p.strip() for p in inside.split(",")):
            nm = re.fullmatch(r"n\s*=\s*(\d+)", part, re.IGNORECASE)
            if nm:
                n = int(nm.group(1))
            elif re.fullmatch(r"\d+(?:\.\d+)?", part):
                df.append(float(part))
            else:
                raise PublishedValueError(f"{raw!r}: cannot read degrees of freedom {part!r}")
    if len(df) != _DF_COUNT[name]:
        want = {0: "no degrees of freedom", 1: "one df, e.g. t(28)", 2: "two df, e.g. F(2, 40)"}
        raise PublishedValueError(f"{raw!r}: a {name} test takes {want[_DF_COUNT[name]]}")
    p = None
    if m.group("p") is not None:
        cmp = {"≤": "<=", "≥": ">="}.get(m.group("cmp"), m.group("cmp"))
        bound = parse_number(m.group("p"))
        if not 0 <= bound.value <= 1:
            raise PublishedValueError(f"{raw!r}: p = {bound.text} lies outside 0..1")
        p = ReportedP(text=f"p {cmp} {bound.text}", comparator=cmp, bound=bound)
    return PublishedValue(
        raw, "test", test=name, df=tuple(df), statistic=parse_number(m.group("stat")), n=n, p=p
    )


_DESC_KEYS = {"m": "mean", "mean": "mean", "sd": "sd", "s.d.": "sd", "n": "n"}


def _parse_descriptives(raw: str, s: str) -> PublishedValue:
    parts = [p.strip() for p in re.split(r"[,;()]", s) if p.strip()]
    found: dict[str, str] = {}
    for part in parts:
        m = re.fullmatch(r"([A-Za-z.]+)\s*=\s*(" + _NUMBER + ")", part)
        key = _DESC_KEYS.get(m.group(1).lower()) if m else None
        if key is None or key in found:
            raise PublishedValueError(
                f"{raw!r}: not a value fieldsurvey can read; expected a percentage ('38%'), "
                "descriptives ('M = 27.3, SD = 6.1, n = 41'), a test ('t(28) = 2.20, p = .04') "
                "or a number"
            )
        found[key] = m.group(2)
    if "mean" not in found and "sd" not in found:
        raise PublishedValueError(f"{raw!r}: descriptives need at least M = ... or SD = ...")
    n = None
    if "n" in found:
        n_num = parse_number(found["n"])
        if n_num.decimals or n_num.value < 1:
            raise PublishedValueError(f"{raw!r}: n must be a positive whole number")
        n = int(n_num.value)
    sd = parse_number(found["sd"]) if "sd" in found else None
    if sd is not None and sd.value < 0:
        raise PublishedValueError(f"{raw!r}: SD cannot be negative")
    return PublishedValue(
        raw,
        "descriptives",
        mean=parse_number(found["mean"]) if "mean" in found else None,
        sd=sd,
        n=n,
    )
