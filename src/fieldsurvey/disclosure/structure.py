"""Turn a release into linear algebra: atoms (finest respondent groups) and cell rows.

Every cell of every table covers a set of respondents. We cut the respondents into *atoms*:
the finest combinations of dimension values that any cell can tell apart. A cell's count is
then the sum of its atoms' counts, i.e. one row of a 0/1 matrix. Cells of different tables
that cover exactly the same atoms are one *unit*: they are shown or withheld together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from fieldsurvey.disclosure.policy import DisclosureError
from fieldsurvey.disclosure.release import Release

#: Refuse universes larger than this: declare public_support or drop unused dimensions.
MAX_ATOMS = 2_000_000


@dataclass
class Structure:
    """The release as matrices.

    Attributes
    ----------
    rows : csr_matrix, shape (n_units, n_atoms)
        0/1 membership of compressed atoms in each unit.
    atom_n : ndarray of int
        True respondent count of each compressed atom.
    unit_n : ndarray of int
        True respondent count of each unit.
    unit_label : list of dict
        A readable definition of each unit (the first cell definition seen for it).
    cell_unit : dict of str to ndarray
        For each table, the unit index of each of its rows.
    used_dims : tuple of str
        Dimensions that some cell specifies.
    atom_frame : DataFrame
        Uncompressed atoms: one integer code column per used dimension plus ``n``.
    codes : dict
        Per dimension, the mapping from value to integer code.
    """

    rows: sparse.csr_matrix
    atom_n: np.ndarray
    unit_n: np.ndarray
    unit_label: list[dict[str, object]]
    cell_unit: dict[str, np.ndarray]
    used_dims: tuple[str, ...]
    atom_frame: pd.DataFrame
    codes: dict[str, dict[object, int]]

    @property
    def n_units(self) -> int:
        return self.rows.shape[0]


def lookup_code(codes: dict[object, int], value: object) -> int | None:
    """The integer code of a table value, tolerating 1.0 for 1 and '1' for 1."""
    if value in codes:
        return codes[value]
    # Tables often store integer dimension values as floats once NA ("all") enters a column.
    if isinstance(value, float) and value.is_integer() and int(value) in codes:
        return codes[int(value)]
    if isinstance(value, (int, np.integer)) and float(value) in codes:
        return codes[float(value)]
    text = str(value)
    matches = [c for v, c in codes.items() if str(v) == text]
    return matches[0] if len(matches) == 1 else None


def _cell_definitions(release: Release) -> tuple[dict[str, list[tuple]], set[str]]:
    """Per table, each row's definition as a sorted tuple of (dim, code)."""
    codes = {d: {v: i for i, v in enumerate(release.domains[d])} for d in release.dims}
    defs: dict[str, list[tuple]] = {}
    used: set[str] = set()
    for name, spec in release.tables.items():
        table_defs = []
        for pos in range(len(spec.cells)):
            items = []
            for d in spec.dims:
                value = spec.cells[d].iat[pos]
                if pd.isna(value):
                    continue
                code = lookup_code(codes[d], value)
                if code is None:
                    raise DisclosureError(
                        f"table {name!r} row {pos}: {d}={value!r} is not a category of the "
                        f"respondents (known: {release.domains[d][:10]}); declare it in domains= "
                        "if it is a real but empty category"
                    )
                items.append((d, code))
                used.add(d)
            table_defs.append(tuple(items))
        defs[name] = table_defs
        if spec.compares is not None:
            # The contrasted groups must be atoms so their sizes can be checked.
            used.add(spec.compares)
    return defs, used


def _universe(release: Release, used: tuple[str, ...], codes: dict) -> pd.DataFrame:
    """All atoms an attacker must consider possible, with their true counts."""
    observed = pd.DataFrame(
        {d: release.respondents[d].map(codes[d]).astype(np.int64) for d in used}
    )
    frame = pd.DataFrame(index=[0])
    covered: set[str] = set()
    for group in release.public_support:
        group_used = [g for g in group if g in used]
        if not group_used:
            continue
        support = observed[group_used].drop_duplicates()
        common = [c for c in group_used if c in covered]
        frame = (
            frame.merge(support, on=common, how="inner")
            if common
            else frame.merge(support, how="cross")
        )
        covered.update(group_used)
    size = len(frame)
    for d in used:
        if d in covered:
            continue
        size *= len(codes[d])
        if size > MAX_ATOMS:
            raise DisclosureError(
                f"the release crosses dimensions {list(used)} into more than {MAX_ATOMS} "
                "combinations; declare public_support for nested dimensions"
            )
        frame = frame.merge(
            pd.DataFrame({d: np.arange(len(codes[d]), dtype=np.int64)}), how="cross"
        )
    frame = frame.drop(columns=[c for c in frame.columns if c not in used]).reset_index(drop=True)
    if not used:
        frame = pd.DataFrame(index=[0])
    counts = (
        observed.groupby(list(used), sort=False).size().rename("n").reset_index()
        if used
        else (pd.DataFrame({"n": [len(observed)]}))
    )
    if used:
        frame = frame.merge(counts, on=list(used), how="left")
    else:
        frame["n"] = len(release.respondents)
    frame["n"] = frame["n"].fillna(0).astype(np.int64)
    if int(frame["n"].sum()) != len(release.respondents):
        # Only possible when public_support joins disagree with the data; a bug guard.
        raise DisclosureError("internal error: atoms do not account for every respondent")
    return frame


def _membership(frame: pd.DataFrame, definitions: list[tuple]) -> sparse.csr_matrix:
    """0/1 matrix of which atoms each definition covers, built one level at a time."""
    n_atoms = len(frame)
    rows_idx: list[np.ndarray] = []
    cols_idx: list[np.ndarray] = []
    by_level: dict[tuple[str, ...], list[int]] = {}
    for i, items in enumerate(definitions):
        by_level.setdefault(tuple(d for d, _ in items), []).append(i)
    for level, members in by_level.items():
        if not level:
            for i in members:
                rows_idx.append(np.full(n_atoms, i))
                cols_idx.append(np.arange(n_atoms))
            continue
        groups = (
            pd.Series(np.arange(n_atoms))
            .groupby([frame[d].to_numpy() for d in level], sort=False)
            .indices
        )
        for i in members:
            key = tuple(c for _, c in definitions[i])
            atoms = groups.get(key[0] if len(key) == 1 else key)
            if atoms is None:
                continue
            rows_idx.append(np.full(len(atoms), i))
            cols_idx.append(np.asarray(atoms))
    r = np.concatenate(rows_idx) if rows_idx else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols_idx) if cols_idx else np.zeros(0, dtype=np.int64)
    return sparse.csr_matrix(
        (np.ones(len(r), dtype=np.int8), (r, c)), shape=(len(definitions), n_atoms)
    )


def build_structure(release: Release) -> Structure:
    """Build the unit/atom matrices for a release.

    Examples
    --------
    >>> import pandas as pd
    >>> rel = Release(pd.DataFrame({"org": list("AAB")}), dims=["org"])
    >>> rel = rel.add_table("t", pd.DataFrame({"org": ["A", "B", None]}))
    >>> build_structure(rel).unit_n.tolist()
    [2, 1, 3]
    """
    if not release.tables:
        raise DisclosureError("the release has no tables")
    defs, used_set = _cell_definitions(release)
    used = tuple(d for d in release.dims if d in used_set)
    codes = {d: {v: i for i, v in enumerate(release.domains[d])} for d in release.dims}
    frame = _universe(release, used, codes)

    distinct: dict[tuple, int] = {}
    for table_defs in defs.values():
        for items in table_defs:
            distinct.setdefault(items, len(distinct))
    def_list = list(distinct)
    member = _membership(frame, def_list)

    # Compress atoms that no cell can tell apart: identical membership columns.
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
    atom_n = np.bincount(atom_group, weights=frame["n"].to_numpy(), minlength=len(signature))
    atom_n = atom_n.astype(np.int64)

    # Definitions covering identical atoms are one unit (e.g. an org and its region-qualified twin).
    unit_of_def = np.empty(len(def_list), dtype=np.int64)
    unit_key: dict[bytes, int] = {}
    unit_rows: list[int] = []
    for i in range(len(def_list)):
        key = compressed.indices[compressed.indptr[i] : compressed.indptr[i + 1]].tobytes()
        if key not in unit_key:
            unit_key[key] = len(unit_key)
            unit_rows.append(i)
        unit_of_def[i] = unit_key[key]
    rows = compressed[unit_rows].tocsr()
    rows.sort_indices()
    unit_n = np.asarray(rows @ atom_n).ravel().astype(np.int64)
    inverse = {d: {c: v for v, c in codes[d].items()} for d in release.dims}
    unit_label = [{d: inverse[d][c] for d, c in def_list[i]} for i in unit_rows]
    cell_unit = {
        name: np.array([unit_of_def[distinct[items]] for items in table_defs], dtype=np.int64)
        for name, table_defs in defs.items()
    }
    return Structure(
        rows=rows,
        atom_n=atom_n,
        unit_n=unit_n,
        unit_label=unit_label,
        cell_unit=cell_unit,
        used_dims=used,
        atom_frame=frame,
        codes=codes,
    )
