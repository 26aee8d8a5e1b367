"""Turn cell definitions into linear algebra: atoms (finest respondent groups) and unit rows.

Every cell covers a set of respondents. Respondents are cut into *atoms*: the combinations of
dimension values that occur. A cell's count is the sum of its atoms' counts, one row of a 0/1
matrix. Cells covering exactly the same atoms are one *unit*: shown or withheld together,
whichever table (or earlier output, through the ledger) shows them.

The attacker the gate assumes knows which combinations of values occur (the atoms), but not
how many people each holds. That is a stronger attacker than one who knows nothing, so it can
only add protection - except for empty cells: knowing that a combination does not occur is
exactly what a released zero must not tell. So every released cell that is empty gets a
*phantom atom*: an imagined person with the cell's values (and consistent values elsewhere,
taken from a real respondent and from the cell's linked dimensions), whose count is 0 in truth
but unknown to the attacker. A zero is then protected like any small count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from fieldsurvey.disclosure.policy import DisclosureError
from fieldsurvey.results.cells import Except, describe, split_except

#: Refuse universes larger than this (atoms); far above any survey's respondent count.
MAX_ATOMS = 5_000_000
#: The score range of a validity column's "yes" (:attr:`Universe.ranges`): some score, any.
ANY_SCORE = (-np.inf, np.inf)


@dataclass
class Universe:
    """Every respondent an audit must consider, one row each, with every dimension column.

    ``frame`` holds the values (text) per column; ``domains`` the categories each column may
    take (observed ones plus declared empty ones); ``linked`` maps columns to the group of
    columns computed from the same answer.
    """

    frame: pd.DataFrame
    domains: dict[str, list[object]]
    linked: dict[str, str] = field(default_factory=dict)
    #: The value of a dimension for respondents outside the release that defines it (earlier
    #: releases' people); never a category someone could be imagined into.
    absent: object = None
    #: Dimension -> the dimension every reader can tell it from (size band <- organisation).
    determined_by: dict[str, str] = field(default_factory=dict)
    #: Dimension -> {category: (lowest, highest score)} for dimensions that cut a linked
    #: measure's score into ranges (a scale's bands and histogram bins). Categories left out
    #: (``no score``) hold people without a score. Linked dimensions with ranges are
    #: intervals of one score: a phantom's values must have a score in common.
    ranges: dict[str, dict[object, tuple[float, float]]] = field(default_factory=dict)
    #: Dimension -> the "in"/"out" column of the release that defines it (the ledger's
    #: joint universe): a person has all of one release's dimensions, or none (``absent``).
    presence: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)


@dataclass
class Structure:
    """Cells as matrices.

    Attributes
    ----------
    rows : csr_matrix, shape (n_units, n_atoms)
        0/1 membership of compressed atoms in each unit.
    atom_n : ndarray of int
        True respondent count of each compressed atom (phantoms count 0).
    unit_n : ndarray of int
        True respondent count of each unit.
    unit_label : list of str
        A readable definition of each unit.
    unit_of : dict
        Canonical cell definition -> unit index.
    difference_of : dict
        Canonical ``Except`` cell -> (parent unit, child unit): its count is their difference.
    atom_frame : DataFrame
        Uncompressed atoms: one integer code column per column used, plus ``n``.
    codes : dict
        Per column, value -> integer code.
    """

    rows: sparse.csr_matrix
    atom_n: np.ndarray
    unit_n: np.ndarray
    unit_label: list[str]
    unit_of: dict[tuple, int]
    difference_of: dict[tuple, tuple[int, int]]
    atom_frame: pd.DataFrame
    codes: dict[str, dict[object, int]]

    @property
    def n_units(self) -> int:
        return self.rows.shape[0]

    def count(self, cell: tuple) -> int:
        """True count of a cell (``Except`` cells included)."""
        if cell in self.difference_of:
            parent, child = self.difference_of[cell]
            return int(self.unit_n[parent] - self.unit_n[child])
        return int(self.unit_n[self.unit_of[cell]])

    def units_of(self, cell: tuple) -> tuple[int, ...]:
        """The unit(s) a cell's value is read from: one, or a difference's parent and child."""
        if cell in self.difference_of:
            return self.difference_of[cell]
        return (self.unit_of[cell],)


def lookup_code(codes: Mapping[object, int], value: object) -> int | None:
    """The integer code of a table value, tolerating 1.0 for 1 and '1' for 1."""
    if value in codes:
        return codes[value]
    if isinstance(value, float) and value.is_integer() and int(value) in codes:
        return codes[int(value)]
    if isinstance(value, (int, np.integer)) and float(value) in codes:
        return codes[float(value)]
    text = str(value)
    matches = [c for v, c in codes.items() if str(v) == text]
    return matches[0] if len(matches) == 1 else None


def _coded(definition: tuple, codes: dict[str, dict[object, int]], where: str) -> tuple:
    out = []
    for dim, value in definition:
        if dim not in codes:
            raise DisclosureError(f"{where}: {dim!r} is not a dimension of the release")
        code = lookup_code(codes[dim], value)
        if code is None:
            shown = list(codes[dim])[:10]
            raise DisclosureError(
                f"{where}: {dim}={value!r} is not a category of the respondents (known: "
                f"{shown}); declare it in domains= if it is a real but empty category"
            )
        out.append((dim, code))
    return tuple(out)


def _observed_atoms(universe: Universe, used: list[str], codes: dict) -> pd.DataFrame:
    """Distinct combinations of the used columns' codes among the respondents, with counts
    (``n``), in order of first appearance.

    Each column's codes are folded into one group number per respondent, so no respondents x
    columns table of codes is built: grouping 200,000 respondents by the 61 validity columns
    of ``reliability`` with pandas held 98 MB of int64 codes and as much again in its keys.
    """
    frame = universe.frame
    if not used:
        return pd.DataFrame({"n": [len(frame)]})
    group = np.zeros(len(frame), dtype=np.int64)
    size = 1
    for c in used:
        levels = max(len(codes[c]), 1)
        if size * levels >= 2**62:  # renumber the groups seen so far before they overflow
            _, group = np.unique(group, return_inverse=True)
            size = int(group.max()) + 1 if len(group) else 1
        group = group * levels + frame[c].map(codes[c]).to_numpy(dtype=np.int64)
        size *= levels
    _, first, counts = np.unique(group, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    if len(order) > MAX_ATOMS:
        raise DisclosureError(f"the release has more than {MAX_ATOMS} distinct respondent groups")
    rows = first[order]
    atoms = pd.DataFrame({c: frame[c].iloc[rows].map(codes[c]).to_numpy(dtype=np.int64)
                          for c in used})
    atoms["n"] = counts[order].astype(np.int64)
    return atoms


def _membership(frame: pd.DataFrame, definitions: Sequence[tuple]) -> sparse.csr_matrix:
    """0/1 matrix of which atoms each (coded, equality-only) definition covers.

    Built as CSR arrays directly, row by row: the coordinate form and its conversion held
    three more copies of the entries (60 validity cells x 100,000 atoms for ``reliability``).
    """
    n_atoms = len(frame)
    covered: list[np.ndarray | None] = [None] * len(definitions)
    by_level: dict[tuple[str, ...], list[int]] = {}
    for i, items in enumerate(definitions):
        by_level.setdefault(tuple(d for d, _ in items), []).append(i)
    for level, members in by_level.items():
        if not level:
            for i in members:
                covered[i] = np.arange(n_atoms, dtype=np.int32)
            continue
        groups = (
            pd.Series(np.arange(n_atoms))
            .groupby([frame[d].to_numpy() for d in level], sort=False)
            .indices
        )
        for i in members:
            key = tuple(c for _, c in definitions[i])
            atoms = groups.get(key[0] if len(key) == 1 else key)
            if atoms is not None:
                covered[i] = np.sort(np.asarray(atoms, dtype=np.int32))
    sizes = np.array([0 if a is None else a.size for a in covered], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(sizes)])
    found = [a for a in covered if a is not None]
    indices = np.concatenate(found) if found else np.zeros(0, dtype=np.int32)
    return sparse.csr_matrix((np.ones(indices.size, dtype=np.int8), indices, indptr),
                             shape=(len(definitions), n_atoms))


def _row_sums(matrix: sparse.csr_matrix, values: np.ndarray, chunk: int = 1 << 20
              ) -> np.ndarray:
    """``matrix @ values`` for a CSR matrix, a block of rows at a time (the product would
    first copy every entry of a small-integer matrix as a 64-bit number)."""
    out = np.zeros(matrix.shape[0], dtype=np.asarray(values).dtype)
    start = 0
    while start < matrix.shape[0]:
        stop = int(np.searchsorted(matrix.indptr, matrix.indptr[start] + chunk, side="right"))
        stop = min(max(stop - 1, start + 1), matrix.shape[0])
        out[start:stop] = matrix[start:stop] @ values
        start = stop
    return out


def _functions(atoms: pd.DataFrame, used: list[str], determined_by: dict[str, str]
               ) -> dict[str, tuple[str | None, dict[int, int], set[int]]]:
    """The observed function behind each ``determined_by`` pair among the used columns:
    dependent -> (determining column or None when unused, its mapping, dependent values seen)."""
    observed = atoms[atoms["n"] > 0]
    out: dict[str, tuple[str | None, dict[int, int], set[int]]] = {}
    for dep, det in determined_by.items():
        if dep not in used:
            continue
        seen = set(observed[dep].tolist())
        if det not in used:
            out[dep] = (None, {}, seen)
            continue
        pairs = observed[[det, dep]].drop_duplicates()
        if pairs[det].duplicated().any():
            continue  # not a function in these data: nothing a reader can tell
        out[dep] = (det, dict(zip(pairs[det].tolist(), pairs[dep].tolist(), strict=True)), seen)
    return out


def _obey(out: dict, cell: tuple, atoms: pd.DataFrame,
          functions: dict[str, tuple[str | None, dict[int, int], set[int]]]) -> bool:
    """Make a phantom agree with what every reader can tell; False when no one could be there
    (a size band no organisation is in, an organisation in another size band)."""
    fixed = dict(cell)
    for dep, (det, mapping, seen) in functions.items():
        if det is None:
            if out[dep] not in seen:
                return False
            continue
        if dep in fixed and det not in fixed:
            options = [k for k, v in mapping.items() if v == out[dep]]
            if not options:
                return False
            if out[det] not in options:  # the largest determining group with that value
                sizes = atoms[atoms[det].isin(options)].groupby(det)["n"].sum()
                out[det] = int(sizes.idxmax())
            continue
        expected = mapping.get(out[det])
        if expected is None:
            continue  # a category nobody is in: nothing known about it
        if dep in fixed and expected != out[dep]:
            return False
        out[dep] = expected
    return True


@dataclass
class ScoreGroups:
    """What one score implies for every dimension that cuts it into ranges, in codes.

    A scale's band and its histogram bin (and earlier releases' bands of the same scale) are
    intervals of one score: a person in the bin 10-18 is in the band that holds 10-18, and a
    person without a score is in no range of any of them. A phantom that breaks this is a
    person nobody could be, and a gate that counts on one protects an empty cell the
    attacker knows is empty (and the cells beside it).

    ``groups``: linked group -> its used columns; ``low``/``high``: per ranged column, a
    table by code of each category's range (NaN: no score); ``absent``: per column, the code
    of "outside the release that defines it" (compatible with any score), or -1.
    """

    groups: dict[str, list[str]]
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    absent: dict[str, int]

    @classmethod
    def of(cls, universe: Universe, used: list[str], codes: dict) -> ScoreGroups | None:
        """The groups of ``used`` columns with score ranges; None when there are none."""
        low: dict[str, np.ndarray] = {}
        high: dict[str, np.ndarray] = {}
        for c in used:
            if c not in universe.ranges or c not in universe.linked:
                continue
            low[c] = np.full(len(codes[c]), np.nan)
            high[c] = np.full(len(codes[c]), np.nan)
            for value, (lo, hi) in universe.ranges[c].items():
                code = lookup_code(codes[c], value)
                if code is not None:
                    low[c][code], high[c][code] = float(lo), float(hi)
        # Validity ("yes": any score) alone says nothing about ranges: a group counts when
        # one of its columns cuts the score.
        ranged_groups = {universe.linked[c] for c in low if np.isfinite(low[c]).any()}
        if not ranged_groups:
            return None
        groups: dict[str, list[str]] = {}
        for c in used:
            if universe.linked.get(c) in ranged_groups:
                groups.setdefault(universe.linked[c], []).append(c)
        absent = {c: codes[c].get(universe.absent, -1) for c in used}
        return cls(groups, low, high, absent)

    def fit(self, out: dict[str, int], cell: tuple, near: pd.DataFrame,
            observed: pd.DataFrame) -> bool:
        """Give ``out`` (a phantom) values one score can have in every group; False when the
        cell's own values have no score in common (nobody can be in the cell)."""
        fixed = dict(cell)
        for members in self.groups.values():
            own = {d: fixed[d] for d in members if d in fixed}
            if self._state([(d, out[d]) for d in members]) is not None:
                continue
            values = self._imagine(members, own, out, near, observed)
            if values is None:
                return False
            out.update(values)
        return True

    def _state(self, items: Iterable[tuple[str, int]]) -> tuple[bool | None, float, float] | None:
        """(scored or not, or None when nothing is said; the common score interval), or None
        when the values contradict each other."""
        scored: bool | None = None
        lo, hi = -np.inf, np.inf
        for d, code in items:
            if d not in self.low or code == self.absent[d]:
                continue
            a, b = self.low[d][code], self.high[d][code]
            now = not np.isnan(a)
            if scored is not None and scored != now:
                return None
            scored = now
            if now:
                lo, hi = max(lo, a), min(hi, b)
        # Ranges are closed, as Results documents them: ranges that touch share their end
        # (a score on it could be in both), so only a gap rules a combination out.
        if scored and lo > hi:
            return None
        return scored, lo, hi

    def _imagine(self, members: list[str], own: dict[str, int], out: dict[str, int],
                 near: pd.DataFrame, observed: pd.DataFrame) -> dict[str, int] | None:
        """The group's values for a phantom with the cell's values ``own``: a real person's
        where one fits them, else an imagined score's. None when ``own`` contradict."""
        state = self._state(own.items())
        if state is None:
            return None
        scored, lo, hi = state
        free = [d for d in members if d not in own]
        values = {d: out[d] for d in members}
        donor = self._donor(free, scored, lo, hi, near, observed,
                            [d for d in free if out[d] != self.absent[d]])
        if donor is not None:
            values.update(donor)
        values.update(own)
        if self._state(values.items()) is None:
            self._place(values, free, scored, lo, hi)
        return values

    def _donor(self, free: list[str], scored: bool | None, lo: float, hi: float,
               near: pd.DataFrame, observed: pd.DataFrame, present: list[str]
               ) -> dict[str, int] | None:
        """The free members' values of the largest real atom whose own ranges fit the cell's
        (nearest atoms first), in every release the phantom is in (``present``)."""
        for pool in (near, observed):
            status = np.full(len(pool), -1 if scored is None else int(scored), dtype=np.int8)
            low, high = np.full(len(pool), lo), np.full(len(pool), hi)
            ok = np.ones(len(pool), dtype=bool)
            for d in present:
                ok &= pool[d].to_numpy() != self.absent[d]
            for d in (d for d in free if d in self.low):
                codes = pool[d].to_numpy()
                inside = codes != self.absent[d]
                a, b = self.low[d][codes], self.high[d][codes]
                now = (~np.isnan(a)).astype(np.int8)
                ok &= ~(inside & (status >= 0) & (status != now))
                status = np.where(inside & (status < 0), now, status)
                low = np.where(inside & (now == 1), np.fmax(low, a), low)
                high = np.where(inside & (now == 1), np.fmin(high, b), high)
            ok &= low <= high
            if ok.any():
                row = _largest(pool, ok)
                return {d: int(row[d]) for d in free}
        return None

    def _place(self, values: dict[str, int], free: list[str], scored: bool | None,
               lo: float, hi: float) -> None:
        """Move the free ranged members of ``values`` to categories of one imagined score
        in ``[lo, hi]`` (or to "no score" for a phantom without one)."""
        for d in (d for d in free if d in self.low and values[d] != self.absent[d]):
            a, b = self.low[d], self.high[d]
            if scored is False:
                unscored = [c for c in range(len(a)) if np.isnan(a[c]) and c != self.absent[d]]
                if len(unscored) == 1:
                    values[d] = unscored[0]
                continue
            overlap = np.minimum(b, hi) - np.maximum(a, lo)  # NaN for "no score"
            if not np.nanmax(overlap, initial=-1.0) >= 0:
                continue  # nothing fits: the gate keeps the phantom as it was
            if not overlap[values[d]] >= 0:  # keep a fitting value, else the widest fit
                values[d] = int(np.nanargmax(overlap))
            lo, hi, scored = max(lo, a[values[d]]), min(hi, b[values[d]]), True


def _phantom(atoms: pd.DataFrame, cell: tuple, used: list[str], linked: dict[str, str],
             functions: dict | None = None, scores: ScoreGroups | None = None,
             presence: dict[str, tuple[str, dict[str, int]]] | None = None) -> dict | None:
    """An imagined respondent in an empty cell, with values a real respondent could have.

    The phantom is the typical person nearest the cell: among the respondents who share the
    largest part of the cell's values (the organisation and wave of an empty band, say), each
    other dimension takes its most common value; then the cell's own values are set, and every
    dimension linked to a changed one (a band and the score range of the same scale) takes the
    values of a real respondent who has the cell's values in that group. A typical phantom
    falls in the cells such a person falls in, so an empty cell is judged as a cell that one
    ordinary person could be in. Dimensions that cut one score into ranges then get values
    one score can have together (``scores``, see :class:`ScoreGroups`): a phantom in the
    histogram bin 10-18 of a scale is in its Low band, even when nobody real is in that bin.
    None when what every reader can tell (``functions``, see :func:`_functions`, and the
    score ranges) rules out anyone in the cell: the attacker knows it is empty.
    """
    observed = atoms[atoms["n"] > 0]
    if observed.empty:
        observed = atoms
    near = _nearest(observed, cell)
    weights = near["n"].to_numpy(dtype=float)
    out: dict[str, int] = {}
    for c in used:
        codes = near[c].to_numpy()
        out[c] = int(np.bincount(codes, weights=weights).argmax())
    changed = {dim for dim, code in cell if out[dim] != code}
    out.update(dict(cell))
    for group in {linked[d] for d in changed if d in linked}:
        members = [c for c in used if linked.get(c) == group]
        fixed = [(d, code) for d, code in cell if d in members]
        match = np.ones(len(observed), dtype=bool)
        for dim, code in fixed:
            match &= observed[dim].to_numpy() == code
        if match.any():
            example = observed.iloc[int(np.argmax(match))]
            for c in members:
                out[c] = int(example[c])
            out.update(dict(fixed))
    if presence:
        _present_alike(out, cell, observed, used, presence)
    if scores is not None and not scores.fit(out, cell, near, observed):
        return None  # no score has the cell's values: everyone knows it is empty
    if functions and not _obey(out, cell, observed, functions):
        return None
    out["n"] = 0  # type: ignore[assignment]
    return out


def _present_alike(out: dict[str, int], cell: tuple, observed: pd.DataFrame, used: list[str],
                   presence: dict[str, tuple[str, dict[str, int]]]) -> None:
    """Make a phantom in an earlier release with all of its dimensions, or out with none.

    Values picked column by column can leave an earlier release's band "absent" beside its
    bin; such a person cannot exist, and the shown counts pin them to nobody (a later gate
    then calls exposed what is not). ``presence``: column -> (its release's in/out column,
    {"in", "out", "absent": codes}).
    """
    fixed = dict(cell)
    releases: dict[str, list[str]] = {}
    for c in used:
        if c in presence:
            releases.setdefault(presence[c][0], []).append(c)
    for flag, cols in releases.items():
        code = presence[cols[0]][1]
        gone = {c: presence[c][1]["absent"] for c in cols}
        if flag in fixed:
            inside = fixed[flag] == code["in"]
        elif any(c in fixed for c in cols):
            inside = any(fixed[c] != gone[c] for c in cols if c in fixed)
        elif flag in out:
            inside = out[flag] == code["in"]
        else:
            inside = 2 * sum(out[c] != gone[c] for c in cols) > len(cols)
        if flag in out:
            out[flag] = code["in"] if inside else code["out"]
        wrong = [c for c in cols if c not in fixed and (out[c] == gone[c]) == inside]
        if not wrong:
            continue
        if not inside:
            out.update({c: gone[c] for c in wrong})
            continue
        present = np.ones(len(observed), dtype=bool)
        for c in cols:
            present &= observed[c].to_numpy() != gone[c]
        if present.any():  # the values of the largest real group in that release
            row = _largest(observed, present)
            out.update({c: int(row[c]) for c in wrong})


def _largest(atoms: pd.DataFrame, where: np.ndarray) -> pd.Series:
    """The atom holding the most people among ``where`` (the first of equals)."""
    return atoms.iloc[int(np.argmax(np.where(where, atoms["n"].to_numpy(dtype=float), -1.0)))]


def _nearest(observed: pd.DataFrame, cell: tuple) -> pd.DataFrame:
    """The observed atoms matching the largest subset of the cell's values (most people)."""
    from itertools import combinations

    items = list(cell)
    for size in range(len(items), 0, -1):
        best: pd.DataFrame | None = None
        for subset in combinations(items, size):
            match = np.ones(len(observed), dtype=bool)
            for dim, code in subset:
                match &= observed[dim].to_numpy() == code
            if match.any():
                part = observed[match]
                if best is None or part["n"].sum() > best["n"].sum():
                    best = part
        if best is not None:
            return best
    return observed


def _other_value(codes: Mapping[object, int], excluded: int, absent: object) -> int | None:
    return next((c for v, c in codes.items() if c != excluded and v != absent), None)


def _atoms_with_phantoms(
    universe: Universe,
    used: list[str],
    codes: dict,
    atomic: list[tuple],
    differences: list[tuple[int, int, str, int]],
    known_empty: set[int],
) -> tuple[pd.DataFrame, sparse.csr_matrix]:
    """Observed atoms plus a phantom for every empty cell (and empty difference)."""
    atoms = _observed_atoms(universe, used, codes)
    member = _membership(atoms, atomic)
    counts = _row_sums(member, atoms["n"].to_numpy())
    targets = [atomic[i] for i in np.flatnonzero(counts == 0) if i not in known_empty]
    for parent, child, dim, code in differences:
        if counts[parent] == counts[child]:  # "everyone but X" is empty: imagine someone
            other = _other_value(codes[dim], code, universe.absent)
            if other is not None:
                targets.append(tuple(sorted((*atomic[parent], (dim, other)),
                                            key=lambda item: used.index(item[0]))))
    phantoms: list[dict] = []
    if targets:
        functions = _functions(atoms, used, universe.determined_by)
        scores = ScoreGroups.of(universe, used, codes)
        presence = _presence_codes(universe, used, codes)
        phantoms = [p for cell in targets
                    if (p := _phantom(atoms, cell, used, universe.linked, functions, scores,
                                      presence)) is not None]
    if phantoms:
        # A phantom has its empty cell's values, so it never duplicates an observed atom.
        extra = pd.DataFrame(phantoms).drop_duplicates(subset=used)
        atoms = pd.concat([atoms, extra[[*used, "n"]]], ignore_index=True)
        member = _membership(atoms, atomic)
    return atoms, member


def _presence_codes(universe: Universe, used: list[str], codes: dict
                    ) -> dict[str, tuple[str, dict[str, int]]]:
    """``universe.presence`` in codes, for :func:`_present_alike`."""
    out = {}
    for c in used:
        flag = universe.presence.get(c)
        if flag is None or flag not in codes or universe.absent not in codes[c]:
            continue
        out[c] = (flag, {"in": codes[flag]["in"], "out": codes[flag]["out"],
                         "absent": codes[c][universe.absent]})
    return out


def _compress(member: sparse.csr_matrix, n: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Merge atoms that no cell can tell apart (identical membership columns)."""
    csc = member.tocsc()
    signature: dict[bytes, int] = {}
    atom_group = np.empty(csc.shape[1], dtype=np.int64)
    for j in range(csc.shape[1]):
        key = csc.indices[csc.indptr[j] : csc.indptr[j + 1]].tobytes()
        atom_group[j] = signature.setdefault(key, len(signature))
    collapse = sparse.csr_matrix(
        (np.ones(len(atom_group), dtype=np.int8), (np.arange(len(atom_group)), atom_group)),
        shape=(len(atom_group), len(signature)),
    )
    compressed = (member @ collapse).tocsr()
    compressed.data[:] = 1
    atom_n = np.bincount(atom_group, weights=n, minlength=len(signature)).astype(np.int64)
    return compressed, atom_n


def build_structure(
    universe: Universe, definitions: Iterable[tuple], min_cell: int = 0,
    known_empty: Iterable[tuple] = (),
) -> Structure:
    """Atoms and unit rows for canonical cell definitions over ``universe``'s columns.

    An ``Except`` cell (the field without one organisation) is read as the difference of its
    parent and child units; when that difference is smaller than ``min_cell`` it is a small
    released cell in its own right and gets its own (difference) row, so the gate protects it.
    Cells in ``known_empty`` get no phantom when empty: the attacker is taken to know they are.

    Examples
    --------
    >>> u = Universe(pd.DataFrame({"org": list("AAB")}), {"org": ["A", "B", "C"]})
    >>> st = build_structure(u, [(("org", "A"),), (("org", "B"),), (("org", "C"),), ()])
    >>> st.unit_n.tolist()
    [2, 1, 0, 3]
    """
    definitions = list(dict.fromkeys(definitions))
    codes = {c: {v: i for i, v in enumerate(universe.domains[c])} for c in universe.columns}
    atomic: list[tuple] = []
    splits: dict[tuple, tuple[tuple, tuple]] = {}
    for cell in definitions:
        parts = split_except(cell)
        if parts is None:
            atomic.append(cell)
        else:
            splits[cell] = parts
            atomic.extend(parts)
    atomic = list(dict.fromkeys(atomic))
    index = {cell: i for i, cell in enumerate(atomic)}
    coded = [_coded(cell, codes, describe(cell)) for cell in atomic]
    used = [c for c in universe.columns if any(d == c for cell in coded for d, _ in cell)]
    differences = []
    for parent, child in splits.values():
        dim, value = next(item for item in child if item not in parent)
        differences.append((index[parent], index[child], dim, lookup_code(codes[dim], value)))
    empty_known = {index[c] for c in known_empty if c in index}
    atoms, member = _atoms_with_phantoms(universe, used, codes, coded, differences, empty_known)
    compressed, atom_n = _compress(member, atoms["n"].to_numpy())

    unit_of, difference_of, rows, labels = _unit_rows(compressed, atom_n, atomic, index, splits,
                                                      min_cell)
    return Structure(
        rows=rows,
        atom_n=atom_n,
        unit_n=_row_sums(rows, atom_n).astype(np.int64),
        unit_label=labels,
        unit_of=unit_of,
        difference_of=difference_of,
        atom_frame=atoms,
        codes=codes,
    )


def _unit_rows(
    compressed: sparse.csr_matrix, atom_n: np.ndarray, atomic: list[tuple],
    index: dict[tuple, int], splits: dict[tuple, tuple[tuple, tuple]], min_cell: int,
) -> tuple[dict[tuple, int], dict[tuple, tuple[int, int]], sparse.csr_matrix, list[str]]:
    """One unit per distinct set of atoms; small differences ("all but X") are units too.

    Works on the CSR arrays directly: a ranking of 500 organisations asks for tens of
    thousands of rows and differences, and slicing a sparse row costs ~50 us each.
    """
    compressed.sort_indices()  # equal atom sets give equal keys
    indptr, indices = compressed.indptr, compressed.indices
    unit_of: dict[tuple, int] = {}
    unit_key: dict[bytes, int] = {}
    kept: list[tuple[np.ndarray, np.ndarray | None]] = []  # (atoms, signs; None: all +1)
    labels: list[str] = []

    def register(cell: tuple, atoms: np.ndarray, signs: np.ndarray | None = None) -> None:
        key = atoms.tobytes()
        if key not in unit_key:
            unit_key[key] = len(unit_key)
            kept.append((atoms, signs))
            labels.append(describe(cell))
        unit_of[cell] = unit_key[key]

    def atoms_of(i: int) -> np.ndarray:
        return indices[indptr[i] : indptr[i + 1]]

    for i, cell in enumerate(atomic):
        register(cell, atoms_of(i))
    difference_of: dict[tuple, tuple[int, int]] = {}
    # The difference's size is the parent's minus the child's: no atoms need comparing
    # unless the difference is small enough to become a unit of its own (rare).
    row_n = _row_sums(compressed, atom_n)
    for cell, (parent, child) in splits.items():
        if int(row_n[index[parent]] - row_n[index[child]]) < min_cell:
            p_atoms, c_atoms = atoms_of(index[parent]), atoms_of(index[child])
            plus = np.setdiff1d(p_atoms, c_atoms, assume_unique=True)
            minus = np.setdiff1d(c_atoms, p_atoms, assume_unique=True)  # empty for a subset
            atoms = np.concatenate([plus, minus])
            order = np.argsort(atoms, kind="stable")
            signs = np.concatenate([np.ones(len(plus)), -np.ones(len(minus))])
            # a small difference is protected as a cell of its own
            register(cell, atoms[order].astype(indices.dtype), signs[order].astype(
                compressed.dtype))
        else:
            difference_of[cell] = (unit_of[parent], unit_of[child])
    sizes = np.array([len(a) for a, _ in kept], dtype=np.int64)
    data = np.ones(int(sizes.sum()), dtype=compressed.dtype)
    ends = np.cumsum(sizes)
    for k, (_, signs) in enumerate(kept):
        if signs is not None:
            data[ends[k] - sizes[k] : ends[k]] = signs
    rows = sparse.csr_matrix(
        (data, np.concatenate([a for a, _ in kept]) if kept else np.zeros(0, indices.dtype),
         np.concatenate([[0], ends])),
        shape=(len(kept), compressed.shape[1]),
    )
    return unit_of, difference_of, rows, labels


def is_except(cell: tuple) -> bool:
    """True when the cell uses ``Except`` in a dimension."""
    return any(isinstance(v, Except) for _, v in cell)
