"""Living wage: the reference table format, entry pay against it (hand-computed values), the
share of roles and staff below it, and its organisation-level results through the gate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.compare.living_wage import (
    LivingWageError,
    entry_pay_vs_reference,
    share_below_reference,
)
from fieldsurvey.compare.wage_reference import (
    WageReferenceError,
    example_reference_path,
    load_wage_reference,
)
from fieldsurvey.errors import FieldsurveyError
from fieldsurvey.ingest.profiles import ingest_profiles
from fieldsurvey.outputs.living_wage import living_wage
from fieldsurvey.outputs.releases import releases
from fieldsurvey.store import init_study

EXAMPLE = load_wage_reference()


def profile(org: str, region="2", currency=2, wave="2026", **pay) -> dict:
    return {"org": org, "wave": wave, "op_region": region, "op_currency": currency, **pay}


def table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reference.yaml"
    path.write_text(text, encoding="utf-8")
    return path


ANNUAL = """\
title: Test table
source: made up for a test
year: "2025"
currency: USD
period: year
rates:
  - {region: North, household: 1 adult, pay: 41600}
  - {region: North, household: 2 adults 1 child, pay: 62400}
  - {region: South, code: 7, household: 1 adult, pay: 52000}
default_household: 1 adult
"""


# --- the reference table ---------------------------------------------------------------------


def test_example_table_is_marked_as_an_example_and_cites_its_source():
    text = example_reference_path().read_text()
    assert "EXAMPLE" in text and "to be replaced" in text
    assert EXAMPLE.example is True
    assert "Living Wage Foundation" in EXAMPLE.source and "livingwage.org.uk" in EXAMPLE.url
    assert EXAMPLE.rates.set_index("region")["pay"].to_dict() == {
        "London": 13.85, "UK outside London": 12.60}


def test_invalid_table_lists_every_problem_with_file_and_field(tmp_path):
    bad = table(tmp_path, "title: t\nsource: s\nyear: 2025\ncurrency: GBP\nperiod: week\n"
                          "hours_per_year: -5\ncolour: red\n"
                          "rates:\n  - {region: A, pay: 0}\n  - {region: B, pay: 12}\n"
                          "  - {region: b, pay: 13}\n")
    with pytest.raises(WageReferenceError) as info:
        load_wage_reference(bad)
    assert info.value.problems == [
        "reference.yaml: colour: unknown key (expected one of title, example, note, source, "
        "url, year, currency, period, hours_per_year, default_household, rates)",
        "reference.yaml: period: must be 'hour' or 'year' (got 'week')",
        "reference.yaml: hours_per_year: must be a number of hours above 0 and at most 8784 "
        "(got -5)",
        "reference.yaml: rates[0].pay: must be a positive number (got 0)",
        "reference.yaml: rates[2]: region 'b', household 'all' is listed twice",
    ]
    assert isinstance(info.value, FieldsurveyError)


# --- entry pay against the reference ----------------------------------------------------------


def test_annual_pay_is_converted_with_the_tables_hours():
    # 12.60 x 1950 = 24,570: exactly the reference, so not below; a pound less is below.
    p = pd.DataFrame([profile("A", op_pay_cm=24570, op_pay_cm_per=2, op_n_cm=3),
                      profile("B", op_pay_cm=24569, op_pay_cm_per=2, op_n_cm=3)])
    out = entry_pay_vs_reference(p, EXAMPLE)
    assert out["pay_hourly"].tolist() == pytest.approx([12.60, 24569 / 1950])
    assert out["ratio"].tolist() == pytest.approx([1.0, 24569 / 24570])
    assert out["below"].tolist() == [False, True]
    # With a 40-hour week (2080 hours) the same salary is 11.8125 an hour: below.
    full = entry_pay_vs_reference(p, EXAMPLE, hours_per_year=2080)
    assert full["pay_hourly"].iloc[0] == pytest.approx(11.8125)
    assert full["below"].tolist() == [True, True]


def test_annual_reference_household_and_region_by_code(tmp_path):
    ref = load_wage_reference(table(tmp_path, ANNUAL))
    assert ref.hours_per_year == 2080.0  # the documented default
    p = pd.DataFrame([profile("A", region="north", currency=1, op_pay_ds=20.0, op_pay_ds_per=1),
                      profile("B", region=" 7 ", currency=1, op_pay_ds=24.0, op_pay_ds_per=1)])
    out = entry_pay_vs_reference(p, ref)
    assert out["reference_hourly"].tolist() == pytest.approx([20.0, 25.0])  # 41600, 52000 / 2080
    assert out["below"].tolist() == [False, True]
    assert out["staff"].isna().all()
    family = entry_pay_vs_reference(p.iloc[:1], ref, household="2 adults 1 child")
    assert family["reference_hourly"].iloc[0] == pytest.approx(30.0)
    with pytest.raises(LivingWageError, match="household type 'couple' is not in the reference"):
        entry_pay_vs_reference(p, ref, household="couple")


@pytest.mark.parametrize("change,column,message", [
    ({"op_region": "Wales"}, "op_region",
     "organisation 'A', wave '2026': region 'Wales' has no reference pay in "
     "uk-real-living-wage-2024.yaml (regions: London, UK outside London)"),
    ({"op_currency": 1}, "op_currency",
     "pays in 'USD', but the reference table uk-real-living-wage-2024.yaml is in 'GBP'"),
    ({"op_pay_cm_per": None}, "op_pay_cm_per",
     "entry pay 12.5 (Case management) has no period (per hour or per year)"),
    ({"op_currency": None}, "op_currency", "entry pay is given without its currency"),
])
def test_bad_profiles_name_row_and_column(change, column, message):
    row = {**profile("A", op_pay_cm=12.5, op_pay_cm_per=1, op_n_cm=2), "source_row": 5, **change}
    with pytest.raises(LivingWageError) as info:
        entry_pay_vs_reference(pd.DataFrame([row]), EXAMPLE)
    assert (info.value.file, info.value.row, info.value.column) == ("org_profiles", 5, column)
    assert message in str(info.value)


def test_share_below_by_organisation_and_field_wide():
    p = pd.DataFrame([
        profile("A", op_pay_ds=11.0, op_pay_ds_per=1, op_n_ds=6,
                op_pay_cm=13.0, op_pay_cm_per=1, op_n_cm=2,
                op_pay_sup=23000, op_pay_sup_per=2, op_n_sup=1),  # 23000 / 1950 = 11.79: below
        profile("B", region="1", op_pay_ds=13.5, op_pay_ds_per=1, op_n_ds=10,  # London 13.85
                op_pay_peer=14.0, op_pay_peer_per=1),  # no head count: one person
    ])
    out = share_below_reference(entry_pay_vs_reference(p, EXAMPLE))
    out.index = ["A", "B", "field"]
    assert out.loc["A", ["roles", "roles_below", "staff", "staff_below"]].tolist() == [3, 2, 9, 7]
    assert out.loc["A", "share_roles_below"] == pytest.approx(2 / 3)
    assert out.loc["A", "share_staff_below"] == pytest.approx(7 / 9)
    assert out.loc["B", ["roles", "roles_below", "staff", "staff_below"]].tolist() == [2, 1, 11, 10]
    assert out.loc["field", ["organisations", "roles", "roles_below", "staff", "staff_below"]
                   ].tolist() == [2, 5, 3, 20, 17]
    assert out.loc["field", "share_roles_below"] == pytest.approx(3 / 5)
    assert out.loc["field", "share_staff_below"] == pytest.approx(17 / 20)
    assert pd.isna(out.loc["field", "org"])


# --- through the gate -------------------------------------------------------------------------


@pytest.fixture
def study(tmp_path):
    s = init_study(tmp_path / "study", ["workforce-context"], org_column="wf_org",
                   waves=["2026"])
    sizes = {"O1": (12, 2), "O2": (14, 2), "O3": (3, 1), "O4": (20, 3), "O5": (11, 2)}
    pays = {"O1": 12.0, "O2": 15.0, "O3": 11.0, "O4": 13.0, "O5": 12.5}
    rows = [{"response_id": f"p-{o}", "op_org": o, "op_region": "2", "op_currency": 2,
             "op_pay_cm": pays[o], "op_pay_cm_per": 1, "op_n_cm": n_cm,
             "op_pay_sup": 14.0, "op_pay_sup_per": 1, "op_n_sup": n_sup}
            for o, (n_cm, n_sup) in sizes.items()]
    pd.DataFrame(rows).to_csv(tmp_path / "profiles.csv", index=False)
    assert ingest_profiles(s, tmp_path / "profiles.csv").stored == 5
    return s


def test_organisation_results_pass_the_gate_and_are_recorded(study):
    tables = living_wage(study, command="test")
    orgs = tables["organisations"].set_index(tables["organisations"]["org"].fillna("field"))
    assert orgs.loc["O3", "suppressed"] and pd.isna(orgs.loc["O3", "share_staff_below"])
    # Shown values are the ungated ones: O1 has 12 case managers below 12.60 and 2 supervisors
    # above it.
    assert not orgs.loc["O1", "suppressed"]
    assert orgs.loc["O1", "n"] == 14
    assert orgs.loc["O1", "share_staff_below"] == pytest.approx(12 / 14)
    assert orgs.loc["O1", "share_roles_below"] == pytest.approx(0.5)
    # O3 (4 posts) can never be worked out as the field minus the organisations shown: a
    # second organisation is withheld with it.
    assert orgs.loc["field", "n"] == 70 and not orgs.loc["field", "suppressed"]
    assert orgs["suppressed"].tolist() == [False, False, True, False, True, False]
    assert orgs.loc["field", "share_staff_below"] == pytest.approx(26 / 70)
    ledger = releases(study.root)
    assert "living-wage" in ledger["output"].tolist()
    reference = tables["reference"].iloc[0]
    assert reference["example"] and reference["hours_per_year"] == 1950.0


def test_no_profiles_yet_gives_the_reference_only(tmp_path):
    s = init_study(tmp_path / "empty", ["workforce-context"], org_column="wf_org")
    assert list(living_wage(s)) == ["reference"]


def test_cli_json_and_a_bad_region_exits_2(study, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(main, ["living-wage", str(study.root), "--format", "json"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.output)
    assert {"reference", "organisations", "roles"} <= set(doc)
    o3 = next(r for r in doc["organisations"] if r["org"] == "O3")
    assert o3["share_staff_below"] is None and o3["n"] is None
    other = table(tmp_path, ANNUAL.replace("currency: USD", "currency: GBP"))
    bad = runner.invoke(main, ["living-wage", str(study.root), "--reference", str(other)])
    assert bad.exit_code == 2
    assert "column op_region" in bad.output and "region '2' has no reference pay" in bad.output
    assert np.isfinite(doc["reference"][0]["hours_per_year"])
