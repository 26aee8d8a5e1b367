"""Scale scoring: answers -> scale scores, with explicit missing-data rules, bands and norms."""

from fieldsurvey.instrument.answers import InvalidAnswer, numeric_answers
from fieldsurvey.scoring.score import ScoringError, checked_answers, reverse_keyed, score_scales
from fieldsurvey.scoring.study import scored_responses

__all__ = [
    "InvalidAnswer",
    "ScoringError",
    "checked_answers",
    "numeric_answers",
    "reverse_keyed",
    "score_scales",
    "scored_responses",
]
