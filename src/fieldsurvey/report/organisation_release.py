"""The organisation sections' tables of a study's reports, through the gate.

The living-wage, model and continuity-of-care sections rest on staff posts from organisation
profiles as well as on responses (:mod:`fieldsurvey.analyse.report_organisations`), so they are
released as one release of their own next to the reports' release: every report's part together,
against the same study ledger (the responses are keyed as in the reports, so cells of both
releases combine in the gate's judgement as cells of one).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from fieldsurvey.analyse.report_organisations import organisation_inputs, organisation_results
from fieldsurvey.analyse.study import StudyData
from fieldsurvey.disclosure import publish

__all__ = ["NO_PROFILES", "gate_organisation_tables"]

#: The note a report gets when the study has no profile for the reported wave.
NO_PROFILES = "no organisation profiles"


def gate_organisation_tables(
    data: StudyData, targets: Sequence[str | None], *, command: str = "", record: bool = True
) -> tuple[dict[str | None, dict[str, pd.DataFrame]], dict[str, str]]:
    """Each report's gated organisation tables (support tables left out), and notes.

    Returns empty tables and the note ``{"profiles": NO_PROFILES}`` when the study has no
    organisation profile for the reported wave.
    """
    inputs = organisation_inputs(data)
    if inputs is None:
        return {org: {} for org in targets}, {"profiles": NO_PROFILES}
    parts = {org: organisation_results(inputs, org) for org in targets}
    combined = next(iter(parts.values())).without_tables()
    for org, results in parts.items():
        combined.include(results, _key(org))
    what = "report-organisations:" + ",".join(_key(o) for o in targets)
    gated = publish(combined, data.study, output=what, command=command, record=record)
    out: dict[str | None, dict[str, pd.DataFrame]] = {}
    for org in targets:
        prefix = _key(org) + "/"
        out[org] = {name[len(prefix):]: table for name, table in gated.tables.items()
                    if name.startswith(prefix) and not name[len(prefix):].startswith("_")}
    return out, dict(inputs.notes)


def _key(org: str | None) -> str:
    return "field" if org is None else f"org:{org}"
