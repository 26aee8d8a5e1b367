"""Can a withheld value be worked out from what is shown? Exact linear checks.

Model: atoms ``a >= 0`` (respondent counts, or sums of a statistic), published units give
equations ``R a = b``. A hidden unit with indicator ``h`` is

* **determined** when ``h`` lies in the row space of the published rows: some combination of
  shown totals and subgroups (adding, subtracting across tables and waves) equals it;
* **exposed by its interval** (counts only) when the linear programme
  ``min/max h.a  s.t.  R a = b, a >= 0`` leaves a range that breaks the protection rule of
  :func:`is_protected`.

Work is split so it stays fast on large releases: first *peeling* (a shown unit with a single
unknown atom fixes it; a shown unit whose other atoms already account for its count fixes the
rest at zero), then independent connected components, each checked with one SVD and, for
intervals, two witness LPs plus exact LPs only for cells the witnesses cannot clear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from fieldsurvey.disclosure.rowspace import RowSpace

_TOL = 1e-7


@dataclass(frozen=True)
class Exposure:
    """One hidden unit whose value can be read from the published rows.

    Attributes
    ----------
    unit : int
        Index of the hidden unit.
    kind : str
        ``"determined"`` (fixed by linear combination or peeling) or ``"interval"``.
    lo, hi : float
        Feasible range an attacker can compute (NaN when only linear algebra was used).
    candidates : tuple of int
        Published units taking part in the recovery; withholding one of them helps.
    """

    unit: int
    kind: str
    lo: float
    hi: float
    candidates: tuple[int, ...]


def is_protected(lo: float, hi: float, min_cell: int) -> bool:
    """The protection rule for a withheld count with attacker range ``[lo, hi]``.

    The integer range ``[ceil(lo), floor(hi)]`` must hold at least two values (the count is
    not pinned down) and must either reach ``min_cell`` (the attacker cannot even tell the
    cell is small) or include 0 (the attacker cannot tell anyone is in the cell).

    Examples
    --------
    >>> is_protected(0, 8, 10), is_protected(3, 12, 10), is_protected(3, 5, 10)
    (True, True, False)
    >>> is_protected(4, 4, 10)
    False
    """
    ilo = math.ceil(lo - _TOL)
    ihi = math.inf if math.isinf(hi) else math.floor(hi + _TOL)
    return ihi - ilo >= 1 and (ihi >= min_cell or ilo <= 0)


def swap_protected(hidden_rows: sparse.csr_matrix, pub: sparse.csr_matrix,
                   atom_values: np.ndarray, min_cell: int) -> np.ndarray:
    """Hidden cells proved protected by swaps that leave every shown number unchanged.

    Atoms that lie in exactly the same shown cells are interchangeable to anyone who sees
    only those cells: people can be moved between them freely. So a hidden cell can lose
    everyone in its atoms that have such a twin outside it, and gain everyone in the twins.
    When that range already satisfies :func:`is_protected`, no linear programme is needed
    (the attacker's true range is at least as wide).
    """
    n_atoms = pub.shape[1]
    csc = sparse.csc_matrix(pub)
    signature: dict[bytes, int] = {}
    group = np.empty(n_atoms, dtype=np.int64)
    for j in range(n_atoms):
        key = csc.indices[csc.indptr[j] : csc.indptr[j + 1]].tobytes()
        group[j] = signature.setdefault(key, len(signature))
    free = np.diff(csc.indptr) == 0  # in no shown cell: unbounded
    group_total = np.bincount(group, weights=atom_values, minlength=len(signature))
    group_size = np.bincount(group, minlength=len(signature))
    out = np.zeros(hidden_rows.shape[0], dtype=bool)
    for k in range(hidden_rows.shape[0]):
        atoms = hidden_rows.indices[hidden_rows.indptr[k] : hidden_rows.indptr[k + 1]]
        if atoms.size == 0:
            out[k] = True
            continue
        value = float(atom_values[atoms].sum())
        if free[atoms].any():
            out[k] = is_protected(0.0 if value == 0 else value - 1, math.inf, min_cell)
            continue
        g = group[atoms]
        inside = np.bincount(g, weights=atom_values[atoms], minlength=len(signature))
        members = np.bincount(g, minlength=len(signature))
        shared = (members > 0) & (members < group_size)  # a twin outside the cell
        down = float(inside[shared].sum())
        up = float((group_total - inside)[shared].sum())
        out[k] = is_protected(value - down, value + up, min_cell)
    return out


#: Rounds of joint (witness) programmes before cells get programmes of their own.
WITNESS_ROUNDS = 12
#: Neighbourhoods of more atoms than this are left to the check on the whole system.
LOCAL_LIMIT = 600
#: In the audit (``primal=True``), systems of fewer atoms skip the neighbourhood check:
#: their whole-system programmes cost less than a small programme per cell. The gate keeps
#: it whatever the size: it chooses complements from the duals of the programmes a cell
#: reaches, so which cells reach the whole-system programmes is part of its decisions.
LOCAL_FROM = 5000


def _small_lp(a: sparse.csr_matrix, b: np.ndarray, c: np.ndarray) -> float | None:
    """``min c.x  s.t.  a x = b, x >= 0`` for a small system (None if not solved)."""
    import highspy

    csc = sparse.csc_matrix(a, dtype=float)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = csc.shape[1], csc.shape[0]
    lp.col_cost_ = np.asarray(c, dtype=float)
    lp.col_lower_ = np.zeros(csc.shape[1])
    lp.col_upper_ = np.full(csc.shape[1], highspy.kHighsInf)
    lp.row_lower_ = lp.row_upper_ = np.asarray(b, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = (
        csc.indptr, csc.indices, csc.data)
    h = _new_highs()
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return float(np.dot(c, h.getSolution().col_value))


def local_protected(hidden_rows: sparse.csr_matrix, pub: sparse.csr_matrix,
                    atom_values: np.ndarray, min_cell: int) -> np.ndarray:
    """Hidden cells protected even from an attacker who knows every atom outside a neighbourhood.

    The neighbourhood of a cell is its atoms and the atoms of the shown cells of about its own
    scale that touch it (its organisation's cells, not the field's). Fixing every other atom at its true value gives the
    attacker more than they have, so their range for the cell only narrows: a cell protected
    against this attacker is protected. Such problems are small (tens of atoms), so most
    cells of a large release are settled here, one or two tiny linear programmes each.
    """
    pub = sparse.csr_matrix(pub)
    csc = pub.tocsc()
    size = np.diff(pub.indptr)
    out = np.zeros(hidden_rows.shape[0], dtype=bool)
    for k in range(hidden_rows.shape[0]):
        atoms = hidden_rows.indices[hidden_rows.indptr[k] : hidden_rows.indptr[k + 1]]
        if atoms.size == 0:
            out[k] = True
            continue
        touching = np.unique(np.concatenate([csc.indices[csc.indptr[a] : csc.indptr[a + 1]]
                                             for a in atoms]))
        if touching.size == 0:
            continue
        # The shown cells of about the cell's own scale (its organisation's, not the field's).
        reach = min(LOCAL_LIMIT, 4 * max(int(size[touching].min()), atoms.size, 25))
        local = touching[size[touching] <= reach]
        parts = [atoms] + [pub.indices[pub.indptr[r] : pub.indptr[r + 1]] for r in local]
        hood = np.unique(np.concatenate(parts))
        if hood.size > LOCAL_LIMIT:
            continue
        rows = np.unique(np.concatenate([csc.indices[csc.indptr[a] : csc.indptr[a + 1]]
                                         for a in hood]))
        a = pub[rows][:, hood]
        truth = atom_values[hood].astype(float)
        c = np.isin(hood, atoms).astype(float)
        value = float(c @ truth)
        if rows.size == 0 or (np.diff(a.tocsc().indptr)[c > 0] == 0).any():
            out[k] = is_protected(max(value - 1, 0.0) if value else 0.0, math.inf, min_cell)
            continue
        b = a @ truth
        low = _small_lp(a, b, c)
        if low is None:
            continue
        high = value if value >= 1 else _small_lp(a, b, -c)
        if high is None:
            continue
        out[k] = is_protected(low, value if value >= 1 else -high, min_cell)
    return out


def _peel(pub: sparse.csr_matrix, atom_values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Atoms fixed by single-unknown rows (and, for counts, by rows already used up)."""
    n_atoms = pub.shape[1]
    known = np.zeros(n_atoms, dtype=bool)
    fixer = np.full(n_atoms, -1, dtype=np.int64)
    if pub.shape[0] == 0:
        return known, fixer
    while True:
        unknown = (~known).astype(np.int64)
        cnt = pub @ unknown
        fire = cnt == 1
        if atom_values is not None:
            resid = pub @ (atom_values * unknown)
            fire |= (cnt >= 1) & (np.abs(resid) < _TOL)
        fired = np.flatnonzero(fire)
        if fired.size == 0:
            return known, fixer
        sub = sparse.csr_matrix(pub[fired].multiply(unknown))
        sub.eliminate_zeros()
        sub = sub.tocoo()
        # Later assignments win in numpy fancy indexing; reverse so the first row wins.
        order = np.argsort(sub.row, kind="stable")[::-1]
        fixer[sub.col[order]] = fired[sub.row[order]]
        known[sub.col] = True


def _group_indices(labels: np.ndarray) -> dict[int, np.ndarray]:
    """Positions of each label value, in one sort."""
    order = np.argsort(labels, kind="stable")
    cuts = np.flatnonzero(np.diff(labels[order])) + 1
    return {int(labels[g[0]]): g for g in np.split(order, cuts) if g.size}


_SILENCED = False


def _new_highs() -> object:
    """A silent HiGHS solver.

    HiGHS prints a banner to the process's standard output the first time a solver is made,
    whatever the options say; that would corrupt a command's ``--format json`` output, so the
    first construction runs with file descriptor 1 pointed at the null device.
    """
    import os
    import sys

    import highspy

    global _SILENCED
    if _SILENCED:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(null)
            os.close(saved)
        _SILENCED = True
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")
    return h


class LinearProgramme:
    """``min c.x  s.t.  low <= a x <= high, x >= col_lower`` on one system, for many objectives.

    The system is built once; each new objective starts from the previous basis (HiGHS warm
    start), which makes the many small interval problems of a gate cheap; ``primal`` solves
    them by primal simplex (faster from a warm start; see ``__init__``). With ``high``
    omitted the rows are equations ``a x = low``; ``col_lower`` defaults to 0 (use ``-inf``
    for a free column). The gate's systems are always feasible (the true values solve them),
    so a failure is numerical; callers then assume the worst.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> lp = LinearProgramme(sparse.csr_matrix([[1.0, 1.0]]), np.array([5.0]))  # x + y = 5
    >>> round(lp.minimise(np.array([1.0, 0.0]))[0], 6), round(lp.minimise(np.array([-1.0, 0.0]))[0], 6)
    (0.0, -5.0)
    """

    def __init__(self, a: sparse.spmatrix, low: np.ndarray, high: np.ndarray | None = None,
                 col_lower: np.ndarray | None = None, primal: bool = False) -> None:
        import highspy

        a = sparse.csc_matrix(a, dtype=float)
        self.n = a.shape[1]
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
        lp.col_cost_ = np.zeros(self.n)
        lp.col_lower_ = np.zeros(self.n) if col_lower is None else np.asarray(col_lower, float)
        lp.col_upper_ = np.full(self.n, highspy.kHighsInf)
        lp.row_lower_ = np.asarray(low, dtype=float)
        lp.row_upper_ = lp.row_lower_ if high is None else np.asarray(high, dtype=float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        # Presolve costs more than it saves on these 0/1 margin systems (measured ~5x).
        self.highs = _new_highs()
        if primal:
            # After a change of objective the previous basis is still feasible, so primal
            # simplex goes on from it in a few pivots, where dual simplex starts over
            # (measured 10x faster). The optimal values are the same; the duals (which rows
            # certify a range) are another vertex's, as deterministic as dual simplex's.
            self.highs.setOptionValue("simplex_strategy", 4)
        self.highs.passModel(lp)
        self.optimal = highspy.HighsModelStatus.kOptimal

    def minimise(self, c: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
        """Optimal value, solution and row duals of ``min c.x`` (None when not solved)."""
        self.highs.changeColsCost(self.n, np.arange(self.n, dtype=np.int32),
                                  np.asarray(c, dtype=float))
        self.highs.run()
        if self.highs.getModelStatus() != self.optimal:
            return None
        solution = self.highs.getSolution()
        value = float(np.dot(c, solution.col_value))
        return value, np.asarray(solution.col_value), np.asarray(solution.row_dual)


def find_exposures(
    rows: sparse.csr_matrix,
    published: np.ndarray,
    hidden: np.ndarray,
    *,
    min_cell: int,
    atom_values: np.ndarray | None = None,
    skip: np.ndarray | None = None,
    intervals: bool = True,
    primal: bool = False,
    settle_ties: bool = True,
) -> list[Exposure]:
    """List hidden units recoverable from the published units.

    Parameters
    ----------
    rows : csr_matrix (n_units, n_atoms)
        0/1 membership of atoms in units.
    published, hidden : bool ndarray (n_units,)
        Which units are shown and which are withheld (a unit can be neither, e.g. a
        statistic that was never computed).
    min_cell : int
        Threshold of the protection rule.
    atom_values : ndarray, optional
        True non-negative atom values (counts). When given, peeling uses non-negativity and
        undetermined cells are also checked by interval; without it only linear
        determination is checked (sums of statistics can be negative).
    skip : bool ndarray (n_units,), optional
        Hidden units already known to be protected. They stay hidden (their rows are not
        published) but are not re-checked. Withholding more units only removes equations,
        so a unit protected before stays protected; the greedy gate uses this.
    intervals : bool
        False to look only for exact derivations (linear algebra and peeling), skipping the
        interval programmes: the gate first removes every subtraction, then checks intervals.
    primal : bool
        For the audit, which needs only the ranges: in systems under ``LOCAL_FROM`` atoms,
        skip the neighbourhood check. (The interval programmes are solved by primal simplex
        from the last basis either way; see :class:`LinearProgramme`.)
    settle_ties : bool
        Break ties among equally good rows by row order (``rowspace.tie_weights``), not by
        rounding. The means check (``moments._complete``) turns it off: its rows list this
        release's moments first and earlier ones last, so the latest row is one it cannot
        withhold, and at 500 organisations its loop then ran for minutes instead of seconds.

    Returns
    -------
    list of Exposure
        Empty when every hidden unit is protected.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> rows = sparse.csr_matrix(np.array([[1, 1], [1, 0], [0, 1]]))  # total, A, B
    >>> shown = np.array([True, False, True]); hide = ~shown
    >>> [e.unit for e in find_exposures(rows, shown, hide, min_cell=10)]
    [1]
    """
    rows = sparse.csr_matrix(rows)
    pub_idx = np.flatnonzero(published)
    hid_idx = np.flatnonzero(hidden & ~published & (True if skip is None else ~skip))
    if hid_idx.size == 0:
        return []
    pub = rows[pub_idx]
    if atom_values is not None:
        # Cells whose count can move both ways without changing any shown number, or that stay
        # protected even against an attacker who knows everyone outside their neighbourhood,
        # need no check on the whole system.
        hid_idx = hid_idx[~swap_protected(rows[hid_idx], pub, atom_values, min_cell)]
        # Looking only for exact derivations, the neighbourhood programmes cannot change the
        # answer: a cell protected against the neighbourhood attacker, who knows more than the
        # published rows, is not determined by them. They were 40% of such a round at 500
        # organisations.
        if intervals and (not primal or rows.shape[1] >= LOCAL_FROM):
            hid_idx = hid_idx[~local_protected(rows[hid_idx], pub, atom_values, min_cell)]
        if hid_idx.size == 0:
            return []
    known, fixer = _peel(pub, atom_values)
    unknown_idx = np.flatnonzero(~known)

    # The reduced system: published rows over the atoms peeling left unknown.
    red = pub[:, unknown_idx].tocsr()
    red_keep = np.flatnonzero(np.diff(red.indptr) > 0)
    red = red[red_keep]
    red_units = pub_idx[red_keep]
    rhs = red @ atom_values[unknown_idx] if atom_values is not None else None
    n_rows, n_unk = red.shape
    graph = sparse.bmat([[None, red], [red.T, None]], format="csr") if n_rows else None
    if graph is not None and graph.shape[0]:
        _, labels = connected_components(graph, directed=False)
        row_comp, atom_comp = labels[:n_rows], labels[n_rows:]
    else:
        row_comp, atom_comp = np.zeros(0, dtype=np.int64), np.full(n_unk, -1, dtype=np.int64)
    # Atoms in no published row are free: any non-negative value is consistent with them.
    free = np.ones(n_unk, dtype=bool)
    if n_rows:
        free[np.unique(red.indices)] = False
    hid_rows = rows[hid_idx]
    hid_unknown = hid_rows[:, unknown_idx].tocsr()

    # Step 1, linear determination: peeled atoms are known; the rest must lie in the row
    # space of its component. Record which published units take part in each recovery.
    determined = np.ones(hid_idx.size, dtype=bool)
    cands: list[set[int]] = [set() for _ in hid_idx]
    touched_comps: list[set[int]] = [set() for _ in hid_idx]
    for k in range(hid_idx.size):
        atoms = hid_rows.indices[hid_rows.indptr[k] : hid_rows.indptr[k + 1]]
        fixed = atoms[known[atoms]]
        # The rows that fixed its atoms, and the rows that fixed the other atoms those rows
        # used (siblings subtracted from a total): withholding any of them can help.
        first = {int(f) for f in fixer[fixed] if f >= 0}
        second: set[int] = set()
        for f in first:
            used = pub.indices[pub.indptr[f] : pub.indptr[f + 1]]
            second.update(int(g) for g in fixer[used] if g >= 0)
        cands[k].update(int(pub_idx[f]) for f in first | second)
        unk = hid_unknown.indices[hid_unknown.indptr[k] : hid_unknown.indptr[k + 1]]
        if free[unk].any():
            determined[k] = False
        touched_comps[k].update(int(c) for c in atom_comp[unk[~free[unk]]])
    empty = np.diff(hid_rows.indptr) == 0  # structurally empty cells: nothing to protect

    comp_members: dict[int, list[int]] = {}
    for k in range(hid_idx.size):
        for comp in touched_comps[k]:
            comp_members.setdefault(comp, []).append(k)
    comp_cache: dict[int, dict] = {}
    rows_by_comp = _group_indices(row_comp)
    atoms_by_comp = _group_indices(np.where(free, -1, atom_comp))
    for comp in sorted(comp_members):
        r_sel = rows_by_comp[comp]
        a_sel = atoms_by_comp[comp]
        mat = red[r_sel][:, a_sel].tocsr()
        comp_cache[comp] = {"rows": r_sel, "atoms": a_sel, "mat": mat}
        members = comp_members[comp]
        pieces = hid_unknown[members][:, a_sel].T.tocsc()
        space = RowSpace(mat, settle_ties=settle_ties)
        # Dense work in chunks of columns keeps memory flat on large releases.
        for start in range(0, len(members), 256):
            part = pieces[:, start : start + 256].toarray().astype(float)
            in_space = space.contains(part)
            for j in np.flatnonzero(~in_space):
                determined[members[start + j]] = False
            inside = np.flatnonzero(in_space)
            if inside.size:
                for j, used in zip(inside, space.rows_used(part[:, inside]), strict=True):
                    cands[members[start + j]].update(int(x) for x in red_units[r_sel[used]])

    out: list[Exposure] = []
    check_interval = []
    hid_values = hid_rows @ atom_values if atom_values is not None else None
    for k in range(hid_idx.size):
        if empty[k]:
            continue
        if determined[k]:
            value = float(hid_values[k]) if atom_values is not None else math.nan
            out.append(
                Exposure(int(hid_idx[k]), "determined", value, value, tuple(sorted(cands[k])))
            )
        elif atom_values is not None:
            check_interval.append(k)
    if atom_values is None or not check_interval or not intervals:
        return sorted(out, key=lambda e: e.unit)

    # Step 2, intervals (counts only) for the cells linear algebra could not pin down.
    x_unk = atom_values[unknown_idx].astype(float)
    # Witness points: the truth plus LPs pushing all unresolved hidden cells up, then down.
    # A cell whose range over the witnesses already satisfies the rule needs no LP of its own.
    wit_lo: dict[int, dict[int, float]] = {}
    wit_hi: dict[int, dict[int, float]] = {}
    interval_set = set(check_interval)
    # Per component: the sparse pieces of the cells still to check, and their row positions.
    comp_pieces: dict[int, tuple[list[int], sparse.csr_matrix, dict[int, int]]] = {}
    for comp, info in comp_cache.items():
        a_sel = info["atoms"]
        members = [k for k in comp_members[comp] if k in interval_set]
        if not members:
            continue
        block = hid_unknown[members][:, a_sel].tocsr().astype(float)
        truths = block @ x_unk[a_sel]
        comp_pieces[comp] = (members, block, {k: j for j, k in enumerate(members)})
        for j, k in enumerate(members):
            wit_lo.setdefault(k, {})[comp] = float(truths[j])
            wit_hi.setdefault(k, {})[comp] = float(truths[j])

    def piece(comp: int, k: int) -> np.ndarray:
        _, block, pos = comp_pieces[comp]
        return block[pos[k]].toarray().ravel()

    def witness_range(k: int) -> tuple[float, float, float, bool]:
        atoms = hid_rows.indices[hid_rows.indptr[k] : hid_rows.indptr[k + 1]]
        base = float(atom_values[atoms[known[atoms]]].sum())
        unk = hid_unknown.indices[hid_unknown.indptr[k] : hid_unknown.indptr[k + 1]]
        has_free = bool(free[unk].any())
        lo_w = base + sum(wit_lo.get(k, {}).values())
        hi_w = math.inf if has_free else base + sum(wit_hi.get(k, {}).values())
        return base, lo_w, hi_w, has_free

    solvers: dict[int, LinearProgramme] = {}

    def solver(comp: int) -> LinearProgramme:
        if comp not in solvers:
            info = comp_cache[comp]
            solvers[comp] = LinearProgramme(info["mat"], rhs[info["rows"]].astype(float),
                                            primal=True)
        return solvers[comp]

    unresolved = [k for k in check_interval if not is_protected(*witness_range(k)[1:3], min_cell)]
    # Random positive weights push different cells to their bounds in different rounds
    # (cells tied by a shown total cannot all move at once), so a few rounds settle most cells
    # with a handful of warm-started solves instead of two programmes per cell.
    rng = np.random.default_rng(0)
    stalled = 0
    for _round in range(WITNESS_ROUNDS):
        if not unresolved or stalled >= 2:
            break
        unresolved_set = set(unresolved)
        for comp in comp_cache:
            if comp not in comp_pieces:
                continue
            tracked, block, pos = comp_pieces[comp]
            chosen = [pos[k] for k in tracked if k in unresolved_set]
            if not chosen:
                continue
            scale = rng.uniform(0.5, 1.5, len(chosen)) if _round else np.ones(len(chosen))
            weight = np.asarray(block[chosen].T @ scale).ravel()
            for sign in (-1.0, 1.0):
                solved = solver(comp).minimise(sign * weight)
                if solved is None:
                    continue
                x = solved[1]
                for k, v in zip(tracked, block @ x, strict=True):
                    wit_lo[k][comp] = min(wit_lo[k][comp], float(v))
                    wit_hi[k][comp] = max(wit_hi[k][comp], float(v))
        still = [k for k in unresolved if not is_protected(*witness_range(k)[1:3], min_cell)]
        stalled = stalled + 1 if len(still) == len(unresolved) else 0
        unresolved = still

    for k in unresolved:
        base, _, _, has_free = witness_range(k)
        lo = hi = base
        failed = False
        lp_units: set[int] = set()
        for comp in touched_comps[k]:
            info = comp_cache[comp]
            vec = piece(comp, k)
            low, high = solver(comp).minimise(vec), solver(comp).minimise(-vec)
            if low is None or high is None:
                # No certificate: count the cell as exposed and offer every row of the part.
                lp_units.update(int(x) for x in red_units[info["rows"]])
                failed = True
                continue
            lo += low[0]
            hi += -high[0]
            active = info["rows"][(np.abs(low[2]) > 1e-9) | (np.abs(high[2]) > 1e-9)]
            if active.size == 0:
                active = info["rows"]
            lp_units.update(int(x) for x in red_units[active])
        if has_free:
            hi = math.inf
        if failed:
            lo, hi = math.nan, math.nan
        if failed or not is_protected(lo, hi, min_cell):
            out.append(
                Exposure(int(hid_idx[k]), "interval", lo, hi, tuple(sorted(lp_units | cands[k])))
            )
    return sorted(out, key=lambda e: e.unit)
