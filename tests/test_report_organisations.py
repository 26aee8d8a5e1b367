"""Reports' organisation sections (issue 19): continuity of care, living wage, peer-led models.

One synthetic study (8 organisations, 2 waves, profiles ingested, minimum cell 5); every
report's bundle is built once for the module (no rendering). The tests recompute the values in
the bundle tables from the study's own data (profiles as generated, answers as stored) with
plain formulas, check that organisations the gate withholds show nothing, and that a study
without profiles still builds every section.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import fieldsurvey.report.organisation_release as organisation_release
from fieldsurvey.analyse import load_study_data
from fieldsurvey.analyse.report_organisations import (
    OrganisationInputs,
    organisation_inputs,
    profile_results,
    response_results,
)
from fieldsurvey.disclosure import Ledger, publish
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.ingest.profiles import ingest_profiles
from fieldsurvey.report.build import make_bundle, report_folder
from fieldsurvey.report.content import SECTION_HEADINGS
from fieldsurvey.report.release import gate_reports
from fieldsurvey.store import init_study
from fieldsurvey.synthetic import generate_coalition

INSTRUMENTS = ["workforce-context", "proqol5", "cbi", "stss", "structural-conditions"]
MIN_CELL = 5
REFERENCE = {"1": 13.85, "2": 12.60}  # the shipped example, GBP an hour; 1950 hours a year
ROLES = {"ds": "Direct service", "cm": "Case management", "adv": "Advocacy",
         "peer": "Peer specialist", "sup": "Supervision"}


def _study(root: Path, *, profiles: bool, n_orgs: int = 8) -> tuple[object, pd.DataFrame | None]:
    study = init_study(root / "study", INSTRUMENTS, org_column="wf_org", waves=["1", "2"],
                       min_cell=MIN_CELL)
    # Mostly mid-sized and large organisations: the reports' own release withholds most of a
    # small organisation's cells, and with them everything here.
    coalition = generate_coalition(n_orgs=n_orgs, seed=5, waves=2, size_mix=(0.2, 0.5, 0.3))
    for wave in ("1", "2"):
        rows = coalition.responses[coalition.responses["wave"].astype(str) == wave]
        path = root / f"wave{wave}.csv"
        rows.drop(columns=["org", "wave"]).to_csv(path, index=False)
        ingest_file(study, path, wave=wave)
        if profiles:
            part = coalition.profiles[coalition.profiles["wave"].astype(str) == wave]
            part.to_csv(root / f"profiles{wave}.csv", index=False)
            ingest_profiles(study, root / f"profiles{wave}.csv", wave=wave)
    return study, coalition.profiles if profiles else None


def _build(root: Path, *, profiles: bool, n_orgs: int = 8) -> dict:
    study, generated = _study(root, profiles=profiles, n_orgs=n_orgs)
    data = load_study_data(study, n_boot=20)
    targets = [None, *data.organisations]
    # What the organisation sections' releases find already given away by the reports'.
    exposed: list[tuple[str, int]] = []
    publish_now = organisation_release.publish

    def publish_and_count(*args, **kwargs):
        gated = publish_now(*args, **kwargs)
        exposed.append((kwargs["output"], gated.exposed_before))
        return gated

    organisation_release.publish = publish_and_count
    try:
        gated = gate_reports(data, targets, command="test")
    finally:
        organisation_release.publish = publish_now
    out = root / "reports"
    for org in targets:
        folder = report_folder(out, org)
        folder.mkdir(parents=True, exist_ok=True)
        make_bundle(data, gated[org], folder, command="test", date="2026-03-01")
    return {"data": data, "out": out, "profiles": generated, "targets": targets,
            "exposed": exposed}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("orgsections"), profiles=True)


def _table(built: dict, org: str | None, name: str) -> pd.DataFrame:
    path = report_folder(built["out"], org) / "bundle" / "tables" / f"{name}.csv"
    return pd.read_csv(path, dtype={"org": str, "wave": str}, keep_default_na=True)


def _latest_profiles(built: dict) -> pd.DataFrame:
    p = built["profiles"]
    return p[p["wave"].astype(str) == built["data"].latest].set_index("org")


def _intention(built: dict) -> pd.DataFrame:
    """Respondents answering 'thinking of leaving in 12 months' and those agreeing, per org."""
    data = built["data"]
    now = data.frame[data.frame["wave"] == data.latest]
    answer = now["item:sc_leave1"]
    return pd.DataFrame({"respondents": answer.notna().groupby(now["org"]).sum(),
                         "intending": (answer >= 4).groupby(now["org"]).sum()})


def _jeffreys(x: float, exposure: float) -> tuple[float, float]:
    low = stats.gamma.ppf(0.025, x + 0.5) / exposure if x > 0 else 0.0
    return low, stats.gamma.ppf(0.975, x + 0.5) / exposure


# --------------------------------------------------------------------------------------------


def test_every_report_has_the_sections_and_the_headline(built):
    assert "Organisations" in SECTION_HEADINGS
    for org in built["targets"]:
        text = (report_folder(built["out"], org) / "report.qmd").read_text()
        for heading in ("# Organisations", "## Continuity of care", "## Living wage",
                        "## Peer-led and survivor-led models"):
            assert heading in text, (org, heading)
        summary = text.split("# Who responded")[0]
        assert "Continuity of care:" in summary


def test_hand_offs_from_leavers_are_the_profiles_numbers(built):
    profiles = _latest_profiles(built)
    shown = 0
    for org in built["targets"][1:]:
        table = _table(built, org, "continuity_leavers")
        row = table[table["org"] == org].iloc[0]
        field_row = _table(built, None, "continuity_leavers").set_index("org").loc[org]
        if row["suppressed"]:
            assert field_row["suppressed"]
            continue
        shown += 1
        p = profiles.loc[org]
        staff, leavers = float(p["op_staff"]), float(p["op_leavers"])
        scale = float(p["op_n_cm"]) * float(p["op_caseload"])
        assert row["n"] == staff  # rests on the organisation's staff posts
        assert row["handoffs"] == pytest.approx(scale * leavers / staff)
        low, high = _jeffreys(leavers, staff)
        assert row["handoffs_ci_low"] == pytest.approx(scale * low)
        assert row["handoffs_ci_high"] == pytest.approx(scale * high)
        size, prob = leavers + 0.5, staff / (staff + float(p["op_n_cm"]))
        assert row["handoffs_pi_high"] == pytest.approx(
            float(p["op_caseload"]) * stats.nbinom.ppf(0.975, size, prob))
        assert field_row["handoffs"] == pytest.approx(row["handoffs"])
    assert shown >= 5


def test_hand_offs_with_intention_pool_the_survey(built):
    profiles, survey = _latest_profiles(built), _intention(built)
    table = _table(built, None, "continuity").set_index("org")
    shown = table[table["handoffs"].notna()]
    assert len(shown) >= 1
    leavers = _table(built, None, "continuity_leavers").set_index("org")
    assert leavers.loc[shown.index, "handoffs"].notna().all()
    for org, row in shown.iterrows():
        p, s = profiles.loc[org], survey.loc[org]
        x = float(p["op_leavers"]) + float(s["intending"])
        exposure = float(p["op_staff"]) + float(s["respondents"])
        assert row["respondents"] == s["respondents"]
        assert row["intending_share"] == pytest.approx(s["intending"] / s["respondents"])
        assert row["handoffs"] == pytest.approx(
            float(p["op_n_cm"]) * float(p["op_caseload"]) * x / exposure)
        # The estimate rests on those who do and do not intend to leave: both shown cells.
        assert min(s["intending"], s["respondents"] - s["intending"]) >= MIN_CELL
    # Where either group is small, nothing of the pooled estimate is shown.
    for org, s in survey.iterrows():
        if min(s["intending"], s["respondents"] - s["intending"]) < MIN_CELL and org in table.index:
            assert table.loc[org, ["handoffs", "rate", "intending_share"]].isna().all()


def test_field_totals_add_up_the_shown_organisations_only(built):
    for org in built["targets"]:
        for name, field_name in (("continuity_leavers", "continuity_field"),
                                 ("continuity", "continuity_field_intention")):
            total = _table(built, org, field_name).iloc[0]
            rows = _table(built, None, name)
            shown = rows[rows["handoffs"].notna()]
            assert total["organisations"] == len(shown)
            assert total["handoffs"] == pytest.approx(shown["handoffs"].sum())
            if name == "continuity" and len(shown):
                assert total["intending_share"] == pytest.approx(
                    (shown["intending_share"] * shown["respondents"]).sum()
                    / shown["respondents"].sum())


def test_living_wage_shares_from_the_profiles(built):
    profiles = _latest_profiles(built)
    table = _table(built, None, "living_wage")
    field_rows, roles_all, below_all = table[table["org"].isna()], 0, 0
    for org, p in profiles.iterrows():
        below = []
        for key in ROLES:
            pay = p[f"op_pay_{key}"]
            if pd.isna(pay):
                continue
            hourly = pay if p[f"op_pay_{key}_per"] == 1 else pay / 1950
            below.append(hourly < REFERENCE[str(p["op_region"])])
        roles_all, below_all = roles_all + len(below), below_all + sum(below)
        row = table[table["org"] == org].iloc[0]
        if row["suppressed"]:
            assert row[["roles", "share_roles_below", "share_staff_below"]].isna().all()
            continue
        assert row["roles"] == len(below)
        assert row["share_roles_below"] == pytest.approx(np.mean(below))
    assert field_rows["roles"].iat[0] == roles_all
    assert field_rows["share_roles_below"].iat[0] == pytest.approx(below_all / roles_all)


def test_an_organisation_report_shows_only_its_own_rows(built):
    for org in built["targets"][1:]:
        for name in ("continuity_leavers", "continuity", "living_wage", "organisation_model"):
            rows = _table(built, org, name)
            named = rows["org"].dropna()
            assert set(named) <= {org}, (org, name)


def test_withheld_organisations_show_nothing(built):
    field = _table(built, None, "continuity_leavers").set_index("org")
    for org in built["targets"][1:]:
        own = {name: _table(built, org, name) for name in ("continuity_leavers", "living_wage",
                                                           "organisation_model")}
        posts = float(_latest_profiles(built).loc[org, "op_staff"])
        if posts < MIN_CELL:  # fewer staff than the minimum cell: nothing from the profile
            for table in own.values():
                mine = table[table["org"] == org]
                stats_cols = [c for c in mine.columns if c not in ("org", "wave", "unit",
                                                                    "n", "suppressed")]
                assert mine[stats_cols].isna().all(axis=None), org
        if field.loc[org, "suppressed"]:
            text = (report_folder(built["out"], org) / "report.qmd").read_text()
            assert "expected hand-offs are withheld" in text


def test_a_withheld_estimate_shows_none_of_its_parts(built):
    withheld = 0
    for org in built["targets"]:
        for name in ("continuity_leavers", "continuity", "living_wage", "organisation_model"):
            path = report_folder(built["out"], org) / "bundle" / "tables" / f"{name}.csv"
            if not path.is_file():
                continue
            table = _table(built, org, name)
            key = {"living_wage": "roles", "organisation_model": "peer_led_model"}.get(
                name, "handoffs")
            stats_cols = [c for c in table.columns if c not in ("org", "wave", "n", "suppressed")]
            hidden = table[table[key].isna()]
            withheld += len(hidden)
            assert hidden[stats_cols].isna().all(axis=None), (org, name)
    assert withheld > 0


def test_an_organisation_with_fewer_staff_than_the_minimum_shows_nothing_of_its_profile():
    profiles = pd.DataFrame({"org": ["A", "B", "C"], "wave": "1", "op_staff": [6, 30, 25],
                             "op_peer_led": [1, 3, 2], "op_survivor_board": [0, 1, 0]})
    continuity = pd.DataFrame({"org": ["A", "B", "C"], "staff": [6, 30, 25], "leavers": [1, 3, 2],
                               "case_managers": [1, 4, 3], "caseload": [10, 12, 8],
                               "respondents": np.nan, "intending": np.nan})
    posts = pd.DataFrame({"org": np.repeat(["A", "B", "C"], [6, 30, 25]), "wave": "1"})
    posts["key"] = [f"post:{o}:{i}" for i, o in enumerate(posts["org"])]
    inputs = OrganisationInputs(latest="1", responses=pd.DataFrame(), posts=posts,
                                profiles=profiles, comparison=None, continuity=continuity,
                                scales=[])
    gated = publish(profile_results(inputs, None), output="test", ledger=Ledger.in_memory())
    table = gated.tables["continuity_leavers"].set_index("org")
    assert table.loc["A", ["staff", "leavers", "handoffs", "handoffs_ci_high"]].isna().all()
    # Minimum cell 10 (no study): A's 6 posts are withheld. The field total would give A away
    # if it counted A; it counts the shown organisations alone.
    total = gated.tables["continuity_field"].iloc[0]
    shown = table[table["handoffs"].notna()]
    # (C is withheld too: with the field's count shown, C's would give A's by subtraction.)
    assert sorted(shown.index) == ["B"]
    assert total["organisations"] == len(shown)
    assert total["handoffs"] == pytest.approx(shown["handoffs"].sum())


def _shown_orgs(built: dict) -> set[str]:
    """Organisations whose responses the model comparison used: the releases recomputed
    without recording (the ledger gives the same decisions)."""
    data = built["data"]
    inputs = organisation_inputs(data)
    leavers = _table(built, None, "continuity_leavers")
    shown = leavers.loc[leavers["handoffs"].notna(), "org"].tolist()
    parts = {org: response_results(inputs, org, profile_shown=shown) for org in built["targets"]}
    combined = parts[None].without_tables()
    for org, results in parts.items():
        combined.include(results, "field" if org is None else f"org:{org}")
    what = "report-organisations:" + ",".join("field" if o is None else f"org:{o}"
                                              for o in built["targets"])
    gated = publish(combined, data.study, output=what, command="test", record=False)
    support = gated.tables["field/_model_orgs"]
    return set(support.loc[support["n"].notna(), "org"].astype(str))


def test_peer_led_burnout_over_the_shown_organisations(built):
    """Both models (peer-led programmes, a survivor-led board) over the organisations shown:
    each group's burnout from the answers, and the Welch test where both groups hold
    someone (at least one model must, or the test checks no test)."""
    data, profiles = built["data"], _latest_profiles(built)
    shown = _shown_orgs(built)
    now = data.frame[(data.frame["wave"] == data.latest) & data.frame["org"].isin(shown)]
    groups = _table(built, None, "model_burnout").set_index(["model", "group"])
    tests = _table(built, None, "model_tests")
    models = {"peer_led": (now["org"].map(profiles["op_peer_led"]).isin([1, 2]),
                           "peer-led programmes", "no peer-led programmes"),
              "survivor_board": (now["org"].map(profiles["op_survivor_board"]) == 1,
                                 "survivor-led board", "other board")}
    compared = 0
    for model, (inside, yes, no) in models.items():
        for label, members in ((yes, inside), (no, ~inside)):
            values = now.loc[members, "burnout"].dropna()
            row = groups.loc[(model, label)]
            assert row["burnout_n"] == len(values)
            assert row["organisations"] == now.loc[members, "org"].nunique()
            if values.empty:  # no shown organisation in the group: nothing to average
                assert pd.isna(row["burnout_mean"])
            else:
                assert row["burnout_mean"] == pytest.approx(values.mean())
        a, b = now.loc[inside, "burnout"].dropna(), now.loc[~inside, "burnout"].dropna()
        test = tests[(tests["model"] == model) & (tests["scale"] == "burnout")].iloc[0]
        if len(a) < 2 or len(b) < 2:
            assert pd.isna(test["diff"]) and pd.isna(test["p"])
            continue
        compared += 1
        assert test["diff"] == pytest.approx(a.mean() - b.mean())
        assert test["p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert compared, "no model compares two groups: the scenario tests no Welch test"
    # The same field-level comparison in every organisation's report.
    for org in built["targets"][1:]:
        same = _table(built, org, "model_burnout").set_index(["model", "group"])
        assert same["burnout_mean"].equals(groups["burnout_mean"])


def test_the_sections_releases_find_nothing_the_reports_gave_away(built):
    """The organisation sections are released after the reports, judged with the ledger:
    nothing the reports withheld may be derivable from what they showed. The reports' gate
    and the next one must agree; they did not while phantoms ignored score ranges (the
    reports' gate imagined someone in the empty bin 10-18 of compassion satisfaction in its
    Moderate band: 5 cells exposed) and while the next gate imagined earlier releases' people
    "absent" from one of that release's dimensions and present in another (3 cells)."""
    assert len(built["exposed"]) == 2, built["exposed"]
    assert [n for _, n in built["exposed"]] == [0, 0], built["exposed"]


def test_organisation_model_is_its_own_answer(built):
    profiles = _latest_profiles(built)
    answers = {1: "peer-led work is the main model", 2: "some peer-led programmes",
               3: "no peer-led programmes"}
    for org in built["targets"][1:]:
        row = _table(built, org, "organisation_model").iloc[0]
        if not row["suppressed"]:
            assert row["peer_led_model"] == answers[int(profiles.loc[org, "op_peer_led"])]


def test_a_study_without_profiles_says_so_in_each_section(tmp_path):
    built = _build(tmp_path, profiles=False, n_orgs=3)
    for org in built["targets"][:2]:
        folder = report_folder(built["out"], org)
        text = (folder / "report.qmd").read_text()
        assert text.count("This study has no organisation profiles for wave 2") == 3
        tables = {p.stem for p in (folder / "bundle" / "tables").glob("*.csv")}
        assert not tables & {"continuity", "continuity_leavers", "living_wage", "model_burnout"}
        assert "Continuity of care:" not in text.split("# Who responded")[0]
