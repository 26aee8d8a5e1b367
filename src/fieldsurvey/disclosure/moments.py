"""Means and SDs against band counts: which shown moments would narrow a withheld count.

A scale's bands (and a histogram's bins) cut its score into ranges. Everyone in the band
"High" of burnout scores at least 49.5, so a group's mean and SD limit how many of its people
can be in that band: with ``n`` people, mean ``m`` and SD ``s``, and counts ``x_b``, score sums
``S_b`` and sums of squares ``Q_b`` per band ``b`` with range ``[lo_b, hi_b]``,

.. math::

    \\sum_b x_b = n,\\quad \\sum_b S_b = n m,\\quad \\sum_b Q_b = (n - 1) s^2 + n m^2,

    lo_b x_b \\le S_b \\le hi_b x_b,\\quad q_b x_b \\le Q_b \\le (lo_b + hi_b) S_b - lo_b hi_b x_b

(``q_b`` the smallest square in the range; the last inequality holds because every score
``y`` of the band has ``(y - lo_b)(y - hi_b) <= 0``). The counts shown are fixed; a withheld
band count whose range under these constraints breaks the protection rule
(:func:`~fieldsurvey.disclosure.exposure.is_protected`) is exposed by the moments, and the
group's mean, SD and every statistic resting on them are withheld. The gate's own linear
checks see counts only; this is the link between the two kinds of value.

Withholding a mean must not leave it derivable either: the rest of the field's mean follows
from the field's and one organisation's. So moments are withheld again, in complementary
fashion, until no withheld sum is a linear combination of shown sums
(:func:`withheld_moments`).

What this does not do: moments shown by *earlier* releases are not in the ledger as moments
(only as values), so a band count withheld now is checked against this release's means only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from fieldsurvey.disclosure.exposure import LinearProgramme, find_exposures, is_protected
from fieldsurvey.results.cells import VALID_PREFIX, canonical, split_except
from fieldsurvey.results.tables import Results

__all__ = ["withheld_moments"]

_MOMENT_KINDS = ("mean", "sd")


@dataclass
class _Moments:
    """The mean and SD a release shows for one cell (with its measure)."""

    measure: str
    base: dict[str, object]
    values: dict[str, float] = field(default_factory=dict)


def _measure_of(cell: tuple) -> str | None:
    found = [d[len(VALID_PREFIX):] for d, _ in cell if str(d).startswith(VALID_PREFIX)]
    return found[0] if len(found) == 1 else None


def shown_moments(release: Results, plans: Mapping[str, Any], shown: Callable[[tuple], bool]
                  ) -> dict[tuple, _Moments]:
    """Every shown mean and SD of the release, by the cell (with measure) it rests on."""
    out: dict[tuple, _Moments] = {}
    for name, plan in plans.items():
        spec = release.tables[name]
        if spec.released or spec.withheld:
            continue
        for col, kind in spec.stats.items():
            if kind not in _MOMENT_KINDS or col in spec.measures:
                continue
            values = spec.cells[col].to_numpy()
            for row, cell in enumerate(plan.stat[col]):
                measure = _measure_of(cell)
                value = values[row]
                if measure is None or value is None or _missing(value) or not shown(cell):
                    continue
                base = {d: v for d, v in cell if not str(d).startswith(VALID_PREFIX)}
                entry = out.setdefault(cell, _Moments(measure, base))
                entry.values.setdefault(kind, float(value))
    return out


def _missing(value: object) -> bool:
    try:
        return bool(np.isnan(value))  # type: ignore[arg-type]
    except TypeError:
        return False


@dataclass
class _BandCell:
    dim: str  # the universe's dimension (this release's, or an earlier release's)
    category: object
    cell: tuple  # in the universe's terms
    own: tuple | None  # in the release's terms, when the dimension is the release's
    known: float | None  # the shown count, None when withheld or never defined
    target: bool  # withheld and protected: its range must stay wide


class _RangeDims:
    """The dimensions that cut each measure's score into ranges, in the universe's terms.

    An earlier release's bands of a scale are a dimension of their own in the joint
    universe (``joint.origin`` names it like the release's); they cut the score the same way.
    """

    def __init__(self, release: Results, joint: Any) -> None:
        self.release, self.tr = release, joint.translate
        self.rank = {c: i for i, c in enumerate(joint.universe.columns)}
        self.by_measure: dict[str, list[tuple[str, str]]] = {}
        for dim in release.score_ranges:
            self.by_measure.setdefault(release.linked[dim], []).append((dim, dim))
        #: An earlier release's copy of a dimension (its waves, its organisations), by name.
        self.copies: dict[str, list[str]] = {}
        for udim, name in getattr(joint, "origin", {}).items():
            measure = release.linked.get(name)
            if name in release.score_ranges and joint.universe.linked.get(udim) == measure:
                self.by_measure.setdefault(str(measure), []).append((udim, name))
            elif name in release.all_dims:
                self.copies.setdefault(name, []).append(udim)

    def ranges(self, udim_name: str) -> dict[object, tuple[float, float]]:
        return self.release.score_ranges[udim_name]

    def band_cells(self, entry: _Moments, status: Callable[[tuple], tuple[float | None, bool]]
                   ) -> list[_BandCell]:
        release = self.release
        out = []
        for udim, name in self.by_measure.get(entry.measure, []):
            if name in entry.base:
                continue
            for category in release.score_ranges[name]:
                own: tuple | None = None
                if udim == name:
                    own = canonical({**entry.base, udim: category}, release.all_dims)
                for base in self._bases(entry):
                    cell = tuple(sorted([*base, (udim, category)],
                                        key=lambda item: self.rank[item[0]]))
                    known, target = status(cell)
                    out.append(_BandCell(udim, category, cell, own, known, target))
        return out

    def _bases(self, entry: _Moments) -> list[tuple]:
        """The group's cell in the universe, once per way earlier releases could name it.

        Two releases' dimensions of the same name and respondents hold the same values but
        may be recorded apart (their category lists differed): a count an earlier release
        showed of its own "wave" is a count of this release's "wave" too.
        """
        base = self.tr(canonical(entry.base, self.release.all_dims))
        choices = [[item, *((u, item[1]) for u in self.copies.get(item[0], ()))]
                   for item in base]
        return [tuple(combo) for combo in itertools.product(*choices)][:16]

    def atoms(self, entry: _Moments, dims: list[str]
              ) -> tuple[list[dict[str, object]], np.ndarray]:
        """Combinations of categories whose score ranges meet, and each one's range."""
        release = self.release
        low, high = -math.inf, math.inf
        for d, v in entry.base.items():  # a cell inside one band: every atom lies in its range
            if d in release.score_ranges and release.linked.get(d) == entry.measure:
                low, high = release.score_ranges[d].get(v, (low, high))
        names = dict(self.by_measure.get(entry.measure, []))
        combos, ranges = [], []
        for combo in itertools.product(*[list(release.score_ranges[names[d]].items())
                                         for d in dims]):
            lo = max([low, *(r[0] for _, r in combo)])
            hi = min([high, *(r[1] for _, r in combo)])
            if lo <= hi + 1e-12:
                combos.append({d: c for d, (c, _) in zip(dims, combo, strict=True)})
                ranges.append((lo, hi))
        return combos, np.array(ranges, dtype=float).reshape(-1, 2)


def _moment_system(entry: _Moments, n: int, ranges: np.ndarray
                   ) -> tuple[list[tuple[dict[int, float], float, float]], int]:
    """Rows (coefficients, low, high) over columns x (counts), S (sums), Q (squares)."""
    k = len(ranges)
    x, s, q = range(k), range(k, 2 * k), range(2 * k, 3 * k)
    rows = [({j: 1.0 for j in x}, float(n), float(n))]
    mean, sd = entry.values.get("mean"), entry.values.get("sd")
    slack = 1e-7 * max(1.0, n)
    if mean is not None:
        rows.append(({j: 1.0 for j in s}, n * mean - slack, n * mean + slack))
        if sd is not None and n > 1:
            total = (n - 1) * sd * sd + n * mean * mean
            rows.append(({j: 1.0 for j in q}, total - slack * 10, total + slack * 10))
    for j, (lo, hi) in enumerate(ranges):
        rows.append(({s[j]: 1.0, x[j]: -lo}, 0.0, math.inf))
        rows.append(({s[j]: 1.0, x[j]: -hi}, -math.inf, 0.0))
        q_lo = 0.0 if lo <= 0 <= hi else min(lo * lo, hi * hi)
        rows.append(({q[j]: 1.0, x[j]: -q_lo}, 0.0, math.inf))
        rows.append(({q[j]: 1.0, s[j]: -(lo + hi), x[j]: lo * hi}, -math.inf, 0.0))
    return rows, 3 * k


def _programme(rows: list, n_cols: int, is_count: np.ndarray) -> LinearProgramme:
    """The attacker's programme over counts, sums and squares: ``low <= a x <= high``."""
    cols = [j for coefs, _, _ in rows for j in coefs]
    vals = [v for coefs, _, _ in rows for v in coefs.values()]
    row_of = np.repeat(np.arange(len(rows)), [len(coefs) for coefs, _, _ in rows])
    a = sparse.csr_matrix((vals, (row_of, cols)), shape=(len(rows), n_cols))
    low = np.array([lo for _, lo, _ in rows], dtype=float)
    high = np.array([hi for _, _, hi in rows], dtype=float)
    return LinearProgramme(a, low, high, col_lower=np.where(is_count, 0.0, -np.inf))


def _count_range(lp: LinearProgramme, members: list[int]) -> tuple[float, float]:
    """Smallest and largest total of the counts ``members`` under the programme ``lp``."""
    c = np.zeros(lp.n)
    c[members] = 1.0
    out = []
    for sign in (1.0, -1.0):
        solved = lp.minimise(sign * c)
        if solved is None:
            return math.nan, math.nan  # no certificate either way: assume the worst
        out.append(sign * solved[0])
    return out[0], out[1]


def narrowed(dims_of: _RangeDims, groups: list[tuple[_Moments, int]], counts: _Counts,
             min_cell: int, parent: _Moments | None = None) -> bool:
    """True when the groups' shown moments narrow one of their withheld band counts.

    ``groups`` is one group, or an organisation and the rest of the field beside it with
    ``parent`` the field: the field's band counts then tie the two groups' counts together
    (the attacker's programme joins them the same way).
    """
    groups = [(e, n) for e, n in groups if "mean" in e.values]
    if not groups:
        return False
    cells = [dims_of.band_cells(e, counts.status) for e, _ in groups]
    top = dims_of.band_cells(parent, counts.status) if parent is not None else []
    if not any(b.target for b in [*top, *(b for part in cells for b in part)]):
        return False
    dims = list(dict.fromkeys(b.dim for part in cells for b in part))
    combos, ranges = dims_of.atoms(groups[0][0], dims)
    if not combos:
        return False
    k, rows, offsets = len(combos), [], []
    for entry, n in groups:
        offset = 3 * k * len(offsets)
        offsets.append(offset)
        part, _ = _moment_system(entry, n, ranges)
        rows += [({offset + j: v for j, v in coefs.items()}, lo, hi) for coefs, lo, hi in part]

    def columns(band: _BandCell, which: list[int]) -> list[int]:
        return [offsets[g] + j for g in which for j, c in enumerate(combos)
                if c.get(band.dim) == band.category]

    every = list(range(len(groups)))
    tagged = [(b, [g]) for g, part in enumerate(cells) for b in part] + [(b, every) for b in top]
    for band, which in tagged:
        if band.known is not None:
            rows.append((dict.fromkeys(columns(band, which), 1.0), band.known, band.known))
    n_cols, is_count = 3 * k * len(groups), np.zeros(3 * k * len(groups), dtype=bool)
    for offset in offsets:
        is_count[offset:offset + k] = True
    lp = None
    for band, which in tagged:
        if not band.target:
            continue
        lp = lp or _programme(rows, n_cols, is_count)
        lo, hi = _count_range(lp, columns(band, which))
        if math.isnan(lo) or not is_protected(lo, hi, min_cell):
            return True
        total = counts.parent_count(band.cell)  # "all but X": X's range moves with it
        if total is not None and not is_protected(total - hi, total - lo, min_cell):
            return True
    return False


@dataclass
class MomentDecision:
    """What the moments check adds to the gate's decision."""

    #: Cells (with measure) whose means, SDs and the statistics resting on them are withheld.
    withheld: set[tuple] = field(default_factory=set)
    #: Band counts to withhold: a mean an earlier release showed would narrow a withheld count
    #: with them, and that mean cannot be taken back.
    forced: set[tuple] = field(default_factory=set)


class _Counts:
    """What the gate has decided so far about the counts of cells.

    ``shown`` takes the release's cells; ``status`` and ``parent_count`` the universe's.
    """

    def __init__(self, st: Any, tr: Any, published: np.ndarray, protect: np.ndarray) -> None:
        self.st, self.tr, self.published, self.protect = st, tr, published, protect

    def units(self, cell: tuple) -> tuple[int, ...] | None:
        try:
            return tuple(self.st.units_of(cell))
        except KeyError:
            return None

    def shown(self, own: tuple) -> bool:
        units = self.units(self.tr(own))
        return units is not None and bool(self.published[list(units)].all())

    def status(self, cell: tuple) -> tuple[float | None, bool]:
        """(the count when shown, whether it is a protected withheld count)."""
        parts = [cell] if self.units(cell) is not None else list(split_except(cell) or ())
        units = [self.units(part) for part in parts]
        if not units or any(u is None for u in units):
            return None, False  # a count no output defines: free
        flat = [x for u in units for x in u]  # type: ignore[union-attr]
        if self.published[flat].all():
            counts = [self.st.count(part) for part in parts]
            return float(counts[0] - sum(counts[1:])), False
        # Neither shown nor protected (a count no output gives): free, not a target.
        return None, bool(self.protect[flat].any())

    def parent_count(self, cell: tuple) -> float | None:
        parts = split_except(cell)
        if parts is None:
            return None
        known, _ = self.status(parts[0])
        return known


def withheld_moments(release: Results, plans: Mapping[str, Any], st: Any, joint: Any,
                     published: np.ndarray, protect: np.ndarray, min_cell: int
                     ) -> MomentDecision:
    """The means and SDs to withhold, and band counts to withhold because of earlier means.

    First the cells whose shown moments narrow a withheld band count (:func:`narrowed`), then,
    per measure, every further cell whose sum would otherwise give one of those back by
    addition or subtraction (the rest of the field from the field and an organisation),
    earlier releases' means included. A mean an earlier release showed (``joint.moments``)
    that narrows a count withheld now cannot be withheld: the band counts beside it are.
    """
    if not release.score_ranges:
        return MomentDecision()
    counts = _Counts(st, joint.translate, published, protect)
    dims_of = _RangeDims(release, joint)

    def check(entry: _Moments, n: int) -> bool:
        return narrowed(dims_of, [(entry, n)], counts, min_cell)

    facts = shown_moments(release, plans, counts.shown)
    before = _earlier_moments(release, joint)
    entries = {**before, **{c: (e, counts.st.count(counts.tr(c))) for c, e in facts.items()}}
    exposed: set[tuple] = set()
    decision = MomentDecision()

    def expose(cell: tuple) -> None:
        if cell in before:  # public already: the counts beside it are withheld instead
            decision.forced.update(_forceable(dims_of, entries[cell][0], counts))
        else:
            exposed.add(cell)

    for cell, (entry, n) in entries.items():
        if check(entry, n):
            expose(cell)
    for rest, child, parent in _families(entries):
        if rest in exposed or child in exposed:
            continue
        pair = [entries[child], entries[rest]]
        if narrowed(dims_of, pair, counts, min_cell, parent):
            expose(rest)
            expose(child)
    shown_before: dict[str, list[tuple]] = {}
    withheld_before: dict[str, list[tuple]] = {}
    for cell, kind, _value, _n in getattr(joint, "moments", ()):
        measure = _prior_measure(cell, joint.universe.linked)
        target = withheld_before if kind == "withheld" else shown_before
        if measure is not None and cell not in target.get(measure, ()):
            target.setdefault(measure, []).append(cell)
    if exposed or any(e.measure in withheld_before for e in facts.values()):
        decision.withheld, public = _complete(facts, exposed, st, joint.translate, min_cell,
                                              shown_before, withheld_before)
        for cell in public:  # given away by earlier outputs: withhold the counts beside it
            decision.forced.update(_forceable(dims_of, entries[cell][0], counts))
    return decision


def _forceable(dims_of: _RangeDims, entry: _Moments, counts: _Counts) -> list[tuple]:
    """The band counts shown beside a public mean, as cells the gate can withhold."""
    out = []
    for band in dims_of.band_cells(entry, counts.status):
        if band.known is None or band.own is None:
            continue
        if counts.units(band.cell) is not None:
            out.append(band.own)
        elif (parts := split_except(band.own)) is not None:
            out.append(parts[1])  # "all but X" is no cell of its own: withhold X's count
    return out


def _families(entries: Mapping[tuple, tuple[_Moments, int]]
              ) -> list[tuple[tuple, tuple, _Moments]]:
    """(rest, organisation, field) triples: an "all but X" group whose X is shown too."""
    out = []
    for cell, (entry, _) in entries.items():
        parts = split_except(cell)
        if parts is not None and parts[1] in entries:
            parent = _Moments(entry.measure, {d: v for d, v in parts[0]
                                              if not str(d).startswith(VALID_PREFIX)})
            out.append((cell, parts[1], parent))
    return out


def _earlier_moments(release: Results, joint: Any) -> dict[tuple, tuple[_Moments, int]]:
    """Means and SDs earlier releases showed of the current respondents, in release terms."""
    marker = joint.translate(())  # the universe's mark of the current respondents, if any
    dims = set(release.all_dims)
    out: dict[tuple, tuple[_Moments, int]] = {}
    for cell, kind, value, n in getattr(joint, "moments", ()):
        if kind not in _MOMENT_KINDS or not set(marker) <= set(cell):
            continue  # other respondents (before a late file): not checked here
        parts = [item for item in cell if item not in marker]
        measure = _measure_of(tuple(parts))
        if measure is None or any(d not in dims for d, _ in parts):
            continue
        own = canonical(dict(parts), release.all_dims)  # the form the release's cells take
        base = {d: v for d, v in own if not str(d).startswith(VALID_PREFIX)}
        entry, _ = out.setdefault(own, (_Moments(measure, base), n))
        entry.values.setdefault(kind, value)
    return out


def _prior_measure(cell: tuple, linked: Mapping[str, str]) -> str | None:
    """The measure of a cell recorded by an earlier release (a validity dimension in it)."""
    for dim, value in cell:
        if str(dim).startswith(VALID_PREFIX):
            return str(dim)[len(VALID_PREFIX):]
        # A validity dimension of an earlier respondent set keeps only its id and link.
        if value == "yes" and dim in linked:
            return linked[dim]
    return None


def _units(st: Any, tr: Any, cell: tuple) -> tuple[int, ...] | None:
    try:
        return tuple(st.units_of(tr(cell)))
    except KeyError:
        return None


def _complete(facts: dict[tuple, _Moments], exposed: set[tuple], st: Any, tr: Any,
              min_cell: int, shown_before: Mapping[str, list[tuple]],
              withheld_before: Mapping[str, list[tuple]]) -> tuple[set[tuple], set[tuple]]:
    """The moments to withhold so that no withheld sum is derivable, and the exposed ones
    earlier releases alone already give away (withholding them now would protect nothing).

    Withheld sums are this release's exposed ones and those earlier releases withheld beside
    a shown count (``withheld_before``): a later release must not give those back either.
    """
    withheld, public = set(exposed), set()
    measures = {facts[c].measure for c in exposed}
    measures |= {e.measure for e in facts.values() if e.measure in withheld_before}
    for measure in measures:
        cells = [c for c, e in facts.items() if e.measure == measure]
        known = [c for c in shown_before.get(measure, []) if _units(st, lambda x: x, c)]
        kept = [c for c in withheld_before.get(measure, []) if _units(st, lambda x: x, c)]
        units = ([st.units_of(tr(c)) for c in cells] + [st.units_of(c) for c in known]
                 + [st.units_of(c) for c in kept])
        vectors = [st.rows[u[0]] - st.rows[u[1]] if len(u) == 2 else st.rows[u[0]]
                   for u in units]
        rows = sparse.vstack(vectors).tocsr()
        cost = np.array([st.count(tr(c)) for c in cells] + [0] * (len(known) + len(kept)),
                        dtype=float)
        # (A count shown before says nothing of a mean: only earlier moments are frozen.)
        frozen = np.arange(len(units)) >= len(cells)
        while True:
            hide = np.array([c in withheld and c not in public for c in cells]
                            + [False] * len(known) + [True] * len(kept))
            # Ties by rounding, as before: see find_exposures' settle_ties.
            found = find_exposures(rows, ~hide, hide, min_cell=min_cell, settle_ties=False)
            progress = False
            for e in found:
                choice = [u for u in e.candidates if not hide[u] and not frozen[u]]
                if not choice:
                    if e.unit < len(cells):  # earlier outputs give it away whatever we do
                        public.add(cells[e.unit])
                        frozen[e.unit] = progress = True
                elif not any(cells[u] in withheld for u in choice):
                    withheld.add(cells[min(choice, key=lambda u: (cost[u], u))])
                    progress = True
            if not progress:
                break
    return withheld - public, public
