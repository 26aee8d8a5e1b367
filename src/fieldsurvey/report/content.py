"""What each report section shows, written only from gated tables.

:func:`write_report_content` takes a report's gated tables (:mod:`fieldsurvey.report.release`),
puts every one into the results bundle, draws figures from gated values only and writes the
document sections. No function here reads respondent data: every number in the
text, the tables, the figures and their alt text comes from a gated table, so a withheld value
cannot reach the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.analyse.report import OTHER, THIS, WEIGHTED
from fieldsurvey.analyse.study import PUBLISHED_RELIABILITY, ScaleInfo, StudyData
from fieldsurvey.disclosure import gate_table, policy_for
from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.report import content_benchmarking as benchmarking
from fieldsurvey.report.bundle import ResultsBundle
from fieldsurvey.report.document import ReportDocument, format_number
from fieldsurvey.report.figures import (
    band_stack_bars,
    binned_distribution,
    funnel_plot,
    trend_lines,
)
from fieldsurvey.report.organisation_content import (
    continuity_headline,
    write_organisation_sections,
)
from fieldsurvey.report.release import GatedReport

__all__ = ["SECTION_HEADINGS", "fmt", "write_report_content"]

#: Level-1 headings of every report, in order (organisation reports add "Against the field").
SECTION_HEADINGS = (
    "Summary",
    "Who responded",
    "Wellbeing scales",
    "Lived-experience staff",
    "Structural conditions",
    "Organisations",
    "Methods",
    "Reproducibility",
)
WITHHELD = "withheld"
#: How a withheld table cell is printed: in italics, so that it never reads as a value.
WITHHELD_MARK = "*withheld*"
#: Models across organisations (drivers, ICC) rest on this many organisations at least before
#: the report states them without a caveat, and on FEWEST_ORGANISATIONS before it shows them.
FEW_ORGANISATIONS = 10
FEWEST_ORGANISATIONS = 3


def fmt(value: Any, decimals: int = 1) -> str:
    """A number as the report prints it; missing (withheld) values as "withheld".

    Examples
    --------
    >>> fmt(22.25), fmt(0.8812, 2), fmt(None)
    ('22.2', '0.88', 'withheld')
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return WITHHELD
    return format_number(value, decimals)


def _pct(part: Any, whole: Any) -> str:
    if _missing(part) or _missing(whole) or float(whole) == 0:
        return WITHHELD
    return f"{100 * float(part) / float(whole):.0f}%"


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _row(table: pd.DataFrame, **where: Any) -> pd.Series:
    # Plain Python comparisons over the column values, then one positional lookup: section
    # writers look rows up hundreds of times per report, and a pandas mask (or a filtered
    # frame) per lookup was most of their time.
    positions: Sequence[int] = range(len(table))
    for col, value in where.items():
        values = table[col].tolist()
        positions = [i for i in positions if _equal(values[i], value)]
    if len(positions) != 1:
        raise KeyError(f"{where}: {len(positions)} rows")
    return table.iloc[positions[0]]


def _equal(a: Any, b: Any) -> bool:
    match = a == b
    return match if isinstance(match, bool) else bool(match)


def _get(row: pd.Series, column: str) -> Any:
    value = row.get(column)
    return None if _missing(value) else value


class _Report:
    """State shared by the section writers of one report."""

    def __init__(self, data: StudyData, gated: GatedReport, bundle: ResultsBundle) -> None:
        self.data = data
        self.org = gated.org
        self.bundle = bundle
        # Only the field-wide report recomputes published findings; their values were gated
        # in the report's one release, together with every other table.
        self.findings = gated.findings
        self.tables = gated.tables
        self.notes = gated.notes
        self.gated = gated
        for name, table in self.tables.items():
            bundle.add_table(name, _for_bundle(table))
        org = self.org
        self.units = [THIS, OTHER] if org is not None else [None]
        self.figure_dir = bundle.figures_dir
        self.figure_dir.mkdir(parents=True, exist_ok=True)
        self.summary: list[str] = []

    def t(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def measures(self, scale: str) -> bool:
        """Whether the study scores this wellbeing scale (ProQOL burnout drives the funnel
        plot and the trend; a study without ProQOL has neither)."""
        return any(info.id == scale for info in self.data.wellbeing)

    def asks(self, item: str) -> bool:
        """Whether one of the study's instruments has this item (a study without the
        workforce-context items has no roles and no lived experience to report)."""
        return any(item in inst.item_ids for inst in self.data.study.instruments())

    def units_of(self, table: pd.DataFrame) -> list[str | None]:
        """The units a table describes: this organisation and the rest of the field, or (a
        small organisation's breakdowns are shown for the field only) the field."""
        return [THIS, OTHER] if "focus" in table.columns else [None]

    def unit_where(self, unit: str | None) -> dict[str, Any]:
        return {"focus": unit} if unit is not None else {}

    def unit_label(self, unit: str | None) -> str:
        if unit == THIS:
            return str(self.org)
        if unit == OTHER:
            return "Rest of the field"
        return "Field"


def _for_bundle(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    objects = [col for col, dtype in zip(out.columns, out.dtypes, strict=True)
               if dtype == np.dtype(object)]
    for col in objects:
        out[col] = out[col].map(lambda v: "" if v is None else v)
    return out


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _who_responded(r: _Report, doc: ReportDocument) -> None:
    doc.heading("Who responded")
    latest = r.data.latest
    by_wave = r.t("respondents_by_wave")
    table = pd.DataFrame(
        {"Wave": by_wave["wave"].astype(str), "Responses": by_wave["n"].astype("Int64")}
    )
    whose = f"{r.org}'s staff" if r.org else "staff across the field"
    doc.paragraph(
        f"Responses from {whose} by survey wave; this report describes wave {latest}. "
        f"Counts below {r.data.min_cell} are withheld, and so are counts that would reveal them."
    )
    doc.table(table, "Responses by survey wave", missing=WITHHELD_MARK)
    if not r.asks("wf_role"):
        doc.paragraph("This study did not ask staff their role, so responses are not shown by "
                      "role.")
    else:
        _by_role(r, doc)
    if "respondents_by_size" in r.tables:
        by_size = r.t("respondents_by_size")
        sizes = pd.DataFrame(
            {
                "Organisation size (respondents)": by_size["size_band"].astype(str),
                "Responses": by_size["n"].astype("Int64"),
            }
        )
        doc.table(
            sizes, f"Responses by organisation size band, wave {latest}", missing=WITHHELD_MARK
        )
    excluded = _exclusions(r)
    if excluded is not None:
        doc.paragraph(
            "Responses left out of every analysis under the study's exclusion rules (they stay "
            "in the store), across all organisations and waves:"
        )
        doc.table(excluded, "Excluded responses by reason", missing=WITHHELD_MARK)
    else:
        doc.paragraph("No responses were excluded under the study's exclusion rules.")


def _by_role(r: _Report, doc: ReportDocument) -> None:
    by_role = r.t("respondents_by_role")
    if r.org is not None and "focus" not in by_role.columns:
        doc.paragraph(
            f"Responses by role are shown for the field: {r.org}'s own are shown only for "
            "organisations with at least three times the minimum cell size of respondents."
        )
    roles = pd.DataFrame(
        {
            "Role": by_role["role"].map(lambda v: "All roles" if _missing(v) else str(v)),
            "Responses": by_role["n"].astype("Int64"),
        }
    )
    doc.table(roles, f"Responses by role, wave {r.data.latest}", missing=WITHHELD_MARK)


_REASONS = {
    "incomplete": "Did not finish the survey",
    "speeder": "Answered implausibly fast",
    "straightlining": "Gave the same answer to every item",
    "attention_failed": "Failed an attention check",
}


def _exclusions(r: _Report) -> pd.DataFrame | None:
    counts = r.data.excluded
    if not counts:
        return None
    raw = pd.DataFrame(
        {
            "reason": [*counts, None],
            "n": [*counts.values(), sum(counts.values())],
        }
    )
    gated = gate_table(raw, dims=["reason"], policy=policy_for(r.data.study))
    r.bundle.add_table("exclusions", _for_bundle(gated))
    return pd.DataFrame(
        {
            "Reason": gated["reason"].map(
                lambda v: "All reasons" if _missing(v) else _REASONS.get(str(v), str(v))
            ),
            "Responses": gated["n"].astype("Int64"),
        }
    )


def _concerning_band(info: ScaleInfo) -> str:
    labels = info.band_labels
    return labels[-1] if info.scale.higher_is == "worse" else labels[0]


def _band_counts(r: _Report, info: ScaleInfo, unit: str | None) -> dict[str, Any]:
    table = r.t(f"bands_{info.id}")
    out = {}
    for band in info.band_labels:
        row = _row(table, **{f"{info.id}_band": band, **r.unit_where(unit)})
        out[band] = _get(row, "n")
    return out


def _wellbeing(r: _Report, doc: ReportDocument) -> None:
    doc.heading("Wellbeing scales")
    scores = r.t("scale_scores")
    rel = r.t("reliability").iloc[0]
    doc.paragraph(
        "Each scale's scores this wave: how many staff have a score, the mean and standard "
        "deviation, and the reliability of the scale on these staff's answers (Cronbach's alpha "
        "and McDonald's omega total) next to the published reliability where we have verified "
        "it. Reliability needs at least the minimum cell size of respondents."
    )
    rows = []
    own = THIS if r.org is not None else None
    row = _row(scores, **r.unit_where(own))
    for info in r.data.wellbeing:
        published = PUBLISHED_RELIABILITY.get(info.id)
        rows.append(
            {
                "Scale": info.label,
                "n": _get(row, f"{info.id}_n"),
                "Mean": _get(row, f"{info.id}_mean"),
                "SD": _get(row, f"{info.id}_sd"),
                "Alpha": _get(rel, f"{info.id}_alpha"),
                "Omega": _get(rel, f"{info.id}_omega"),
                "Published alpha": f"{published[0]:.2f}" if published else "not verified",
            }
        )
        mean, n = _get(row, f"{info.id}_mean"), _get(row, f"{info.id}_n")
        if r.org is None and info.instrument.id == "proqol5" and mean is not None:
            r.summary.append(
                f"The mean {info.label.lower()} score was {fmt(mean)} "
                + (f"(n = {int(n)}, " if n is not None else "(")
                + f"possible range {info.lowest:g} to {info.highest:g})."
            )
    table = pd.DataFrame(rows)
    table["n"] = table["n"].astype("Int64")
    for col in ("Mean", "SD", "Alpha", "Omega"):
        table[col] = pd.to_numeric(table[col], errors="coerce")
    doc.table(
        table,
        f"Wellbeing scale scores and reliability, wave {r.data.latest}",
        decimals={"Mean": 1, "SD": 1, "Alpha": 2, "Omega": 2},
        missing=WITHHELD_MARK,
    )
    _weighted_scales(r, doc)
    doc.paragraph(
        "Published reliability: ProQOL compassion satisfaction 0.88 (Stamm 2010, The Concise "
        "ProQOL Manual). The published reliability of the other scales has not been verified "
        "against their sources, so none is quoted. " + _norms_text(r.data.wellbeing)
    )
    for info in r.data.wellbeing:
        doc.heading(info.label, level=2)
        bins = r.tables.get(f"bins_{info.id}")
        whose = r.org if r.org else "the field"
        if bins is None:
            if info.scale.bands:
                _bands_section(r, doc, info)
            continue
        if bins["n"].isna().all():
            doc.paragraph(
                f"The distribution of {info.label} scores is withheld: every score range "
                "holds too few staff to show."
            )
            if info.scale.bands:
                _bands_section(r, doc, info)
            continue
        fig = binned_distribution(
            pd.DataFrame({"bin": bins[f"{info.id}_bin"], "n": bins["n"]}),
            r.figure_dir / f"distribution-{info.id}.png",
            scale_label=info.label,
            caption=f"{info.label}: staff per score range, {whose}, wave {r.data.latest}",
        )
        doc.figure(fig)
        if info.scale.bands:
            _bands_section(r, doc, info)


def _weighted(r: _Report) -> bool:
    """Whether this report's release carries survey-weighted estimates."""
    return "weighted_scores" in r.tables


def _weighted_scales(r: _Report, doc: ReportDocument) -> None:
    """Survey-weighted means next to the unweighted ones (when the study has staff counts)."""
    if not _weighted(r):
        return
    unit = r.unit_where(THIS if r.org is not None else None)
    row, weighted = _row(r.t("scale_scores"), **unit), _row(r.t("weighted_scores"), **unit)
    whose = f"{r.org}'s staff" if r.org else "the staff of the field"
    doc.paragraph(
        f"The same means weighted to {whose} by organisation and role (staff head counts; see "
        "Methods), with their 95% intervals. Weighted means are withheld wherever the "
        "unweighted mean is."
    )
    rows = []
    for info in r.data.wellbeing:
        key = f"{info.id}{WEIGHTED}"
        rows.append(
            {
                "Scale": info.label,
                "n": _get(row, f"{info.id}_n"),
                "Mean": _get(row, f"{info.id}_mean"),
                "Weighted mean": _get(weighted, f"{key}mean"),
                "95% CI low": _get(weighted, f"{key}ci_low"),
                "95% CI high": _get(weighted, f"{key}ci_high"),
            }
        )
    table = pd.DataFrame(rows)
    table["n"] = table["n"].astype("Int64")
    for col in table.columns[2:]:
        table[col] = pd.to_numeric(table[col], errors="coerce")
    doc.table(
        table, f"Survey-weighted wellbeing scale means, wave {r.data.latest}", missing=WITHHELD_MARK
    )


def _norms_text(scales: list[ScaleInfo]) -> str:
    normed = [s for s in scales if s.scale.norms is not None]
    if not normed:
        return (
            "None of these instruments has published norms bundled with fieldsurvey, so scores "
            "are read against the instruments' bands, not population norms."
        )
    parts = [
        f"{s.label}: mean {s.scale.norms.mean:g}, SD {s.scale.norms.sd:g} ({s.scale.norms.source})"
        for s in normed
    ]
    return "Published norms: " + "; ".join(parts) + "."


def _bands_section(r: _Report, doc: ReportDocument, info: ScaleInfo) -> None:
    rows = []
    shares = []
    concern = _concerning_band(info)
    concern_text: dict[str | None, str] = {}
    scores = r.t("scale_scores")
    units = r.units_of(r.t(f"bands_{info.id}"))
    field_scores = r.tables.get("field_scores")
    for unit in units:
        counts = _band_counts(r, info, unit)
        # Bands split the staff with a score, so the scored count (shown in the scale table)
        # is the denominator; a share is only printed when both of its numbers are shown.
        source = scores if unit is not None or r.org is None else field_scores
        scored = (_get(_row(source, **r.unit_where(unit)), f"{info.id}_n")
                  if source is not None else None)
        for band, n in counts.items():
            share = _pct(n, scored)
            rows.append(
                {"Group": r.unit_label(unit), "Band": band, "Staff": n,
                 "Share": None if share == WITHHELD else share}
            )
        if all(v is not None for v in counts.values()) and scored:
            for band, n in counts.items():
                shares.append({"group": r.unit_label(unit), "band": band, "share": n / scored})
        if counts[concern] is not None and scored:
            concern_text[unit] = (
                f"{_pct(counts[concern], scored)} ({int(counts[concern])} of {int(scored)})"
            )
    own = THIS if units != [None] else None
    whose = f"{r.org}'s staff" if own is not None else "staff across the field"
    if r.org is not None and own is None:
        r.summary.append(
            f"{r.org}'s own band breakdowns are not shown: they are shown only for "
            "organisations with at least three times the minimum cell size of respondents; the "
            "field's breakdowns are shown instead."
        )
    if own in concern_text:
        sentence = f"{info.label} was in the {concern} band for {concern_text[own]} of {whose} with a score"
        if OTHER in concern_text:
            sentence += f", against {concern_text[OTHER]} in the rest of the field"
        r.summary.append(sentence + ".")
    else:
        r.summary.append(
            f"The share of {whose} in the {concern} {info.label} band is withheld: too few "
            "staff to show it safely."
        )
    table = pd.DataFrame(rows)
    table["Staff"] = table["Staff"].astype("Int64")
    if units == [None]:
        table = table.drop(columns=["Group"])
    doc.table(table, f"{info.label}: staff in each band", missing=WITHHELD_MARK)
    if shares:
        fig = band_stack_bars(
            pd.DataFrame(shares),
            r.figure_dir / f"bands-{info.id}.png",
            band_order=info.band_labels,
            caption=f"{info.label}: share of staff in each band",
        )
        doc.figure(fig)


def _lived_experience(r: _Report, doc: ReportDocument, findings: Any) -> None:
    doc.heading("Lived-experience staff")
    doc.paragraph(
        "Staff who said they have lived experience of trafficking or the sex trade, next to "
        "other staff. Answers of 'prefer not to say' and missing answers are in neither group. "
        "Because these are small and sensitive groups, a comparison is shown only when every "
        "answer category has at least the minimum cell size; otherwise it is withheld as a whole."
    )
    if not r.asks("wf_lived_exp"):
        doc.paragraph(
            "This study did not ask staff about lived experience (its instruments do not "
            "include the workforce-context items), so there is no comparison to show."
        )
    else:
        _lived_comparison(r, doc)
    _published_findings(r, doc, findings)


def _lived_comparison(r: _Report, doc: ReportDocument) -> None:
    """Lived-experience and other staff side by side, with invariance statements."""
    table = r.t("lived_experience")
    tests_table = r.t("lived_experience_tests")
    rows = []
    units = r.units_of(table)
    if r.org is not None and units == [None]:
        doc.paragraph(
            f"{r.org}'s own lived-experience comparison cannot be shown safely: it is shown only "
            "for organisations with at least three times the minimum cell size of respondents. "
            "The field's comparison is shown instead."
        )
    for info in r.data.wellbeing:
        tests = _row(tests_table, scale=info.id)
        for unit in units:
            yes = _row(table, lived_experience="yes", **r.unit_where(unit))
            no = _row(table, lived_experience="no", **r.unit_where(unit))
            both = (
                _get(yes, f"{info.id}_mean") is not None and _get(no, f"{info.id}_mean") is not None
            )
            own_test = unit != OTHER
            # Short headers (explained in the key below) keep the eight columns on the page.
            rows.append(
                {
                    "Scale": info.label,
                    "Group": r.unit_label(unit),
                    "LE n": _get(yes, f"{info.id}_n"),
                    "LE mean": _get(yes, f"{info.id}_mean"),
                    "Other n": _get(no, f"{info.id}_n"),
                    "Other mean": _get(no, f"{info.id}_mean"),
                    "g": _get(tests, "g") if both and own_test else None,
                    "p": _get(tests, "p") if both and own_test else None,
                }
            )
    out = pd.DataFrame(rows)
    for col in ("LE n", "Other n"):
        out[col] = out[col].astype("Int64")
    for col in ("LE mean", "Other mean", "g", "p"):
        out[col] = pd.to_numeric(out[col], errors="coerce")
    if units == [None]:
        out = out.drop(columns=["Group"])
    doc.table(
        out,
        f"Lived-experience staff and other staff, wave {r.data.latest}",
        decimals={"g": 2},
        missing=WITHHELD_MARK,
        pvalues=["p"],
    )
    doc.paragraph(
        "Key: LE, staff with lived experience; Other, other staff; n, staff with a score; "
        "g, Hedges' g (the difference of the two means in standard deviations, lived "
        "experience minus other staff); p, Welch's t-test. *withheld*: not shown, to protect "
        "small groups."
    )
    inv = r.tables.get("invariance", pd.DataFrame(columns=["scale", "highest_level", "note"]))
    statements = []
    for result in inv.to_dict(orient="records"):
        label = r.data.scale(result["scale"]).label
        level = result["highest_level"]
        if _missing(level):
            statements.append(
                f"{label}: measurement invariance cannot be reported: too few staff in one of "
                "the groups to show it safely."
            )
            continue
        if level in ("scalar", "strict", "intercepts"):
            statements.append(
                f"{label}: thresholds, loadings and intercepts are equal in both groups "
                "field-wide (full invariance), so means of the two groups can be compared."
            )
        elif level == "not tested":
            statements.append(
                f"{label}: measurement invariance could not be tested ({result['note']}); read "
                "the comparison with care."
            )
        else:
            statements.append(
                f"{label}: measurement invariance holds only to the {level} level field-wide, so "
                "the scale may not measure the same thing in both groups; the comparison must be "
                "read with care."
            )
    if statements:
        doc.paragraph(
            "Measurement invariance between lived-experience and other staff (multi-group CFA "
            "for ordinal answers on every answer given, in the steps of Wu & Estabrook 2016: "
            "thresholds, then loadings, then intercepts; tested on the whole field):"
        )
        doc.bullets(statements)



def _published_findings(r: _Report, doc: ReportDocument, findings: Any) -> None:
    if findings is not None and findings.findings:
        doc.heading("Published field-wide findings", level=2)
        if r.findings is None:
            doc.paragraph(
                f"Findings from the literature ({findings.title}), for context. They come from "
                "other samples and instruments. The field-wide report recomputes each of them on "
                "this study's data; an organisation's report does not, so that every such value "
                "is gated once, together with the field-wide report's other numbers."
            )
            doc.bullets([f"{f.statement} Source: {f.citation}" for f in findings.findings])
        else:
            _reproduction(r, doc, findings.title)


def _reproduction(r: _Report, doc: ReportDocument, title: str) -> None:
    """The published findings recomputed on this wave, from the report's gated release."""
    from fieldsurvey.reproduce.recompute import reproduce_table

    if r.findings is None:
        return
    rows = r.findings.gated_rows(r.tables, r.data.min_cell)
    table = reproduce_table(rows, withheld=WITHHELD)
    # A finding that itself contrasts lived-experience staff has no lived-experience value.
    compares = [cell.compares_lived for cell in r.findings.cells]
    table.loc[compares, "Lived experience"] = "not applicable"
    refs = [f"[{k}]" for k in range(1, len(table) + 1)]
    # Reasons are long: they go to the numbered notes so the table stays readable in a PDF.
    table["Finding"] = [f"{ref} {fid}" for ref, fid in zip(refs, rows["id"], strict=True)]
    table["Verdict"] = rows["verdict"].to_numpy()
    table = table.rename(columns={"This study": "This study [95% CI]", "n": "Staff (n)"})
    notes = []
    for ref, row in zip(refs, rows.to_dict(orient="records"), strict=True):
        note = f"{ref} {row['id']}: {row['statement']} Source: {row['citation']}"
        if row["verdict"] == "not computable":
            note += f" Not computable here: {_not_computable(str(row['reason']))}."
        notes.append(note)
    _record_findings(r, title, table, rows)
    if (rows["verdict"] == "not computable").all():
        # A table of rows that all say "not computable" looks like a broken report.
        doc.paragraph(
            f"None of the {len(rows)} findings from the literature ({title}) could be "
            f"recomputed on this study's wave {r.data.latest}; each is listed below with its "
            "source and the reason."
        )
        doc.bullets(notes)
        return
    doc.paragraph(
        f"Findings from the literature ({title}), recomputed with each finding's recipe on the "
        f"staff who responded in wave {r.data.latest}. Proportions are percentages of staff "
        "with a score (Wilson 95% interval), means have a t interval and SDs a chi-square "
        "interval; the difference is this study minus the published value (percentage points "
        "for proportions). Verdicts: matches (this study's value lies within the published "
        "value's rounding interval; 'none' matches only exactly 0%), close (the published value "
        "lies inside this study's 95% interval), differs, or not computable (the reason is in the "
        "numbered notes below the table). "
        "The last column is the same statistic for staff with lived experience."
    )
    doc.paragraph(
        "Every value here passed the disclosure gate together with the rest of this report. A "
        "proportion is shown only when both the number of staff it counts and the number with "
        "a score are shown, as with the band shares above: a share that counts fewer than "
        f"{r.data.min_cell} staff (so any published 'none') is withheld here."
    )
    doc.table(table, f"Published findings reproduced on wave {r.data.latest}", missing=WITHHELD_MARK)
    doc.paragraph(
        "The findings, numbered as in the table, with their sources and why a finding could "
        "not be computed:"
    )
    doc.bullets(notes)


def _record_findings(r: _Report, title: str, table: pd.DataFrame, rows: pd.DataFrame) -> None:
    """The findings' display rows and the summary sentence (whether or not a table is shown)."""
    r.bundle.add_record(
        "published_findings",
        {
            "title": title,
            "wave": r.data.latest,
            "findings": [
                {**shown, "citation": row["citation"], "reason": row["reason"]}
                for shown, row in zip(
                    table.to_dict(orient="records"), rows.to_dict(orient="records"), strict=True
                )
            ],
        },
    )
    verdicts = rows["verdict"].value_counts()
    shown = int(len(rows) - verdicts.get("not computable", 0))
    if shown == 0:
        r.summary.append(f"None of {len(rows)} published findings could be recomputed on this "
                         "study.")
        return
    r.summary.append(
        f"Of {len(rows)} published findings, {shown} could be recomputed on this study: "
        f"{int(verdicts.get('matches', 0))} match, {int(verdicts.get('close', 0))} are close and "
        f"{int(verdicts.get('differs', 0))} differ."
    )


def _not_computable(reason: str) -> str:
    """A not-computable reason as a reader-facing clause."""
    marked = "recipe computable: no ("
    if reason.startswith(marked) and reason.endswith(")"):
        note = reason[len(marked) : -1].strip().rstrip(".")
        return f"the findings file marks it not computable ({note})"
    return reason.rstrip(".")


def _conditions(r: _Report, doc: ReportDocument) -> None:
    doc.heading("Structural conditions")
    scores = r.t("scale_scores")
    if not r.data.conditions:
        doc.paragraph("This study did not measure structural working conditions.")
    if r.data.conditions:
        rows = []
        for info in r.data.conditions:
            entry: dict[str, Any] = {"Condition": info.label}
            for unit in r.units:
                row = _row(scores, **r.unit_where(unit))
                prefix = "" if unit is None else f"{r.unit_label(unit)}: "
                entry[f"{prefix}n"] = _get(row, f"{info.id}_n")
                entry[f"{prefix}mean"] = _get(row, f"{info.id}_mean")
                if unit is None:
                    entry["SD"] = _get(row, f"{info.id}_sd")
            rows.append(entry)
        table = pd.DataFrame(rows)
        for col in table.columns[1:]:
            is_n = col == "n" or col.endswith(": n")
            table[col] = pd.to_numeric(table[col], errors="coerce")
            if is_n:
                table[col] = table[col].astype("Int64")
        doc.paragraph(
            "Mean agreement with statements about working conditions (1 strongly disagree to 5 "
            "strongly agree; for financial strain and intention to leave, higher is worse)."
        )
        doc.table(
            table,
            f"Structural conditions, wave {r.data.latest}",
            decimals={c: 2 for c in table.columns if c.endswith(("mean", "SD"))},
            missing=WITHHELD_MARK,
        )
    doc.heading("How much of burnout is structural", level=2)
    if "drivers" not in r.tables:
        if not r.data.conditions:
            doc.paragraph("This study did not measure structural conditions, so there is no "
                          "drivers analysis.")
            return
        reason = "; ".join(r.notes.values()) or "no wellbeing outcome measured"
        doc.paragraph(f"The drivers analysis could not be run on this study: {reason}.")
        return
    drivers = r.t("drivers").iloc[0]
    if _get(drivers, "organisations") is None:
        doc.paragraph(
            "The drivers analysis is withheld: it would rest on organisations whose results "
            "cannot be shown safely."
        )
        return
    _drivers(r, doc, drivers)


def _share_with_interval(drivers: pd.Series, key: str) -> str | None:
    """A variance share with its 95% interval as printed ("0.54 [0.40, 0.66]"), or None."""
    share = _get(drivers, f"{key}_share")
    if share is None:
        return None
    low, high = _get(drivers, f"{key}_share_ci_low"), _get(drivers, f"{key}_share_ci_high")
    if low is None or high is None:
        return fmt(share, 2)
    return f"{fmt(share, 2)} [{fmt(low, 2)}, {fmt(high, 2)}]"


def _drivers(r: _Report, doc: ReportDocument, drivers: pd.Series) -> None:
    """Variance shares with their intervals and ICC(1), with a caveat when few organisations."""
    k = int(drivers["organisations"])
    if k < FEWEST_ORGANISATIONS:
        doc.paragraph(
            f"The drivers analysis is not shown: only {k} organisation{'s' if k != 1 else ''} "
            "can be shown safely, too few to separate conditions that colleagues share from "
            "individual ratings."
        )
        return
    doc.paragraph(
        "Share of the explained variance (R squared) in each outcome attributable to "
        "organisation-level conditions (what colleagues share), to individual ratings of "
        "conditions, and to personal factors (Shapley decomposition; in brackets the 95% "
        "interval from resampling organisations), and the intraclass correlation ICC(1): the "
        "share of all variance that lies between organisations. Computed on the "
        f"{k} organisations whose results can be shown safely (smaller organisations are left "
        "out of every model across organisations)."
    )
    few = k < FEW_ORGANISATIONS
    if few:
        doc.paragraph(
            f"Read these figures with care: they rest on only {k} organisations. With so few, "
            "how much of burnout lies between organisations, and how much of it goes with "
            "shared conditions, can change a lot with one organisation more or less."
        )
    rows = []
    for outcome in ("burnout", "sts", "compassion_satisfaction"):
        if f"{outcome}_total_r2" not in drivers.index:
            continue
        rows.append(
            {
                "Outcome": r.data.scale(outcome).label,
                "R squared": _get(drivers, f"{outcome}_total_r2"),
                "Organisation conditions": _share_with_interval(
                    drivers, f"{outcome}_organisation_conditions"
                ),
                "Individual ratings": _share_with_interval(
                    drivers, f"{outcome}_individual_conditions"
                ),
                "Personal": _share_with_interval(drivers, f"{outcome}_personal"),
                "ICC(1)": _get(drivers, f"{outcome}_icc"),
            }
        )
    share = _get(drivers, "burnout_organisation_conditions_share")
    if share is not None:
        r.summary.append(
            f"Organisation-level conditions account for {fmt(100 * share, 0)}% of the "
            "explained variance in burnout across the field"
            + (f" (a rough estimate from only {k} organisations)." if few else ".")
        )
    table = pd.DataFrame(rows)
    for col in ("R squared", "ICC(1)"):
        table[col] = pd.to_numeric(table[col], errors="coerce")
    doc.table(
        table, "Drivers of wellbeing: variance shares [95% interval] and ICC(1)", decimals=2,
        missing=WITHHELD_MARK,
    )


def scale_verdict(label: str, higher_is: str, diff: Any, low: Any, high: Any) -> str:
    """One plain sentence on an organisation's scale against the rest of the field, read off
    the gated difference and its 95% interval only (nothing is computed here).

    Examples
    --------
    >>> scale_verdict("Burnout", "worse", -2.1, -3.4, -0.8)
    'Burnout: lower than the rest of the field, beyond the 95% limits (better).'
    >>> scale_verdict("Burnout", "worse", 0.4, -0.9, 1.7)
    'Burnout: no clear difference from the rest of the field (the 95% interval includes none).'
    >>> scale_verdict("Burnout", "worse", None, None, None)
    'Burnout: withheld (too few responses to compare safely).'
    """
    if _missing(diff) or _missing(low) or _missing(high):
        return f"{label}: withheld (too few responses to compare safely)."
    if low <= 0 <= high:
        return (f"{label}: no clear difference from the rest of the field (the 95% interval "
                "includes none).")
    higher = low > 0
    better = higher == (higher_is == "better")
    return (f"{label}: {'higher' if higher else 'lower'} than the rest of the field, beyond "
            f"the 95% limits ({'better' if better else 'worse'}).")


def _against_field(r: _Report, doc: ReportDocument) -> None:
    doc.heading("Against the field")
    scores = r.t("scale_scores")
    pos = r.t("position").iloc[0]
    this = _row(scores, focus=THIS)
    other = _row(scores, focus=OTHER)
    doc.paragraph(
        f"{r.org}'s means this wave against the rest of the field (every other organisation "
        "together, without yours), the difference with its 95% interval, and the shrunken "
        "estimate: your mean pulled toward the field in proportion to its uncertainty, which "
        "is the fairer figure for comparing organisations of different sizes. No other "
        "organisation's results appear in this report."
    )
    rows = []
    for info in r.data.wellbeing:
        mine = _get(this, f"{info.id}_mean")
        rest = _get(other, f"{info.id}_mean")
        shown = mine is not None and rest is not None
        rows.append(
            {
                "Scale": info.label,
                "Yours": mine,
                "Rest of field": rest,
                "Difference": _get(pos, f"{info.id}_diff") if shown else None,
                "95% CI low": _get(pos, f"{info.id}_diff_ci_low") if shown else None,
                "95% CI high": _get(pos, f"{info.id}_diff_ci_high") if shown else None,
                "Shrunken mean": _get(pos, f"{info.id}_shrunk_mean") if mine is not None else None,
            }
        )
        if info.id == "burnout":
            if shown:
                r.summary.append(
                    f"{r.org}'s mean burnout score was {fmt(mine)} against {fmt(rest)} in the "
                    f"rest of the field."
                )
            else:
                r.summary.append(
                    f"{r.org}'s burnout results against the field are withheld: too few "
                    "responses to show them safely."
                )
    table = pd.DataFrame(rows)
    for col in table.columns[1:]:
        table[col] = pd.to_numeric(table[col], errors="coerce")
    doc.table(
        table, f"{r.org} against the rest of the field, wave {r.data.latest}", missing=WITHHELD_MARK
    )
    doc.paragraph("In plain words:")
    doc.bullets(scale_verdict(info.label, info.scale.higher_is, row["Difference"],
                              row["95% CI low"], row["95% CI high"])
                for info, row in zip(r.data.wellbeing, rows, strict=True))
    _weighted_against_field(r, doc)
    _funnel(r, doc, this, pos)
    _trend(r, doc)


def _weighted_against_field(r: _Report, doc: ReportDocument) -> None:
    """The organisation against the field, survey-weighted (when the study has staff counts)."""
    if not _weighted(r):
        return
    weighted = r.t("weighted_scores")
    this, other = _row(weighted, focus=THIS), _row(weighted, focus=OTHER)
    doc.paragraph(
        "The same comparison with survey weights (see Methods): each mean weighted to the staff "
        "head counts by organisation and role. The difference's 95% interval combines the "
        "organisation's interval (its respondents as units) with the rest of the field's "
        "(clustered by organisation)."
    )
    rows = []
    for info in r.data.wellbeing:
        key = f"{info.id}{WEIGHTED}"
        mine, rest = _get(this, f"{key}mean"), _get(other, f"{key}mean")
        shown = mine is not None and rest is not None
        rows.append(
            {
                "Scale": info.label,
                "Yours (weighted)": mine,
                "Rest of field (weighted)": rest,
                "Difference": _get(this, f"{key}diff") if shown else None,
                "95% CI low": _get(this, f"{key}diff_ci_low") if shown else None,
                "95% CI high": _get(this, f"{key}diff_ci_high") if shown else None,
            }
        )
    table = pd.DataFrame(rows)
    for col in table.columns[1:]:
        table[col] = pd.to_numeric(table[col], errors="coerce")
    doc.table(
        table,
        f"{r.org} against the rest of the field, survey-weighted, wave {r.data.latest}",
        missing=WITHHELD_MARK,
    )


def _funnel(r: _Report, doc: ReportDocument, this: pd.Series, pos: pd.Series) -> None:
    doc.heading("Place on the funnel plot", level=2)
    if not r.measures("burnout"):
        doc.paragraph("The funnel plot shows ProQOL burnout, which this study does not measure.")
        return
    mean = _get(this, "burnout_mean")
    # Where the count of staff with a score is withheld (it would reveal how few did not
    # answer), the organisation's respondent count places the point instead.
    n = _get(this, "burnout_n") or _get(this, "n")
    target = _get(pos, "burnout_funnel_target")
    sigma, tau2 = _get(pos, "burnout_funnel_sigma"), _get(pos, "burnout_funnel_tau2")
    if mean is None or n is None or target is None or sigma is None or tau2 is None:
        doc.paragraph(
            "The funnel plot is withheld: this organisation's burnout mean cannot be shown."
        )
        return
    # The limits' spread at this organisation's size, with the between-organisation variance.
    spread = math.sqrt(float(sigma) ** 2 + float(tau2) * float(n))
    lo, hi = _get(pos, "burnout_funnel_lower95"), _get(pos, "burnout_funnel_upper95")
    where = (
        "within the 95% limits"
        if lo is not None and hi is not None and lo <= mean <= hi
        else "outside the 95% limits"
    )
    doc.paragraph(
        "Other organisations' points are not drawn: anyone who knows an organisation's number "
        "of respondents could read its mean from an unlabelled point. The limits show how far "
        "an organisation of each size can lie from the field mean by chance."
    )
    fig = funnel_plot(
        pd.DataFrame({"unit": [str(r.org)], "n": [int(n)], "value": [float(mean)]}),
        r.figure_dir / "funnel-burnout.png",
        centre=float(target),
        spread=spread,
        value_label="Mean burnout score",
        highlight=str(r.org),
        n_range=(2, max(float(n) * 3, 60.0)),
        value_range=resolve_instrument("proqol5").score_range("burnout"),
        caption="Burnout: your organisation on the funnel plot",
        alt_text=(
            f"Funnel plot of mean burnout score against number of respondents, centre line at "
            f"the field mean {fmt(target)}, with 95% and 99.8% limits narrowing as the number "
            f"of respondents grows. {r.org} (n = {int(n)}, mean {fmt(mean)}) lies {where}. "
            "Other organisations are not shown."
        ),
    )
    doc.figure(fig)


def _trend(r: _Report, doc: ReportDocument) -> None:
    doc.heading("Trend", level=2)
    if not r.measures("burnout"):
        doc.paragraph("The trend follows ProQOL burnout, which this study does not measure.")
        return
    trend = r.t("trend")
    rows = []
    for unit in r.units:
        for w in r.data.waves:
            row = _row(trend, wave=w, **r.unit_where(unit))
            value = _get(row, "burnout_mean")
            if value is not None:
                rows.append({"wave": str(w), "series": r.unit_label(unit), "value": value})
    if len(r.data.waves) < 2 or not rows:
        doc.paragraph("No trend can be shown: one wave only, or the values are withheld.")
        return
    burnout = r.data.scale("burnout")
    fig = trend_lines(
        pd.DataFrame(rows),
        r.figure_dir / "trend-burnout.png",
        value_label="Mean burnout score",
        caption="Mean burnout score by survey wave (withheld waves are not drawn; the axis "
        f"covers the scale's whole range, {burnout.lowest:g} to {burnout.highest:g})",
        # The whole scale: a zoomed-in axis made a 1.5-point drop look like a collapse.
        value_range=(float(burnout.lowest), float(burnout.highest)),
    )
    doc.figure(fig)


def _methods(r: _Report, doc: ReportDocument) -> None:
    doc.heading("Methods")
    items = []
    for inst in r.data.study.instruments():
        notice = inst.licence.notice or inst.licence.terms
        items.append(f"{inst.title}. {inst.citation.strip()} Licence: {' '.join(notice.split())}")
    doc.heading("Instruments", level=2).bullets(items)
    doc.heading("Scoring and missing answers", level=2)
    rules = []
    for info in [*r.data.wellbeing, *r.data.conditions]:
        sc = info.scale
        rules.append(
            f"{info.label}: {sc.method.replace('_', ' ')} of {len(sc.items)} items, scored when "
            f"at least {sc.min_answered} are answered"
            + (f"; bands {', '.join(info.band_labels)}" if sc.bands else "")
            + "."
        )
    doc.bullets(rules)
    ex = r.data.study.config.exclusions
    doc.heading("Exclusions", level=2).paragraph(
        "Responses are left out when: "
        + ", ".join(
            text
            for text, on in (
                ("the platform marks them unfinished", ex.incomplete),
                ("they failed an attention check", ex.attention_failed),
                ("they were answered implausibly fast", ex.speeders),
                ("every item got the same answer", ex.straightlining),
            )
            if on
        )
        + ". Free-text answers never appear in a report."
    )
    _weights_method(r, doc)
    doc.heading("Suppression rule", level=2).paragraph(
        f"No number describes fewer than {r.data.min_cell} respondents (the study's minimum "
        "cell size). Every table and figure of this report passed the fieldsurvey disclosure "
        "gate together: cells under the minimum are withheld, and further cells are withheld "
        "where they would let a withheld value be worked out by subtraction from the report's "
        "other numbers. Lived-experience comparisons are withheld as a whole when any answer "
        "category is small. Figures are drawn only from the numbers shown."
    )


def _weights_method(r: _Report, doc: ReportDocument) -> None:
    """How the survey weights were made (only for a study with staff head counts)."""
    cfg = r.data.study.config
    if cfg.staff_counts is None:
        return
    doc.heading("Survey weights", level=2)
    error = r.notes.get("weights")
    if r.data.weights is None:
        doc.paragraph(
            "The study gives staff head counts, but survey weights could not be made from "
            f"them, so only unweighted estimates are shown: {error or 'no weights'}."
        )
        return
    if cfg.weighting == "rake":
        how = (
            "raked (iterative proportional fitting) so that the weighted respondents match each "
            "organisation's staff total and the field's staff total in each role"
        )
    else:
        how = (
            "post-stratified: each respondent's weight is the staff head count of their "
            "organisation and role divided by the number of respondents in that organisation "
            "and role"
        )
    doc.paragraph(
        f"Weighted estimates use survey weights made from the staff head counts in "
        f"{cfg.staff_counts} for wave {r.data.latest}, {how} (role from {cfg.role_column}). "
        "Respondents who did not give their role have no weight and are left out of the "
        "weighted estimates only. Weighted means are ratio means (sum of weight times score "
        "over sum of weights); their standard errors come from Taylor linearisation, clustered "
        "by organisation for estimates that pool organisations (an organisation's own mean "
        "uses its respondents as the units), with t intervals on the number of clusters minus "
        "one (normal intervals for differences). No finite-population correction is applied, "
        "so intervals are conservative where most of an organisation's staff responded. "
        "Every weighted value is a further statistic of the same cell as the unweighted mean "
        "and is withheld wherever that mean is."
    )


def _reproducibility(r: _Report, doc: ReportDocument, command: str) -> None:
    doc.heading("Reproducibility")
    doc.paragraph(
        "This report was computed from the results bundle in the bundle folder next to it; "
        "its manifest lists every file with its SHA-256. Run fieldsurvey verify on the report "
        "folder to recompute every number from the inputs below."
    )
    # Hashes identify the inputs; file names and per-file counts would say which organisation
    # sent how many responses.
    inputs = pd.DataFrame(
        [{"Wave": str(i["wave"]), "SHA-256": i["sha256"]} for i in r.data.inputs]
    )
    if not inputs.empty:
        doc.table(inputs, "Input files (SHA-256)")
    from fieldsurvey.report.bundle import package_versions

    versions = pd.DataFrame([{"Package": k, "Version": v} for k, v in package_versions().items()])
    doc.table(versions, "Package versions")
    cfg = r.data.study.config
    doc.bullets(
        [
            f"Study: {cfg.title}",
            f"Instruments: {', '.join(cfg.instruments)}",
            f"Waves: {', '.join(r.data.waves)}; minimum cell size {cfg.min_cell}",
            f"Command: `{command}`",
        ]
    )


def _organisations(r: _Report, doc: ReportDocument) -> None:
    """Continuity of care, living wage, peer-led models (report.organisation_content)."""
    labels = {info.id: info.label for info in r.data.wellbeing}
    write_organisation_sections(r.tables, r.gated.organisation_notes, r.org,
                                r.data.latest, labels, doc)


# --------------------------------------------------------------------------------------------


def write_report_content(
    data: StudyData,
    gated: GatedReport,
    bundle: ResultsBundle,
    *,
    command: str,
    findings: Any = None,
    date: str | None = None,
) -> ReportDocument:
    """Put the report's gated tables into ``bundle``, draw its figures, return the document.

    Parameters
    ----------
    data : StudyData
        The study's settings and scale definitions (labels, ranges); no respondent data is
        read here.
    gated : GatedReport
        The report's gated tables (:func:`~fieldsurvey.report.release.gate_reports`); its
        ``org`` is None for the field-wide report.
    bundle : ResultsBundle
        Receives every gated table and record; figures go to ``bundle.figures_dir``.
    command : str
        The command that made the report (printed in the reproducibility appendix).
    findings : FindingsFile, optional
        Published field-wide findings. The field-wide report recomputes them on the reported
        wave (a table of published value, this study's value with its interval, difference,
        verdict and the lived-experience value, all gated in the report's one release); an
        organisation's report lists them with their citations only.
    date : str, optional
        Report date (default from ``SOURCE_DATE_EPOCH``; the clock is never read).

    Returns
    -------
    ReportDocument

    Examples
    --------
    >>> doc = write_report_content(data, "O01", ResultsBundle(Path("b")), command="x")  # doctest: +SKIP
    """
    r = _Report(data, gated, bundle)
    org = gated.org
    title = data.study.config.title
    doc = ReportDocument(
        f"{title}: {org}" if org else f"{title}: field-wide report",
        subtitle=f"Staff wellbeing survey, wave {data.latest}",
        date=date,
    )
    body = ReportDocument("body")
    _who_responded(r, body)
    benchmarking.response_rate(r, body)
    if org is not None:
        _against_field(r, body)
        benchmarking.comparator_and_change(r, body)
        benchmarking.what_to_change_first(r, body)
    _wellbeing(r, body)
    _lived_experience(r, body, findings)
    benchmarking.lived_experience_extra(r, body)
    _conditions(r, body)
    _organisations(r, body)
    if org is None:
        _trend(r, body)
        body.heading("Change since the last wave", level=2)
        benchmarking.change_since_last_wave(r, body)
        benchmarking.coalition_view(r, body)
        benchmarking.what_to_change_first(r, body)
    benchmarking.per_question(r, body)
    _methods(r, body)
    _reproducibility(r, body, command)
    doc.heading("Summary")
    doc.paragraph(
        f"This report describes {'staff of ' + str(org) if org else 'staff across the field'} "
        f"in wave {data.latest} of {title}. Every number has passed the disclosure gate "
        f"(no group under {data.min_cell} respondents is described)."
    )
    # Each scale's section may add the same sentence (why own breakdowns are not shown): once.
    r.summary = list(dict.fromkeys(r.summary))
    headline = continuity_headline(gated.tables, org)  # issue 19: a headline of every report
    if headline:
        r.summary.insert(0, headline)
    doc.bullets(r.summary or ["Every result of this report is withheld: too few responses."])
    doc._blocks.extend(body._blocks)
    bundle.add_record("summary", {"org": org, "sentences": r.summary})
    return doc


def figure_paths(bundle: ResultsBundle) -> list[Path]:
    """Figures written into a bundle, sorted."""
    return sorted(bundle.figures_dir.glob("*.png"))
