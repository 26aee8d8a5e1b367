"""Cell definitions: which respondents a number rests on.

A *cell* is a conjunction of dimension values, written as a mapping ``{dimension: value}``.
A dimension left out (or given as ``None``/NA) means "every value". Two more forms exist:

``Except(value)``
    every value of the dimension but one: ``{"org": Except("O07")}`` is the field without
    organisation O07. The gate treats such a cell as the difference of two cells (the field,
    and O07), so it is shown only when both are.
``(dimension, value)`` pairs in a tuple
    the canonical, hashable form the gate uses internally (:func:`canonical`).

Every statistic also names a *measure* when it rests only on respondents with a valid value
(a scale score, an item answer): its cell is then the cell's respondents with a valid value of
that measure, and its count is the "n with a score". See :class:`~fieldsurvey.results.Results`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pandas as pd

#: Dimension prefix under which the gate records, per measure, who has a valid value.
VALID_PREFIX = "valid:"


@dataclass(frozen=True)
class Except:
    """Every value of a dimension except ``value`` (e.g. the field without one organisation).

    Examples
    --------
    >>> Except("O07")
    Except('O07')
    """

    value: Any

    def __repr__(self) -> str:
        return f"Except({self.value!r})"


def is_all(value: object) -> bool:
    """True for the "every value" marker: None or a missing value."""
    if value is None or isinstance(value, (str, Except)):
        return value is None
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def valid_dim(measure: str) -> str:
    """The gate's dimension telling who has a valid value of ``measure``.

    Examples
    --------
    >>> valid_dim("burnout")
    'valid:burnout'
    """
    return f"{VALID_PREFIX}{measure}"


#: The last release's dimension order and each dimension's place in it.
_LAST_RANK: tuple[object, dict[str, int]] = (None, {})


def _rank(order: tuple[str, ...]) -> dict[str, int]:
    """Each dimension's place, built once per release: the gate makes cells by the million.
    Kept for the last order seen, matched by identity (hashing a long tuple costs more than
    the cell itself); the order is held, so its identity cannot pass to another tuple."""
    global _LAST_RANK
    last = _LAST_RANK  # read once: another thread may replace it meanwhile
    if last[0] is not order:
        last = _LAST_RANK = (order, {d: i for i, d in enumerate(order)})
    return last[1]


def canonical(definition: Mapping[str, object], order: Sequence[str]) -> tuple:
    """A cell as a sorted tuple of ``(dimension, value)`` pairs, "every value" left out.

    ``order`` fixes the order of dimensions so equal cells compare equal.

    Examples
    --------
    >>> canonical({"wave": "2", "org": "A", "role": None}, ["org", "role", "wave"])
    (('org', 'A'), ('wave', '2'))
    """
    rank = _rank(order) if isinstance(order, tuple) else {d: i for i, d in enumerate(order)}
    unknown = [d for d in definition if d not in rank]
    if unknown:
        raise KeyError(unknown[0])
    items = [(d, v) for d, v in definition.items() if not is_all(v)]
    return tuple(sorted(items, key=lambda item: rank[item[0]]))


def with_measure(cell: tuple, measure: str | None, order: Sequence[str]) -> tuple:
    """The cell restricted to respondents with a valid value of ``measure`` (None: unchanged)."""
    if measure is None:
        return cell
    if isinstance(order, tuple) and all(type(v) is str or (type(v) is Except and type(
            v.value) is str) for _, v in cell):
        # Text values only, so equal keys are the same cell (1 and 1.0 would share an entry).
        return _with_measure_of_text(cell, measure, order)
    return _with_measure(cell, measure, order)


@lru_cache(maxsize=1 << 16)
def _with_measure_of_text(cell: tuple, measure: str, order: tuple[str, ...]) -> tuple:
    """:func:`with_measure` remembered: the gate asks it again for every statistic and every
    row whose sources share a cell (a rank rests on every organisation's cell)."""
    return _with_measure(cell, measure, order)


def _with_measure(cell: tuple, measure: str, order: Sequence[str]) -> tuple:
    dim = valid_dim(measure)
    rank = _rank(order) if isinstance(order, tuple) else {}
    if dim in rank and all(d != dim and d in rank and not is_all(v) for d, v in cell):
        # The usual case, a canonical cell without the measure: one pair to put in its place
        # (the gate asks this for every source of every statistic).
        return tuple(sorted((*cell, (dim, "yes")), key=lambda item: rank[item[0]]))
    return canonical({**dict(cell), dim: "yes"}, order)


def split_except(cell: tuple) -> tuple[tuple, tuple] | None:
    """For a cell with one ``Except`` dimension: the (parent, excluded child) cells, else None.

    Examples
    --------
    >>> split_except((("org", Except("A")), ("wave", "2")))
    ((('wave', '2'),), (('org', 'A'), ('wave', '2')))
    """
    excepted = [i for i, (_, v) in enumerate(cell) if isinstance(v, Except)]
    if not excepted:
        return None
    if len(excepted) > 1:
        raise ValueError(f"a cell may use Except in one dimension only: {cell}")
    i = excepted[0]
    dim, value = cell[i]
    parent = cell[:i] + cell[i + 1 :]
    child = cell[:i] + ((dim, value.value),) + cell[i + 1 :]
    return parent, child


def describe(cell: tuple) -> str:
    """A readable cell label for messages.

    Examples
    --------
    >>> describe((("org", "A"), ("wave", "2")))
    'org=A, wave=2'
    >>> describe(())
    'all respondents'
    """
    parts = []
    for dim, value in cell:
        parts.append(f"{dim}!={value.value}" if isinstance(value, Except) else f"{dim}={value}")
    return ", ".join(parts) or "all respondents"
