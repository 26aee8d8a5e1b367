"""A study's analysable data: stored responses (exclusions applied) with their scale scores."""

from __future__ import annotations

import warnings

import pandas as pd

from fieldsurvey.scoring.score import score_scales
from fieldsurvey.store.database import load_responses
from fieldsurvey.store.study import Study


def scored_responses(study: Study) -> pd.DataFrame:
    """One row per analysed response: its stored columns, then every scale score.

    Scores are computed with the study's instruments; answers the store holds are valid by
    construction, so nothing is treated as missing that was answered. ``attrs["excluded"]``
    carries the exclusion counts of :func:`load_responses`.

    Examples
    --------
    >>> data = scored_responses(open_study("my-study"))  # doctest: +SKIP
    >>> data[["org", "wave", "burnout", "burnout_band"]].head()  # doctest: +SKIP
    """
    responses = load_responses(study).reset_index(drop=True)
    excluded = responses.attrs.get("excluded", {})
    scored = [inst for inst in study.instruments() if inst.scales]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = score_scales(responses, scored, invalid="missing") if scored else pd.DataFrame(
            index=responses.index)
    new = [c for c in scores.columns if c not in responses.columns and c != "row"]
    data = pd.concat([responses, scores[new].set_axis(responses.index)], axis=1)
    data.attrs = {"excluded": excluded}
    return data
