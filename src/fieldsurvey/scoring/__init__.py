"""Scale scoring: answers -> scale scores, with explicit missing-data rules, bands and norms."""

from __future__ import annotations

from typing import Any

from fieldsurvey.instrument.answers import InvalidAnswer, numeric_answers
from fieldsurvey.scoring.score import ScoringError, checked_answers, reverse_keyed, score_scales

__all__ = [
    "InvalidAnswer",
    "ScoringError",
    "checked_answers",
    "numeric_answers",
    "reverse_keyed",
    "score_scales",
    "scored_responses",
]


def __getattr__(name: str) -> Any:
    # Scoring a study's stored responses needs the store (DuckDB); scoring a file does not.
    if name == "scored_responses":
        from fieldsurvey.scoring.study import scored_responses

        return scored_responses
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
