"""The organisation sections of a report: continuity of care, living wage, peer-led models.

Written only from gated tables (:mod:`fieldsurvey.report.organisation_release`): every number
comes from a gated table, withheld values print as withheld, and nothing is computed here. A
study without organisation profiles gets one sentence per section saying so.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fieldsurvey.analyse.report_organisations import MODELS
from fieldsurvey.report.document import ReportDocument, format_number
from fieldsurvey.report.organisation_release import NO_PROFILES

__all__ = ["HEADING", "continuity_headline", "write_organisation_sections"]

HEADING = "Organisations"
WITHHELD, WITHHELD_MARK = "withheld", "*withheld*"
_MODELS = {"peer_led": "Peer-led programmes", "survivor_board": "Survivor-led board"}
_CONTINUITY_DOC = "docs/continuity.md"
#: Below this many organisations the model comparison carries a caveat (as drivers do).
FEW_ORGANISATIONS = 10


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _n(value: Any, decimals: int = 0) -> str:
    return WITHHELD if _missing(value) else format_number(float(value), decimals)


def _interval(low: Any, high: Any, decimals: int = 0, withheld: str = WITHHELD) -> str:
    if _missing(low) or _missing(high):
        return withheld
    return f"{format_number(float(low), decimals)} to {format_number(float(high), decimals)}"


def _own(table: pd.DataFrame, org: str | None) -> pd.DataFrame:
    """The rows of organisations (not the field's) a report shows."""
    rows = table[table["org"].notna() & (table["org"].astype(str) != "")]
    return rows if org is None else rows[rows["org"].astype(str) == org]


class _Section:
    """What the organisation sections of one report read."""

    def __init__(self, tables: dict[str, pd.DataFrame], notes: dict[str, str], org: str | None,
                 wave: str, scale_labels: dict[str, str]) -> None:
        self.tables, self.notes, self.org, self.wave = tables, notes, org, wave
        self.labels = scale_labels

    @property
    def profiles(self) -> bool:
        return self.notes.get("profiles") != NO_PROFILES

    def no_profiles(self, doc: ReportDocument, what: str) -> bool:
        if self.profiles:
            return False
        doc.paragraph(f"This study has no organisation profiles for wave {self.wave}, so there "
                      f"is no {what} to report.")
        return True

    def unprofiled(self, doc: ReportDocument, table: str) -> bool:
        """An organisation's report when the organisation returned no profile."""
        if self.org is None or not _own(self.tables.get(table, pd.DataFrame(
                columns=["org"])), self.org).empty:
            return False
        doc.paragraph(f"{self.org} returned no organisation profile for wave {self.wave}.")
        return True


# --------------------------------------------------------------------------------------------


def continuity_headline(tables: dict[str, pd.DataFrame], org: str | None) -> str | None:
    """The summary's sentence on continuity of care (None without profiles)."""
    if "continuity_leavers" not in tables:
        return None
    field = tables["continuity_field"].iloc[0]
    if org is not None:
        mine = _own(tables["continuity_leavers"], org)
        if mine.empty:
            return None
        row = mine.iloc[0]
        if _missing(row["handoffs"]):
            return f"Continuity of care: {org}'s expected hand-offs are withheld."
        return (f"Continuity of care: if the coming year is like the last, about "
                f"{_n(row['handoffs'])} survivors a year get a new case manager at {org} "
                f"because theirs leaves (95% interval "
                f"{_interval(row['handoffs_ci_low'], row['handoffs_ci_high'])}).")
    if _missing(field["handoffs"]):
        return "Continuity of care: the field's expected hand-offs are withheld."
    return (f"Continuity of care: across the {_n(field['organisations'])} organisations shown, "
            f"about {_n(field['handoffs'])} survivors a year get a new case manager because "
            f"theirs leaves (95% interval "
            f"{_interval(field['handoffs_ci_low'], field['handoffs_ci_high'])}).")


def _continuity_rows(table: pd.DataFrame, label: Any, survey: bool) -> list[dict[str, Any]]:
    rows = []
    for r in table.to_dict("records"):
        row: dict[str, Any] = {"Organisation": label(r)}
        if survey:
            row.update({"Staff answering": r.get("respondents"),
                        "Thinking of leaving": _percent(r.get("intending_share"), WITHHELD_MARK)})
        else:
            row.update({"Staff": r.get("staff"), "Leavers": r.get("leavers"),
                        "Case managers": r.get("case_managers"), "Caseload": r.get("caseload")})
        row.update({
            "Departures per staff-year": r.get("rate"),
            "Hand-offs a year": r.get("handoffs"),
            "95% interval": _interval(r.get("handoffs_ci_low"), r.get("handoffs_ci_high"),
                                      withheld=WITHHELD_MARK),
            "Next year's count (95%)": _interval(r.get("handoffs_pi_low"),
                                                  r.get("handoffs_pi_high"),
                                                  withheld=WITHHELD_MARK),
        })
        rows.append(row)
    return rows


_DECIMALS = {"Staff": 0, "Leavers": 0, "Case managers": 0, "Caseload": 1, "Staff answering": 0,
             "Departures per staff-year": 2, "Hand-offs a year": 1}


def _continuity(s: _Section, doc: ReportDocument) -> None:
    doc.heading("Continuity of care", level=2)
    if s.no_profiles(doc, "estimate of survivor hand-offs") or s.unprofiled(
            doc, "continuity_leavers"):
        return
    doc.paragraph(
        "When a case manager leaves, every survivor on their caseload gets a new one. From each "
        "organisation's profile (leavers in the last 12 months, staff, case managers and their "
        "caseload) the expected number of such hand-offs in a year is the case managers times "
        "their caseload times the departure rate per member of staff; the rate is the last "
        "year's, or, in the second table, pooled with the responding staff who are thinking of "
        f"leaving in the next 12 months (model and assumptions: {_CONTINUITY_DOC}).")
    for name, total, caption in (
            ("continuity_leavers", "continuity_field", "from last year's leavers"),
            ("continuity", "continuity_field_intention",
             "from leavers and staff's intention to leave")):
        own = _own(s.tables[name], s.org)
        survey = name == "continuity"
        if own.empty and s.org is not None:
            doc.paragraph(f"There is no estimate {caption} for {s.org}: none of its staff "
                          "answered the intention item this wave.")
            continue
        hidden = 0
        if survey and s.org is None:  # the field report lists the organisations shown
            hidden = int(own["handoffs"].isna().sum())
            own = own[own["handoffs"].notna()]
        rows = _continuity_rows(own, lambda r: str(r["org"]), survey)
        rows += _continuity_rows(s.tables[total], lambda r: (
            f"Field ({_n(r.get('organisations'))} shown)"), survey)
        table = pd.DataFrame(rows)
        for col in table.columns:
            if col in _DECIMALS:
                table[col] = pd.to_numeric(table[col], errors="coerce")
        doc.table(table, f"Expected survivor hand-offs a year {caption}, wave {s.wave}",
                  decimals={c: d for c, d in _DECIMALS.items() if c in table.columns},
                  missing=WITHHELD_MARK)
        if hidden:
            doc.paragraph(f"The estimate {caption} is withheld for the other {hidden} "
                          "organisations with survey answers.")
    if s.org is not None:
        mine = _own(s.tables["continuity"], s.org)
        if not mine.empty and _missing(mine["handoffs"].iloc[0]):
            doc.paragraph("The estimate that also counts staff's intention to leave is withheld "
                          "for this organisation.")
    doc.paragraph("Field totals add up the organisations whose estimates are shown; the "
                  "interval is for the expected number, the next year's count also varies "
                  "with who happens to leave.")


def _living_wage(s: _Section, doc: ReportDocument) -> None:
    doc.heading("Living wage", level=2)
    if s.no_profiles(doc, "comparison of pay with a living wage") or s.unprofiled(
            doc, "continuity_leavers"):
        return
    if "living_wage" not in s.tables:
        doc.paragraph("Entry pay could not be compared with the living-wage reference: "
                      f"{s.notes.get('living_wage', 'no profile gives an entry pay')}.")
        return
    table = s.tables["living_wage"]
    rows = []
    for r in table.to_dict("records"):
        field = _missing(r.get("org")) or str(r.get("org")) == ""
        rows.append({"Organisation": "Field" if field else str(r["org"]),
                     "Roles compared": r.get("roles"), "Roles below": r.get("roles_below"),
                     "Share of roles below": _percent(r.get("share_roles_below")),
                     "Share of staff in them": _percent(r.get("share_staff_below"))})
    out = pd.DataFrame(rows)
    for col in ("Roles compared", "Roles below"):
        out[col] = pd.to_numeric(out[col], errors="coerce")
    reference = s.notes.get("living_wage_reference", "the study's reference")
    doc.paragraph(f"Entry pay of each role in the organisation profiles against the living-wage "
                  f"reference *{reference}*, as hourly rates (docs/living-wage.md). Source: "
                  f"{s.notes.get('living_wage_source', 'not given')}")
    if s.notes.get("living_wage_example") == "yes":
        doc.paragraph("The reference is the example table shipped with fieldsurvey: a study "
                      "should supply the reference for its own regions and year.")
    doc.table(out, f"Roles paid below the living-wage reference, wave {s.wave}",
              decimals={"Roles compared": 0, "Roles below": 0}, missing=WITHHELD_MARK)


def _percent(value: Any, withheld: str = WITHHELD_MARK) -> str:
    return withheld if _missing(value) else f"{100 * float(value):.0f}%"


def _models(s: _Section, doc: ReportDocument) -> None:
    doc.heading("Peer-led and survivor-led models", level=2)
    if s.no_profiles(doc, "comparison of peer-led and survivor-led programmes"):
        return
    if s.org is not None and "organisation_model" in s.tables:
        mine = _own(s.tables["organisation_model"], s.org)
        if not mine.empty:
            r = mine.iloc[0]
            doc.paragraph(f"{s.org}'s profile: {_text(r.get('peer_led_model'))}; survivor-led "
                          "board (at least half with lived experience): "
                          f"{_text(r.get('survivor_board_model'))}.")
    if "model_burnout" not in s.tables:
        doc.paragraph("This study scores no burnout scale to compare.")
        return
    groups = s.tables["model_burnout"]
    scales = [c[:-5] for c in groups.columns if c.endswith("_mean")]
    rows = []
    for r in groups.to_dict("records"):
        first = str(r["group"]) == MODELS[str(r["model"])][0]
        entry: dict[str, Any] = {"Model": _MODELS.get(str(r["model"]), str(r["model"])),
                                 "Organisation has it": "yes" if first else "no",
                                 "Organisations": r.get("organisations"),
                                 "Staff": r.get("respondents")}
        for sc in scales:
            entry[f"{s.labels.get(sc, sc)}: mean"] = r.get(f"{sc}_mean")
        rows.append(entry)
    table = pd.DataFrame(rows)
    for col in table.columns[2:]:
        table[col] = pd.to_numeric(table[col], errors="coerce")
    counted = pd.to_numeric(groups["organisations"], errors="coerce")
    total = counted[groups["model"] == "peer_led"].sum()
    doc.paragraph("Burnout of staff field-wide by their organisation's model, over the "
                  f"{_n(total)} organisations whose results are shown (higher is more burnout)."
                  + (" With so few organisations, any other difference between them can show "
                     "up as a difference between models." if total < FEW_ORGANISATIONS else ""))
    doc.table(table, f"Burnout by organisation model, wave {s.wave}",
              decimals={"Organisations": 0, "Staff": 0, **{c: 1 for c in table.columns[4:]}},
              missing=WITHHELD_MARK)
    _model_differences(s, doc)


def _text(value: Any) -> str:
    return WITHHELD if _missing(value) else str(value)


def _model_differences(s: _Section, doc: ReportDocument) -> None:
    tests = s.tables.get("model_tests")
    if tests is None or tests.empty:
        return
    rows = []
    for r in tests.to_dict("records"):
        rows.append({"Model": _MODELS.get(str(r["model"]), str(r["model"])),
                     "Scale": s.labels.get(str(r["scale"]), str(r["scale"])),
                     "Difference": r.get("diff"),
                     "95% interval": _interval(r.get("diff_ci_low"), r.get("diff_ci_high"), 1,
                                               withheld=WITHHELD_MARK),
                     "Hedges' g": r.get("g"), "p": r.get("p")})
    table = pd.DataFrame(rows)
    for col in ("Difference", "Hedges' g", "p"):
        table[col] = pd.to_numeric(table[col], errors="coerce")
    doc.paragraph("Differences are the model's group minus the others (peer-led programmes "
                  "minus none; survivor-led board minus other boards); negative means less "
                  "burnout. Welch's test; organisations differ in more than their model, so "
                  "this describes, it does not show cause.")
    doc.table(table, f"Burnout differences by organisation model, wave {s.wave}",
              decimals={"Difference": 1, "Hedges' g": 2}, missing=WITHHELD_MARK, pvalues=["p"])


def write_organisation_sections(tables: dict[str, pd.DataFrame], notes: dict[str, str],
                                org: str | None, wave: str, scale_labels: dict[str, str],
                                doc: ReportDocument) -> None:
    """Add the heading "Organisations" and its three sections to ``doc``."""
    s = _Section(tables, notes, org, wave, scale_labels)
    doc.heading(HEADING)
    _continuity(s, doc)
    _living_wage(s, doc)
    _models(s, doc)
