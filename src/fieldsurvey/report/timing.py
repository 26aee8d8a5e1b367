"""Where building reports spends its time: wall and CPU seconds per stage.

``bench/report_bench.py`` prints these figures; nothing in a report depends on them. Stages
nest: time spent in an inner stage (figures drawn while writing the content) is charged to the
inner stage only, so the stages add up to the time measured. CPU time includes finished child
processes (pandoc), as :func:`os.times` counts them.

Stages of :func:`~fieldsurvey.report.build.build_reports`:

``load``      reading and scoring the study
``analysis``  every report's results (:func:`~fieldsurvey.analyse.report_results`) and the
              organisation sections' inputs
``ahead``     organisation reports' fits computed in the worker processes while the main
              process analyses (:func:`~fieldsurvey.analyse.report.organisation_entries`)
``gate``      :func:`fieldsurvey.disclosure.publish` (suppression, audit, ledger; statistics
              computed after the gate run inside it)
``content``   writing the document and the bundle's tables from gated tables
``figures``   drawing and saving figures (PNG and SVG)
``bundle``    bundle files, manifest and ``report.qmd``
``pandoc``    pandoc runs (HTML, typst source)
``typst``     compiling the PDF

Examples
--------
>>> reset_stage_times()
>>> with stage("analysis"):
...     pass
>>> stage_times()["analysis"]["calls"]
1
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["merge_stage_times", "reset_stage_times", "stage", "stage_times", "timed"]

F = TypeVar("F", bound=Callable[..., Any])

#: stage -> [wall seconds, CPU seconds, calls], in this process.
_TOTALS: dict[str, list[float]] = {}
#: Open stages, innermost last: [name, wall at last resume, CPU at last resume].
_OPEN: list[list[Any]] = []


def _now() -> tuple[float, float]:
    t = os.times()
    return time.perf_counter(), t.user + t.system + t.children_user + t.children_system


def _charge(entry: list[Any], wall: float, cpu: float, calls: int) -> None:
    total = _TOTALS.setdefault(entry[0], [0.0, 0.0, 0])
    total[0] += wall - entry[1]
    total[1] += cpu - entry[2]
    total[2] += calls


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Charge the time spent inside to ``name`` (minus any nested stage's time)."""
    wall, cpu = _now()
    if _OPEN:  # pause the enclosing stage
        _charge(_OPEN[-1], wall, cpu, 0)
    _OPEN.append([name, wall, cpu])
    try:
        yield
    finally:
        wall, cpu = _now()
        _charge(_OPEN.pop(), wall, cpu, 1)
        if _OPEN:  # resume the enclosing stage
            _OPEN[-1][1:] = [wall, cpu]


def timed(name: str) -> Callable[[F], F]:
    """Decorator: every call of the function is charged to stage ``name``."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with stage(name):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def stage_times() -> dict[str, dict[str, float]]:
    """Seconds per stage so far in this process: ``{stage: {"wall", "cpu", "calls"}}``."""
    return {name: {"wall": w, "cpu": c, "calls": int(n)} for name, (w, c, n) in _TOTALS.items()}


def reset_stage_times() -> None:
    """Forget the times measured so far."""
    _TOTALS.clear()


def merge_stage_times(times: Mapping[str, Mapping[str, float]]) -> None:
    """Add times measured in another process (a worker) to this process's totals."""
    for name, value in times.items():
        total = _TOTALS.setdefault(name, [0.0, 0.0, 0])
        total[0] += value["wall"]
        total[1] += value["cpu"]
        total[2] += int(value["calls"])
