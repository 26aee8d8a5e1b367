"""The release ledger: every value a study ever released, and every cell it withheld.

Protecting each output against itself is not enough: an organisation's report beside the
field-wide one, a benchmark before and after a late file, last year's output beside this
year's - each pair gives differences nobody meant to publish. So every gated release is
recorded, and every new release is judged together with all earlier ones
(:func:`~fieldsurvey.disclosure.gate` with ``ledger=``).

What is recorded (tables ``ledger_*`` in the study's store):

``ledger_releases``
    one row per release: output, command, when, minimum cell size, respondents.
``ledger_cells``
    every cell the release showed or withheld, as its definition over recorded dimensions.
``ledger_values``
    every number shown: table, row, column, value, and the cell it rests on.
``ledger_dims`` / ``ledger_keysets``
    the dimensions cells are defined on, as they were (one code per respondent key), so a
    cell of last year's release still means the same people after new files arrive.
``ledger_dim_facts``
    what every reader knows of a dimension: the score range of each category (a scale's
    bands and bins) and the dimension it is known from (a size band from the organisation).
``ledger_moments``
    every mean and SD shown, with its n.

Respondents are identified by a one-way hash of their key (organisation, wave, response id);
no response id is stored here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.disclosure.structure import Universe
from fieldsurvey.disclosure.suppression import (
    GatedRelease,
    Joint,
    alone,
    phantom_ranges,
    revealed_units,
    universe_ranges,
    values_present,
)
from fieldsurvey.results.cells import Except
from fieldsurvey.results.tables import COUNT_COL, Results

ABSENT = "\0absent"
CURRENT = "@in"
_KEY_BYTES = 16

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_releases (
    release_id TEXT PRIMARY KEY, seq INTEGER, output TEXT, command TEXT, created_at TEXT,
    min_cell INTEGER, keyset_id TEXT, respondents INTEGER, fingerprint TEXT);
CREATE TABLE IF NOT EXISTS ledger_keysets (keyset_id TEXT PRIMARY KEY, n INTEGER, keys BLOB);
CREATE TABLE IF NOT EXISTS ledger_dims (
    dim_id TEXT PRIMARY KEY, name TEXT, keyset_id TEXT, link TEXT, categories TEXT, codes BLOB);
CREATE TABLE IF NOT EXISTS ledger_cells (
    release_id TEXT, cell TEXT, keyset_id TEXT, status TEXT, n INTEGER);
CREATE TABLE IF NOT EXISTS ledger_values (
    release_id TEXT, table_name TEXT, row_no INTEGER, column_name TEXT, value TEXT, cell TEXT);
CREATE TABLE IF NOT EXISTS ledger_moments (
    release_id TEXT, cell TEXT, kind TEXT, value DOUBLE, n INTEGER);
CREATE TABLE IF NOT EXISTS ledger_dim_facts (
    dim_id TEXT PRIMARY KEY, ranges TEXT, determined_by TEXT);
"""


def hash_keys(keys: Sequence[str]) -> np.ndarray:
    """One-way 16-byte digests of respondent keys (as a fixed-width bytes array)."""
    return np.array(
        [hashlib.sha256(str(k).encode("utf-8")).digest()[:_KEY_BYTES] for k in keys],
        dtype=f"S{_KEY_BYTES}",
    )


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:24]


def _encode_value(value: object) -> object:
    if isinstance(value, Except):
        return {"except": _plain(value.value)}
    return _plain(value)


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode_value(value: object) -> object:
    if isinstance(value, dict) and "except" in value:
        return Except(value["except"])
    return value


@dataclass
class _Dim:
    dim_id: str
    name: str
    keyset_id: str
    link: str | None
    categories: list[object]
    codes: np.ndarray
    #: Score range of each category of a dimension that cuts a scale's score (bands, bins).
    ranges: dict[object, tuple[float, float]] = field(default_factory=dict)
    #: The name of the dimension of the same release every reader can tell this one from.
    determined_by: str | None = None


@dataclass
class _Store:
    """Ledger tables in memory (an in-memory ledger, or a cache of the study's)."""

    releases: list[dict[str, Any]] = field(default_factory=list)
    keysets: dict[str, np.ndarray] = field(default_factory=dict)
    dims: dict[str, _Dim] = field(default_factory=dict)
    cells: list[dict[str, Any]] = field(default_factory=list)
    values: list[pd.DataFrame] = field(default_factory=list)
    moments: list[dict[str, Any]] = field(default_factory=list)


class Ledger:
    """A study's release ledger (or an in-memory one for data outside a study).

    Examples
    --------
    >>> from fieldsurvey.disclosure import Results, gate
    >>> ledger = Ledger.in_memory()
    >>> people = pd.DataFrame({"org": ["A"] * 7 + ["B"] * 30})
    >>> keys = [f"r{i}" for i in range(37)]
    >>> field_only = pd.DataFrame({"org": [None]})
    >>> _ = gate(Results(people, ["org"], keys=keys).add_table("t", field_only), ledger=ledger)
    >>> by_org = pd.DataFrame({"org": ["B"]})
    >>> gate(Results(people, ["org"], keys=keys).add_table("t", by_org), ledger=ledger)["t"]["n"]
    0    <NA>
    Name: n, dtype: Int64
    """

    def __init__(self, path: str | None = None) -> None:
        self._path = path
        self._mem = _Store() if path is None else None

    @classmethod
    def in_memory(cls) -> Ledger:
        """A ledger that lives as long as the process (outputs not about a study)."""
        return cls(None)

    @classmethod
    def for_study(cls, study: Any) -> Ledger:
        """The ledger kept in a study's store (``store.duckdb``)."""
        return cls(str(study.store_path))

    # -- storage ---------------------------------------------------------------------------

    def _connect(self, read_only: bool = False) -> Any:
        import duckdb

        con = duckdb.connect(self._path, read_only=read_only)
        if not read_only:
            con.execute(_SCHEMA)
        return con

    def _has_tables(self, con: Any, table: str = "ledger_releases") -> bool:
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchone()[0]
        return bool(found)

    def _load(self) -> _Store:
        if self._mem is not None:
            return self._mem
        store = _Store()
        con = self._connect(read_only=True)
        try:
            if not self._has_tables(con):
                return store
            store.releases = con.execute(
                "SELECT * FROM ledger_releases ORDER BY seq").df().to_dict(orient="records")
            cells = con.execute("SELECT * FROM ledger_cells").df()
            store.cells = cells.to_dict(orient="records")
            if self._has_tables(con, "ledger_moments"):  # ledgers from before 2026-12 lack it
                store.moments = con.execute("SELECT * FROM ledger_moments").df().to_dict(
                    orient="records")
            needed = _dims_of(store.cells)
            if needed:
                dims = con.execute(
                    "SELECT * FROM ledger_dims WHERE dim_id IN (SELECT unnest(?))", [needed]
                ).df()
                for r in dims.itertuples():
                    store.dims[r.dim_id] = _Dim(r.dim_id, r.name, r.keyset_id, r.link,
                                                json.loads(r.categories),
                                                np.frombuffer(r.codes, dtype=np.int32))
                if self._has_tables(con, "ledger_dim_facts"):  # ledgers before 2026-12-08
                    for dim_id, text, determined_by in con.execute(
                            "SELECT dim_id, ranges, determined_by FROM ledger_dim_facts "
                            "WHERE dim_id IN (SELECT unnest(?))", [needed]).fetchall():
                        if dim_id in store.dims:
                            store.dims[dim_id].ranges = {
                                c: (float(lo), float(hi)) for c, lo, hi in json.loads(text)}
                            store.dims[dim_id].determined_by = determined_by
            sets = {c["keyset_id"] for c in store.cells} | {d.keyset_id for d in store.dims.values()}
            if sets:
                rows = con.execute(
                    "SELECT keyset_id, keys FROM ledger_keysets WHERE keyset_id IN "
                    "(SELECT unnest(?))", [sorted(sets)]).fetchall()
                for ks, blob in rows:
                    store.keysets[ks] = np.frombuffer(blob, dtype=f"S{_KEY_BYTES}")
        finally:
            con.close()
        return store

    # -- joint universe ---------------------------------------------------------------------

    def joint(self, release: Results) -> Joint:
        """The release's respondents together with everyone earlier releases rested on."""
        if release.keys is None:
            return alone(release)
        store = self._load()
        if not store.cells:
            return alone(release)
        own_keys = hash_keys(release.keys)
        own_ids = _dim_ids(release, own_keys)
        union = np.unique(np.concatenate([own_keys, *store.keysets.values()]))
        columns: dict[str, np.ndarray] = {}
        domains: dict[str, list[object]] = {}
        position = np.searchsorted(union, own_keys)
        for d in release.all_dims:
            values = np.full(len(union), ABSENT, dtype=object)
            values[position] = release.respondents[d].to_numpy()
            columns[d] = values
            domains[d] = [*release.domains[d], ABSENT]
        present = np.full(len(union), "out", dtype=object)
        present[position] = "in"
        columns[CURRENT] = present
        domains[CURRENT] = ["in", "out"]
        name_of = {dim_id: name for name, dim_id in own_ids.items()}
        linked = dict(release.linked)
        ranges = universe_ranges(release)
        own_keyset = _digest(np.sort(own_keys).tobytes())
        presence = {d: CURRENT for d in release.all_dims}
        for dim in store.dims.values():
            if dim.dim_id in name_of:
                continue
            keys = store.keysets[dim.keyset_id]
            values = np.full(len(union), ABSENT, dtype=object)
            values[np.searchsorted(union, keys)] = np.asarray(dim.categories, dtype=object)[
                dim.codes]
            columns[dim.dim_id] = values
            domains[dim.dim_id] = [*dim.categories, ABSENT]
            name_of[dim.dim_id] = dim.dim_id
            if dim.link:
                # One respondent's answers give every release's bands of a scale alike.
                linked[dim.dim_id] = dim.link
            if dim_ranges := phantom_ranges(dim.name, dim.ranges):
                ranges[dim.dim_id] = dim_ranges
            presence[dim.dim_id] = (CURRENT if dim.keyset_id == own_keyset
                                    else f"@ks:{dim.keyset_id}")
        for ks, keys in store.keysets.items():
            if ks == own_keyset:
                continue  # the same respondents as now: their cells need no version marker
            flag = np.full(len(union), "out", dtype=object)
            flag[np.searchsorted(union, keys)] = "in"
            columns[f"@ks:{ks}"] = flag
            domains[f"@ks:{ks}"] = ["in", "out"]
        frame = pd.DataFrame(columns)
        order = list(frame.columns)
        rank = {c: i for i, c in enumerate(order)}

        def translate(cell: tuple) -> tuple:
            return (*cell, (CURRENT, "in"))

        def universe_cell(stored: str, keyset_id: str) -> tuple:
            items = [(name_of[d], _decode_value(v)) for d, v in json.loads(stored)]
            same = keyset_id == own_keyset
            items.append((CURRENT, "in") if same else (f"@ks:{keyset_id}", "in"))
            return tuple(sorted(items, key=lambda i: rank[i[0]]))

        prior = [(universe_cell(c["cell"], c["keyset_id"]), c["status"]) for c in store.cells]
        keyset_of = {r["release_id"]: r["keyset_id"] for r in store.releases}
        moments = [(universe_cell(m["cell"], keyset_of[m["release_id"]]), m["kind"],
                    float(m["value"]), int(m["n"]))
                   for m in store.moments if m["release_id"] in keyset_of]
        universe = Universe(frame, domains, linked, absent=ABSENT,
                            determined_by=_determined_by(release, store, name_of),
                            ranges=ranges, presence=presence)
        origin = {d.dim_id: d.name for d in store.dims.values() if d.dim_id in columns}
        return Joint(universe, translate, prior, moments, origin)

    def dimensions(self) -> dict[str, tuple[str, str | None]]:
        """Each recorded dimension's id -> the name it had in its release (``org``, ...) and
        its link (a band's scale; None when unlinked)."""
        return {dim_id: (dim.name, dim.link) for dim_id, dim in self._load().dims.items()}

    def recorded_dimensions(self, keys: Sequence[str], *, names: Sequence[str] = (),
                            links: Sequence[str] = (), absent: object = ABSENT
                            ) -> tuple[pd.DataFrame, dict[str, list[object]], dict[str, str]]:
        """Earlier releases' dimensions, as they were, for the respondents ``keys``.

        Only dimensions named in ``names`` or linked to one of ``links`` (a scale's bands and
        score ranges are linked to the scale). Columns are ``"<name>@<dimension id>"``;
        respondents outside a dimension's release get ``absent``. A respondent-level file that
        holds a scale's items gives every earlier release's bands of that scale: these are
        the columns such a file's tallies must be judged with. Returns the columns, each
        column's categories (as recorded, then ``absent``) and the links of linked ones.
        """
        store = self._load()
        hashed = hash_keys(keys)
        out: dict[str, np.ndarray] = {}
        domains: dict[str, list[object]] = {}
        linked: dict[str, str] = {}
        for dim_id, dim in store.dims.items():
            if dim.name not in names and dim.link not in links:
                continue
            recorded = store.keysets[dim.keyset_id]
            at = np.searchsorted(recorded, hashed)
            at_ok = np.minimum(at, len(recorded) - 1)
            found = (at < len(recorded)) & (recorded[at_ok] == hashed)
            values = np.full(len(hashed), absent, dtype=object)
            values[found] = np.asarray(dim.categories, dtype=object)[dim.codes[at_ok[found]]]
            out[f"{dim.name}@{dim_id[:12]}"] = values
            domains[f"{dim.name}@{dim_id[:12]}"] = [*dim.categories, absent]
            if dim.link:
                linked[f"{dim.name}@{dim_id[:12]}"] = dim.link
        return pd.DataFrame(out, index=pd.RangeIndex(len(hashed))), domains, linked

    # -- recording --------------------------------------------------------------------------

    def find_parts(self, parts: dict[str, str]) -> dict[str, str] | None:
        """For each part of a release (``{part: fingerprint}``), an earlier release that showed
        exactly it; None unless every part was released before.

        A part is one output inside a release (one report of a set released together): a
        report rebuilt on its own finds its part in the set it was released with.
        """
        found: dict[str, str] = {}
        for r in reversed(self._load().releases):
            try:
                recorded = json.loads(r.get("fingerprint") or "{}")
            except (TypeError, ValueError):
                continue
            for part, fp in parts.items():
                if part not in found and recorded.get(part) == fp:
                    found[part] = str(r["release_id"])
        return found if len(found) == len(parts) else None

    def shown_values(self, release_id: str) -> dict[tuple[str, int, str], str]:
        """Every value a release showed, by (table, row, column)."""
        values = self.values(release_id)
        if values.empty:
            return {}
        keys = zip(values["table_name"], values["row_no"].astype(int), values["column_name"],
                   strict=True)
        return dict(zip(keys, values["value"], strict=True))

    def record(self, gated: GatedRelease, release: Results, *, output: str, command: str,
               fingerprint: dict[str, str] | None = None) -> str:
        """Record a gated release: its cells (shown or withheld) and every value shown."""
        if release.keys is None:
            return ""
        own_keys = hash_keys(release.keys)
        order = np.argsort(own_keys, kind="stable")
        keyset_id = _digest(own_keys[order].tobytes())
        ids = _dim_ids(release, own_keys)
        store = self._load() if self._mem is not None else None
        seq = len(store.releases) + 1 if store is not None else self._next_seq()
        release_id = f"{seq:06d}-{_digest(keyset_id, output, command, str(seq))[:8]}"
        text = _CellText(ids)
        # Every shown table read once, for both what it reveals and the values it shows.
        arrays = {id(df): values_present(df) for df in gated.tables.values()}
        cells = _cell_rows(gated, release, text, keyset_id, release_id, arrays)
        values = _value_rows(gated, text, release_id, arrays)
        moments = _moment_rows(gated, text, release_id)
        header = {
            "release_id": release_id, "seq": seq, "output": output, "command": command,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "min_cell": gated.policy.min_cell, "keyset_id": keyset_id,
            "respondents": len(release.respondents),
            "fingerprint": json.dumps(fingerprint or {}, sort_keys=True),
        }
        dims = {
            dim_id: _Dim(dim_id, name, keyset_id, release.linked.get(name),
                         list(release.domains[name]),
                         _codes(release.respondents[name], release.domains[name])[order],
                         dict(release.score_ranges.get(name, {})),
                         release.determined_by.get(name))
            for name, dim_id in ids.items()
        }
        if self._mem is not None:
            self._mem.releases.append(header)
            self._mem.keysets.setdefault(keyset_id, own_keys[order])
            for dim_id, dim in dims.items():
                kept = self._mem.dims.setdefault(dim_id, dim)
                # What a later release declares of a dimension fills what an earlier left out
                # (as on disk, where the first declaration is kept).
                kept.ranges = kept.ranges or dim.ranges
                kept.determined_by = kept.determined_by or dim.determined_by
            self._mem.cells.extend(cells)
            self._mem.values.append(values.to_pandas())
            self._mem.moments.extend(moments.to_dict(orient="records"))
            return release_id
        self._write(header, own_keys[order], dims, cells, values, moments)
        return release_id

    def _next_seq(self) -> int:
        con = self._connect()
        try:
            return int(con.execute("SELECT coalesce(max(seq), 0) + 1 FROM ledger_releases")
                       .fetchone()[0])
        finally:
            con.close()

    def _write(self, header: dict, keys: np.ndarray, dims: dict[str, _Dim],
               cells: list[dict], values: Any, moments: pd.DataFrame) -> None:
        con = self._connect()
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute("INSERT INTO ledger_releases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        list(header.values()))
            con.execute("INSERT INTO ledger_keysets SELECT ?, ?, ? WHERE NOT EXISTS "
                        "(SELECT 1 FROM ledger_keysets WHERE keyset_id = ?)",
                        [header["keyset_id"], len(keys), keys.tobytes(), header["keyset_id"]])
            for dim in dims.values():
                con.execute(
                    "INSERT INTO ledger_dims SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS "
                    "(SELECT 1 FROM ledger_dims WHERE dim_id = ?)",
                    [dim.dim_id, dim.name, dim.keyset_id, dim.link,
                     json.dumps([_plain(c) for c in dim.categories]),
                     dim.codes.astype(np.int32).tobytes(), dim.dim_id])
                if dim.ranges or dim.determined_by:
                    con.execute(
                        "INSERT INTO ledger_dim_facts SELECT ?, ?, ? WHERE NOT EXISTS "
                        "(SELECT 1 FROM ledger_dim_facts WHERE dim_id = ?)",
                        [dim.dim_id, json.dumps([[_plain(c), lo, hi] for c, (lo, hi)
                                                 in dim.ranges.items()]),
                         dim.determined_by, dim.dim_id])
            cell_frame = pd.DataFrame(cells, columns=["release_id", "cell", "keyset_id",
                                                      "status", "n"])
            con.register("new_cells", cell_frame)
            con.execute("INSERT INTO ledger_cells SELECT * FROM new_cells")
            con.register("new_values", values)
            con.execute("INSERT INTO ledger_values SELECT * FROM new_values")
            con.register("new_moments", moments)
            con.execute("INSERT INTO ledger_moments SELECT * FROM new_moments")
            con.execute("COMMIT")
        finally:
            con.close()

    # -- reading ----------------------------------------------------------------------------

    def releases(self) -> pd.DataFrame:
        """One row per recorded release, oldest first, with how many values it showed."""
        columns = ["release_id", "output", "command", "created_at", "min_cell", "respondents",
                   "values_shown", "cells_withheld"]
        store = self._load()
        if not store.releases:
            return pd.DataFrame(columns=columns)
        frame = pd.DataFrame(store.releases)
        cells = pd.DataFrame(store.cells)
        withheld = cells[cells["status"] == "withheld"].groupby("release_id").size()
        frame["cells_withheld"] = frame["release_id"].map(withheld).fillna(0).astype(int)
        frame["values_shown"] = frame["release_id"].map(self._value_counts()).fillna(0)
        frame["values_shown"] = frame["values_shown"].astype(int)
        return frame[columns]

    def _value_counts(self) -> pd.Series:
        if self._mem is not None:
            if not self._mem.values:
                return pd.Series(dtype=int)
            return pd.concat(self._mem.values).groupby("release_id").size()
        con = self._connect(read_only=True)
        try:
            return con.execute("SELECT release_id, count(*) AS k FROM ledger_values GROUP BY 1"
                               ).df().set_index("release_id")["k"]
        finally:
            con.close()

    def values(self, release_id: str | None = None) -> pd.DataFrame:
        """Every value shown (one row per number), optionally of one release."""
        if self._mem is not None:
            frame = pd.concat(self._mem.values) if self._mem.values else pd.DataFrame(
                columns=["release_id", "table_name", "row_no", "column_name", "value", "cell"])
        else:
            con = self._connect(read_only=True)
            try:
                if not self._has_tables(con):
                    return pd.DataFrame(columns=["release_id", "table_name", "row_no",
                                                 "column_name", "value", "cell"])
                frame = con.execute("SELECT * FROM ledger_values").df()
            finally:
                con.close()
        if release_id is not None:
            frame = frame[frame["release_id"] == release_id]
        return frame.reset_index(drop=True)

    def dimension_sets(self) -> list[tuple[str, ...]]:
        """Every distinct set of recorded dimensions (their ids, sorted) that a recorded cell
        is defined on, smallest first: the crossings earlier releases' tables used (a table of
        organisation x lived experience x band gives the set of those three, its margins the
        smaller ones). A respondent-level file is judged with its own tallies over the same
        crossings (:mod:`~fieldsurvey.disclosure.file_release`)."""
        cells = {c["cell"] for c in self._load().cells}
        sets = {tuple(sorted({d for d, _ in json.loads(cell)})) for cell in cells}
        return sorted(sets, key=lambda s: (len(s), s))


def _dims_of(cells: list[dict[str, Any]]) -> list[str]:
    out: set[str] = set()
    for c in cells:
        out.update(d for d, _ in json.loads(c["cell"]))
    return sorted(out)


def _determined_by(release: Results, store: _Store, name_of: dict[str, str]) -> dict[str, str]:
    """``determined_by`` in the joint universe: the release's own, and earlier releases'
    (a size band recorded before is known from the organisation recorded with it). Without
    them a phantom could sit in a size band its organisation is not in, pinned to nobody by
    the shown counts, where a real attacker knows less (the gate would call exposed what
    is not)."""
    out = dict(release.determined_by)
    for dep in store.dims.values():
        if dep.determined_by is None or dep.dim_id not in name_of:
            continue
        det = next((d for d in store.dims.values() if d.name == dep.determined_by
                    and d.keyset_id == dep.keyset_id and d.dim_id in name_of), None)
        if det is not None:
            out.setdefault(name_of[dep.dim_id], name_of[det.dim_id])
    return out


def _codes(values: pd.Series, categories: list[object]) -> np.ndarray:
    lookup = {v: i for i, v in enumerate(categories)}
    return values.map(lookup).to_numpy(dtype=np.int32)


def _dim_ids(release: Results, keys: np.ndarray) -> dict[str, str]:
    """Content ids of the release's dimensions: the same values for the same people, one id."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order].tobytes()
    out = {}
    for d in release.all_dims:
        codes = _codes(release.respondents[d], release.domains[d])[order]
        labels = json.dumps([str(c) for c in release.domains[d]])
        out[d] = _digest(d, labels, sorted_keys, codes.tobytes())
    return out


def _stored_cell(cell: tuple, ids: dict[str, str]) -> str:
    return json.dumps([[ids[d], _encode_value(v)] for d, v in cell], default=str)


class _CellText:
    """:func:`_stored_cell` with each cell, and each text-valued (dimension, value), encoded
    once per release: a ranking of 500 organisations names the same cells 100,000 times.

    The text is ``json.dumps``'s own: a list's items joined by ``", "`` inside brackets.
    """

    def __init__(self, ids: dict[str, str]) -> None:
        self.ids = ids
        self.cells: dict[tuple, str] = {}
        self.pairs: dict[tuple, str] = {}

    def __call__(self, cell: tuple) -> str:
        try:
            return self.cells[cell]
        except KeyError:
            text = self.cells[cell] = "[" + ", ".join(self._pair(d, v) for d, v in cell) + "]"
            return text
        except TypeError:  # an unhashable value in the cell
            return _stored_cell(cell, self.ids)

    def _pair(self, dim: str, value: object) -> str:
        if type(value) is str:
            key: tuple = (dim, value)
        elif type(value) is Except and type(value.value) is str:
            key = (dim, value.value, "except")
        else:  # 1, 1.0 and True are equal keys but differ as text: never shared
            return json.dumps([self.ids[dim], _encode_value(value)], default=str)
        try:
            return self.pairs[key]
        except KeyError:
            text = self.pairs[key] = json.dumps([self.ids[dim], _encode_value(value)])
            return text


def _cell_rows(gated: GatedRelease, release: Results, stored: _CellText, keyset_id: str,
               release_id: str, arrays: dict[int, tuple]) -> list[dict[str, Any]]:
    """Every own cell with its status: shown (its value can be read) or withheld."""
    st, tr = gated.structure, gated.translate
    shown = revealed_units(gated, arrays)
    withheld = np.zeros(st.n_units, dtype=bool)
    withheld[list(gated.reasons)] = True
    rows: dict[str, dict[str, Any]] = {}
    cells = list(gated.implied)
    for plan in {id(p): p for p in gated.plans.values()}.values():  # aliases share a plan
        cells.extend(plan.count)
        for stat_cells in plan.stat.values():
            cells.extend(stat_cells)
        for per_row in plan.sources.values():
            for refs in {id(r): r for r in per_row}.values():  # rows share planned lists
                cells.extend(refs)
    for cell in dict.fromkeys(cells):
        units = st.units_of(tr(cell))
        if all(shown[u] for u in units):
            status = "shown"
        elif any(withheld[u] for u in units):
            status = "withheld"
        else:
            continue
        key = stored(cell)
        rows.setdefault(key, {"release_id": release_id, "cell": key, "keyset_id": keyset_id,
                              "status": status,
                              "n": st.count(tr(cell)) if status == "shown" else None})
    return list(rows.values())


def _moment_rows(gated: GatedRelease, stored: _CellText, release_id: str) -> pd.DataFrame:
    """Every mean and SD shown, once per cell, so later releases can check band counts
    against them (:mod:`fieldsurvey.disclosure.moments`)."""
    st, tr = gated.structure, gated.translate
    found: dict[tuple[tuple, str], float] = {}
    for name, df in gated.own_tables().items():
        spec, plan = gated.specs[name], gated.plans[name]
        for column, kind in spec.stats.items():
            if kind not in ("mean", "sd") or column in spec.measures or column not in df:
                continue
            values = df[column].to_numpy()
            for row in np.flatnonzero(pd.notna(values)):
                found.setdefault((plan.stat[column][row], kind), float(values[row]))
    for cell in gated.moments_withheld:  # withheld beside a shown count: kept underivable
        found[(cell, "withheld")] = float("nan")
    return pd.DataFrame({
        "release_id": [release_id] * len(found),
        "cell": [stored(cell) for cell, _ in found],
        "kind": [kind for _, kind in found],
        "value": pd.Series(list(found.values()), dtype=float),
        "n": pd.Series([st.count(tr(cell)) for cell, _ in found], dtype="int64"),
    })


def _value_rows(gated: GatedRelease, stored: _CellText, release_id: str,
                arrays: dict[int, tuple]) -> Any:
    """Every number shown, one row each, with the cell it rests on (an Arrow table: the store
    takes it as it is)."""
    columns_out: dict[str, list] = {k: [] for k in ("table_name", "row_no", "column_name",
                                                     "value", "cell")}
    # An alias (a table shown under several names) is recorded under each name, so that any
    # of its outputs rebuilt alone shows what it showed; its rows are worked out once.
    done: dict[int, tuple[list, list, list, list]] = {}
    for name, df in gated.tables.items():
        if id(df) not in done:
            done[id(df)] = _shown_values(df, *arrays[id(df)], gated.plans[name], stored)
        row_no, column_name, value, cell = done[id(df)]
        # Plain lists, one frame at the end: a frame per column costs more than the values.
        columns_out["table_name"] += [name] * len(row_no)
        columns_out["row_no"] += row_no
        columns_out["column_name"] += column_name
        columns_out["value"] += value
        columns_out["cell"] += cell
    import pyarrow as pa

    # As Arrow: DuckDB reads it without a conversion (400,000 values at 500 organisations).
    table = pa.table({"release_id": pa.array([release_id] * len(columns_out["row_no"]),
                                             pa.string()),
                      **{k: pa.array(v, pa.int64() if k == "row_no" else pa.string())
                         for k, v in columns_out.items()}})
    return table


def _shown_values(df: pd.DataFrame, values: np.ndarray, present: list[np.ndarray], plan: Any,
                  stored: Any) -> tuple[list, list, list, list]:
    """Row numbers, column names, values (as text) and stored cells of a table's shown values.

    ``values`` and ``present`` are the table as one object array and, per column, the rows
    holding a value (:func:`~fieldsurvey.disclosure.suppression.values_present`).
    """
    row_no: list = []
    column_name: list = []
    value: list = []
    cell: list = []
    position = {column: i for i, column in enumerate(df.columns)}
    # Nullable integer columns with a missing value were read as floats ("83.0"): the text
    # stays as earlier releases recorded it.
    as_float = {i for i, dtype in enumerate(df.dtypes)
                if not isinstance(dtype, np.dtype) and dtype.kind in "iu"
                and present[i].size < len(df)}
    for column, cells in {COUNT_COL: plan.count, **plan.stat}.items():
        i = position.get(column)
        if i is None or not present[i].size:
            continue
        rows = present[i]
        row_no += rows.tolist()
        column_name += [column] * rows.size
        if i in as_float:
            value += [str(float(v)) for v in values[rows, i]]
        else:
            value += [str(v) for v in values[rows, i]]
        cell += [stored(cells[r]) for r in rows]
    return row_no, column_name, value, cell
