"""An independent attacker who holds every output of a study (issue 13).

It knows what a curious coalition member would know: the categories of every dimension (the
organisations, waves, roles, lived-experience answers, the bands of each scale and their score
ranges, the possible range of each score) and what each released number describes (which
organisation, wave, group, band and scale). The test gives it the study's true respondent-level
data only so that it can turn those descriptions into respondent sets and know the true value of
everything withheld; it never reads a true value to decide anything.

What it does with the released numbers
--------------------------------------
*Linear facts.* Every released count is an equation over unknown non-negative counts of
"atoms" (every combination of the dimension values used, zero cells included); a released mean
with its n is an equation on the cell's sum of scores (``n x mean``) and an SD one on its sum of
squares (``(n - 1) sd^2 + n mean^2``); a share with its count or denominator is
``100 count - pct denominator = 0``. Each atom's sum of scores lies in ``[lo, hi] x count``
where ``[lo, hi]`` is the score range of its band, and its sum of squares in the matching
range (with the secant bound ``Q <= (lo + hi) S - lo hi n``).

*Inverted derived statistics.* A Welch t with its df, a difference with its interval and p, a
Hedges' g with its interval, a standardised difference and the t interval of a mean are turned
back into the two groups' n, mean and SD (:func:`two_group_solutions`: every integer pair of
group sizes the attacker cannot rule out is tried, the continuous part solved numerically, and
what is identified added as new facts); a difference with the rest of the field uses the field
(the union) as well; a change between waves is a Welch difference of the two waves. Funnel
limits with their target, sigma and tau^2 give the organisation's n; an adjusted z with the
model's target, sigma and tau^2 gives its mean; percentile ranks give the count of ranked
organisations (which must be the organisations whose means are shown).

*Solving.* For each withheld value the attacker solves min and max by linear programming
(HiGHS, counts relaxed to reals, then rounded inwards to integers) and checks exact
determination by linear algebra (the value's minimum over the affine solution set of the
equations without bounds is finite only if it is determined).

The protection rule for a withheld count (as the gate's interval protection): the attacker's
integer range holds at least two values and either reaches ``min_cell`` or includes 0. A
withheld sum (mean) or sum of squares (SD) must not be determined. Each breach is labelled
``zero`` / ``small`` (the cell holds nobody / fewer than ``min_cell``: a primary disclosure) or
``complementary`` (a value withheld to protect others); ``moments`` marks a breach that needs
the score ranges of the bands (a mean and SD bound how many can be in each band). A
complementary value that outputs released *before* the one withholding it already gave away is
the gate's documented "exposed before" case and is not counted.

Assumptions and limits
----------------------
* The universe is every combination of the categories the attacker knows (zeros included);
  with ``knows_sizes`` it also knows each organisation's size band.
* A table that lists only the categories someone is in gives the others away as zeros: the
  readers target every known category a table leaves out.
* Not inverted (only checked to be shown beside shown sources, or not at all): Welch's ANOVA
  and omega squared, Mann-Whitney and Cliff's delta, regressions of a plan (only the n of a
  plan's two-group tests is read), alpha and omega, shrunken means, measurement-invariance
  levels, the drivers table, survey-weighted and role-standardised estimates, and the sentences
  of a report's summary. The benchmark reader refuses tables it does not know.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import pandas as pd
from scipy import optimize, sparse, stats

NOT_STATED = "not stated"
NO_SCORE = "no score"
INF = highspy.kHighsInf


class AttackerError(RuntimeError):
    """The released facts contradict each other: a reader mis-describes a number."""


# ----------------------------------------------------------------------------------------------
# Cells


@dataclass(frozen=True)
class Not:
    """Every value of a dimension but one (the rest of the field)."""

    value: Any


@dataclass(frozen=True)
class AnyOf:
    """Any of several values of a dimension."""

    values: frozenset


@dataclass(frozen=True)
class Cell:
    """A respondent set: dimension conditions, optionally restricted to valid scores of a measure."""

    where: tuple[tuple[str, Any], ...]
    measure: str | None = None

    @staticmethod
    def of(where: Mapping[str, Any] | None = None, measure: str | None = None) -> Cell:
        items = []
        for dim, value in (where or {}).items():
            if value is None or (not isinstance(value, (Not, AnyOf, bool)) and _isna(value)):
                continue
            items.append((dim, value))
        return Cell(tuple(sorted(items, key=lambda kv: kv[0])), measure)

    def with_(self, measure: str | None = None, **where: Any) -> Cell:
        return Cell.of({**dict(self.where), **where}, measure or self.measure)

    @property
    def dims(self) -> list[str]:
        return [d for d, _ in self.where]

    def label(self) -> str:
        parts = []
        for d, v in self.where:
            if isinstance(v, Not):
                parts.append(f"{d}!={v.value}")
            elif isinstance(v, AnyOf):
                parts.append(f"{d} in {sorted(map(str, v.values))}")
            else:
                parts.append(f"{d}={v}")
        text = ", ".join(parts) or "everyone"
        return f"{text} [valid {self.measure}]" if self.measure else text

    def mask(self, truth: pd.DataFrame) -> np.ndarray:
        """Which true respondents the cell holds."""
        m = np.ones(len(truth), dtype=bool)
        for dim, cond in self.where:
            m &= _matches(truth[dim].to_numpy(dtype=object), cond)
        if self.measure is not None:
            m &= truth[self.measure].notna().to_numpy()
        return m


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _matches(values: np.ndarray, cond: Any) -> np.ndarray:
    if isinstance(cond, Not):
        return np.array([v != cond.value for v in values], dtype=bool)
    if isinstance(cond, AnyOf):
        return np.array([v in cond.values for v in values], dtype=bool)
    return np.array([v == cond for v in values], dtype=bool)


def _value_matches(value: Any, cond: Any) -> bool:
    if isinstance(cond, Not):
        return value != cond.value
    if isinstance(cond, AnyOf):
        return value in cond.values
    return value == cond


# ----------------------------------------------------------------------------------------------
# What the attacker knows about each measure


@dataclass
class Layer:
    """A measure: its possible score range and the dimensions that are functions of its score.

    ``bands``: dimension -> {label: (low, high) score interval}; the label ``NO_SCORE`` (no
    valid score) is added. ``answered``: a yes/no dimension (answered at least one item), true
    for everyone with a valid score.
    """

    measure: str
    low: float
    high: float
    bands: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    answered: str | None = None

    def categories(self, used: set[str]) -> list[dict[str, Any]]:
        """The layer's categories over the dimensions used: valid ones carry a score range."""
        band_dims = [d for d in self.bands if d in used]
        cats: list[dict[str, Any]] = []
        if band_dims:
            # Bands of one measure are intervals of the same score: intersect them.
            for combo in itertools.product(*[list(self.bands[d].items()) for d in band_dims]):
                lo = max(r[0] for _, r in combo)
                hi = min(r[1] for _, r in combo)
                if lo <= hi:
                    cats.append({"valid": True, "range": (lo, hi),
                                 **{d: label for d, (label, _) in zip(band_dims, combo,
                                                                      strict=True)}})
        else:
            cats.append({"valid": True, "range": (self.low, self.high)})
        invalid = [{"valid": False, **dict.fromkeys(band_dims, NO_SCORE)}]
        if self.answered is not None and self.answered in used:
            for c in cats:
                c[self.answered] = True
            invalid = [{**invalid[0], self.answered: a} for a in (True, False)]
        return cats + invalid


# ----------------------------------------------------------------------------------------------
# Facts and targets


@dataclass(frozen=True)
class Term:
    coef: float
    cell: Cell
    kind: str  # "count", "sum" (of the cell's measure), "sumsq"


@dataclass
class Fact:
    terms: tuple[Term, ...]
    low: float
    high: float
    source: str
    stage: int = 0  # which release it came in (outputs are numbered in the order they ran)


@dataclass
class Target:
    label: str
    cell: Cell
    kind: str  # "count", "sum", "sumsq"
    source: str
    stage: int = 0


@dataclass
class Finding:
    """What the attacker learnt about one withheld value."""

    label: str
    cell: Cell
    kind: str
    true: float
    low: float
    high: float
    determined: bool
    source: str
    stage: int = 0

    @property
    def int_range(self) -> tuple[float, float]:
        lo = math.ceil(self.low - 1e-6) if math.isfinite(self.low) else -math.inf
        hi = math.floor(self.high + 1e-6) if math.isfinite(self.high) else math.inf
        return lo, hi

    def protected(self, min_cell: int) -> bool:
        if self.kind != "count":
            return not self.determined
        lo, hi = self.int_range
        return (not self.determined) and hi - lo >= 1 and (hi >= min_cell or lo <= 0)

    def __str__(self) -> str:
        if self.kind == "count":
            lo, hi = self.int_range
            what = f"count in [{lo}, {hi}]"
        else:
            what = f"{self.kind} in [{self.low:.6g}, {self.high:.6g}]"
        det = " DETERMINED" if self.determined else ""
        return f"{self.source}: {self.label} ({self.cell.label()}): true {self.true:g}, {what}{det}"


@dataclass
class Alert:
    """A released derived statistic that rests on something withheld (or is inconsistent with
    the cells it should rest on)."""

    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass
class Welch:
    """A released comparison of two cells (a minus b) to invert."""

    a: Cell
    b: Cell
    stats: dict[str, Any]
    source: str
    union: Cell | None = None
    conf: float = 0.95


# ----------------------------------------------------------------------------------------------
# The attacker


class Attacker:
    """Collects released facts about one study and solves for everything withheld.

    Parameters
    ----------
    truth : DataFrame
        One row per respondent: a column per dimension (text categories), a column per measure
        (the score, NaN when there is none), and the band / answered columns of each layer.
    layers : list of Layer
    domains : dict, optional
        Categories of a dimension the attacker knows beyond those present (e.g. every answer
        of the lived-experience question).
    functional : dict, optional
        ``{dim: parent}``: ``dim`` is a known function of ``parent`` (an organisation's size band).
    min_cell : int
    full : bool
        Solve over the full product of dimension values instead of a junction tree of clique
        tables (slower; the same ranges for counts).
    """

    def __init__(self, truth: pd.DataFrame, layers: Sequence[Layer], *,
                 domains: Mapping[str, Sequence[Any]] | None = None,
                 functional: Mapping[str, str] | None = None, min_cell: int = 10,
                 full: bool = False) -> None:
        self.truth = truth.reset_index(drop=True)
        self.full = full
        self.layers = {layer.measure: layer for layer in layers}
        self.layer_of_dim = {}
        for layer in layers:
            for d in layer.bands:
                self.layer_of_dim[d] = layer.measure
            if layer.answered:
                self.layer_of_dim[layer.answered] = layer.measure
        self.domains = {k: list(v) for k, v in (domains or {}).items()}
        self.functional = dict(functional or {})
        self.min_cell = min_cell
        self.facts: list[Fact] = []
        self.targets: list[Target] = []
        self.welch: list[Welch] = []
        self.alerts: list[Alert] = []
        self.alternatives: list[list[list[Fact]]] = []
        self.shares: list[tuple[Cell, str]] = []
        self.stage = 0
        self.exposed_before: list[Finding] = []
        #: Means the attacker has seen, per (context, scale): organisation -> mean.
        self.org_means: dict[tuple, dict[str, float]] = {}
        self.rank_sets: list[tuple[tuple, pd.DataFrame, str]] = []
        self.inverted: list[Fact] = []

    # -- what readers call -----------------------------------------------------------------

    def next_release(self) -> None:
        """What is read next came out of a later run (release) than what was read so far."""
        self.stage += 1

    def equation(self, terms: Iterable[Term], value: float, source: str,
                 tol: float | None = None) -> None:
        terms = tuple(terms)
        tol = 1e-7 * max(1.0, abs(value)) if tol is None else tol
        self.facts.append(Fact(terms, value - tol, value + tol, source, self.stage))

    def bound(self, cell: Cell, low: float, high: float, source: str) -> None:
        self.facts.append(Fact((Term(1.0, cell, "count"),), low, high, source, self.stage))

    def count(self, cell: Cell, n: Any, source: str, label: str | None = None) -> None:
        """A released (or withheld, when ``n`` is missing) count of a cell."""
        if _missing(n):
            self.targets.append(Target(label or "count", cell, "count", source, self.stage))
        else:
            self.equation([Term(1.0, cell, "count")], float(n), source, tol=1e-6)
            if float(n) < self.min_cell and not (float(n) == 0 and self.known_empty(cell)):
                self.alert(source, f"count {n:g} shown for {cell.label()} (below {self.min_cell})")

    def known_empty(self, cell: Cell) -> bool:
        """Whether what the attacker knows beforehand (``functional``: an organisation's size
        band) already says nobody is in the cell: showing its zero tells nothing new."""
        where = dict(cell.where)
        for dep, det in self.functional.items():
            value = where.get(dep)
            if value is None or isinstance(value, (AnyOf, Not)):
                continue
            of = self.truth.groupby(det)[dep].first()
            allowed = set(of[of == value].index)
            given = where.get(det)
            if not allowed or (given is not None and not isinstance(given, (AnyOf, Not))
                               and given not in allowed):
                return True
        return False

    def moments(self, cell: Cell, n: Any, mean: Any, sd: Any, source: str) -> None:
        """A released n with a score, mean and SD of ``cell.measure`` (missing: withheld)."""
        assert cell.measure is not None, cell
        self.count(cell, n, source, "n with a score")
        if _missing(mean):
            if not _missing(n) and float(n) == 0:
                return
            self.targets.append(Target("mean (sum)", cell, "sum", source, self.stage))
            self.targets.append(Target("sd (sum of squares)", cell, "sumsq", source, self.stage))
            return
        mean = float(mean)
        # S - mean x = 0 and Q - (sd^2 + mean^2) x = -sd^2: linear even when n is withheld.
        self.equation([Term(1.0, cell, "sum"), Term(-mean, cell, "count")], 0.0, source,
                      tol=1e-7 * max(1.0, abs(mean)))
        if not _missing(sd):
            sd = float(sd)
            self.equation([Term(1.0, cell, "sumsq"), Term(-(sd * sd + mean * mean), cell,
                                                          "count")],
                          -sd * sd, source, tol=1e-6 * max(1.0, mean * mean + sd * sd))
        elif not _missing(n) and float(n) >= 2:
            self.targets.append(Target("sd (sum of squares)", cell, "sumsq", source, self.stage))

    def share(self, numerator: Cell, denominator: Cell, pct: Any, source: str) -> None:
        """A released percentage ``100 numerator / denominator``."""
        if _missing(pct):
            return
        self.shares.append((numerator, source))
        self.equation([Term(100.0, numerator, "count"), Term(-float(pct), denominator, "count")],
                      0.0, source, tol=1e-6 * max(1.0, float(pct)))

    def compared(self, welch: Welch) -> None:
        """A released comparison of two cells (inverted in :meth:`solve`)."""
        values = [x for v in welch.stats.values()
                  for x in (v if isinstance(v, tuple) else (v,))]
        if all(_missing(v) for v in values):
            return
        self.welch.append(welch)

    def alert(self, source: str, message: str) -> None:
        self.alerts.append(Alert(source, message))

    def one_of(self, options: list[list[Fact]]) -> None:
        """Facts the attacker knows hold for one of several readings (e.g. unknown subsets)."""
        self.alternatives.append(options)

    # -- solving -----------------------------------------------------------------------------

    def solve(self, rounds: int = 3) -> list[Finding]:
        """The attacker's range for every withheld value, after inverting derived statistics."""
        self.inverted = []
        combos = list(itertools.product(*self.alternatives)) if self.alternatives else [()]
        merged: dict[int, Finding] = {}
        feasible = 0
        for combo in combos:
            extra = [f for facts in combo for f in facts]
            try:
                found = self._solve_with(extra, rounds)
            except AttackerError:
                if len(combos) == 1:
                    raise
                continue
            feasible += 1
            for i, f in enumerate(found):
                if i not in merged:
                    merged[i] = f
                else:
                    m = merged[i]
                    m.low, m.high = min(m.low, f.low), max(m.high, f.high)
                    m.determined = m.determined and f.determined and m.low == f.low
        if feasible == 0:
            raise AttackerError("no reading of the alternatives is consistent")
        return [merged[i] for i in sorted(merged)]

    def _rank_alerts(self) -> list[str]:
        before = len(self.alerts)
        for key, rows, source in self.rank_sets:
            check_ranks(self, rows, self.org_means.get(key, {}), source)
        lines = [str(a) for a in self.alerts[before:]]
        del self.alerts[before:]
        return lines

    def _solve_with(self, extra: list[Fact], rounds: int) -> list[Finding]:
        facts = list(self.facts) + extra
        model = None
        done: set[tuple[int, str]] = set()
        for _ in range(max(1, rounds)):
            model = _Model(self, facts, self.full)
            model.check_feasible()
            new = []
            for i, w in enumerate(self.welch):
                for fact in _invert_welch(model, w):
                    key = (i, repr(fact.terms), round(fact.low, 6), round(fact.high, 6))
                    if key not in done:
                        done.add(key)
                        new.append(fact)
            if not new:
                break
            facts += new
            self.inverted += new
            model = None
        if model is None:
            model = _Model(self, facts, self.full)
            model.check_feasible()
        self.model = model
        out = []
        solved: dict[tuple[Cell, str], tuple[float, float, bool, float]] = {}
        # A value shown by another output (or another table) is public: not a target.
        released = [f for f in self.facts if "(inverted)" not in f.source]
        shown = {(f.terms[0].cell, f.terms[0].kind) for f in released
                 if len(f.terms) == 1 and f.terms[0].coef == 1.0 and f.high - f.low < 1e-3}
        shown |= {(f.terms[0].cell, "sum") for f in released if len(f.terms) == 2
                  and f.terms[0].kind == "sum" and (f.terms[0].cell, "count") in shown}
        shown |= {(f.terms[0].cell, "sumsq") for f in released if len(f.terms) == 2
                  and f.terms[0].kind == "sumsq" and (f.terms[0].cell, "count") in shown}
        self.shown_elsewhere = [t for t in self.targets if (t.cell, t.kind) in shown]
        keys = list(dict.fromkeys((t.cell, t.kind) for t in self.targets
                                  if (t.cell, t.kind) not in shown))
        keys = [k for k in keys if model.vector(*k)]  # an empty vector is known 0 a priori
        ranges = dict(zip(keys, model.ranges(keys), strict=True))
        for t in self.targets:
            key = (t.cell, t.kind)
            if key not in ranges:
                continue
            if key not in solved:
                lo, hi = ranges[key]
                # Determined by the equations alone (linear algebra) implies a zero-width range.
                close = 1e-6 if t.kind == "count" else 1e-4
                finite = math.isfinite(lo) and math.isfinite(hi)
                det = finite and ((hi - lo) <= close * max(1.0, abs(hi)) or (
                    (hi - lo) <= 1e-3 * max(1.0, abs(hi)) and model.determined(t.cell, t.kind)))
                solved[key] = (lo, hi, det, self.true_value(t.cell, t.kind))
            lo, hi, det, true = solved[key]
            out.append(Finding(t.label, t.cell, t.kind, true, lo, hi, det, t.source, t.stage))
        return out

    def true_value(self, cell: Cell, kind: str) -> float:
        mask = cell.mask(self.truth)
        if kind == "count":
            return float(mask.sum())
        values = self.truth.loc[mask, cell.measure].to_numpy(dtype=float)
        return float(values.sum() if kind == "sum" else (values**2).sum())

    def tier(self, f: Finding) -> str:
        """``zero``: nobody is in the cell; ``small``: fewer than the minimum are;
        ``complementary``: a value withheld to protect others (its own count is large enough)."""
        n = f.true if f.kind == "count" else self.true_value(f.cell, "count")
        if n == 0:
            return "zero"
        return "small" if n < self.min_cell else "complementary"

    def breaches(self, findings: Sequence[Finding] | None = None) -> list[Finding]:
        """Withheld values the attacker pins down or boxes in below the protection interval."""
        findings = self.solve() if findings is None else findings
        out = []
        for f in findings:
            if f.protected(self.min_cell):
                continue
            if self.tier(f) == "complementary" and self._given_before(f):
                # Withheld by a later output although earlier ones already gave it: the gate's
                # documented "exposed before" case (no protection was promised for it).
                self.exposed_before.append(f)
                continue
            out.append(f)
        return out

    def _needs_score_bounds(self, findings: Sequence[Finding]) -> set[int]:
        """The breaches that need the score ranges (a mean and SD bound how many people can be
        in each band): without them, from the linear equations alone, the value is protected."""
        if not findings or self.alternatives:
            return set()
        facts = list(self.facts) + list(self.inverted)
        model = _Model(self, facts, self.full, score_bounds=False)
        keys = list(dict.fromkeys((f.cell, f.kind) for f in findings))
        ranges = dict(zip(keys, model.ranges(keys), strict=True))
        out = set()
        for f in findings:
            lo, hi = ranges[(f.cell, f.kind)]
            probe = Finding(f.label, f.cell, f.kind, f.true, lo, hi, False, f.source)
            if f.kind != "count" and not (math.isfinite(hi) and hi - lo < 1e-4 * max(1, hi)):
                out.add(id(f))
            elif f.kind == "count" and probe.protected(self.min_cell):
                out.add(id(f))
        return out

    def _given_before(self, f: Finding) -> bool:
        earlier = [x for x in self.facts if x.stage < f.stage]
        if not earlier:
            return False
        model = _Model(self, earlier, self.full)
        try:
            lo, hi = model.range(f.cell, f.kind)
        except AttackerError:
            return False
        if f.kind == "count":
            return math.isfinite(hi) and math.floor(hi + 1e-6) == math.ceil(lo - 1e-6)
        return math.isfinite(hi) and hi - lo <= 1e-4 * max(1.0, abs(hi))

    def check(self) -> list[str]:
        """Every breach and alert as readable lines (empty: nothing withheld is recovered)."""
        found = self.solve()
        for f in found:  # the attacker's ranges must hold the truth: else a reader is wrong
            if not (f.low - 1e-4 * max(1, abs(f.low)) <= f.true <= f.high
                    + 1e-4 * max(1, abs(f.high))):
                raise AttackerError(f"range excludes the true value: {f}")
        self.found_breaches = self.breaches(found)
        moments = self._needs_score_bounds(self.found_breaches)
        lines = [f"[{self.tier(f)}{', moments' if id(f) in moments else ''}] {f}"
                 for f in self.found_breaches]
        lines += self._rank_alerts()
        if not self.alternatives:  # counts a released share gives away
            cells = list(dict.fromkeys(c for c, _ in self.shares))
            for (cell, src), (lo, hi) in zip(
                    [(c, next(s for cc, s in self.shares if cc == c)) for c in cells],
                    self.model.ranges([(c, "count") for c in cells]), strict=True):
                if hi - lo < 1e-6 and round(lo) < self.min_cell:
                    lines.append(f"{src}: a share gives the count of {cell.label()}: "
                                 f"{round(lo)}")
        return lines + [str(a) for a in self.alerts]

    # -- universe ----------------------------------------------------------------------------

    def domain(self, dim: str, mentioned: set[Any]) -> list[Any]:
        values = list(self.domains.get(dim, []))
        present = self.truth[dim].dropna().unique().tolist() if dim in self.truth else []
        for v in [*present, *sorted(mentioned, key=str)]:
            if v not in values:
                values.append(v)
        return values


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or _isna(value)


# ----------------------------------------------------------------------------------------------
# The linear model over atoms


class _Model:
    """The unknowns: counts, sums of scores and sums of squares of respondent sets.

    ``full=True``: one count per combination of every dimension value used (and, per measure,
    per layer category), the plain formulation. By default the same model is split into
    clique tables of a junction tree over the dimensions that cells use together (a cell on
    organisation x wave and one on lived experience x wave need no organisation x lived
    experience table): the counts of one clique's combinations, the clique tables agreeing
    on their shared margins. For counts this is exact (margins consistent on a junction tree
    always come from some joint table); each measure's layer lives in one clique, so sums
    and sums of squares are treated as in the full model.
    """

    def __init__(self, att: Attacker, facts: list[Fact], full: bool = False,
                 score_bounds: bool = True) -> None:
        self.att = att
        cells = [t.cell for f in facts for t in f.terms] + [t.cell for t in att.targets]
        cells += [c for w in att.welch for c in (w.a, w.b, w.union) if c is not None]
        mentioned: dict[str, set[Any]] = {}
        scopes: list[frozenset[str]] = []
        for c in cells:
            for d, v in c.where:
                vals = v.values if isinstance(v, AnyOf) else {v.value if isinstance(v, Not) else v}
                mentioned.setdefault(d, set()).update(vals)
            scopes.append(self.scope(c))
        measures = {d[2:] for sc in scopes for d in sc if d.startswith("L:")}
        unknown = [m for m in measures if m not in att.layers]
        if unknown:
            raise AttackerError(f"no layer for measure(s) {unknown}")
        self.used = set(mentioned)
        base = sorted(d for d in mentioned if d not in att.layer_of_dim)
        for d, parent in att.functional.items():
            if d in base and parent not in base:
                base.append(parent)
            if d in base:
                scopes.append(frozenset({d, parent}))
        self.domains = {d: att.domain(d, mentioned.get(d, set())) for d in base}
        if full:
            nodes = [*base, *(f"L:{m}" for m in sorted(measures))]
            groups = [frozenset(base) | {f"L:{m}"} for m in sorted(measures)] or [frozenset(base)]
            cliques = groups if measures else [frozenset(nodes)]
            edges = [(0, i, frozenset(base)) for i in range(1, len(cliques))]
        else:
            cliques, edges = _junction_tree(base, scopes)
        self.cols = 0
        self.cliques: list[dict[str, Any]] = []
        rows: list[tuple[dict[int, float], float, float]] = []
        lower: list[float] = []
        for members in cliques:
            dims = sorted(d for d in members if not d.startswith("L:"))
            layer = next((d[2:] for d in members if d.startswith("L:")), None)
            atoms = self._atoms(dims)
            cats = att.layers[layer].categories(self.used) if layer else [{"valid": False}]
            valid = [j for j, c in enumerate(cats) if c["valid"]] if layer else []
            count = self._new(len(atoms) * len(cats)).reshape(len(atoms), len(cats))
            ssum = self._new(len(atoms) * len(valid)).reshape(len(atoms), len(valid))
            ssq = self._new(len(atoms) * len(valid)).reshape(len(atoms), len(valid))
            lower += [0.0] * count.size + [-INF] * (ssum.size + ssq.size)
            self.cliques.append({"dims": dims, "layer": layer, "atoms": atoms, "cats": cats,
                                 "valid": valid, "count": count, "sum": ssum, "sumsq": ssq,
                                 "members": frozenset(members)})
            for a in range(len(atoms) if score_bounds else 0):
                for k, j in enumerate(valid):
                    lo, hi = cats[j]["range"]
                    yy, ss, qq = int(count[a, j]), int(ssum[a, k]), int(ssq[a, k])
                    rows.append(({ss: 1.0, yy: -lo}, 0.0, INF))
                    rows.append(({ss: 1.0, yy: -hi}, -INF, 0.0))
                    q_lo = 0.0 if lo <= 0 <= hi else min(lo * lo, hi * hi)
                    rows.append(({qq: 1.0, yy: -q_lo}, 0.0, INF))
                    # (s - lo)(s - hi) <= 0 for every score: Q <= (lo + hi) S - lo hi n.
                    rows.append(({qq: 1.0, ss: -(lo + hi), yy: lo * hi}, -INF, 0.0))
        for i, j, sep in edges:  # neighbouring clique tables agree on their shared margin
            dims = sorted(sep)
            for combo in self._atoms(dims):
                where = tuple(zip(dims, combo, strict=True))
                coefs = dict(self._count_cols(self.cliques[i], where, [], None))
                for col, w in self._count_cols(self.cliques[j], where, [], None):
                    coefs[col] = coefs.get(col, 0.0) - w
                rows.append((coefs, 0.0, 0.0))
        self.lower = np.array(lower)
        self.upper = np.full(self.cols, INF)
        self.link_rows = len(rows)
        for f in facts:
            coefs: dict[int, float] = {}
            for t in f.terms:
                for col, w in self.vector(t.cell, t.kind).items():
                    coefs[col] = coefs.get(col, 0.0) + t.coef * w
            rows.append((coefs, f.low, f.high))
        self.rows = rows
        self.facts = facts
        self._lp: highspy.Highs | None = None
        self._free: highspy.Highs | None = None

    def _new(self, k: int) -> np.ndarray:
        cols = self.cols + np.arange(k)
        self.cols += k
        return cols

    def _atoms(self, dims: list[str]) -> list[tuple]:
        atoms = list(itertools.product(*[self.domains[d] for d in dims]))
        pairs = [(dims.index(d), dims.index(p)) for d, p in self.att.functional.items()
                 if d in dims and p in dims]
        if not pairs:
            return atoms
        truth = self.att.truth
        known = {(d, p): dict(zip(truth[p], truth[d], strict=True))
                 for d, p in self.att.functional.items()}
        keep = []
        for a in atoms:
            ok = True
            for i, j in pairs:
                d, p = dims[i], dims[j]
                ok &= known[(d, p)].get(a[j], a[i]) == a[i]
            keep.append(ok)
        return [a for a, k in zip(atoms, keep, strict=True) if k]

    def scope(self, cell: Cell) -> frozenset[str]:
        """The dimensions a cell conditions on (a measure's layer as ``L:<measure>``)."""
        out = {d for d, _ in cell.where if d not in self.att.layer_of_dim}
        layers = {self.att.layer_of_dim[d] for d, _ in cell.where if d in self.att.layer_of_dim}
        if cell.measure is not None:
            layers.add(cell.measure)
        if len(layers) > 1:
            raise AttackerError(f"cell crosses two measures: {cell.label()}")
        return frozenset(out | {f"L:{m}" for m in layers})

    def _count_cols(self, clique: dict[str, Any], base_conds: Sequence[tuple[str, Any]],
                    layer_conds: Sequence[tuple[str, Any]], measure: str | None,
                    key: str = "count") -> list[tuple[int, float]]:
        idx = [clique["dims"].index(d) for d, _ in base_conds]
        match = [a for a, atom in enumerate(clique["atoms"])
                 if all(_value_matches(atom[i], v) for i, (_, v) in zip(idx, base_conds,
                                                                      strict=True))]
        cats = [j for j, c in enumerate(clique["cats"])
                if all(_value_matches(c.get(d), v) for d, v in layer_conds)
                and (measure is None or c["valid"])]
        if key == "count":
            return [(int(clique["count"][a, j]), 1.0) for a in match for j in cats]
        pos = {j: k for k, j in enumerate(clique["valid"])}
        return [(int(clique[key][a, pos[j]]), 1.0) for a in match for j in cats if j in pos]

    def vector(self, cell: Cell, kind: str) -> dict[int, float]:
        """The columns a cell's count / sum / sum of squares adds up."""
        scope = self.scope(cell)
        if kind != "count" and cell.measure is None:
            raise AttackerError(f"a {kind} needs a measure: {cell.label()}")
        home = min((c for c in self.cliques if scope <= c["members"]),
                   key=lambda c: c["count"].size, default=None)
        if home is None:
            raise AttackerError(f"no clique holds {cell.label()}")
        base_conds = [(d, v) for d, v in cell.where if d not in self.att.layer_of_dim]
        layer_conds = [(d, v) for d, v in cell.where if d in self.att.layer_of_dim]
        return dict(self._count_cols(home, base_conds, layer_conds, cell.measure, kind))

    def _matrix(self, rows: list[tuple[dict[int, float], float, float]]):
        data, ri, ci = [], [], []
        for r, (coefs, _, _) in enumerate(rows):
            for c, w in coefs.items():
                if w != 0.0:
                    ri.append(r)
                    ci.append(c)
                    data.append(w)
        return sparse.csr_matrix((data, (ri, ci)), shape=(len(rows), self.cols))

    def _highs(self, rows, lower, upper) -> highspy.Highs:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        h.setOptionValue("simplex_strategy", 4)
        h.setOptionValue("primal_feasibility_tolerance", 1e-8)
        h.setOptionValue("dual_feasibility_tolerance", 1e-8)
        lp = highspy.HighsLp()
        lp.num_col_ = self.cols
        lp.num_row_ = len(rows)
        lp.col_cost_ = np.zeros(self.cols)
        lp.col_lower_ = np.asarray(lower, dtype=float)
        lp.col_upper_ = np.asarray(upper, dtype=float)
        lp.row_lower_ = np.array([r[1] for r in rows], dtype=float)
        lp.row_upper_ = np.array([r[2] for r in rows], dtype=float)
        a = self._matrix(rows).tocsc()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        h.passModel(lp)
        return h

    @property
    def lp(self) -> highspy.Highs:
        if self._lp is None:
            self._lp = self._highs(self.rows, self.lower, self.upper)
        return self._lp

    def check_feasible(self) -> None:
        h = self.lp
        h.changeColsCost(self.cols, np.arange(self.cols), np.zeros(self.cols))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise AttackerError(self._explain_infeasible())

    def _explain_infeasible(self) -> str:
        # Drop facts one source at a time to name the one that contradicts the rest.
        sources = list(dict.fromkeys(f.source for f in self.facts))
        for s in reversed(sources):
            keep = [f for f in self.facts if f.source != s]
            trial = _Model.__new__(_Model)
            trial.__dict__.update(self.__dict__)
            trial.rows = self.rows[: self.link_rows] + [
                r for r, f in zip(self.rows[self.link_rows:], self.facts, strict=True)
                if f.source != s]
            trial._lp = None
            h = trial.lp
            h.run()
            if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                bad = [f for f in self.facts if f.source == s][:3]
                return (f"released facts are inconsistent; dropping {s!r} restores them "
                        f"(e.g. {[(t.cell.label(), t.kind, f.low) for f in bad for t in f.terms]})")
            del keep
        return "released facts are inconsistent"

    def feasible_with(self, facts: Sequence[Fact]) -> bool:
        """Whether the released facts allow these extra ones too."""
        trial = _Model.__new__(_Model)
        trial.__dict__.update(self.__dict__)
        extra = []
        for f in facts:
            coefs: dict[int, float] = {}
            for t in f.terms:
                for col, w in self.vector(t.cell, t.kind).items():
                    coefs[col] = coefs.get(col, 0.0) + t.coef * w
            extra.append((coefs, f.low, f.high))
        trial.rows = self.rows + extra
        trial._lp = None
        h = trial.lp
        h.run()
        return h.getModelStatus() == highspy.HighsModelStatus.kOptimal

    def range(self, cell: Cell, kind: str) -> tuple[float, float]:
        return self.ranges([(cell, kind)])[0]

    def ranges(self, items: Sequence[tuple[Cell, str]]) -> list[tuple[float, float]]:
        """Min and max of each item: all minimisations, then all maximisations (warm starts
        from similar objectives are much cheaper than switching sense every time)."""
        h = self.lp
        costs = []
        for cell, kind in items:
            cost = np.zeros(self.cols)
            for c, w in self.vector(cell, kind).items():
                cost[c] = w
            costs.append(cost)
        out: list[list[float]] = [[0.0, 0.0] for _ in items]
        for k, sense in enumerate((highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize)):
            h.changeObjectiveSense(sense)
            for i, cost in enumerate(costs):
                h.changeColsCost(self.cols, np.arange(self.cols), cost)
                h.run()
                status = h.getModelStatus()
                if status == highspy.HighsModelStatus.kOptimal:
                    out[i][k] = h.getInfo().objective_function_value
                elif status in (highspy.HighsModelStatus.kUnbounded,
                                highspy.HighsModelStatus.kUnboundedOrInfeasible):
                    out[i][k] = -math.inf if k == 0 else math.inf
                else:
                    raise AttackerError(f"LP status {status} for {items[i][0].label()}")
        h.changeObjectiveSense(highspy.ObjSense.kMinimize)
        return [(lo, hi) for lo, hi in out]

    def determined(self, cell: Cell, kind: str) -> bool:
        """Exact linear-algebra determination: the value is constant on the equations' solution
        set (bounds ignored), i.e. its minimum over that affine set is finite."""
        if self._free is None:
            eq = [r for r in self.rows if r[1] == r[2] or abs(r[2] - r[1]) <= 1e-5 * max(
                1.0, abs(r[1])) and math.isfinite(r[1]) and math.isfinite(r[2])]
            self._free = self._highs(eq, np.full(self.cols, -INF), np.full(self.cols, INF))
        h = self._free
        cost = np.zeros(self.cols)
        for c, w in self.vector(cell, kind).items():
            cost[c] = w
        h.changeColsCost(self.cols, np.arange(self.cols), cost)
        h.run()
        return h.getModelStatus() == highspy.HighsModelStatus.kOptimal


def _junction_tree(base: list[str], scopes: Sequence[frozenset[str]]
                   ) -> tuple[list[frozenset[str]], list[tuple[int, int, frozenset[str]]]]:
    """Cliques of a triangulation of the dimensions' co-occurrence graph and a junction tree.

    Measure layers (``L:<measure>``) are eliminated first, so each lies in exactly one clique;
    the base dimensions are then eliminated greedily by least fill-in. The tree is a maximum
    spanning tree on shared dimensions (empty separators tie components by their totals).
    """
    nodes = set(base) | {d for sc in scopes for d in sc}
    nbrs: dict[str, set[str]] = {d: set() for d in nodes}
    for sc in scopes:
        for a in sc:
            nbrs[a] |= set(sc) - {a}
    remaining = set(nodes)
    cliques: list[frozenset[str]] = []

    def fill(v: str) -> int:
        ns = list(nbrs[v] & remaining)
        return sum(1 for i, a in enumerate(ns) for b in ns[i + 1:] if b not in nbrs[a])

    while remaining:
        layers = sorted(d for d in remaining if d.startswith("L:"))
        v = layers[0] if layers else min(sorted(remaining), key=lambda d: (fill(d), len(
            nbrs[d] & remaining)))
        ns = nbrs[v] & remaining
        for a in ns:
            nbrs[a] |= ns - {a}
        cliques.append(frozenset(ns | {v}))
        remaining.discard(v)
    maximal = [c for i, c in enumerate(cliques)
               if not any(c < o or (c == o and j < i) for j, o in enumerate(cliques))]
    edges = sorted(((len(a & b), i, j) for i, a in enumerate(maximal)
                    for j, b in enumerate(maximal) if i < j), reverse=True)
    parent = list(range(len(maximal)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tree = []
    for _, i, j in edges:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[ri] = rj
            tree.append((i, j, frozenset(d for d in maximal[i] & maximal[j]
                                         if not d.startswith("L:"))))
    return maximal, tree


# ----------------------------------------------------------------------------------------------
# Inverting derived statistics


@dataclass
class Known:
    """What the attacker knows of a cell: its count range and, if determined, mean and SD."""

    n_low: int
    n_high: int
    mean: float | None = None
    sd: float | None = None

    @property
    def n(self) -> int | None:
        return self.n_low if self.n_low == self.n_high else None


def knowledge(model: _Model, cell: Cell) -> Known:
    lo, hi = model.range(cell, "count")
    n_lo = max(0, math.ceil(lo - 1e-6))
    # With no upper bound released, search up to the study's size (always released somewhere).
    n_hi = math.floor(hi + 1e-6) if math.isfinite(hi) else len(model.att.truth)
    known = Known(n_lo, n_hi)
    if known.n is not None and known.n > 0 and cell.measure is not None:
        s_lo, s_hi = model.range(cell, "sum")
        if s_hi - s_lo <= 1e-5 * max(1.0, abs(s_hi)):
            known.mean = (s_lo + s_hi) / 2 / known.n
            q_lo, q_hi = model.range(cell, "sumsq")
            if q_hi - q_lo <= 1e-5 * max(1.0, abs(q_hi)) and known.n > 1:
                var = ((q_lo + q_hi) / 2 - known.n * known.mean**2) / (known.n - 1)
                known.sd = math.sqrt(max(var, 0.0))
    return known


def _invert_welch(model: _Model, w: Welch) -> list[Fact]:
    a, b = knowledge(model, w.a), knowledge(model, w.b)
    union = knowledge(model, w.union) if w.union is not None else None
    if a.sd is not None and b.sd is not None:
        return []  # both groups are known: the statistic tells nothing new
    sols = two_group_solutions(w.stats, a, b, union, conf=w.conf)
    if len(sols) > 1:  # keep the readings the other released facts allow
        sols = [s for s in sols if model.feasible_with(_solution_facts(w, s, a, b))] or sols
    if not sols:
        return []
    facts = []
    for side, cell, k in (("a", w.a, a), ("b", w.b, b)):
        ns = sorted({s[f"n_{side}"] for s in sols})
        if ns[0] > k.n_low or ns[-1] < k.n_high:
            facts.append(Fact((Term(1.0, cell, "count"),), ns[0], ns[-1], w.source + " (inverted)"))
    if len(sols) == 1:
        facts += [f for f in _solution_facts(w, sols[0], a, b) if f.terms[0].kind != "count"]
    return facts


def _solution_facts(w: Welch, sol: Mapping[str, Any], a: Known, b: Known) -> list[Fact]:
    """What one reading of a two-group statistic says about the two cells."""
    facts = []
    for side, cell, k in (("a", w.a, a), ("b", w.b, b)):
        n = sol[f"n_{side}"]
        facts.append(Fact((Term(1.0, cell, "count"),), n, n, w.source + " (inverted)"))
        if not sol["identified"][f"m_{side}"] or k.mean is not None and k.sd is not None:
            continue
        mean = float(sol[f"m_{side}"])
        tol = 1e-5 * n * max(1.0, abs(mean))
        facts.append(Fact((Term(1.0, cell, "sum"),), n * mean - tol, n * mean + tol,
                          w.source + " (inverted)"))
        if sol["identified"][f"s_{side}"] and n > 1:
            sd = float(sol[f"s_{side}"])
            qq = (n - 1) * sd * sd + n * mean * mean
            facts.append(Fact((Term(1.0, cell, "sumsq"),), qq * (1 - 1e-5), qq * (1 + 1e-5),
                              w.source + " (inverted)"))
    return facts


def _hedges_j(n: float) -> float:
    return 1 - 3 / (4 * n - 9)


def _welch_residuals(theta: np.ndarray, na: int, nb: int, st: Mapping[str, Any], a: Known,
                     b: Known, union: Known | None, conf: float) -> np.ndarray:
    ma, mb, lsa, lsb = theta
    va, vb = math.exp(2 * lsa), math.exp(2 * lsb)
    A, B = va / na, vb / nb
    se = math.sqrt(A + B)
    df = (A + B) ** 2 / (A * A / (na - 1) + B * B / (nb - 1))
    diff = ma - mb
    N = na + nb
    sp = math.sqrt(((na - 1) * va + (nb - 1) * vb) / (N - 2))
    res = []

    def add(value: Any, model_value: float, scale: float = 1.0) -> None:
        if not _missing(value):
            res.append((float(value) - model_value) / max(scale, abs(float(value)), 1e-3))

    add(st.get("diff"), diff)
    add(st.get("t"), diff / se)
    add(st.get("df"), df)
    if not _missing(st.get("p")):
        add(st["p"], 2 * stats.t.sf(abs(diff / se), df), 1e-3)
    ci = st.get("diff_ci")
    if ci is not None and not _missing(ci[0]):
        crit = stats.t.ppf(0.5 + conf / 2, df)
        add(ci[0], diff - crit * se, 1.0)
        add(ci[1], diff + crit * se, 1.0)
    g = st.get("g")
    if not _missing(g):
        add(g, _hedges_j(N) * diff / sp)
    add(st.get("std_diff"), diff / sp)
    aci = st.get("a_ci")
    if aci is not None and not _missing(aci[0]):
        crit = stats.t.ppf(0.5 + conf / 2, na - 1)
        add(aci[0], ma - crit * math.sqrt(A), 1.0)
        add(aci[1], ma + crit * math.sqrt(A), 1.0)
    for k, m, v in ((a, ma, va), (b, mb, vb)):
        if k.mean is not None:
            add(k.mean, m, 1.0)
        if k.sd is not None:
            add(k.sd, math.sqrt(v), 1.0)
    if union is not None and union.mean is not None:
        add(union.mean, (na * ma + nb * mb) / N, 1.0)
        if union.sd is not None:
            ss = (na - 1) * va + na * ma * ma + (nb - 1) * vb + nb * mb * mb
            add(union.sd, math.sqrt(max((ss - N * ((na * ma + nb * mb) / N) ** 2) / (N - 1), 0)),
                1.0)
    return np.array(res)


def two_group_solutions(st: Mapping[str, Any], a: Known, b: Known, union: Known | None = None,
                        *, conf: float = 0.95, max_pairs: int = 3000) -> list[dict[str, Any]]:
    """Every (n_a, n_b, means, SDs) consistent with released two-group statistics.

    The group sizes are enumerated over the integer ranges the attacker cannot rule out (with
    the union's size when known); for each pair the means and SDs are fitted to every released
    statistic (Welch t, df, p, difference and its interval, Hedges' g and its interval, the
    standardised difference, the t interval of a's mean, the groups' and the union's known
    moments). A pair is kept when every statistic is matched. Each solution says which means
    and SDs are identified (locally unique: in the row space of the residuals' Jacobian).
    """
    na_range = range(max(a.n_low, 2), min(a.n_high, 10**4) + 1)
    nb_range = range(max(b.n_low, 2), min(b.n_high, 10**4) + 1)
    pairs: Iterable[tuple[int, int]]
    if union is not None and union.n is not None:
        pairs = [(i, union.n - i) for i in na_range if union.n - i in nb_range]
    else:
        pairs = itertools.product(na_range, nb_range)
    g_ci = st.get("g_ci")
    g = st.get("g")
    out = []
    tried = 0
    for na, nb in pairs:
        if g_ci is not None and not _missing(g_ci[0]) and not _missing(g):
            # pingouin's interval of g depends on the group sizes only.
            N = na + nb
            se = math.sqrt(N / (na * nb) + float(g) ** 2 / (2 * N))
            half = stats.t.ppf(0.5 + conf / 2, N - 2) * se
            if abs(half - (float(g_ci[1]) - float(g_ci[0])) / 2) > 1e-6 * max(1, half):
                continue
        tried += 1
        if tried > max_pairs:
            break
        sol = _fit_pair(na, nb, st, a, b, union, conf)
        if sol is not None:
            out.append(sol)
    return out


def _fit_pair(na: int, nb: int, st: Mapping[str, Any], a: Known, b: Known,
              union: Known | None, conf: float) -> dict[str, Any] | None:
    s0 = next((k.sd for k in (union, b, a) if k is not None and k.sd), 1.0)
    m0 = next((k.mean for k in (union, b, a) if k is not None and k.mean is not None), 0.0)
    starts = []
    for scale in (1.0, 0.5, 2.0):
        sa, sb = a.sd or s0 * scale, b.sd or s0 * scale
        se = math.sqrt(sa * sa / na + sb * sb / nb)
        if not _missing(st.get("diff")):
            d = float(st["diff"])
        elif not _missing(st.get("t")):
            d = float(st["t"]) * se
        elif not _missing(st.get("g")):
            d = float(st["g"]) * math.sqrt((sa * sa + sb * sb) / 2)
        else:
            d = 0.0
        if a.mean is not None:
            ma, mb = a.mean, a.mean - d
        elif b.mean is not None:
            ma, mb = b.mean + d, b.mean
        else:  # the union's mean is the size-weighted mean of the two
            mb = m0 - na * d / (na + nb)
            ma = mb + d
        starts.append(np.array([ma, mb, math.log(sa), math.log(sb)]))
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for x0 in starts:
            try:
                fit = optimize.least_squares(
                    _welch_residuals, x0, args=(na, nb, st, a, b, union, conf),
                    xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=200, x_scale="jac")
            except (ValueError, ZeroDivisionError, OverflowError):
                continue
            if best is None or fit.cost < best.cost:
                best = fit
            if best.cost < 1e-20:
                break
    if best is None or not np.all(np.abs(best.fun) < 1e-6):
        return None
    jac = best.jac
    ident = dict.fromkeys(("m_a", "m_b", "s_a", "s_b"), False)
    if jac.size:
        # A parameter is identified when it lies in the row space of the Jacobian (numerical
        # rank with a relative cut, so near-dependent statistics do not fake identification).
        _, sv, vt = np.linalg.svd(jac, full_matrices=False)
        basis = vt[sv > 1e-7 * sv.max()] if sv.size and sv.max() > 0 else vt[:0]
        for k, name in enumerate(("m_a", "m_b", "s_a", "s_b")):
            e = np.zeros(4)
            e[k] = 1.0
            ident[name] = bool(np.linalg.norm(e - basis.T @ (basis @ e)) < 1e-6)
    ma, mb, lsa, lsb = best.x
    return {"n_a": na, "n_b": nb, "m_a": ma, "m_b": mb, "s_a": math.exp(lsa),
            "s_b": math.exp(lsb), "identified": ident}


# ----------------------------------------------------------------------------------------------
# Models over organisations: ranks and funnel


def check_ranks(att: Attacker, rows: pd.DataFrame, shown_means: Mapping[str, float],
                source: str) -> None:
    """Percentile ranks must be those of the organisations whose means are shown.

    ``rows``: the released ranks of one scale (``org``, ``percentile_rank``, ``n_ranked``).
    The count of ranked organisations is read from ``n_ranked`` and, independently, from the
    spacing of the ranks (multiples of 50 / k).
    """
    if rows.empty:
        return
    k_shown = len(shown_means)
    for r in rows.itertuples():
        if str(r.org) not in shown_means:
            att.alert(source, f"rank released for {r.org}, whose mean is withheld")
    if "n_ranked" in rows and rows["n_ranked"].notna().any():
        k = int(rows["n_ranked"].dropna().iloc[0])
        if k != k_shown:
            att.alert(source, f"{k} organisations ranked but {k_shown} means shown: "
                      f"{k - k_shown} withheld organisation(s) have enough staff to be ranked")
    ranks = rows["percentile_rank"].dropna().to_numpy(dtype=float)
    k_min = [k for k in range(1, 500) if np.allclose(ranks * k / 50, np.round(ranks * k / 50),
                                                      atol=1e-6)]
    if k_min and k_min[0] > k_shown:
        att.alert(source, f"percentile ranks are multiples of 50/{k_min[0]}: more organisations "
                  f"ranked than the {k_shown} shown")
    means = pd.Series(shown_means, dtype=float)
    for r in rows.itertuples():
        if str(r.org) in shown_means and not _missing(r.percentile_rank):
            m = shown_means[str(r.org)]
            expect = 100.0 * (means < m).mean() + 50.0 * (means == m).mean()
            if abs(expect - float(r.percentile_rank)) > 1e-6:
                att.alert(source, f"rank of {r.org} is {r.percentile_rank}, not {expect} among "
                          "the shown organisations: withheld ones are ranked too")


def check_funnel_z(att: Attacker, rows: pd.DataFrame, source: str) -> None:
    """Adjusted z-scores must come from a model of the shown organisations only.

    ``rows``: per organisation ``org``, ``n_valid``, ``mean``, ``sd``, ``z_adjusted``. With the
    target (the shown organisations' respondent-weighted mean) and sigma (their pooled
    within-organisation SD), each z gives ``tau^2 = ((mean - target) / z)^2 - sigma^2 / n``;
    one common tau^2 >= 0 must fit every row. A z beside a withheld mean gives the mean back
    (``target + z sqrt(sigma^2 / n + tau^2)``), which is reported as an alert.
    """
    shown = rows[rows["mean"].notna() & rows["n_valid"].notna()]
    if len(shown) < 2:
        return
    n = shown["n_valid"].to_numpy(float)
    m = shown["mean"].to_numpy(float)
    s = shown["sd"].to_numpy(float)
    target = (n * m).sum() / n.sum()
    sigma2 = ((n - 1) * s * s).sum() / (n.sum() - n.size)
    z = shown["z_adjusted"].to_numpy(float)
    ok = np.abs(z) > 1e-3
    if ok.sum() >= 1:
        tau2 = ((m[ok] - target) / z[ok]) ** 2 - sigma2 / n[ok]
        if np.ptp(tau2) > 1e-6 * max(1.0, sigma2) or tau2.min() < -1e-6 * max(1.0, sigma2):
            att.alert(source, "adjusted z-scores do not fit a funnel of the shown organisations "
                      f"(implied tau^2 {np.round(tau2, 6).tolist()}): the model uses withheld "
                      "organisations")
    withheld = rows[rows["mean"].isna() & rows["z_adjusted"].notna()]
    for r in withheld.itertuples():
        att.alert(source, f"adjusted z of {r.org} released beside its withheld mean")


def funnel_n(target: float, sigma: float, tau2: float, lower95: float) -> float:
    """An organisation's n from its funnel limit: ``spread^2 = sigma^2 / n + tau^2``."""
    spread = (target - lower95) / stats.norm.ppf(0.975)
    return sigma * sigma / (spread * spread - tau2)


# ----------------------------------------------------------------------------------------------
# The study as the attacker describes it


ROLE_LABELS = {1: "Direct service", 2: "Case management", 3: "Advocacy", 4: "Supervision",
               5: "Leadership", 6: "Operations"}
LIVED_LABELS = {1: "yes", 2: "no", 3: "prefer not to say"}
#: Organisation size bands by respondents in the organisation's largest wave (docs/reports.md).
SIZE_BANDS = ((0, 14, "fewer than 15"), (15, 44, "15 to 44"), (45, 10**9, "45 or more"))
CONTEXT = {"wf_payband": (1.0, 6.0), "wf_tenure": (1.0, 5.0), "wf_hours": (0.0, 168.0)}


def study_truth(study_dir: Any) -> tuple[pd.DataFrame, list[Layer]]:
    """The study's stored respondents in the attacker's terms, and what it knows of each scale.

    Columns: ``key`` (organisation|wave|response id), ``org``, ``wave``, ``batch`` (the file a
    response came in), ``role`` and ``lived`` (answer labels, "not stated" when missing),
    ``size_band``, and per scale its score, ``<scale>_band`` and ``answered:<scale>``; context
    answers (pay band, tenure, hours) as measures.
    """
    from fieldsurvey.scoring import scored_responses
    from fieldsurvey.store import open_study

    study = open_study(study_dir)
    data = scored_responses(study).reset_index(drop=True)
    truth = pd.DataFrame({
        "key": (data["org"].astype(str) + "|" + data["wave"].astype(str) + "|"
                + data["response_id"].astype(str)),
        "org": data["org"].astype(str), "wave": data["wave"].astype(str),
        "batch": data["batch_id"].astype(str),
    })
    truth["role"] = _labelled(data.get("wf_role"), ROLE_LABELS, len(data))
    truth["lived"] = _labelled(data.get("wf_lived_exp"), LIVED_LABELS, len(data))
    largest = truth.groupby(["org", "wave"]).size().groupby(level="org").max()
    truth["size_band"] = truth["org"].map(
        lambda o: next(label for lo, hi, label in SIZE_BANDS if lo <= largest[o] <= hi))
    layers = []
    for inst in study.instruments():
        for sc in inst.scales:
            if sc.id not in data:
                continue
            rs = inst.response_scale_of(sc.items[0])
            lo, hi = float(rs.min), float(rs.max)
            if sc.method in ("sum", "prorated_sum"):
                lo, hi = lo * sc.k, hi * sc.k
            elif sc.method == "mean_0_100":
                lo, hi = 0.0, 100.0
            values = pd.to_numeric(data[sc.id], errors="coerce").astype(float)
            truth[sc.id] = values.to_numpy()
            items = [i for i in sc.items if i in data]
            answered = f"answered:{sc.id}"
            truth[answered] = data[items].notna().any(axis=1).to_numpy()
            bands = {}
            if sc.bands and f"{sc.id}_band" in data:
                ranges = _band_ranges(sc.bands, lo, hi)
                band = f"{sc.id}_band"
                truth[band] = data[band].astype(object).where(values.notna(), NO_SCORE).to_numpy()
                bands[band] = ranges
                for label, (blo, bhi) in ranges.items():  # the attacker's ranges hold the truth
                    inside = values[truth[band] == label]
                    assert ((inside >= blo - 1e-9) & (inside <= bhi + 1e-9)).all(), (sc.id, label)
            bins = f"{sc.id}_bin"  # the reports' five equal-width score bins, (a, b] labelled "a to b"
            edges = np.linspace(lo, hi, 6)
            labels = [f"{a:g} to {b:g}" for a, b in itertools.pairwise(edges)]
            binned = pd.cut(values, bins=edges, labels=labels, include_lowest=True)
            truth[bins] = binned.astype(object).where(values.notna(), NO_SCORE).to_numpy()
            bands[bins] = {label: (float(a), float(b))
                           for label, (a, b) in zip(labels, itertools.pairwise(edges), strict=True)}
            layers.append(Layer(sc.id, lo, hi, bands, answered))
    for col, (lo, hi) in CONTEXT.items():
        if col in data:
            truth[col] = pd.to_numeric(data[col], errors="coerce").astype(float).to_numpy()
            layers.append(Layer(col, lo, hi))
    return truth, layers


def _labelled(values: Any, labels: Mapping[int, str], n: int) -> list[str]:
    if values is None:
        return [NOT_STATED] * n
    codes = pd.to_numeric(values, errors="coerce")
    return [labels.get(int(v), f"code {int(v)}") if pd.notna(v) else NOT_STATED for v in codes]


def _band_ranges(bands: Sequence[Any], lo: float, hi: float) -> dict[str, tuple[float, float]]:
    """Score interval of each band: edges half-way between one band's maximum and the next's
    minimum (a band's score is rounded before it is banded)."""
    out = {}
    for i, b in enumerate(bands):
        low = lo if b.min is None else (b.min + bands[i - 1].max) / 2 if i and bands[i - 1].max \
            is not None else b.min
        high = hi if b.max is None else (b.max + bands[i + 1].min) / 2 if i + 1 < len(bands) \
            and bands[i + 1].min is not None else b.max
        out[b.label] = (float(max(lo, low)), float(min(hi, high)))
    return out


def new_attacker(truth: pd.DataFrame, layers: Sequence[Layer], min_cell: int = 10, *,
                 knows_sizes: bool = True) -> Attacker:
    """An attacker who knows every category of the study's dimensions.

    ``knows_sizes``: it also knows each organisation's size band (a coalition member knows
    roughly how big the other members are), so a size band no member is in is known empty.
    """
    functional = {"size_band": "org"} if knows_sizes else {}
    return Attacker(truth, layers, min_cell=min_cell, functional=functional, domains={
        "lived": [*LIVED_LABELS.values(), NOT_STATED],
        "role": [*ROLE_LABELS.values(), NOT_STATED],
        "size_band": [label for _, _, label in SIZE_BANDS],
    })


# ----------------------------------------------------------------------------------------------
# Readers: each released table row as the cell it describes


def _none(value: Any) -> Any:
    return None if _missing(value) else value


def read_compare(att: Attacker, tables: Mapping[str, pd.DataFrame], by: str, *, column: str,
                 label: Any = str, groups: Sequence[str] = (), source: str = "compare",
        same_release: bool = False) -> None:
    """``compare --by BY`` (the Python output's tables): groups, everyone and the tests.

    ``column`` is the attacker's column for ``by`` and ``label`` maps a printed group to its
    value there; ``groups`` the groups compared (default: every group but "not stated").
    """
    if not same_release:
        att.next_release()
    table = tables["groups"]
    present = []
    for r in table.to_dict("records"):
        value = _none(r[by])
        where = {column: label(value)} if value is not None else {}
        if value is not None:
            present.append(value)
        scale = r["scale"]
        if "n" in r:
            att.count(Cell.of(where), _none(r["n"]), source, f"group {value or 'everyone'}")
        att.moments(Cell.of(where, scale), _none(r["n_valid"]), _none(r["mean"]), _none(r["sd"]),
                    source)
    _absent_groups(att, table["scale"].unique(), column, present, label, source)
    compared = list(groups) or [g for g in dict.fromkeys(present) if g != NOT_STATED]
    for r in tables["tests"].to_dict("records"):
        if "n" in r:
            att.count(Cell.of({}), _none(r["n"]), source)
        if r.get("test") != "welch_t" or len(compared) != 2:
            mine = table[(table["scale"] == r["scale"]) & table[by].isin(compared)]
            if any(not _missing(r.get(k)) for k in ("statistic", "effect")) and any(
                    _missing(x) for x in mine["mean"]):
                att.alert(source, f"test on {r['scale']} shown beside a withheld group")
            continue
        a, b = (Cell.of({column: label(g)}, r["scale"]) for g in compared)
        att.compared(Welch(a, b, {"t": _none(r.get("statistic")), "df": _none(r.get("df2")),
                                  "p": _none(r.get("p")), "g": _none(r.get("effect")),
                                  "g_ci": (_none(r.get("effect_ci_low")),
                                           _none(r.get("effect_ci_high")))},
                           f"{source} test {r['scale']}"))


def _absent_groups(att: Attacker, scales: Iterable[str], column: str, present: Iterable[Any],
                   label: Any, source: str) -> None:
    """A category nobody is in gets no row: the attacker knows every category."""
    shown = {label(v) for v in present}
    for value in att.domains.get(column, []):
        if value not in shown:
            att.count(Cell.of({column: value}), None, f"{source} (row left out)",
                      f"group {value}")
            for scale in scales:
                att.count(Cell.of({column: value}, scale), None, f"{source} (row left out)",
                          f"group {value} with a score")


def read_compare_json(att: Attacker, doc: Mapping[str, Any], *, column: str, label: Any = str,
                      groups: Sequence[str] = (), source: str = "compare json",
        same_release: bool = False) -> None:
    """``compare --format json``: groups with n, mean, SD; Welch tests with df and Hedges' g."""
    if not same_release:
        att.next_release()
    for entry in doc["scales"]:
        scale = entry["scale"]
        present = []
        for g in entry["groups"]:
            value = g["group"]
            present.append(value)
            att.moments(Cell.of({column: label(value)}, scale), g["n"], g["mean"], g["sd"], source)
        _absent_groups(att, [scale], column, present, label, source)
        compared = list(groups) or [g for g in present if g != NOT_STATED]
        test = entry.get("test")
        if test and test["name"] == "welch_t" and len(compared) == 2:
            a, b = (Cell.of({column: label(g)}, scale) for g in compared)
            eff = entry["effect_size"]
            att.compared(Welch(a, b, {"t": test["statistic"], "df": test["df2"],
                                      "g": eff["value"], "g_ci": tuple(eff["ci"])},
                               f"{source} test {scale}"))


def read_benchmark(att: Attacker, tables: Mapping[str, pd.DataFrame], *,
                   source: str = "benchmark", extra: Mapping[str, Any] | None = None,
        same_release: bool = False) -> None:
    """``benchmark`` (Python output or its JSON's tables): field, organisations, rest of the
    field, differences, ranks and funnel, trend, change and bands.

    ``extra``: conditions every cell of this output carries (e.g. the files ingested when it
    ran: ``{"batch": AnyOf(...)}``).
    """
    if not same_release:
        att.next_release()
    extra = dict(extra or {})
    known = {"field", "organisations", "rest", "differences", "fairness", "trend", "change",
             "bands"}
    unknown = [n for n, t in tables.items() if n not in known and not t.empty]
    if unknown:
        raise AttackerError(f"benchmark tables the attacker cannot read: {unknown}")

    def cell(r: Mapping[str, Any], measure: str | None = None, **more: Any) -> Cell:
        org = _none(r.get("org"))
        if isinstance(org, str) and org.startswith("Except("):
            org = Not(org[len("Except('"):-2])
        elif org is not None and not isinstance(org, (str, Not)):
            org = Not(org.value) if hasattr(org, "value") else str(org)
        where = {"org": org, "wave": _none(r.get("wave")), **extra, **more}
        return Cell.of(where, measure)

    latest = None
    for name in ("field", "organisations", "rest", "trend"):
        for r in tables.get(name, pd.DataFrame()).to_dict("records"):
            latest = latest or (str(r["wave"]) if name == "field" and _none(r.get("wave")) else None)
            r = {**r, "wave": None if _none(r.get("wave")) is None else str(r["wave"])}
            if "n" in r:
                att.count(cell(r), _none(r["n"]), f"{source} {name}")
            att.moments(cell(r, r["scale"]), _none(r["n_valid"]), _none(r["mean"]),
                        _none(r["sd"]), f"{source} {name}")
            if name == "organisations" and _missing(r.get("mean")) and not _missing(
                    r.get("ci_low")):
                att.alert(source, f"interval of {r['org']}'s mean shown, mean withheld")
    now = {"wave": latest} if latest else {}
    for r in tables.get("differences", pd.DataFrame()).to_dict("records"):
        r = {**r, "wave": latest if _none(r.get("wave")) is None else str(r["wave"])}
        if "n" in r:
            att.count(cell(r), _none(r["n"]), f"{source} differences")
        o = str(r["org"])
        att.compared(Welch(cell(r, r["scale"]), cell({"org": Not(o), "wave": r["wave"]},
                                                     r["scale"]),
                           {"diff": _none(r.get("diff")), "t": _none(r.get("t")),
                            "df": _none(r.get("df")), "p": _none(r.get("p")),
                            "diff_ci": (_none(r.get("diff_ci_low")), _none(r.get("diff_ci_high"))),
                            "std_diff": _none(r.get("std_diff"))},
                           f"{source} difference {o} {r['scale']}",
                           union=cell({"wave": r["wave"]}, r["scale"])))
    for r in tables.get("change", pd.DataFrame()).to_dict("records"):
        if "n" in r:
            att.count(cell({"org": r["org"]}), _none(r["n"]), f"{source} change")
        if latest is None:
            continue
        prev = str(r["previous_wave"])
        att.compared(Welch(cell({"org": r["org"], "wave": latest}, r["scale"]),
                           cell({"org": r["org"], "wave": prev}, r["scale"]),
                           {"diff": _none(r.get("change")), "p": _none(r.get("p")),
                            "diff_ci": (_none(r.get("change_ci_low")),
                                        _none(r.get("change_ci_high")))},
                           f"{source} change {r['org']} {r['scale']}"))
    bands = tables.get("bands", pd.DataFrame())
    for (org, scale), part in (bands.groupby([bands["org"].fillna("<field>"), "scale"],
                                             sort=False) if len(bands) else []):
        # A band nobody is in is left out of the table: the attacker knows the band labels.
        labels = att.layers[scale].bands.get(f"{scale}_band", {})
        for label in set(labels) - set(part["band"]):
            unit = None if org == "<field>" else org
            att.count(cell({"org": unit, **now}, **{f"{scale}_band": label}), None,
                      f"{source} bands (row left out)", f"band {label}")
    for r in bands.to_dict("records"):
        band = {f"{r['scale']}_band": r["band"]}
        c = cell({"org": r["org"], **now}, **band)
        att.count(c, _none(r["n"]), f"{source} bands", f"band {r['band']}")
        att.share(c, cell({"org": r["org"], **now}, r["scale"]), _none(r.get("pct")),
                  f"{source} band shares")
    fair = tables.get("fairness", pd.DataFrame())
    orgs = tables.get("organisations", pd.DataFrame())
    for r in fair.to_dict("records"):
        if "n" in r:
            att.count(cell({**r, "wave": latest}), _none(r["n"]), f"{source} fairness")
    context = tuple(sorted((k, str(v)) for k, v in extra.items()))
    for scale in dict.fromkeys(orgs["scale"]) if len(orgs) else []:
        mine = orgs[orgs["scale"] == scale]
        key = (context, latest, scale)
        seen = att.org_means.setdefault(key, {})
        seen.update({str(o): float(m) for o, m in zip(mine["org"], mine["mean"], strict=True)
                     if not _missing(m)})
        ranks = fair[fair["scale"] == scale] if len(fair) else fair
        # Judged in check(), against every mean the attacker has seen of the same data.
        att.rank_sets.append((key, ranks, f"{source} ranks {scale}"))
        if len(ranks):
            z = mine.merge(ranks[["org", "z_adjusted"]], on="org", how="left")
            check_funnel_z(att, z, f"{source} funnel {scale}")


def read_status(att: Attacker, tables: Mapping[str, pd.DataFrame], source: str = "status",
                extra: Mapping[str, Any] | None = None, *, same_release: bool = False) -> None:
    """``status``: stored responses per organisation and wave (and their totals)."""
    if not same_release:
        att.next_release()
    for r in tables["responses"].to_dict("records"):
        where = {"org": _none(r["org"]), "wave": None if _none(r["wave"]) is None else
                 str(r["wave"]), **(extra or {})}
        att.count(Cell.of(where), _none(r["responses"]), source)


#: Dimensions of report tables, as the attacker names them.
REPORT_DIMS = {"org": "org", "wave": "wave", "role": "role", "lived_experience": "lived",
               "size_band": "size_band"}


def read_report(att: Attacker, tables: Mapping[str, pd.DataFrame], scales: Sequence[str], *,
                source: str, findings: Mapping[str, tuple[str, str]] | None = None,
        same_release: bool = False) -> None:
    """One report's gated tables (from ``gate_reports`` or its bundle's CSV files).

    Every row is a cell over the report's dimensions (``org`` "all but X" is the rest of the
    field); ``n`` is its count; ``<scale>_n/_mean/_sd`` its scale scores; ``<scale>_rel_n`` its
    count of people who answered the scale. Lived-experience tests, the position against the
    rest of the field (difference, interval, p, the organisation's mean interval) and funnel
    limits are inverted. ``findings``: a finding table's name -> (scale, band) of its hit.
    """
    if not same_release:
        att.next_release()
    findings = dict(findings or {})
    for name, table in tables.items():
        if not isinstance(table, pd.DataFrame) or table.empty:
            continue
        src = f"{source} {name}"
        _complete_report_table(att, table, src)
        hit = next((c for c in table.columns if c.startswith("finding_counts_")), None)
        for r in table.to_dict("records"):
            where = _report_where(r)
            if hit is not None:
                value = _none(r.get(hit))
                if value is not None:
                    scale, band = findings[name]
                    where[f"{scale}_band"] = _hit_band(att, scale, band, value)
            base = Cell.of(where)
            if "n" in r and name not in ("position",):
                att.count(base, _none(r["n"]), src)
            if hit is not None and _none(r.get(hit)) is not None:
                continue  # a finding's counted row gives its count only, never a scored count
            for s in scales:
                if f"{s}_n" in r and f"{s}_mean" in r:
                    att.moments(base.with_(s), _none(r[f"{s}_n"]), _none(r.get(f"{s}_mean")),
                                _none(r.get(f"{s}_sd")), src)
                elif f"{s}_n" in r:
                    att.count(base.with_(s), _none(r[f"{s}_n"]), src, "n with a score")
                if f"{s}_rel_n" in r:
                    att.count(base.with_(**{f"answered:{s}": True}), _none(r[f"{s}_rel_n"]), src)
                    if _missing(r[f"{s}_rel_n"]) and not _missing(r.get(f"{s}_alpha")):
                        att.alert(src, f"alpha of {s} shown for a withheld count")
            if name == "lived_experience_tests":
                s = r["scale"]
                att.compared(Welch(base.with_(s, lived="yes"), base.with_(s, lived="no"),
                                   {"g": _none(r.get("g")), "p": _none(r.get("p")),
                                    "g_ci": (_none(r.get("g_ci_low")), _none(r.get("g_ci_high")))},
                                   f"{src} {s}"))
            if name == "position":
                _read_position(att, r, where, scales, src)


def _complete_report_table(att: Attacker, table: pd.DataFrame, source: str) -> None:
    """A table split by one category (role, lived experience, size band, a band) that leaves
    categories out: each left-out category of each unit is a cell the attacker targets."""
    splits = [c for c in table.columns if c in ("role", "lived_experience", "size_band")
              or (str(c).endswith(("_band", "_bin")) and c in att.layer_of_dim)]
    if len(splits) != 1:
        return
    col = splits[0]
    dim = REPORT_DIMS.get(col, col)
    if dim in att.layer_of_dim:
        known = list(att.layers[att.layer_of_dim[dim]].bands[dim])
    else:
        known = list(att.domains.get(dim, []))
    units = [c for c in ("org", "wave") if c in table.columns]
    rows = table[table[col].notna()]
    groups = rows.groupby([rows[u].astype(str) for u in units], sort=False) if units else [
        ((), rows)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        listed = {str(v) for v in part[col]}
        where = _report_where(dict(zip(units, key, strict=True)))
        for value in known:
            if value not in listed:
                att.count(Cell.of({**where, dim: value}), None, f"{source} (row left out)",
                          f"{col} {value}")


def _report_where(r: Mapping[str, Any]) -> dict[str, Any]:
    where: dict[str, Any] = {}
    for col, dim in REPORT_DIMS.items():
        value = _none(r.get(col))
        if value is None:
            continue
        value = str(value)
        if col == "org" and value.startswith("all but "):
            where[dim] = Not(value[len("all but "):])
        else:
            where[dim] = value
    for col, value in r.items():
        if str(col).endswith(("_band", "_bin")) and _none(value) is not None:
            where[col] = str(value)
    return where


def _hit_band(att: Attacker, scale: str, band: str, value: str) -> Any:
    if value == "yes":
        return band
    if value == "no":
        labels = set(att.layers[scale].bands[f"{scale}_band"]) - {band}
        return AnyOf(frozenset(labels))
    return NO_SCORE


def _read_position(att: Attacker, r: Mapping[str, Any], where: Mapping[str, Any],
                   scales: Sequence[str], src: str) -> None:
    org, wave = where["org"], where.get("wave")
    for s in scales:
        if f"{s}_diff" not in r:
            continue
        a = Cell.of({"org": org, "wave": wave}, s)
        att.compared(Welch(a, Cell.of({"org": Not(org), "wave": wave}, s),
                           {"diff": _none(r.get(f"{s}_diff")), "p": _none(r.get(f"{s}_p")),
                            "diff_ci": (_none(r.get(f"{s}_diff_ci_low")),
                                        _none(r.get(f"{s}_diff_ci_high"))),
                            "a_ci": (_none(r.get(f"{s}_ci_low")), _none(r.get(f"{s}_ci_high")))},
                           f"{src} {s}", union=Cell.of({"wave": wave}, s)))
        target, sigma = _none(r.get(f"{s}_funnel_target")), _none(r.get(f"{s}_funnel_sigma"))
        tau2, lower = _none(r.get(f"{s}_funnel_tau2")), _none(r.get(f"{s}_funnel_lower95"))
        if None not in (target, sigma, tau2, lower):
            n = funnel_n(float(target), float(sigma), float(tau2), float(lower))
            if math.isfinite(n) and abs(n - round(n)) < 1e-3:
                att.count(a, round(n), f"{src} funnel limits (inverted)")


def read_reproduce(att: Attacker, rows: pd.DataFrame, findings: Mapping[str, Any], *,
                   source: str = "reproduce",
        same_release: bool = False) -> None:
    """``reproduce``: each recomputed share of staff in a band, with its n, and the same share
    among lived-experience staff with theirs."""
    if not same_release:
        att.next_release()
    for r in rows.to_dict("records"):
        lived = r.get("lived_experience")
        if isinstance(lived, Mapping):  # the JSON document nests the lived-experience value
            r = {**r, "lived_value": lived.get("value"), "lived_n": lived.get("n")}
        recipe = findings.get(r["id"])
        if recipe is None or recipe.get("statistic") != "proportion_in_band":
            continue
        if _missing(r.get("study_value")) and _missing(r.get("n")):
            continue
        scale = str(recipe["scale"]).split(".")[-1]
        band = {f"{scale}_band": recipe["band"]}
        for where, value, n in (({}, r.get("study_value"), r.get("n")),
                                ({"lived": "yes"}, r.get("lived_value"), r.get("lived_n"))):
            if _missing(value) and _missing(n):
                att.count(Cell.of({**where, **band}), None, source, f"{r['id']} hits")
                att.count(Cell.of(where, scale), None, source, f"{r['id']} n")
                continue
            att.count(Cell.of(where, scale), _none(n), source)
            att.share(Cell.of({**where, **band}), Cell.of(where, scale), _none(value), source)


def read_run_plan(att: Attacker, table: pd.DataFrame, plan: Any, *, group_columns:
                  Mapping[str, tuple[str, Mapping[Any, Any]]], orgs: Sequence[str],
                  source: str = "run-plan",
        same_release: bool = False) -> None:
    """``run-plan``: a two-group test's n counts the two groups' valid answers in the
    organisations kept; which organisations were kept is not printed, only how many, so the
    attacker considers every set of that many organisations."""
    if not same_release:
        att.next_release()
    tests = {t.id: t for h in plan.hypotheses for t in h.tests}
    for r in table.to_dict("records"):
        t = tests[r["test"]]
        if t.groups is None or _missing(r.get("n")) or t.groups.column not in group_columns:
            continue
        column, labels = group_columns[t.groups.column]
        groups = AnyOf(frozenset({labels[t.groups.first], labels[t.groups.second]}))
        k = int(r["n_orgs"])
        options = []
        for kept in itertools.combinations(sorted(orgs), k):
            c = Cell.of({"org": AnyOf(frozenset(kept)), column: groups}, t.variable)
            options.append([Fact((Term(1.0, c, "count"),), float(r["n"]), float(r["n"]),
                                 f"{source} {t.id}", att.stage)])
        att.one_of(options)


def explain(att: Attacker, cell: Cell, kind: str = "count",
            holds: Any = None) -> list[str]:
    """The released facts behind what the attacker knows of a value (a debugging aid): facts
    are dropped one at a time while ``holds(low, high)`` stays true (default: the value is
    determined); what is left cannot be dropped."""
    keep = list(att.facts)
    holds = holds or (lambda lo, hi: math.isfinite(hi) and hi - lo < 1e-6 * max(1.0, abs(hi)))

    def pinned(facts: list[Fact]) -> bool:
        saved, att.facts = att.facts, facts
        try:
            model = _Model(att, facts, att.full)
            lo, hi = model.range(cell, kind)
        except AttackerError:
            return False
        finally:
            att.facts = saved
        return bool(holds(lo, hi))

    if not pinned(keep):
        return []
    for source in list(dict.fromkeys(f.source for f in keep)):  # whole tables first
        trial = [f for f in keep if f.source != source]
        if pinned(trial):
            keep = trial
    i = 0
    while i < len(keep):
        trial = keep[:i] + keep[i + 1:]
        if pinned(trial):
            keep = trial
        else:
            i += 1
    return [f"{f.source}: " + " + ".join(f"{t.coef:g} {t.kind}({t.cell.label()})"
                                         for t in f.terms) + f" = {(f.low + f.high) / 2:g}"
            for f in keep]


def why(att: Attacker, finding: Finding) -> list[str]:
    """The released facts that leave ``finding`` unprotected (see :func:`explain`)."""
    probe = Finding(finding.label, finding.cell, finding.kind, finding.true, 0, 0, False, "")

    def holds(lo: float, hi: float) -> bool:
        probe.low, probe.high = lo, hi
        probe.determined = math.isfinite(hi) and hi - lo <= 1e-6 * max(1.0, abs(hi))
        return not probe.protected(att.min_cell)

    saved = list(att.facts)
    att.facts = saved + list(att.inverted)
    try:
        return explain(att, finding.cell, finding.kind, holds)
    finally:
        att.facts = saved
