"""The disclosure policy: the study settings every gated number is judged against."""

from __future__ import annotations

from dataclasses import dataclass, field

from fieldsurvey.errors import FieldsurveyError

#: Below this minimum cell size the gate refuses to run unless explicitly forced.
HARD_FLOOR = 5


class DisclosureError(FieldsurveyError, ValueError):
    """A release or policy that the disclosure gate cannot accept as given."""


@dataclass(frozen=True)
class DisclosurePolicy:
    """Study-level disclosure settings.

    Parameters
    ----------
    min_cell : int, default 10
        No statistic computed from fewer than ``min_cell`` respondents is shown.
    force_below_5 : bool, default False
        Values of ``min_cell`` below 5 are refused unless this is set; the
        refusal exists because thresholds of 1-4 re-identify people in small
        organisations.
    sensitive : tuple of str, default ("lived_experience",)
        Dimensions whose categories are sensitive. A block of cells that splits
        a subgroup by a sensitive dimension is withheld as a whole when any
        category of that block (including categories with nobody in them) has
        fewer than ``min_cell`` respondents.
    allow_extremes : bool, default False
        Minima, maxima and ranges describe single people, so the gate refuses
        statistics of kind ``"extreme"`` unless this is set. When allowed they
        are still withheld with their cell.

    Examples
    --------
    >>> DisclosurePolicy().min_cell
    10
    >>> DisclosurePolicy(min_cell=3, force_below_5=True).min_cell
    3
    """

    min_cell: int = 10
    force_below_5: bool = False
    sensitive: tuple[str, ...] = field(default=("lived_experience",))
    allow_extremes: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.min_cell, bool) or not isinstance(self.min_cell, int):
            raise DisclosureError(f"min_cell must be a whole number, got {self.min_cell!r}")
        if self.min_cell < 1:
            raise DisclosureError(f"min_cell must be at least 1, got {self.min_cell}")
        if self.min_cell < HARD_FLOOR and not self.force_below_5:
            raise DisclosureError(
                f"min_cell={self.min_cell} is below {HARD_FLOOR} and would expose individuals in "
                "small organisations; pass force_below_5=True only if an ethics board approved it"
            )
        if isinstance(self.sensitive, str):
            object.__setattr__(self, "sensitive", (self.sensitive,))
        else:
            object.__setattr__(self, "sensitive", tuple(self.sensitive))

    @property
    def primary_reason(self) -> str:
        """The ``suppression_reason`` text used for primary suppression."""
        return f"primary: n<{self.min_cell}"
