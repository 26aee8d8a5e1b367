"""The disclosure policy: the study settings every released number is judged against.

The policy is built in one place, :func:`policy_for`, from the study's settings alone. A
command may ask for a *larger* minimum cell size than the study's (``--min-cell``), never a
smaller one, and nothing below :data:`HARD_FLOOR` is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fieldsurvey.errors import FieldsurveyError

#: No minimum cell size below this is accepted, by any setting or command.
HARD_FLOOR = 5
#: The minimum cell size when a study does not set one (and for data outside a study).
DEFAULT_MIN_CELL = 10


class DisclosureError(FieldsurveyError, ValueError):
    """A release or policy that the disclosure gate cannot accept as given."""


@dataclass(frozen=True)
class DisclosurePolicy:
    """Study-level disclosure settings.

    Parameters
    ----------
    min_cell : int, default 10
        No number resting on fewer than ``min_cell`` respondents is shown, and nothing shown
        lets anyone work out such a number (or that a cell is empty).
    sensitive : tuple of str, default ("lived_experience",)
        Dimensions whose categories are sensitive. A block of cells that splits a subgroup by a
        sensitive dimension is withheld as a whole when any category of that block (including
        categories with nobody in them) has fewer than ``min_cell`` respondents.
    allow_extremes : bool, default False
        Minima, maxima and ranges describe single people, so statistics of kind ``"extreme"``
        are refused unless this is set.

    Examples
    --------
    >>> DisclosurePolicy().min_cell
    10
    >>> DisclosurePolicy(min_cell=3)
    Traceback (most recent call last):
    ...
    fieldsurvey.disclosure.policy.DisclosureError: min_cell=3 is below 5: refused, because thresholds of 1-4 single out people in small organisations
    """

    min_cell: int = DEFAULT_MIN_CELL
    sensitive: tuple[str, ...] = field(default=("lived_experience",))
    allow_extremes: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.min_cell, bool) or not isinstance(self.min_cell, int):
            raise DisclosureError(f"min_cell must be a whole number, got {self.min_cell!r}")
        if self.min_cell < HARD_FLOOR:
            raise DisclosureError(
                f"min_cell={self.min_cell} is below {HARD_FLOOR}: refused, because thresholds "
                "of 1-4 single out people in small organisations"
            )
        if isinstance(self.sensitive, str):
            object.__setattr__(self, "sensitive", (self.sensitive,))
        else:
            object.__setattr__(self, "sensitive", tuple(self.sensitive))


def policy_for(settings: Any = None, *, min_cell: int | None = None) -> DisclosurePolicy:
    """The one way to get a policy: from a study's settings, optionally made stricter.

    Parameters
    ----------
    settings : StudyConfig or Study, optional
        The study's settings (its ``min_cell``); None for data outside a study (minimum 10).
    min_cell : int, optional
        A larger minimum cell size asked for by one command. Asking for a smaller one than the
        study's is refused: the study's setting is the floor every output shares.

    Examples
    --------
    >>> policy_for().min_cell
    10
    >>> policy_for(min_cell=15).min_cell
    15
    >>> policy_for(min_cell=8)
    Traceback (most recent call last):
    ...
    fieldsurvey.disclosure.policy.DisclosureError: --min-cell 8 is below the study's minimum cell size 10: a command may raise it, never lower it
    """
    config = getattr(settings, "config", settings)
    floor = int(getattr(config, "min_cell", DEFAULT_MIN_CELL)) if config is not None else (
        DEFAULT_MIN_CELL
    )
    if min_cell is not None and min_cell < floor:
        raise DisclosureError(
            f"--min-cell {min_cell} is below the study's minimum cell size {floor}: a command "
            "may raise it, never lower it"
        )
    return DisclosurePolicy(min_cell=floor if min_cell is None else int(min_cell))
