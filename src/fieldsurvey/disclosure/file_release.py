"""A protected respondent-level file judged, like any table, against the study's release ledger.

k-anonymity and l-diversity (:mod:`~fieldsurvey.disclosure.microdata`) protect a file on its
own. Next to the study's tables they are not enough: whoever holds the file can tally it by
any of its columns, and a tally can give back what a report withheld (organisation X's two
high-burnout staff, counted from X's rows and their burnout items), or subtract from a report
to give it (an "other" group of three organisations minus two shown ones). So the file's
tallies are a release too:

* **What a file releases.** Every combination of its released key values (organisation as
  released, role, tenure, pay band, lived experience, ...; a blank is a value of its own),
  within each wave, crossed with every earlier release's dimensions that its other columns
  give exactly: the bands and score ranges of each scale whose items it holds unchanged, and
  any released item an earlier output grouped by. These tallies go to the gate as cells
  released as they are (``Results.add_table(released=True)``): the gate cannot withhold them,
  it reports which protected cells of earlier outputs they expose.
* **Coarsening until nothing is exposed.** An organisation that an exposed cell is about is
  released only inside an "other" group; if exposures remain, the file releases no
  organisation; if they still remain, it leaves out the sensitive variables (lived
  experience). If even that leaves something exposed, nothing is written and the command says
  why.
* **Recorded.** The tallies of the file written are recorded in the ledger, so later tables are
  judged with them (a later report's small cells stay unshown, and nothing it withholds can be
  worked out from it and the file).

An identifiable file (``--identifiable``) is a data manager's copy, not a release: it is not
judged or recorded, and it says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.disclosure.audit import audit
from fieldsurvey.disclosure.exposure import find_exposures
from fieldsurvey.disclosure.ledger import Ledger
from fieldsurvey.disclosure.policy import DisclosureError, policy_for
from fieldsurvey.disclosure.suppression import GatedRelease, gate, results_fingerprint
from fieldsurvey.results import Results
from fieldsurvey.results.cells import Except

__all__ = ["FILE_DIM_PREFIX", "FileJudgement", "file_results", "judge_file",
           "revealed_dimensions"]

#: Dimensions of a file's tallies are named ``file:<column>``.
FILE_DIM_PREFIX = "file:"
_BLANK = "(blank)"
_NOT_IN = "(not in that release)"
#: The output name the ledger records a file under.
OUTPUT = "export-data"


def _as_category(values: pd.Series) -> pd.Series:
    """Released values as text categories; a blank (suppressed or unanswered) is its own."""
    text = values.astype(object).where(values.notna(), None)
    return text.map(lambda v: _BLANK if v is None else str(v)).astype(object)


def file_results(data: pd.DataFrame, keys: pd.Series, key_columns: Sequence[str],
                 revealed: pd.DataFrame | None = None,
                 domains: dict[str, list[object]] | None = None,
                 linked: dict[str, str] | None = None,
                 true_org: pd.Series | None = None) -> Results:
    """The tallies a released file gives anyone who holds it, as a release for the gate.

    Parameters
    ----------
    data : DataFrame
        The file's rows as released (recoded and suppressed key values), one per respondent.
    keys : Series
        Each row's respondent key (``org|wave|response_id``), aligned with ``data``.
    key_columns : sequence of str
        The released key columns, wave first when there is one, then the organisation; each
        becomes a dimension ``file:<column>``.
    revealed : DataFrame, optional
        Earlier releases' dimensions the file's other columns give exactly
        (:meth:`~fieldsurvey.disclosure.Ledger.recorded_dimensions`), aligned with ``data``.
    domains : dict, optional
        Categories of the ``revealed`` columns (those nobody in the file has are tallied as 0).
    linked : dict, optional
        Links of ``revealed`` columns (a scale's bands move together with the scale).
    true_org : Series, optional
        Each row's organisation as stored. The cells of an organisation the file releases only
        inside a group (by wave, and by wave and each other column) are added as a table
        ``withheld`` (``add_table(withheld=True)``): what the grouping hides stays protected
        against the file's own tallies, against earlier outputs and against later ones.

    Returns
    -------
    Results
        One table, ``file``, released as it is: the count of each combination of the first
        two dimensions (wave and organisation as released), and of those crossed with each
        other dimension in turn, zeros included (a file shows by absence that nobody has a
        value). Higher crossings are left to the file's own k-anonymity (see
        ``docs/disclosure.md``).

    Examples
    --------
    >>> data = pd.DataFrame({"wave": [1] * 11, "org": ["A"] * 6 + ["other"] * 5,
    ...                      "lived": [1, 2] * 5 + [None]})
    >>> keys = pd.Series([f"r{i}" for i in range(11)])
    >>> tallies = file_results(data, keys, ["wave", "org", "lived"]).tables["file"].cells
    >>> len(tallies), int(tallies["n"].sum())  # 2 organisations, then each by 3 values
    (8, 22)
    """
    people = pd.DataFrame({f"{FILE_DIM_PREFIX}{c}": _as_category(data[c]).to_numpy()
                           for c in key_columns})
    all_domains = {d: list(pd.unique(people[d])) for d in people.columns}
    if revealed is not None:
        for column in revealed.columns:
            people[column] = revealed[column].to_numpy()
            all_domains[column] = list((domains or {}).get(column) or pd.unique(people[column]))
    names = list(people.columns)
    base = names[:2]
    cells = [_tally(people, base, [])]
    for other in names[2:]:
        cells.append(_tally(people, base, all_domains[other], other))
    table = pd.concat(cells, ignore_index=True).reindex(columns=[*names, "n"])
    hidden = None
    if true_org is not None:
        people["org"] = true_org.astype(str).to_numpy()
        all_domains["org"] = list(pd.unique(people["org"]))
        hidden = _grouped_cells(people, base, names[2:], all_domains)
    results = Results(people, list(people.columns), keys=keys.reset_index(drop=True),
                      domains=all_domains, linked=dict(linked or {}))
    results.add_table("file", table, released=True)
    if hidden is not None and not hidden.empty:
        results.add_table("withheld", hidden, withheld=True)
    return results


def _grouped_cells(people: pd.DataFrame, base: list[str], others: list[str],
                   domains: dict[str, list[object]]) -> pd.DataFrame:
    """The cells of organisations the file does not name on every row of theirs."""
    grouped = people.loc[people["org"] != people[base[-1]], "org"].unique()
    if len(grouped) == 0:
        return pd.DataFrame()
    waves = list(pd.unique(people[base[0]])) if len(base) > 1 else [None]
    rows = []
    for org in grouped:
        for wave in waves:
            at = {"org": org, **({base[0]: wave} if wave is not None else {})}
            rows.append(at)
            rows.extend({**at, other: value} for other in others for value in domains[other])
    return pd.DataFrame(rows).reindex(columns=[*(base[:1] if len(base) > 1 else []), "org",
                                                *others])


def _tally(people: pd.DataFrame, base: list[str], categories: Sequence[object],
           other: str | None = None) -> pd.DataFrame:
    """Counts of ``base`` (crossed with ``other``), with a zero for every category of ``other``
    that a ``base`` combination does not hold."""
    if other is None:
        return people.value_counts(base, dropna=False).rename("n").reset_index()
    columns = [*base, other]
    counts = people.value_counts(columns, dropna=False).rename("n").reset_index()
    counts = counts.astype({c: object for c in columns})
    combos = people[base].drop_duplicates().astype(object)
    values = pd.DataFrame({other: pd.Series(list(categories), dtype=object)})
    full = combos.merge(values, how="cross")
    return full.merge(counts, how="left", on=columns).fillna({"n": 0}).astype({"n": int})


@dataclass
class FileJudgement:
    """What the gate found about a file's tallies.

    Attributes
    ----------
    exposed : list of str
        Protected cells (withheld by earlier outputs, or small) that the file would give away.
    organisations : set of str
        Organisations those cells are about (to release only inside an "other" group).
    field_level : int
        Exposed cells about no single organisation.
    scales : set of str
        Scales whose bands or score ranges those cells are defined by (to leave their items
        out of the file when nothing else helps).
    gated : GatedRelease
        The gate's decision (recorded in the ledger only when ``record``).
    """

    exposed: list[str]
    organisations: set[str]
    field_level: int
    scales: set[str]
    gated: GatedRelease = field(repr=False)


@dataclass
class _Exposures:
    """What judging a file's tallies needs about the gate's units, worked out once: the cells
    defining each unit, and the name and link of each recorded dimension."""

    gated: GatedRelease
    cells: dict[int, list[tuple]]
    names: dict[str, str]
    links: dict[str, str]

    @classmethod
    def of(cls, gated: GatedRelease, ledger: Ledger, results: Results) -> _Exposures:
        cells: dict[int, list[tuple]] = {}
        for cell, u in gated.structure.unit_of.items():
            cells.setdefault(int(u), []).append(cell)
        recorded = ledger.dimensions()
        names = {dim_id: name for dim_id, (name, _) in recorded.items()}
        links = {dim_id: link for dim_id, (_, link) in recorded.items() if link}
        return cls(gated, cells, names, {**links, **results.linked})

    def organisations(self, units: Sequence[int], real_orgs: set[str]) -> tuple[set[str], int]:
        """The organisations the units are about (through any cell defining them), and how
        many units are about none."""
        orgs: set[str] = set()
        field_level = 0
        for u in units:
            found = {str(v.value if isinstance(v, Except) else v)
                     for cell in self.cells.get(int(u), []) for dim, v in cell
                     if self.names.get(dim, dim) in ("org", f"{FILE_DIM_PREFIX}org")}
            found &= real_orgs
            orgs |= found
            field_level += not found
        return orgs, field_level

    def scales(self, units: Sequence[int]) -> set[str]:
        """What the dimensions defining the units are linked to (a band's scale)."""
        return {self.links[d] for u in units for cell in self.cells.get(int(u), [])
                for d, _ in cell if d in self.links}

    def combination_only(self) -> list[int]:
        """Exposed units that the file gives only together with earlier outputs.

        A file's tallies show on their own counts that tables withhold as small (anyone
        holding the items can count the three people of the field with high STS); the file's
        own protection for those is k-anonymity and l-diversity of its keys. Cells earlier
        outputs already gave away without the file are not the file's doing either (the
        ledger judged them when they were released). What the ledger must prevent is
        combination: a withheld value the file gives away only with other outputs (an "other"
        group minus the organisations a report showed).
        """
        gated = self.gated
        exposed = gated.exposed_units
        if not exposed:
            return []
        st, tr = gated.structure, gated.translate
        file_only = np.zeros(st.n_units, dtype=bool)
        for name, spec in gated.specs.items():
            if spec.released:
                for cell in gated.plans[name].count:
                    file_only[list(st.units_of(tr(cell)))] = True
        hidden = np.zeros(st.n_units, dtype=bool)
        hidden[exposed] = True
        hidden &= ~file_only
        # A cell that is itself one of the file's tallies is the file's own disclosure too.
        alone = {int(u) for u in np.flatnonzero(file_only)}
        # What the file gives on its own, and what earlier outputs gave without it.
        for published in (file_only, gated.public & ~file_only):
            alone |= {e.unit for e in find_exposures(st.rows, published, hidden & ~published,
                                                     min_cell=gated.policy.min_cell,
                                                     atom_values=st.atom_n.astype(float))}
        return [u for u in exposed if u not in alone and not self._about_file_columns(u)
                and not self._zero_in_file(u)]

    def _zero_in_file(self, unit: int) -> bool:
        """True for an empty cell inside a combination the file's tallies show empty (nobody
        of the field has no burnout score: then nobody of any organisation has)."""
        if self.gated.structure.unit_n[unit] != 0 or "file" not in self.gated.specs:
            return False
        table = self.gated.specs["file"].cells
        own = set(table.columns) - {"n"}
        for cell in self.cells.get(int(unit), []):
            items = [(d, v) for d, v in cell if d in own]
            if not items:
                continue
            match = np.ones(len(table), dtype=bool)
            for d, v in items:
                match &= (table[d] == v).to_numpy()
            if match.any() and int(table.loc[match, "n"].sum()) == 0:
                return True
        return False

    def _about_file_columns(self, unit: int) -> bool:
        """True when a cell is defined by wave and the file's own columns alone (the field's
        wave-2 count of high burnout, zero included): whoever holds the file counts it
        without any other output."""
        own = set(self.gated.specs["file"].dims) if "file" in self.gated.specs else set()
        revealed = {d.rsplit("@", 1)[-1] for d in own if "@" in d}
        return any(
            all(d in own or self.names.get(d) == "wave" or d[:12] in revealed
                for d, _ in cell if not d.startswith("@"))
            for cell in self.cells.get(int(unit), []))


def judge_file(results: Results, study: Any, ledger: Ledger | None = None, *,
               real_orgs: Sequence[str] = (), record: bool = False,
               command: str = "") -> FileJudgement:
    """Judge a file's tallies against the study's ledger; record them when ``record`` and
    nothing is exposed.

    Examples
    --------
    >>> data = pd.DataFrame({"org": ["A"] * 12})
    >>> results = file_results(data, pd.Series([f"r{i}" for i in range(12)]), ["org"])
    >>> judge_file(results, None).exposed
    []
    """
    ledger = ledger or (Ledger.for_study(study) if study is not None else Ledger.in_memory())
    policy = policy_for(study)
    gated = gate(results, policy, ledger=ledger, output=OUTPUT, command=command, record=False)
    # A file released before (the same tallies) reuses that decision: nothing new is out.
    if gated.reused or not gated.exposed_units:
        units: list[int] = []
        orgs, field_level, scales = set(), 0, set()
    else:
        found = _Exposures.of(gated, ledger, results)
        units = found.combination_only()
        orgs, field_level = found.organisations(units, set(map(str, real_orgs)))
        scales = found.scales(units)
    if record and not units and not gated.reused:
        if not audit(gated).passed:  # never expected: nothing is exposed
            raise DisclosureError("disclosure audit of the file's tallies failed")
        gated.release_id = ledger.record(gated, results, output=OUTPUT, command=command,
                                         fingerprint=results_fingerprint(results, policy))
    exposed = [gated.structure.unit_label[u] for u in units]
    return FileJudgement(exposed, orgs, field_level, scales, gated)


def revealed_dimensions(ledger: Ledger, keys: pd.Series, *, columns: Sequence[str],
                        scales: Sequence[str]
                        ) -> tuple[pd.DataFrame, dict[str, list[object]], dict[str, str]]:
    """Earlier releases' dimensions a file gives exactly: those named like a released column
    it holds unchanged, and those linked to a scale whose items it holds unchanged (with
    their categories and links, for :func:`file_results`)."""
    found, domains, linked = ledger.recorded_dimensions(
        list(keys), names=list(columns), links=list(scales), absent=_NOT_IN)
    text = found.astype(str).astype(object)
    return text, {c: [str(v) for v in domains[c]] for c in text.columns}, linked
