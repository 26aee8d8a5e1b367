"""The gate: what one release may show, judged together with everything released before.

Steps, over every table of a release at once and over the release ledger:

1. *Plan*: each table row is a cell; each statistic's cell is the row's cell restricted to the
   respondents with a valid value of its measure (so the "n with a score" is a count of the
   same margin as everything else); each derived statistic names its source cells.
2. *Primary*: every cell with fewer than ``min_cell`` respondents (zero included) is withheld;
   blocks split by a sensitive dimension with a small category are withheld whole.
3. *Ledger*: cells released before stay released (they are public); cells withheld before for
   being small stay protected.
4. *Complementary*: while any protected cell can be derived exactly, or within a narrow
   interval, from everything shown (this release and the ledger), the smallest shown cell
   taking part in that derivation is withheld too.
5. *Derived statistics* are shown only where every cell they are computed from is shown;
   tables computed after the gate (ranks, shrunken means) see only shown cells.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from fieldsurvey._blas import on_one_blas_thread
from fieldsurvey.disclosure.exposure import Exposure, find_exposures
from fieldsurvey.disclosure.moments import withheld_moments
from fieldsurvey.disclosure.policy import DisclosureError, DisclosurePolicy
from fieldsurvey.disclosure.rowspace import atom_blocks
from fieldsurvey.disclosure.structure import ANY_SCORE, Structure, Universe, build_structure
from fieldsurvey.results.cells import VALID_PREFIX, Except, canonical, split_except, with_measure
from fieldsurvey.results.tables import COUNT_COL, Results, ResultsError, Source, TableSpec

PRIMARY = "primary"
SENSITIVE = "sensitive"
COMPLEMENTARY = "complementary"
#: Withheld, but earlier releases (through the ledger) already narrow it: nothing withheld now
#: can protect it. Counted in :attr:`GatedRelease.exposed_before`.
EXPOSED_BEFORE = "exposed by earlier releases"
#: Withheld before (or small), and derivable from cells released as they are (a file's
#: tallies, see ``Results.add_table(released=True)``). Listed by :attr:`GatedRelease.exposed`.
EXPOSED_BY_RELEASED = "exposed by released cells"


@dataclass
class TablePlan:
    """The cells of one table: per row its own cell, each statistic's cell, its sources."""

    count: list[tuple]
    stat: dict[str, list[tuple]]
    #: Per statistic column, per row, the source cells (taken on that column's measure).
    sources: dict[str, list[list[tuple]]] = field(default_factory=dict)
    #: The gate's count of each row's cell (set once the structure is built).
    counts: list[int] = field(default_factory=list)


@dataclass
class Joint:
    """What the ledger adds to a release: the universe, translated cells and earlier cells."""

    universe: Universe
    translate: Any  # callable: release cell -> universe cell
    prior: list[tuple[tuple, str]] = field(default_factory=list)
    #: Means and SDs earlier releases showed: (universe cell with its measure, kind, value, n).
    moments: list[tuple[tuple, str, float, int]] = field(default_factory=list)
    #: Earlier releases' dimensions in the universe -> the name they had (``burnout_band``).
    origin: dict[str, str] = field(default_factory=dict)


@dataclass
class GatedRelease:
    """The output of :func:`gate`: tables safe to show, plus what the audit and ledger need.

    Attributes
    ----------
    tables : dict of str to DataFrame
        Each table with withheld values set to NA, the gate's count in ``n`` and a boolean
        ``suppressed`` (the row's own cell is withheld). Nothing tells *why* a value is
        withheld: that would say which cells are small. Show these tables, never the inputs.
    policy, structure, specs, plans
        What the gate decided with (for :func:`~fieldsurvey.disclosure.audit`).
    protected : bool ndarray
        Units withheld that must stay underivable (small ones, here or in the ledger).
    public : bool ndarray
        Units released before (through the ledger): an attacker holds them already.
    reasons : dict
        Unit -> why it was withheld (for developers' diagnostics, never for output).
    settled : bool ndarray or None
        Protected units this release cannot tell anything new about by counts: withheld
        before, in parts of the system it adds no row to (:func:`untouched_by_release`).
        Earlier releases judged them; the audit leaves them out, the means check does not.
    """

    tables: dict[str, pd.DataFrame]
    policy: DisclosurePolicy
    structure: Structure
    specs: dict[str, TableSpec]
    plans: dict[str, TablePlan]
    translate: Any
    protected: np.ndarray
    public: np.ndarray
    reasons: dict[int, str] = field(default_factory=dict)
    implied: list[tuple] = field(default_factory=list)
    release_id: str | None = None
    #: True when the same results were released before and their decisions were reused.
    reused: bool = False
    #: Cells (with measure) whose means and SDs are withheld though their counts are shown
    #: (:mod:`fieldsurvey.disclosure.moments`); the ledger keeps them underivable.
    moments_withheld: set[tuple] = field(default_factory=set)
    #: Names under which a table judged once is shown again (:attr:`Results.aliases`).
    aliases: dict[str, str] = field(default_factory=dict)
    settled: np.ndarray | None = None

    def own_tables(self) -> dict[str, pd.DataFrame]:
        """The tables, each judged table once (an alias left as it came from the gate is
        skipped: it is the same frame)."""
        return {name: df for name, df in self.tables.items()
                if name not in self.aliases or df is not self.tables.get(self.aliases[name])}

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def public_tables(self) -> dict[str, pd.DataFrame]:
        """The tables as they may be shown (copies)."""
        return {name: df.copy() for name, df in self.tables.items()}

    def summary(self) -> pd.DataFrame:
        """One row per table: cells and cells withheld (for developers and benchmarks)."""
        return pd.DataFrame(
            [
                {"table": n, "cells": len(df), "suppressed": int(df["suppressed"].sum())}
                for n, df in self.tables.items()
            ]
        )

    @property
    def exposed_before(self) -> int:
        """Withheld cells that earlier releases already narrow (the ledger cannot undo them)."""
        return sum(1 for r in self.reasons.values() if r == EXPOSED_BEFORE)

    @property
    def exposed_units(self) -> list[int]:
        """Protected units that this release's ``released`` tables (with the ledger) expose:
        read directly, derived exactly or narrowed below the protection interval. Empty for
        releases without such tables, and whenever the release is safe to record."""
        if not any(spec.released for spec in self.specs.values()):
            return []
        return [u for u, r in sorted(self.reasons.items())
                if r in (EXPOSED_BEFORE, EXPOSED_BY_RELEASED)]

    @property
    def exposed(self) -> list[str]:
        """Readable definitions of :attr:`exposed_units` (for diagnostics, never for output)."""
        return [self.structure.unit_label[u] for u in self.exposed_units]

    def withheld_reasons(self) -> pd.Series:
        """How many units were withheld for each reason (diagnostics only, never shown)."""
        return pd.Series(list(self.reasons.values()), dtype=object).value_counts()


class ShownView:
    """What tables computed after the gate may look at: the gated tables and shown cells."""

    def __init__(self, tables: dict[str, pd.DataFrame], release: Results, shown: Any) -> None:
        self._tables = tables
        self._release = release
        self._shown = shown

    def table(self, name: str) -> pd.DataFrame:
        """A gated table (withheld values NA)."""
        return self._tables[name].copy()

    def is_shown(self, cell: Mapping[str, object], measure: str | None = None) -> bool:
        """True when the cell (with a valid value of ``measure``) is shown."""
        return self._shown(canonical(dict(cell), self._release.all_dims), measure)


def _refuse_extremes(release: Results, policy: DisclosurePolicy) -> None:
    specs = list(release.tables.values()) + list(release.derived.values())
    for spec in specs:
        for stat, kind in spec.stats.items():
            if kind == "extreme" and not policy.allow_extremes:
                raise DisclosureError(
                    f"table {spec.name!r}: {stat!r} is a minimum/maximum, which describes one "
                    "person; extremes are never shown unless the study allows them"
                )


def _source_cell(release: Results, plans: dict[str, TablePlan], ref: Source,
                 measure: str | None) -> tuple:
    order = release.all_dims
    if isinstance(ref, tuple):
        table, row = ref
        if table not in plans:
            raise DisclosureError(f"a source names table {table!r}, not added before it")
        return with_measure(plans[table].count[row], measure, order)
    try:
        cell = canonical(dict(ref), order)
    except KeyError as exc:
        raise DisclosureError(f"a source names {exc.args[0]!r}, not a dimension") from exc
    return with_measure(cell, measure, order)


def plan_table(release: Results, spec: TableSpec, plans: dict[str, TablePlan],
               memo: dict[tuple, tuple] | None = None) -> TablePlan:
    """The cells of a table's rows, statistics and sources (canonical over the release).

    ``memo`` keeps the cells of sources already planned, shared by the tables of one gate
    (every organisation's report rests on the same organisations' cells).
    """
    order = release.all_dims
    count = [canonical(definition, order) for definition in spec.definitions()]
    stat: dict[str, list[tuple]] = {}
    for col in spec.stats:
        cells = []
        for pos, cell in enumerate(count):
            measure = spec.measure_of(col, pos)
            if measure is not None and measure not in release.measures:
                raise DisclosureError(
                    f"table {spec.name!r} row {pos}: {measure!r} is not a measure of the release"
                )
            cells.append(with_measure(cell, measure, order))
        stat[col] = cells
    sources: dict[str, list[list[tuple]]] = {}
    if spec.sources is not None:
        # Rows of a ranking rest on every organisation: the same few sources over and over.
        memo = {} if memo is None else memo

        def source(ref: Source, measure: str | None) -> tuple:
            try:
                key = (ref if isinstance(ref, tuple) else tuple(ref.items()), measure)
                hash(key)
            except TypeError:
                return _source_cell(release, plans, ref, measure)
            if key not in memo:
                memo[key] = _source_cell(release, plans, ref, measure)
            return memo[key]

        # Rows that share one list of sources (a ranking's rows, each on every organisation)
        # share one planned list: it is worked out once, and the later passes over plans
        # (rendering, what is revealed, the ledger) judge it once by its identity.
        planned: dict[tuple[int, str | None], list[tuple]] = {}
        for col in spec.stats:
            per_row = []
            for pos, refs in enumerate(spec.sources):
                measure = spec.source_measure_of(col, pos)
                key = (id(refs), measure)  # spec.sources keeps every list alive meanwhile
                if key not in planned:
                    planned[key] = [source(r, measure) for r in refs]
                per_row.append(planned[key])
            sources[col] = per_row
    return TablePlan(count, stat, sources)


def _distinct(lists: list[list[tuple]]) -> list[list[tuple]]:
    """Each list once (rows sharing a planned list of sources share the object)."""
    return list({id(refs): refs for refs in lists}.values())


def _all_cells(plans: dict[str, TablePlan]) -> list[tuple]:
    out: list[tuple] = []
    for plan in plans.values():
        out.extend(plan.count)
        for cells in plan.stat.values():
            out.extend(cells)
        for per_row in plan.sources.values():
            for refs in _distinct(per_row):
                out.extend(refs)
    return list(dict.fromkeys(out))


def completion(release: Results, plans: dict[str, TablePlan]) -> list[tuple]:
    """Cells a table implies without showing them, protected when small.

    Where a table splits a cell by a dimension (groups A and B of everyone), every other
    category is implied (the groups it leaves out, "not stated" included, and categories with
    nobody in them). Where it shows one category only (organisation B beside the field), the
    rest is implied (everyone but B). Remainder categories (``unprotected``) and the
    valid-value split of measures are not completed: a count of who skipped a scale is not a
    characteristic, and its cell carries no value of that scale.
    """
    order = release.all_dims
    rank = {d: i for i, d in enumerate(order)}
    # Dicts, not sets, throughout: the implied cells' order fixes the order of the gate's
    # units and so its tie-breaks; a set's order of text follows PYTHONHASHSEED, which made
    # the same release gate differently from run to run.
    have: dict[tuple, None] = {}
    out: dict[tuple, None] = {}
    for plan in plans.values():
        groups: dict[tuple[str, tuple], dict[object, None]] = {}
        cells = dict.fromkeys(plan.count)
        for stat_cells in plan.stat.values():
            cells.update(dict.fromkeys(stat_cells))
        have.update(cells)
        for cell in cells:
            if any(isinstance(v, Except) for _, v in cell):
                continue  # the rest of a field is implied already by its parent and child
            for dim, value in cell:
                if dim in release.dims:
                    rest = tuple(item for item in cell if item[0] != dim)
                    groups.setdefault((dim, rest), {})[value] = None
        for (dim, rest), values in groups.items():
            if len(values) == 1:
                implied = [Except(next(iter(values)))]
            else:
                skip = release.unprotected.get(dim, set())
                implied = [c for c in release.domains[dim] if c not in values and c not in skip]
            for category in implied:
                new = tuple(sorted((*rest, (dim, category)), key=lambda i: rank[i[0]]))
                out[new] = None
    # The rest of the field shown gives the organisation it leaves out: that is a cell too.
    for cell in have:
        parts = split_except(cell)
        if parts is not None:
            out[parts[1]] = None
    return [c for c in out if c not in have]


def version_differences(plans: dict[str, TablePlan], joint: Joint
                        ) -> tuple[list[tuple], list[tuple]]:
    """Cells that differ between this release's data and an earlier release's data.

    The same cell before and after a late file differs by the late file's respondents in it;
    before and after responses were excluded, by those excluded. Both differences are cells
    (protected when small): the part of each of this release's cells that is new since an
    earlier release, and the part of each earlier shown cell that is gone from this release.
    Returns both lists. Both are taken as known when empty: an attacker may well know that no
    late file came in for a wave and that no response was removed (``status`` lists the files,
    members know whom they asked), so an empty difference gets no imagined respondent.
    """
    columns = list(joint.universe.frame.columns)
    versions = [c for c in columns if c.startswith("@ks:")]
    if not versions:
        return [], []
    rank = {c: i for i, c in enumerate(columns)}
    out: dict[tuple, None] = {}
    gone_cells: dict[tuple, None] = {}
    for cell in _all_cells(plans):
        translated = joint.translate(cell)
        for version in versions:
            out[(*translated, (version, "out"))] = None
    for cell, status in joint.prior:
        if status == "shown" and not any(isinstance(v, Except) for _, v in cell):
            gone = [item for item in cell if item[0] != "@in"] + [("@in", "out")]
            gone_cells[tuple(sorted(gone, key=lambda item: rank[item[0]]))] = None
    return list(out), list(gone_cells)


def _check_counts(release: Results, plans: dict[str, TablePlan], st: Structure, tr: Any) -> None:
    """Counts a table states (``n``, valid-answer counts) must be the gate's own counts."""
    for name, spec in release.tables.items():
        plan = plans[name]
        columns = {COUNT_COL: plan.count} if COUNT_COL in spec.cells else {}
        columns.update({ncol: plan.stat[ncol] for ncol in spec.measures})
        for column, cells in columns.items():
            given = pd.to_numeric(spec.cells[column], errors="coerce").to_numpy(dtype=float)
            for pos in np.flatnonzero(~np.isnan(given)):
                truth = st.count(tr(cells[pos]))
                if given[pos] != truth:
                    raise DisclosureError(
                        f"table {name!r} row {pos}: column {column!r} says {given[pos]:g} but "
                        f"the cell {dict(cells[pos])} holds {truth} respondents"
                    )


def _sensitive_blocks(
    release: Results, plans: dict[str, TablePlan], st: Structure, tr: Any, policy: DisclosurePolicy
) -> set[tuple]:
    """Cells to withhold because their block of a sensitive dimension has a small category.

    A block is the rows of one table that split the same cell by a sensitive dimension (the
    lived-experience staff of an organisation next to the other staff). When any of them is
    small, all of them are withheld: a large "others" beside a withheld group says the group
    is small.
    """
    hide: set[tuple] = set()
    for name, spec in release.tables.items():
        plan = plans[name]
        for s in [d for d in policy.sensitive if d in spec.dims]:
            blocks: dict[tuple, list[int]] = {}
            for pos, cell in enumerate(plan.count):
                if s in dict(cell):
                    blocks.setdefault(tuple(i for i in cell if i[0] != s), []).append(pos)
            for rows in blocks.values():
                if min(st.count(tr(plan.count[p])) for p in rows) >= policy.min_cell:
                    continue
                for p in rows:
                    hide.add(plan.count[p])
                    hide.update(cells[p] for cells in plan.stat.values())
    return hide


def _choose(exposures: list[Exposure], published: np.ndarray, eligible: np.ndarray,
            unit_n: np.ndarray) -> set[int]:
    """Greedy pick: for each exposure, the cheapest hideable unit that takes part in it.

    ``unit_n`` is the cost of withholding each unit: its count, more for cells that several
    statistics rest on (see :func:`_decide`).

    Ties break on unit order (the order cells first appear), so the gate is deterministic.
    An exposure already served by a unit chosen in this round adds nothing.
    """
    chosen: set[int] = set()
    hideable = published & eligible
    for exp in exposures:
        options = [u for u in exp.candidates if hideable[u]]
        if any(u in chosen for u in options):
            continue
        if not options:
            options = list(np.flatnonzero(hideable))
        if not options:
            continue
        chosen.add(min(options, key=lambda u: (int(unit_n[u]), u)))
    return chosen


def _complementary(st: Structure, hidden: np.ndarray, protect: np.ndarray, fixed: np.ndarray,
                   eligible: np.ndarray, policy: DisclosurePolicy,
                   exposed_before: set[int] | None = None,
                   cost: np.ndarray | None = None) -> np.ndarray:
    """Hide more eligible units until no protected unit is recoverable; returns the added.

    Units that only earlier releases expose go to ``exposed_before`` (withheld, unprotectable).
    """
    exposed_before = set() if exposed_before is None else exposed_before
    added = np.zeros_like(hidden)
    settled = np.zeros_like(hidden)  # hiding more only removes equations
    # First remove every exact derivation (cheap linear algebra), then check intervals (linear
    # programmes) on what is left: most exposures are subtractions, found without programmes.
    intervals = False
    while True:
        published = (eligible & ~hidden) | fixed
        exposures = find_exposures(
            st.rows, published, protect, min_cell=policy.min_cell,
            atom_values=st.atom_n.astype(float), skip=settled, intervals=intervals,
        )
        settled = protect.copy()
        if not exposures and not intervals:
            intervals, settled = True, np.zeros_like(hidden)
            continue
        if not exposures:
            return added
        settled[[e.unit for e in exposures]] = False
        hideable = eligible & ~fixed & ~hidden
        # A cell that earlier releases alone already pin down cannot be protected by withholding
        # anything now: it stays withheld here and is reported as exposed earlier.
        stuck = [e.unit for e in exposures if not any(hideable[u] for u in e.candidates)]
        if stuck:
            protect[stuck] = False
            exposed_before.update(int(u) for u in stuck)
            exposures = [e for e in exposures if e.unit not in set(stuck)]
            if not exposures:
                continue
        chosen = _choose(exposures, published, eligible & ~fixed,
                         st.unit_n if cost is None else cost)
        if not chosen:
            raise DisclosureError(
                "internal error: complementary suppression made no progress at "
                f"{st.unit_label[exposures[0].unit]}"
            )
        idx = np.fromiter(chosen, dtype=np.int64)
        hidden[idx] = True
        # A withheld value must not be derivable either, even when it is not small: a reader
        # would otherwise compute what the output says it withholds.
        protect[idx] = True
        added[idx] = True


def untouched_by_release(rows: sparse.csr_matrix, published: np.ndarray, new: np.ndarray,
                         units: np.ndarray) -> np.ndarray:
    """Which of ``units`` share no linked part of the system with a ``new`` published row.

    The published rows split the atoms into linked parts (atoms joined by a row they share);
    what a reader can work out about a cell comes from the parts its atoms lie in (counts
    are non-negative, so the programmes of separate parts are separate). A cell whose parts
    hold only rows published before is known now exactly as it was after the release that
    last published a row there, and that release judged it. The gate does not judge it
    again (issue 18: the organisation-section releases re-checked every cell the reports'
    release had withheld, some 9,000 at 100 organisations, and took as long as it).

    Examples
    --------
    >>> rows = sparse.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1],
    ...                                    [0, 0, 1, 0]]))
    >>> published = np.array([True, False, True, False])  # two totals
    >>> new = np.array([False, False, True, False])      # the second is new now
    >>> untouched_by_release(rows, published, new, np.array([True, True, True, True])).tolist()
    [True, True, False, False]
    """
    if not units.any() or not published.any():
        return units.copy()
    rows = sparse.csr_matrix(rows)
    pub = rows[np.flatnonzero(published)]
    part = atom_blocks(pub)  # the linked part of every atom
    dirty = np.zeros(part.max() + 1, dtype=bool)
    dirty[part[pub[new[published]].indices]] = True
    touched = (rows @ dirty[part].astype(float)) > 0
    return units & ~touched


@dataclass
class _Decision:
    hidden: np.ndarray
    protect: np.ndarray
    fixed: np.ndarray
    reasons: dict[int, str]
    #: Units a reader holds: shown by this release or released before.
    published: np.ndarray | None = None
    #: Protected units judged by earlier releases (see :func:`untouched_by_release`).
    settled: np.ndarray | None = None


def _shown_candidates(plans: dict[str, TablePlan], st: Structure, tr: Any, small: Any
                      ) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Cells the release would show, and source cells that stay unshown.

    A derived statistic reveals its source cells, so they count as shown - unless one of them
    is small: the statistic is then withheld whatever happens, and its other sources reveal
    nothing (they are protected like implied cells, not published).
    """
    shown: dict[tuple, None] = {}
    displayed: dict[tuple, None] = {}
    unshown: dict[tuple, None] = {}
    for plan in plans.values():
        displayed.update(dict.fromkeys(plan.count))
        for cells in plan.stat.values():
            displayed.update(dict.fromkeys(cells))
        for per_row in plan.sources.values():
            for refs in per_row:
                viable = not any(small(st.units_of(tr(c))) for c in refs)
                (shown if viable else unshown).update(dict.fromkeys(refs))
    source_only = [c for c in shown if c not in displayed]
    shown.update(displayed)
    return list(shown), [c for c in unshown if c not in shown], source_only


def _ordinary(release: Results, plans: dict[str, TablePlan]) -> dict[str, TablePlan]:
    """The plans of tables the gate decides on (not released as they are, not withheld)."""
    return {n: p for n, p in plans.items()
            if not (release.tables[n].released or release.tables[n].withheld)}


def _decide(release: Results, plans: dict[str, TablePlan], implied: list[tuple], st: Structure,
            joint: Joint, policy: DisclosurePolicy, forced: set[tuple] = frozenset()
            ) -> _Decision:
    tr = joint.translate
    n = st.n_units
    hidden = np.zeros(n, dtype=bool)
    protect = np.zeros(n, dtype=bool)
    fixed = np.zeros(n, dtype=bool)
    own = np.zeros(n, dtype=bool)
    reasons: dict[int, str] = {}
    prior_shown = np.zeros(n, dtype=bool)
    withheld_before = np.zeros(n, dtype=bool)
    for cell, status in joint.prior:
        units = list(st.units_of(cell))
        if status == "shown":
            fixed[units] = prior_shown[units] = True
        elif len(units) == 1:
            # Withheld before, withheld now and kept underivable, whatever its size: a value an
            # earlier output withheld (even one withheld only to protect others) never comes
            # back through a later one.
            hidden[units] = protect[units] = withheld_before[units] = True
            reasons.setdefault(units[0], "ledger")
    def small(units: tuple[int, ...]) -> bool:
        # A cell no respondent could be in (no atom at all) has nothing to protect.
        return (len(units) == 1 and st.unit_n[units[0]] < policy.min_cell
                and st.rows.indptr[units[0] + 1] > st.rows.indptr[units[0]])

    ordinary = _ordinary(release, plans)
    for name in (n for n in plans if release.tables[n].withheld):
        for cell in plans[name].count:
            units = st.units_of(tr(cell))
            if small(units) and not hidden[units[0]]:
                hidden[units[0]] = protect[units[0]] = True
                reasons[units[0]] = PRIMARY
    for name in (n for n in plans if release.tables[n].released):
        # A file's tallies are out whatever their size: what they give away of protected
        # cells is exposed, and nothing withheld now can help it.
        for cell in plans[name].count:
            units = list(st.units_of(tr(cell)))
            for u in units:
                if protect[u]:
                    reasons[u] = EXPOSED_BY_RELEASED
            fixed[units] = True
    shown_cells, doomed_sources, source_only = _shown_candidates(ordinary, st, tr, small)
    # Withholding a cell that only statistics rest on (a weighting cell, a compared group)
    # withholds every statistic resting on it: choose such cells last.
    cost = st.unit_n.astype(float)
    for u in {u for cell in source_only for u in st.units_of(tr(cell))}:
        cost[u] = cost[u] * 100 + 1
    for cell in shown_cells:
        units = list(st.units_of(tr(cell)))
        own[units] = True
        if small(tuple(units)):
            hidden[units] = protect[units] = True
            reasons.setdefault(units[0], PRIMARY)
    for cell in [*implied, *(tr(c) for c in doomed_sources)]:  # in the universe's terms
        units = st.units_of(cell)
        if small(units) and not hidden[units[0]]:
            hidden[units[0]] = protect[units[0]] = True
            reasons[units[0]] = PRIMARY
    for cell in _sensitive_blocks(release, plans, st, tr, policy):
        for u in st.units_of(tr(cell)):
            if not hidden[u]:
                hidden[u] = protect[u] = True
                reasons[u] = SENSITIVE
    for cell in forced:  # band counts an earlier mean would narrow (see withheld_moments)
        known = tr(cell) in st.unit_of or tr(cell) in st.difference_of
        for u in st.units_of(tr(cell)) if known else ():
            if own[u] and not hidden[u] and not fixed[u]:
                hidden[u] = protect[u] = True
                reasons[u] = COMPLEMENTARY
    # A value released before is public: withholding it now protects nothing.
    protect &= ~fixed
    eligible = own & ~fixed
    # Cells withheld before, in parts of the system this release adds no row to, are known
    # now as they were: earlier releases judged them (see untouched_by_release).
    published = (eligible & ~hidden) | fixed
    settled = untouched_by_release(st.rows, published, published & ~prior_shown,
                                   withheld_before & protect)
    exposed: set[int] = set()
    checked = protect & ~settled
    added = _complementary(st, hidden, checked, fixed, eligible, policy, exposed, cost)
    protect = checked | settled
    for u in np.flatnonzero(added):
        reasons[int(u)] = COMPLEMENTARY
    for u in exposed:
        reasons[u] = EXPOSED_BEFORE
    return _Decision(hidden, protect, fixed, reasons, (own & ~hidden) | fixed, settled)


def _decide_with_moments(release: Results, plans: dict[str, TablePlan], implied: list[tuple],
                         st: Structure, joint: Joint, policy: DisclosurePolicy
                         ) -> tuple[_Decision, set[tuple]]:
    """The gate's decision on counts, then on the means and SDs that bound band counts.

    Means and SDs that would narrow a withheld band count are withheld with what rests on
    them. When a mean an earlier release showed does, the band counts shown beside it are
    withheld instead and counts decided again (a few rounds at most: each adds cells).
    """
    forced: set[tuple] = set()
    for _round in range(3):
        decision = _decide(release, plans, implied, st, joint, policy, forced)
        moments = withheld_moments(release, _ordinary(release, plans), st, joint,
                                   decision.published, decision.protect, policy.min_cell)
        if moments.forced <= forced:
            break
        forced |= moments.forced
    return decision, moments.withheld


@on_one_blas_thread  # its QR and LP work is on small matrices (see fieldsurvey._blas)
def gate(
    release: Results,
    policy: DisclosurePolicy | None = None,
    *,
    ledger: Any = None,
    output: str = "output",
    command: str = "",
    record: bool = True,
) -> GatedRelease:
    """Decide what a release may show, and record it in the ledger.

    Parameters
    ----------
    release : Results
        The tables meant for users.
    policy : DisclosurePolicy, optional
        From :func:`~fieldsurvey.disclosure.policy_for` (default: minimum cell size 10).
    ledger : Ledger, optional
        The study's release ledger: the release is judged together with everything released
        before, then recorded. Without one, the release is judged alone.
    output, command : str
        What the ledger records about the output (e.g. ``"benchmark"`` and its command line).
        The same output with the same results as a recorded release shows exactly what that
        release showed (re-running a report gives the same report).
    record : bool
        False to judge without recording (``verify`` recomputing a report).

    Returns
    -------
    GatedRelease

    Examples
    --------
    >>> people = pd.DataFrame({"org": ["A"] * 12 + ["B"] * 30,
    ...                        "lived_experience": ["yes"] + ["no"] * 41})
    >>> cells = pd.DataFrame({"org": ["A", "A", "A"], "lived_experience": [None, "yes", "no"]})
    >>> rel = Results(people, ["org", "lived_experience"]).add_table("t", cells)
    >>> gate(rel)["t"][["lived_experience", "n", "suppressed"]]
      lived_experience     n  suppressed
    0              NaN    12       False
    1              yes  <NA>        True
    2               no  <NA>        True
    """
    policy = policy or DisclosurePolicy()
    _refuse_extremes(release, policy)
    fingerprint = results_fingerprint(release, policy)
    if ledger is not None and (found := ledger.find_parts(fingerprint)) is not None:
        return _reuse(release, policy, ledger, found)
    plans: dict[str, TablePlan] = {}
    sources: dict[tuple, tuple] = {}
    for name, spec in release.tables.items():
        plans[name] = plan_table(release, spec, plans, sources)
    joint = ledger.joint(release) if ledger is not None else alone(release)
    tr = joint.translate
    # A file's tallies list every combination it holds: the ones it leaves out are empty, and
    # public as such; they imply nothing to protect.
    implied = completion(release, _ordinary(release, plans))
    new_since, gone = version_differences(plans, joint)
    protected_extra = [tr(c) for c in implied] + new_since + gone
    cells = [tr(c) for c in _all_cells(plans)] + protected_extra + [c for c, _ in joint.prior]
    st = build_structure(joint.universe, cells, policy.min_cell, known_empty=[*new_since, *gone])
    for plan in plans.values():
        plan.counts = [st.count(tr(c)) for c in plan.count]
    _check_counts(release, plans, st, tr)
    decision, moments_withheld = _decide_with_moments(release, plans, protected_extra, st, joint,
                                                      policy)
    shown_units = ~decision.hidden

    seen: dict[tuple, bool] = {}

    def shown(cell: tuple) -> bool:
        # Every statistic of a row asks about the same few cells: look each up once.
        try:
            return seen[cell]
        except KeyError:
            seen[cell] = answer = all(shown_units[u] for u in st.units_of(tr(cell)))
            return answer

    def value_shown(cell: tuple) -> bool:
        return cell not in moments_withheld and shown(cell)

    def never(cell: tuple) -> bool:
        return False

    tables = {name: _render(spec, plans[name], never if spec.withheld else shown,
                            never if spec.withheld else value_shown)
              for name, spec in release.tables.items()}
    specs = dict(release.tables)
    _add_aliases(release.aliases, tables, specs, plans)
    for name, derived in release.derived.items():
        view = ShownView(tables, release, lambda c, m: _known_and_shown(st, tr, c, m, release,
                                                                          value_shown))
        spec, plan, table = _derived_table(release, derived, view, plans, st, tr, value_shown,
                                           sources)
        specs[name], plans[name], tables[name] = spec, plan, table
    gated = GatedRelease(
        tables=tables,
        policy=policy,
        structure=st,
        specs=specs,
        plans=plans,
        translate=tr,
        protected=decision.protect,
        public=decision.fixed.copy(),
        reasons=decision.reasons,
        implied=implied,
        moments_withheld=moments_withheld,
        aliases=dict(release.aliases),
        settled=decision.settled,
    )
    if ledger is not None and record:
        gated.release_id = ledger.record(gated, release, output=output, command=command,
                                         fingerprint=fingerprint)
    return gated


def _part(name: str) -> str:
    """The output a table belongs to inside a release of several (``"org:O01/bands"``)."""
    return name.split("/", 1)[0] if "/" in name else ""


def results_fingerprint(release: Results, policy: DisclosurePolicy) -> dict[str, str]:
    """A digest of each part of a release: its tables, the respondents and the policy.

    Results released again (the same report rebuilt, a release re-run) are recognised by
    these, and show exactly what they showed the first time.
    """
    import hashlib

    base = hashlib.sha256(repr((policy.min_cell, policy.sensitive)).encode())
    _digest_frame(base, release.respondents)
    if release.keys is not None:
        base.update(pd.util.hash_pandas_object(release.keys, index=False).values)
    # Per part, its tables in name order, each table's content digested once: a part reads
    # the same whether its tables were judged in it or are aliases of another part's copy
    # (one report rebuilt alone is recognised in the release of every report).
    named: dict[str, list[tuple[str, TableSpec]]] = {}
    for name, spec in [*release.tables.items(),
                       *((a, release.tables[t]) for a, t in release.aliases.items())]:
        named.setdefault(_part(name), []).append((name, spec))
    digests: dict[int, bytes] = {}
    parts: dict[str, Any] = {}
    for part, specs in named.items():
        h = parts.setdefault(part, base.copy())
        for name, spec in sorted(specs, key=lambda item: item[0]):
            if id(spec) not in digests:
                content = hashlib.sha256()
                _digest_frame(content, spec.cells)
                digests[id(spec)] = content.digest()
            h.update(f"{name}|{sorted(spec.stats.items())}|{list(spec.cells.columns)}".encode())
            h.update(digests[id(spec)])
    for name in release.derived:
        parts.setdefault(_part(name), base.copy()).update(f"derived|{name}".encode())
    return {part: h.hexdigest() for part, h in parts.items()}


def _digest_frame(digest: Any, frame: pd.DataFrame) -> None:
    """Feed a frame to ``digest``: its plain numeric columns as one block of float64 bytes,
    every other column as its categories and their codes.

    Respondent frames are a few categories repeated over many rows (200,000 x 60 for
    ``reliability``): hashing each category once and the rows as integer codes is ~10x
    cheaper than hashing every cell as text, and tells the same frames apart. Tables are
    mostly statistics: one block for them spares a factorisation per column (a release of
    26 reports has 30,000 such columns).
    """
    numeric = [c for c, t in frame.dtypes.items()
               if isinstance(t, np.dtype) and t.kind in "fiub"]
    if numeric:
        digest.update(f"numeric|{numeric}".encode())
        digest.update(np.ascontiguousarray(frame[numeric].to_numpy(dtype=np.float64)).tobytes())
    plain = set(numeric)
    for column in frame.columns:
        if column in plain:
            continue
        values = frame[column]
        try:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
        except TypeError:  # unhashable cells (lists): their text stands in for them
            codes, uniques = pd.factorize(values.astype(str), use_na_sentinel=True)
        digest.update(f"{column}|{[repr(u) for u in uniques]}".encode())
        digest.update(codes.astype(np.int64, copy=False).tobytes())


def _reuse(release: Results, policy: DisclosurePolicy, ledger: Any, found: dict[str, str]
           ) -> GatedRelease:
    """The tables of earlier releases of the same results, showing what they showed."""
    shown: dict[tuple[str, int, str], str] = {}
    for release_id in dict.fromkeys(found.values()):
        shown.update(ledger.shown_values(release_id))
    tables = {}
    for name, spec in release.tables.items():
        tables[name] = _mask(spec.cells, name, spec.stats, shown)
    specs = dict(release.tables)
    _add_aliases(release.aliases, tables, specs)
    for name, derived in release.derived.items():
        view = ShownView(tables, release, lambda c, m: True)
        cells, _ = derived.compute(view)
        cells = cells.reindex(columns=[*cells.columns,
                                       *[c for c in derived.stats if c not in cells]])
        tables[name] = _mask(cells.reset_index(drop=True), name, derived.stats, shown)
    empty = np.zeros(0, dtype=bool)
    return GatedRelease(tables, policy, None, specs, {}, None, empty, empty,  # type: ignore[arg-type]
                        release_id=next(iter(found.values())), reused=True,
                        aliases=dict(release.aliases))


def _add_aliases(aliases: dict[str, str], *by_name: dict[str, Any]) -> None:
    """Show a table judged once under each of its other names too (the same objects)."""
    for alias, target in aliases.items():
        for mapping in by_name:
            mapping[alias] = mapping[target]


def _mask(cells: pd.DataFrame, name: str, stats: dict[str, str],
          shown: dict[tuple[str, int, str], str]) -> pd.DataFrame:
    df = cells.reset_index(drop=True)
    counts = [shown.get((name, pos, COUNT_COL)) for pos in range(len(df))]
    hide = {col: np.array([(name, pos, col) not in shown for pos in range(len(df))], dtype=bool)
            for col in stats if col in df.columns}
    return _masked(df, hide, {
        COUNT_COL: pd.array([int(float(c)) if c is not None else pd.NA for c in counts],
                            dtype="Int64"),
        "suppressed": np.array([c is None for c in counts], dtype=bool),
    })


def _masked(df: pd.DataFrame, hide: dict[str, np.ndarray], columns: dict[str, Any]
            ) -> pd.DataFrame:
    """``df`` with the ``hide`` rows of each column missing, then ``columns`` set or added.

    One ``DataFrame.where`` over the whole frame with a single-block condition: wide tables
    (a statistic per item, hundreds of columns) are masked block by block, not column by
    column; selecting and re-joining the masked columns cost twice as much (measured on the
    releases of 26 reports). Columns whose values are all shown are left as they are.
    """
    hide = {col: rows for col, rows in hide.items() if rows.any()}
    if hide:
        keep = np.ones(df.shape, dtype=bool)
        for pos, rows in zip(df.columns.get_indexer(list(hide)), hide.values(), strict=True):
            keep[:, pos] = ~rows
        out = df.where(pd.DataFrame(keep, index=df.index, columns=df.columns))
    else:
        out = df.copy(deep=False)
    for name, values in columns.items():
        out[name] = values
    return out


def phantom_ranges(name: str, declared: Mapping[object, tuple[float, float]] | None
                   ) -> dict[object, tuple[float, float]]:
    """A dimension's score ranges for phantoms (:attr:`Universe.ranges`): those declared (a
    band's, a bin's), or for a validity column "yes": some score ("no": none); else none."""
    if declared:
        return dict(declared)
    return {"yes": ANY_SCORE} if name.startswith(VALID_PREFIX) else {}


def universe_ranges(release: Results) -> dict[str, dict[object, tuple[float, float]]]:
    """:func:`phantom_ranges` of every dimension of the release that has some."""
    return {d: r for d in release.all_dims
            if (r := phantom_ranges(d, release.score_ranges.get(d)))}


def alone(release: Results) -> Joint:
    """A release judged on its own (no ledger): its respondents are the universe."""
    universe = Universe(release.respondents, dict(release.domains), dict(release.linked),
                        determined_by=dict(release.determined_by),
                        ranges=universe_ranges(release))
    return Joint(universe, lambda cell: cell, [])


def _known_and_shown(st: Structure, tr: Any, cell: tuple, measure: str | None,
                     release: Results, shown: Any) -> bool:
    cell = with_measure(cell, measure, release.all_dims)
    known = tr(cell) in st.unit_of or tr(cell) in st.difference_of
    return known and shown(cell)


def _render(spec: TableSpec, plan: TablePlan, shown: Any, value_shown: Any = None
            ) -> pd.DataFrame:
    """The table with withheld values as NA, the gate's counts and ``suppressed``.

    ``value_shown`` decides statistics other than counts (default ``shown``): a cell's count
    can be shown while its mean is withheld (:mod:`fieldsurvey.disclosure.moments`).
    """
    value_shown = value_shown or shown
    df = spec.cells
    own = np.array([shown(c) for c in plan.count], dtype=bool)
    hide: dict[str, np.ndarray] = {}
    for col, cells in plan.stat.items():
        judge = shown if col in spec.measures else value_shown
        ok = own & np.array([judge(c) for c in cells], dtype=bool)
        if col in plan.sources:
            judged = {id(refs): all(value_shown(c) for c in refs)
                      for refs in _distinct(plan.sources[col])}
            ok &= np.array([judged[id(refs)] for refs in plan.sources[col]], dtype=bool)
        hide[col] = ~ok
    return _masked(df, hide, {
        COUNT_COL: pd.array([plan.counts[pos] if own[pos] else pd.NA for pos in range(len(df))],
                            dtype="Int64"),
        "suppressed": ~own,
    })


def _derived_table(release: Results, derived: Any, view: ShownView,
                   plans: dict[str, TablePlan], st: Structure, tr: Any, shown: Any,
                   memo: dict[tuple, tuple] | None = None
                   ) -> tuple[TableSpec, TablePlan, pd.DataFrame]:
    cells, refs = derived.compute(view)
    # A model that could not describe a row leaves its statistics missing (withheld).
    cells = cells.reindex(columns=[*cells.columns, *[c for c in derived.stats if c not in cells]])
    spec = TableSpec(
        name=derived.name, cells=cells.reset_index(drop=True), stats=dict(derived.stats),
        dims=tuple(d for d in release.dims if d in cells.columns), variable=derived.variable,
        labels=derived.labels, sources=_shared_lists(refs),
        source_measure=derived.source_measure,
    )
    plan = plan_table(release, spec, plans, memo)
    seen: dict[tuple, bool] = {}

    def known(cell: tuple) -> bool:
        return cell in st.unit_of or cell in st.difference_of

    def shown_known(cell: tuple) -> bool:
        try:
            return seen[cell]
        except KeyError:
            seen[cell] = answer = known(tr(cell)) and shown(cell)
            return answer

    plan.counts = [st.count(tr(c)) if known(tr(c)) else 0 for c in plan.count]
    return spec, plan, _render(spec, plan, shown_known)


def _shared_lists(refs: list) -> list[list]:
    """Each row's sources as a list, rows that shared one list still sharing one.

    A ranking's rows all rest on the same organisations; kept as one object, that list is
    planned and judged once (see :func:`plan_table`) instead of once per row.
    """
    copies: dict[int, list] = {}  # refs keeps every row's object alive, so ids are unique
    out = []
    for row in refs:
        if id(row) not in copies:
            copies[id(row)] = list(row)
        out.append(copies[id(row)])
    return out


def values_present(df: pd.DataFrame) -> tuple[np.ndarray, list[np.ndarray]]:
    """``df`` as one object array, and per column the rows holding a value (not withheld).

    Reading a wide table column by column costs more than its values: the audit's marking
    and the ledger read every shown value from this instead.
    """
    values = df.to_numpy(dtype=object)
    cols, rows = np.nonzero(~pd.isna(values).T)
    cuts = np.searchsorted(cols, np.arange(values.shape[1] + 1))
    return values, [rows[cuts[i]:cuts[i + 1]] for i in range(values.shape[1])]


def revealed_units(gated: GatedRelease, arrays: Mapping[int, tuple] | None = None
                   ) -> np.ndarray:
    """Units whose values the gated tables (as they stand now) let a reader work out.

    ``arrays`` may hold :func:`values_present` of the tables by ``id`` (worked out once by
    a caller that reads them again).
    """
    st, tr = gated.structure, gated.translate
    out = np.zeros(st.n_units, dtype=bool)

    seen: set[tuple] = set()

    def mark(cell: tuple) -> None:
        # Tables repeat cells (a row's statistics, sources shared by rows): look each up once.
        if cell in seen:
            return
        seen.add(cell)
        for u in st.units_of(tr(cell)):
            out[u] = True

    for name, df in gated.own_tables().items():
        plan = gated.plans[name]
        present = (arrays[id(df)] if arrays is not None else values_present(df))[1]
        where = {col: i for i, col in enumerate(df.columns)}
        for pos in present[where[COUNT_COL]]:
            mark(plan.count[pos])
        marked: set[int] = set()  # a list of sources shared by rows is marked once
        for col, cells in plan.stat.items():
            for pos in present[where[col]]:
                mark(cells[pos])
                refs = plan.sources[col][pos] if col in plan.sources else ()
                if id(refs) not in marked:
                    marked.add(id(refs))
                    for ref in refs:
                        mark(ref)
    return out


def gate_table(
    df: pd.DataFrame,
    *,
    dims: Sequence[str],
    count_col: str = "n",
    stat_cols: Sequence[str] | Mapping[str, str] = (),
    policy: DisclosurePolicy | None = None,
    total_label: object = None,
    labels: Sequence[str] = (),
) -> pd.DataFrame:
    """Gate one table of counts with its margins, without respondent-level data.

    Rows with every dimension filled are the finest cells; rows with a missing value (or
    ``total_label``) in some dimension are margins and must equal the sum of the finest cells
    they cover (give missing answers their own category so they do).

    Examples
    --------
    >>> t = pd.DataFrame({"org": ["A", "B", "C", None], "n": [4, 30, 25, 59]})
    >>> gate_table(t, dims=["org"])["suppressed"].tolist()
    [True, False, True, False]
    """
    dims = [str(d) for d in dims]
    missing = [c for c in [*dims, count_col] if c not in df.columns]
    if missing:
        raise DisclosureError(f"gate_table: column(s) {missing} not in the table")
    table = df.reset_index(drop=True).copy()
    if total_label is not None:
        for d in dims:
            table[d] = table[d].where(table[d] != total_label)
    counts = pd.to_numeric(table[count_col], errors="coerce")
    if counts.isna().any() or (counts < 0).any() or (counts % 1 != 0).any():
        pos = int(np.flatnonzero(counts.isna() | (counts < 0) | (counts % 1 != 0))[0])
        raise DisclosureError(
            f"gate_table: row {pos} column {count_col!r} is not a whole count: "
            f"{df[count_col].iat[pos]!r}"
        )
    finest = table[dims].notna().all(axis=1).to_numpy()
    if not finest.any():
        raise DisclosureError("gate_table: no row has every dimension filled (no finest cells)")
    keys = table.loc[finest, dims]
    if keys.duplicated().any():
        pos = int(np.flatnonzero(finest)[np.flatnonzero(keys.duplicated().to_numpy())[0]])
        raise DisclosureError(f"gate_table: row {pos} repeats a finest cell")
    if count_col != COUNT_COL and COUNT_COL in table.columns:
        raise DisclosureError(f"gate_table: the table already has a column named {COUNT_COL!r}")
    repeat = counts[finest].astype(np.int64)
    people = keys.loc[keys.index.repeat(repeat)].reset_index(drop=True)
    domains = {d: list(pd.unique(keys[d])) for d in dims}
    cells = table.drop(columns=[count_col])
    cells[COUNT_COL] = counts.astype(np.int64)
    rel = Results(people, dims, domains=domains).add_table("table", cells, stat_cols,
                                                           labels=labels)
    try:
        out = gate(rel, policy)["table"]
    except (DisclosureError, ResultsError) as exc:
        raise DisclosureError(
            f"gate_table: {exc} (margins must equal the sum of the finest cells they cover)"
        ) from exc
    for d in dims:
        out[d] = df[d].to_numpy()
    return out.rename(columns={COUNT_COL: count_col})
