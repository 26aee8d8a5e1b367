"""`fieldsurvey report` on a small synthetic study: sections, bundle, reproducibility, outputs.

One study (8 organisations, 2 waves) and one CLI run (field-wide + one organisation, HTML, PDF
and DOCX) are shared by the module to keep it fast.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

from fieldsurvey.analyse import load_study_data
from fieldsurvey.cli.report_cmd import report_cmd
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.ingest.profiles import ingest_profiles
from fieldsurvey.report.build import make_bundle
from fieldsurvey.report.bundle import file_sha256, read_manifest
from fieldsurvey.report.content import SECTION_HEADINGS
from fieldsurvey.store import init_study, open_study
from fieldsurvey.synthetic import generate_coalition
from report_checks import (
    browser_probe,
    browser_screenshot,
    chromium_path,
    docx_facts,
    docx_text,
    html_facts,
    html_text,
    image_spread,
    pdf_text,
)

INSTRUMENTS = ["workforce-context", "proqol5", "cbi", "stss", "structural-conditions"]
EPOCH = "1772323200"  # 2026-03-01


def make_study(root: Path, n_orgs: int = 8, seed: int = 3, profiles: bool = False) -> Path:
    study = init_study(root / "study", INSTRUMENTS, org_column="wf_org", waves=["1", "2"])
    coalition = generate_coalition(n_orgs=n_orgs, seed=seed, waves=2)
    responses = coalition.responses
    for wave in ("1", "2"):
        path = root / f"wave{wave}.csv"
        rows = responses[responses["wave"].astype(str) == wave]
        rows.drop(columns=["org", "wave"]).to_csv(path, index=False)
        ingest_file(study, path, wave=wave)
        if profiles:  # organisation profiles too (the reports' organisation sections)
            part = coalition.profiles[coalition.profiles["wave"].astype(str) == wave]
            part.to_csv(root / f"profiles{wave}.csv", index=False)
            ingest_profiles(study, root / f"profiles{wave}.csv", wave=wave)
    return study.root


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("content")
    study = make_study(root)
    out = root / "reports"
    runner = CliRunner()
    result = runner.invoke(
        report_cmd,
        [
            str(study),
            "--org",
            "O01",
            "--format",
            "html,pdf,docx",
            "--engine",
            "pandoc",
            "-o",
            str(out),
        ],
        env={"SOURCE_DATE_EPOCH": EPOCH},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return {"study": study, "out": out, "output": result.output}


def test_cli_prints_every_report_path(reports):
    out = reports["out"]
    for fmt in ("html", "pdf", "docx"):
        assert f"field-wide {fmt}: {out / 'field' / ('report.' + fmt)}" in reports["output"]
        assert f"O01 {fmt}: {out / 'org-O01' / ('report.' + fmt)}" in reports["output"]


def test_field_report_has_every_section_in_html_pdf_and_docx(reports):
    folder = reports["out"] / "field"
    html = html_facts(folder / "report.html")
    text = pdf_text(folder / "report.pdf")
    docx = docx_facts(folder / "report.docx")
    for heading in SECTION_HEADINGS:
        assert heading in html.headings
        assert heading in text
        assert heading in docx["headings"]
    assert all(img["alt"].strip() for img in html.images)
    assert len(html.images) >= 7  # a distribution per wellbeing scale at least


def test_organisation_report_compares_with_the_field_and_names_no_other_organisation(reports):
    folder = reports["out"] / "org-O01"
    html = html_facts(folder / "report.html")
    assert "Against the field" in html.headings
    assert "Place on the funnel plot" in html.headings
    text = html_text(folder / "report.html")
    others = [f"O{i:02d}" for i in range(2, 9)]
    assert not [o for o in others if re.search(rf"\b{o}\b", text)]
    assert "O01" in text


def test_summary_sentences_are_written_from_gated_numbers(reports):
    bundle = reports["out"] / "field" / "bundle"
    summary = json.loads((bundle / "tables" / "summary.json").read_text())
    assert summary["org"] is None
    assert any("burnout" in s.lower() for s in summary["sentences"])
    qmd = (reports["out"] / "field" / "report.qmd").read_text()
    for sentence in summary["sentences"]:
        assert sentence in qmd


def test_manifest_lists_every_file_with_its_sha256_and_the_inputs(reports):
    bundle = reports["out"] / "org-O01" / "bundle"
    manifest = read_manifest(bundle)
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    on_disk = {
        p.relative_to(bundle).as_posix()
        for p in bundle.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert set(listed) == on_disk
    for path, sha in listed.items():
        assert file_sha256(bundle / path) == sha
    # Inputs by hash only: file names and per-file counts would say who sent how many.
    assert [sorted(i) for i in manifest["inputs"]] == [["sha256", "wave"]] * 2
    assert [i["sha256"] for i in manifest["inputs"]] == [
        file_sha256(reports["study"].parent / f"wave{w}.csv") for w in (1, 2)]
    text = (bundle / "manifest.json").read_text()
    assert "wave1.csv" not in text and "stored" not in text and "suppression_reason" not in text
    assert manifest["study"] == reports["study"].resolve().as_posix()
    assert manifest["command"].startswith("fieldsurvey report")
    assert manifest["packages"]["pandas"]
    assert manifest["settings"]["study"]["min_cell"] == 10
    assert manifest["report"] == {"org": "O01", "wave": "2"}


def test_same_inputs_give_a_byte_identical_bundle(reports, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    original = reports["out"] / "org-O01" / "bundle"
    manifest = read_manifest(original)
    data = load_study_data(open_study(reports["study"]))
    make_bundle(data, "O01", tmp_path / "again", command=manifest["command"])
    again = tmp_path / "again" / "bundle"
    files = sorted(p.relative_to(original) for p in original.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (original / rel).read_bytes() == (again / rel).read_bytes(), rel
    qmd = (reports["out"] / "org-O01" / "report.qmd").read_text()
    assert qmd == (tmp_path / "again" / "report.qmd").read_text()
    assert "2026-03-01" in qmd


def test_pdf_pages_are_not_blank(reports, tmp_path):
    pdf = reports["out"] / "field" / "report.pdf"
    subprocess.run(
        ["pdftoppm", "-r", "30", "-f", "1", "-l", "2", "-png", str(pdf), str(tmp_path / "p")],
        check=True,
    )
    pages = sorted(tmp_path.glob("p*.png"))
    assert len(pages) == 2
    assert all(image_spread(p) > 5 for p in pages)


@pytest.mark.skipif(chromium_path() is None, reason="chromium not installed")
def test_organisation_report_in_headless_chromium(reports, tmp_path):
    html = reports["out"] / "org-O01" / "report.html"
    facts = browser_probe(html, tmp_path)
    figures = list((reports["out"] / "org-O01" / "bundle" / "figures").glob("*.png"))
    # O01 (9 and 12 staff) has its own results withheld: every figure it has is drawn.
    assert facts["images"] == len(figures)
    assert facts["broken"] == []
    assert facts["without_alt"] == 0
    assert facts["errors"] == []
    assert facts["console"] == []
    shot = browser_screenshot(html, tmp_path / "shot.png", tmp_path)
    assert image_spread(shot) > 20


def test_unknown_organisation_is_a_clear_error(reports, tmp_path):
    result = CliRunner().invoke(
        report_cmd,
        [str(reports["study"]), "--org", "NOPE", "--format", "html", "-o", str(tmp_path)],
    )
    assert result.exit_code != 0
    assert "NOPE" in result.output and "O01" in result.output


def test_all_orgs_writes_the_field_report_and_one_per_organisation(reports, tmp_path):
    result = CliRunner().invoke(
        report_cmd,
        [
            str(reports["study"]),
            "--all-orgs",
            "-j",
            "2",
            "--format",
            "html",
            "--engine",
            "pandoc",
            "-o",
            str(tmp_path),
        ],
        env={"SOURCE_DATE_EPOCH": EPOCH},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    organisations = load_study_data(open_study(reports["study"])).organisations
    assert len(organisations) == 8
    for org in organisations:
        html = tmp_path / f"org-{org}" / "report.html"
        assert f"{org} html: {html}" in result.output
        assert html.is_file()
    assert f"field-wide html: {tmp_path / 'field' / 'report.html'}" in result.output
    # The parallel run writes the same bundle as the serial one.
    serial = reports["out"] / "org-O01" / "bundle" / "tables" / "scale_scores.csv"
    parallel = tmp_path / "org-O01" / "bundle" / "tables" / "scale_scores.csv"
    assert serial.read_bytes() == parallel.read_bytes()


# --------------------------------------------------------------------------------------------
# Published findings reproduced in the field-wide report


@pytest.fixture(scope="module")
def study_data(reports):
    return load_study_data(open_study(reports["study"]))


def _finding(fid: str, printed: str, recipe: dict) -> dict:
    return {
        "id": fid,
        "citation": f"Doe (2020). Study {fid}. Journal of Tests.",
        "statement": f"Statement of {fid}.",
        "population": {"description": "staff"},
        "values": [printed],
        "recipe": recipe,
    }


def _row_text(row: dict) -> str:
    """A reproduction table row as the HTML and DOCX text shows it (cells joined by spaces)."""
    return " ".join(str(v) for v in row.values())


def test_field_report_reproduces_the_bundled_findings_gated_with_its_counts(reports, study_data):
    from fieldsurvey.reproduce import load_findings
    from fieldsurvey.resources import data_dir

    folder = reports["out"] / "field"
    html = html_text(folder / "report.html")
    docx = docx_text(folder / "report.docx")
    pdf = " ".join(pdf_text(folder / "report.pdf").split())
    shipped = load_findings(data_dir("analysis") / "field-findings.yaml")
    # Every finding is "not computable" on this study: one sentence and the numbered notes
    # replace a table whose rows would all say so.
    sentence = f"None of the {len(shipped.findings)} findings from the literature"
    assert sentence in html and sentence in pdf and sentence in docx
    assert "Published findings reproduced on wave 2" not in html
    for k, finding in enumerate(shipped.findings, start=1):
        assert f"[{k}] {finding.id}" in html and f"[{k}] {finding.id}" in docx
        assert finding.citation in html
    # The two computable findings ("none" had High burnout / Low compassion satisfaction)
    # count fewer than min_cell staff in this study: the band counts behind them are withheld
    # in the bands tables, so the shares are withheld here too, with the reason.
    current = study_data.current
    for scale, band in (("burnout", "High"), ("compassion_satisfaction", "Low")):
        assert (current[f"{scale}_band"] == band).sum() < study_data.min_cell
    for k, fid in ((6, "high-burnout"), (7, "low-compassion-satisfaction")):
        # Every finding is not computable here: one sentence and the notes, no table rows.
        row = f"[{k}] corbett-hone-johnson-2022-{fid} none"
        assert row not in html and row not in docx
        note = re.search(rf"\[{k}\] corbett-hone-johnson-2022-{fid}: (.+?) \[{k + 1}\]", html)
        assert note and "Not computable here: too few respondents" in note.group(1)
    assert "[1] maier-2023-sts 81%" not in html
    assert "Not computable here: the findings file marks it not computable (The instrument" in html
    records = json.loads((folder / "bundle" / "tables" / "published_findings.json").read_text())
    assert len(records["findings"]) == len(shipped.findings)
    tables = {p.stem for p in (folder / "bundle" / "tables").glob("finding_*.csv")}
    assert tables == {
        "finding_corbett-hone-johnson-2022-high-burnout",
        "finding_corbett-hone-johnson-2022-low-compassion-satisfaction",
    }
    # Organisation reports list the findings but reproduce none of them.
    org = reports["out"] / "org-O01"
    assert "Published findings reproduced" not in html_text(org / "report.html")
    assert not list((org / "bundle" / "tables").glob("finding_*.csv"))


def test_field_report_shows_reproduced_values_intervals_and_verdicts(
    reports, study_data, tmp_path, monkeypatch
):
    from statsmodels.stats.proportion import proportion_confint

    from fieldsurvey.analyse import report_findings, report_results
    from fieldsurvey.disclosure import audit, gate, policy_for
    from fieldsurvey.report.build import build_report
    from fieldsurvey.reproduce import load_findings

    current = study_data.current
    burnout = current["burnout"].dropna()
    mean, n = burnout.mean(), len(burnout)
    lo, hi = stats.t.interval(0.95, n - 1, loc=mean, scale=burnout.std(ddof=1) / n**0.5)
    # The whole staff: a share of a smaller population (frontline roles) is withheld as a
    # complement of its lived-experience split, which this study's few such staff make small.
    scored = current["burnout_band"] != "no score"
    k, m = int((current["burnout_band"] == "Moderate").sum()), int(scored.sum())
    p_lo, p_hi = proportion_confint(k, m, method="wilson")
    supervisors = current[current["wf_role"] == 4]
    assert len(supervisors) < study_data.min_cell and m >= study_data.min_cell
    printed = f"M = {mean:.1f}"
    raw = {
        "title": "Test findings",
        "findings": [
            _finding("mean-burnout", printed, {"statistic": "mean", "scale": "proqol5.burnout"}),
            _finding(
                "staff-moderate",
                "99%",
                {
                    "statistic": "proportion_in_band",
                    "scale": "proqol5.burnout",
                    "band": "Moderate",
                },
            ),
            _finding(
                "supervisors",
                "M = 20.0",
                {"statistic": "mean", "scale": "proqol5.burnout", "filters": {"wf_role": [4]}},
            ),
            _finding(
                "one-org",
                "M = 20.0",
                {"statistic": "mean", "scale": "proqol5.burnout", "filters": {"org": ["O01"]}},
            ),
            _finding(
                "role-gap",
                "2.0",
                {
                    "statistic": "group_difference",
                    "scale": "proqol5.burnout",
                    "groups": "wf_role",
                    "compare": [1, 2],
                },
            ),
        ],
    }
    path = tmp_path / "findings.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    outputs = build_report(
        study_data, tmp_path / "out", None, formats=("html", "docx"), engine="pandoc",
        findings_path=path,
    )  # fmt: skip
    html, docx = html_text(outputs["html"]), docx_text(outputs["docx"])
    expected = [
        {
            "finding": "[1] mean-burnout", "published": printed,
            "study": f"{mean:.1f} [{lo:.1f}, {hi:.1f}]", "n": n,
            "difference": f"{mean - float(printed[4:]):+.1f}", "verdict": "matches",
            "lived": "withheld",
        },
        {
            "finding": "[2] staff-moderate", "published": "99%",
            "study": f"{100 * k / m:.1f} [{100 * p_lo:.1f}, {100 * p_hi:.1f}]", "n": m,
            "difference": f"{100 * k / m - 99:+.1f}", "verdict": "differs", "lived": "withheld",
        },
    ]  # fmt: skip
    for row in expected:
        assert _row_text(row) in html, row
        assert _row_text(row) in docx, row
    supervisors_mean = f"{supervisors['burnout'].mean():.1f}"
    assert "[3] supervisors M = 20.0 - - - not computable withheld" in html
    note = re.search(r"\[3\] supervisors: (.+?) \[4\]", html)
    assert note and "Not computable here: too few respondents" in note.group(1)
    assert supervisors_mean not in note.group(1)
    assert "the recipe filters on organisation" in html
    assert "compares groups of wf_role" in html
    # One release: the findings' populations are dimensions of the report's release, a mean
    # is the same variable as in the scale table, and the whole release passes the audit.
    findings = report_findings(study_data, load_findings(path))
    release = report_results(study_data, None, findings)
    assert {"finding_population_1", "finding_counts_1"} <= set(release.dims)
    gated = gate(release, policy_for(study_data.study))
    assert audit(gated).passed
    same = gated["finding_mean-burnout"]["burnout_mean"].iat[0]
    assert same == pytest.approx(gated["scale_scores"]["burnout_mean"].iat[0], rel=1e-12)


def test_cli_findings_option_sets_the_study_beside_a_users_own_findings(reports, tmp_path):
    import yaml

    path = tmp_path / "ours.yaml"
    path.write_text(yaml.safe_dump({"title": "Our coalition's white paper", "findings": [
        _finding("our-burnout-mean", "M = 27.0", {"statistic": "mean", "scale": "proqol5.burnout"}),
    ]}))
    out = tmp_path / "r"
    result = CliRunner().invoke(
        report_cmd,
        [str(reports["study"]), "--format", "html", "--engine", "pandoc", "-o", str(out),
         "--findings", str(path)],
        env={"SOURCE_DATE_EPOCH": EPOCH},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    html = " ".join(next(out.rglob("*.html")).read_text(encoding="utf-8").split())
    assert "our-burnout-mean" in html and "Study our-burnout-mean. Journal of Tests" in html


def test_plain_verdicts_follow_the_shown_difference_and_its_interval(reports):
    """Each scale's sentence says what the shown interval says; the shown difference is the
    organisation's mean minus the rest of the field's, recomputed here from the study."""
    from fieldsurvey.report.bundle import read_table

    data = load_study_data(open_study(reports["study"]))
    position = read_table(reports["out"] / "org-O01" / "bundle", "position").iloc[0]
    qmd = (reports["out"] / "org-O01" / "report.qmd").read_text()
    now = data.current
    seen = set()
    for info in data.wellbeing:
        diff, low, high = (position.get(f"{info.id}_{c}", "") for c in
                           ("diff", "diff_ci_low", "diff_ci_high"))
        if "" in (diff, low, high):
            seen.add("withheld")
            assert f"{info.label}: withheld (too few responses" in qmd
            continue
        mine = now.loc[now["org"] == "O01", info.id].mean()
        rest = now.loc[now["org"] != "O01", info.id].mean()
        assert float(diff) == pytest.approx(mine - rest, abs=1e-9)
        low, high = float(low), float(high)
        if low <= 0 <= high:
            seen.add("none")
            assert f"{info.label}: no clear difference from the rest of the field" in qmd
        else:
            worse = (low > 0) == (info.scale.higher_is == "worse")
            seen.add("beyond")
            assert (f"{info.label}: {'higher' if low > 0 else 'lower'} than the rest of the "
                    f"field, beyond the 95% limits ({'worse' if worse else 'better'})") in qmd
    assert len(seen) >= 1 and len(data.wellbeing) > 0  # a sentence for every scale


def test_invariance_in_the_field_report_is_the_ordinal_model_on_every_answer(study_data):
    """The analysis step's invariance levels (what the field report shows when the gate lets
    it) are those of an ordinal multi-group CFA on every answer given (pairwise), recomputed
    here; never a complete-case fit."""
    import warnings

    from fieldsurvey.analyse.report import _invariance_rows, items_of
    from fieldsurvey.psychometrics.invariance import ORDINAL_LEVELS, measurement_invariance

    rows = _invariance_rows(study_data, study_data.latest)
    now = study_data.current
    both = now[now["lived_experience"].isin(["yes", "no"])]
    answers = items_of(both).assign(group=both["lived_experience"].to_numpy())
    assert rows
    for row in rows:
        info = study_data.scale(row["scale"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = measurement_invariance(
                answers, info.instrument, "group", scales=[info.id],
                min_group_size=study_data.min_cell, ordered=True, missing="pairwise",
                collapse_empty=True)
        assert row["highest_level"] == str(expected.highest_level) in ORDINAL_LEVELS


def test_fits_computed_ahead_give_the_same_release(study_data):
    """Reliability and lived-experience tests computed ahead (in the render workers, by
    ``organisation_entries``) are the very tables the analysis would compute itself."""
    import pandas as pd

    from fieldsurvey.analyse.report import ReportModels, organisation_entries, report_results

    orgs = study_data.organisations[:3]
    entries = organisation_entries(study_data, orgs)
    assert {("reliability", org) for org in orgs} <= set(entries)
    assert any(key[0] == "lived_tests" for key in entries)
    plain, ahead = ReportModels(study_data), ReportModels(study_data)
    ahead.cache.update(entries)
    for org in orgs:
        mine = report_results(study_data, org, models=plain).tables
        theirs = report_results(study_data, org, models=ahead).tables
        for name in ("reliability", "lived_experience_tests"):
            pd.testing.assert_frame_equal(theirs[name].cells, mine[name].cells, check_exact=True)
            assert theirs[name].sources == mine[name].sources
        # Not a comparison of empty tables: the organisations have reliability values.
        assert mine["reliability"].cells.filter(like="_alpha").notna().any(axis=None)
