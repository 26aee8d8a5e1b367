"""Results: every table an output means to show, each row naming its respondents.

A :class:`Results` holds the respondent-level disclosure dimensions (one row per respondent) and
the tables of one output. Each table row is a *cell* (:mod:`~fieldsurvey.results.cells`); its
statistics declare their kind, the measure whose valid values they rest on, and - for statistics
derived from other cells (tests, effect sizes, differences, ranks, changes) - the cells they are
computed from. The gate (:func:`~fieldsurvey.disclosure.gate`) decides from these declarations
alone; nothing else in fieldsurvey decides what may be shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.results.cells import VALID_PREFIX, Except, is_all, valid_dim


class ResultsError(ValueError):
    """Results declared in a way the disclosure gate cannot judge (a bug in an analysis)."""


#: Statistic kinds. Linear kinds are sums over respondents in disguise (a mean is a sum divided
#: by n, an SD a sum of squares). "other" (medians, tests, intervals, labels) is withheld with
#: its cell. "extreme" (minimum, maximum) describes one person and is refused by default.
LINEAR_KINDS = frozenset({"mean", "sd", "sum", "proportion", "linear"})
STAT_KINDS = LINEAR_KINDS | {"other", "extreme"}

_EXTREME_NAME = re.compile(r"(^|_)(min|max|minimum|maximum|range|extreme)(_|$)", re.IGNORECASE)

#: The column the gate writes each cell's respondent count to.
COUNT_COL = "n"
#: ``measures=ROW_VARIABLE``: each row's counts are of the measure named in its variable column.
ROW_VARIABLE = "<row variable>"

#: A source of a derived statistic: a cell definition, or (table name, row position) of a
#: table added earlier to the same release.
Source = Mapping[str, object] | tuple[str, int]


@dataclass
class TableSpec:
    """One table of a release as the caller declared it (see :meth:`Results.add_table`)."""

    name: str
    cells: pd.DataFrame
    dims: tuple[str, ...]
    stats: dict[str, str]
    stat_n: dict[str, str] = field(default_factory=dict)
    #: Count column -> measure name or ROW_VARIABLE.
    measures: dict[str, str] = field(default_factory=dict)
    variable: str | None = None
    labels: tuple[str, ...] = ()
    #: Per row, the cells its statistics are derived from (None: the row's own cell only).
    sources: list[list[Source]] | None = None
    #: The measure the sources are taken on: one for every statistic, or per statistic column.
    source_measure: str | dict[str, str] | None = None
    #: Cells released as they are (the tallies a respondent-level file gives anyone who holds
    #: it): never withheld; the gate reports what they expose instead.
    released: bool = False
    #: Cells the release withholds whatever happens (what a file's grouping hides): small ones
    #: are protected like any small cell, none is shown.
    withheld: bool = False

    #: (cells, each row's variable as text), so a row's measure is a list look-up: the gate
    #: asks it for every source of every statistic (a rank rests on every organisation).
    _variable_text: tuple[Any, list[str]] = field(default=(None, []), init=False, repr=False,
                                                  compare=False)

    def source_measure_of(self, stat: str, pos: int) -> str | None:
        """The measure statistic ``stat`` of row ``pos`` takes its source cells on."""
        measure = self.source_measure
        if isinstance(measure, dict):
            measure = measure.get(stat)
        return self.resolve_measure(measure, pos)

    def measure_of(self, stat: str, pos: int) -> str | None:
        """The measure whose valid respondents statistic ``stat`` of row ``pos`` rests on."""
        ncol = self.stat_n.get(stat, stat if stat in self.measures else None)
        if ncol is None:
            return None
        return self.resolve_measure(self.measures[ncol], pos)

    def resolve_measure(self, measure: str | None, pos: int) -> str | None:
        if measure == ROW_VARIABLE:
            cells, text = self._variable_text
            if cells is not self.cells:
                text = [str(v) for v in self.cells[self.variable].tolist()]  # type: ignore[index]
                self._variable_text = (self.cells, text)
            return text[pos]
        return measure

    def definition(self, pos: int) -> dict[str, object]:
        """Row ``pos`` as a cell definition (dimension -> value, NA left out)."""
        return self.definitions()[pos] if len(self.cells) else {}

    def definitions(self) -> list[dict[str, object]]:
        """Every row as a cell definition, in row order (each column read once)."""
        out: list[dict[str, object]] = [{} for _ in range(len(self.cells))]
        for d in self.dims:
            for row, value in zip(out, self.cells[d].tolist(), strict=True):
                if isinstance(value, Except) or not is_all(value):
                    row[d] = value
        return out


@dataclass
class DerivedSpec:
    """A table computed after the gate from what it shows (see :meth:`Results.add_derived`)."""

    name: str
    compute: Callable[[Any], tuple[pd.DataFrame, list[list[Source]]]]
    stats: dict[str, str]
    variable: str | None
    labels: tuple[str, ...]
    source_measure: str | dict[str, str] | None


def _renamed_view(compute: Callable[[Any], Any], names: dict[str, str], prefix: str
                  ) -> Callable[[Any], Any]:
    """A derived table's computation, reading the tables of its own output under ``prefix/``."""

    class _Prefixed:
        def __init__(self, view: Any) -> None:
            self._view = view

        def table(self, name: str) -> pd.DataFrame:
            return self._view.table(f"{prefix}/{name}")

        def is_shown(self, cell: Mapping[str, object], measure: str | None = None) -> bool:
            return bool(self._view.is_shown(cell, measure))

    def wrapped(view: Any) -> Any:
        cells, refs = compute(_Prefixed(view))
        renamed: dict[int, list] = {}  # rows sharing one list of sources keep sharing one
        for row in refs:
            if id(row) not in renamed:
                renamed[id(row)] = [(f"{prefix}/{r[0]}", r[1]) if isinstance(r, tuple) else r
                                    for r in row]
        return cells, [renamed[id(row)] for row in refs]

    del names
    return wrapped


def row_variables(spec: TableSpec) -> dict[str, list[str]]:
    """For each statistic column of a table, the variable id of each row.

    Examples
    --------
    >>> spec = TableSpec("t", pd.DataFrame({"scale": ["bo", "sts"], "mean": [1.0, 2.0]}),
    ...                  (), {"mean": "mean"}, variable="scale")
    >>> row_variables(spec)
    {'mean': ['mean[bo]', 'mean[sts]']}
    """
    if spec.variable is None:
        return {s: [s] * len(spec.cells) for s in spec.stats}
    keys = spec.cells[spec.variable].astype(str).tolist()
    return {s: [f"{s}[{k}]" for k in keys] for s in spec.stats}


def margin_cells(respondents: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Cell definitions of a cross-tabulation with every margin (sub-totals and grand total).

    Each row is one cell; NA means "all values", as :meth:`Results.add_table` reads it.

    Examples
    --------
    >>> people = pd.DataFrame({"org": ["A", "A", "B"], "role": ["f", "m", "f"]})
    >>> cells = margin_cells(people, ["org", "role"])
    >>> len(cells), cells.iloc[1].isna().tolist(), cells.iloc[5].tolist()
    (8, [False, True], ['A', 'f'])
    """
    by = list(by)
    parts = []
    for keep in range(1 << len(by)):
        cols = [b for i, b in enumerate(by) if keep >> i & 1]
        if cols:
            parts.append(respondents[cols].drop_duplicates().sort_values(cols))
        else:
            parts.append(pd.DataFrame(index=[0]))
    return pd.concat(parts, ignore_index=True).reindex(columns=by)


def _normalise_stats(table: str, stats: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(stats, str):
        stats = [stats]
    if isinstance(stats, Mapping):
        kinds = {str(k): str(v) for k, v in stats.items()}
    else:
        kinds = {}
        for name in stats:
            if _EXTREME_NAME.search(str(name)):
                raise ResultsError(
                    f"table {table!r}: statistic column {name!r} looks like a minimum/maximum; "
                    "declare its kind explicitly, e.g. stats={'" + str(name) + "': 'extreme'}"
                )
            kinds[str(name)] = "linear"
    for name, kind in kinds.items():
        if kind not in STAT_KINDS:
            raise ResultsError(
                f"table {table!r}: statistic {name!r} has unknown kind {kind!r}; "
                f"use one of {sorted(STAT_KINDS)}"
            )
    return kinds


_YES_NO = pd.Index(["no", "yes"], dtype=object)


def _yes_no(flags: np.ndarray) -> pd.Categorical:
    """"yes" where ``flags`` is True, else "no", as a categorical of the values that occur."""
    if flags.all() or not flags.any():  # one value: no unused category (no sort to find it)
        return pd.Categorical.from_codes(np.zeros(len(flags), dtype=np.int8),
                                         categories=_YES_NO[[int(flags.all())]])
    return pd.Categorical.from_codes(flags.astype(np.int8), categories=_YES_NO)


def _respondent_frame(
    respondents: pd.DataFrame, dims: list[str], measures: pd.DataFrame | None
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The dimension columns as text, plus one ``valid:<measure>`` yes/no column per measure
    (categorical)."""
    for d in dims:
        isna = respondents[d].isna().to_numpy()
        if isna.any():
            row = respondents.index[isna.argmax()]
            raise ResultsError(
                f"respondents column {d!r} is missing at row {row!r}; give missing answers an "
                "explicit category (e.g. 'not stated') so they are counted and protected"
            )
    frame = respondents[dims].reset_index(drop=True).astype(object)
    names: list[str] = []
    if measures is not None:
        if len(measures) != len(respondents):
            raise ResultsError(
                f"measures has {len(measures)} rows but there are {len(respondents)} respondents"
            )
        extra = {}
        for m in measures.columns:
            column = measures[m]
            # Booleans say who has a valid value; values say it by not being missing.
            if column.dtype == np.bool_:  # plain flags: no missing value to fill
                valid = column
            elif pd.api.types.is_bool_dtype(column.dtype):
                valid = column.fillna(False).astype(bool)
            else:
                valid = column.notna()
            names.append(str(m))
            # Categorical: the gate codes, hashes and counts every respondent of every measure
            # (61 measures x 200,000 for ``reliability``); on text each is a Python string
            # hashed per row (70 ms a column to code), on a categorical a lookup of two
            # categories (2 ms). Values read back are the same "yes"/"no" strings.
            extra[valid_dim(str(m))] = _yes_no(valid.to_numpy(dtype=bool))
        frame = pd.concat([frame, pd.DataFrame(extra, index=frame.index, copy=False)], axis=1)
    return frame, tuple(names)


class Results:
    """Everything one output (a report, a CLI run, an export) intends to show, before the gate.

    Parameters
    ----------
    respondents : DataFrame
        One row per respondent (per respondent-wave when waves are a dimension).
    dims : sequence of str
        Columns of ``respondents`` that define cells, e.g. ``["org", "role", "wave"]``. A
        missing value is an error: give "not stated" its own category, so it is counted.
    measures : DataFrame, optional
        One column per measure (a scale score, an item), one row per respondent: the values
        (NaN = no valid value) or booleans (valid or not). A statistic that rests only on
        respondents with a valid value names its measure, and the gate protects its "n with a
        score" as a count of the same margin as everything else.
    keys : Series, optional
        A stable key per respondent (for the release ledger: the same person in two outputs).
    linked : mapping of dimension to group name, optional
        Dimensions computed from the same answer (a scale's band and its score range, an
        organisation and its size band) share a group; the gate keeps them consistent when
        it imagines someone in an empty cell. Each measure's validity is linked to the group
        named like the measure.
    determined_by : mapping of dimension to dimension, optional
        Dimensions any reader can tell from another one (an organisation's size band from the
        organisation: members know roughly how big the others are). The gate then imagines
        nobody in a combination that contradicts it, and nobody in a category no value of
        the other dimension leads to.
    domains : mapping of str to iterable, optional
        Categories a dimension can take beyond those observed (a role nobody chose), so that
        cells naming them are accepted (and, being empty, protected like small cells).
    unprotected : mapping of str to iterable, optional
        Categories that are a remainder, not a characteristic (``"no score"`` of a scale's band:
        who skipped the scale). A table that splits by the dimension does not make them
        protected cells; a cell that shows one is still withheld when small.
    score_ranges : mapping of dimension to {category: (low, high)}, optional
        For dimensions that cut a measure's score into ranges (a scale's bands, a histogram's
        bins; the dimension must be ``linked`` to the measure): the lowest and highest score
        each category can hold. A shown mean and SD bound how many people can be in each
        range, and the gate checks that bound against the withheld counts
        (:mod:`fieldsurvey.disclosure.moments`). Ranges are closed; every category needs one
        except remainders declared ``unprotected`` (read as people without a score).

    Every table is *completed*: a row that splits a cell by a dimension makes every other
    category of that dimension a cell too (the groups a comparison leaves out, the
    organisations a table does not list), protected when small though never shown.

    Examples
    --------
    >>> people = pd.DataFrame({"org": ["A"] * 12 + ["B"] * 30,
    ...                        "lived_experience": ["yes"] + ["no"] * 41})
    >>> rel = Results(people, dims=["org", "lived_experience"])
    >>> cells = pd.DataFrame({"org": ["A", "A", "A"], "lived_experience": [None, "yes", "no"]})
    >>> list(rel.add_table("org_le", cells).tables)
    ['org_le']
    """

    def __init__(
        self,
        respondents: pd.DataFrame,
        dims: Sequence[str],
        *,
        measures: pd.DataFrame | None = None,
        keys: pd.Series | Sequence[str] | None = None,
        linked: Mapping[str, str] | None = None,
        determined_by: Mapping[str, str] | None = None,
        domains: Mapping[str, Iterable[object]] | None = None,
        unprotected: Mapping[str, Iterable[object]] | None = None,
        score_ranges: Mapping[str, Mapping[object, tuple[float, float]]] | None = None,
    ) -> None:
        if not isinstance(respondents, pd.DataFrame):
            raise ResultsError("respondents must be a pandas DataFrame, one row per respondent")
        dims = [str(d) for d in dims]
        if not dims:
            raise ResultsError("a release needs at least one dimension")
        if len(set(dims)) != len(dims):
            raise ResultsError(f"dimensions repeat: {dims}")
        missing = [d for d in dims if d not in respondents.columns]
        if missing:
            raise ResultsError(
                f"respondents have no column(s) {missing}; columns are {list(respondents.columns)}"
            )
        self.respondents, self.measures = _respondent_frame(respondents, dims, measures)
        self.dims = tuple(dims)
        self.all_dims = tuple(self.respondents.columns)
        self.keys = None if keys is None else pd.Series(keys).astype(str).reset_index(drop=True)
        if self.keys is not None and len(self.keys) != len(self.respondents):
            raise ResultsError("keys must give one key per respondent")
        if self.keys is not None and self.keys.duplicated().any():
            pos = int(np.flatnonzero(self.keys.duplicated().to_numpy())[0])
            raise ResultsError(f"respondent key at row {pos} repeats an earlier one")
        self.linked = {str(k): str(v) for k, v in (linked or {}).items()}
        for m in self.measures:
            self.linked.setdefault(valid_dim(m), m)
        self.determined_by = {str(k): str(v) for k, v in (determined_by or {}).items()}
        unknown_linked = (set(self.linked) | set(self.determined_by)
                          | set(self.determined_by.values())) - set(self.all_dims)
        if unknown_linked:
            raise ResultsError(
                f"linked or determined_by name unknown dimension(s) {sorted(unknown_linked)}")
        self.domains: dict[str, list[object]] = {}
        for d in self.all_dims:
            values = list(pd.unique(self.respondents[d]))
            if d.startswith(VALID_PREFIX):  # someone could have a score, or none, in any data
                values += [v for v in ("yes", "no") if v not in values]
            for extra in (domains or {}).get(d, ()):
                if extra not in values:
                    values.append(extra)
            self.domains[d] = values
        unknown_domains = set(domains or {}) - set(self.dims)
        if unknown_domains:
            raise ResultsError(
                f"domains given for unknown dimension(s) {sorted(unknown_domains)}"
            )
        self.unprotected = {str(d): set(v) for d, v in (unprotected or {}).items()}
        unknown_unprotected = set(self.unprotected) - set(self.dims)
        if unknown_unprotected:
            raise ResultsError(
                f"unprotected names unknown dimension(s) {sorted(unknown_unprotected)}"
            )
        self.score_ranges = {str(d): {c: (float(lo), float(hi)) for c, (lo, hi) in r.items()}
                             for d, r in (score_ranges or {}).items()}
        unranged = [d for d in self.score_ranges if d not in self.all_dims or d not in self.linked]
        if unranged:
            raise ResultsError(f"score_ranges name dimension(s) {sorted(unranged)} that are not "
                               "dimensions linked to a measure")
        for d, ranges in self.score_ranges.items():
            # A category without a range is read as "no score": only remainders may lack one.
            missing = [c for c in self.domains[d]
                       if c not in ranges and c not in self.unprotected.get(d, ())]
            if missing:
                raise ResultsError(f"score_ranges of {d!r}: categories {missing} have no range "
                                   "(declare them unprotected if they hold people without a "
                                   "score)")
            bad = [c for c, (lo, hi) in ranges.items() if not lo <= hi]
            if bad:
                raise ResultsError(f"score_ranges of {d!r}: ranges of {bad} are empty or not "
                                   "numbers")
        self.tables: dict[str, TableSpec] = {}
        self.derived: dict[str, DerivedSpec] = {}
        #: Names of included tables kept once (see :meth:`include`): alias -> table judged.
        self.aliases: dict[str, str] = {}
        self._included: dict[str, list[str]] = {}  # table name -> its included copies' names

    def add_table(
        self,
        name: str,
        cells: pd.DataFrame,
        stats: Sequence[str] | Mapping[str, str] = (),
        *,
        stat_n: Mapping[str, str] | None = None,
        measures: str | Mapping[str, str] | None = None,
        labels: Sequence[str] = (),
        variable: str | None = None,
        sources: Sequence[Sequence[Source]] | None = None,
        source_measure: str | Mapping[str, str] | None = None,
        released: bool = False,
        withheld: bool = False,
    ) -> Results:
        """Add one table of cells; returns the release so calls can be chained.

        Parameters
        ----------
        name : str
            Unique table name (the key of the gated output).
        cells : DataFrame
            One row per cell. Columns named like release dimensions define the cell (NA means
            "all", :class:`~fieldsurvey.results.cells.Except` "all but"). A column ``n``,
            if present, must equal the gate's own count of the cell.
        stats : list of str or mapping of column to kind
            Statistic columns, withheld with their cell. A list marks every column linear
            (audited like sums); a mapping declares kinds from ``mean, sd, sum, proportion,
            linear, other, extreme``.
        stat_n : mapping of statistic column to count column, optional
            For statistics resting on the respondents with a valid value of a measure: the
            column holding that count (it must equal the gate's count).
        measures : str or mapping of count column to measure, optional
            The measure each ``stat_n`` count column counts; ``ROW_VARIABLE`` (or a plain
            string for every count column) when it is the measure named in ``variable``.
        labels : list of str
            Columns shown as they are. Every column must be a dimension, ``n``, a statistic or
            a label: nothing reaches users without a decision.
        variable : str, optional
            In a long table (one row per scale), the column naming each row's variable, so the
            mean of burnout and the mean of STS are audited as different variables.
        sources : list (one per row) of lists of cells, optional
            For statistics derived from other cells (a test between groups, a difference with
            the rest of the field, a change between waves, a weighted mean over weighting
            cells): the cells each row is computed from, as definitions or ``(table, row)``.
            A row's statistics are shown only when every source cell is shown.
        source_measure : str or mapping of statistic column to measure, optional
            Measure (or ``ROW_VARIABLE``) whose valid respondents the sources are taken on;
            a mapping gives it per statistic column (a wide table with one column per scale).
        released : bool
            The cells are released as they are, whatever their size: the tallies of a
            respondent-level file, which anyone holding the file can make. The gate never
            withholds them; it finds what they expose of values withheld before
            (:attr:`~fieldsurvey.disclosure.GatedRelease.exposed`), so that the file can be
            coarsened first.
        withheld : bool
            The cells are never shown, and the small ones are protected (recorded as withheld
            in the ledger): what a release hides, such as an organisation a file releases
            only inside an "other" group.

        Examples
        --------
        >>> rel = Results(pd.DataFrame({"org": ["A"] * 10}), dims=["org"])
        >>> rel = rel.add_table("t", pd.DataFrame({"org": ["A"], "burnout": [22.5]}), ["burnout"])
        >>> rel.tables["t"].stats
        {'burnout': 'linear'}
        """
        name = str(name)
        if name in self.tables or name in self.derived:
            raise ResultsError(f"table {name!r} was already added to this release")
        if not isinstance(cells, pd.DataFrame):
            raise ResultsError(f"table {name!r}: cells must be a pandas DataFrame")
        kinds = _normalise_stats(name, stats)
        stat_n = {str(k): str(v) for k, v in (stat_n or {}).items()}
        for col in list(kinds) + list(stat_n.values()):
            if col not in cells.columns:
                raise ResultsError(
                    f"table {name!r}: statistic column {col!r} is not in the table"
                )
        for stat in stat_n:
            if stat not in kinds:
                raise ResultsError(f"table {name!r}: stat_n names {stat!r}, not a statistic")
        counted = dict.fromkeys(stat_n.values())
        if isinstance(measures, Mapping):
            counted.update(dict.fromkeys(str(c) for c in measures if str(c) in kinds))
        for ncol in counted:
            kinds.setdefault(ncol, "sum")  # a valid-answer count is itself a count
        measure_map = self._measure_map(name, counted, measures, variable)
        for col in kinds:
            if col in self.dims or col == COUNT_COL:
                raise ResultsError(
                    f"table {name!r}: column {col!r} cannot be both a statistic and a dimension/count"
                )
        labels = tuple(str(c) for c in ([labels] if isinstance(labels, str) else labels))
        self._check_variable(name, cells, variable)
        extra = [variable] if variable is not None else []
        declared = set(self.dims) | {COUNT_COL} | set(kinds) | set(labels) | set(extra)
        undeclared = [str(c) for c in cells.columns if str(c) not in declared]
        if undeclared:
            raise ResultsError(
                f"table {name!r}: column(s) {undeclared} are neither dimensions nor declared "
                "statistics or labels; pass them in stats= (withheld with their cell) or "
                "labels= (shown as they are)"
            )
        if sources is not None and len(sources) != len(cells):
            raise ResultsError(
                f"table {name!r}: sources must list one entry per row ({len(cells)} rows)"
            )
        self.tables[name] = TableSpec(
            name=name,
            cells=cells.reset_index(drop=True).copy(),
            dims=tuple(d for d in self.dims if d in cells.columns),
            stats=kinds,
            stat_n=stat_n,
            measures=measure_map,
            variable=variable,
            labels=labels,
            sources=[list(s) for s in sources] if sources is not None else None,
            source_measure=self._known_measure(name, source_measure, variable),
            released=bool(released),
            withheld=bool(withheld),
        )
        return self

    def add_derived(
        self,
        name: str,
        compute: Callable[[Any], tuple[pd.DataFrame, list[list[Source]]]],
        stats: Mapping[str, str],
        *,
        labels: Sequence[str] = (),
        variable: str | None = None,
        source_measure: str | Mapping[str, str] | None = None,
    ) -> Results:
        """Add a table computed from what the gate shows (ranks, shrunken means, pooled models).

        ``compute(view)`` is called after the other tables are gated with a
        :class:`~fieldsurvey.disclosure.suppression.ShownView`; it returns the table's cells
        and, per row, the cells it was computed from. Compute only on shown cells (for
        example rank organisations among those shown): a row is shown only when each of its
        own cell and its sources is shown.
        """
        if name in self.tables or name in self.derived:
            raise ResultsError(f"table {name!r} was already added to this release")
        self.derived[name] = DerivedSpec(
            name,
            compute,
            _normalise_stats(name, stats),
            variable,
            tuple(labels),
            self._known_measure(name, source_measure, variable),
        )
        return self

    def without_tables(self) -> Results:
        """The same respondents, dimensions and measures, with no tables yet."""
        import copy

        out = copy.copy(self)
        out.tables, out.derived, out.aliases, out._included = {}, {}, {}, {}
        return out

    def include(self, other: Results, prefix: str) -> Results:
        """Add another output's tables (on the same respondents) under ``prefix/`` names.

        Outputs released together (every report of a study) are judged as one release, so
        the gate chooses what to withhold across all of them at once. A table identical to one
        already included under another prefix with the same name (every organisation's report
        carries the same all-organisations support table) is kept once: its name goes to
        :attr:`aliases`, and the gate judges the table once and shows it under both names
        (the rows such tables add otherwise grow with the square of the number of reports).

        Examples
        --------
        >>> people = pd.DataFrame({"org": ["A"] * 12 + ["B"] * 12})
        >>> part = Results(people, ["org"]).add_table("orgs", pd.DataFrame({"org": ["A", "B"]}))
        >>> both = part.without_tables().include(part, "r1").include(part, "r2")
        >>> list(both.tables), both.aliases
        (['r1/orgs'], {'r2/orgs': 'r1/orgs'})
        """
        if len(other.respondents) != len(self.respondents):
            raise ResultsError("included results rest on other respondents")
        missing = [d for d in other.all_dims if d not in self.all_dims]
        if missing:
            raise ResultsError(f"included results use dimension(s) {missing} not in these")
        if other.aliases:
            raise ResultsError("results that include others cannot be included again")
        renames = {name: f"{prefix}/{name}" for name in [*other.tables, *other.derived]}
        for name, spec in other.tables.items():
            sources = None
            if spec.sources is not None:
                sources = [[(renames[r[0]], r[1]) if isinstance(r, tuple) else r for r in refs]
                           for refs in spec.sources]
            same = self._same_table(name, spec, sources)
            if same is not None:
                self.aliases[renames[name]] = same
                continue
            self.tables[renames[name]] = TableSpec(**{**spec.__dict__, "name": renames[name],
                                                      "sources": sources})
            self._included.setdefault(name, []).append(renames[name])
        for name, spec in other.derived.items():
            compute = _renamed_view(spec.compute, {v: k for k, v in renames.items()}, prefix)
            self.derived[renames[name]] = DerivedSpec(**{**spec.__dict__,
                                                         "name": renames[name],
                                                         "compute": compute})
        return self

    def _same_table(self, name: str, spec: TableSpec, sources: list[list[Source]] | None
                    ) -> str | None:
        """An included table named ``<other prefix>/name`` identical to ``spec``, if any."""
        if sources is not None and any(isinstance(r, tuple) for refs in sources for r in refs):
            return None  # rows of its own output's tables: never the same as another's
        for full in self._included.get(name, []):
            kept = self.tables[full]
            if (kept.sources == sources and kept.stats == spec.stats
                    and kept.stat_n == spec.stat_n and kept.measures == spec.measures
                    and kept.variable == spec.variable and kept.labels == spec.labels
                    and kept.source_measure == spec.source_measure and kept.dims == spec.dims
                    and kept.released == spec.released and kept.withheld == spec.withheld
                    and kept.cells.equals(spec.cells)):
                return full
        return None

    def _measure_map(
        self,
        name: str,
        counted: Mapping[str, None],
        measures: str | Mapping[str, str] | None,
        variable: str | None,
    ) -> dict[str, str]:
        if isinstance(measures, str):
            measures = dict.fromkeys(counted, measures)
        out = {str(k): str(v) for k, v in (measures or {}).items()}
        for ncol in counted:
            if ncol not in out:
                raise ResultsError(
                    f"table {name!r}: count column {ncol!r} counts respondents with a valid "
                    "value of some measure; name it in measures= (give the release its measures)"
                )
        for ncol, m in out.items():
            if ncol not in counted:
                raise ResultsError(f"table {name!r}: measures names {ncol!r}, not a count")
            self._known_measure(name, m, variable)
        return out

    def _known_measure(self, name: str, measure: str | Mapping[str, str] | None,
                       variable: str | None) -> Any:
        if measure is None:
            return None
        if isinstance(measure, Mapping):
            return {str(k): self._known_measure(name, v, variable) for k, v in measure.items()}
        if measure == ROW_VARIABLE:
            if variable is None:
                raise ResultsError(f"table {name!r}: ROW_VARIABLE needs variable=")
            return measure
        if measure not in self.measures:
            raise ResultsError(
                f"table {name!r}: {measure!r} is not a measure of the release "
                f"(measures: {', '.join(self.measures) or 'none'})"
            )
        return measure

    def _check_variable(self, name: str, cells: pd.DataFrame, variable: str | None) -> None:
        if variable is None:
            return
        if variable not in cells.columns:
            raise ResultsError(
                f"table {name!r}: variable column {variable!r} is not in the table"
            )
        if cells[variable].isna().any():
            pos = int(np.flatnonzero(cells[variable].isna().to_numpy())[0])
            raise ResultsError(
                f"table {name!r} row {pos}: variable column {variable!r} is empty"
            )
