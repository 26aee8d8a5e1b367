"""What is in a study store: responses by organisation and wave, quarantine reasons, flags."""

from __future__ import annotations

import pandas as pd

from fieldsurvey.store.database import read_store
from fieldsurvey.store.study import Study


def study_status(study: Study) -> dict[str, pd.DataFrame]:
    """Tables describing the store: ``batches``, ``responses`` (org x wave counts),
    ``quarantine`` (reason counts) and ``flags`` (flag counts). Read-only: it runs beside other
    readers, waits for a writer, and never creates a store."""
    return read_store(study, {
        "batches": "SELECT batch_id, file_name, platform, wave, rows_read, stored, quarantined "
                   "FROM batches ORDER BY batch_id",
        "responses": "SELECT org, wave, count(*) AS responses FROM responses GROUP BY org, wave "
                     "ORDER BY org, wave",
        "quarantine": "SELECT regexp_replace(regexp_replace(reason, ' \\(value .*\\)$', ''), "
                      "' as response id ''[^'']*''', '') AS reason, count(*) AS rows "
                      "FROM quarantine GROUP BY 1 ORDER BY rows DESC, reason",
        "flags": "SELECT flag, count(*) AS responses FROM flags GROUP BY flag ORDER BY flag",
    })
