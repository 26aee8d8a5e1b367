"""What each command shows: results from the analysis step, published through the gate.

One function per command family: each loads the data, asks :mod:`fieldsurvey.analyse` for the
results, publishes them through :func:`fieldsurvey.disclosure.publish` (the study's policy and
release ledger) and returns the gated tables. The CLI prints what comes back; nothing here
computes a statistic.
"""

from __future__ import annotations

from fieldsurvey._lazy import lazy_exports

# Loaded on first use: importing one command family (``reliability``) must not load every
# other one's analysis stack (comparisons and benchmarks pull in scipy.stats and the report).
# The module is ``comparisons``, not ``compare``, so that importing it never rebinds this
# package's ``compare`` (the function) to a submodule.
_LAZY = {name: "fieldsurvey.outputs.comparisons"
         for name in ("Output", "benchmark", "compare", "comparison_json", "untestable_tests")}

__all__ = sorted(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)
