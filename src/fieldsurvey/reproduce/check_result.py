"""The outcome of one consistency check, shared by every check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Verdict = Literal["consistent", "inconsistent", "not_checkable"]


@dataclass(frozen=True)
class CheckResult:
    """One check on one published value.

    ``expected`` says what a consistent value would look like (empty when not checkable),
    ``reported`` is what was printed, ``explanation`` gives the reasoning in a sentence.
    """

    check: str
    verdict: Verdict
    expected: str
    reported: str
    explanation: str
