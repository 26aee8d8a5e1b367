"""The neighbourhood check only ever clears cells the whole-system check also clears.

The audit (``primal=True``) skips the whole-system interval programmes for cells that
:func:`~fieldsurvey.disclosure.exposure.local_protected` clears only in systems of
``LOCAL_FROM`` atoms and more; smaller ones go straight to the whole system. Both routes must
find the same exposures.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from fieldsurvey.disclosure import exposure
from fieldsurvey.disclosure.exposure import find_exposures, is_protected, local_protected


def margin_system(rng: np.random.Generator, n_orgs: int, n_bands: int
                  ) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Atoms org x band; units: every atom, each org's total, each band's field total, all."""
    atoms = n_orgs * n_bands
    counts = rng.integers(0, 14, atoms).astype(float)
    rows = [np.eye(atoms)]
    rows.append(np.kron(np.eye(n_orgs), np.ones((1, n_bands))))  # organisation totals
    rows.append(np.kron(np.ones((1, n_orgs)), np.eye(n_bands)))  # field band totals
    rows.append(np.ones((1, atoms)))  # the field
    return sparse.csr_matrix(np.vstack(rows)), counts


def random_case(seed: int) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows, counts = margin_system(rng, n_orgs=int(rng.integers(3, 7)), n_bands=3)
    hidden = np.zeros(rows.shape[0], dtype=bool)
    hidden[rng.choice(rows.shape[0], size=int(rng.integers(2, 16)), replace=False)] = True
    return rows, counts, hidden


def exact_range(rows: sparse.csr_matrix, counts: np.ndarray, published: np.ndarray,
                unit: int) -> tuple[float, float]:
    """The attacker's range for ``unit`` from the whole system, by two programmes."""
    pub = rows[np.flatnonzero(published)]
    lp = exposure.LinearProgramme(pub, pub @ counts)
    target = rows[unit].toarray().ravel()
    high = lp.minimise(-target)  # None: unbounded (an atom in no shown cell)
    return lp.minimise(target)[0], np.inf if high is None else -high[0]


@pytest.mark.parametrize("seed", range(12))
def test_a_cell_cleared_locally_is_protected_in_the_whole_system(seed):
    rows, counts, hidden = random_case(seed)
    published = ~hidden
    cleared = local_protected(rows[np.flatnonzero(hidden)], rows[np.flatnonzero(published)],
                              counts, 10)
    for unit, ok in zip(np.flatnonzero(hidden), cleared, strict=True):
        if ok and rows[unit].nnz:
            assert is_protected(*exact_range(rows, counts, published, unit), 10), unit


@pytest.mark.parametrize("seed", range(12))
def test_both_routes_find_the_same_exposures(seed, monkeypatch):
    rows, counts, hidden = random_case(seed)

    def found() -> list[tuple[int, str]]:
        return [(e.unit, e.kind) for e in find_exposures(
            rows, ~hidden, hidden, min_cell=10, atom_values=counts, primal=True)]

    whole = found()
    monkeypatch.setattr(exposure, "LOCAL_FROM", 0)  # every system checked locally first
    assert found() == whole


def test_an_org_total_beside_its_shown_bands_is_exposed_either_way(monkeypatch):
    rng = np.random.default_rng(3)
    rows, counts = margin_system(rng, n_orgs=4, n_bands=3)
    hidden = np.zeros(rows.shape[0], dtype=bool)
    hidden[12] = True  # the first organisation's total; its bands stay shown
    for local_from in (10**9, 0):
        monkeypatch.setattr(exposure, "LOCAL_FROM", local_from)
        for primal in (True, False):
            found = find_exposures(rows, ~hidden, hidden, min_cell=10, atom_values=counts,
                                   primal=primal)
            assert [(e.unit, e.kind) for e in found] == [(12, "determined")]
