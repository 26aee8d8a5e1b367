"""What each command shows: results from the analysis step, published through the gate.

One function per command family: each loads the data, asks :mod:`fieldsurvey.analyse` for the
results, publishes them through :func:`fieldsurvey.disclosure.publish` (the study's policy and
release ledger) and returns the gated tables. The CLI prints what comes back; nothing here
computes a statistic.
"""

from fieldsurvey.outputs.compare import (
    Output,
    benchmark,
    compare,
    comparison_json,
    untestable_tests,
)

__all__ = ["Output", "benchmark", "compare", "comparison_json", "untestable_tests"]
