"""Benchmarking sections of a report, written only from gated tables.

Response rate, the comparator group, change since the last wave, results question by question,
what to change first and the coalition's heat map. Every number comes from a gated table of
:mod:`fieldsurvey.analyse.report_benchmarking`; a withheld value is printed as withheld and
nothing is computed from respondents here (shares are turned into percentages, intervals are
read for their sign).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from fieldsurvey.analyse.comparators import NONE, group_description
from fieldsurvey.analyse.report import OTHER, THIS
from fieldsurvey.analyse.report_benchmarking import (
    PRIORITY_CLASSES,
    FavourableItem,
    favourable_items,
)
from fieldsurvey.report.document import ReportDocument, format_number, format_p

__all__ = [
    "LOW_RESPONSE_RATE",
    "coalition_view",
    "comparator_and_change",
    "per_question",
    "response_rate",
    "what_to_change_first",
]

#: A response rate below this gets a warning that results may not represent all staff.
LOW_RESPONSE_RATE = 0.5
WITHHELD_MARK = "*withheld*"
#: Marks a difference whose 95% interval excludes zero.
BEYOND = "*"


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _value(row: pd.Series | dict[str, Any] | None, column: str) -> Any:
    if row is None:
        return None
    value = row.get(column)
    return None if _missing(value) else value


def unit_row(r: Any, table: pd.DataFrame, role: str) -> pd.Series | None:
    """The row of a gated table describing one unit: this, rest, comparator or previous."""
    latest, waves = r.data.latest, r.data.waves
    previous = waves[-2] if len(waves) > 1 else None
    wave = table["wave"].astype(str) if "wave" in table else pd.Series("", index=table.index)
    focus = table["focus"] if "focus" in table else pd.Series(None, index=table.index)
    group = (table["peer_group"].map(lambda v: not _missing(v)) if "peer_group" in table
             else pd.Series(False, index=table.index))
    this = focus.eq(THIS) if r.org is not None else pd.Series(True, index=table.index)
    masks = {
        "this": this & wave.eq(latest),
        "rest": focus.eq(OTHER) & ~group & wave.eq(latest),
        "comparator": focus.eq(OTHER) & group & wave.eq(latest),
        "previous": this & wave.eq(str(previous)),
    }
    rows = table[masks[role].to_numpy(dtype=bool)]
    return rows.iloc[0] if len(rows) == 1 else None


def _pct(share: Any) -> str | None:
    return None if _missing(share) else f"{100 * float(share):.0f}%"


def _points(diff: Any, low: Any, high: Any) -> str | None:
    """A difference of shares in percentage points, marked when its interval excludes 0."""
    if _missing(diff) or _missing(low) or _missing(high):
        return None
    mark = BEYOND if low > 0 or high < 0 else ""
    text = f"{100 * float(diff):+.0f}"
    return ("0" if text in ("+0", "-0") else text) + mark


def _interval(diff: Any, low: Any, high: Any, decimals: int = 2) -> str | None:
    """"+0.12 [0.03, 0.21]": no negative zero, a sign on the estimate unless it is zero.

    Examples
    --------
    >>> _interval(-0.001, -0.004, 0.12)
    '0.00 [0.00, 0.12]'
    """
    if _missing(diff) or _missing(low) or _missing(high):
        return None
    estimate = format_number(diff, decimals)
    if not estimate.startswith("-") and float(estimate) != 0:
        estimate = "+" + estimate
    return (f"{estimate} [{format_number(low, decimals)}, "
            f"{format_number(high, decimals)}]")


def _group(r: Any) -> str | None:
    attributes = r.data.org_attributes
    if r.org is None or "peer_group" not in attributes or r.org not in attributes.index:
        return None
    group = str(attributes.at[r.org, "peer_group"])
    return None if group == NONE else group


def comparator_text(r: Any) -> str:
    """Who the comparator group is, in words (organisation attributes only, no results)."""
    attributes = r.data.org_attributes
    group = _group(r)
    if group is None:
        return ""
    others = int((attributes["peer_group"] == group).sum()) - 1
    what = group_description(attributes.drop(columns="peer_group"), attributes["peer_group"],
                             group)
    return f"the {others} other organisations most like yours ({what})"


# --------------------------------------------------------------------------------------------
# Response rate


def response_rate(r: Any, doc: ReportDocument) -> None:
    """Respondents over paid staff per wave, with a warning when the rate is low."""
    table = r.tables.get("response_rate")
    if table is None or table.empty:
        doc.paragraph("No staff counts are known for this study (organisation profiles or "
                      "study staff counts), so no response rate is shown.")
        return
    rows, low = [], []
    for row in table.to_dict(orient="records"):
        rate = _value(pd.Series(row), "response_rate")
        rows.append({"Wave": str(row["wave"]), "Responses": _value(pd.Series(row), "n"),
                     "Staff": int(row["staff"]), "Response rate": _pct(rate)})
        if rate is not None and rate < LOW_RESPONSE_RATE:
            low.append(str(row["wave"]))
    out = pd.DataFrame(rows)
    out["Responses"] = out["Responses"].astype("Int64")
    whose = f"{r.org}'s" if r.org else "the field's"
    doc.table(out, f"Response rate: {whose} responses over paid staff", missing=WITHHELD_MARK)
    sources = sorted(set(table["staff_source"].astype(str)))
    doc.paragraph(f"Staff counts from: {'; '.join(sources)}. A rate is withheld with the "
                  "number of responses it rests on.")
    if low:
        doc.paragraph(
            f"Warning: fewer than {100 * LOW_RESPONSE_RATE:.0f}% of staff responded in wave "
            f"{', '.join(low)}. The results may not represent all staff; read them with care."
        )


# --------------------------------------------------------------------------------------------
# Comparator group and change since the last wave


def _scale_rows(r: Any, other: pd.Series | None, tests: pd.DataFrame | pd.Series,
                labels: dict[str, str]) -> list[dict]:
    """One row per scale: this unit's mean, the other's, the difference and its reading.

    ``tests`` is a long table (one row per scale) or one wide row (``<scale>_diff`` ...).
    """
    this = unit_row(r, r.tables["scale_scores"], "this")
    long = isinstance(tests, pd.DataFrame)
    indexed = tests.set_index("scale") if long else None
    rows = []
    for info in [*r.data.wellbeing, *r.data.conditions]:
        if long:
            row = indexed.loc[info.id] if info.id in indexed.index else None
            diff = [_value(row, k) for k in ("diff", "diff_ci_low", "diff_ci_high", "p")]
            theirs = _value(other, f"{info.id}_mean")
        else:
            diff = [_value(tests, f"{info.id}_{k}")
                    for k in ("diff", "diff_ci_low", "diff_ci_high", "p")]
            theirs = _value(tests, f"{info.id}_mean")
        rows.append({"Scale": info.label, labels["this"]: _value(this, f"{info.id}_mean"),
                     labels["other"]: theirs,
                     "Difference [95% CI]": _interval(*diff[:3]),
                     "p": diff[3], "Reading": _reading(info, *diff[:3])})
    return rows


def _reading(info: Any, diff: Any, low: Any, high: Any) -> str:
    if diff is None or low is None or high is None:
        return "withheld"
    if low <= 0 <= high:
        return "no clear difference"
    better = (low > 0) == (info.scale.higher_is == "better")
    return "better" if better else "worse"


def _scale_table(r: Any, doc: ReportDocument, rows: list[dict], caption: str) -> None:
    table = pd.DataFrame(rows)
    for col in table.columns[1:3]:
        table[col] = pd.to_numeric(table[col], errors="coerce")
    table["p"] = pd.to_numeric(table["p"], errors="coerce")
    doc.table(table, caption, decimals=2, missing=WITHHELD_MARK, pvalues=["p"])


def comparator_and_change(r: Any, doc: ReportDocument) -> None:
    """The organisation against its comparator group, and its change since the last wave."""
    doc.heading("Against organisations like yours", level=2)
    comparator = r.tables.get("comparator")
    peers = None if comparator is None else _value(comparator.iloc[0], "comparator_orgs")
    if comparator is None:
        doc.paragraph(
            f"{r.org} has no comparator group: fewer than four organisations share its size "
            "band, so it is compared with the whole field only."
        )
    elif peers is None or peers < 2:
        doc.paragraph(
            f"The comparison with {comparator_text(r)} is withheld: fewer than two of them "
            "have results that can be shown safely."
        )
    else:
        doc.paragraph(
            f"{r.org}'s means this wave against {comparator_text(r)}: the {int(peers)} of them "
            "whose results can be shown safely, taken together without yours. Comparator "
            "groups are formed from the organisation profiles: organisations sharing size "
            "band, main service and region, widened (service, then region dropped) until a "
            "group has at least four organisations. The difference has a Welch 95% interval; "
            "'better' or 'worse' is read for staff, beyond the interval."
        )
        rows = _scale_rows(r, None, comparator.iloc[0], {"this": "Yours", "other": "Similar"})
        _scale_table(r, doc, rows, f"{r.org} against similar organisations, wave "
                     f"{r.data.latest}")
    doc.heading("Change since the last wave", level=2)
    change_since_last_wave(r, doc)


def change_since_last_wave(r: Any, doc: ReportDocument) -> None:
    if "scale_change" not in r.tables:
        doc.paragraph("This study has one wave so far: there is no change to show.")
        return
    previous = r.data.waves[-2]
    whose = r.org if r.org else "The field"
    doc.paragraph(
        f"{whose}'s means in wave {r.data.latest} against wave {previous}, with the change and "
        "its Welch 95% interval. Responses are anonymous, so the waves are compared as "
        "independent groups of staff; staff who joined or left in between are in one wave only."
    )
    other = unit_row(r, r.tables["previous_scores"], "previous")
    rows = _scale_rows(r, other, r.tables["scale_change"],
                       {"this": f"Wave {r.data.latest}", "other": f"Wave {previous}"})
    for row in rows:
        row["Change [95% CI]"] = row.pop("Difference [95% CI]")
        row["p"], row["Reading"] = row.pop("p"), row.pop("Reading")
    _scale_table(r, doc, rows, f"Change since wave {previous}")


# --------------------------------------------------------------------------------------------
# Question by question


def item_wording(item: FavourableItem) -> str:
    """The item's wording where its licence allows, else its short label."""
    return item.text if item.text else item.label


def per_question(r: Any, doc: ReportDocument) -> None:
    doc.heading("Question by question")
    items = favourable_items(r.data)
    if "items" not in r.tables or not items:
        doc.paragraph("This study has no questions to report one by one.")
        return
    latest, waves = r.data.latest, r.data.waves
    previous = waves[-2] if len(waves) > 1 else None
    comparator = r.tables.get("comparator")
    has = {k: f"item_tests_{k}" in r.tables for k in ("rest", "change")}
    has["comparator"] = comparator is not None and (_value(comparator.iloc[0], "comparator_orgs")
                                                    or 0) >= 2
    whose = f"{r.org}'s staff" if r.org else "staff across the field"
    doc.paragraph(
        f"For each question, the share of {whose} who answered favourably: one of the two "
        "answers at the end of the scale that is good for staff ('agree' or 'strongly agree', "
        "or 'disagree' and 'strongly disagree' where agreeing is bad news; 'never' or 'rarely' "
        "for burnout and stress symptoms). The share is of the staff with a score on the "
        "question's scale; a skipped question counts as not favourable."
        + (" Differences are in percentage points: yours minus the rest of the field"
           + (", yours minus similar organisations" if has["comparator"] else "")
           + (f", and the change since wave {previous}" if has["change"] else "") + "."
           if r.org else (f" Change: wave {latest} minus wave {previous}, in percentage points."
                          if has["change"] else ""))
        + f" {BEYOND} marks a difference beyond chance: its 95% interval (Newcombe's hybrid "
        "score interval for two proportions) excludes zero; the two-proportion z test then "
        "gives p < .05 in all but borderline cases. Question wording is printed only where the "
        "instrument's licence allows it; other questions are named by their short label."
    )
    # Rows as dicts: a report looks up thousands of values in them, a Series lookup a
    # hundred times slower than a dict's.
    tables = {k: _as_dict(r.tables[f"item_tests_{k}"].iloc[0])
              for k in ("rest", "change") if has[k]}
    if has["comparator"]:
        tables["comparator"] = _as_dict(comparator.iloc[0])
    units = {role: _as_dict(unit_row(r, r.tables["items"], role))
             for role in ("this", "rest", "previous")}
    by_scale: dict[str, list[FavourableItem]] = {}
    for item in items:
        by_scale.setdefault(item.scale, []).append(item)
    for scale, scale_items in by_scale.items():
        info = r.data.scale(scale)
        rows = [_question_row(r, item, units, tables) for item in scale_items]
        doc.table(pd.DataFrame(rows), f"{info.label}: share answering favourably, wave {latest}",
                  missing=WITHHELD_MARK)
    r.summary.extend(_question_summary(r, items, units, tables))


def _as_dict(row: pd.Series | None) -> dict[str, Any] | None:
    """A row's values as they are (no conversion to Python scalars), by column."""
    return None if row is None else dict(zip(row.index, row.array, strict=True))


def _question_row(r: Any, item: FavourableItem, units: dict, tables: dict) -> dict[str, Any]:
    row: dict[str, Any] = {"Question": item_wording(item)}
    if r.org is None:
        row["Field"] = _pct(_value(units["this"], item.id))
    else:
        row["Yours"] = _pct(_value(units["this"], item.id))
        row["Field"] = _pct(_value(units["rest"], item.id))
        if "rest" in tables:
            row["vs field"] = _test_points(tables["rest"], item.id)
    if "comparator" in tables:
        row["Similar"] = _pct(_value(tables["comparator"], f"{item.id}_share"))
        row["vs similar"] = _test_points(tables["comparator"], item.id)
    if "change" in tables:
        row["Last wave"] = _pct(_value(units["previous"], item.id))
        row["Change"] = _test_points(tables["change"], item.id)
    return row


def _test_points(row: pd.Series, item: str) -> str | None:
    return _points(*(_value(row, f"{item}_{k}") for k in ("diff", "diff_ci_low", "diff_ci_high")))


def _question_summary(r: Any, items: list[FavourableItem], units: dict,
                      tables: dict) -> list[str]:
    if r.org is None or "rest" not in tables:
        return []
    behind = [i for i in items if (_test_points(tables["rest"], i.id) or "").startswith("-")
              and (_test_points(tables["rest"], i.id) or "").endswith(BEYOND)]
    ahead = [i for i in items if (_test_points(tables["rest"], i.id) or "").startswith("+")
             and (_test_points(tables["rest"], i.id) or "").endswith(BEYOND)]
    return [f"Question by question, {r.org} is ahead of the rest of the field beyond chance on "
            f"{len(ahead)} of {len(items)} questions and behind on {len(behind)}."]


# --------------------------------------------------------------------------------------------
# What to change first


def what_to_change_first(r: Any, doc: ReportDocument) -> None:
    doc.heading("What to change first")
    importance = r.tables.get("driver_importance")
    if importance is None or importance.empty:
        doc.paragraph("This study does not measure both structural conditions and burnout or "
                      "intention to leave, so there are no priorities to show.")
        return
    _key_drivers(r, doc, importance)
    if r.org is None:
        return
    priorities = r.tables.get("priorities")
    if priorities is None or priorities.empty or priorities["gap"].isna().all():
        doc.paragraph(f"{r.org}'s gaps to the field are withheld: too few responses to compare "
                      "them safely, so no priorities can be set.")
        r.summary.append(f"{r.org}'s priorities are withheld: too few responses.")
        return
    _priority_matrix(r, doc, priorities)


def _key_drivers(r: Any, doc: ReportDocument, importance: pd.DataFrame) -> None:
    outcomes = [c[2:] for c in importance.columns
                if c.startswith("r_") and not c.endswith(("_low", "_high"))]
    doc.paragraph(
        "Which structural conditions go with burnout and with intention to leave across the "
        f"whole field (wave {r.data.latest}): the correlation of each condition's score with "
        "each outcome among all staff who responded, with its 95% interval (Fisher z). A "
        "negative correlation means staff who rate the condition better report less of the "
        "outcome. Correlations show what goes together, not what causes what."
    )
    rows = []
    for row in importance.to_dict(orient="records"):
        entry = {"Condition": r.data.scale(row["scale"]).label}
        for o in outcomes:
            entry[f"r with {r.data.scale(o).label.lower()}"] = _interval(
                _value(pd.Series(row), f"r_{o}"), _value(pd.Series(row), f"r_{o}_low"),
                _value(pd.Series(row), f"r_{o}_high"))
        rows.append(entry)
    doc.table(pd.DataFrame(rows), "Key drivers field-wide: correlation [95% interval]",
              missing=WITHHELD_MARK)


_CLASS_WORDS = {
    "act first": "Act first",
    "also behind": "Also behind the field",
    "keep up": "Keep up (matters a lot; you are not behind)",
    "lower priority": "Lower priority",
}


def _priority_matrix(r: Any, doc: ReportDocument, priorities: pd.DataFrame) -> None:
    shown = priorities[priorities["gap"].notna()].sort_values(["priority_rank", "gap_rank"])
    doc.paragraph(
        "The priority matrix crosses how much each condition matters field-wide (importance: "
        "its average correlation with less burnout and less intention to leave) with where "
        f"{r.org} stands (gap: your mean minus the rest of the field's, turned so that a "
        "negative gap is worse for staff, with its Welch 95% interval). Act first: behind the "
        "field beyond the 95% limits on a condition of at least median importance. Also "
        "behind: behind beyond the limits on a less important condition. Keep up: important, "
        "not behind. The rank orders conditions by importance times shortfall."
    )
    rows = []
    for row in shown.to_dict(orient="records"):
        rows.append({
            "Rank": int(row["priority_rank"]),
            "Condition": r.data.scale(row["scale"]).label,
            "Importance": row["importance"],
            "Gap [95% CI]": _interval(row["gap"], row["gap_ci_low"], row["gap_ci_high"]),
            "Priority": _CLASS_WORDS.get(str(row["priority"]), str(row["priority"])),
        })
    table = pd.DataFrame(rows)
    doc.table(table, f"{r.org}: priority matrix (importance x gap to the field)", decimals=2,
              missing=WITHHELD_MARK)
    doc.paragraph("In plain words:")
    doc.bullets(_priority_sentences(r, shown))
    largest = shown.sort_values("gap_rank").head(3)
    doc.paragraph(f"{r.org}'s largest gaps to the field, largest shortfall first: " + "; ".join(
        f"{r.data.scale(g['scale']).label} "
        f"({_interval(g['gap'], g['gap_ci_low'], g['gap_ci_high'])})"
        for g in largest.to_dict(orient="records")) + ".")


def _priority_sentences(r: Any, shown: pd.DataFrame) -> list[str]:
    out = []
    for cls in PRIORITY_CLASSES:
        part = shown[shown["priority"] == cls]
        if part.empty:
            continue
        names = ", ".join(r.data.scale(s).label for s in part["scale"])
        if cls == "act first":
            text = (f"Act first on {names}: these go with burnout and intention to leave across "
                    f"the field, and {r.org}'s staff rate them worse than the rest of the field, "
                    "beyond chance.")
            r.summary.append(f"What to change first at {r.org}: {names}.")
        elif cls == "also behind":
            text = (f"Also behind the field, though these go less strongly with burnout and "
                    f"leaving: {names}.")
        elif cls == "keep up":
            they = "they matter" if len(part) > 1 else "it matters"
            text = f"Keep up {names}: {they} a lot field-wide and {r.org} is not behind."
        else:
            text = f"Lower priority: {names}."
        out.append(text)
    if not (shown["priority"] == "act first").any():
        r.summary.append(f"{r.org} is not behind the field beyond chance on any condition that "
                         "matters most field-wide.")
    return out


# --------------------------------------------------------------------------------------------
# The coalition's view (field report)


def member_labels(r: Any, orgs: list[str]) -> dict[str, str]:
    """Organisation code -> name in the heat map: the code when the study names organisations,
    else "Member k" in an order no reader can recompute (salted with the response keys)."""
    if r.data.study.config.name_organisations:
        return {o: o for o in orgs}
    salt = hashlib.sha256("|".join(sorted(r.data.keys.astype(str))).encode()).hexdigest()
    order = sorted(orgs, key=lambda o: hashlib.sha256(f"{salt}|{o}".encode()).hexdigest())
    return {o: f"Member {k}" for k, o in enumerate(order, start=1)}


def coalition_view(r: Any, doc: ReportDocument) -> None:
    from fieldsurvey.report.figures_heatmap import heat_map

    table = r.tables.get("org_scores")
    if table is None:
        return
    doc.heading("The coalition at a glance")
    named = r.data.study.config.name_organisations
    labels = member_labels(r, [str(o) for o in table["org"]])
    scales = [*r.data.wellbeing, *r.data.conditions]
    field = unit_row(r, r.tables["scale_scores"], "this")
    rows = []
    for row in table.to_dict(orient="records"):
        for info in scales:
            rows.append({"org": labels[str(row["org"])], "scale": info.label,
                         "value": _value(pd.Series(row), f"{info.id}_mean"),
                         "field": _value(field, f"{info.id}_mean"),
                         "sd": _value(field, f"{info.id}_sd"),
                         "better": info.scale.higher_is == "better"})
    frame = pd.DataFrame(rows)
    order = sorted(labels.values(), key=lambda v: (len(v), v))
    shown = int(frame.groupby("org")["value"].apply(lambda v: v.notna().any()).sum())
    doc.paragraph(
        f"Every member organisation's mean on each scale this wave (wave {r.data.latest}), "
        "shaded by how far it lies from the field mean in field standard deviations: darker is "
        "worse for staff, lighter better, whichever way the scale runs. A blank cell is "
        "withheld (too few responses to show safely), never a value. "
        + ("Organisations are named by their codes, as the study settings say."
           if named else "Organisations are not named: each is a numbered member, in an order "
           "that does not follow their codes; each member can find its own row from its own "
           "report.")
    )
    fig = heat_map(
        frame, r.figure_dir / "coalition-heatmap.png", row_order=order,
        column_order=[s.label for s in scales],
        caption=f"Member organisations x scales, wave {r.data.latest} (blank: withheld)",
        alt_text=(f"Heat map of {len(order)} member organisations (rows) by {len(scales)} "
                  "scales (columns), each cell the organisation's mean shaded from light "
                  "(better for staff than the field) to dark (worse); "
                  f"{len(order) - shown} organisations have every cell withheld and are blank."),
    )
    doc.figure(fig)


def p_text(value: Any) -> str:
    return "withheld" if _missing(value) else format_p(value)


# --------------------------------------------------------------------------------------------
# Lived-experience staff


def lived_experience_extra(r: Any, doc: ReportDocument) -> None:
    """The coarser lived-experience result where the organisation's own is withheld, and the
    field's pay-band and financial-strain comparison."""
    _lived_coarser(r, doc)
    _burden(r, doc)


def _lived_coarser(r: Any, doc: ReportDocument) -> None:
    own = r.tables.get("lived_experience")
    coarser = r.tables.get("lived_experience_coarser")
    if r.org is None or own is None or coarser is None or "focus" not in own:
        return
    mine = own[(own["focus"] == THIS) & (own["lived_experience"] == "yes")]
    scales = r.data.wellbeing
    if mine.empty or any(_value(mine.iloc[0], f"{s.id}_mean") is not None for s in scales):
        return  # the organisation's own figures are shown above
    level, rows = "the whole field, this wave", coarser
    if not _shown_pair(coarser, scales):
        level = None
    doc.heading("A coarser view", level=2)
    sentence = (f"{r.org}'s own figures for staff with lived experience are not shown: in this "
                "wave too few of its staff answered in one of the groups, and showing them "
                "could identify people.")
    if level is None:
        doc.paragraph(sentence + " No coarser comparison can be shown safely either.")
        return
    doc.paragraph(sentence + f" The same comparison for {level} is shown instead.")
    out = []
    for info in scales:
        yes = rows[rows["lived_experience"] == "yes"].iloc[0]
        no = rows[rows["lived_experience"] == "no"].iloc[0]
        out.append({"Scale": info.label, "LE n": _value(yes, f"{info.id}_n"),
                    "LE mean": _value(yes, f"{info.id}_mean"),
                    "Other n": _value(no, f"{info.id}_n"),
                    "Other mean": _value(no, f"{info.id}_mean")})
    table = pd.DataFrame(out)
    for col in ("LE n", "Other n"):
        table[col] = table[col].astype("Int64")
    for col in ("LE mean", "Other mean"):
        table[col] = pd.to_numeric(table[col], errors="coerce")
    doc.table(table, f"Lived-experience and other staff: {level}", missing=WITHHELD_MARK)
    r.summary.append(f"{r.org}'s own lived-experience figures are withheld (too few staff in a "
                     f"group); the report shows {level} instead.")


def _shown_pair(rows: pd.DataFrame, scales: list) -> bool:
    if len(rows) != 2:
        return False
    return all(_value(row, f"{s.id}_mean") is not None for _, row in rows.iterrows()
               for s in scales[:1])


def _burden(r: Any, doc: ReportDocument) -> None:
    from fieldsurvey.analyse.report_benchmarking import LOW_PAY_BANDS, payband_labels

    burden = r.tables.get("burden")
    if r.org is not None or burden is None:
        return
    doc.heading("Who carries the burden: pay and financial strain", level=2)
    yes = burden[burden["lived_experience"] == "yes"].iloc[0]
    no = burden[burden["lived_experience"] == "no"].iloc[0]
    if _value(yes, "low_pay") is None or _value(no, "low_pay") is None:
        doc.paragraph("The pay and financial-strain comparison of lived-experience staff is "
                      "withheld: too few staff in one of the groups to show it safely.")
        return
    labels = payband_labels(r.data)
    low = " or ".join(labels.get(c, str(c)) for c in LOW_PAY_BANDS)
    rows = [{"": f"Paid {low} a year (share of all staff in the group)",
             "Lived experience": _pct(_value(yes, "low_pay")),
             "Other staff": _pct(_value(no, "low_pay"))}]
    for scale in ("financial_strain", "pay_adequacy"):
        if f"{scale}_mean" in burden:
            rows.append({"": f"Mean {r.data.scale(scale).label.lower()} (1-5)",
                         "Lived experience": _fmt(_value(yes, f"{scale}_mean")),
                         "Other staff": _fmt(_value(no, f"{scale}_mean"))})
    doc.paragraph(
        f"Staff with lived experience and other staff in wave {r.data.latest}: the share in "
        "the lowest pay bands and the mean financial strain and pay adequacy (higher strain is "
        "worse). Pay is shown in two bands only, so that no band holding a handful of people "
        "is described."
    )
    doc.table(pd.DataFrame(rows), f"Pay and financial strain by lived experience, wave "
              f"{r.data.latest}", missing=WITHHELD_MARK)
    test = r.tables.get("burden_test")
    if test is not None and _value(test.iloc[0], "p") is not None:
        rb, p = float(test.iloc[0]["rank_biserial"]), float(test.iloc[0]["p"])
        lower = "lower" if rb < 0 else "higher"
        doc.paragraph(
            f"Pay bands of lived-experience staff against other staff (all six bands): "
            f"Mann-Whitney test, rank-biserial correlation {format_number(rb, 2)} (negative: "
            f"lived-experience staff sit in lower bands), "
            f"p {format_p(p) if p < 0.001 else '= ' + format_p(p)}. Lived-experience staff "
            f"are paid {lower} on the whole"
            + (" beyond chance." if p < 0.05 else ", but the difference is within chance.")
        )


def _fmt(value: Any) -> str | None:
    return None if value is None else f"{float(value):.2f}"
