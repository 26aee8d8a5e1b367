"""Run BLAS on one thread for small or thin matrix work (psychometrics, the disclosure gate).

The matrices here are small or thin (items by items, or items by a block of respondents).
Multi-threaded BLAS gains nothing on them on an idle machine and is several times slower when
other work holds the cores (measured: CFA invariance 11-25 s vs 0.6-1.1 s; pairwise covariances
of 60 items on 1,000,000 respondents 3.1 s vs 1.3 s under load; the gate's pivoted QR of a
554 x 202 margin system 0.005 s vs 0.1-2 s).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import cache, wraps
from typing import Any, TypeVar

try:  # shipped with scikit-learn (a pingouin dependency) and listed in our dependencies
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - without it BLAS keeps its own thread count
    ThreadpoolController = None


@cache
def _controller() -> Any:
    """The BLAS libraries of this process, found once: finding them reads the process's
    memory map (about 6 ms), which a report making hundreds of small fits paid on every one."""
    import numpy  # noqa: F401  - load both BLAS libraries (numpy's, scipy's) before looking
    import scipy.linalg  # noqa: F401

    return ThreadpoolController()


def single_threaded_blas() -> AbstractContextManager:
    """A context in which BLAS runs on one thread (nothing changes without threadpoolctl)."""
    if ThreadpoolController is None:
        return nullcontext()
    return _controller().limit(limits=1, user_api="blas")


F = TypeVar("F", bound=Callable[..., Any])


def on_one_blas_thread(func: F) -> F:
    """Decorate ``func`` to run with BLAS on one thread (see :func:`single_threaded_blas`)."""

    @wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        with single_threaded_blas():
            return func(*args, **kwargs)

    return run  # type: ignore[return-value]
