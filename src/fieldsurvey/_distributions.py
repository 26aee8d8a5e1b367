"""Quantiles and tail areas of the t, normal and chi-squared distributions, without
importing :mod:`scipy.stats`.

Importing ``scipy.stats`` costs about 0.55 s of CPU (it builds every distribution and its
documentation); a command such as ``benchmark`` needs four functions of it. These call the
same :mod:`scipy.special` routines that ``scipy.stats`` calls (``stdtrit``, ``stdtr``,
``ndtri``, ``chdtrc``), with ``scipy.stats``' handling of arguments outside the domain
(missing), so the values are identical to the last bit.

Examples
--------
>>> from scipy import stats
>>> float(t_ppf(0.975, 9)) == float(stats.t.ppf(0.975, 9))
True
>>> x = np.array([-np.inf, -1.5, 0.0, 2.0, np.inf, np.nan])
>>> np.array_equal(t_sf(x, 4.0), stats.t.sf(x, 4.0), equal_nan=True)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

__all__ = ["chi2_sf", "norm_ppf", "t_ppf", "t_sf"]


def _out(values: np.ndarray) -> Any:
    """A 0-d result as a numpy scalar, as ``scipy.stats`` returns it."""
    return values[()] if values.ndim == 0 else values


def t_ppf(q: Any, df: Any) -> Any:
    """Quantile of Student's t: ``scipy.stats.t.ppf(q, df)``."""
    q, df = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(df, dtype=float))
    out = np.full(q.shape, np.nan)
    inside = (df > 0) & (q > 0) & (q < 1)
    out[inside] = special.stdtrit(df[inside], q[inside])
    out[(df > 0) & (q == 0)] = -np.inf
    out[(df > 0) & (q == 1)] = np.inf
    return _out(out)


def t_sf(x: Any, df: Any) -> Any:
    """Upper tail area of Student's t: ``scipy.stats.t.sf(x, df)``."""
    x, df = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(df, dtype=float))
    out = np.full(x.shape, np.nan)
    valid = (df > 0) & ~np.isnan(x)
    out[valid] = special.stdtr(df[valid], -x[valid])
    return _out(out)


def norm_ppf(q: Any) -> Any:
    """Quantile of the standard normal: ``scipy.stats.norm.ppf(q)``."""
    q = np.asarray(q, dtype=float)
    out = np.full(q.shape, np.nan)
    inside = (q > 0) & (q < 1)
    out[inside] = special.ndtri(q[inside])
    out[q == 0] = -np.inf
    out[q == 1] = np.inf
    return _out(out)


def chi2_sf(x: Any, df: Any) -> Any:
    """Upper tail area of chi-squared: ``scipy.stats.chi2.sf(x, df)``."""
    x, df = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(df, dtype=float))
    out = np.full(x.shape, np.nan)
    valid = (df > 0) & ~np.isnan(x)
    out[valid] = special.chdtrc(df[valid], np.maximum(x[valid], 0.0))
    return _out(out)
