"""The release builder: every table of statistics meant for users, tagged by respondent set."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fieldsurvey.disclosure.policy import DisclosureError

#: Statistic kinds. Linear kinds are sums over respondents in disguise (a mean is a sum divided
#: by n, an SD is a sum of squares), so the audit checks that they cannot be recovered by
#: subtraction. "other" (medians, quantiles, labels) is withheld with its cell but not linear.
LINEAR_KINDS = frozenset({"mean", "sd", "sum", "proportion", "linear"})
STAT_KINDS = LINEAR_KINDS | {"other", "extreme"}

_EXTREME_NAME = re.compile(r"(^|_)(min|max|minimum|maximum|range|extreme)(_|$)", re.IGNORECASE)

#: The column the gate writes each cell's respondent count to.
COUNT_COL = "n"


@dataclass
class TableSpec:
    """One table of a release as the caller supplied it (see :meth:`Release.add_table`)."""

    name: str
    cells: pd.DataFrame
    dims: tuple[str, ...]
    stats: dict[str, str]
    stat_n: dict[str, str] = field(default_factory=dict)
    variable: str | None = None
    compares: str | None = None


def margin_cells(respondents: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Cell definitions of a cross-tabulation with every margin (sub-totals and grand total).

    Each row is one cell; NA means "all values", as :meth:`Release.add_table` reads it.

    Examples
    --------
    >>> import pandas as pd
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
                raise DisclosureError(
                    f"table {table!r}: statistic column {name!r} looks like a minimum/maximum; "
                    "declare its kind explicitly, e.g. stats={'" + str(name) + "': 'extreme'}"
                )
            kinds[str(name)] = "linear"
    for name, kind in kinds.items():
        if kind not in STAT_KINDS:
            raise DisclosureError(
                f"table {table!r}: statistic {name!r} has unknown kind {kind!r}; "
                f"use one of {sorted(STAT_KINDS)}"
            )
    return kinds


class Release:
    """Everything one output (a report, a CLI run, an export) intends to show.

    A release is built from the respondent-level frame (one row per respondent, one column
    per disclosure dimension) and any number of tables. Each table row is a cell: its
    dimension columns say which respondents it covers, and a missing value (NA/None) in a
    dimension column means "all values" of that dimension. Dimensions absent from a table
    also mean "all". The gate computes each cell's count itself from the respondents, so a
    cell can never claim a count that does not match its definition.

    Parameters
    ----------
    respondents : DataFrame
        One row per respondent (per respondent-wave when waves are a dimension).
    dims : sequence of str
        Columns of ``respondents`` that define cells, e.g. ``["org", "role", "wave"]``.
    public_support : sequence of sequences of str, optional
        Groups of dimensions whose *observed combinations* are public knowledge, e.g.
        ``[("region", "org"), ("org", "wave")]`` when every reader knows which organisation
        is in which region and which organisations took part in which wave. The audit then
        assumes an attacker knows the other combinations are empty. Without this the audit
        assumes any combination of dimension values may hold respondents.
    domains : mapping of str to iterable, optional
        Extra categories a dimension can take beyond those observed (for example a role
        that nobody chose), so that empty categories are treated as real, hidden cells.

    Examples
    --------
    >>> import pandas as pd
    >>> people = pd.DataFrame({"org": ["A"] * 12 + ["B"] * 30,
    ...                        "lived_experience": ["yes"] + ["no"] * 41})
    >>> rel = Release(people, dims=["org", "lived_experience"])
    >>> cells = pd.DataFrame({"org": ["A", "A", "A"], "lived_experience": [None, "yes", "no"]})
    >>> rel = rel.add_table("org_le", cells)
    >>> list(rel.tables)
    ['org_le']
    """

    def __init__(
        self,
        respondents: pd.DataFrame,
        dims: Sequence[str],
        *,
        public_support: Iterable[Sequence[str]] = (),
        domains: Mapping[str, Iterable[object]] | None = None,
    ) -> None:
        if not isinstance(respondents, pd.DataFrame):
            raise DisclosureError("respondents must be a pandas DataFrame, one row per respondent")
        dims = [str(d) for d in dims]
        if not dims:
            raise DisclosureError("a release needs at least one dimension")
        if len(set(dims)) != len(dims):
            raise DisclosureError(f"dimensions repeat: {dims}")
        missing = [d for d in dims if d not in respondents.columns]
        if missing:
            raise DisclosureError(
                f"respondents have no column(s) {missing}; columns are {list(respondents.columns)}"
            )
        for d in dims:
            isna = respondents[d].isna().to_numpy()
            if isna.any():
                row = respondents.index[isna.argmax()]
                raise DisclosureError(
                    f"respondents column {d!r} is missing at row {row!r}; give missing answers an "
                    "explicit category (e.g. 'not stated') so they are counted and protected"
                )
        self.respondents = respondents[dims].reset_index(drop=True)
        self.dims = tuple(dims)
        support = []
        for group in public_support:
            group = tuple(str(g) for g in group)
            unknown = [g for g in group if g not in self.dims]
            if unknown:
                raise DisclosureError(f"public_support names unknown dimension(s) {unknown}")
            support.append(group)
        self.public_support = tuple(support)
        self.domains: dict[str, list[object]] = {}
        for d in self.dims:
            values = list(pd.unique(self.respondents[d]))
            for extra in (domains or {}).get(d, ()):
                if extra not in values:
                    values.append(extra)
            self.domains[d] = values
        unknown_domains = set(domains or {}) - set(self.dims)
        if unknown_domains:
            raise DisclosureError(
                f"domains given for unknown dimension(s) {sorted(unknown_domains)}"
            )
        self.tables: dict[str, TableSpec] = {}

    def add_table(
        self,
        name: str,
        cells: pd.DataFrame,
        stats: Sequence[str] | Mapping[str, str] = (),
        *,
        stat_n: Mapping[str, str] | None = None,
        labels: Sequence[str] = (),
        variable: str | None = None,
        compares: str | None = None,
    ) -> Release:
        """Add one table of cells; returns the release so calls can be chained.

        Parameters
        ----------
        name : str
            Unique table name (used as the key of the gated output).
        cells : DataFrame
            One row per cell. Columns named like release dimensions define the cell (NA means
            "all"). A column ``n``, if present, must equal the gate's own count of the cell.
        stats : list of str or mapping of column to kind
            Statistic columns to withhold with their cell. A list marks every column as a
            linear statistic (mean, SD, proportion: audited like sums). A mapping declares
            kinds from ``{"mean", "sd", "sum", "proportion", "linear", "other", "extreme"}``.
        stat_n : mapping of statistic column to count column, optional
            For statistics computed on fewer respondents than the cell holds (item
            non-response), the column holding that statistic's own respondent count. The
            statistic is withheld when that count is below ``min_cell``.
        labels : list of str
            Columns shown as they are (e.g. an organisation's display name). Every column
            must be a dimension, ``n``, a statistic or a label: an undeclared column is an
            error, so nothing reaches users without a decision.
        variable : str, optional
            In a long table (one row per scale), the column naming the variable each row's
            statistics describe, e.g. ``"scale"``. ``mean`` of burnout and ``mean`` of STS
            are then audited as different variables.
        compares : str, optional
            For tables of group comparisons (differences, t, p, effect sizes): the
            dimension whose groups each row contrasts within the row's respondent set. A
            row's statistics are withheld unless every non-empty group it contrasts has at
            least ``min_cell`` respondents, since a contrast plus the overall figure gives
            each group's own value.

        Examples
        --------
        >>> import pandas as pd
        >>> rel = Release(pd.DataFrame({"org": ["A"] * 10}), dims=["org"])
        >>> rel = rel.add_table("t", pd.DataFrame({"org": ["A"], "burnout": [22.5]}), ["burnout"])
        >>> rel.tables["t"].stats
        {'burnout': 'linear'}
        """
        name = str(name)
        if name in self.tables:
            raise DisclosureError(f"table {name!r} was already added to this release")
        if not isinstance(cells, pd.DataFrame):
            raise DisclosureError(f"table {name!r}: cells must be a pandas DataFrame")
        kinds = _normalise_stats(name, stats)
        stat_n = {str(k): str(v) for k, v in (stat_n or {}).items()}
        for col in list(kinds) + list(stat_n.values()):
            if col not in cells.columns:
                raise DisclosureError(
                    f"table {name!r}: statistic column {col!r} is not in the table"
                )
        for stat, ncol in stat_n.items():
            if stat not in kinds:
                raise DisclosureError(f"table {name!r}: stat_n names {stat!r}, not a statistic")
            # The valid-response count is itself a count over respondents: audit it as linear.
            kinds.setdefault(ncol, "sum")
        for col in kinds:
            if col in self.dims or col == COUNT_COL:
                raise DisclosureError(
                    f"table {name!r}: column {col!r} cannot be both a statistic and a dimension/count"
                )
        labels = [str(c) for c in ([labels] if isinstance(labels, str) else labels)]
        if variable is not None and variable not in cells.columns:
            raise DisclosureError(
                f"table {name!r}: variable column {variable!r} is not in the table"
            )
        if variable is not None and cells[variable].isna().any():
            pos = int(np.flatnonzero(cells[variable].isna().to_numpy())[0])
            raise DisclosureError(
                f"table {name!r} row {pos}: variable column {variable!r} is empty"
            )
        if compares is not None:
            if compares not in self.dims:
                raise DisclosureError(
                    f"table {name!r}: compares={compares!r} is not a release dimension"
                )
            if compares in cells.columns and cells[compares].notna().any():
                raise DisclosureError(
                    f"table {name!r}: rows of a comparison table must cover every group of "
                    f"{compares!r} (leave the column NA or out)"
                )
        extra = [variable] if variable is not None else []
        declared = set(self.dims) | {COUNT_COL} | set(kinds) | set(labels) | set(extra)
        undeclared = [str(c) for c in cells.columns if str(c) not in declared]
        if undeclared:
            raise DisclosureError(
                f"table {name!r}: column(s) {undeclared} are neither dimensions nor declared "
                "statistics or labels; pass them in stats= (withheld with their cell) or "
                "labels= (shown as they are)"
            )
        dims = tuple(d for d in self.dims if d in cells.columns)
        self.tables[name] = TableSpec(
            name=name,
            cells=cells.reset_index(drop=True).copy(),
            dims=dims,
            stats=kinds,
            stat_n=stat_n,
            variable=variable,
            compares=compares,
        )
        return self
