"""Independent audit of a gated release: can anything withheld be read or derived?"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fieldsurvey.disclosure.exposure import find_exposures
from fieldsurvey.disclosure.release import COUNT_COL, LINEAR_KINDS
from fieldsurvey.disclosure.statistics import row_variables, variable_kinds
from fieldsurvey.disclosure.suppression import GatedRelease, small_contrasts

_COLUMNS = ["table", "row", "cell", "quantity", "problem", "lo", "hi"]


@dataclass(frozen=True)
class AuditResult:
    """What :func:`audit` found.

    Attributes
    ----------
    violations : DataFrame
        One row per problem: ``table``, ``row`` (first row showing the cell), ``cell`` (its
        definition), ``quantity`` (``"n"`` or a statistic column), ``problem`` and the
        attacker's range ``lo``/``hi`` where known. Empty when the release is safe.
    n_shown, n_withheld : int
        Distinct respondent sets shown and withheld.
    """

    violations: pd.DataFrame
    n_shown: int
    n_withheld: int

    @property
    def passed(self) -> bool:
        """True when nothing withheld can be read or derived."""
        return self.violations.empty


def _label(definition: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in definition.items()) or "all respondents"


def audit(gated: GatedRelease) -> AuditResult:
    """Check the tables of a gated release as they stand now (edits after gating included).

    Checks, across all tables together: no shown cell has fewer than ``min_cell``
    respondents; a withheld cell shows no count or statistic and is not shown in another
    table; no withheld count is determined by the shown counts (linear algebra plus the
    non-negative integer range rule of :func:`~fieldsurvey.disclosure.exposure.is_protected`);
    no withheld sum behind a linear statistic (``n * mean``) lies in the span of the shown
    sums of that statistic.

    Parameters
    ----------
    gated : GatedRelease
        Output of :func:`~fieldsurvey.disclosure.gate`.

    Returns
    -------
    AuditResult

    Examples
    --------
    >>> import pandas as pd
    >>> from fieldsurvey.disclosure import Release, gate
    >>> people = pd.DataFrame({"org": ["A"] * 4 + ["B"] * 30 + ["C"] * 25})
    >>> rel = Release(people, ["org"]).add_table("t", pd.DataFrame({"org": ["A", "B", "C", None]}))
    >>> audit(gate(rel)).passed
    True
    """
    st = gated.structure
    min_cell = gated.policy.min_cell
    problems: list[dict[str, object]] = []
    shown = np.zeros(st.n_units, dtype=bool)
    withheld = np.zeros(st.n_units, dtype=bool)
    first_row: dict[int, tuple[str, int]] = {}

    def report(u: int, quantity: str, problem: str, lo: float = np.nan, hi: float = np.nan):
        table, row = first_row.get(u, ("", -1))
        problems.append(
            {
                "table": table,
                "row": row,
                "cell": _label(st.unit_label[u]),
                "quantity": quantity,
                "problem": problem,
                "lo": lo,
                "hi": hi,
            }
        )

    for name, df in gated.tables.items():
        spec = gated.specs[name]
        units = st.cell_unit[name]
        sup = df["suppressed"].to_numpy(dtype=bool)
        for pos, u in enumerate(units):
            first_row.setdefault(int(u), (name, pos))
        shown[units[~sup]] = True
        withheld[units[sup]] = True
        values = [COUNT_COL, *spec.stats]
        for pos in np.flatnonzero(sup):
            leaked = [c for c in values if pd.notna(df[c].iat[pos])]
            if leaked:
                first_row[int(units[pos])] = (name, int(pos))
                report(int(units[pos]), ",".join(leaked), "withheld cell still shows values")
        contrast = small_contrasts(spec, st, min_cell) & ~sup
        for pos in np.flatnonzero(contrast):
            if any(pd.notna(df[c].iat[pos]) for c in spec.stats):
                report(int(units[pos]), spec.compares or "", "contrast with a small group shown")
        for pos in np.flatnonzero(~sup):
            if st.unit_n[units[pos]] < min_cell:
                report(
                    int(units[pos]), COUNT_COL, f"shown with n={st.unit_n[units[pos]]}<{min_cell}"
                )
    for u in np.flatnonzero(shown & withheld):
        report(int(u), COUNT_COL, "withheld in one table but shown in another")

    for exp in find_exposures(
        st.rows, shown, withheld, min_cell=min_cell, atom_values=st.atom_n.astype(float)
    ):
        problem = (
            "count derivable from shown counts"
            if exp.kind == "determined"
            else "count range too narrow"
        )
        report(exp.unit, COUNT_COL, problem, exp.lo, exp.hi)

    kinds = variable_kinds(gated.specs)
    stat_shown = {var: np.zeros(st.n_units, dtype=bool) for var in kinds}
    for name, df in gated.tables.items():
        units = st.cell_unit[name]
        sup = df["suppressed"].to_numpy(dtype=bool)
        for stat, var_list in row_variables(gated.specs[name]).items():
            ok = df[stat].notna().to_numpy() & ~sup
            for pos in np.flatnonzero(ok):
                stat_shown[var_list[pos]][units[pos]] = True
    for var in sorted(kinds):
        secret = np.fromiter(gated.stat_withheld.get(var, frozenset()), dtype=np.int64)
        for u in secret[stat_shown[var][secret]]:
            report(int(u), var, "withheld statistic is shown")
        if kinds[var] not in LINEAR_KINDS:
            continue
        # What is shown counts as published even where it should not be (reported above).
        stat_hidden = withheld.copy()
        stat_hidden[secret] = True
        stat_hidden &= ~stat_shown[var]
        for exp in find_exposures(st.rows, stat_shown[var], stat_hidden, min_cell=min_cell):
            report(exp.unit, var, "sum (n x statistic) derivable from shown sums")

    violations = pd.DataFrame(problems, columns=_COLUMNS)
    return AuditResult(violations, int(shown.sum()), int((withheld & ~shown).sum()))
