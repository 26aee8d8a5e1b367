"""Two proportions: Wilson intervals, Newcombe's interval for their difference, the z test.

Used for per-question results (the share of staff answering favourably in one group against
another). Both intervals are score intervals, which keep their coverage near 0% and 100% and
in small groups where the Wald interval does not.

References
----------
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
JASA 22, 209-212.
Newcombe, R. G. (1998). Interval estimation for the difference between independent
proportions: comparison of eleven methods. Statistics in Medicine 17, 873-890 (method 10).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy import special, stats

__all__ = ["newcombe_difference", "two_proportion_test", "wilson"]


Array = np.ndarray | float


@cache
def _normal_quantile(q: float) -> float:
    # A report takes Wilson intervals hundreds of times at one level: scipy's distribution
    # machinery cost more than the intervals themselves.
    return float(stats.norm.ppf(q))


def wilson(k: Array, n: Array, confidence: float = 0.95) -> tuple[Array, Array]:
    """Wilson score interval of ``k`` successes in ``n`` trials (arrays work element-wise).

    .. math:: \\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    Matches R's ``prop.test(k, n, correct = FALSE)$conf.int``. NaN where ``n`` is 0.

    Examples
    --------
    >>> [round(float(v), 4) for v in wilson(7, 20)]
    [0.1812, 0.5671]
    """
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    z = _normal_quantile(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = p + z * z / (2 * n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        denom = 1 + z * z / n
        return (centre - half) / denom, (centre + half) / denom


def newcombe_difference(k1: Array, n1: Array, k2: Array, n2: Array,
                        confidence: float = 0.95) -> tuple[Array, Array, Array]:
    """Difference ``p1 - p2`` with Newcombe's hybrid score interval (his method 10).

    With Wilson limits ``(l1, u1)`` and ``(l2, u2)``:

    .. math:: d - \\sqrt{(p_1-l_1)^2 + (u_2-p_2)^2},\\quad d + \\sqrt{(u_1-p_1)^2 + (p_2-l_2)^2}

    Returns ``(difference, low, high)``, element-wise for arrays.

    Examples
    --------
    >>> [round(float(v), 4) for v in newcombe_difference(56, 70, 48, 80)]
    [0.2, 0.0524, 0.3339]
    """
    k1, n1, k2, n2 = (np.asarray(v, dtype=float) for v in (k1, n1, k2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, confidence)
    l2, u2 = wilson(k2, n2, confidence)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def two_proportion_test(k1: Array, n1: Array, k2: Array, n2: Array) -> Array:
    """Two-sided p of the pooled two-proportion z test (R: ``prop.test(correct = FALSE)``).

    .. math:: z = \\frac{p_1 - p_2}{\\sqrt{\\bar p(1-\\bar p)(1/n_1 + 1/n_2)}},\\quad
              \\bar p = \\frac{k_1 + k_2}{n_1 + n_2}

    p is 1 where both groups answer all alike (nothing varies), NaN where a group is empty.

    Examples
    --------
    >>> round(float(two_proportion_test(56, 70, 48, 80)), 3)
    0.008
    """
    k1, n1, k2, n2 = (np.asarray(v, dtype=float) for v in (k1, n1, k2, n2))
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (k1 + k2) / (n1 + n2)
        var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
        z = (k1 / n1 - k2 / n2) / np.sqrt(var)
        # stats.norm.sf evaluates ndtr(-z): the same numbers without the distribution
        # machinery's cost (a report runs this test for every scale of every comparison).
        p = 2 * special.ndtr(-np.abs(z))
    p = np.where(var <= 0, 1.0, p)
    return np.where((n1 > 0) & (n2 > 0), p, np.nan)
