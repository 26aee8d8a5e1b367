"""Row-space membership for large sparse 0/1 systems, by blocks plus a few global rows.

A field-wide margin (all frontline staff, all of wave 2) links every organisation into one
system, and a dense SVD of that system costs O(k^3). Removing the few long "global" rows
splits it into small per-organisation blocks. With ``L`` the block rows and ``G`` the global
rows, ``h`` is in ``rowspace([L; G])`` exactly when ``(I - P_L) h`` is in the span of
``(I - P_L) G^T``, where ``P_L`` is the block-diagonal projector onto ``rowspace(L)``.
Cost: one small SVD per block plus one SVD of a (k x g) matrix, g = number of global rows.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy import sparse
from scipy.sparse.csgraph import connected_components

#: Blocks up to this many atoms get a dense SVD.
DENSE_LIMIT = 300
#: Up to this many long rows are set aside as they are; beyond it only independent ones are kept.
MAX_GLOBAL = 1024
#: Give up splitting (and use one dense factorisation) beyond this many independent long rows.
MAX_GLOBAL_KEPT = 4096
#: Systems that no split of MAX_GLOBAL rows breaks up, with at most this many rows, use a
#: row basis from their Gram matrix (m x m) instead: 1.1 s where a dense factorisation of
#: 2,617 rows x 10,443 atoms took 20.7 s (500 organisations, two waves).
GRAM_LIMIT = 8000
_TOL = 1e-8
#: Relative step between consecutive rows' weights (see :func:`tie_weights`).
TIE_STEP = 1e-6


def tie_weights(m: int) -> np.ndarray:
    """Row weights that make every pivot choice follow row order, not rounding.

    The margin systems are full of exact ties: rows of the same length, rows whose parts
    outside the span chosen so far are equally long. A pivoted factorisation breaks a tie
    by whichever norm rounds larger, and rounding follows the CPU's BLAS kernels: on one
    AMD machine OpenBLAS's Haswell and Sandybridge kernels chose different rows, and so the
    gate withheld different cells. Scaling row ``i`` by ``1 + TIE_STEP * (i + 1)`` changes
    neither the row space nor which rows can combine to a cell, only which of several
    equally good rows is taken: the latest. ``TIE_STEP`` is 100x the relative error LAPACK
    allows in its downdated column norms (about 1e-8).

    Why the latest: units are numbered in the order cells first appear, totals before their
    breakdowns, and the rows a recovery uses are what the gate may withhold next. Taking
    the earliest made organisations' totals candidates, and the gate withheld them (8
    organisations: 52 complementary cells instead of 45, and no hand-off estimate shown).

    Examples
    --------
    >>> tie_weights(3).round(7).tolist()
    [1.000001, 1.000002, 1.000003]
    """
    return 1.0 + TIE_STEP * np.arange(1, m + 1, dtype=float)


def _pivoted_qr(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-revealing QR of ``a`` (n, p): ``a[:, piv] = q r``; returns q, r, piv cut to rank.

    Pivoted QR finds the same spans as an SVD at a fraction of the cost (measured 3-12x on
    the 0/1 margin systems here).
    """
    if a.size == 0:
        return np.zeros((a.shape[0], 0)), np.zeros((0, 0)), np.zeros(0, dtype=np.int64)
    q, r, piv = scipy.linalg.qr(a, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    tol = max(a.shape) * (diag[0] if diag.size else 0.0) * np.finfo(float).eps
    rank = int((diag > tol).sum())
    return q[:, :rank], r[:rank, :rank], piv[:rank]


def _svd(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Factors ``(u, s, vt)`` of the row space of ``a`` (m, k), in the shape an SVD gives.

    ``vt`` (r, k) is an orthonormal basis of the row space; for ``h`` in it,
    ``u @ ((vt @ h) / s)`` are coefficients ``y`` (one per row) with ``a.T @ y == h``.
    """
    q, r, piv = _pivoted_qr(a.T)
    rank = q.shape[1]
    u = np.zeros((a.shape[0], rank))
    if rank:
        u[piv] = scipy.linalg.solve_triangular(r, np.eye(rank), lower=False)
    return u, np.ones(rank), q.T


def _column_factors(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Factors ``(u, s, vt)`` of the column space of ``a`` (k, g), in an SVD's shape.

    ``u`` (k, r) is an orthonormal basis of the columns; for ``x`` in their span,
    ``vt.T @ ((u.T @ x) / s)`` are coefficients ``c`` with ``a @ c == x``.
    """
    q, r, piv = _pivoted_qr(a)
    rank = q.shape[1]
    coef = np.zeros((a.shape[1], rank))
    if rank:
        coef[piv] = scipy.linalg.solve_triangular(r, np.eye(rank), lower=False)
    return q, np.ones(rank), coef.T


def atom_blocks(a: sparse.csr_matrix) -> np.ndarray:
    """Connected-component label of every column, linking columns that share a row."""
    m, k = a.shape
    graph = sparse.bmat([[None, a], [a.T, None]], format="csr") if m else None
    if graph is None:
        return np.arange(k)
    _, labels = connected_components(graph, directed=False)
    return labels[m:]


def _split_by_long_rows(a: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, str]:
    """Long rows to set aside, the block label of every atom once they are, and the route.

    The longest rows are set aside, doubling their number, until every block has at most
    ``DENSE_LIMIT`` atoms. The route is ``"blocks"`` when that takes up to ``MAX_GLOBAL``
    rows (or the system is small enough for one block), ``"extended"`` when it takes more
    (the caller keeps only the independent ones), and ``"none"`` when no split works (no
    rows set aside, one block).
    """
    m, k = a.shape
    one_block = (np.zeros(0, dtype=np.int64), np.zeros(k, dtype=np.int64))
    if k <= DENSE_LIMIT:
        return (*one_block, "blocks")
    order = np.argsort(-np.diff(a.indptr), kind="stable")
    t = 1
    while True:
        trial = np.sort(order[:t])
        labels = atom_blocks(a[np.setdiff1d(np.arange(m), trial)])
        if np.bincount(labels).max() <= DENSE_LIMIT:
            return trial, labels, "extended" if t > MAX_GLOBAL else "blocks"
        if t >= m:
            return (*one_block, "none")
        t = min(2 * t, m)


class _GramBasis:
    """A basis of a system's rows from a pivoted Cholesky factorisation of ``a a^T``.

    Pivoting takes, at each step, the row with the largest part outside the span of the rows
    taken so far (the rule of a column-pivoted QR of ``a^T``); rows whose remaining part is
    below ``1e-10`` of the largest squared row norm are combinations of the basis. With ``B``
    the basis rows and ``L L^T = a_B a_B^T``, the coefficients of ``h`` are
    ``y = (L L^T)^-1 a_B h`` (one step of refinement), and ``h`` is in the row space when
    ``a_B^T y`` gives it back. Squaring the condition number is safe here: the margin systems
    are 0/1 with moderate condition (about 1e3 at 500 organisations).
    """

    def __init__(self, a: sparse.csr_matrix) -> None:
        gram = (a @ a.T).toarray()
        scale = float(np.max(np.diag(gram), initial=0.0))
        if scale <= 0:
            self.basis, self.a_basis, self.chol = np.zeros(0, dtype=np.int64), a[:0], None
            return
        # dpstrf's tol is absolute on the remaining diagonal; its pivots are 1-based.
        c, piv, rank, _ = scipy.linalg.lapack.dpstrf(gram, lower=1, tol=1e-10 * scale)
        order = piv[:rank] - 1
        self.basis = order
        self.a_basis = a[order].tocsr()
        self.chol = np.tril(c[:rank, :rank])

    def coefficients(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coefficients ``y`` on the basis rows and the remainder ``h - a_B^T y``."""
        if self.chol is None:
            return np.zeros((0, h.shape[1])), h.copy()
        y = np.zeros((self.basis.size, h.shape[1]))
        rest = h
        for _ in range(2):  # semi-normal equations with one step of refinement
            z = scipy.linalg.solve_triangular(self.chol, self.a_basis @ rest, lower=True)
            y += scipy.linalg.solve_triangular(self.chol.T, z, lower=False)
            rest = h - self.a_basis.T @ y
        return y, rest


class RowSpace:
    """The row space of a sparse matrix, answering "is h a combination of these rows?".

    Parameters
    ----------
    a : sparse matrix (m, k)
        The published equations (rows) over unknown atoms (columns).
    settle_ties : bool
        Scale the rows by :func:`tie_weights` (default): pivot ties go to the latest row.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> rs = RowSpace(sparse.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])))
    >>> rs.contains(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).T).tolist()
    [True, False]
    """

    def __init__(self, a: sparse.spmatrix, settle_ties: bool = True) -> None:
        a = sparse.csr_matrix(a, dtype=float)
        m, k = a.shape
        if settle_ties:
            # Weighted rows span the same space; the weights only settle ties (``rows_used``
            # reports rows, never their coefficients).
            a = sparse.csr_matrix(sparse.diags(tie_weights(m)) @ a)
        self.shape = (m, k)
        glob, labels, route = _split_by_long_rows(a)
        self.gram = None
        if route != "blocks" and m <= GRAM_LIMIT:
            self.gram = _GramBasis(a)
            self.global_rows, self.blocks = glob[:0], []
            return
        a_perm = self._build_blocks(a, glob, labels)
        if route == "extended":
            # Beyond MAX_GLOBAL long rows (hundreds of organisations, each with a "rest of
            # the field" row): keep only those that add to the blocks' row space. The others
            # (field minus one organisation) are combinations of what is kept.
            glob = self._independent_rows(a_perm, glob)
            if glob.size > MAX_GLOBAL_KEPT:
                glob, labels = np.zeros(0, dtype=np.int64), np.zeros(k, dtype=np.int64)
                a_perm = self._build_blocks(a, glob, labels)
        self.global_rows = glob
        self.g = a_perm[glob].toarray().T  # (k, g), atoms in block order
        self.rg = self._project_out(self.g)
        self.ug, self.sg, self.vtg = _column_factors(self.rg)

    def _build_blocks(self, a: sparse.csr_matrix, glob: np.ndarray,
                      labels: np.ndarray) -> sparse.csr_matrix:
        """Factor every block of the rows not in ``glob``; returns ``a`` with atoms in block order."""
        m, k = a.shape
        local = np.setdiff1d(np.arange(m), glob)
        row_block = np.full(m, -1, dtype=np.int64)
        loc = a[local]
        for i, r in enumerate(local):
            cols = loc.indices[loc.indptr[i] : loc.indptr[i + 1]]
            row_block[r] = labels[cols[0]] if cols.size else -1
        # Reorder atoms so every block is a contiguous slice: projections then use views.
        self.perm = np.argsort(labels, kind="stable")
        sorted_labels = labels[self.perm]
        cuts = np.concatenate([[0], np.flatnonzero(np.diff(sorted_labels)) + 1, [k]])
        rows_order = np.argsort(row_block, kind="stable")
        sorted_rows = row_block[rows_order]
        a_perm = a[:, self.perm].tocsr()
        # Rows in block order: a block's rows are then one run of the CSR arrays, and their
        # entries all fall in the block's columns. Its dense matrix is filled straight from
        # them (slicing a sparse matrix per block cost more than the factorisations).
        by_block = a_perm[rows_order].tocsr()
        by_block.sum_duplicates()
        indptr, indices, data = by_block.indptr, by_block.indices, by_block.data
        self.blocks = []
        for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
            if stop <= start:
                continue
            lab = sorted_labels[start]
            lo, hi = np.searchsorted(sorted_rows, [lab, lab + 1])
            rows = rows_order[lo:hi]
            dense = np.zeros((hi - lo, stop - start))
            run = slice(indptr[lo], indptr[hi])
            dense[np.repeat(np.arange(hi - lo), np.diff(indptr[lo:hi + 1])),
                  indices[run] - start] = data[run]
            u, s, vt = _svd(dense)
            if s.size:
                self.blocks.append((rows, slice(start, stop), u, s, vt))
        return a_perm

    def _independent_rows(self, a_perm: sparse.csr_matrix, glob: np.ndarray,
                          chunk: int = 256) -> np.ndarray:
        """The rows of ``glob`` that add to the span of the blocks and of the rows kept before.

        Each row is projected off the blocks' row spaces and off the directions already kept
        (twice, for orthogonality in floating point); a pivoted QR of the remainder says which
        rows bring new directions, with the same tolerance as :meth:`contains`.
        """
        k = self.shape[1]
        basis = np.zeros((k, 0))
        kept: list[np.ndarray] = []
        for start in range(0, glob.size, chunk):
            rows = glob[start : start + chunk]
            part = a_perm[rows].toarray().T
            rest = self._project_out(part)
            for _ in range(2):
                if basis.shape[1]:
                    rest -= basis @ (basis.T @ rest)
            q, r, piv = scipy.linalg.qr(rest, mode="economic", pivoting=True)
            scale = max(1.0, float(np.linalg.norm(part, axis=0).max()))
            rank = int((np.abs(np.diag(r)) > _TOL * scale * max(1, k) ** 0.5).sum())
            basis = np.hstack([basis, q[:, :rank]])
            kept.append(rows[piv[:rank]])
        return np.sort(np.concatenate(kept)) if kept else glob[:0]

    def _project_out(self, x: np.ndarray) -> np.ndarray:
        """``(I - P_L) x`` for a (k, p) array whose rows are in block order."""
        out = np.array(x, dtype=float, copy=True)
        for _, span, _, _, vt in self.blocks:
            xb = out[span]
            xb -= vt.T @ (vt @ xb)
        return out

    def contains(self, h: np.ndarray, chunk: int = 512) -> np.ndarray:
        """For each column of ``h`` (k, p): is it in the row space?"""
        h = np.asarray(h, dtype=float)
        out = np.zeros(h.shape[1], dtype=bool)
        for start in range(0, h.shape[1], chunk):
            if self.gram is not None:
                part = h[:, start : start + chunk]
                r = self.gram.coefficients(part)[1]
            else:
                part = h[self.perm, start : start + chunk]
                r = self._project_out(part)
                if self.ug.size:
                    r -= self.ug @ (self.ug.T @ r)
            scale = np.maximum(1.0, np.linalg.norm(part, axis=0))
            tol = _TOL * scale * max(1, self.shape[1]) ** 0.5
            out[start : start + chunk] = np.linalg.norm(r, axis=0) <= tol
        return out

    def rows_used(self, h: np.ndarray) -> list[np.ndarray]:
        """For each column of ``h`` in the row space: rows with a nonzero coefficient."""
        if self.gram is not None:
            y = self.gram.coefficients(np.asarray(h, dtype=float))[0]
            return [np.sort(self.gram.basis[np.abs(y[:, j]) > 1e-8]) for j in range(y.shape[1])]
        h = np.asarray(h, dtype=float)[self.perm]
        p = h.shape[1]
        rest = h.copy()
        nu = np.zeros((len(self.global_rows), p))
        if self.sg.size:
            nu = self.vtg.T @ ((self.ug.T @ self._project_out(h)) / self.sg[:, None])
            rest -= self.g @ nu
        used: list[set[int]] = [set() for _ in range(p)]
        for j in range(p):
            used[j].update(int(r) for r in self.global_rows[np.abs(nu[:, j]) > 1e-8])
        for rows, span, u, s, vt in self.blocks:
            rb = rest[span]
            if not np.any(np.abs(rb) > 1e-12):
                continue
            mu = u @ ((vt @ rb) / s[:, None])
            for j in np.flatnonzero(np.any(np.abs(mu) > 1e-8, axis=0)):
                used[j].update(int(r) for r in rows[np.abs(mu[:, j]) > 1e-8])
        return [np.array(sorted(x), dtype=np.int64) for x in used]
