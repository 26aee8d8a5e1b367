"""Psychometrics: reliability, omega, polychoric correlations, CFA and measurement invariance."""

from fieldsurvey.psychometrics.omega import (
    minres_factors,
    minres_one_factor,
    oblimin,
    omega_hierarchical,
    omega_total,
    varimax,
)
from fieldsurvey.psychometrics.polychoric import ordinal_alpha, polychoric_matrix
from fieldsurvey.psychometrics.reliability import (
    MiskeyedItemsWarning,
    ReliabilityResult,
    feldt_interval,
    instrument_reliability,
    scale_reliability,
)

__all__ = [
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
    "polychoric_matrix",
    "scale_reliability",
    "varimax",
]
