"""``status``: what a study store holds, through the gate (and a data manager's full view)."""

from __future__ import annotations

import pandas as pd

from fieldsurvey.analyse.status import status_results
from fieldsurvey.disclosure import gate_table, policy_for, publish
from fieldsurvey.store import Study
from fieldsurvey.store.status import study_status

__all__ = ["status"]


def status(study: Study, *, full: bool = False, command: str = "") -> dict[str, pd.DataFrame]:
    """Stored responses per organisation and wave, quarantine reasons and flags, gated.

    Counts go through the disclosure gate (responses against the study's release ledger, so
    this output is judged with every other; reasons and flags as tables of counts), and files
    are counted, not listed: per-file counts next to withheld organisations would give them
    away. ``full=True`` is the data manager's view of the store as it is (file names, per-file
    counts, ungated): it is never written anywhere and says so.
    """
    raw = study_status(study)
    if full:
        return raw
    out: dict[str, pd.DataFrame] = {
        "files": pd.DataFrame({"files": [len(raw["batches"])],
                               "waves": [raw["batches"]["wave"].nunique()]}),
    }
    results = status_results(study)
    if results is not None:
        gated = publish(results, study, output="status", command=command)
        table = gated.tables["responses"]
        out["responses"] = table[["org", "wave", "n"]].rename(columns={"n": "responses"})
    policy = policy_for(study)
    for name, dim, count in (("quarantine", "reason", "rows"), ("flags", "flag", "responses")):
        frame = raw[name]
        if frame.empty:
            out[name] = frame
            continue
        table = pd.concat([frame, pd.DataFrame({dim: [None], count: [int(frame[count].sum())]})],
                          ignore_index=True)
        gated = gate_table(table, dims=[dim], count_col=count, policy=policy)
        out[name] = gated[[dim, count]]
    return out
