"""``releases``: what the study's release ledger holds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fieldsurvey.disclosure import Ledger
from fieldsurvey.store import open_study

__all__ = ["releases"]


def releases(study_dir: str | Path, release_id: str | None = None) -> pd.DataFrame:
    """Every release recorded for a study (or every value one release showed).

    Examples
    --------
    >>> releases("my-study")[["output", "values_shown"]]  # doctest: +SKIP
    """
    ledger = Ledger.for_study(open_study(study_dir))
    if release_id is None:
        return ledger.releases()
    values = ledger.values(release_id)
    return values.drop(columns=["release_id"])
