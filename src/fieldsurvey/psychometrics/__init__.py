"""Psychometrics: reliability, omega, polychoric correlations, CFA and measurement invariance."""

from fieldsurvey.psychometrics.cfa import (
    DEFAULT_MIN_GROUP_SIZE,
    CFAConvergenceError,
    CFAError,
    CFAResult,
    CFAWarning,
    fit_cfa,
)
from fieldsurvey.psychometrics.efa import (
    EFAResult,
    ItemBankValidation,
    ParallelAnalysis,
    efa,
    loading_report,
    parallel_analysis,
    validate_item_bank,
)
from fieldsurvey.psychometrics.invariance import (
    INVARIANCE_LEVELS,
    ORDINAL_LEVELS,
    ChenCriteria,
    InvarianceResult,
    measurement_invariance,
    ordinal_invariance,
)
from fieldsurvey.psychometrics.lavaan_syntax import LavaanSyntaxError, parse_model
from fieldsurvey.psychometrics.omega import (
    minres_factors,
    minres_one_factor,
    oblimin,
    omega_hierarchical,
    omega_total,
    varimax,
)
from fieldsurvey.psychometrics.partial_invariance import (
    PartialInvarianceResult,
    ScoreTests,
    partial_invariance,
    score_tests,
)
from fieldsurvey.psychometrics.polychoric import (
    PolychoricResult,
    ordinal_alpha,
    polychoric,
    polychoric_matrix,
)
from fieldsurvey.psychometrics.reliability import (
    MiskeyedItemsWarning,
    ReliabilityResult,
    feldt_interval,
    instrument_reliability,
    scale_reliability,
)

__all__ = [
    "DEFAULT_MIN_GROUP_SIZE",
    "INVARIANCE_LEVELS",
    "ORDINAL_LEVELS",
    "CFAConvergenceError",
    "CFAError",
    "CFAResult",
    "CFAWarning",
    "ChenCriteria",
    "EFAResult",
    "ItemBankValidation",
    "ParallelAnalysis",
    "efa",
    "loading_report",
    "parallel_analysis",
    "validate_item_bank",
    "InvarianceResult",
    "LavaanSyntaxError",
    "PartialInvarianceResult",
    "ScoreTests",
    "partial_invariance",
    "score_tests",
    "fit_cfa",
    "measurement_invariance",
    "ordinal_invariance",
    "parse_model",
    "MiskeyedItemsWarning",
    "ReliabilityResult",
    "feldt_interval",
    "instrument_reliability",
    "minres_factors",
    "minres_one_factor",
    "oblimin",
    "omega_hierarchical",
    "omega_total",
    "ordinal_alpha",
    "PolychoricResult",
    "polychoric",
    "polychoric_matrix",
    "scale_reliability",
    "varimax",
]
