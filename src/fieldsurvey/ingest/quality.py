"""Data-quality flags for stored responses.

Flags are recorded for every response they apply to; whether a flag excludes the response from
analyses is decided by the study's ``exclusions`` rules (see :mod:`fieldsurvey.store.study`).

============  =====================================================================
incomplete    the platform says the response was not finished, or progress is below
              ``exclusions.min_progress``
speeder       completed faster than ``exclusions.speeder_seconds``
straightlining the same answer to every item of an instrument that has reverse-keyed
              items (at least 6 answered): agreeing with both "I am happy" and "I am
              not happy" is not a real answer pattern
attention_failed an attention-check item (``attention_checks``) not answered as expected
============  =====================================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fieldsurvey.instrument import Instrument
from fieldsurvey.store.study import StudyConfig

MIN_ITEMS_FOR_STRAIGHTLINING = 6


def quality_flags(
    answers: pd.DataFrame, meta: pd.DataFrame, instruments: list[Instrument], config: StudyConfig
) -> pd.DataFrame:
    """One row per (response position, flag) with a detail text.

    ``answers`` holds coded item columns (floats, NaN missing) on the same index as ``meta``
    (``finished``, ``progress``, ``duration_seconds`` where the platform has them).
    """
    found: list[pd.DataFrame] = []

    def add(mask: np.ndarray | pd.Series, flag: str, detail: str | pd.Series) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            details = detail[mask] if isinstance(detail, pd.Series) else detail
            found.append(
                pd.DataFrame({"position": np.flatnonzero(mask), "flag": flag, "detail": details})
            )

    rules = config.exclusions
    finished = meta.get("finished")
    if finished is not None:
        add(
            finished.astype("boolean").eq(False).fillna(False).to_numpy(),
            "incomplete",
            "platform: not finished",
        )
    progress = meta.get("progress")
    if progress is not None and rules.min_progress > 0:
        low = pd.to_numeric(progress, errors="coerce").lt(rules.min_progress).fillna(False)
        add(low.to_numpy(), "incomplete", f"progress below {rules.min_progress:g}%")
    duration = meta.get("duration_seconds")
    if duration is not None and rules.speeder_seconds:
        fast = pd.to_numeric(duration, errors="coerce").lt(rules.speeder_seconds).fillna(False)
        add(fast.to_numpy(), "speeder", f"faster than {rules.speeder_seconds:g} s")

    for inst in instruments:
        likert = [
            it.id
            for it in inst.items
            if inst.response_scales[it.scale].type == "likert" and it.id in answers
        ]
        if (
            not any(inst.item(i).reverse for i in likert)
            or len(likert) < MIN_ITEMS_FOR_STRAIGHTLINING
        ):
            continue
        # Item by item (each a contiguous column): the highest and lowest answer so far,
        # missing ones skipped, with no respondent-by-item temporaries.
        answered = np.zeros(len(answers), dtype=np.int64)
        high = np.full(len(answers), -np.inf)
        low = np.full(len(answers), np.inf)
        for item_id in likert:
            values = answers[item_id].to_numpy(dtype=float)
            answered += ~np.isnan(values)
            np.fmax(high, values, out=high)
            np.fmin(low, values, out=low)
        add(
            (high == low) & (answered >= MIN_ITEMS_FOR_STRAIGHTLINING),
            "straightlining",
            f"same answer to all {inst.id} items",
        )

    for item_id, expected in config.attention_checks.items():
        if item_id in answers:
            wrong = answers[item_id].to_numpy(dtype=float) != expected  # NaN counts as wrong
            add(wrong, "attention_failed", f"{item_id} not answered {expected}")

    if not found:
        return pd.DataFrame(
            {
                "position": pd.Series(dtype=int),
                "flag": pd.Series(dtype=str),
                "detail": pd.Series(dtype=str),
            }
        )
    return pd.concat(found, ignore_index=True)
