"""Scale scoring: answers -> scale scores, with explicit missing-data rules, bands and norms."""

from fieldsurvey.scoring.answers import InvalidAnswer, numeric_answers
from fieldsurvey.scoring.score import ScoringError, checked_answers, reverse_keyed, score_scales

__all__ = [
    "InvalidAnswer",
    "ScoringError",
    "checked_answers",
    "numeric_answers",
    "reverse_keyed",
    "score_scales",
]
