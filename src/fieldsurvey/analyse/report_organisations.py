"""Organisations as units in the reports: living wage, peer-led models, continuity of care.

The report sections of issue 19 rest on two kinds of unit, so they are one release of their own
beside the report's (:func:`organisation_results`), judged by the same gate and the same ledger:

``staff response``
    every response of the reported wave, keyed as in the report (organisation, wave, response
    id), so the ledger knows them for the people the report describes;
``staff post``
    every post of an organisation's profile (its head count ``op_staff``): the posts of roles
    with an entry pay keyed as the ``living-wage`` command keys them, the rest as other roles.

Dimensions: ``org``, ``wave``, ``unit`` and ``intends_to_leave`` (a response's answer to "I am
thinking about leaving this organisation in the next 12 months": agree or strongly agree is
"yes"; "not answered" and a post's "n/a" are remainders, unprotected as "no score" is in the
report). An organisation's posts are one cell: its living-wage shares and its hand-offs from
leavers rest on it (so a pay scale is described only for an organisation of at least the minimum
cell size of staff).

Sections (:data:`ORGANISATION_SECTIONS`, the shape of :data:`fieldsurvey.analyse.report.SECTIONS`):

* living wage: share of roles (and of staff) below the reference, per organisation on its posts
  and field-wide;
* models: burnout of staff in organisations with and without peer-led programmes, and with and
  without a survivor-led board, field-wide over the organisations whose responses the gate
  shows (computed after the gate, naming those organisations' cells as sources, as the report's
  drivers do); in an organisation's report also its own answers (on its posts);
* continuity of care: expected survivor hand-offs a year (:mod:`fieldsurvey.compare.continuity`)
  from leavers alone (on the organisation's posts) and from leavers and intention (on its
  responses, sourced on those who do and do not intend to leave, and on its posts), and the
  field's totals over the organisations shown, computed after the gate.

A study with no profile for the reported wave gets no such release (None): each section of the
report then says so in one sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.analyse.report import cell_statistics
from fieldsurvey.analyse.study import StudyData, items_of
from fieldsurvey.results import ROW_VARIABLE, Results

__all__ = ["ORGANISATION_SECTIONS", "OrganisationInputs", "organisation_inputs",
           "organisation_results"]

UNIT, RESPONSE, POST = "unit", "staff response", "staff post"
INTENDS, YES, NO, NOT_ANSWERED, NOT_APPLICABLE = ("intends_to_leave", "yes", "no",
                                                  "not answered", "n/a")
PEER_LED, SURVIVOR_BOARD, NOT_REPORTED = "peer_led", "survivor_board", "not reported"
#: The organisation-level models compared, their groups (first minus second) and labels.
MODELS: dict[str, tuple[str, str]] = {
    PEER_LED: ("peer-led programmes", "no peer-led programmes"),
    SURVIVOR_BOARD: ("survivor-led board", "other board"),
}
PEER_LED_ANSWERS = {1: "peer-led work is the main model", 2: "some peer-led programmes",
                    3: "no peer-led programmes"}
DIMS = ("org", "wave", UNIT, INTENDS)
#: The intention item and the lowest answer that counts as intending (4 = agree).
INTENTION_ITEM, INTENDS_FROM = "sc_leave1", 4
#: Burnout scales compared between models, when the study scores them.
BURNOUT_SCALES = ("burnout", "cbi_personal", "cbi_work", "cbi_client")
#: The field's continuity totals (sums, caseload over case managers, pooled rate, hand-offs).
FIELD_STATS = ("organisations", "staff", "leavers", "case_managers", "caseload", "respondents",
               "rate", "rate_ci_low", "rate_ci_high", "handoffs", "handoffs_se",
               "handoffs_ci_low", "handoffs_ci_high", "handoffs_pi_low", "handoffs_pi_high")
CONTINUITY_STATS = ("rate", "rate_ci_low", "rate_ci_high", "handoffs", "handoffs_se",
                    "handoffs_ci_low", "handoffs_ci_high", "handoffs_pi_low", "handoffs_pi_high")


@dataclass
class OrganisationInputs:
    """What every report of a study shares: units, the pay comparison, continuity inputs."""

    latest: str
    units: pd.DataFrame            # one row per unit: DIMS, model groups, burnout scores
    keys: pd.Series
    profiles: pd.DataFrame         # the reported wave's profiles
    comparison: pd.DataFrame | None
    continuity: pd.DataFrame       # org, staff, leavers, case_managers, caseload, respondents,
    #                                intending (handoff_estimates' inputs)
    scales: list[str]
    notes: dict[str, str] = field(default_factory=dict)


@dataclass
class OrganisationContext:
    """What the sections of one report's organisation release share."""

    inputs: OrganisationInputs
    org: str | None

    @property
    def own(self) -> dict[str, Any]:
        return {"org": self.org} if self.org is not None else {}

    def orgs(self, table: pd.DataFrame) -> pd.DataFrame:
        """The rows of a per-organisation table this report shows (its own, or all)."""
        if self.org is None:
            return table
        return table[table["org"].astype(str) == self.org]


def organisation_inputs(data: StudyData, reference: Any = None) -> OrganisationInputs | None:
    """The study's organisation units for the reported wave; None when it has no profile.

    ``reference`` is the living-wage reference (default: the shipped example table).
    """
    from fieldsurvey.analyse.living_wage import load_wage_reference
    from fieldsurvey.store.profiles import load_profiles

    profiles = load_profiles(data.study)
    profiles = profiles[profiles["wave"].astype(str) == data.latest].reset_index(drop=True)
    if profiles.empty:
        return None
    notes: dict[str, str] = {}
    ref = reference if reference is not None else load_wage_reference()
    comparison = _comparison(profiles, ref, notes)
    responses = _responses(data, profiles)
    posts = _posts(profiles, comparison, data.latest)
    units = pd.concat([responses, posts], ignore_index=True)
    scales = [s for s in BURNOUT_SCALES if s in data.frame.columns]
    for col in scales:
        units[col] = units[col].astype(float)
    return OrganisationInputs(
        latest=data.latest, units=units[[*DIMS, *MODELS, *scales]], keys=units["key"],
        profiles=profiles,
        comparison=comparison, continuity=_continuity_inputs(profiles, responses), scales=scales,
        notes=notes)


def _comparison(profiles: pd.DataFrame, ref: Any, notes: dict[str, str]) -> pd.DataFrame | None:
    from fieldsurvey.compare.living_wage import LivingWageError, entry_pay_vs_reference

    notes.update(living_wage_reference=str(ref.title), living_wage_source=str(ref.source),
                 living_wage_example="yes" if ref.example else "no")
    try:
        comparison = entry_pay_vs_reference(profiles, ref)
    except LivingWageError as exc:  # the report says why, it does not stop
        notes["living_wage"] = str(exc)
        return None
    if comparison.empty:
        notes["living_wage"] = "no profile of this wave gives an entry pay"
        return None
    return comparison


def _models(profiles: pd.DataFrame) -> pd.DataFrame:
    """Each profiled organisation's model groups (peer_led, survivor_board)."""
    peer = pd.to_numeric(profiles["op_peer_led"], errors="coerce").to_numpy(dtype=float)
    board = pd.to_numeric(profiles["op_survivor_board"], errors="coerce").to_numpy(dtype=float)
    groups = pd.DataFrame({"org": profiles["org"].astype(str)})
    groups[PEER_LED] = np.select([np.isin(peer, [1, 2]), peer == 3], MODELS[PEER_LED], NOT_REPORTED)
    groups[SURVIVOR_BOARD] = np.select([board == 1, board == 0], MODELS[SURVIVOR_BOARD],
                                       NOT_REPORTED)
    return groups.set_index("org")


def _responses(data: StudyData, profiles: pd.DataFrame) -> pd.DataFrame:
    """One unit per response of the reported wave."""
    now = data.frame["wave"] == data.latest
    frame = data.frame.loc[now]
    items = items_of(frame)
    answer = (pd.to_numeric(items[INTENTION_ITEM], errors="coerce") if INTENTION_ITEM in items
              else pd.Series(np.nan, index=frame.index))
    values = answer.to_numpy(dtype=float)
    intends = np.select([values >= INTENDS_FROM, ~np.isnan(values)], [YES, NO], NOT_ANSWERED)
    models = _models(profiles).reindex(frame["org"].astype(str)).fillna(NOT_REPORTED)
    out = pd.DataFrame({"org": frame["org"].astype(str).to_numpy(), "wave": data.latest,
                        UNIT: RESPONSE, INTENDS: intends,
                        PEER_LED: models[PEER_LED].to_numpy(),
                        SURVIVOR_BOARD: models[SURVIVOR_BOARD].to_numpy(),
                        "key": data.keys.loc[now].to_numpy()})
    for scale in BURNOUT_SCALES:
        if scale in frame.columns:
            out[scale] = frame[scale].to_numpy(dtype=float)
    return out


def _posts(profiles: pd.DataFrame, comparison: pd.DataFrame | None, wave: str) -> pd.DataFrame:
    """One unit per post: roles with an entry pay (keyed as ``living-wage`` keys them), then
    the rest of the head count as other roles."""
    from fieldsurvey.analyse.living_wage import staff_posts

    compared = (staff_posts(comparison) if comparison is not None
                else pd.DataFrame(columns=["org", "wave", "role", "below", "key"]))
    compared = compared.assign(org=compared["org"].astype(str))
    per_org = compared.groupby("org").size()
    rest = []
    for org, staff in zip(profiles["org"].astype(str), profiles["op_staff"], strict=True):
        extra = (0 if pd.isna(staff) else int(staff)) - int(per_org.get(org, 0))
        rest += [{"org": org, "key": f"post:{org}:{wave}:other:{i}"}
                 for i in range(1, max(extra, 0) + 1)]
    posts = pd.concat([compared[["org", "key"]], pd.DataFrame(rest, columns=["org", "key"])],
                      ignore_index=True)
    models = _models(profiles).reindex(posts["org"])
    return posts.assign(wave=wave, **{UNIT: POST, INTENDS: NOT_APPLICABLE,
                                      PEER_LED: models[PEER_LED].to_numpy(),
                                      SURVIVOR_BOARD: models[SURVIVOR_BOARD].to_numpy()})


def _continuity_inputs(profiles: pd.DataFrame, responses: pd.DataFrame) -> pd.DataFrame:
    """Per profiled organisation: the profile's counts and the survey's intention counts."""
    answered = responses[responses[INTENDS] != NOT_ANSWERED]
    survey = answered.groupby("org")[INTENDS].agg(respondents="size",
                                                  intending=lambda s: int((s == YES).sum()))
    out = pd.DataFrame({
        "org": profiles["org"].astype(str),
        "staff": pd.to_numeric(profiles["op_staff"], errors="coerce"),
        "leavers": pd.to_numeric(profiles["op_leavers"], errors="coerce"),
        "case_managers": pd.to_numeric(profiles["op_n_cm"], errors="coerce"),
        "caseload": pd.to_numeric(profiles["op_caseload"], errors="coerce"),
    })
    return out.join(survey, on="org").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Sections


def _text_dims(table: pd.DataFrame) -> pd.DataFrame:
    for dim in DIMS:
        if dim in table.columns:
            values = [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
                      else str(v) for v in table[dim]]
            table[dim] = pd.Series(values, index=table.index, dtype=object)
    return table


def _living_wage(ctx: OrganisationContext, results: Results) -> None:
    """Share of roles (and staff) paid below the reference: per organisation and field-wide."""
    from fieldsurvey.analyse.living_wage import LIVING_WAGE_STATS
    from fieldsurvey.compare.living_wage import share_below_reference

    comparison = ctx.inputs.comparison
    if comparison is None:
        return
    shares = share_below_reference(comparison.assign(org=comparison["org"].astype(str)))
    field_row = shares[shares["org"].isna()]
    rows = pd.concat([ctx.orgs(shares[shares["org"].notna()]), field_row], ignore_index=True)
    table = rows.drop(columns=["staff"]).assign(**{UNIT: POST})
    for col in LIVING_WAGE_STATS:
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    results.add_table("living_wage", _text_dims(table), dict(LIVING_WAGE_STATS))


def _organisation_model(ctx: OrganisationContext, results: Results) -> None:
    """The organisation's own answers (its report only), on its posts."""
    if ctx.org is None:
        return
    mine = ctx.inputs.profiles[ctx.inputs.profiles["org"].astype(str) == ctx.org]
    if mine.empty:
        return
    peer = pd.to_numeric(mine["op_peer_led"], errors="coerce").iat[0]
    board = pd.to_numeric(mine["op_survivor_board"], errors="coerce").iat[0]
    row = {"org": ctx.org, "wave": ctx.inputs.latest, UNIT: POST,
           "peer_led_model": PEER_LED_ANSWERS.get(int(peer), NOT_REPORTED)
           if pd.notna(peer) else NOT_REPORTED,
           "survivor_board_model": {1: "yes", 0: "no"}.get(int(board), NOT_REPORTED)
           if pd.notna(board) else NOT_REPORTED}
    results.add_table("organisation_model", _text_dims(pd.DataFrame([row])),
                      {"peer_led_model": "other", "survivor_board_model": "other"})


def _model_burnout(ctx: OrganisationContext, results: Results) -> None:
    """Burnout of staff by model group and the difference between the groups, field-wide, on
    the organisations whose responses the gate shows (computed after the gate)."""
    scales, units, wave = ctx.inputs.scales, ctx.inputs.units, ctx.inputs.latest
    if not scales:
        return
    orgs = sorted(units.loc[units[UNIT] == RESPONSE, "org"].unique())
    cells = [{"org": o, "wave": wave, UNIT: RESPONSE} for o in orgs]
    support = cell_statistics(units, cells, scales)[["org", "wave", UNIT,
                                                     *(f"{s}_n" for s in scales)]]
    results.add_table("_model_orgs", _text_dims(support),
                      {f"{s}_n": "sum" for s in scales}, measures={f"{s}_n": s for s in scales})
    groups = _group_stats(units, wave, scales)
    kinds = dict.fromkeys(["organisations", "respondents", *(f"{s}_{k}" for s in scales
                                                             for k in ("n", "mean", "sd"))],
                          "other")
    results.add_derived("model_burnout", groups, kinds, labels=["model", "group"],
                        source_measure={f"{s}_{k}": s for s in scales for k in ("n", "mean", "sd")})
    tests = dict.fromkeys(("diff", "diff_ci_low", "diff_ci_high", "g", "p"), "other")
    results.add_derived("model_tests", _group_tests(units, wave, scales), tests,
                        labels=["model"], variable="scale", source_measure=ROW_VARIABLE)


def _shown_orgs(view: Any, scale: str) -> set[str]:
    table = view.table("_model_orgs")
    return set(table.loc[table[f"{scale}_n"].notna(), "org"].astype(str))


def _group_stats(units: pd.DataFrame, wave: str, scales: list[str]
                 ) -> Callable[[Any], tuple[pd.DataFrame, list[list[Any]]]]:
    responses = units[units[UNIT] == RESPONSE]

    def compute(view: Any) -> tuple[pd.DataFrame, list[list[Any]]]:
        shown = {s: _shown_orgs(view, s) for s in scales}
        everywhere = set.intersection(*shown.values())
        rows, sources = [], []
        for dim, groups in MODELS.items():
            for group in groups:
                members = responses[responses[dim] == group]
                row = {"wave": wave, UNIT: RESPONSE, "model": dim, "group": group}
                part = members[members["org"].isin(everywhere)]
                row.update(organisations=float(part["org"].nunique()),
                           respondents=float(len(part)))
                for s in scales:
                    values = members.loc[members["org"].isin(shown[s]), s].dropna()
                    row.update({f"{s}_n": float(values.size), f"{s}_mean": _mean(values),
                                f"{s}_sd": float(values.std()) if values.size > 1 else np.nan})
                rows.append(row)
                sources.append([{"org": o, "wave": wave, UNIT: RESPONSE}
                                for o in sorted(set(members["org"]) & everywhere)])
        return _text_dims(pd.DataFrame(rows)), sources

    return compute


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if values.size else np.nan


def _group_tests(units: pd.DataFrame, wave: str, scales: list[str]
                 ) -> Callable[[Any], tuple[pd.DataFrame, list[list[Any]]]]:
    responses = units[units[UNIT] == RESPONSE]

    def compute(view: Any) -> tuple[pd.DataFrame, list[list[Any]]]:
        rows, sources = [], []
        for dim, (first, second) in MODELS.items():
            for s in scales:
                shown = responses[responses["org"].isin(_shown_orgs(view, s))]
                a = shown.loc[shown[dim] == first, s].dropna().to_numpy(dtype=float)
                b = shown.loc[shown[dim] == second, s].dropna().to_numpy(dtype=float)
                rows.append({"wave": wave, UNIT: RESPONSE, "model": dim, "scale": s,
                             **_difference(a, b)})
                members = shown.loc[shown[dim].isin([first, second]), "org"]
                sources.append([{"org": o, "wave": wave, UNIT: RESPONSE}
                                for o in sorted(set(members))])
        return _text_dims(pd.DataFrame(rows)), sources

    return compute


def _difference(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean difference (a - b) with Welch's interval, Hedges' g and Welch's p."""
    from scipy import stats

    from fieldsurvey.compare import welch_two_groups

    out = dict.fromkeys(("diff", "diff_ci_low", "diff_ci_high", "g", "p"), np.nan)
    if a.size >= 2 and b.size >= 2:
        test = stats.ttest_ind(a, b, equal_var=False)
        ci = test.confidence_interval(0.95)
        welch = welch_two_groups(a, b)
        out.update(diff=float(a.mean() - b.mean()), diff_ci_low=float(ci.low),
                   diff_ci_high=float(ci.high), g=float(welch["effect"]), p=float(test.pvalue))
    return out


def _continuity(ctx: OrganisationContext, results: Results) -> None:
    """Expected hand-offs per organisation (leavers; leavers and intention) and field totals."""
    from fieldsurvey.compare.continuity import handoff_estimates

    inputs, wave = ctx.inputs.continuity, ctx.inputs.latest
    leavers = handoff_estimates(inputs, intention=False).iloc[:-1]
    both = handoff_estimates(inputs).iloc[:-1]
    both = both[both["basis"] == "leavers and intention"]
    for name, part in (("continuity_leavers", leavers), ("continuity", both)):
        for shown in (f"_{name}_all", name):
            rows = part if shown.startswith("_") else ctx.orgs(part)
            _continuity_table(results, shown, rows.reset_index(drop=True), wave,
                              with_survey=name == "continuity")
    results.add_derived("continuity_field", _field_totals(inputs, wave),
                        dict.fromkeys(FIELD_STATS, "other"), labels=["basis"])


def _continuity_table(results: Results, name: str, rows: pd.DataFrame, wave: str, *,
                      with_survey: bool) -> None:
    cols = ["staff", "leavers", "case_managers", "caseload", *CONTINUITY_STATS]
    table = rows[["org", *cols]].assign(wave=wave).astype({c: float for c in cols})
    sources = None
    if with_survey:
        table["respondents"] = rows["respondents"].astype(float)
        table["intending_share"] = (rows["intending"] / rows["respondents"]).astype(float)
        cells = [{"org": o, "wave": wave, UNIT: RESPONSE} for o in rows["org"]]
        sources = [[{**c, INTENDS: YES}, {**c, INTENDS: NO}, {**c, UNIT: POST}] for c in cells]
    table[UNIT] = RESPONSE if with_survey else POST
    stats = dict.fromkeys([c for c in table.columns if c not in ("org", "wave", UNIT)], "other")
    results.add_table(name, _text_dims(table), stats, sources=sources)


def _field_totals(inputs: pd.DataFrame, wave: str
                  ) -> Callable[[Any], tuple[pd.DataFrame, list[list[Any]]]]:
    """The field's totals over the organisations whose rows the gate shows."""
    from fieldsurvey.compare.continuity import handoff_estimates

    def compute(view: Any) -> tuple[pd.DataFrame, list[list[Any]]]:
        rows, sources = [], []
        for name, unit, intention in (("continuity_leavers", POST, False),
                                      ("continuity", RESPONSE, True)):
            support = view.table(f"_{name}_all")
            shown = support["handoffs"].notna().to_numpy()
            orgs = support.loc[shown, "org"].astype(str).tolist()
            part = inputs[inputs["org"].isin(orgs)]
            total = handoff_estimates(part, intention=intention).iloc[-1]
            row = {"wave": wave, UNIT: unit, "basis": "leavers and intention" if intention
                   else "leavers"}
            row.update({c: float(total[c]) for c in FIELD_STATS})
            rows.append(row)
            sources.append([(f"_{name}_all", int(i)) for i in np.flatnonzero(shown)])
        return _text_dims(pd.DataFrame(rows)), sources

    return compute


#: The sections of the organisation release, in order (same shape as ``report.SECTIONS``).
ORGANISATION_SECTIONS: tuple[Callable[[OrganisationContext, Results], None], ...] = (
    _living_wage,
    _organisation_model,
    _model_burnout,
    _continuity,
)


def organisation_results(inputs: OrganisationInputs, org: str | None = None) -> Results:
    """Every statistic of one report's organisation sections, for the gate.

    Parameters
    ----------
    inputs : OrganisationInputs
        From :func:`organisation_inputs` (the same object for every report of a study).
    org : str, optional
        The organisation whose report this is; None for the field-wide report.

    Examples
    --------
    >>> inputs = organisation_inputs(load_study_data(open_study("s")))  # doctest: +SKIP
    >>> sorted(organisation_results(inputs, "O01").tables)[:2]  # doctest: +SKIP
    ['_continuity_all', '_continuity_leavers_all']
    """
    units = inputs.units
    results = Results(units[list(DIMS)], list(DIMS), measures=units[inputs.scales],
                      keys=inputs.keys, domains={INTENDS: [YES, NO, NOT_ANSWERED, NOT_APPLICABLE],
                                                 UNIT: [RESPONSE, POST]},
                      unprotected={INTENDS: [NOT_ANSWERED, NOT_APPLICABLE]})
    ctx = OrganisationContext(inputs, org)
    for section in ORGANISATION_SECTIONS:
        section(ctx, results)
    return results
