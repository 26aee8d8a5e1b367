"""Independent audit of a gated release: can anything withheld be read or derived?"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fieldsurvey._blas import on_one_blas_thread
from fieldsurvey.disclosure.exposure import find_exposures
from fieldsurvey.disclosure.suppression import GatedRelease, revealed_units, values_present
from fieldsurvey.results.tables import COUNT_COL

_COLUMNS = ["table", "row", "cell", "quantity", "problem", "lo", "hi"]


@dataclass(frozen=True)
class AuditResult:
    """What :func:`audit` found.

    Attributes
    ----------
    violations : DataFrame
        One row per problem: ``table``, ``row``, ``cell`` (its definition), ``quantity``,
        ``problem`` and the attacker's range ``lo``/``hi`` where known. Empty when safe.
    n_shown, n_withheld : int
        Distinct respondent sets an attacker holds, and withheld ones that must stay unknown.
    """

    violations: pd.DataFrame
    n_shown: int
    n_withheld: int

    @property
    def passed(self) -> bool:
        """True when nothing withheld can be read or derived."""
        return self.violations.empty


@on_one_blas_thread  # small QR and LP work (see fieldsurvey._blas)
def audit(gated: GatedRelease) -> AuditResult:
    """Check a gated release as its tables stand now (edits after gating included).

    What an attacker holds is every value the tables show (and the values derived statistics
    give away: their source cells), plus everything the ledger says was released before. The
    audit checks, over all of it at once: no withheld row still shows a value; no cell shown
    here rests on fewer than ``min_cell`` respondents; no protected (small) cell is shown; and
    no protected cell can be worked out, exactly or within a narrow interval, from what is
    held (:func:`~fieldsurvey.disclosure.exposure.find_exposures`).

    Examples
    --------
    >>> import pandas as pd
    >>> from fieldsurvey.disclosure import Results, gate
    >>> people = pd.DataFrame({"org": ["A"] * 4 + ["B"] * 30 + ["C"] * 25})
    >>> rel = Results(people, ["org"]).add_table("t", pd.DataFrame({"org": ["A", "B", "C", None]}))
    >>> audit(gate(rel)).passed
    True
    """
    st, tr = gated.structure, gated.translate
    min_cell = gated.policy.min_cell
    problems: list[dict[str, object]] = []

    def report(table: str, row: int, u: int, quantity: str, problem: str,
               lo: float = np.nan, hi: float = np.nan) -> None:
        problems.append({"table": table, "row": row, "cell": st.unit_label[u],
                         "quantity": quantity, "problem": problem, "lo": lo, "hi": hi})

    where: dict[int, tuple[str, int]] = {}
    seen: set[tuple] = set()
    # Each table read once (one array, rows holding values per column), here and for what
    # the tables reveal: selecting columns per table cost more than the checks.
    arrays = {id(df): values_present(df) for df in gated.own_tables().values()}
    for name, df in gated.own_tables().items():
        plan, spec = gated.plans[name], gated.specs[name]
        sup = df["suppressed"].to_numpy(dtype=bool)
        columns = [COUNT_COL, *spec.stats]
        position = {column: i for i, column in enumerate(df.columns)}
        present = np.zeros((len(df), len(columns)), dtype=bool)
        for j, column in enumerate(columns):
            present[arrays[id(df)][1][position[column]], j] = True
        for pos in np.flatnonzero(sup & present.any(axis=1)):
            leaked = [c for c, here in zip(columns, present[pos], strict=True) if here]
            u = st.units_of(tr(plan.count[pos]))[0]
            report(name, int(pos), u, ",".join(leaked), "withheld cell still shows values")
        for pos, cell in enumerate(plan.count):
            if cell in seen:  # tables repeat cells: the first table naming one is enough
                continue
            seen.add(cell)
            for u in st.units_of(tr(cell)):
                where.setdefault(int(u), (name, pos))
    shown_now = revealed_units(gated, arrays)
    public = shown_now | gated.public
    for u in np.flatnonzero(shown_now & gated.protected):
        table, row = where.get(int(u), ("", -1))
        report(table, row, int(u), COUNT_COL, "withheld value is shown")
    # A cell no one could be in (every reader knows it is empty) has nothing to protect.
    possible = np.diff(st.rows.indptr) > 0
    small = shown_now & (st.unit_n < min_cell) & ~gated.public & possible
    for u in np.flatnonzero(small):
        table, row = where.get(int(u), ("", -1))
        report(table, row, int(u), COUNT_COL, f"shown with n={st.unit_n[u]}<{min_cell}")
    hidden = gated.protected & ~public
    if gated.settled is not None:
        # Withheld before, in parts of the system this release adds no row to: the release
        # that last did judged them (and reported any earlier outputs had given away).
        hidden &= ~gated.settled
    for exp in find_exposures(st.rows, public, hidden, min_cell=min_cell,
                              atom_values=st.atom_n.astype(float), primal=True):
        table, row = where.get(exp.unit, ("", -1))
        problem = ("count derivable from shown values" if exp.kind == "determined"
                   else "count range too narrow")
        report(table, row, exp.unit, COUNT_COL, problem, exp.lo, exp.hi)
    violations = pd.DataFrame(problems, columns=_COLUMNS)
    return AuditResult(violations, int(public.sum()), int(hidden.sum()))
