"""The gate: primary, sensitive-block and complementary suppression over a whole release."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fieldsurvey.disclosure.exposure import Exposure, find_exposures
from fieldsurvey.disclosure.policy import DisclosureError, DisclosurePolicy
from fieldsurvey.disclosure.release import COUNT_COL, Release, TableSpec
from fieldsurvey.disclosure.statistics import protect_statistics, row_variables
from fieldsurvey.disclosure.structure import Structure, build_structure, lookup_code

COMPLEMENTARY = "complementary"
SENSITIVE = "sensitive: small category in block"


@dataclass
class GatedRelease:
    """The output of :func:`gate`: tables safe to show, plus what the audit needs.

    Attributes
    ----------
    tables : dict of str to DataFrame
        Each input table with withheld values set to NA, the gate's count in ``n``, a boolean
        ``suppressed`` column and a ``suppression_reason`` column (NA when nothing in the row
        was withheld). Show these tables, never the inputs.
    policy : DisclosurePolicy
        The policy applied.
    structure : Structure
        Atoms and units of the release (used by :func:`~fieldsurvey.disclosure.audit`).
    specs : dict of str to TableSpec
        The table declarations (statistic kinds).
    stat_withheld : dict of str to frozenset of int
        Per statistic variable (a column, or ``"column[value]"`` in long tables), units
        where it was withheld although the cell's count is shown.
    """

    tables: dict[str, pd.DataFrame]
    policy: DisclosurePolicy
    structure: Structure
    specs: dict[str, TableSpec]
    stat_withheld: dict[str, frozenset[int]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def public_tables(self) -> dict[str, pd.DataFrame]:
        """The tables as they may be shown: without ``suppression_reason``.

        Telling readers which withheld cells are primary (small) and which complementary
        narrows what they can infer, so displays use one marker for every withheld value.
        """
        return {name: df.drop(columns="suppression_reason") for name, df in self.tables.items()}

    def summary(self) -> pd.DataFrame:
        """One row per table: cells, cells withheld, and cells withheld by each reason."""
        out = []
        for name, df in self.tables.items():
            reasons = df.loc[df["suppressed"], "suppression_reason"]
            out.append(
                {
                    "table": name,
                    "cells": len(df),
                    "suppressed": int(df["suppressed"].sum()),
                    "primary": int(reasons.str.startswith("primary").sum()),
                    "sensitive": int(reasons.str.startswith("sensitive").sum()),
                    "complementary": int((reasons == COMPLEMENTARY).sum()),
                }
            )
        return pd.DataFrame(out)


def _sensitive_blocks(release: Release, st: Structure, policy: DisclosurePolicy) -> set[int]:
    """Units to withhold because their block of a sensitive dimension has a small category."""
    hide: set[int] = set()
    frame = st.atom_frame
    for name, spec in release.tables.items():
        sens = [d for d in policy.sensitive if d in spec.dims and d in st.used_dims]
        if not sens:
            continue
        cells = spec.cells
        for s in sens:
            specified = cells[s].notna().to_numpy()
            if not specified.any():
                continue
            # Group the table's rows that split by s into blocks sharing every other coordinate.
            others = [d for d in spec.dims if d != s]
            level_sets: dict[tuple[str, ...], list[int]] = {}
            for pos in np.flatnonzero(specified):
                level = tuple(d for d in others if pd.notna(cells[d].iat[pos]))
                level_sets.setdefault(level, []).append(int(pos))
            for level, positions in level_sets.items():
                keys = list(level) + [s]
                counts = frame.groupby(keys, sort=False)["n"].sum()
                n_cat = len(st.codes[s])
                for pos in positions:
                    block = tuple(lookup_code(st.codes[d], cells[d].iat[pos]) for d in level)
                    sizes = [int(counts.get(block + (c,) if level else c, 0)) for c in range(n_cat)]
                    if min(sizes) < policy.min_cell:
                        hide.add(int(st.cell_unit[name][pos]))
    return hide


def _choose(exposures: list[Exposure], published: np.ndarray, unit_n: np.ndarray) -> set[int]:
    """Greedy pick: for each exposure, the smallest published unit that takes part in it.

    Ties break on unit order (the order cells first appear in the release), so the gate is
    deterministic. An exposure already served by a unit chosen in this round adds nothing.
    """
    chosen: set[int] = set()
    for exp in exposures:
        options = [u for u in exp.candidates if published[u]]
        if any(u in chosen for u in options):
            continue
        if not options:
            options = list(np.flatnonzero(published))
        if not options:
            continue
        chosen.add(min(options, key=lambda u: (int(unit_n[u]), u)))
    return chosen


def _complementary(
    st: Structure,
    hidden: np.ndarray,
    policy: DisclosurePolicy,
    atom_values: np.ndarray | None,
    eligible: np.ndarray,
) -> np.ndarray:
    """Grow ``hidden`` until no hidden unit is recoverable; returns the added units."""
    added = np.zeros_like(hidden)
    # Hiding more only removes equations, so units found protected stay protected.
    settled = np.zeros_like(hidden)
    while True:
        published = eligible & ~hidden
        exposures = find_exposures(
            st.rows,
            published,
            hidden,
            min_cell=policy.min_cell,
            atom_values=atom_values,
            skip=settled,
        )
        settled = hidden.copy()
        if not exposures:
            return added
        settled[[e.unit for e in exposures]] = False
        chosen = _choose(exposures, published, st.unit_n)
        if not chosen:
            raise DisclosureError("internal error: complementary suppression made no progress")
        idx = np.fromiter(chosen, dtype=np.int64)
        hidden[idx] = True
        added[idx] = True


def gate(release: Release, policy: DisclosurePolicy | None = None) -> GatedRelease:
    """Apply disclosure control to every table of a release together.

    Steps: (1) primary suppression of every cell with fewer than ``min_cell`` respondents;
    (2) whole blocks of a sensitive dimension withheld where any category is small;
    (3) complementary suppression, hiding the next-smallest shown cells that take part in a
    recovery until :func:`~fieldsurvey.disclosure.exposure.find_exposures` finds none across
    all tables at once; (4) the same for statistics computed on fewer respondents than their
    cell (``stat_n``). Withheld cells lose their count and every statistic.

    Parameters
    ----------
    release : Release
        The tables meant for users.
    policy : DisclosurePolicy, optional
        Defaults to ``DisclosurePolicy()`` (min_cell 10).

    Returns
    -------
    GatedRelease

    Examples
    --------
    >>> import pandas as pd
    >>> people = pd.DataFrame({"org": ["A"] * 12 + ["B"] * 30,
    ...                        "lived_experience": ["yes"] + ["no"] * 41})
    >>> cells = pd.DataFrame({"org": ["A", "A", "A"], "lived_experience": [None, "yes", "no"]})
    >>> rel = Release(people, ["org", "lived_experience"]).add_table("t", cells)
    >>> gate(rel)["t"][["lived_experience", "n", "suppressed"]]
      lived_experience     n  suppressed
    0              NaN    12       False
    1              yes  <NA>        True
    2               no  <NA>        True
    """
    policy = policy or DisclosurePolicy()
    for spec in release.tables.values():
        for stat, kind in spec.stats.items():
            if kind == "extreme" and not policy.allow_extremes:
                raise DisclosureError(
                    f"table {spec.name!r}: {stat!r} is a minimum/maximum, which describes one "
                    "person; extremes are never shown unless the policy sets allow_extremes=True"
                )
    st = build_structure(release)
    for name, spec in release.tables.items():
        if COUNT_COL in spec.cells.columns:
            given = pd.to_numeric(spec.cells[COUNT_COL], errors="coerce").to_numpy()
            truth = st.unit_n[st.cell_unit[name]]
            bad = np.flatnonzero(~np.isnan(given) & (given != truth))
            if bad.size:
                pos = int(bad[0])
                raise DisclosureError(
                    f"table {name!r} row {pos}: column 'n' says {given[pos]:g} but the cell "
                    f"{st.unit_label[st.cell_unit[name][pos]]} holds {truth[pos]} respondents"
                )

    n_units = st.n_units
    reason = np.full(n_units, None, dtype=object)
    hidden = st.unit_n < policy.min_cell
    reason[hidden] = policy.primary_reason
    for u in sorted(_sensitive_blocks(release, st, policy)):
        if not hidden[u]:
            hidden[u] = True
            reason[u] = SENSITIVE
    eligible = np.ones(n_units, dtype=bool)
    added = _complementary(st, hidden, policy, st.atom_n.astype(float), eligible)
    reason[added] = COMPLEMENTARY

    # Statistic-level protection: a statistic on fewer valid answers than its cell.
    stat_withheld, stat_reason = protect_statistics(release, st, hidden, policy)

    tables = {
        name: _render(
            spec,
            st,
            hidden,
            reason,
            stat_withheld,
            stat_reason,
            small_contrasts(spec, st, policy.min_cell),
            policy.min_cell,
        )
        for name, spec in release.tables.items()
    }
    return GatedRelease(tables, policy, st, dict(release.tables), stat_withheld)


def small_contrasts(spec: TableSpec, st: Structure, min_cell: int) -> np.ndarray:
    """Rows of a comparison table contrasting a non-empty group of fewer than ``min_cell``."""
    small = np.zeros(len(spec.cells), dtype=bool)
    if spec.compares is None:
        return small
    frame = st.atom_frame
    dim = spec.compares
    for pos in range(len(spec.cells)):
        keep = np.ones(len(frame), dtype=bool)
        for d in spec.dims:
            value = spec.cells[d].iat[pos]
            if d != dim and pd.notna(value):
                keep &= frame[d].to_numpy() == lookup_code(st.codes[d], value)
        sizes = np.bincount(
            frame.loc[keep, dim].to_numpy(),
            weights=frame.loc[keep, "n"],
            minlength=len(st.codes[dim]),
        )
        small[pos] = bool(((sizes > 0) & (sizes < min_cell)).any())
    return small


def _render(
    spec: TableSpec,
    st: Structure,
    hidden: np.ndarray,
    reason: np.ndarray,
    stat_withheld: dict[str, frozenset[int]],
    stat_reason: dict[tuple[str, int], str],
    contrast_small: np.ndarray,
    min_cell: int,
) -> pd.DataFrame:
    units = st.cell_unit[spec.name]
    df = spec.cells.copy()
    suppressed = hidden[units]
    df[COUNT_COL] = pd.array(st.unit_n[units], dtype="Int64")
    df.loc[suppressed, COUNT_COL] = pd.NA
    ids = row_variables(spec)
    row_reasons: list[list[str]] = [[] for _ in units]
    contrast_text = f"compared group of {spec.compares}: n<{min_cell}"
    for pos in np.flatnonzero(contrast_small & ~suppressed):
        row_reasons[pos].append(contrast_text)
    for stat, var_list in ids.items():
        mask = suppressed | contrast_small
        for pos, (u, var) in enumerate(zip(units, var_list, strict=True)):
            if not suppressed[pos] and int(u) in stat_withheld.get(var, frozenset()):
                mask[pos] = True
                text = stat_reason.get((var, int(u)))
                if text and text not in row_reasons[pos]:
                    row_reasons[pos].append(text)
        df[stat] = df[stat].where(~mask)
    reasons = [
        reason[u] if sup else ("; ".join(r) if r else pd.NA)
        for u, sup, r in zip(units, suppressed, row_reasons, strict=True)
    ]
    # Replacing statistic columns one by one fragments wide tables; add the flags in one go.
    flags = pd.DataFrame(
        {"suppressed": suppressed, "suppression_reason": pd.array(reasons, dtype="string")},
        index=df.index,
    )
    return pd.concat([df, flags], axis=1)


def gate_table(
    df: pd.DataFrame,
    *,
    dims: Sequence[str],
    count_col: str = "n",
    stat_cols: Sequence[str] | Mapping[str, str] = (),
    policy: DisclosurePolicy | None = None,
    total_label: object = None,
    public_support: Sequence[Sequence[str]] = (),
    labels: Sequence[str] = (),
) -> pd.DataFrame:
    """Gate one table of counts with its margins, without respondent-level data.

    Rows with every dimension filled are the finest cells; rows with a missing value (or
    ``total_label``) in some dimension are margins and must equal the sum of the finest cells
    they cover (give missing answers their own category so they do).

    Parameters
    ----------
    df : DataFrame
        The table: dimension columns, a count column and statistic columns.
    dims : sequence of str
        The dimension columns.
    count_col : str, default "n"
        Column of respondent counts.
    stat_cols : list or mapping
        Statistic columns, as in :meth:`Release.add_table`.
    policy : DisclosurePolicy, optional
    total_label : object, optional
        A label that marks "all" in dimension columns, e.g. ``"All"`` from
        ``pivot_table(margins=True)``.
    public_support : sequence of sequences of str
        As in :class:`Release`.
    labels : sequence of str
        Columns shown as they are, as in :meth:`Release.add_table`.

    Returns
    -------
    DataFrame
        The table with ``n`` (renamed back to ``count_col``), ``suppressed`` and
        ``suppression_reason``; withheld values are NA.

    Examples
    --------
    >>> import pandas as pd
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
        raise DisclosureError(
            f"gate_table: row {pos} repeats a finest cell {keys.iloc[0].to_dict()}"
        )
    people = keys.loc[keys.index.repeat(counts[finest].astype(np.int64))].reset_index(drop=True)
    cells = table.drop(columns=[count_col])
    cells[COUNT_COL] = counts.astype(np.int64)
    if count_col != COUNT_COL and COUNT_COL in table.columns:
        raise DisclosureError(f"gate_table: the table already has a column named {COUNT_COL!r}")
    rel = Release(people, dims, public_support=public_support).add_table(
        "table", cells, stat_cols, labels=labels
    )
    try:
        out = gate(rel, policy)["table"]
    except DisclosureError as exc:
        raise DisclosureError(
            f"gate_table: {exc} (margins must equal the sum of the finest cells they cover)"
        ) from exc
    for d in dims:
        out[d] = df[d].to_numpy()
    return out.rename(columns={COUNT_COL: count_col})
