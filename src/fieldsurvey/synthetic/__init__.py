"""Synthetic data: a realistic, seeded coalition study for demos, tests and benchmarks."""

from fieldsurvey.synthetic.coalition import (
    CONDITIONS,
    CoalitionParams,
    SyntheticStudy,
    generate_coalition,
)

__all__ = ["CONDITIONS", "CoalitionParams", "SyntheticStudy", "generate_coalition"]
