"""Statistic-level protection: statistics resting on fewer answers than their cell.

A statistic *variable* is a statistic column, or in a long table (one row per scale) the pair
of a statistic column and the row's value in the table's ``variable`` column, written
``"mean[burnout]"``. A variable's sums are linear in respondents like counts are, so where one
is withheld (too few valid answers) the others must not give it away by subtraction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fieldsurvey.disclosure.exposure import find_exposures
from fieldsurvey.disclosure.policy import DisclosurePolicy
from fieldsurvey.disclosure.release import LINEAR_KINDS, Release, TableSpec
from fieldsurvey.disclosure.structure import Structure


def row_variables(spec: TableSpec) -> dict[str, list[str]]:
    """For each statistic column of a table, the variable id of each row.

    Examples
    --------
    >>> import pandas as pd
    >>> spec = TableSpec("t", pd.DataFrame({"scale": ["bo", "sts"], "mean": [1.0, 2.0]}),
    ...                  (), {"mean": "mean"}, variable="scale")
    >>> row_variables(spec)
    {'mean': ['mean[bo]', 'mean[sts]']}
    """
    if spec.variable is None:
        return {s: [s] * len(spec.cells) for s in spec.stats}
    keys = spec.cells[spec.variable].astype(str).tolist()
    return {s: [f"{s}[{k}]" for k in keys] for s in spec.stats}


def variable_kinds(release_specs: dict[str, TableSpec]) -> dict[str, str]:
    """Kind of every statistic variable in a release."""
    kinds: dict[str, str] = {}
    for spec in release_specs.values():
        for stat, ids in row_variables(spec).items():
            for var in ids:
                kinds.setdefault(var, spec.stats[stat])
    return kinds


def _groups(release: Release) -> dict[str, frozenset[str]]:
    """Variables sharing one withheld set: a statistic and its own valid-answer count."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for spec in release.tables.values():
        ids = row_variables(spec)
        for var_list in ids.values():
            for var in var_list:
                find(var)
        for stat, ncol in spec.stat_n.items():
            for a, b in zip(ids[stat], ids[ncol], strict=True):
                parent[find(a)] = find(b)
    members: dict[str, set[str]] = {}
    for var in parent:
        members.setdefault(find(var), set()).add(var)
    return {var: frozenset(members[find(var)]) for var in parent}


def protect_statistics(
    release: Release, st: Structure, hidden: np.ndarray, policy: DisclosurePolicy
) -> tuple[dict[str, frozenset[int]], dict[tuple[str, int], str]]:
    """Withhold statistics with too few valid answers, then their complements.

    Returns
    -------
    withheld : dict
        Per variable id, the units (whose count is shown) where it is withheld.
    reasons : dict
        ``(variable id, unit) -> reason`` for the suppression_reason column.
    """
    n_units = st.n_units
    groups = _groups(release)
    kinds = variable_kinds(release.tables)
    withheld = {g: np.zeros(n_units, dtype=bool) for g in set(groups.values())}
    shown = {var: np.zeros(n_units, dtype=bool) for var in groups}
    reasons: dict[tuple[str, int], str] = {}
    for name, spec in release.tables.items():
        units = st.cell_unit[name]
        ids = row_variables(spec)
        for stat, ncol in spec.stat_n.items():
            valid = pd.to_numeric(spec.cells[ncol], errors="coerce").to_numpy(dtype=float)
            small = ~np.isnan(valid) & (valid < policy.min_cell)
            for pos in np.flatnonzero(small):
                u, var = int(units[pos]), ids[stat][pos]
                if not hidden[u]:
                    withheld[groups[var]][u] = True
                    for member in groups[var]:
                        reasons.setdefault((member, u), f"{var}: n<{policy.min_cell}")
        for stat, var_list in ids.items():
            present = spec.cells[stat].notna().to_numpy()
            for pos in np.flatnonzero(present):
                shown[var_list[pos]][units[pos]] = True

    for group, mask in withheld.items():
        if not mask.any():
            continue
        linear = sorted(v for v in group if kinds[v] in LINEAR_KINDS)
        while True:
            layer_hidden = hidden | mask
            extra: set[int] = set()
            for var in linear:
                eligible = shown[var] & ~layer_hidden
                exposures = find_exposures(
                    st.rows, eligible, layer_hidden, min_cell=policy.min_cell
                )
                for exp in exposures:
                    options = [u for u in exp.candidates if eligible[u]] or list(
                        np.flatnonzero(eligible)
                    )
                    if options and not any(u in extra for u in options):
                        extra.add(min(options, key=lambda u: (int(st.unit_n[u]), u)))
            if not extra:
                break
            for u in sorted(extra):
                mask[u] = True
                for member in group:
                    reasons.setdefault((member, u), f"{'/'.join(sorted(group))}: complementary")
    result = {
        var: frozenset(int(u) for u in np.flatnonzero(withheld[groups[var]])) for var in groups
    }
    return result, reasons
