"""Psychometrics: reliability, omega, polychoric correlations, CFA and measurement invariance."""

from __future__ import annotations

from fieldsurvey._lazy import lazy_exports

# Loaded on first use: ``reliability`` needs none of CFA, EFA or invariance (nor the
# scipy.stats they bring), and a command should load only its own stage.
_MODULES = {
    "fieldsurvey.psychometrics.cfa": (
        "DEFAULT_MIN_GROUP_SIZE",
        "CFAConvergenceError",
        "CFAError",
        "CFAResult",
        "CFAWarning",
        "fit_cfa",
    ),
    "fieldsurvey.psychometrics.efa": (
        "EFAResult",
        "ItemBankValidation",
        "ParallelAnalysis",
        "efa",
        "loading_report",
        "parallel_analysis",
        "validate_item_bank",
    ),
    "fieldsurvey.psychometrics.invariance": (
        "INVARIANCE_LEVELS",
        "ORDINAL_LEVELS",
        "ChenCriteria",
        "InvarianceResult",
        "measurement_invariance",
        "ordinal_invariance",
    ),
    "fieldsurvey.psychometrics.lavaan_syntax": (
        "LavaanSyntaxError",
        "parse_model",
    ),
    "fieldsurvey.psychometrics.omega": (
        "minres_factors",
        "minres_one_factor",
        "oblimin",
        "omega_hierarchical",
        "omega_total",
        "varimax",
    ),
    "fieldsurvey.psychometrics.partial_invariance": (
        "PartialInvarianceResult",
        "ScoreTests",
        "partial_invariance",
        "score_tests",
    ),
    "fieldsurvey.psychometrics.polychoric": (
        "PolychoricResult",
        "ordinal_alpha",
        "polychoric",
        "polychoric_matrix",
    ),
    "fieldsurvey.psychometrics.reliability": (
        "MiskeyedItemsWarning",
        "ReliabilityResult",
        "feldt_interval",
        "instrument_reliability",
        "scale_reliability",
    ),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)
