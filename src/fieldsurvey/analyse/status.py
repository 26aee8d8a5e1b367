"""What a study store holds, as results: stored responses by organisation and wave."""

from __future__ import annotations

import pandas as pd

from fieldsurvey.analyse.frame import respondent_keys
from fieldsurvey.results import Results
from fieldsurvey.store import Study, load_responses

__all__ = ["status_results"]


def status_results(study: Study) -> Results | None:
    """Stored responses (exclusions not applied) per organisation x wave, with the margins.

    Returns None when the store holds no responses.
    """
    stored = load_responses(study, apply_exclusions=False).reset_index(drop=True)
    if stored.empty:
        return None
    people = stored[["org", "wave"]].astype(str)
    results = Results(people, ["org", "wave"], keys=respondent_keys(stored))
    orgs = sorted(people["org"].unique())
    waves = sorted(people["wave"].unique())
    cells = [{"org": o, "wave": w} for o in orgs for w in waves
             if ((people["org"] == o) & (people["wave"] == w)).any()]
    cells += [{"org": None, "wave": w} for w in waves] + [{"org": None, "wave": None}]
    table = pd.DataFrame(cells, dtype=object)
    results.add_table("responses", table.where(table.notna(), None))
    return results
