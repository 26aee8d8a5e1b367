"""Synthetic data: a realistic, seeded coalition study for demos, tests and benchmarks."""

from fieldsurvey.synthetic.coalition import (
    CONDITIONS,
    NULL_STUDY,
    STRUCTURAL_STUDY,
    CoalitionParams,
    SyntheticStudy,
    generate_coalition,
)

__all__ = ["CONDITIONS", "NULL_STUDY", "STRUCTURAL_STUDY", "CoalitionParams", "SyntheticStudy", "generate_coalition"]
