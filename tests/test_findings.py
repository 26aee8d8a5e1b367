"""Findings files: parsing printed values, validation messages, the shipped file, the CLI."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.reproduce import (
    FindingsError,
    PublishedValueError,
    ScaleRef,
    check_findings,
    findings_from_dict,
    load_findings,
    parse_published_value,
)
from fieldsurvey.resources import data_dir

REPO = Path(__file__).resolve().parents[1]
DOMAIN = REPO.parent / "shared" / "docs" / "domain.md"
SHIPPED = data_dir("analysis") / "field-findings.yaml"

# ---------------------------------------------------------------- printed values


def test_parse_percent_keeps_precision():
    v = parse_published_value("38%")
    assert (v.kind, v.percent.value, v.percent.decimals) == ("percent", 38.0, 0)
    v = parse_published_value("36.6 %")
    assert (v.percent.value, v.percent.decimals) == (36.6, 1)
    assert float(v.percent.low) == pytest.approx(36.55)


def test_parse_none_and_all():
    assert parse_published_value("none").percent.value == 0.0
    assert parse_published_value("All").percent.value == 100.0


def test_parse_descriptives():
    v = parse_published_value("M = 27.3, SD = 6.1, n = 41")
    assert v.kind == "descriptives"
    assert (v.mean.value, v.mean.decimals, v.sd.value, v.sd.decimals, v.n) == (
        27.3,
        1,
        6.1,
        1,
        41,
    )
    v = parse_published_value("mean = 3.10 (SD = 0.84)")
    assert (v.mean.text, v.sd.text, v.n) == ("3.10", "0.84", None)


@pytest.mark.parametrize(
    ("printed", "test", "df", "stat", "decimals", "p"),
    [
        ("t(28) = 2.20, p = .04", "t", (28.0,), 2.20, 2, ("=", 0.04)),
        ("t(27.4) = −2.2, p < .05", "t", (27.4,), -2.2, 1, ("<", 0.05)),
        ("r(87) = .31", "r", (87.0,), 0.31, 2, None),
        ("F(2, 40) = 3.1", "F", (2.0, 40.0), 3.1, 1, None),
        ("chi2(1, N = 90) = 4.2", "chi2", (1.0,), 4.2, 1, None),
        ("χ²(1) = 4.20, p ≤ .05", "chi2", (1.0,), 4.2, 2, ("<=", 0.05)),
        ("z = 1.96, p = .05", "z", (), 1.96, 2, ("=", 0.05)),
    ],
)
def test_parse_tests(printed, test, df, stat, decimals, p):
    v = parse_published_value(printed)
    assert (v.kind, v.test, v.df, v.statistic.value, v.statistic.decimals) == (
        "test",
        test,
        df,
        stat,
        decimals,
    )
    assert (None if v.p is None else (v.p.comparator, v.p.bound.value)) == p


def test_parse_chi2_keeps_n():
    assert parse_published_value("chi2(1, N = 90) = 4.2").n == 90


@pytest.mark.parametrize(
    ("printed", "message"),
    [
        ("", "a published value must be non-empty text, e.g. '38%'"),
        ("about a third", "'about a third': not a value fieldsurvey can read"),
        ("t = 2.2", "'t = 2.2': a t test takes one df, e.g. t(28)"),
        ("F(2) = 3.1", "'F(2) = 3.1': a F test takes two df, e.g. F(2, 40)"),
        ("t(28) = 2.2, p = 1.5", "'t(28) = 2.2, p = 1.5': p = 1.5 lies outside 0..1"),
        ("M = 3.1, n = 4.5", "'M = 3.1, n = 4.5': n must be a positive whole number"),
        ("n = 40", "'n = 40': descriptives need at least M = ... or SD = ..."),
        ("t(28) 2.2", "'t(28) 2.2': cannot read this test result"),
    ],
)
def test_parse_errors_say_what_is_wrong(printed, message):
    with pytest.raises(PublishedValueError) as err:
        parse_published_value(printed)
    assert str(err.value).startswith(message)


# ---------------------------------------------------------------- validation messages

VALID = {
    "title": "Test findings",
    "findings": [
        {
            "id": "doe-2020-burnout",
            "citation": "Doe (2020). Journal of Tests, 1, 1-10.",
            "statement": "38% of advocates had high burnout.",
            "population": {"description": "advocates", "n": 41},
            "values": [{"printed": "38%"}],
            "recipe": {
                "statistic": "proportion_in_band",
                "scale": "proqol5.burnout",
                "band": "High",
                "filters": {"role": ["advocate", "counsellor"]},
                "groups": "lived_experience",
            },
        },
        {
            "id": "doe-2020-mean",
            "citation": "Doe (2020). Journal of Tests, 1, 1-10.",
            "statement": "Mean burnout was 27.3.",
            "population": {"description": "advocates"},
            "values": ["M = 27.3, SD = 6.1, n = 41"],
            "recipe": {"statistic": "mean", "instrument": "proqol5", "scale": "burnout"},
        },
        {
            "id": "maier-2023-sts",
            "citation": "Maier (2023). Violence Against Women.",
            "statement": "81% experience STS.",
            "population": {"description": "rape victim advocates"},
            "values": [{"printed": "81%"}],
            "recipe": {"statistic": "mean", "scale": "proqol5.sts"},
        },
    ],
}


def _errors(mutate) -> list[str]:
    raw = copy.deepcopy(VALID)
    mutate(raw)
    with pytest.raises(FindingsError) as err:
        findings_from_dict(raw, filename="field-findings.yaml")
    return err.value.problems


def test_valid_file_builds_recipes():
    ff = findings_from_dict(VALID, filename="x.yaml")
    first = ff.finding("doe-2020-burnout")
    assert first.recipe.scale == ScaleRef("proqol5", "burnout")
    assert first.recipe.filters == {"role": ("advocate", "counsellor")}
    assert first.recipe.groups == ("lived_experience",)
    assert first.recipe.computable == "exact"
    assert first.recipe.study_columns == ("role", "lived_experience")
    assert first.recipe.scales == (ScaleRef("proqol5", "burnout"),)
    second = ff.finding("doe-2020-mean")
    assert str(second.recipe.scale) == "proqol5.burnout"
    assert second.values[0].n == 41


def test_unknown_statistic_names_file_finding_and_field():
    def mutate(raw):
        raw["findings"][2]["recipe"]["statistic"] = "median2"

    assert _errors(mutate) == [
        "field-findings.yaml: findings[2] (maier-2023-sts).recipe.statistic: unknown statistic "
        "'median2' (expected one of proportion_in_band, proportion_above_cut, "
        "proportion_below_cut, mean, sd, correlation, group_difference, test)"
    ]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda r: r["findings"][0].pop("citation"),
            "field-findings.yaml: findings[0] (doe-2020-burnout).citation: is required and must "
            "be non-empty text",
        ),
        (
            lambda r: r["findings"][0]["values"][0].update(printed="about a third"),
            "field-findings.yaml: findings[0] (doe-2020-burnout).values[0].printed: "
            "'about a third': not a value fieldsurvey can read",
        ),
        (
            lambda r: r["findings"][0]["values"][0].update(printed=0.38),
            "field-findings.yaml: findings[0] (doe-2020-burnout).values[0].printed: must be the "
            'value as printed, in quotes, e.g. "38%" (got 0.38)',
        ),
        (
            lambda r: r["findings"][1].update(id="doe-2020-burnout"),
            "field-findings.yaml: findings[1] (doe-2020-burnout).id: duplicate finding id "
            "'doe-2020-burnout'",
        ),
        (
            lambda r: r["findings"][0].update(sample=3),
            "field-findings.yaml: findings[0] (doe-2020-burnout).sample: unknown key (expected "
            "one of id, citation, statement, population, values, recipe, notes)",
        ),
        (
            lambda r: r["findings"][0]["recipe"].pop("band"),
            "field-findings.yaml: findings[0] (doe-2020-burnout).recipe.band: is required for "
            "statistic 'proportion_in_band' (or set computable: no with a computable_note)",
        ),
        (
            lambda r: r["findings"][0]["recipe"].update(computable="assumed"),
            "field-findings.yaml: findings[0] (doe-2020-burnout).recipe.computable_note: is "
            "required when computable is 'assumed': say what is assumed or missing",
        ),
        (
            lambda r: r["findings"][0]["recipe"].update(computable="maybe"),
            "field-findings.yaml: findings[0] (doe-2020-burnout).recipe.computable: must be one "
            "of exact, assumed, no (got 'maybe')",
        ),
        (
            lambda r: r["findings"][1]["recipe"].update(scale="proqol5.burnout"),
            "field-findings.yaml: findings[1] (doe-2020-mean).recipe.scale: give either "
            "'instrument' or a dotted scale, not both (got 'proqol5.burnout')",
        ),
        (
            lambda r: r["findings"][0]["recipe"].update(scale="a.b.c"),
            "field-findings.yaml: findings[0] (doe-2020-burnout).recipe.scale: must be "
            "'instrument.scale' or 'scale' (got 'a.b.c')",
        ),
        (
            lambda r: r["findings"][1]["values"].__setitem__(
                0, {"printed": "M = 27.3, n = 41", "n": 40}
            ),
            "field-findings.yaml: findings[1] (doe-2020-mean).values[0].n: is 40 but the "
            "printed value says n = 41",
        ),
        (
            lambda r: r["findings"][0]["values"][0].update(tails=3),
            "field-findings.yaml: findings[0] (doe-2020-burnout).values[0].tails: must be 1 or 2 "
            "(got 3)",
        ),
        (
            lambda r: r["findings"][0]["values"][0].update(range=[50, 10]),
            "field-findings.yaml: findings[0] (doe-2020-burnout).values[0].range: must be "
            "[lowest, highest] possible score, lowest first (got [50, 10])",
        ),
        (
            lambda r: r["findings"][0]["population"].update(n=0),
            "field-findings.yaml: findings[0] (doe-2020-burnout).population.n: must be a whole "
            "number of at least 1 (got 0)",
        ),
        (
            lambda r: r["findings"][0]["recipe"].update(filters={"role": [["a"]]}),
            "field-findings.yaml: findings[0] (doe-2020-burnout).recipe.filters.role: must be a "
            "value or a list of values (got [['a']])",
        ),
        (
            lambda r: r["findings"][0]["recipe"].update(statistic="test", test="kruskal"),
            "field-findings.yaml: findings[0] (doe-2020-burnout).recipe.test: unknown test "
            "'kruskal' (expected one of t, welch_t, anova, chi2, pearson, spearman, regression)",
        ),
        (
            lambda r: r["findings"][0]["recipe"].update(statistic="test", test="pearson"),
            "field-findings.yaml: findings[0] (doe-2020-burnout).recipe.with: is required for "
            "test 'pearson' (or set computable: no with a computable_note)",
        ),
        (
            lambda r: r["findings"][0].update(id="has space"),
            "field-findings.yaml: findings[0].id: must be a short name of letters, digits, '-', "
            "'_' (got 'has space')",
        ),
        (
            lambda r: r.pop("findings"),
            "field-findings.yaml: findings: is required: a non-empty list of findings",
        ),
    ],
)
def test_each_validation_error_message(mutate, expected):
    problems = _errors(mutate)
    assert any(p.startswith(expected) for p in problems), problems


def test_all_problems_are_reported_together():
    def mutate(raw):
        raw["findings"][0]["recipe"]["statistic"] = "median2"
        raw["findings"][1].pop("statement")

    problems = _errors(mutate)
    assert len(problems) == 2


def test_computable_no_needs_only_the_statistic_and_a_note():
    raw = copy.deepcopy(VALID)
    raw["findings"][0]["recipe"] = {
        "statistic": "proportion_in_band",
        "computable": "no",
        "computable_note": "cut definition not stated",
    }
    ff = findings_from_dict(raw)
    assert ff.findings[0].recipe.computable_note == "cut definition not stated"


def test_load_findings_reports_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("findings: [\n", encoding="utf-8")
    with pytest.raises(FindingsError, match=r"^bad\.yaml: not valid YAML"):
        load_findings(bad)
    with pytest.raises(FindingsError, match=r"^missing\.yaml: cannot read file"):
        load_findings(tmp_path / "missing.yaml")
    top = tmp_path / "top.yaml"
    top.write_text("- a\n", encoding="utf-8")
    with pytest.raises(FindingsError) as err:
        load_findings(top)
    assert err.value.problems == [
        "top.yaml: (top level): must be a mapping with 'title' and 'findings'"
    ]


# ---------------------------------------------------------------- the shipped findings file


def _domain_sources() -> list[tuple[str, str, str]]:
    """(first author, year, bullet text) for each source in domain.md's published figures."""
    if not DOMAIN.is_file():
        pytest.skip(f"{DOMAIN} not present")
    text = DOMAIN.read_text(encoding="utf-8")
    section = text.split("## Published field figures", 1)[1].split("\n## ", 1)[0]
    bullets = re.split(r"\n- ", "\n" + section.split("\n", 1)[1].strip())
    sources = []
    for bullet in (b.replace("\n", " ").strip() for b in bullets if b.strip()):
        m = re.match(r"(.+?) \((\d{4}(?:-\d{4})?)\)", bullet)
        assert m, bullet
        sources.append((m.group(1).split(" et al.")[0].strip(), m.group(2), bullet))
    return sources


def test_shipped_findings_file_loads():
    ff = load_findings(SHIPPED)
    assert len(ff.findings) == 11
    assert {f.recipe.computable for f in ff.findings} <= {"exact", "assumed", "no"}


def test_every_shipped_citation_matches_a_source_in_domain_md():
    sources = _domain_sources()
    ff = load_findings(SHIPPED)
    used = set()
    for finding in ff.findings:
        match = [
            s
            for s in sources
            if finding.citation.startswith(f"{s[0]}") and s[1] in finding.citation
        ]
        assert len(match) == 1, (finding.id, finding.citation)
        used.add(match[0][0])
        bullet = match[0][2]
        for value in finding.values:
            # Never an invented figure: each printed value appears in the source's line.
            assert value.printed in bullet, (finding.id, value.printed)
        if finding.population.n is not None:
            assert f"{finding.population.n:,}" in bullet, (finding.id, finding.population.n)
    # Every source listed in domain.md is represented.
    assert used == {s[0] for s in sources}


def test_shipped_unclear_definitions_say_so():
    ff = load_findings(SHIPPED)
    for fid in (
        "hiroyama-2025-compassion-fatigue",
        "hiroyama-2025-burnout",
        "hiroyama-2025-compassion-satisfaction",
    ):
        finding = ff.finding(fid)
        assert finding.recipe.computable == "no"
        assert "Cut definition not stated" in finding.recipe.computable_note
        assert "Cut definition not stated" in finding.notes


def test_shipped_values_are_consistent_or_not_checkable():
    out = check_findings(load_findings(SHIPPED))
    assert "inconsistent" not in set(out["verdict"])
    hiroyama = out[(out["finding_id"] == "hiroyama-2025-burnout") & (out["check"] == "percent_n")]
    assert hiroyama["expected"].tolist() == ["162/250 = 64.80%"]


# ---------------------------------------------------------------- CLI


def _write(tmp_path, raw) -> Path:

    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_cli_table_exits_zero_even_with_inconsistencies(tmp_path):
    path = _write(tmp_path, VALID)
    result = CliRunner().invoke(main, ["check-findings", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 inconsistent" in result.output
    assert "38%" in result.output


def test_cli_strict_exits_one_on_inconsistency(tmp_path):
    path = _write(tmp_path, VALID)
    result = CliRunner().invoke(main, ["check-findings", str(path), "--strict"])
    assert result.exit_code == 1
    shipped = CliRunner().invoke(main, ["check-findings", str(SHIPPED), "--strict"])
    assert shipped.exit_code == 0, shipped.output


def test_cli_json_lists_every_check(tmp_path):
    path = _write(tmp_path, VALID)
    result = CliRunner().invoke(main, ["check-findings", str(path), "--format", "json"])
    assert result.exit_code == 0
    payload = json.loads(result.output)
    assert payload["summary"]["inconsistent"] == 1
    row = next(r for r in payload["checks"] if r["verdict"] == "inconsistent")
    assert row["finding_id"] == "doe-2020-burnout"
    assert row["expected"] == "37% or 39%"


def test_cli_invalid_file_exits_two_with_message(tmp_path):
    raw = copy.deepcopy(VALID)
    raw["findings"][2]["recipe"]["statistic"] = "median2"
    path = _write(tmp_path, raw)
    result = CliRunner().invoke(main, ["check-findings", str(path)])
    assert result.exit_code == 2
    assert (
        "mine.yaml: findings[2] (maier-2023-sts).recipe.statistic: unknown statistic 'median2'"
        in result.output
    )


def test_the_documented_example_loads_and_checks():
    text = (REPO / "docs" / "findings-format.md").read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]

    ff = findings_from_dict(yaml.safe_load(example), filename="findings-format.md")
    out = check_findings(ff).set_index(["value", "check"])
    assert out.loc[("38%", "percent_n"), "verdict"] == "inconsistent"
    assert out.loc[("M = 27.3, SD = 6.1", "grimmer"), "verdict"] in ("consistent", "not_checkable")
    assert out.loc[("t(39) = 2.20, p = .03", "p_value"), "verdict"] == "consistent"
