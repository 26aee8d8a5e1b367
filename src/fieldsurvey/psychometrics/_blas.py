"""Run BLAS on one thread for the psychometrics' matrix work.

The matrices here are small or thin (items by items, or items by a block of respondents).
Multi-threaded BLAS gains nothing on them on an idle machine and is several times slower when
other work holds the cores (measured: CFA invariance 11-25 s vs 0.6-1.1 s; pairwise covariances
of 60 items on 1,000,000 respondents 3.1 s vs 1.3 s under load).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

try:  # shipped with scikit-learn (a pingouin dependency) and listed in our dependencies
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - without it BLAS keeps its own thread count
    threadpool_limits = None


def single_threaded_blas() -> AbstractContextManager:
    if threadpool_limits is None:
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
