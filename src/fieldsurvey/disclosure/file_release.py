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
  any released item an earlier output grouped by; and within each wave x organisation, over
  every crossing an earlier release's tables used (organisation x lived experience x band
  becomes the file's lived-experience key x that release's band), so that a three-way cell a
  table withheld cannot come back from the file's three-way tally (an "other" group's count
  minus the shown ones of its other members). These tallies go to the gate as cells
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
           "recorded_crossings", "revealed_dimensions", "with_recorded_crossings"]

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
                 true_org: pd.Series | None = None,
                 crossings: Sequence[Sequence[str]] = ()) -> Results:
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
        inside a group (by wave, and by wave and each other column or crossing) are added as a
        table ``withheld`` (``add_table(withheld=True)``): what the grouping hides stays
        protected against the file's own tallies, against earlier outputs and against later
        ones.
    crossings : sequence of sequences of str
        Sets of two or more of the other dimensions (``file:<column>`` or revealed ones) to
        tally together as well: the crossings earlier releases' tables used
        (:func:`recorded_crossings`; :func:`judge_file` adds them from the ledger).

    Returns
    -------
    Results
        One table, ``file``, released as it is: the count of each combination of the first
        two dimensions (wave and organisation as released), of those crossed with each other
        dimension in turn, and of those crossed with each of ``crossings``, zeros included (a
        file shows by absence that nobody has a value). Crossings no earlier release used are
        left to the file's own k-anonymity (see ``docs/microdata.md``).

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
    if true_org is not None:
        people["org"] = true_org.astype(str).to_numpy()
        all_domains["org"] = list(pd.unique(people["org"]))
    return _tallies(people, keys.reset_index(drop=True), all_domains, dict(linked or {}),
                    crossings)


def _tallies(people: pd.DataFrame, keys: pd.Series, domains: dict[str, list[object]],
             linked: dict[str, str], crossings: Sequence[Sequence[str]]) -> Results:
    """The ``file`` table (and ``withheld`` cells of grouped organisations) over ``people``:
    the file's dimensions, then the stored organisation as ``org`` when known."""
    names = [c for c in people.columns if c != "org"]
    base = names[:2]
    groups = [[other] for other in names[2:]]
    groups += [[d for d in crossing if d not in base] for crossing in crossings]
    cells = [_tally(people, base, [], domains)]
    cells += [_tally(people, base, group, domains) for group in groups]
    table = pd.concat(cells, ignore_index=True).reindex(columns=[*names, "n"])
    hidden = _grouped_cells(people, base, groups, domains) if "org" in people else None
    results = Results(people, list(people.columns), keys=keys, domains=domains, linked=linked)
    results.add_table("file", table, released=True)
    if hidden is not None and not hidden.empty:
        results.add_table("withheld", hidden, withheld=True)
    return results


def _grouped_cells(people: pd.DataFrame, base: list[str], groups: list[list[str]],
                   domains: dict[str, list[object]]) -> pd.DataFrame:
    """The cells of organisations the file does not name on every row of theirs: by wave,
    and by wave and each group of other dimensions (every combination of their values)."""
    grouped = people.loc[people["org"] != people[base[-1]], "org"].unique()
    if len(grouped) == 0:
        return pd.DataFrame()
    wave = base[:1] if len(base) > 1 else []
    at = pd.DataFrame({"org": pd.Series(list(grouped), dtype=object)})
    if wave:
        at = at.merge(pd.DataFrame({wave[0]: pd.Series(list(pd.unique(people[wave[0]])),
                                                        dtype=object)}), how="cross")
    parts = [at] + [at.merge(_combinations(group, domains), how="cross") for group in groups]
    others = list(dict.fromkeys(d for group in groups for d in group))
    return pd.concat(parts, ignore_index=True).reindex(columns=[*wave, "org", *others])


def _combinations(dims: Sequence[str], domains: dict[str, list[object]]) -> pd.DataFrame:
    """Every combination of the categories of ``dims`` (a full cross)."""
    out = pd.DataFrame(index=pd.RangeIndex(1))
    for d in dims:
        out = out.merge(pd.DataFrame({d: pd.Series(list(domains[d]), dtype=object)}),
                        how="cross")
    return out


def _tally(people: pd.DataFrame, base: list[str], others: Sequence[str],
           domains: dict[str, list[object]]) -> pd.DataFrame:
    """Counts of ``base`` (crossed with ``others``), with a zero for every combination of the
    categories of ``others`` that a ``base`` combination does not hold."""
    if not others:
        return people.value_counts(base, dropna=False).rename("n").reset_index()
    columns = [*base, *others]
    counts = people.value_counts(columns, dropna=False).rename("n").reset_index()
    counts = counts.astype({c: object for c in columns})
    combos = people[base].drop_duplicates().astype(object)
    full = combos.merge(_combinations(others, domains), how="cross")
    return full.merge(counts, how="left", on=columns).fillna({"n": 0}).astype({"n": int})


def recorded_crossings(ledger: Ledger, results: Results) -> list[tuple[str, ...]]:
    """The crossings of a file's dimensions that earlier releases' tables used.

    Each set of dimensions a recorded cell is defined on
    (:meth:`~fieldsurvey.disclosure.Ledger.dimension_sets`) becomes the set of the file's
    dimensions that give it: a revealed dimension (the same recorded dimension, given
    exactly by the file's unchanged columns), else the released key column of the same name,
    else every released key column that determines it or that it determines on the
    respondents both hold (``lived_experience`` of a report is a labelling of the file's
    ``wf_lived_exp``; a report's six roles determine the file's three role groups). Wave
    and organisation are the file's tallies anyway. Sets with two or more other dimensions
    are kept, each once, and only the largest (a smaller one is a sum of a larger one's
    tallies).
    """
    names = [c for c in results.respondents.columns if c != "org"]
    base, others = names[:2], names[2:]
    sets = [s for s in ledger.dimension_sets() if len(s) >= 2]
    if not sets or len(others) < 2:
        return []
    recorded = ledger.dimensions()
    matched = _matched_columns(ledger, results, base, others, recorded,
                               {d for s in sets for d in s})
    found: set[tuple[str, ...]] = set()
    for dims in sets:
        mapped = tuple(sorted({c for d in dims for c in matched.get(d, ()) if c not in base}))
        if len(mapped) >= 2:
            found.add(mapped)
    largest = [s for s in found if not any(set(s) < set(t) for t in found)]
    return sorted(largest, key=lambda s: (len(s), s))


def _matched_columns(ledger: Ledger, results: Results, base: list[str], others: list[str],
                     recorded: dict[str, tuple[str, str | None]],
                     wanted: set[str]) -> dict[str, list[str]]:
    """For each recorded dimension in ``wanted``, the file's dimensions that give it."""
    own = set(others)
    keyed = [c for c in [*base, *others] if c.startswith(FILE_DIM_PREFIX)]
    matched: dict[str, list[str]] = {}
    unmatched: dict[str, str] = {}
    for dim_id in wanted:
        name = recorded.get(dim_id, (dim_id, None))[0]
        if f"{FILE_DIM_PREFIX}{name}" in base:
            continue  # wave and organisation: in every tally anyway
        if f"{name}@{dim_id[:12]}" in own:
            matched[dim_id] = [f"{name}@{dim_id[:12]}"]
        elif f"{FILE_DIM_PREFIX}{name}" in keyed:
            matched[dim_id] = [f"{FILE_DIM_PREFIX}{name}"]
        else:
            unmatched[f"{name}@{dim_id[:12]}"] = dim_id
    if not unmatched or results.keys is None:
        return matched
    names = sorted({recorded.get(d, (d, None))[0] for d in unmatched.values()})
    values, _, _ = ledger.recorded_dimensions(list(results.keys), names=names, absent=_NOT_IN)
    people = results.respondents
    for column in values.columns:
        if column in unmatched:
            given = values[column].to_numpy()
            matched[unmatched[column]] = [c for c in keyed
                                          if _dependent(people[c].to_numpy(), given)]
    return matched


def _dependent(released: np.ndarray, recorded: np.ndarray) -> bool:
    """True when one of two labellings of the same respondents determines the other (each
    with two or more values), over those who have both (a released value, not blank; a
    recorded one, in that release)."""
    both = (released != _BLANK) & (recorded != _NOT_IN)
    pairs = pd.DataFrame({"a": released[both].astype(str), "b": recorded[both].astype(str)})
    if pairs["a"].nunique() < 2 or pairs["b"].nunique() < 2:
        return False
    return bool((pairs.groupby("a")["b"].nunique() == 1).all()
                or (pairs.groupby("b")["a"].nunique() == 1).all())


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
    results = with_recorded_crossings(results, ledger)
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


def with_recorded_crossings(results: Results, ledger: Ledger) -> Results:
    """A file's tallies (:func:`file_results`) with those over every crossing earlier
    releases' tables used (:func:`recorded_crossings`) added; the same when there is none.

    A report that withheld organisation X's count of lived-experience staff with high
    burnout withheld a cell of organisation x lived experience x band: the file's tallies by
    wave x organisation and by one other column at a time do not give it, its tally over all
    three does, so that tally is judged too.
    """
    crossings = recorded_crossings(ledger, results)
    table = results.tables["file"].cells
    others = [c for c in table.columns if c != "n"][2:]
    given = {tuple(sorted(c for c, set_ in zip(others, row, strict=True) if set_))
             for row in table[others].notna().drop_duplicates().itertuples(index=False)}
    new = [c for c in crossings if c not in given]
    if not new:
        return results
    kept = sorted(c for c in given if len(c) >= 2)
    return _tallies(results.respondents, results.keys, results.domains, results.linked,
                    [*kept, *new])


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
