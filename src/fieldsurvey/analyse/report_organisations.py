"""Organisations as units in the reports: living wage, peer-led models, continuity of care.

The report sections of issue 19 rest on two populations, each released on its own beside the
report's release and judged by the same gate against the same study ledger:

:func:`profile_results` (staff posts)
    one unit per post of an organisation's profile (its head count ``op_staff``): posts of roles
    with an entry pay keyed as the ``living-wage`` command keys them, the rest as other roles;
    dimensions ``org`` and ``wave``. An organisation's posts are one cell: its living-wage
    shares, its own model answers and its hand-offs from leavers rest on it, so nothing of an
    organisation with fewer staff than the minimum cell size is shown.
:func:`response_results` (staff responses)
    every response, every wave (the reports' own population, so that a cell such as the
    reported wave means the same people here as in the reports), keyed as in the reports
    (organisation, wave, response id); dimensions ``org``, ``wave`` and ``intends_to_leave``
    (the answer to "I am thinking about leaving this organisation in the next 12 months": agree
    or strongly agree is "yes"; "no"; "not answered").

(One release over both populations, or responses of the reported wave only, let the gate and
its audit disagree about cells of the reports' earlier release; as here, each release has the
shape the gate already handles: the reports' own, and the ``living-wage`` command's.)

Sections (same shape as :data:`fieldsurvey.analyse.report.SECTIONS`):

* living wage (posts): share of roles (and of staff) below the reference, per organisation and
  field-wide;
* models (responses): burnout of staff in organisations with and without peer-led programmes,
  and with and without a survivor-led board, over the organisations whose responses the gate
  shows (computed after the gate, naming those organisations' cells as sources, as the report's
  drivers do); in an organisation's report also its own answers (posts);
* continuity of care: expected survivor hand-offs a year (:mod:`fieldsurvey.compare.continuity`)
  from leavers alone (posts) and from leavers and intention (responses: sourced on the cells of
  those who do and do not intend to leave, for organisations whose leavers estimate the posts
  release showed), and the field's totals over the organisations shown (after the gate).

A study with no profile for the reported wave gets neither release (None): each section of the
report then says so in one sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.analyse.study import StudyData, items_of
from fieldsurvey.results import Results

__all__ = ["PROFILE_SECTIONS", "RESPONSE_SECTIONS", "OrganisationInputs", "organisation_inputs",
           "profile_results", "response_results"]

INTENDS, YES, NO, NOT_ANSWERED = "intends_to_leave", "yes", "no", "not answered"
PEER_LED, SURVIVOR_BOARD, NOT_REPORTED = "peer_led", "survivor_board", "not reported"
#: The organisation-level models compared, their groups (first minus second).
MODELS: dict[str, tuple[str, str]] = {
    PEER_LED: ("peer-led programmes", "no peer-led programmes"),
    SURVIVOR_BOARD: ("survivor-led board", "other board"),
}
PEER_LED_ANSWERS = {1: "peer-led work is the main model", 2: "some peer-led programmes",
                    3: "no peer-led programmes"}
DIMS = ("org", "wave", INTENDS)
#: The intention item and the lowest answer that counts as intending (4 = agree).
INTENTION_ITEM, INTENDS_FROM = "sc_leave1", 4
#: Burnout scales compared between models, when the study scores them.
BURNOUT_SCALES = ("burnout", "cbi_personal", "cbi_work", "cbi_client")
#: The field's continuity totals (sums, caseload over case managers, pooled rate, hand-offs).
FIELD_STATS = ("organisations", "staff", "leavers", "case_managers", "caseload", "respondents",
               "rate", "rate_ci_low", "rate_ci_high", "handoffs", "handoffs_se",
               "handoffs_ci_low", "handoffs_ci_high", "handoffs_pi_low", "handoffs_pi_high")
CONTINUITY_STATS = FIELD_STATS[6:]
LEAVERS, BOTH = "leavers", "leavers and intention"


@dataclass
class OrganisationInputs:
    """What every report of a study shares: both populations, the pay comparison, the
    continuity inputs (:func:`organisation_inputs`)."""

    latest: str
    responses: pd.DataFrame        # one row per response (every wave): org, wave, intends,
    #                                model groups, burnout scores, key
    posts: pd.DataFrame            # one row per staff post: org, wave, key
    profiles: pd.DataFrame         # the reported wave's profiles
    comparison: pd.DataFrame | None
    continuity: pd.DataFrame       # handoff_estimates' inputs, one row per profiled organisation
    scales: list[str]
    notes: dict[str, str] = field(default_factory=dict)
    #: Results every report of a study asks for, made once (:meth:`memo`): hand-off estimates
    #: (the field's Monte Carlo interval grows with the number of organisations) and the
    #: model-group comparisons over the organisations the gate shows.
    _handoffs: dict[tuple, pd.DataFrame] = field(default_factory=dict, init=False, repr=False,
                                                  compare=False)

    @property
    def current(self) -> pd.DataFrame:
        """The responses of the reported wave."""
        return self.responses[self.responses["wave"] == self.latest]

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """``compute()``, made once per key for every report of the study."""
        if key not in self._handoffs:
            self._handoffs[key] = compute()
        return self._handoffs[key]

    def handoffs(self, *, intention: bool, orgs: Collection[str] | None = None) -> pd.DataFrame:
        """:func:`~fieldsurvey.compare.continuity.handoff_estimates` of ``orgs`` (default every
        profiled organisation), made once; a copy, for the caller to change."""
        from fieldsurvey.compare.continuity import handoff_estimates

        key = (intention, None if orgs is None else tuple(sorted(orgs)))
        if key not in self._handoffs:
            part = self.continuity if orgs is None else self.continuity[
                self.continuity["org"].isin(list(orgs))]
            self._handoffs[key] = handoff_estimates(part, intention=intention)
        return self._handoffs[key].copy()


@dataclass
class OrganisationContext:
    """What the sections of one report's organisation releases share."""

    inputs: OrganisationInputs
    org: str | None
    #: Organisations whose hand-offs from leavers the posts release showed (responses release).
    profile_shown: Collection[str] = ()

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
    return OrganisationInputs(
        latest=data.latest, responses=responses, posts=_posts(profiles, comparison, data.latest),
        profiles=profiles, comparison=comparison,
        continuity=_continuity_inputs(profiles, responses[responses["wave"] == data.latest]),
        scales=[s for s in BURNOUT_SCALES if s in responses.columns], notes=notes)


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
    """One unit per response, every wave (the reports' own population: cells of the reported
    wave then mean the same people as the reports' cells)."""
    frame = data.frame
    items = items_of(frame)
    answer = (pd.to_numeric(items[INTENTION_ITEM], errors="coerce") if INTENTION_ITEM in items
              else pd.Series(np.nan, index=frame.index))
    values = answer.to_numpy(dtype=float)
    intends = np.select([values >= INTENDS_FROM, ~np.isnan(values)], [YES, NO], NOT_ANSWERED)
    models = _models(profiles).reindex(frame["org"].astype(str)).fillna(NOT_REPORTED)
    out = pd.DataFrame({"org": frame["org"].astype(str).to_numpy(),
                        "wave": frame["wave"].astype(str).to_numpy(),
                        INTENDS: intends,
                        PEER_LED: models[PEER_LED].to_numpy(),
                        SURVIVOR_BOARD: models[SURVIVOR_BOARD].to_numpy(),
                        "key": data.keys.to_numpy()})
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
    return posts.assign(wave=wave)[["org", "wave", "key"]]


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
    # The study's shares, the same in every report: made once, each report takes its rows.
    shares = ctx.inputs.memo(("living_wage",), lambda: share_below_reference(
        comparison.assign(org=comparison["org"].astype(str))))
    field_row = shares[shares["org"].isna()]
    rows = pd.concat([ctx.orgs(shares[shares["org"].notna()]), field_row], ignore_index=True)
    table = rows.drop(columns=["staff"])
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
    row = {"org": ctx.org, "wave": ctx.inputs.latest,
           "peer_led_model": PEER_LED_ANSWERS.get(int(peer), NOT_REPORTED)
           if pd.notna(peer) else NOT_REPORTED,
           "survivor_board_model": {1: "yes", 0: "no"}.get(int(board), NOT_REPORTED)
           if pd.notna(board) else NOT_REPORTED}
    results.add_table("organisation_model", _text_dims(pd.DataFrame([row])),
                      {"peer_led_model": "other", "survivor_board_model": "other"})


def _model_burnout(ctx: OrganisationContext, results: Results) -> None:
    """Burnout of staff by model group and the difference between the groups, field-wide, on
    the organisations whose responses the gate shows (computed after the gate)."""
    scales, units, wave = ctx.inputs.scales, ctx.inputs.current, ctx.inputs.latest
    if not scales:
        return
    orgs = sorted(units["org"].unique())
    # Which organisations' responses the gate shows (their cells, not per-scale counts: the
    # comparison is a description over whole organisations).
    support = pd.DataFrame({"org": orgs, "wave": wave})
    results.add_table("_model_orgs", _text_dims(support))
    groups = _group_stats(units, wave, scales, ctx.inputs.memo)
    kinds = dict.fromkeys(["organisations", "respondents", *(f"{s}_{k}" for s in scales
                                                             for k in ("n", "mean", "sd"))],
                          "other")
    results.add_derived("model_burnout", groups, kinds, labels=["model", "group"])
    tests = dict.fromkeys(("diff", "diff_ci_low", "diff_ci_high", "g", "p"), "other")
    results.add_derived("model_tests", _group_tests(units, wave, scales, ctx.inputs.memo), tests,
                        labels=["model"], variable="scale")


Memo = Callable[[tuple, Callable[[], Any]], Any]


def _shown_orgs(view: Any) -> set[str]:
    table = view.table("_model_orgs")
    return set(table.loc[table["n"].notna(), "org"].astype(str))


def _group_stats(units: pd.DataFrame, wave: str, scales: list[str], memo: Memo
                 ) -> Callable[[Any], tuple[pd.DataFrame, list[list[Any]]]]:
    responses = units

    def compute(view: Any) -> tuple[pd.DataFrame, list[list[Any]]]:
        everywhere = _shown_orgs(view)
        table, sources = memo(("model_burnout", frozenset(everywhere)),
                              lambda: stats(everywhere))
        return table.copy(), [[dict(c) for c in s] for s in sources]

    def stats(everywhere: set[str]) -> tuple[pd.DataFrame, list[list[Any]]]:
        rows, sources = [], []
        for dim, groups in MODELS.items():
            for group in groups:
                members = responses[responses[dim] == group]
                row = {"wave": wave, "model": dim, "group": group}
                part = members[members["org"].isin(everywhere)]
                row.update(organisations=float(part["org"].nunique()),
                           respondents=float(len(part)))
                for s in scales:
                    values = part[s].dropna()
                    row.update({f"{s}_n": float(values.size), f"{s}_mean": _mean(values),
                                f"{s}_sd": float(values.std()) if values.size > 1 else np.nan})
                rows.append(row)
                sources.append([{"org": o, "wave": wave}
                                for o in sorted(set(members["org"]) & everywhere)])
        return _text_dims(pd.DataFrame(rows)), sources

    return compute


def _mean(values: pd.Series) -> float:
    return float(values.mean()) if values.size else np.nan


def _group_tests(units: pd.DataFrame, wave: str, scales: list[str], memo: Memo
                 ) -> Callable[[Any], tuple[pd.DataFrame, list[list[Any]]]]:
    responses = units

    def compute(view: Any) -> tuple[pd.DataFrame, list[list[Any]]]:
        everywhere = _shown_orgs(view)
        table, sources = memo(("model_tests", frozenset(everywhere)), lambda: tests(everywhere))
        return table.copy(), [[dict(c) for c in s] for s in sources]

    def tests(everywhere: set[str]) -> tuple[pd.DataFrame, list[list[Any]]]:
        rows, sources = [], []
        for dim, (first, second) in MODELS.items():
            shown = responses[responses["org"].isin(everywhere)]
            for s in scales:
                a = shown.loc[shown[dim] == first, s].dropna().to_numpy(dtype=float)
                b = shown.loc[shown[dim] == second, s].dropna().to_numpy(dtype=float)
                rows.append({"wave": wave, "model": dim, "scale": s,
                             **_difference(a, b)})
                members = shown.loc[shown[dim].isin([first, second]), "org"]
                sources.append([{"org": o, "wave": wave} for o in sorted(set(members))])
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


def _continuity_leavers(ctx: OrganisationContext, results: Results) -> None:
    """Expected hand-offs from last year's leavers, per organisation (on its posts), and the
    field's total over the organisations shown."""
    _continuity_tables(ctx, results, "continuity_leavers",
                       lambda: (ctx.inputs.handoffs(intention=False).iloc[:-1], None))
    results.add_derived("continuity_field", _field_totals(ctx.inputs, intention=False),
                        dict.fromkeys(FIELD_STATS, "other"), labels=["basis"])


def _continuity_intention(ctx: OrganisationContext, results: Results) -> None:
    """Expected hand-offs from leavers and intention, per organisation (on its responses, and
    those who do and do not intend to leave), and the field's total over those shown."""
    _continuity_tables(ctx, results, "continuity", lambda: _intention_estimates(ctx))
    results.add_derived("continuity_field_intention", _field_totals(ctx.inputs, intention=True),
                        dict.fromkeys([*FIELD_STATS, "intending_share"], "other"),
                        labels=["basis"])


def _intention_estimates(ctx: OrganisationContext) -> tuple[pd.DataFrame, list[list[Any]]]:
    """Every organisation's estimate from leavers and intention, and each row's cells."""
    estimates = ctx.inputs.handoffs(intention=True).iloc[:-1]
    estimates = estimates[estimates["basis"] == BOTH].reset_index(drop=True)
    # An organisation whose leavers estimate was withheld shows none of it through this one.
    hidden = ~estimates["org"].isin(list(ctx.profile_shown))
    estimates.loc[hidden, [c for c in estimates.columns if c not in ("org", "basis")]] = np.nan
    estimates["intending_share"] = estimates["intending"] / estimates["respondents"]
    wave = ctx.inputs.latest
    sources = [[{"org": o, "wave": wave, INTENDS: YES}, {"org": o, "wave": wave, INTENDS: NO}]
               for o in estimates["org"]]
    return estimates, sources


def _continuity_tables(ctx: OrganisationContext, results: Results, name: str,
                       make: Callable[[], tuple[pd.DataFrame, list[list[Any]] | None]]) -> None:
    """The table of every organisation (support, for the field's total) and the shown one.

    The table of every organisation is the same in every report of the study: made once (per
    set of organisations the posts release showed), each report gets its own copy.
    """
    survey = name == "continuity"
    cols = (["respondents", "intending_share", *CONTINUITY_STATS] if survey else
            ["staff", "leavers", "case_managers", "caseload", *CONTINUITY_STATS])

    def build() -> tuple[pd.DataFrame, list[list[Any]] | None]:
        estimates, sources = make()
        table = estimates[["org", *cols]].astype({c: float for c in cols}).assign(
            wave=ctx.inputs.latest)
        return _text_dims(table), sources

    shown = tuple(sorted(str(o) for o in ctx.profile_shown))
    table, sources = ctx.inputs.memo(("continuity_table", name, shown), build)
    if sources is not None:
        sources = [[dict(c) for c in s] for s in sources]
    mine = ctx.orgs(table).index
    stats = dict.fromkeys(cols, "other")
    results.add_table(f"_{name}_all", table.copy(), stats, sources=sources)
    results.add_table(name, _text_dims(table.loc[mine].reset_index(drop=True)), stats,
                      sources=None if sources is None else [sources[i] for i in mine])


def _field_totals(inputs: OrganisationInputs, *, intention: bool
                  ) -> Callable[[Any], tuple[pd.DataFrame, list[list[Any]]]]:
    """The field's total over the organisations whose rows the gate shows."""
    name = "_continuity_all" if intention else "_continuity_leavers_all"

    def compute(view: Any) -> tuple[pd.DataFrame, list[list[Any]]]:
        support = view.table(name)
        shown = support["handoffs"].notna().to_numpy()
        orgs = support.loc[shown, "org"].astype(str).tolist()
        total = inputs.handoffs(intention=intention, orgs=orgs).iloc[-1]
        row = {"wave": inputs.latest, "basis": BOTH if intention else LEAVERS,
               **{c: float(total[c]) for c in FIELD_STATS}}
        if intention:  # the share thinking of leaving among those who answered, pooled
            row["intending_share"] = float(total["intending"] / total["respondents"]) \
                if total["respondents"] > 0 else np.nan
        return _text_dims(pd.DataFrame([row])), [[(name, int(i)) for i in np.flatnonzero(shown)]]

    return compute


def _field_cell(results: Results, wave: str) -> None:
    """The field's cell this wave: the cell field-wide figures computed after the gate describe
    (as the report's ``_field``; never shown by itself)."""
    results.add_table("_field", pd.DataFrame({"wave": [wave]}, dtype=object))


#: Sections of the posts release and of the responses release, in order (same shape as
#: ``report.SECTIONS``).
PROFILE_SECTIONS: tuple[Callable[[OrganisationContext, Results], None], ...] = (
    _living_wage,
    _organisation_model,
    _continuity_leavers,
)
RESPONSE_SECTIONS: tuple[Callable[[OrganisationContext, Results], None], ...] = (
    _model_burnout,
    _continuity_intention,
)


def profile_results(inputs: OrganisationInputs, org: str | None = None) -> Results:
    """The statistics of one report's organisation sections that rest on staff posts.

    Parameters
    ----------
    inputs : OrganisationInputs
        From :func:`organisation_inputs` (the same object for every report of a study).
    org : str, optional
        The organisation whose report this is; None for the field-wide report.

    Examples
    --------
    >>> inputs = organisation_inputs(load_study_data(open_study("s")))  # doctest: +SKIP
    >>> sorted(profile_results(inputs, "O01").tables)[:2]  # doctest: +SKIP
    ['_continuity_leavers_all', 'continuity_leavers']
    """
    posts = inputs.posts
    # The same posts and dimensions in every report: set up once, tables added per report.
    results = inputs.memo(("results", "posts"), lambda: Results(
        posts[["org", "wave"]], ["org", "wave"], keys=posts["key"])).without_tables()
    _field_cell(results, inputs.latest)
    ctx = OrganisationContext(inputs, org)
    for section in PROFILE_SECTIONS:
        section(ctx, results)
    return results


def response_results(inputs: OrganisationInputs, org: str | None = None, *,
                     profile_shown: Collection[str] = ()) -> Results:
    """The statistics of one report's organisation sections that rest on staff responses.

    ``profile_shown``: the organisations whose hand-offs from leavers the gated posts release
    shows (:func:`profile_results`); the others' estimate from leavers and intention is empty.
    """
    units = inputs.responses
    # No measures, and "not answered" protected like any category: every table here rests on
    # whole cells (organisations, those who do and do not intend to leave). Declaring the
    # scales' validity as measures, or "not answered" as an unprotected remainder, made the gate
    # and its audit disagree about cells of the reports' earlier release.
    results = inputs.memo(("results", "responses"), lambda: Results(
        units[list(DIMS)], list(DIMS), keys=units["key"])).without_tables()
    _field_cell(results, inputs.latest)
    ctx = OrganisationContext(inputs, org, profile_shown)
    for section in RESPONSE_SECTIONS:
        section(ctx, results)
    return results
