"""The gate, the audit and the psychometrics run BLAS on one thread (see fieldsurvey._blas)."""

from __future__ import annotations

import pandas as pd
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpoolctl.threadpool_info()
            if pool["user_api"] == "blas"}


def test_decorated_function_sees_one_blas_thread_and_restores_after() -> None:
    from fieldsurvey._blas import on_one_blas_thread

    before = _blas_threads()
    assert on_one_blas_thread(_blas_threads)() == {1}
    assert _blas_threads() == before


def test_gate_runs_its_linear_algebra_on_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    from fieldsurvey.disclosure import exposure, gate
    from fieldsurvey.results import Results

    seen: list[set[int]] = []
    real = exposure.find_exposures

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(_blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr("fieldsurvey.disclosure.suppression.find_exposures", spy)
    people = pd.DataFrame({"org": ["A"] * 4 + ["B"] * 30 + ["C"] * 25})
    cells = pd.DataFrame({"org": ["A", "B", "C", None]})
    gate(Results(people, ["org"]).add_table("t", cells))
    assert seen and all(threads == {1} for threads in seen)
