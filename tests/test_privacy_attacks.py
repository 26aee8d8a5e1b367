"""Issue 13: every attack that recovered a withheld value, rebuilt as a test.

Each test builds a small study (``fieldsurvey init`` and ``ingest``), runs outputs on it in
the order a user would (so the study's release ledger is used), and hands everything released
to the independent attacker of :mod:`attacker`, which solves for each withheld value. A test
fails when a withheld value is determined or boxed in below the protection interval (an
integer range of one value, or one that neither reaches the minimum cell size nor includes 0),
or when a derived statistic is shown beside a withheld source.

The ``test_attacker_*`` tests give the attacker deliberately leaky releases built by hand from
real outputs and check that it does recover what they leak: the tests above cannot pass
because the attacker is blind.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from attack_studies import (
    FINDINGS,
    NOT_HIGH,
    PLAN,
    SCALES,
    assert_nothing_recovered,
    attacker_of,
    build,
    cli,
    cli_json,
    finding_recipes,
    ingest,
    lived_label,
    new_study,
    read_bundle,
    read_reports,
    reports,
    spread,
    staff,
    tables_of,
)
from attacker import (
    AnyOf,
    Attacker,
    Cell,
    Not,
    Welch,
    read_benchmark,
    read_compare,
    read_compare_json,
    read_report,
    read_reproduce,
    read_run_plan,
    read_status,
    two_group_solutions,
)
from fieldsurvey import outputs
from fieldsurvey.outputs.findings import reproduce, run_plan
from fieldsurvey.outputs.status import status
from fieldsurvey.reproduce import load_findings, load_plan
from fieldsurvey.store import open_study

# ----------------------------------------------------------------------------------------------
# Studies


def small_org_study(root: Path) -> Path:
    """A (7 staff; the only high-burnout person of the field, who has lived experience), B (12),
    C (25), D (40: large enough for its own breakdowns)."""
    a = staff("A", 7, bands={"burnout": spread(7, "Moderate", High=1)},
              lived=spread(7, "no", yes=1))
    no_high = {"burnout": spread(100, NOT_HIGH)}
    return build(root, [("1", "members.csv", pd.concat([
        a, staff("B", 12, bands=no_high), staff("C", 25, bands=no_high),
        staff("D", 40, bands={"burnout": spread(40, NOT_HIGH, Low=11)})]))], waves=["1"])


@pytest.fixture(scope="module")
def small_orgs(tmp_path_factory) -> Path:
    return small_org_study(tmp_path_factory.mktemp("small-orgs") / "study")


def fresh(study: Path, tmp_path: Path) -> Path:
    """A copy of a study (its store and an empty release ledger as built)."""
    target = tmp_path / study.name
    shutil.copytree(study, target)
    return target


# ----------------------------------------------------------------------------------------------
# What was recovered: reports and benchmark --bands


def test_bands_beside_scored_counts_in_reports_and_benchmark(small_orgs, tmp_path):
    """Reports and ``benchmark --bands``: a withheld band is not the scored count minus the
    shown bands, within the reports and with the benchmark read beside them."""
    root = fresh(small_orgs, tmp_path)
    gated = reports(root, [None, "A", "B", "C", "D"])
    att = attacker_of(root)
    read_reports(att, gated)
    assert_nothing_recovered(att)
    bench = outputs.benchmark(root, bands=True, scales=["burnout"])
    read_benchmark(att, bench.tables, source="benchmark --bands")
    assert_nothing_recovered(att)


def test_benchmark_bands_json_alone(small_orgs, tmp_path):
    root = fresh(small_orgs, tmp_path)
    doc = cli_json("benchmark", root, "--bands", "--scale", "burnout", "--scale", "sts")
    att = attacker_of(root)
    read_benchmark(att, tables_of(doc), source="benchmark --bands --format json")
    assert_nothing_recovered(att)


def test_reproduce_does_not_tell_the_lived_experience_of_the_only_high_burnout_person(
        small_orgs, tmp_path):
    """The field report with the published findings, then ``reproduce``: the one high-burnout
    person of the field (who has lived experience) is neither counted nor characterised."""
    root = fresh(small_orgs, tmp_path)
    rows, _ = reproduce(root, load_findings(FINDINGS))
    gated = reports(root, [None], findings=load_findings(FINDINGS))
    att = attacker_of(root)
    read_reproduce(att, rows, finding_recipes())
    read_reports(att, gated)
    high = Cell.of({"burnout_band": "High"})
    att.count(high, None, "the high-burnout person", "high burnout, field")
    att.count(high.with_(lived="yes"), None, "the high-burnout person", "high burnout, lived")
    assert_nothing_recovered(att)


def test_reproduce_json_shares_are_counts_too(small_orgs, tmp_path):
    """``reproduce --format json``: a share with its n is a count; none below the minimum."""
    root = fresh(small_orgs, tmp_path)
    doc = cli_json("reproduce", root, FINDINGS)
    rows = pd.DataFrame(doc["findings"] if "findings" in doc else doc["rows"])
    att = attacker_of(root)
    read_reproduce(att, rows, finding_recipes(), source="reproduce json")
    att.count(Cell.of({"burnout_band": "High"}), None, "the high-burnout person")
    assert_nothing_recovered(att)


# ----------------------------------------------------------------------------------------------
# compare


@pytest.fixture(scope="module")
def lived_groups(tmp_path_factory) -> Path:
    """Lived experience across three organisations: yes 25, no 45, prefer not to say 3,
    no answer 4."""
    root = tmp_path_factory.mktemp("lived") / "study"
    lived = spread(25, "no", yes=8) + spread(30, "no", yes=9, **{"prefer not to say": 3}) + \
        spread(22, "no", yes=8)
    lived[5], lived[40], lived[41], lived[60] = None, None, None, None
    frames = [staff("A", 25, lived=lived[:25]), staff("B", 30, lived=lived[25:55]),
              staff("C", 22, lived=lived[55:])]
    return build(root, [("1", "all.csv", pd.concat(frames))], waves=["1"])


def test_compare_two_groups_test_does_not_give_the_withheld_group(lived_groups, tmp_path):
    """``compare --group A --group B`` with A small: no Welch t, df or Hedges' g with its
    interval next to B (they give A's n, mean and SD), and everyone minus A minus B does not
    give the remaining group."""
    root = fresh(lived_groups, tmp_path)
    out = outputs.compare(root, "wf_lived_exp", groups=["Prefer not to say", "No"])
    att = attacker_of(root)
    read_compare(att, out.tables, "wf_lived_exp", column="lived", label=lived_label,
                 groups=["Prefer not to say", "No"])
    assert_nothing_recovered(att)
    doc = cli_json("compare", root, "--by", "wf_lived_exp", "--group", "Prefer not to say",
                   "--group", "No")
    read_compare_json(att, doc, column="lived", label=lived_label,
                      groups=["Prefer not to say", "No"], source="compare json")
    assert_nothing_recovered(att)


def test_compare_groups_then_compare_by(lived_groups, tmp_path):
    """``compare --group A --group B`` then ``compare --by``: read together."""
    root = fresh(lived_groups, tmp_path)
    att = attacker_of(root)
    first = outputs.compare(root, "wf_lived_exp", groups=["Yes", "No"])
    read_compare(att, first.tables, "wf_lived_exp", column="lived", label=lived_label,
                 groups=["Yes", "No"], source="compare --group Yes --group No")
    second = outputs.compare(root, "wf_lived_exp")
    read_compare(att, second.tables, "wf_lived_exp", column="lived", label=lived_label,
                 source="compare --by wf_lived_exp")
    assert_nothing_recovered(att)


def test_compare_by_counts_missing_answers_as_a_group(lived_groups, tmp_path):
    """``compare --by``: respondents with no answer are a group of their own (withheld like any
    small group), not a remainder everyone minus the shown groups gives."""
    root = fresh(lived_groups, tmp_path)
    out = outputs.compare(root, "wf_lived_exp")
    groups = out.tables["groups"]
    for scale in SCALES:
        labels = set(groups.loc[groups["scale"] == scale, "wf_lived_exp"].dropna())
        assert "not stated" in labels, labels
    att = attacker_of(root)
    read_compare(att, out.tables, "wf_lived_exp", column="lived", label=lived_label)
    assert_nothing_recovered(att)


# ----------------------------------------------------------------------------------------------
# benchmark: models, ranks, waves, late files, one organisation


@pytest.fixture(scope="module")
def six_orgs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("six") / "study"
    sizes = {"A": 5, "B": 7, "C": 12, "D": 15, "E": 20, "F": 30}
    frame = pd.concat([staff(o, n, seed=3) for o, n in sizes.items()])
    return build(root, [("1", "six.csv", frame)], waves=["1"])


def test_benchmark_json_model_uses_shown_organisations_only(six_orgs, tmp_path):
    """``benchmark --format json``: adjusted z, shrunken means and percentile ranks rest on the
    organisations whose means are shown (the count of ranked ones among them); nothing about
    the withheld ones follows."""
    root = fresh(six_orgs, tmp_path)
    doc = cli_json("benchmark", root)
    tables = tables_of(doc)
    assert not tables["fairness"].empty, "no model output: the scenario tests nothing"
    att = attacker_of(root)
    read_benchmark(att, tables, source="benchmark json")
    assert_nothing_recovered(att)


def test_benchmark_then_benchmark_one_organisation(six_orgs, tmp_path):
    """The full benchmark, then ``benchmark --org A``: read together."""
    root = fresh(six_orgs, tmp_path)
    att = attacker_of(root)
    read_benchmark(att, tables_of(cli_json("benchmark", root)), source="benchmark")
    read_benchmark(att, tables_of(cli_json("benchmark", root, "--org", "A")),
                   source="benchmark --org A")
    read_benchmark(att, tables_of(cli_json("benchmark", root, "--org", "C")),
                   source="benchmark --org C")
    assert_nothing_recovered(att)


def test_status_next_to_benchmark(six_orgs, tmp_path):
    """``status`` (through the gate) beside ``benchmark``: no stored-rows-per-file subtraction;
    ``status`` without ``--full`` names no file."""
    root = fresh(six_orgs, tmp_path)
    doc = cli_json("status", root)
    assert "six.csv" not in json.dumps(doc)
    tables = tables_of(doc)
    att = attacker_of(root)
    read_status(att, tables)
    read_benchmark(att, tables_of(cli_json("benchmark", root)), source="benchmark")
    assert_nothing_recovered(att)
    plain = cli("status", root).output
    assert "six.csv" not in plain
    api = status(open_study(root))
    assert "six.csv" not in json.dumps({k: v.astype(str).to_dict() for k, v in api.items()})
    full = cli("status", root, "--full").output
    assert "six.csv" in full  # the data manager's view is the only one that lists files


def test_change_between_waves_with_last_years_output(tmp_path):
    """Last year's benchmark, then this year's with the change between waves: an organisation
    whose wave cell is withheld does not get it back from its change and last year's value."""
    root = new_study(tmp_path / "study")
    w1 = pd.concat([staff("A", 12, wave="1"), staff("B", 7, wave="1"), staff("C", 20, wave="1"),
                    staff("D", 15, wave="1")])
    w2 = pd.concat([staff("A", 8, wave="2"), staff("B", 8, wave="2"), staff("C", 22, wave="2"),
                    staff("D", 15, wave="2")])
    ingest(root, w1, wave="1", name="wave1.csv")
    last_year = tables_of(cli_json("benchmark", root))
    ingest(root, w2, wave="2", name="wave2.csv")
    this_year = tables_of(cli_json("benchmark", root))
    att = attacker_of(root)
    read_benchmark(att, last_year, source="last year's benchmark")
    read_benchmark(att, this_year, source="this year's benchmark")
    assert_nothing_recovered(att)


def test_benchmark_before_and_after_a_late_file(tmp_path):
    """``benchmark`` before and after a late file (a new organisation of 8, and 3 more staff
    of B): neither the late organisation nor the late staff of B come back by subtraction."""
    root = new_study(tmp_path / "study", waves=["1"])
    ingest(root, pd.concat([staff("B", 12), staff("C", 20), staff("D", 25)]), wave="1",
           name="first.csv")
    before = outputs.benchmark(root)
    ingest(root, pd.concat([staff("A", 8), staff("B", 3, prefix="late-")]), wave="1",
           name="late.csv")
    after = outputs.benchmark(root)
    att = attacker_of(root)
    batches = sorted(att.truth["batch"].unique())
    assert len(batches) == 2
    read_benchmark(att, before.tables, source="benchmark before the late file",
                   extra={"batch": batches[0]})
    read_benchmark(att, after.tables, source="benchmark after the late file")
    for org in ("A", "B"):  # the late file's staff of each organisation
        late = Cell.of({"org": org, "batch": batches[1]})
        att.count(late, None, "late file", f"late staff of {org}")
        for scale in SCALES:
            att.moments(late.with_(scale), None, None, None, "late file")
    assert_nothing_recovered(att)


# ----------------------------------------------------------------------------------------------
# Two outputs: reports of organisations and the field


@pytest.fixture(scope="module")
def two_large(tmp_path_factory) -> Path:
    """A (7), B (35) and C (40): B and C get their own breakdowns (rest of the field too)."""
    root = tmp_path_factory.mktemp("two-large") / "study"
    frame = pd.concat([staff("A", 7, bands={"burnout": spread(7, "Moderate", High=1)},
                             lived=spread(7, "no", yes=2)),
                       staff("B", 35, seed=1), staff("C", 40, seed=2)])
    return build(root, [("1", "members.csv", frame)], waves=["1"])


def test_two_organisations_reports_with_the_field_report_in_sequence(two_large, tmp_path):
    """B's report (its rest-of-the-field bands), C's report, then the field report, each run
    on its own: read together they do not give A (7 staff)."""
    root = fresh(two_large, tmp_path)
    att = attacker_of(root)
    for target in ("B", "C", None):
        read_reports(att, reports(root, [target]), label="report run")
    assert_nothing_recovered(att)


def test_two_organisations_reports_with_the_field_report_together(two_large, tmp_path):
    root = fresh(two_large, tmp_path)
    att = attacker_of(root)
    read_reports(att, reports(root, [None, "B", "C"]))
    assert_nothing_recovered(att)


@pytest.fixture(scope="module")
def report_folders(two_large, tmp_path_factory) -> tuple[Path, list[Path]]:
    """``fieldsurvey report --all-orgs`` on a copy of the study: (study, report folders)."""
    root = fresh(two_large, tmp_path_factory.mktemp("bundles"))
    out = root.parent / "reports"
    cli("report", root, "--all-orgs", "--format", "html", "-o", out)
    return root, sorted(p for p in out.iterdir() if (p / "bundle").is_dir())


def test_report_bundles_say_nothing_about_small_cells(report_folders):
    """No suppression reason (primary / complementary / sensitive) in any bundle, and no input
    file name or per-file count in any manifest."""
    _, folders = report_folders
    assert {p.name for p in folders} == {"field", "org-A", "org-B", "org-C"}
    for folder in folders:
        for path in (folder / "bundle").rglob("*"):
            if path.suffix not in (".csv", ".json"):
                continue
            text = path.read_text()
            assert "suppression_reason" not in text, path
            assert "members.csv" not in text, path
            if path.suffix == ".csv":
                values = set(pd.read_csv(path, dtype=str).stack().str.strip().str.lower())
                assert not values & {"primary", "complementary", "sensitive"}, path
        manifest = json.loads((folder / "bundle" / "manifest.json").read_text())
        assert manifest.get("inputs"), "the manifest should still identify its inputs (hashes)"
        for entry in manifest["inputs"]:
            assert not {"file_name", "path", "name", "stored", "quarantined", "rows"} & set(
                entry), entry


def test_report_bundles_read_from_disk(report_folders):
    """The CSV tables of every bundle of one ``report --all-orgs``, as a reader gets them."""
    root, folders = report_folders
    att = attacker_of(root)
    for i, folder in enumerate(folders):  # one command: one release
        read_bundle(att, folder, f"bundle {folder.name}", same_release=i > 0)
    assert_nothing_recovered(att)


def test_reports_run_twice_release_the_same_tables(two_large, tmp_path):
    """The same reports run again on the same study reuse the ledger's decisions."""
    root = fresh(two_large, tmp_path)
    first = reports(root, [None, "A", "B"])
    second = reports(root, [None, "A", "B"])
    for org in first:
        for name, table in first[org].tables.items():
            pd.testing.assert_frame_equal(table, second[org].tables[name])


def test_organisation_sizes_known_to_members(small_orgs, tmp_path):
    """Members know roughly how big the other members are (which size band each is in, and
    that no member is in some band): the field report's staff by size band must not then give
    an organisation's count."""
    root = fresh(small_orgs, tmp_path)
    att = attacker_of(root, knows_sizes=True)
    read_reports(att, reports(root, [None, "A", "B", "C", "D"]))
    assert_nothing_recovered(att)


# ----------------------------------------------------------------------------------------------
# run-plan, zeros, minimum cell size, reliability




def test_run_plan_next_to_compare(tmp_path):
    """``compare`` withholds a small lived-experience group; ``run-plan`` on the same study
    does not print the size of the two groups it compares (which would give it back)."""
    frame = pd.concat([staff("A", 20, lived=spread(20, "no", yes=3)),
                       staff("B", 25, lived=spread(25, "no", yes=3)),
                       staff("C", 15, lived=spread(15, "no", yes=2))])
    root = build(tmp_path / "study", [("1", "all.csv", frame)], waves=["1"])
    (tmp_path / "plan.yaml").write_text(PLAN)
    plan = load_plan(tmp_path / "plan.yaml")
    att = attacker_of(root)
    out = outputs.compare(root, "wf_lived_exp")
    read_compare(att, out.tables, "wf_lived_exp", column="lived", label=lived_label)
    table = run_plan(root, plan, bootstrap_reps=100, seed=1)
    assert len(table) == 2
    read_run_plan(att, table, plan, group_columns={"wf_lived_exp": ("lived", {1: "yes", 2: "no"})},
                  orgs=["A", "B", "C"])
    assert_nothing_recovered(att)


@pytest.fixture(scope="module")
def zero_bands(tmp_path_factory) -> Path:
    """Nobody of B (12 staff) or C (40) is in the high burnout band; one of A (9) is."""
    frame = pd.concat([staff("A", 9, bands={"burnout": spread(9, "Moderate", High=1)}),
                       staff("B", 12, bands={"burnout": spread(12, "Moderate", Low=4)}),
                       staff("C", 40, bands={"burnout": spread(40, "Moderate", Low=15)})])
    return build(tmp_path_factory.mktemp("zeros") / "study", [("1", "all.csv", frame)],
                 waves=["1"])


def _zero_band_attack(root: Path) -> Any:
    att = attacker_of(root)
    bench = outputs.benchmark(root, bands=True, scales=["burnout"])
    shown = bench.tables["bands"]["n"].dropna().astype(int)
    assert (shown >= 10).all(), shown.tolist()
    read_benchmark(att, bench.tables, source="benchmark --bands")
    read_reports(att, reports(root, [None, "C"]))
    for org in ("B", "C"):
        att.count(Cell.of({"org": org, "wave": "1", "burnout_band": "High"}), None,
                  "zero cell", f"nobody high in {org}")
    return att


def test_zero_band_cells_are_protected(zero_bands, tmp_path):
    """``benchmark --bands`` then the field's and C's reports: a zero is as disclosive as a
    small count, so no zero is shown and none comes back."""
    att = _zero_band_attack(fresh(zero_bands, tmp_path))
    assert_nothing_recovered(att, only=["zero"])


def test_means_and_sds_do_not_narrow_withheld_band_counts(zero_bands, tmp_path):
    """The same outputs: a unit's mean and SD bound how many of its staff can be in each band
    (scores of a band lie in its range); with a shown band count that must not box a withheld
    band in below the protection interval. (Without the gate's moments check the attacker
    recovers the rest of the field's high compassion-satisfaction count within [1, 7].)"""
    att = _zero_band_attack(fresh(zero_bands, tmp_path))
    assert_nothing_recovered(att)


def test_categories_nobody_is_in_are_not_given_away_by_leaving_them_out(tmp_path):
    """Nobody in the field is a supervisor, a leader or in operations, and nobody has high
    secondary traumatic stress: a table that lists only the categories someone is in (and adds
    up to its total) says so. Zeros are protected like small counts. (Read without the moments
    the gate does not model: see the test below.)"""
    frame = pd.concat([staff(o, n, role=[1 + i % 3 for i in range(n)],
                             bands={"sts": spread(n, NOT_HIGH)}) for o, n in
                       (("A", 8), ("B", 14), ("C", 36))])
    root = build(tmp_path / "study", [("1", "all.csv", frame)], waves=["1"])
    att = attacker_of(root)
    read_reports(att, reports(root, [None, "C"]))
    read_benchmark(att, outputs.benchmark(root, bands=True, scales=["sts"]).tables,
                   source="benchmark --bands")
    out = outputs.compare(root, "wf_role")
    read_compare(att, out.tables, "wf_role", column="role", label=str)
    assert_nothing_recovered(att)


def test_min_cell_is_never_lowered(tmp_path, small_orgs):
    root = fresh(small_orgs, tmp_path)
    for command in (["compare", root, "--by", "wf_lived_exp", "--min-cell", "5"],
                    ["compare", root, "--by", "wf_lived_exp", "--min-cell", "4"],
                    ["benchmark", root, "--min-cell", "5"]):
        result = cli(*command, ok=False)
        assert result.exit_code == 2, (command, result.output)
        assert "Traceback" not in result.output
        assert "min" in result.output.lower()
    with pytest.raises(Exception, match="min"):
        outputs.compare(root, "wf_lived_exp", min_cell=5)
    refused = cli("init", tmp_path / "low", "-i", "proqol5", "--min-cell", "4", ok=False)
    assert refused.exit_code == 2 and not (tmp_path / "low" / "study.yaml").exists()
    five = build(tmp_path / "five", [("1", "s.csv", staff("A", 12))], min_cell=5, waves=["1"])
    below = cli("compare", five, "--by", "wf_lived_exp", "--min-cell", "4", ok=False)
    assert below.exit_code == 2 and "Traceback" not in below.output
    raised = tables_of(cli_json("benchmark", root, "--min-cell", "15"))
    assert raised["organisations"]["n_valid"].dropna().ge(15).all()


def test_reliability_of_four_people_is_not_shown(tmp_path, small_orgs):
    """``reliability`` has no way to lower the minimum, and shows nothing for four people."""
    truth_root = fresh(small_orgs, tmp_path)
    answers = staff("X", 4)
    path = tmp_path / "four.csv"
    answers.to_csv(path, index=False)
    lowered = cli("reliability", path, "-i", "proqol5", "--min-respondents", "3", ok=False)
    assert lowered.exit_code == 2
    lowered = cli("reliability", path, "-i", "proqol5", "--min-cell", "3", ok=False)
    assert lowered.exit_code == 2
    doc = cli_json("reliability", path, "-i", "proqol5")
    text = json.dumps(doc)
    for key in ("alpha", "omega", "mean"):
        for value in _numbers_under(doc, key):
            pytest.fail(f"{key} = {value} shown for four people: {text[:300]}")
    del truth_root


def _numbers_under(doc: Any, key: str) -> list[float]:
    found = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if key in str(k) and isinstance(v, (int, float)) and not isinstance(v, bool):
                found.append(v)
            else:
                found += _numbers_under(v, key)
    elif isinstance(doc, list):
        for v in doc:
            found += _numbers_under(v, key)
    return found


# ----------------------------------------------------------------------------------------------
# The attacker is not blind: leaky releases built by hand


@pytest.fixture(scope="module")
def leak_study(tmp_path_factory) -> Path:
    return small_org_study(tmp_path_factory.mktemp("leaks") / "study")


def _truth_attacker(root: Path) -> Attacker:
    return attacker_of(root)


def _moments(att: Attacker, cell: Cell) -> tuple[int, float, float]:
    values = att.truth.loc[cell.mask(att.truth), cell.measure].to_numpy(dtype=float)
    return len(values), float(values.mean()), float(values.std(ddof=1))


def test_attacker_recovers_a_band_from_its_sibling_and_total(leak_study):
    att = _truth_attacker(leak_study)
    a = {"org": "A", "wave": "1"}
    n = att.true_value(Cell.of(a, "burnout"), "count")
    high = att.true_value(Cell.of({**a, "burnout_band": "High"}), "count")
    low = att.true_value(Cell.of({**a, "burnout_band": "Low"}), "count")
    att.count(Cell.of(a, "burnout"), n, "leak: n with a score")
    att.count(Cell.of({**a, "burnout_band": "Low"}), low, "leak: shown band")
    att.count(Cell.of({**a, "burnout_band": "Moderate"}), n - high - low, "leak: shown band")
    att.count(Cell.of({**a, "burnout_band": "High"}), None, "leak: withheld band")
    problems = att.check()
    assert any("withheld band" in p and "[1, 1]" in p for p in problems), problems


def test_attacker_recovers_a_zero_and_a_shown_small_count(leak_study):
    att = _truth_attacker(leak_study)
    b = {"org": "B", "wave": "1"}
    att.count(Cell.of(b, "burnout"), 12, "leak: n")
    att.count(Cell.of({**b, "burnout_band": "Low"}), att.true_value(
        Cell.of({**b, "burnout_band": "Low"}), "count"), "leak: shown small band")
    att.count(Cell.of({**b, "burnout_band": "Moderate"}), att.true_value(
        Cell.of({**b, "burnout_band": "Moderate"}), "count"), "leak: shown band")
    att.count(Cell.of({**b, "burnout_band": "High"}), None, "leak: withheld zero")
    problems = att.check()
    assert any("withheld zero" in p and "[0, 0]" in p for p in problems), problems
    assert any("below 10" in p for p in problems), problems


def test_attacker_inverts_a_welch_test_beside_one_group(leak_study):
    """Group A withheld, group B shown, Welch t, df and Hedges' g with its interval shown:
    A's n, mean and SD come back exactly."""
    from fieldsurvey.compare import welch_two_groups

    att = _truth_attacker(leak_study)
    a, b = Cell.of({"lived": "yes"}, "burnout"), Cell.of({"lived": "no"}, "burnout")
    xa = att.truth.loc[a.mask(att.truth), "burnout"].to_numpy(float)
    xb = att.truth.loc[b.mask(att.truth), "burnout"].to_numpy(float)
    test = welch_two_groups(xa, xb)
    nb, mb, sb = _moments(att, b)
    att.moments(b, nb, mb, sb, "leak: group no")
    att.moments(a, None, None, None, "leak: group yes withheld")
    att.compared(Welch(a, b, {"t": test["statistic"], "df": test["df2"], "p": test["p"],
                              "g": test["effect"],
                              "g_ci": (test["effect_ci_low"], test["effect_ci_high"])},
                       "leak: test"))
    found = {(f.kind): f for f in att.solve() if f.cell == a}
    assert found["count"].int_range == (xa.size, xa.size)
    assert found["sum"].determined and found["sum"].low <= xa.sum() <= found["sum"].high
    assert found["sumsq"].determined
    assert any("leak: group yes withheld" in p for p in att.check())


def test_attacker_inverts_a_difference_with_the_rest_of_the_field(leak_study):
    """A withheld, its difference with the rest of the field (interval, t, df, p, standardised
    difference) shown beside the field: A comes back."""
    from fieldsurvey.compare import benchmark_organisations

    att = _truth_attacker(leak_study)
    data = att.truth.assign(org=att.truth["org"])
    bench = benchmark_organisations(data, ["burnout"], min_cell=10)
    row = bench[bench["org"] == "A"].iloc[0]
    field = Cell.of({"wave": "1"}, "burnout")
    n, m, s = _moments(att, field)
    att.moments(field, n, m, s, "leak: field")
    a = Cell.of({"org": "A", "wave": "1"}, "burnout")
    att.moments(a, None, None, None, "leak: A withheld")
    att.bound(a, 0, 14, "A is a small member")  # else the sizes could be the other way round
    att.compared(Welch(a, Cell.of({"org": Not("A"), "wave": "1"}, "burnout"),
                       {"diff": row["diff"], "t": row["t"], "df": row["df"], "p": row["p"],
                        "diff_ci": (row["diff_ci_low"], row["diff_ci_high"]),
                        "std_diff": row["std_diff"]}, "leak: difference", union=field))
    found = {f.kind: f for f in att.solve() if f.cell == a}
    assert found["count"].int_range == (7, 7)
    assert found["sum"].determined


def test_attacker_inverts_a_change_with_last_years_wave(leak_study):
    """Wave 2 withheld; wave 1 (last year's output) and the change with its interval and p
    shown: wave 2 comes back."""
    att = _truth_attacker(leak_study)
    rng = np.random.default_rng(1)
    # Pretend half of D answered in a second wave: cells on the same truth, by row position.
    truth = att.truth.copy()
    d = truth.index[truth["org"] == "D"]
    truth.loc[d[:18], "wave"] = "2"
    att.truth = truth
    now, prev = Cell.of({"org": "D", "wave": "2"}, "burnout"), Cell.of(
        {"org": "D", "wave": "1"}, "burnout")
    n1, m1, s1 = _moments(att, prev)
    n2, m2, s2 = _moments(att, now)
    a, b = s2**2 / n2, s1**2 / n1
    df = (a + b) ** 2 / (a * a / (n2 - 1) + b * b / (n1 - 1))
    from scipy import stats
    half = stats.t.ppf(0.975, df) * math.sqrt(a + b)
    change = m2 - m1
    att.moments(prev, n1, m1, s1, "leak: last year")
    att.moments(now, None, None, None, "leak: this year withheld")
    att.compared(Welch(now, prev, {"diff": change, "diff_ci": (change - half, change + half),
                                   "p": 2 * stats.t.sf(abs(change / math.sqrt(a + b)), df)},
                       "leak: change"))
    del rng
    found = {f.kind: f for f in att.solve() if f.cell == now}
    assert found["count"].int_range == (n2, n2)
    assert found["sum"].determined


def test_attacker_reads_a_denominator_from_a_share(leak_study):
    att = _truth_attacker(leak_study)
    a = Cell.of({"org": "A", "wave": "1"}, "burnout")
    low = Cell.of({"org": "A", "wave": "1", "burnout_band": "Moderate"})
    k = att.true_value(low, "count")
    n = att.true_value(a, "count")
    att.count(low, k, "leak: band count")
    att.share(low, a, 100 * k / n, "leak: band share")
    att.count(a, None, "leak: scored count withheld")
    assert any("scored count withheld" in p and f"[{int(n)}, {int(n)}]" in p for p in att.check())


def test_attacker_flags_models_and_ranks_over_withheld_organisations(six_orgs):
    """Ranks and funnel z-scores computed over every organisation (withheld ones included)
    are caught: the count of ranked organisations, the ranks and the z-scores do not fit the
    organisations shown."""
    from fieldsurvey.compare import benchmark_organisations, funnel_limits

    att = attacker_of(six_orgs)
    data = att.truth
    bench = benchmark_organisations(data, ["burnout"], min_cell=5)
    funnel = funnel_limits(data, ["burnout"]).set_index("org")
    orgs = bench[bench["org"].notna()].copy()
    shown = orgs["n_valid"] >= 10
    orgs.loc[~shown, ["n_valid", "mean", "sd"]] = np.nan
    organisations = orgs[["org", "scale", "n_valid", "mean", "sd"]].assign(wave="1")
    fairness = orgs[shown][["org", "scale", "percentile_rank", "n_ranked"]].assign(
        wave="1", z_adjusted=[funnel.at[o, "z_adjusted"] for o in orgs[shown]["org"]])
    field = Cell.of({"wave": "1"}, "burnout")
    n, m, s = _moments(att, field)
    read_benchmark(att, {"field": pd.DataFrame([{"wave": "1", "scale": "burnout", "n_valid": n,
                                                 "mean": m, "sd": s}]),
                         "organisations": organisations, "fairness": fairness},
                   source="leak: models over all")
    problems = att.check()
    assert any("ranked" in p for p in problems), problems
    assert any("funnel" in p for p in problems), problems


def test_attacker_reads_an_organisations_n_from_its_funnel_limits(leak_study):
    att = _truth_attacker(leak_study)
    a = Cell.of({"org": "A", "wave": "1"}, "burnout")
    n = att.true_value(a, "count")
    target, sigma, tau2 = 25.0, 5.5, 0.7
    spread_ = math.sqrt(sigma**2 / n + tau2)
    lower = target - 1.959963984540054 * spread_
    row = {"org": "A", "wave": "1", "burnout_funnel_target": target,
           "burnout_funnel_sigma": sigma, "burnout_funnel_tau2": tau2,
           "burnout_funnel_lower95": lower, "burnout_diff": np.nan}
    read_report(att, {"position": pd.DataFrame([row])}, ["burnout"], source="leak")
    att.count(a, None, "leak: A's n withheld")
    assert any("A's n withheld" in p and f"[{int(n)}, {int(n)}]" in p for p in att.check())


def test_attacker_subtracts_a_late_file(tmp_path):
    root = new_study(tmp_path / "study", waves=["1"])
    ingest(root, pd.concat([staff("B", 12), staff("C", 20)]), wave="1", name="first.csv")
    ingest(root, staff("B", 3, prefix="late-"), wave="1", name="late.csv")
    att = attacker_of(root)
    first, late = sorted(att.truth["batch"].unique())
    for cond in ({"batch": first}, {}):
        cell = Cell.of({"org": "B", **cond}, "burnout")
        att.moments(cell, *_moments(att, cell), "leak: B before/after")
    cell = Cell.of({"org": "B", "batch": late}, "burnout")
    att.moments(cell, None, None, None, "leak: late staff of B")
    assert any("late staff of B" in p for p in att.check())


def test_attacker_reads_a_group_from_a_plans_n(leak_study):
    """A plan's two-group test kept every organisation: its n with the "no" group shown gives
    the "yes" group; with only some organisations kept the attacker tries every such set."""
    att = _truth_attacker(leak_study)
    orgs = ["A", "B", "C", "D"]
    both = Cell.of({"org": AnyOf(frozenset(orgs)), "lived": AnyOf(frozenset({"yes", "no"}))},
                   "burnout")
    no = Cell.of({"lived": "no"}, "burnout")
    att.count(no, att.true_value(no, "count"), "leak: no group")
    yes = Cell.of({"lived": "yes"}, "burnout")
    att.count(yes, None, "leak: yes group withheld")

    class _Test:
        id, variable = "H1a", "burnout"

        class groups:  # noqa: N801 - shaped like a plan test's groups
            column, first, second = "wf_lived_exp", 1, 2

    plan = type("Plan", (), {"hypotheses": [type("H", (), {"tests": [_Test]})]})
    table = pd.DataFrame([{"test": "H1a", "n": att.true_value(both, "count"), "n_orgs": 4}])
    read_run_plan(att, table, plan, group_columns={"wf_lived_exp": ("lived", {1: "yes",
                                                                              2: "no"})},
                  orgs=orgs)
    assert any("yes group withheld" in p and "DETERMINED" in p for p in att.check())


def test_two_group_inversion_recovers_sizes_from_g_and_df_alone():
    """Only t, df and Hedges' g with its interval (no group known): the sizes come back."""
    from fieldsurvey.compare import welch_two_groups

    rng = np.random.default_rng(5)
    xa, xb = rng.normal(20, 4, 6), rng.normal(24, 6, 31)
    res = welch_two_groups(xa, xb)
    from attacker import Known

    sols = two_group_solutions({"t": res["statistic"], "df": res["df2"], "g": res["effect"],
                                "g_ci": (res["effect_ci_low"], res["effect_ci_high"])},
                               Known(0, 40), Known(0, 40), Known(37, 37))
    pairs = {(s["n_a"], s["n_b"]) for s in sols}
    assert (6, 31) in pairs and pairs <= {(6, 31), (31, 6)}, pairs


def test_reliability_of_a_study_folder_goes_through_its_ledger(tmp_path, small_orgs):
    """``reliability STUDY`` reads the stored responses and is recorded in the study's ledger,
    so it is judged with every other output of the study."""
    from fieldsurvey.disclosure.ledger import Ledger
    from fieldsurvey.store import open_study

    root = fresh(small_orgs, tmp_path)
    before = len(Ledger.for_study(open_study(root)).releases())
    doc = cli_json("reliability", root, "-i", "proqol5")
    assert {s["scale"] for s in doc["scales"]} >= {"burnout", "sts"}
    assert all(s["n"] is None or s["n"] >= 10 for s in doc["scales"])
    assert len(Ledger.for_study(open_study(root)).releases()) == before + 1
