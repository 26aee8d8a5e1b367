"""Statistical disclosure control for respondent-level files (microdata), as sdcMicro does it.

A respondent-level file is safe to hand over when nobody can be picked out of it by what
colleagues already know about them. The columns such knowledge covers are the *key variables*
(quasi-identifiers: organisation, role, tenure, pay band, lived experience, ...). Rows sharing
every key value form an *equivalence class*; ``f_k`` is its size.

What :func:`anonymise_microdata` guarantees
-------------------------------------------
* **k-anonymity**: every combination of key values in the released file (within each stratum,
  e.g. wave) is shared by at least ``k`` rows (``k`` = the study's ``min_cell``).
* **distinct l-diversity**: for each sensitive variable ``S``, the rows sharing every *other*
  key value hold at least ``l`` different non-missing values of ``S`` (or none at all). When
  ``S`` is also a key (lived experience is both: some colleagues know it, most do not), its
  classes are formed without it, since a class formed with it is homogeneous by definition.

How (in this order, as the sdcMicro guidelines recommend)
---------------------------------------------------------
1. **Global recoding**: each key has a ladder of coarser codings (:class:`Recode`): tenure and
   pay into wider bands, small organisations into "other, <size band>", rare categories into
   "other". A greedy search climbs one rung at a time, always the rung that removes the most
   violating rows per cell it changes, until at most ``max_suppression`` of the rows still
   violate k-anonymity or l-diversity.
2. **Local suppression** of single key values, only for rows that still violate
   k-anonymity: patterns that blank the fewest and least important keys are tried first, and a
   row is blanked only when that puts it in a class of at least ``k``.
3. **l-diversity**: a class whose sensitive values are all the same has that sensitive value
   suppressed for the whole class (suppressing it for some rows would leave the others'
   value readable).

A suppressed value is written as missing, like an unanswered question, and **missing counts as
a value of its own** when classes are formed. sdcMicro by default counts a missing key as
matching every value; we do not, so the guarantee can be checked with one group-by on the
released file (``frame.groupby(keys, dropna=False).size().min() >= k``) at the price of a
little more suppression.

Measures (:func:`key_frequencies`, :func:`l_diversity`, :func:`individual_risk`) work on any
frame, before or after protection, and :func:`top_bottom_code` protects numeric columns that
are not keys (hours worked). :func:`export_microdata` applies all of it to a study and writes
the file with its risk report.

References
----------
Templ, M., Kowarik, A., & Meindl, B. (2015). Statistical disclosure control for micro-data
using the R package sdcMicro. *Journal of Statistical Software*, 67(4).
Machanavajjhala, A., Kifer, D., Gehrke, J., & Venkitasubramaniam, M. (2007). l-diversity:
privacy beyond k-anonymity. *ACM TKDD*, 1(1).
Franconi, L., & Polettini, S. (2004). Individual risk estimation in mu-Argus: a review.
*Privacy in Statistical Databases*, LNCS 3050.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.disclosure.file_release import (
    FileJudgement,
    file_results,
    judge_file,
    revealed_dimensions,
)
from fieldsurvey.disclosure.ledger import Ledger
from fieldsurvey.disclosure.policy import DisclosureError
from fieldsurvey.store.database import item_columns, load_responses, respondent_keys
from fieldsurvey.store.export_data import (
    FORMATS,
    IDENTIFIABLE_WARNING,
    declared_missing_cells,
    study_labels,
    write_data,
    write_metadata,
)
from fieldsurvey.store.study import Study

__all__ = [
    "KeyVariable",
    "MicrodataExport",
    "MicrodataRelease",
    "Recode",
    "StudyMicrodata",
    "anonymise_microdata",
    "default_key_variables",
    "export_microdata",
    "grouped_recodes",
    "individual_risk",
    "key_frequencies",
    "l_diversity",
    "ordinal_recodes",
    "organisation_recodes",
    "rare_category_recodes",
    "study_microdata",
    "top_bottom_code",
]


# --------------------------------------------------------------------------------------------
# Key variables and their recoding ladders
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recode:
    """One rung of a key variable's global-recoding ladder.

    Parameters
    ----------
    mapping : mapping
        Original value -> released value. Values not in the mapping are released unchanged.
    labels : mapping, optional
        Value labels of the released values (for SPSS/Stata and the risk report).
    description : str
        What the rung does, for the risk report ("tenure in 3 bands").
    """

    mapping: Mapping[Any, Any]
    labels: Mapping[Any, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class KeyVariable:
    """A key variable (quasi-identifier), its value labels and its recoding ladder.

    Keys are given most important first: the last key is the first one blanked by local
    suppression and, on ties, the first one recoded.
    """

    name: str
    recodes: tuple[Recode, ...] = ()
    labels: Mapping[Any, str] = field(default_factory=dict)


def _as_key(key: KeyVariable | str) -> KeyVariable:
    return key if isinstance(key, KeyVariable) else KeyVariable(str(key))


def grouped_recodes(
    levels: Sequence[Mapping[str, Sequence[Any]]], labels: Mapping[Any, str] | None = None
) -> tuple[Recode, ...]:
    """A recoding ladder from explicit groups, e.g. as written in ``study.yaml``.

    Each level maps a new label to the original codes it covers; the released codes are
    1, 2, ... in the order written.

    Examples
    --------
    >>> ladder = grouped_recodes([{"under 3 years": [1, 2], "3 years or more": [3, 4, 5]}])
    >>> dict(ladder[0].mapping), dict(ladder[0].labels)
    ({1: 1, 2: 1, 3: 2, 4: 2, 5: 2}, {1: 'under 3 years', 2: '3 years or more'})
    """
    ladder = []
    for level in levels:
        mapping = {code: i for i, codes in enumerate(level.values(), start=1) for code in codes}
        new_labels = {i: str(name) for i, name in enumerate(level, start=1)}
        ladder.append(Recode(mapping, new_labels, f"{len(level)} groups: " + ", ".join(level)))
    return tuple(ladder)


def ordinal_recodes(values: pd.Series, labels: Mapping[Any, str]) -> tuple[Recode, ...]:
    """Wider and wider bands of an ordered coded variable, about equally full.

    Level ``j`` has ``ceil(m / 2**j)`` contiguous bands of the ``m`` codes, cut where the
    cumulative share of respondents crosses ``1/b, 2/b, ...``; each band is labelled
    "<first label> to <last label>".

    Examples
    --------
    >>> s = pd.Series([1, 1, 2, 3, 3, 3, 4, 5])
    >>> [len(set(r.mapping.values())) for r in ordinal_recodes(s, {})]
    [3, 2]
    """
    codes = sorted(labels) if labels else sorted(values.dropna().unique().tolist())
    counts = values.value_counts().reindex(codes, fill_value=0).to_numpy(dtype=float)
    ladder: list[Recode] = []
    bands = len(codes)
    while bands > 2:
        bands = -(-bands // 2)
        share = np.cumsum(counts) / max(counts.sum(), 1.0)
        cut = np.minimum((share * bands - 1e-9).astype(int), bands - 1)
        cut = np.maximum.accumulate(np.clip(cut, 0, None))
        _, band_of = np.unique(cut, return_inverse=True)
        mapping = {code: int(b) + 1 for code, b in zip(codes, band_of, strict=True)}
        new_labels = {}
        for b in sorted(set(mapping.values())):
            members = [c for c in codes if mapping[c] == b]
            first, last = (str(labels.get(members[0], members[0])),
                           str(labels.get(members[-1], members[-1])))
            new_labels[b] = first if len(members) == 1 else f"{first} to {last}"
        ladder.append(Recode(mapping, new_labels, f"{len(new_labels)} bands"))
        bands = len(new_labels)
    return tuple(ladder)


def rare_category_recodes(values: pd.Series, k: int, labels: Mapping[Any, str] | None = None,
                          other: Any = "other") -> tuple[Recode, ...]:
    """Categories held by fewer than ``k``, then ``2k``, ``4k`` respondents merged into "other".

    Examples
    --------
    >>> s = pd.Series(["a"] * 30 + ["b"] * 12 + ["c"] * 3)
    >>> [dict(r.mapping) for r in rare_category_recodes(s, 10)]
    [{'c': 'other'}, {'b': 'other', 'c': 'other'}]
    """
    counts = values.value_counts()
    ladder, seen = [], set()
    for threshold in (k, 2 * k, 4 * k):
        rare = tuple(sorted(c for c, n in counts.items() if n < threshold))
        if len(rare) < 1 or rare in seen or len(rare) == len(counts):
            continue
        seen.add(rare)
        ladder.append(Recode({c: other for c in rare}, dict(labels or {}),
                             f"categories with fewer than {threshold} respondents as {other!r}"))
    return tuple(ladder)


def _size_bands(k: int) -> list[tuple[int, float]]:
    """Respondent-count bands for "other, <size band>": 1 to k-1, k to 2k-1, 2k to 5k-1, 5k+."""
    edges = [1, k, 2 * k, 5 * k]
    return [(lo, hi - 1) for lo, hi in itertools.pairwise(edges)] + [(edges[-1], np.inf)]


def _band_label(lo: int, hi: float) -> str:
    if lo <= 1 and hi == np.inf:
        return "other, any size"
    if lo <= 1:
        return f"other, fewer than {int(hi) + 1} respondents"
    if hi == np.inf:
        return f"other, {lo} or more respondents"
    return f"other, {lo}-{int(hi)} respondents"


def _other_groups(sizes: pd.Series, k: int) -> dict[Any, str]:
    """Small organisations (sizes ascending) -> "other, <size band>", two or more per band."""
    bands = _size_bands(k)
    band_of = {org: next(i for i, (lo, hi) in enumerate(bands) if lo <= n <= hi)
               for org, n in sizes.items()}
    groups = [[org for org in sizes.index if band_of[org] == b] for b in range(len(bands))]
    groups = [g for g in groups if g]
    while len(groups) > 1 and any(len(g) < 2 for g in groups):
        i = next(i for i, g in enumerate(groups) if len(g) < 2)
        j = i + 1 if i + 1 < len(groups) else i - 1
        lo, hi = min(i, j), max(i, j)
        groups[lo:hi + 1] = [groups[lo] + groups[hi]]
    out = {}
    for group in groups:
        label = _band_label(bands[band_of[group[0]]][0], bands[band_of[group[-1]]][1])
        out.update({org: label for org in group})
    return out


def organisation_recodes(orgs: pd.Series, k: int) -> tuple[Recode, ...]:
    """Small organisations into "other, <size band>", the threshold rising rung by rung.

    Rung thresholds are ``k, 2k, 3k, 5k, 10k`` respondents (then every organisation). Size
    bands count respondents in the file; a band holding a single organisation is merged with
    its neighbour, and an "other" group is never a single organisation (the next smallest
    joins it), so that "other" never names anyone.

    Examples
    --------
    >>> orgs = pd.Series(["A"] * 4 + ["B"] * 6 + ["C"] * 30)
    >>> sorted(set(organisation_recodes(orgs, 10)[0].mapping.values()))
    ['other, fewer than 10 respondents']
    """
    sizes = orgs.value_counts().sort_values(kind="stable")
    ladder, seen = [], set()
    for threshold in (k, 2 * k, 3 * k, 5 * k, 10 * k, None):
        small = sizes if threshold is None else sizes[sizes < threshold]
        if len(small) == 1 and len(sizes) > 1:
            small = sizes.iloc[:2]
        key = tuple(small.index)
        if not key or key in seen:
            continue
        seen.add(key)
        what = "every organisation" if threshold is None else \
            f"organisations with fewer than {threshold} respondents"
        ladder.append(Recode(_other_groups(small, k), {}, f"{what} as 'other, <size band>'"))
    return tuple(ladder)


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------


def _factorised(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One row of integer codes per row of ``frame``; missing is -1."""
    out = np.empty((len(frame), len(columns)), dtype=np.int64)
    for j, column in enumerate(columns):
        out[:, j] = pd.factorize(frame[column], use_na_sentinel=True)[0]
    return out


def _class_codes(codes: np.ndarray, strata: np.ndarray | None = None,
                 skip: Sequence[int] = ()) -> np.ndarray:
    """One integer per equivalence class (missing is a value of its own), by mixed radix."""
    code = np.zeros(codes.shape[0], dtype=np.int64)
    radix = 1
    columns = [codes[:, j] for j in range(codes.shape[1]) if j not in skip]
    if strata is not None:
        columns.append(strata)
    for column in columns:
        width = int(column.max(initial=-1)) + 2
        if radix * width >= 2**62:  # re-number the classes so far before they overflow
            code = pd.factorize(code)[0].astype(np.int64)
            radix = int(code.max(initial=0)) + 1
        code += (column + 1) * radix
        radix *= width
    return code


def _sizes(class_code: np.ndarray) -> np.ndarray:
    ids = pd.factorize(class_code)[0]
    return np.bincount(ids)[ids] if len(ids) else np.zeros(0, dtype=np.int64)


def _strata_codes(frame: pd.DataFrame, strata: Sequence[str]) -> np.ndarray | None:
    if not strata:
        return None
    return _class_codes(_factorised(frame, strata))


def key_frequencies(frame: pd.DataFrame, keys: Sequence[str], strata: Sequence[str] = ()) -> pd.Series:
    """Sample frequency ``f_k`` of each row's key combination (sdcMicro ``freqCalc``).

    ``f_k`` is the number of rows with exactly the same key values (and stratum); a missing
    value is a value of its own. A file is k-anonymous when ``f_k >= k`` for every row.

    Examples
    --------
    >>> df = pd.DataFrame({"org": ["A", "A", "B"], "role": [1, 1, None]})
    >>> key_frequencies(df, ["org", "role"]).tolist()
    [2, 2, 1]
    """
    codes = _factorised(frame, list(keys))
    sizes = _sizes(_class_codes(codes, _strata_codes(frame, strata)))
    return pd.Series(sizes, index=frame.index, name="fk")


def _distinct_per_class(class_code: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row: how many different non-missing ``values`` its class holds."""
    ids = pd.factorize(class_code)[0]
    valid = values >= 0
    width = int(values.max(initial=-1)) + 1
    pairs = pd.unique(ids[valid] * max(width, 1) + values[valid])
    distinct = np.bincount(pairs // max(width, 1), minlength=int(ids.max(initial=-1)) + 1)
    return distinct[ids]


def l_diversity(frame: pd.DataFrame, keys: Sequence[str], sensitive: str,
                strata: Sequence[str] = ()) -> pd.DataFrame:
    """Distinct l-diversity of a sensitive variable in every equivalence class.

    Classes are formed by ``keys`` without ``sensitive`` (plus strata). ``l`` of a class is the
    number of different non-missing values of ``sensitive`` in it; a class with ``l == 1`` is
    *homogeneous*: knowing someone is in it tells their answer. Classes where ``sensitive`` is
    all missing disclose nothing and have ``l == 0``. The file's l is the smallest ``l`` > 0.

    Returns
    -------
    DataFrame
        One row per class: its key values, ``n`` (rows) and ``l``; sorted by ``l`` then ``n``.

    Examples
    --------
    >>> df = pd.DataFrame({"org": ["A"] * 3 + ["B"] * 3, "lived": [1, 2, 2, 2, 2, None]})
    >>> l_diversity(df, ["org", "lived"], "lived")[["org", "n", "l"]].values.tolist()
    [['B', 3, 1], ['A', 3, 2]]
    """
    by = [c for c in [*strata, *keys] if c != sensitive]
    values = pd.factorize(frame[sensitive], use_na_sentinel=True)[0].astype(np.int64)
    class_code = _class_codes(_factorised(frame, by)) if by else np.zeros(len(frame), np.int64)
    table = frame[by].copy() if by else pd.DataFrame(index=frame.index)
    table["l"] = _distinct_per_class(class_code, values)
    table["_class"] = class_code
    out = table.groupby("_class", sort=False).agg(
        **{c: (c, "first") for c in [*by, "l"]}, n=("l", "size"))
    return out.reset_index(drop=True).sort_values(["l", "n"], kind="stable").reset_index(drop=True)


def individual_risk(frame: pd.DataFrame, keys: Sequence[str], weights: pd.Series | None = None,
                    strata: Sequence[str] = ()) -> pd.Series:
    """Individual re-identification risk of each row (sdcMicro ``indivRisk``, approximation).

    Without sampling weights every respondent is assumed to be the only person outside the
    file with their key values (a census of the workforce: the cautious assumption), and the
    risk is ``1 / f_k``. With weights, ``F_k`` (the estimated population count of the class)
    is the sum of the weights and, with ``p_k = f_k / F_k``, the Benedetti-Franconi
    approximation gives

    * ``f_k = 1``: ``r = p/(1-p) * log(1/p)``
    * ``f_k = 2``: ``r = p/(1-p) - (p/(1-p))**2 * log(1/p)``
    * ``f_k > 2``: ``r = p / (f_k - (1-p))``

    and ``r = 1/f_k`` where ``p_k = 1``. The expected number of re-identifications is the sum.

    Examples
    --------
    >>> df = pd.DataFrame({"org": ["A", "A", "B"]})
    >>> individual_risk(df, ["org"]).tolist()
    [0.5, 0.5, 1.0]
    """
    fk = key_frequencies(frame, keys, strata).to_numpy(dtype=float)
    if weights is None:
        return pd.Series(1.0 / fk, index=frame.index, name="risk")
    class_code = _class_codes(_factorised(frame, list(keys)), _strata_codes(frame, strata))
    w = pd.Series(np.asarray(weights, dtype=float)).groupby(class_code).transform("sum")
    p = np.clip(fk / w.to_numpy(), 1e-12, 1.0)
    odds = np.divide(p, 1 - p, out=np.full_like(p, np.inf), where=p < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        risk = np.where(fk == 1, odds * np.log(1 / p),
                        np.where(fk == 2, odds - odds**2 * np.log(1 / p), p / (fk - (1 - p))))
    risk = np.where(p >= 1, 1.0 / fk, risk)
    return pd.Series(np.clip(risk, 0.0, 1.0), index=frame.index, name="risk")


def top_bottom_code(values: pd.Series, k: int) -> tuple[pd.Series, float | None, float | None]:
    """Top- and bottom-code a numeric column so that at least ``k`` rows share each extreme.

    The top code is the ``k``-th largest value and every larger value is set to it (so "60"
    reads "60 or more"); the bottom code likewise from below (sdcMicro ``topBotCoding`` with
    the thresholds chosen by ``k``). With fewer than ``2k`` values every value is set to the
    median, and with fewer than ``k`` all are suppressed.

    Returns
    -------
    (coded, top, bottom)

    Examples
    --------
    >>> coded, top, bottom = top_bottom_code(pd.Series([1, 20, 21, 22, 23, 80]), 2)
    >>> coded.tolist(), top, bottom
    ([20.0, 20.0, 21.0, 22.0, 23.0, 23.0], 23.0, 20.0)
    """
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    present = numbers.dropna().sort_values()
    if len(present) < k:
        return pd.Series(np.nan, index=values.index, name=values.name), None, None
    if len(present) < 2 * k:
        middle = float(present.median())
        return numbers.where(numbers.isna(), middle), middle, middle
    top, bottom = float(present.iloc[-k]), float(present.iloc[k - 1])
    return numbers.clip(lower=bottom, upper=top), top, bottom


# --------------------------------------------------------------------------------------------
# The protection itself
# --------------------------------------------------------------------------------------------


@dataclass
class _Ladder:
    """A key's recoding ladder on its factorised values: level -> code map, values, changed."""

    key: KeyVariable
    base: np.ndarray  # codes of the original values, -1 missing
    maps: list[np.ndarray]  # level -> (original code -> level code)
    values: list[list[Any]]  # level -> released value of each level code
    labels: list[Mapping[Any, str]]  # level -> value labels of the released values
    changed: list[np.ndarray]  # level -> does this original code read differently?
    loss: list[np.ndarray]  # level -> (band size - 1) / (categories - 1) of each original code

    @classmethod
    def build(cls, key: KeyVariable, column: pd.Series) -> _Ladder:
        base, uniques = pd.factorize(column, use_na_sentinel=True)
        originals = list(uniques)
        first = [str(key.labels.get(u, u)) for u in originals]
        none = np.zeros(len(originals))
        ladder = cls(key, base.astype(np.int64), [np.arange(len(originals))], [originals],
                     [dict(key.labels)], [none.astype(bool)], [none])
        for recode in key.recodes:
            released = pd.Series([recode.mapping.get(u, u) for u in originals], dtype=object)
            codes, values = pd.factorize(released)
            ladder.maps.append(codes.astype(np.int64))
            ladder.values.append(list(values))
            ladder.labels.append(dict(recode.labels))
            ladder.changed.append(np.array(
                [str(recode.labels.get(v, v)) != f for v, f in zip(released, first, strict=True)],
                dtype=bool))
            band = np.bincount(codes)[codes]
            ladder.loss.append((band - 1) / max(len(originals) - 1, 1))
        return ladder

    def codes(self, level: int) -> np.ndarray:
        if not len(self.maps[level]):  # nothing but blanks
            return self.base.copy()
        return np.where(self.base >= 0, self.maps[level][np.maximum(self.base, 0)], -1)

    def cell_loss(self, level: int) -> np.ndarray:
        """Each row's loss at ``level`` (0 for a blank original)."""
        if not len(self.loss[level]):
            return np.zeros(len(self.base))
        return np.where(self.base >= 0, self.loss[level][np.maximum(self.base, 0)], 0.0)

    def recoding_loss(self, level: int) -> float:
        """Iyengar's loss metric of the rung summed over the rows (a blank original: 0)."""
        return float(self.cell_loss(level).sum())


@dataclass(frozen=True)
class _Sensitive:
    name: str
    key_index: int | None  # its column in the key matrix when it is also a key
    codes: np.ndarray  # its own codes when it is not a key


def _sensitive_values(X: np.ndarray, s: _Sensitive) -> np.ndarray:
    return X[:, s.key_index] if s.key_index is not None else s.codes


def _homogeneous(X: np.ndarray, strata: np.ndarray | None, s: _Sensitive, min_diversity: int) -> np.ndarray:
    """Rows whose class (keys other than the sensitive one) has 1 to min_diversity - 1 distinct values."""
    skip = [s.key_index] if s.key_index is not None else []
    distinct = _distinct_per_class(_class_codes(X, strata, skip), _sensitive_values(X, s))
    return (distinct > 0) & (distinct < min_diversity)


def _violating(X: np.ndarray, strata: np.ndarray | None, sensitive: Sequence[_Sensitive],
               k: int, min_diversity: int) -> np.ndarray:
    """Rows in a class below ``k`` or a class homogeneous in a sensitive variable."""
    bad = _sizes(_class_codes(X, strata)) < k
    for s in sensitive:
        bad |= _homogeneous(X, strata, s, min_diversity)
    return bad


def _deficit(X: np.ndarray, strata: np.ndarray | None, sensitive: Sequence[_Sensitive],
             k: int, min_diversity: int) -> float:
    """How far the rows are from protected: the sum of ``1 - f_k / k`` over rows in classes
    below ``k``, plus one per row of a class homogeneous in a sensitive variable. Unlike a
    count of violating rows it falls as classes grow, before they reach ``k``."""
    short = np.clip(1.0 - _sizes(_class_codes(X, strata)) / k, 0.0, None)
    homogeneous = np.zeros(X.shape[0], dtype=bool)
    for s in sensitive:
        homogeneous |= _homogeneous(X, strata, s, min_diversity)
    return float(short.sum() + homogeneous.sum())


def _greedy_path(ladders: list[_Ladder], strata: np.ndarray | None,
                 sensitive: list[_Sensitive], k: int, min_diversity: int) -> list[list[int]]:
    """Global recoding states from none upwards, each one rung more than the last: the rung
    that brings the rows closest to protected (:func:`_deficit`) per unit of information
    lost, least important key first on ties, until no rung brings them closer."""
    levels = [0] * len(ladders)
    path = [list(levels)]
    X = np.column_stack([lad.base for lad in ladders])
    deficit = _deficit(X, strata, sensitive, k, min_diversity)
    while deficit > 0:
        best: tuple[float, int, float] | None = None
        for j in reversed(range(len(ladders))):
            if levels[j] + 1 >= len(ladders[j].maps):
                continue
            current = X[:, j].copy()
            X[:, j] = ladders[j].codes(levels[j] + 1)
            left = _deficit(X, strata, sensitive, k, min_diversity)
            X[:, j] = current
            cost = ladders[j].recoding_loss(levels[j] + 1) - ladders[j].recoding_loss(levels[j])
            gain = (deficit - left) / (cost + 1)
            if left < deficit and (best is None or gain > best[0]):
                best = (gain, j, left)
        if best is None:
            break
        _, j, deficit = best
        levels[j] += 1
        X[:, j] = ladders[j].codes(levels[j])
        path.append(list(levels))
    return path


@dataclass
class _Protected:
    levels: list[int]
    X: np.ndarray  # released key codes, -1 blank
    sensitive: list[_Sensitive]  # with suppressed values -1
    withheld: np.ndarray  # rows left out
    loss: float  # Iyengar's loss metric over key cells (a suppressed cell counts 1)
    rows_suppressed: int  # rows with a key or sensitive value suppressed


def _protect(ladders: list[_Ladder], levels: list[int], strata: np.ndarray | None,
             sensitive: list[_Sensitive], k: int, min_diversity: int) -> _Protected:
    """Recode at ``levels``, then local suppression for k and for l."""
    X = np.column_stack([lad.codes(level) for lad, level in zip(ladders, levels, strict=True)])
    leftover = _suppress_for_k(X, strata, k)
    withheld = _blank_with_donors(X, strata, k, leftover) if len(leftover) else leftover
    protected = _diversify(X, strata, sensitive, min_diversity)
    base = np.column_stack([lad.base for lad in ladders])
    blanked = (base >= 0) & (X < 0)
    loss = sum(float(lad.cell_loss(level)[~blanked[:, j]].sum())
               for j, (lad, level) in enumerate(zip(ladders, levels, strict=True)))
    rows = blanked.any(axis=1)
    for before, after in zip(sensitive, protected, strict=True):
        if before.key_index is None:
            rows |= (before.codes >= 0) & (after.codes < 0)
            loss += float(((before.codes >= 0) & (after.codes < 0)).sum())
    return _Protected(levels, X, protected, withheld, loss + float(blanked.sum()),
                      int(rows.sum()))


def _best_protection(ladders: list[_Ladder], strata: np.ndarray | None,
                     sensitive: list[_Sensitive], k: int, min_diversity: int,
                     max_suppression: float) -> _Protected:
    """Along the greedy recoding path, the least recoded state whose local suppression touches
    at most ``max_suppression`` of the rows; if none does, the state losing least information
    (recoding and suppression together).

    Protecting a state is the costly part, so states that can win neither way are skipped:
    every row of a class below ``k`` needs a blank, so their count bounds the rows suppressed
    from below, and the recoding loss plus one minus each such row's largest recoding loss
    bounds the information lost.
    """
    budget = max_suppression * len(ladders[0].base)
    path = _greedy_path(ladders, strata, sensitive, k, min_diversity)
    best = _protect(ladders, path[-1], strata, sensitive, k, min_diversity)
    if best.rows_suppressed > budget:
        for levels in path[:-1]:
            X = np.column_stack([lad.codes(v) for lad, v in zip(ladders, levels, strict=True)])
            short = _sizes(_class_codes(X, strata)) < k
            cell_loss = np.column_stack([lad.cell_loss(v)
                                         for lad, v in zip(ladders, levels, strict=True)])
            bound = cell_loss.sum() + (1 - cell_loss[short].max(axis=1, initial=0)).sum()
            if short.sum() > budget and bound >= best.loss:
                continue
            state = _protect(ladders, levels, strata, sensitive, k, min_diversity)
            if state.rows_suppressed <= budget:
                return state
            best = min(best, state, key=lambda s: s.loss)
        return best
    for levels in path[:-1]:  # the last state is within budget: is an earlier one too?
        X = np.column_stack([lad.codes(v) for lad, v in zip(ladders, levels, strict=True)])
        if (_sizes(_class_codes(X, strata)) < k).sum() > budget:
            continue
        state = _protect(ladders, levels, strata, sensitive, k, min_diversity)
        if state.rows_suppressed <= budget:
            return state
    return best


def _suppression_patterns(p: int) -> list[tuple[int, ...]]:
    """Sets of key columns to blank, fewest and least important first (column 0 matters most)."""
    weight = [2 ** (p - 1 - j) for j in range(p)]
    sizes = range(1, p + 1) if p <= 12 else [1, 2, 3, p]
    subsets = [s for r in sizes for s in itertools.combinations(range(p), r)]
    return sorted(subsets, key=lambda s: (len(s), sum(weight[j] for j in s)))


def _digits(X: np.ndarray, strata: np.ndarray | None) -> tuple[np.ndarray, list[int]]:
    """Exact class codes by mixed radix, with each key column's multiplier."""
    columns = [X[:, j] for j in range(X.shape[1])] + ([strata] if strata is not None else [])
    code = np.zeros(X.shape[0], dtype=np.int64)
    multipliers, radix = [], 1
    for column in columns:
        multipliers.append(radix)
        code += (column + 1) * radix
        radix *= int(column.max(initial=-1)) + 2
    if radix >= 2**62:
        raise DisclosureError("too many combinations of key values to protect this file; "
                              "declare fewer key variables or coarser ones")
    return code, multipliers


def _count_in(sorted_codes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    return (np.searchsorted(sorted_codes, codes, "right")
            - np.searchsorted(sorted_codes, codes, "left"))


def _project(code: np.ndarray, X: np.ndarray, rows: np.ndarray, pattern: tuple[int, ...],
             multipliers: list[int]) -> np.ndarray:
    """Class codes of ``rows`` once the keys in ``pattern`` are blank."""
    projected = code[rows].copy()
    for j in pattern:
        projected -= (X[rows, j] + 1) * multipliers[j]
    return projected


def _suppress_for_k(X: np.ndarray, strata: np.ndarray | None, k: int) -> np.ndarray:
    """Local suppression: blank key values of rows in classes smaller than ``k``.

    First pass: a pattern (set of keys to blank) is applied to every still-violating row it
    puts in a class of at least ``k`` rows, counting rows that already have those values and
    the other violating rows the same pattern moves there. Second pass, for the rows left: the
    same patterns, now also blanking the same keys of rows that large classes can spare (their
    class stays at ``k`` or more) until the new class reaches ``k``. A blank is a value of its
    own, so a lone blank would single a row out as surely as its value did. Returns the rows
    still violating, for :func:`_blank_with_donors`.
    """
    code, multipliers = _digits(X, strata)
    violating = _sizes(code) < k
    pool = np.sort(code[~violating])  # codes of protected rows, as they were at the start
    moved = np.zeros(0, dtype=np.int64)  # codes of rows protected since, sorted
    patterns = _suppression_patterns(X.shape[1])
    for pattern in patterns:
        rows = np.flatnonzero(violating)
        if not len(rows):
            break
        projected = _project(code, X, rows, pattern, multipliers)
        _, inverse, counts = np.unique(projected, return_inverse=True, return_counts=True)
        total = counts[inverse] + _count_in(pool, projected) + _count_in(moved, projected)
        fixed = total >= k
        if fixed.any():
            X[np.ix_(rows[fixed], pattern)] = -1
            code[rows[fixed]] = projected[fixed]
            violating[rows[fixed]] = False
            moved = np.sort(np.concatenate([moved, projected[fixed]]))
    for pattern in patterns:
        if not violating.any():
            break
        _suppress_with_donors(X, code, violating, pattern, multipliers, k)
    return np.flatnonzero(violating)


def _suppress_with_donors(X: np.ndarray, code: np.ndarray, violating: np.ndarray,
                          pattern: tuple[int, ...], multipliers: list[int], k: int) -> None:
    """One pattern of the second pass of :func:`_suppress_for_k` (updates in place)."""
    rows = np.flatnonzero(violating)
    projected = _project(code, X, rows, pattern, multipliers)
    targets, inverse, counts = np.unique(projected, return_inverse=True, return_counts=True)
    protected = np.flatnonzero(~violating)
    there = _count_in(np.sort(code[protected]), targets)
    candidates = _project(code, X, protected, pattern, multipliers)
    movable = np.isin(candidates, targets) & (candidates != code[protected])
    if not movable.any():
        return
    class_ids, class_size = np.unique(code[protected], return_counts=True)
    spare = dict(zip(class_ids.tolist(), (class_size - k).tolist(), strict=True))
    donors = pd.DataFrame({"row": protected[movable], "target": candidates[movable],
                           "class": code[protected[movable]]})
    for target, frame in donors.groupby("target", sort=False):
        g = int(np.searchsorted(targets, target))
        need = k - int(counts[g]) - int(there[g])
        take: list[int] = []
        for cls, members in frame.groupby("class", sort=False):
            give = min(spare.get(cls, 0), need - len(take))
            if give > 0:
                take += members["row"].iloc[:give].tolist()
                spare[cls] -= give
        if len(take) < need:
            for cls in {code[r] for r in take}:  # give the spare rows back
                spare[cls] += sum(1 for r in take if code[r] == cls)
            continue
        chosen = np.concatenate([rows[inverse == g], np.asarray(take, dtype=np.int64)])
        X[np.ix_(chosen, pattern)] = -1
        code[chosen] = target
        violating[chosen] = False


def _classes_of(rows: np.ndarray, code: np.ndarray) -> list[np.ndarray]:
    """``rows`` split by their class code."""
    order = rows[np.argsort(code[rows], kind="stable")]
    cuts = np.flatnonzero(np.diff(code[order])) + 1
    return np.split(order, cuts) if len(order) else []


def _blank_with_donors(X: np.ndarray, strata: np.ndarray | None, k: int,
                       leftover: np.ndarray) -> np.ndarray:
    """Blank every key of the rows no pattern could protect, and enough rows of the largest
    classes of their stratum to make the all-blank class ``k`` strong (rows a class can spare
    above ``k`` first, then whole classes, smallest first). Returns the rows to withhold: only
    those of a stratum with fewer than ``k`` rows in all."""
    withheld: list[np.ndarray] = []
    stratum = strata if strata is not None else np.zeros(X.shape[0], dtype=np.int64)
    for s in np.unique(stratum[leftover]):
        in_stratum = stratum == s
        if int(in_stratum.sum()) < k:
            withheld.append(np.flatnonzero(in_stratum))
            continue
        X[leftover[stratum[leftover] == s]] = -1
        blank = in_stratum & (X < 0).all(axis=1)
        need = k - int(blank.sum())
        if need <= 0:
            continue
        code, _ = _digits(X, strata)
        classes = sorted(_classes_of(np.flatnonzero(in_stratum & ~blank), code), key=len,
                         reverse=True)
        take: list[np.ndarray] = []
        taken = 0
        for i, rows in enumerate(classes):
            spare = min(len(rows) - k, need - taken)
            if spare > 0:
                take.append(rows[:spare])
                classes[i] = rows[spare:]
                taken += spare
        for rows in reversed(classes):
            if taken >= need:
                break
            take.append(rows)
            taken += len(rows)
        X[np.concatenate(take)] = -1
    return np.concatenate(withheld) if withheld else np.zeros(0, dtype=np.int64)


def _diversify(X: np.ndarray, strata: np.ndarray | None, sensitive: list[_Sensitive],
               min_diversity: int) -> list[_Sensitive]:
    """Suppress the sensitive value in every class where it is the same for everyone."""
    sensitive = [_Sensitive(s.name, s.key_index, s.codes.copy()) for s in sensitive]
    changed = True
    while changed:  # a suppression can split another sensitive variable's classes
        changed = False
        for s in sensitive:
            bad = _homogeneous(X, strata, s, min_diversity) & (_sensitive_values(X, s) >= 0)
            if bad.any():
                changed = True
                if s.key_index is not None:
                    X[bad, s.key_index] = -1
                else:
                    s.codes[bad] = -1
    return sensitive


@dataclass
class MicrodataRelease:
    """A protected respondent-level frame and what was done to make it so.

    Attributes
    ----------
    data : DataFrame
        The input rows (less any withheld) with keys recoded or suppressed and sensitive
        values suppressed where needed; every other column unchanged.
    variables : DataFrame
        One row per key or sensitive variable: ``variable``, ``role`` ("key", "sensitive" or
        "key, sensitive"), ``recoding`` (the rung used, "" for none), ``recoded`` and
        ``suppressed`` (cells).
    summary : dict
        ``k`` and ``l`` required, the measures ``before`` and ``after`` (k reached, rows in
        classes below k, unique rows, l reached per sensitive variable, expected
        re-identifications, largest individual risk), rows withheld and the share of key
        cells changed.
    value_labels : dict
        Value labels of the recoded keys (column -> {code: label}).
    """

    data: pd.DataFrame
    variables: pd.DataFrame
    summary: dict[str, Any]
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict)


def _measures(frame: pd.DataFrame, keys: list[str], sensitive: Sequence[str],
              strata: Sequence[str], k: int) -> dict[str, Any]:
    if frame.empty:
        return {"k": None, "below_k": 0, "unique": 0, "l": {s: None for s in sensitive},
                "expected_reidentifications": 0.0, "max_risk": 0.0}
    fk = key_frequencies(frame, keys, strata)
    risk = 1.0 / fk
    l_reached = {}
    for s in sensitive:
        table = l_diversity(frame, keys, s, strata)
        diverse = table.loc[table["l"] > 0, "l"]
        l_reached[s] = int(diverse.min()) if len(diverse) else None
    return {"k": int(fk.min()), "below_k": int((fk < k).sum()), "unique": int((fk == 1).sum()),
            "l": l_reached, "expected_reidentifications": round(float(risk.sum()), 2),
            "max_risk": round(float(risk.max()), 4)}


def _released_key(original: pd.Series, ladder: _Ladder, level: int, codes: np.ndarray) -> pd.Series:
    if level == 0:
        return original.where(codes >= 0)
    values = np.asarray(ladder.values[level] + [None], dtype=object)
    released = values[codes]  # -1 -> None
    numeric = all(isinstance(v, int | np.integer) for v in ladder.values[level])
    return pd.Series(pd.array(released, dtype="Int64" if numeric else "string"),
                     index=original.index)


def anonymise_microdata(
    frame: pd.DataFrame,
    keys: Sequence[KeyVariable | str],
    sensitive: Sequence[str] = (),
    *,
    k: int = 10,
    min_diversity: int = 2,
    strata: Sequence[str] = (),
    max_suppression: float = 0.05,
) -> MicrodataRelease:
    """Protect a respondent-level frame: k-anonymity on the keys, l-diversity of the sensitive.

    Parameters
    ----------
    frame : DataFrame
        One row per respondent.
    keys : sequence of KeyVariable or str
        Key variables (quasi-identifiers), most important first, each with its recoding
        ladder (a bare column name has none: it can only be suppressed).
    sensitive : sequence of str
        Sensitive variables; may also be keys.
    k : int, default 10
        Every combination of key values (within a stratum) is shared by at least ``k`` rows.
    min_diversity : int, default 2
        ``l`` of l-diversity: every class (keys other than the sensitive variable) holds at
        least this many different values of each sensitive variable, or none. 1 switches the
        check off.
    strata : sequence of str
        Columns released unchanged within which k-anonymity holds (waves: one person may
        answer every wave, so rows of different waves never count towards the same ``k``).
    max_suppression : float, default 0.05
        Global recoding stops once at most this share of rows still violates; local
        suppression protects the rest.

    Returns
    -------
    MicrodataRelease

    Notes
    -----
    Steps: greedy global recoding along each key's ladder, local suppression of single key
    values for rows still in classes below ``k`` (fewest and least important keys first;
    rows no pattern protects have every key blanked together with spare rows of large
    classes), then suppression of the sensitive value in homogeneous classes. A blank
    (suppressed or unanswered) is a value of its own when classes are formed, so
    ``released.groupby(strata + keys, dropna=False).size().min() >= k``.

    Examples
    --------
    >>> people = pd.DataFrame({"org": ["A"] * 12 + ["B"] * 3,
    ...                        "lived": [1, 2] * 6 + [1, 1, 1]})
    >>> out = anonymise_microdata(people, ["org", "lived"], ["lived"], k=3)
    >>> int(key_frequencies(out.data, ["org", "lived"]).min()) >= 3
    True
    >>> out.summary["after"]["l"]
    {'lived': 2}
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise DisclosureError(f"k must be a whole number of at least 1, got {k!r}")
    if isinstance(min_diversity, bool) or not isinstance(min_diversity, int) or min_diversity < 1:
        raise DisclosureError(f"min_diversity must be a whole number of at least 1, got "
                              f"{min_diversity!r}")
    key_vars = [_as_key(key) for key in keys]
    names = [kv.name for kv in key_vars]
    missing = [c for c in [*names, *sensitive, *strata] if c not in frame.columns]
    if missing:
        raise DisclosureError(f"columns not in the data: {', '.join(missing)}")
    frame = frame.reset_index(drop=True)
    ladders = [_Ladder.build(kv, frame[kv.name]) for kv in key_vars]
    strata_codes = _strata_codes(frame, strata)
    sens = [_Sensitive(s, names.index(s) if s in names else None,
                       pd.factorize(frame[s], use_na_sentinel=True)[0].astype(np.int64))
            for s in sensitive]
    if not ladders:
        raise DisclosureError("at least one key variable is needed")
    best = _best_protection(ladders, strata_codes, sens, k, min_diversity, max_suppression)
    levels, X, withheld = best.levels, best.X, best.withheld
    sens = best.sensitive
    data = frame.copy()
    for j, (ladder, level) in enumerate(zip(ladders, levels, strict=True)):
        data[ladder.key.name] = _released_key(frame[ladder.key.name], ladder, level, X[:, j])
    for s in sens:
        if s.key_index is None:
            data[s.name] = frame[s.name].where(s.codes >= 0)
    kept = np.setdiff1d(np.arange(len(frame)), withheld)
    data = data.iloc[kept].reset_index(drop=True)
    summary = {"rows": len(frame), "rows_released": len(data),
               "rows_withheld": len(frame) - len(data), "keys": names,
               "sensitive": list(sensitive), "strata": list(strata), "k_required": k,
               "l_required": min_diversity,
               "information_loss": round(best.loss / max(len(frame) * len(names), 1), 4)}
    return _release(frame, data, ladders, levels, X[kept], kept, summary)


def _release(frame: pd.DataFrame, data: pd.DataFrame, ladders: list[_Ladder], levels: list[int],
             X: np.ndarray, kept: np.ndarray, summary: dict[str, Any]) -> MicrodataRelease:
    """Count what was changed and measure the file before and after."""
    names, sensitive = summary["keys"], summary["sensitive"]
    strata, k = summary["strata"], summary["k_required"]
    rows, labels = [], {}
    for j, (ladder, level) in enumerate(zip(ladders, levels, strict=True)):
        base = ladder.base[kept]
        changed = ladder.changed[level]
        # A key with no value at all (every answer missing) has nothing to recode.
        recoded = ((base >= 0) & (X[:, j] >= 0) & changed[np.maximum(base, 0)] if changed.size
                   else np.zeros(len(base), dtype=bool))
        rows.append({"variable": ladder.key.name,
                     "role": "key, sensitive" if ladder.key.name in sensitive else "key",
                     "recoding": ladder.key.recodes[level - 1].description if level else "",
                     "recoded": int(recoded.sum()),
                     "suppressed": int(((base >= 0) & (X[:, j] < 0)).sum())})
        if level:
            labels[ladder.key.name] = {v: str(ladder.labels[level].get(v, v))
                                       for v in ladder.values[level]}
    for s in sensitive:
        if s not in names:
            before = frame[s].iloc[kept].notna().to_numpy()
            rows.append({"variable": s, "role": "sensitive", "recoding": "", "recoded": 0,
                         "suppressed": int((before & data[s].isna().to_numpy()).sum())})
    variables = pd.DataFrame(rows, columns=["variable", "role", "recoding", "recoded",
                                            "suppressed"])
    key_cells = len(data) * len(names)
    is_key = variables["role"] != "sensitive"
    changed = int(variables.loc[is_key, ["recoded", "suppressed"]].to_numpy().sum())
    summary.update({
        "before": _measures(frame, names, sensitive, strata, k),
        "after": _measures(data, names, sensitive, strata, k),
        "key_cells_changed": changed,
        "key_cells_changed_share": round(changed / key_cells, 4) if key_cells else 0.0,
    })
    return MicrodataRelease(data, variables, summary, labels)


# --------------------------------------------------------------------------------------------
# A study's respondent-level file
# --------------------------------------------------------------------------------------------

#: Wider groups of the bundled workforce-context items (a study's ``microdata.recode`` wins).
WORKFORCE_RECODES: dict[str, list[dict[str, list[int]]]] = {
    "wf_role": [
        {"Front-line (direct service, case management, advocacy)": [1, 2, 3],
         "Supervision and leadership": [4, 5], "Operations": [6]},
        {"Front-line (direct service, case management, advocacy)": [1, 2, 3],
         "Supervision, leadership and operations": [4, 5, 6]},
    ],
    "wf_tenure": [
        {"Less than 3 years": [1, 2], "3-5 years": [3], "6 years or more": [4, 5]},
        {"Less than 3 years": [1, 2], "3 years or more": [3, 4, 5]},
    ],
    "wf_payband": [
        {"Under $40,000": [1, 2], "$40,000-$59,999": [3, 4], "$60,000 or more": [5, 6]},
        {"Under $50,000": [1, 2, 3], "$50,000 or more": [4, 5, 6]},
    ],
}

#: Default key variables after the organisation, most important first: (what, column pattern).
#: Lived experience comes early so that local suppression blanks it last.
DEFAULT_KEY_PATTERNS = [
    ("lived experience", r"lived"),
    ("role", r"^(?!.*peer).*(^|_)role$"),
    ("tenure", r"tenure"),
    ("pay band", r"pay_?band|salary|income"),
    ("age band", r"(^|_)age(_?band|_?group|_?years)?$"),
    ("gender", r"gender|(^|_)sex$"),
]
_NOMINAL = re.compile(r"role|gender|(^|_)sex$")
_SUPPRESS_ONLY = re.compile(r"lived|peer")
#: Platform metadata that says nothing a researcher needs and much about a person.
_LEFT_OUT = {"response_id": "replaced by `respondent`, a number in random order",
             "source_row": "row in the source file: links back to it",
             "batch_id": "links back to the source file",
             "progress": "platform metadata", "duration_seconds": "platform metadata"}


def default_key_variables(columns: Sequence[str], role_column: str = "wf_role") -> list[str]:
    """The default key variables present among ``columns``, most important first.

    ``org``, then the first column matching each of lived experience, role (the study's
    ``role_column`` first), tenure, pay band, age band and gender.

    Examples
    --------
    >>> default_key_variables(["org", "wave", "wf_role", "wf_payband", "wf_lived_exp", "pq01"])
    ['org', 'wf_lived_exp', 'wf_role', 'wf_payband']
    """
    keys = ["org"] if "org" in columns else []
    for what, pattern in DEFAULT_KEY_PATTERNS:
        found = [c for c in columns if re.search(pattern, str(c)) and c not in keys]
        if what == "role" and role_column in columns:
            found = [role_column]
        keys += found[:1]
    return keys


def _key_ladder(study: Study, frame: pd.DataFrame, column: str,
                labels: Mapping[Any, str]) -> KeyVariable:
    k = study.config.min_cell
    declared = study.config.microdata.recode
    if column == "org":
        ladder = organisation_recodes(frame["org"], k)
    elif column in declared or column in WORKFORCE_RECODES:
        ladder = grouped_recodes(declared.get(column) or WORKFORCE_RECODES[column])
    elif _SUPPRESS_ONLY.search(column):
        ladder = ()
    elif _NOMINAL.search(column) or not pd.api.types.is_numeric_dtype(frame[column]):
        ladder = rare_category_recodes(frame[column], k, labels)
    else:
        ladder = ordinal_recodes(frame[column], labels)
    return KeyVariable(column, ladder, dict(labels))


def _releasable(study: Study, frame: pd.DataFrame, protected: Sequence[str]
                ) -> tuple[pd.DataFrame, dict[str, str]]:
    """The columns a protected file may hold, and why the others are left out.

    Left out: links back to the source and platform metadata, a copy of the organisation, open
    coded text, and items their instrument marks sensitive unless they are protected as key or
    sensitive variables (a designated peer role is known to colleagues and tells lived
    experience).
    """
    dropped = {c: why for c, why in _LEFT_OUT.items() if c in frame.columns}
    org_column = study.config.org_column
    if org_column and org_column != "org" and org_column in frame.columns:
        dropped[org_column] = "the same as org, which is released recoded"
    for column, sql_type in item_columns(study).items():
        if sql_type == "TEXT" and column in frame.columns and column not in protected:
            dropped.setdefault(column, "open-coded text: may name a person or a small group")
    for inst in study.instruments():
        for item in inst.items:
            if item.sensitive and item.id in frame.columns and item.id not in protected:
                dropped.setdefault(item.id, "marked sensitive by its instrument; declare it as "
                                   "a key or sensitive variable in study.yaml to release it")
    return frame.drop(columns=list(dropped)), dropped


def _top_bottom(study: Study, data: pd.DataFrame, keys: Sequence[str], k: int
                ) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """Top- and bottom-code the numeric items that are not keys."""
    coded: dict[str, dict[str, Any]] = {}
    for column, sql_type in item_columns(study).items():
        if sql_type != "DOUBLE" or column not in data.columns or column in keys:
            continue
        values, top, bottom = top_bottom_code(data[column], k)
        before = pd.to_numeric(data[column], errors="coerce")
        changed = int((before.notna() & (values.isna() | (values != before))).sum())
        data[column] = values
        coded[column] = {"top": top, "bottom": bottom, "cells": changed}
    return data, coded


def _in_random_order(data: pd.DataFrame, seed: int | None) -> pd.DataFrame:
    """Rows shuffled within waves and numbered afresh: the order of the store (organisation,
    file, row) would otherwise tell which recoded rows belong together."""
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    shuffled = data.iloc[rng.permutation(len(data))]
    if "wave" in shuffled.columns:
        shuffled = shuffled.sort_values("wave", kind="stable")
    shuffled = shuffled.reset_index(drop=True)
    shuffled.insert(0, "respondent", np.arange(1, len(shuffled) + 1))
    return shuffled


@dataclass
class StudyMicrodata:
    """A study's respondent-level frame, ready to write, with labels and its risk report."""

    data: pd.DataFrame
    variable_labels: dict[str, str]
    value_labels: dict[str, dict[Any, str]]
    report: dict[str, Any]
    identifiable: bool


def _settings(study: Study, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    settings = study.config.microdata
    keys = list(settings.key_variables) if settings.key_variables is not None else \
        default_key_variables(list(frame.columns), study.config.role_column)
    sensitive = list(settings.sensitive) if settings.sensitive is not None else \
        [c for c in keys if re.search(r"lived", c)][:1]
    missing = [c for c in [*keys, *sensitive] if c not in frame.columns]
    if missing:
        raise DisclosureError(f"study.yaml: microdata: {', '.join(missing)} not in the stored "
                              "responses")
    return keys, sensitive


#: Carries each row's respondent key through protection (never written to a file).
_KEY = "\0respondent"
#: How many times a file is coarsened against the ledger before the export gives up.
_MAX_ROUNDS = 8
_LEFT_OUT_FOR_LEDGER = ("left out: with it, the file's tallies would give away values that "
                        "earlier outputs of this study withheld")


@dataclass(frozen=True)
class _Coarsening:
    """What the ledger made coarser than k-anonymity alone, step by step: organisations
    released only inside an "other" group, then no organisation at all, then scales left out
    (their items), then no sensitive variables."""

    forced: frozenset[str] = frozenset()
    no_org: bool = False
    no_scales: frozenset[str] = frozenset()
    no_sensitive: bool = False
    rounds: int = 0

    def apply(self, frame: pd.DataFrame, k: int) -> pd.DataFrame:
        out = frame.copy()
        if self.no_org:
            out["org"] = "all organisations"
        elif self.forced:
            sizes = out["org"].value_counts().sort_values(kind="stable")
            group = sizes if "*" in self.forced else sizes[sizes.index.isin(self.forced)]
            if len(group) == 1 and len(sizes) > 1:  # an "other" group never names anyone
                group = sizes.loc[[group.index[0], sizes.index[~sizes.index.isin(group.index)][0]]]
            out["org"] = out["org"].replace(_other_groups(group.sort_values(kind="stable"), k))
        return out

    def after(self, judged: FileJudgement) -> _Coarsening | None:
        """The next coarser step for what is still exposed (None when there is none)."""
        step = {"rounds": self.rounds + 1}
        if judged.organisations - self.forced and not self.no_org:
            return replace(self, forced=self.forced | judged.organisations, **step)
        if not self.no_org and judged.organisations and "*" not in self.forced:
            # Grouped with organisations whose figures were shown: group every organisation
            # (small ones with small ones) before releasing none.
            return replace(self, forced=self.forced | {"*"}, **step)
        if not self.no_org and judged.organisations:
            return replace(self, no_org=True, **step)
        if judged.scales - self.no_scales:
            return replace(self, no_scales=self.no_scales | judged.scales, **step)
        if not self.no_sensitive:
            return replace(self, no_sensitive=True, **step)
        if not self.no_org:
            return replace(self, no_org=True, **step)
        return None

    def summary(self, organisations: int) -> dict[str, Any]:
        grouped = organisations if "*" in self.forced else len(self.forced)
        return {"rounds": self.rounds,
                "organisations_grouped_for_earlier_outputs": grouped,
                "organisations": organisations,
                "organisation_left_out": self.no_org,
                "scales_left_out": sorted(self.no_scales),
                "sensitive_left_out": self.no_sensitive}


@dataclass
class _ProtectedFile:
    data: pd.DataFrame
    release: MicrodataRelease
    coded: dict[str, dict[str, Any]]
    dropped: dict[str, str]
    keys: list[str]
    sensitive: list[str]


def _protect_file(study: Study, frame: pd.DataFrame, keys: list[str], sensitive: list[str],
                  strata: list[str], value_labels: dict[str, dict[Any, str]],
                  coarsening: _Coarsening) -> _ProtectedFile:
    """One protected file: the coarsening asked for, then k-anonymity and l-diversity."""
    k, settings = study.config.min_cell, study.config.microdata
    source = coarsening.apply(frame, k)
    extra_dropped: dict[str, str] = {}
    if coarsening.no_sensitive:
        extra_dropped = dict.fromkeys(sensitive, _LEFT_OUT_FOR_LEDGER)
        source = source.drop(columns=sensitive)
        keys = [c for c in keys if c not in sensitive]
        sensitive = []
    for inst in study.instruments():
        for scale in inst.scales:
            if scale.id in coarsening.no_scales:
                items = [c for c in scale.items if c in source.columns and c not in keys]
                extra_dropped.update(dict.fromkeys(items, _LEFT_OUT_FOR_LEDGER))
                source = source.drop(columns=items)
    prepared, dropped = _releasable(study, source, [*keys, *sensitive])
    dropped.update(extra_dropped)
    key_vars = [_key_ladder(study, prepared, c, value_labels.get(c, {})) for c in keys]
    release = anonymise_microdata(prepared, key_vars, sensitive, k=k, strata=strata,
                                  min_diversity=settings.l_diversity,
                                  max_suppression=settings.max_suppression)
    data, coded = _top_bottom(study, release.data, keys, k)
    return _ProtectedFile(data, release, coded, dropped, keys, sensitive)


def _judge_against_ledger(study: Study, made: _ProtectedFile, frame: pd.DataFrame, *,
                          record: bool, command: str) -> FileJudgement:
    """The file's tallies against everything the study released before."""
    ledger = Ledger.for_study(study)
    data = made.data
    file_keys = data[_KEY].reset_index(drop=True)
    changed = {*made.keys, *made.coded, _KEY}
    unchanged = [c for c in data.columns if c not in changed]
    scales = [sc.id for inst in study.instruments() for sc in inst.scales
              if sc.items and set(sc.items) <= set(unchanged)]
    revealed, domains, linked = revealed_dimensions(ledger, file_keys, columns=unchanged,
                                                    scales=scales)
    tallied = [*(["wave"] if "wave" in data.columns else []), *made.keys]
    true_org = file_keys.map(frame.set_index(_KEY)["org"].astype(str))
    results = file_results(data.reset_index(drop=True), file_keys, tallied, revealed, domains,
                           linked, true_org)
    return judge_file(results, study, ledger, real_orgs=frame["org"].astype(str).unique(),
                      record=record, command=command)


def study_microdata(study: Study, *, identifiable: bool = False, seed: int | None = None,
                    record: bool = False, command: str = "") -> StudyMicrodata:
    """The study's respondent-level data, protected unless ``identifiable``.

    Protected: the stored responses after the exclusion rules, with platform metadata and
    links back to the source left out, key variables recoded and suppressed by
    :func:`anonymise_microdata` (``k`` = the study's ``min_cell``, within each wave), numeric
    items top- and bottom-coded, rows in random order numbered afresh; then judged against the
    study's release ledger (:mod:`~fieldsurvey.disclosure.file_release`) and coarsened until
    its tallies give away nothing earlier outputs withheld (``record`` records them).
    ``report`` is the risk report (JSON-able). Identifiable: the stored responses unchanged,
    with the risk they carry; not a release, so neither judged nor recorded.
    """
    frame = load_responses(study).drop(columns=["batch_id"], errors="ignore")
    variable_labels, value_labels = study_labels(study, frame)
    keys, sensitive = _settings(study, frame)
    strata = ["wave"] if "wave" in frame.columns and frame["wave"].nunique() > 1 else []
    k = study.config.min_cell
    if identifiable:
        report = {"identifiable": True, "warning": IDENTIFIABLE_WARNING, "rows": len(frame),
                  "keys": keys, "sensitive": sensitive, "strata": strata, "k_required": k,
                  "risk": _measures(frame, keys, sensitive, strata, k),
                  "ledger": "not a release: neither judged against nor recorded in the ledger"}
        return StudyMicrodata(frame, variable_labels, value_labels, report, True)
    frame = frame.assign(**{_KEY: respondent_keys(frame).to_numpy()})
    scale_ids = {sc.id for inst in study.instruments() for sc in inst.scales}
    coarsening: _Coarsening | None = _Coarsening()
    while coarsening is not None and coarsening.rounds < _MAX_ROUNDS:
        made = _protect_file(study, frame, keys, sensitive, strata, value_labels, coarsening)
        judged = _judge_against_ledger(study, made, frame, record=record, command=command)
        if not judged.exposed:
            break
        judged.scales &= scale_ids  # links also name organisations and answered-flags
        coarsening = coarsening.after(judged)
    else:
        raise DisclosureError(
            "export-data: no protected file can be released beside this study's earlier "
            "outputs: even without organisations, the scales concerned and the sensitive "
            f"variables, its tallies would give away {len(judged.exposed)} value(s) those "
            "outputs withheld (the release ledger holds them; `fieldsurvey releases STUDY` "
            "lists the outputs). A file exported before the reports is judged first and keeps "
            "more detail. For a researcher under a data-sharing agreement, export an "
            "identifiable file (--identifiable); never publish it.")
    data = made.data.drop(columns=[_KEY])
    for column, labels in made.release.value_labels.items():
        if labels and all(isinstance(v, int | np.integer) for v in labels):
            value_labels[column] = {int(v): label for v, label in labels.items()}
        else:
            value_labels.pop(column, None)
    for column, coding in made.coded.items():
        variable_labels[column] = (f"{variable_labels.get(column, column)} (top-coded at "
                                   f"{coding['top']:g}, bottom-coded at {coding['bottom']:g})"
                                   if coding["top"] is not None else variable_labels.get(column, column))
    variable_labels["respondent"] = "Respondent (a number in random order)"
    report = _risk_report(made.release, made.coded, made.dropped, data)
    report["ledger"] = coarsening.summary(int(frame["org"].nunique()))
    return StudyMicrodata(_in_random_order(data, seed), variable_labels, value_labels, report,
                          False)


def _risk_report(release: MicrodataRelease, coded: dict[str, dict[str, Any]],
                 dropped: dict[str, str], data: pd.DataFrame) -> dict[str, Any]:
    summary = release.summary
    cells = int(data.size)
    changed = int(release.variables[["recoded", "suppressed"]].to_numpy().sum()
                  + sum(c["cells"] for c in coded.values()))
    return {
        "identifiable": False,
        **summary,
        "variables": release.variables.to_dict(orient="records"),
        "top_bottom_coded": coded,
        "columns_left_out": dropped,
        "cells": cells,
        "cells_changed": changed,
        "cells_changed_share": round(changed / cells, 4) if cells else 0.0,
    }


@dataclass
class MicrodataExport:
    """What :func:`export_microdata` wrote."""

    path: Path
    metadata_path: Path
    report_path: Path
    identifiable: bool
    report: dict[str, Any]


def export_microdata(study: Study, fmt: str = "csv", out: str | Path | None = None, *,
                     identifiable: bool = False, seed: int | None = None) -> MicrodataExport:
    """Write the study's respondent-level file, its ``.metadata.json`` and its risk report.

    By default the file is protected (:func:`study_microdata`): every combination of key
    values is shared by at least ``min_cell`` respondents within each wave, and no class is
    homogeneous in a sensitive variable. ``identifiable=True`` writes the stored responses
    unchanged; the file label, the metadata and the report say that it is identifiable.

    Examples
    --------
    >>> result = export_microdata(study, "sav")  # doctest: +SKIP
    >>> result.report["after"]["k"] >= study.config.min_cell  # doctest: +SKIP
    True
    """
    if fmt not in FORMATS:
        raise DisclosureError(f"format must be one of {', '.join(FORMATS)}")
    made = study_microdata(study, identifiable=identifiable, seed=seed, record=not identifiable,
                           command=f"export-data --format {fmt}")
    name = "responses-identifiable" if identifiable else "responses"
    out = Path(out) if out else study.exports_dir / f"{name}.{fmt}"
    label = IDENTIFIABLE_WARNING if identifiable else (
        f"Protected respondent-level data: k-anonymity k={study.config.min_cell}; "
        "see the .risk-report.md beside this file")
    # Declared missing codes go back only into the identifiable file: in the protected one a
    # refusal would be a category of its own beside recoded and suppressed values.
    write_data(made.data, fmt, out, variable_labels=made.variable_labels,
               value_labels=made.value_labels, file_label=label,
               declared_missing=declared_missing_cells(study, made.data) if identifiable else None)
    metadata = {"file": out.name, "study": study.config.title,
                "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "columns": list(map(str, made.data.columns)),
                "value_labels": {c: {str(k): v for k, v in labels.items()}
                                 for c, labels in made.value_labels.items()
                                 if c in made.data.columns},
                **made.report}
    metadata_path = write_metadata(out, metadata)
    report_path = out.with_name(out.stem + ".risk-report.md")
    report_path.write_text(risk_report_markdown(metadata), encoding="utf-8")
    return MicrodataExport(out, metadata_path, report_path, identifiable, made.report)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def risk_summary_lines(report: Mapping[str, Any]) -> list[str]:
    """The risk report in a few plain lines (printed by ``export-data``)."""
    keys = ", ".join(report["keys"])
    within = " within each wave" if report.get("strata") else ""
    if report.get("identifiable"):
        risk = report["risk"]
        return [report["warning"],
                f"On the key variables ({keys}){within}: {_fmt(risk['unique'])} of "
                f"{_fmt(report['rows'])} rows are unique and {_fmt(risk['below_k'])} are in "
                f"groups smaller than {report['k_required']} (k reached: {_fmt(risk['k'])})."]
    after, before = report["after"], report["before"]
    l_text = ", ".join(f"{s} l = {_fmt(v)}" for s, v in after["l"].items()) or "none declared"
    changed = [f"{v['variable']} ({v['recoding'] or 'not recoded'}: {v['recoded']:,} recoded, "
               f"{v['suppressed']:,} suppressed)" for v in report["variables"]]
    return [
        f"Protected: every combination of {keys}{within} is shared by at least "
        f"{report['k_required']} rows (k reached: {_fmt(after['k'])}; before: "
        f"{_fmt(before['k'])}, {_fmt(before['unique'])} unique rows).",
        f"Sensitive: {l_text} (required {report['l_required']}; no group has a single value).",
        "Values changed: " + "; ".join(changed) + ".",
        f"Information lost: {report['cells_changed_share']:.1%} of all cells changed "
        f"({report['key_cells_changed_share']:.1%} of key cells); loss metric "
        f"{report['information_loss']:.3f}; rows withheld: {report['rows_withheld']}.",
        f"Expected re-identifications: {before['expected_reidentifications']} before, "
        f"{after['expected_reidentifications']} after (largest individual risk "
        f"{after['max_risk']}).",
        *_ledger_lines(report.get("ledger")),
    ]


def _ledger_lines(ledger: Mapping[str, Any] | None) -> list[str]:
    """What judging the file against the study's earlier outputs changed."""
    if not isinstance(ledger, Mapping):
        return []
    changes = []
    if ledger["organisations_grouped_for_earlier_outputs"]:
        changes.append(f"{ledger['organisations_grouped_for_earlier_outputs']} of "
                       f"{ledger['organisations']} organisations released only inside an "
                       "'other' group")
    if ledger["organisation_left_out"]:
        changes.append("no organisation released")
    if ledger.get("scales_left_out"):
        changes.append("items of " + ", ".join(ledger["scales_left_out"]) + " left out")
    if ledger["sensitive_left_out"]:
        changes.append("sensitive variables left out")
    done = "; ".join(changes) if changes else "nothing more needed"
    return [f"Against this study's earlier outputs (release ledger): {done}; the file's "
            "tallies are recorded in the ledger, so later outputs are judged with them."]


def risk_report_markdown(metadata: Mapping[str, Any]) -> str:
    """The risk report written beside the file (``<name>.risk-report.md``)."""
    lines = [f"# Disclosure risk report: {metadata['file']}", "",
             f"Study: {metadata['study']}. Written {metadata['written_at']}.", ""]
    lines += [f"- {line}" for line in risk_summary_lines(metadata)]
    if metadata.get("identifiable"):
        return "\n".join(lines) + "\n"
    before, after = metadata["before"], metadata["after"]
    lines += ["", "| measure | before | after |", "|---|---|---|"]
    rows = [("k reached (smallest group)", "k"), ("rows in groups below k", "below_k"),
            ("unique rows", "unique"), ("expected re-identifications",
                                        "expected_reidentifications"),
            ("largest individual risk", "max_risk")]
    lines += [f"| {label} | {_fmt(before[key])} | {_fmt(after[key])} |" for label, key in rows]
    lines += [f"| l reached ({s}) | {_fmt(before['l'][s])} | {_fmt(after['l'][s])} |"
              for s in after["l"]]
    lines += ["", "| variable | role | recoding | recoded | suppressed |", "|---|---|---|---|---|"]
    lines += [f"| {v['variable']} | {v['role']} | {v['recoding'] or '-'} | {v['recoded']:,} | "
              f"{v['suppressed']:,} |" for v in metadata["variables"]]
    lines += ["", "Top- and bottom-coded: " + (", ".join(
        f"{c} at {v['top']:g} and {v['bottom']:g} ({v['cells']:,} cells)"
        for c, v in metadata["top_bottom_coded"].items() if v["top"] is not None) or "none")]
    lines += ["", "Columns left out: " + "; ".join(
        f"{c} ({why})" for c, why in metadata["columns_left_out"].items())]
    lines += ["", "A blank is a value of its own: a group's key values are counted as written. "
              "A sensitive value suppressed for a whole group says that the group had a single "
              "value; it does not say which. See docs/microdata.md."]
    return "\n".join(lines) + "\n"
