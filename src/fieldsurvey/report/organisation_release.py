"""The organisation sections' tables of a study's reports, through the gate.

The living-wage, model and continuity-of-care sections rest on staff posts from organisation
profiles and on responses (:mod:`fieldsurvey.analyse.report_organisations`): two releases next to
the reports' release, each with every report's part, against the same study ledger. The posts
release goes first; the responses release then carries the estimate from leavers and intention
only for organisations whose estimate from leavers the posts release showed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from fieldsurvey.analyse.report_organisations import (
    organisation_inputs,
    profile_results,
    response_results,
)
from fieldsurvey.analyse.study import StudyData
from fieldsurvey.disclosure import publish
from fieldsurvey.report.timing import stage
from fieldsurvey.results import Results

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
    with stage("analysis"):
        inputs = organisation_inputs(data)
        if inputs is None:
            return {org: {} for org in targets}, {"profiles": NO_PROFILES}
        parts = {org: profile_results(inputs, org) for org in targets}
    posts = _publish(parts, data, "report-profiles:", command, record)
    support = posts[targets[0]]["_continuity_leavers_all"]
    shown = support.loc[support["handoffs"].notna(), "org"].astype(str).tolist()
    with stage("analysis"):
        parts = {org: response_results(inputs, org, profile_shown=shown) for org in targets}
    responses = _publish(parts, data, "report-organisations:", command, record)
    out = {org: {name: table for name, table in {**posts[org], **responses[org]}.items()
                 if not name.startswith("_")} for org in targets}
    return out, dict(inputs.notes)


def _publish(parts: dict[str | None, Results], data: StudyData, output: str, command: str,
             record: bool) -> dict[str | None, dict[str, pd.DataFrame]]:
    """Every report's part as one release; each report's gated tables (support included)."""
    with stage("analysis"):
        combined = next(iter(parts.values())).without_tables()
        for org, results in parts.items():
            combined.include(results, _key(org))
    what = output + ",".join(_key(o) for o in parts)
    with stage("gate"):
        gated = publish(combined, data.study, output=what, command=command, record=record)
    return {org: {name[len(_key(org)) + 1:]: table for name, table in gated.tables.items()
                  if name.startswith(_key(org) + "/")} for org in parts}


def _key(org: str | None) -> str:
    return "field" if org is None else f"org:{org}"
