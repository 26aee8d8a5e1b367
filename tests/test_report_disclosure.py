"""Reports of an adversarial study never show a withheld value, in HTML, PDF or DOCX.

The study (minimum cell 10) holds:

* ``A12``: 12 staff, exactly one with lived experience, whose burnout score is the maximum
  (50.0) so it can be searched for;
* ``B4`` and ``C4``: two organisations of 4;
* ``D33``: 33 staff (enough for its own breakdowns) in roles of 15, 15 and 3, so the small
  role can be recovered from the total unless a second cell is withheld;
* five ordinary organisations;
* published findings (the bundled ones plus two on one role) recomputed in the field-wide
  report, where that role holds fewer than ``min_cell`` staff with lived experience, so the
  findings' lived-experience values rest on too few respondents.

Every report (field-wide and the four adversarial organisations) is rendered to HTML, PDF and
DOCX; the text of each is searched for the withheld values, formatted as the report formats
numbers, and the gated release of each is audited.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import yaml

from fieldsurvey.analyse import ReportModels, load_study_data, report_findings, report_results
from fieldsurvey.disclosure import audit, gate, policy_for
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.report.build import build_reports
from fieldsurvey.report.bundle import read_table
from fieldsurvey.reproduce import load_findings
from fieldsurvey.resources import data_dir
from fieldsurvey.store import init_study, open_study
from fieldsurvey.synthetic import generate_coalition
from report_checks import docx_text, html_text, pdf_text
from test_report_content import EPOCH, INSTRUMENTS

BURNOUT_ITEMS = ["pq01", "pq04", "pq08", "pq10", "pq15", "pq17", "pq19", "pq21", "pq26", "pq29"]
BURNOUT_REVERSED = {"pq01", "pq04", "pq15", "pq17", "pq29"}
ADVERSARIAL = ["A12", "B4", "C4", "D33"]


def adversarial_responses() -> pd.DataFrame:
    data = generate_coalition(n_orgs=10, seed=5, waves=1).responses
    data = data.sample(frac=1.0, random_state=1).reset_index(drop=True)
    sizes = [("A12", 12), ("B4", 4), ("C4", 4), ("D33", 33)]
    orgs: list[str] = []
    for code, size in sizes:
        orgs += [code] * size
    rest = len(data) - len(orgs)
    orgs += [f"E{i % 5 + 1}" for i in range(rest)]
    data["wf_org"] = orgs
    a12 = data.index[data["wf_org"] == "A12"]
    data.loc[a12, "wf_lived_exp"] = 2
    lone = a12[0]
    data.loc[lone, "wf_lived_exp"] = 1
    for item in BURNOUT_ITEMS:
        data.loc[lone, item] = 1 if item in BURNOUT_REVERSED else 5
    d23 = data.index[data["wf_org"] == "D33"]
    data.loc[d23, "wf_role"] = [1] * 15 + [4] * 15 + [3] * 3
    return data.drop(columns=["org", "wave"])


def small_lived_role(responses: pd.DataFrame, min_cell: int = 10) -> int:
    """A role with at least 3 * min_cell staff but fewer than min_cell with lived experience."""
    for code in sorted(responses["wf_role"].dropna().unique()):
        staff = responses[responses["wf_role"] == code]
        lived = int((staff["wf_lived_exp"] == 1).sum())
        if 1 <= lived < min_cell and len(staff) >= 3 * min_cell:
            return int(code)
    raise AssertionError("the adversarial study has no such role")


def findings_file(path, role: int):
    """The bundled findings plus two computed on one role (mean burnout, share Moderate)."""
    raw = yaml.safe_load((data_dir("analysis") / "field-findings.yaml").read_text())
    base = {"citation": "Doe (2020). J.", "population": {"description": "one role"}}
    raw["findings"] += [
        {
            **base,
            "id": "role-mean-burnout",
            "statement": "Mean burnout in the role was 25.0.",
            "values": ["M = 25.0"],
            "recipe": {
                "statistic": "mean",
                "scale": "proqol5.burnout",
                "filters": {"wf_role": [role]},
            },
        },
        {
            **base,
            "id": "role-moderate-burnout",
            "statement": "50% of the role had moderate burnout.",
            "values": ["50%"],
            "recipe": {
                "statistic": "proportion_in_band",
                "scale": "proqol5.burnout",
                "band": "Moderate",
                "filters": {"wf_role": [role]},
            },
        },
    ]
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory):
    root = tmp_path_factory.mktemp("adversarial")
    study = init_study(root / "study", INSTRUMENTS, org_column="wf_org", waves=["1"])
    responses = adversarial_responses()
    path = root / "responses.csv"
    responses.to_csv(path, index=False)
    ingest_file(study, path, wave="1")
    role = small_lived_role(responses)
    findings = findings_file(root / "findings.yaml", role)
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
    try:
        results = build_reports(
            study.root,
            root / "reports",
            orgs=ADVERSARIAL,
            formats=("html", "pdf", "docx"),
            engine="pandoc",
            findings_path=findings,
        )
    finally:
        mp.undo()
    data = load_study_data(open_study(study.root))
    texts = {}
    for org, outputs in results:
        texts[org] = {
            "html": html_text(outputs["html"]),
            "pdf": " ".join(pdf_text(outputs["pdf"]).split()),
            "docx": docx_text(outputs["docx"]),
            "folder": outputs["html"].parent,
        }
    return {"data": data, "texts": texts, "role": role, "findings": load_findings(findings)}


def _mean(frame: pd.DataFrame, scale: str) -> str:
    return f"{frame[scale].dropna().mean():.1f}"


def _shown_numbers(folder) -> set[str]:
    """Every number the report's bundle shows, formatted to 0-2 decimals."""
    shown: set[str] = set()
    for csv in (folder / "bundle" / "tables").glob("*.csv"):
        table = read_table(folder / "bundle", csv.stem)
        for col in table.columns:
            for value in table[col]:
                try:
                    x = float(value)
                except ValueError:
                    continue
                shown |= {f"{x:.1f}", f"{x:.2f}", f"{x:.0f}", f"{100 * x:.0f}%"}
    return shown


def _assert_absent(texts: dict, value: str, where: str, shown: set[str]) -> None:
    if value in shown:  # the same digits are a legitimately shown number elsewhere
        return
    pattern = r"(?<![\d.])" + re.escape(value) + r"(?!\.?\d)"  # not inside "3.1.0"
    for fmt in ("html", "pdf", "docx"):
        assert not re.search(pattern, texts[fmt]), f"{where}: withheld {value} in {fmt}"


def test_lone_lived_experience_score_appears_nowhere(adversarial):
    frame = adversarial["data"].frame
    lone = frame[(frame["org"] == "A12") & (frame["lived_experience"] == "yes")]
    assert len(lone) == 1 and lone["burnout"].iloc[0] == 50.0
    for org, texts in adversarial["texts"].items():
        # "50.0" may be another shown number (a CBI mean): then it is not the lone score.
        _assert_absent(texts, "50.0", f"{org}: the lone score", _shown_numbers(texts["folder"]))
    others = frame[(frame["org"] == "A12") & (frame["lived_experience"] == "no")]
    texts = adversarial["texts"]["A12"]
    shown = _shown_numbers(texts["folder"])
    for scale in ("burnout", "sts", "compassion_satisfaction"):
        _assert_absent(texts, _mean(others, scale), f"A12 other staff {scale}", shown)
    lived = read_table(texts["folder"] / "bundle", "lived_experience")
    # A12 is too small for its own lived-experience breakdown: its report shows the field's.
    assert "focus" not in lived.columns and "org" not in lived.columns


@pytest.mark.parametrize("org", ["B4", "C4"])
def test_organisations_of_four_show_no_statistic(adversarial, org):
    frame = adversarial["data"].frame
    own = frame[frame["org"] == org]
    texts = adversarial["texts"][org]
    shown = _shown_numbers(texts["folder"])
    for scale in ("burnout", "sts", "compassion_satisfaction", "cbi_work", "workload"):
        _assert_absent(texts, _mean(own, scale), f"{org} {scale}", shown)
        for report in ("field", *ADVERSARIAL):
            key = None if report == "field" else report
            if key != org:
                other = adversarial["texts"][key]
                _assert_absent(
                    other,
                    _mean(own, scale),
                    f"{org} {scale} in {report}",
                    _shown_numbers(other["folder"]),
                )
    scores = read_table(texts["folder"] / "bundle", "scale_scores")
    assert (scores.loc[scores["focus"] == "this", "burnout_mean"] == "").all()
    by_wave = read_table(texts["folder"] / "bundle", "respondents_by_wave")
    assert (by_wave["n"] == "").all()
    assert "withheld" in texts["html"]


def test_small_role_cannot_be_recovered_from_the_total(adversarial):
    texts = adversarial["texts"]["D33"]
    roles = read_table(texts["folder"] / "bundle", "respondents_by_role")
    small = roles[roles["role"] == "Advocacy"]
    assert (small["n"] == "").all()
    withheld = (roles["n"] == "").sum()
    assert withheld >= 2  # the small role plus at least one complementary cell
    shown = pd.to_numeric(roles["n"], errors="coerce")
    total = roles["role"] == ""
    if shown[total].notna().all():
        assert shown[~total].sum() != shown[total].iloc[0]


def test_the_reports_together_pass_the_audit(adversarial):
    data = adversarial["data"]
    models = ReportModels(data)
    reproduced = report_findings(data, adversarial["findings"])
    combined = report_results(data, None, reproduced, models=models).without_tables()
    for org in (None, *ADVERSARIAL):
        part = report_results(data, org, reproduced if org is None else None, models=models)
        combined.include(part, str(org))
    gated = gate(combined, policy_for(data.study))
    result = audit(gated)
    assert result.passed, result
    findings = [name for name in gated.tables if "/finding_" in name]
    assert all(name.startswith("None/") for name in findings) and len(findings) == 4


def test_lived_experience_finding_values_on_too_few_staff_appear_nowhere(adversarial):
    frame = adversarial["data"].frame
    role = frame[frame["wf_role"] == adversarial["role"]]
    lived = role[role["lived_experience"] == "yes"]
    assert 1 <= len(lived) < adversarial["data"].min_cell <= len(role) / 3
    texts = adversarial["texts"][None]
    bundle = texts["folder"] / "bundle"
    shown = _shown_numbers(texts["folder"])
    scored = lived["burnout_band"] != "no score"
    moderate = 100 * (lived.loc[scored, "burnout_band"] == "Moderate").mean()
    withheld = {
        "lived mean burnout": _mean(lived, "burnout"),
        "lived share Moderate": f"{moderate:.1f}",
    }
    for what, value in withheld.items():
        _assert_absent(texts, value, f"field report: {what} of the role", shown)
    for fmt in ("html", "pdf", "docx"):
        assert f"(n = {len(lived)})" not in texts[fmt]
    # The same findings' values for the whole role are shown: they were computed and gated.
    overall = f"{role['burnout'].dropna().mean():.1f}"
    assert re.search(rf"role-mean-burnout M = 25\.0 {re.escape(overall)} \[", texts["html"])
    mean_table = read_table(bundle, "finding_role-mean-burnout")
    assert mean_table["burnout_mean"].iloc[0] != ""
    assert (mean_table.loc[mean_table["lived_experience"] == "yes", "burnout_mean"] == "").all()
    counts = read_table(bundle, "finding_role-moderate-burnout")
    lived_rows = counts[counts["lived_experience"] == "yes"]
    assert (lived_rows["n"] == "").all() and (lived_rows["burnout_n"] == "").all()


def test_every_figure_has_alt_text_drawn_from_shown_values(adversarial):
    for org in ADVERSARIAL:
        html = adversarial["texts"][org]["html"]
        assert "withheld" in html
    field = adversarial["texts"][None]
    assert "Histogram" not in field["html"]  # distributions come from gated counts only
    assert np.isfinite(len(field["pdf"]))
