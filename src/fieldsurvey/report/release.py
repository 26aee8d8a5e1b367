"""The gated tables of a study's reports: results from the analysis step, through the gate.

:func:`gate_reports` builds each report's results (:func:`~fieldsurvey.analyse.report_results`)
and publishes them through the study's disclosure gate and release ledger, one report after the
other, so each is judged together with every report released before it (the field-wide report
and the other organisations' reports included). :func:`shown_tables` turns a gated release into
the tables a report displays: support tables dropped, the rest of the field labelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from fieldsurvey.analyse.report import OTHER, THIS, ReportModels, report_results
from fieldsurvey.analyse.report_findings import ReportFindings, report_findings
from fieldsurvey.analyse.study import StudyData
from fieldsurvey.disclosure import Except, GatedRelease, publish
from fieldsurvey.report.organisation_release import gate_organisation_tables
from fieldsurvey.report.timing import stage

__all__ = ["GatedReport", "gate_reports", "gated_report", "shown_tables"]

#: Tables shown together: the organisation's position and its model-based figures.
_MERGED = {"position": "position_model"}


class GatedReport:
    """One report's gated tables, ready to present (and nothing else)."""

    def __init__(self, org: str | None, tables: dict[str, pd.DataFrame], min_cell: int,
                 notes: dict[str, str], findings: ReportFindings | None,
                 organisation_notes: dict[str, str] | None = None) -> None:
        self.org = org
        self.tables = tables
        self.min_cell = min_cell
        self.notes = notes
        self.findings = findings
        #: Notes of the organisation sections (reference used, why a section has no table).
        self.organisation_notes = organisation_notes or {}


def _label_org(table: pd.DataFrame, org: str | None) -> pd.DataFrame:
    """The rest of the field as a label, and the ``focus`` of each row of an org's report."""
    if "org" not in table.columns:
        return table
    table = table.copy()
    values = table["org"]
    if org is not None:
        table["focus"] = [OTHER if isinstance(v, Except) else (THIS if v == org else None)
                          for v in values]
    table["org"] = [f"all but {v.value}" if isinstance(v, Except) else v for v in values]
    return table


def shown_tables(gated: GatedRelease | Any, org: str | None) -> dict[str, pd.DataFrame]:
    """The tables a report displays: gated values only, support tables (``_...``) left out."""
    tables = {name: _label_org(df, org) for name, df in gated.tables.items()
              if not name.startswith("_")}
    for first, second in _MERGED.items():
        if first in tables and second in tables:
            long = tables.pop(second)
            stats = [c for c in long.columns
                     if c not in ("org", "wave", "scale", "n", "suppressed", "focus")]
            wide = {f"{r['scale']}_{c}": r[c] for r in long.to_dict("records") for c in stats}
            if len(tables[first]) == 1:
                tables[first] = tables[first].assign(**{k: [v] for k, v in wide.items()})
    return tables


def gate_reports(
    data: StudyData,
    targets: Sequence[str | None],
    *,
    findings: Any = None,
    command: str = "",
    progress: Callable[[str | None], None] | None = None,
    record: bool = True,
    ahead: Mapping[str, Callable[[], dict[tuple, Any]]] | None = None,
) -> dict[str | None, GatedReport]:
    """Gate the reports of ``targets`` (None: the field-wide report) as one release.

    Reports released together are judged together, and against everything the study's ledger
    holds: a value withheld in one organisation's report cannot come back from another's or
    from the field-wide report. With ``record=False`` nothing is added to the ledger
    (``verify`` recomputing a report). ``ahead`` gives organisation reports' fits computed
    ahead (:func:`~fieldsurvey.analyse.report.organisation_entries`, e.g. in worker
    processes): a callable per organisation returning its entries when they are needed.
    """
    with stage("analysis"):
        models = ReportModels(data)
        reproduced = None
        if findings is not None and getattr(findings, "findings", None) and None in targets:
            reproduced = report_findings(data, findings)
        parts = {}
        for org in targets:
            if org is not None and ahead is not None and org in ahead:
                models.cache.update(ahead[org]())
            parts[org] = report_results(data, org, reproduced if org is None else None,
                                        models=models)
        if not parts:
            return {}
        # The container has every dimension any report uses (the findings' ones included).
        container = parts[None] if None in parts else next(iter(parts.values()))
        combined = container.without_tables()
        for org, results in parts.items():
            combined.include(results, _key(org))
            if progress is not None:
                progress(org)
    what = "reports:" + ",".join(_key(o) for o in targets)
    with stage("gate"):
        gated = publish(combined, data.study, output=what, command=command, record=record)
    # The organisation sections rest on staff posts too: releases of their own, same ledger.
    extra, extra_notes = gate_organisation_tables(data, targets, command=command, record=record)
    notes = dict(models.errors)
    if data.weights_error:
        notes["weights"] = data.weights_error
    out: dict[str | None, GatedReport] = {}
    for org in targets:
        prefix = _key(org) + "/"
        tables = {name[len(prefix):]: table for name, table in gated.tables.items()
                  if name.startswith(prefix)}
        view = _Gated(tables)
        out[org] = GatedReport(org, {**shown_tables(view, org), **extra[org]}, data.min_cell,
                               notes, reproduced if org is None else None, extra_notes)
    return out


def _key(org: str | None) -> str:
    return "field" if org is None else f"org:{org}"


class _Gated:
    """The gated tables of one report, shaped like a gated release for :func:`shown_tables`."""

    def __init__(self, tables: dict[str, pd.DataFrame]) -> None:
        self.tables = tables


def gated_report(data: StudyData, org: str | None = None, *, findings: Any = None,
                 command: str = "", record: bool = True) -> GatedReport:
    """One report's gated tables (see :func:`gate_reports`).

    Examples
    --------
    >>> tables = gated_report(load_study_data(open_study("s")), "O01").tables  # doctest: +SKIP
    """
    return gate_reports(data, [org], findings=findings, command=command, record=record)[org]
