"""Survey-weighted estimates in the reports when the study gives staff head counts.

One small synthetic study (2 waves) whose staff.csv says direct-service staff (role 1) are three
times as many as answered in the reported wave: post-stratified weights are then 3 for them and
1 for everyone else, so the expected weighted means are computed here with numpy.average and
the expected linearisation intervals from their textbook formula, independently of
fieldsurvey.compare.
"""

from __future__ import annotations

import dataclasses
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from fieldsurvey.analyse import load_study_data
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.report.build import build_report, make_bundle
from fieldsurvey.report.bundle import file_sha256
from fieldsurvey.report.release import gated_report
from fieldsurvey.report.verify import verify_report
from fieldsurvey.store import init_study, open_study
from fieldsurvey.synthetic import generate_coalition
from report_checks import html_text

INSTRUMENTS = ["workforce-context", "proqol5", "cbi", "stss", "structural-conditions"]
EPOCH = "1772323200"  # 2026-03-01
SCALES = ("compassion_satisfaction", "burnout")


def _write_study(root, staff_factor: int = 3):
    study = init_study(root / "study", INSTRUMENTS, org_column="wf_org", waves=["1", "2"])
    responses = generate_coalition(n_orgs=7, seed=11, waves=2).responses
    for wave in ("1", "2"):
        path = root / f"wave{wave}.csv"
        rows = responses[responses["wave"].astype(str) == wave]
        rows.drop(columns=["org", "wave"]).to_csv(path, index=False)
        ingest_file(study, path, wave=wave)
    latest = responses[responses["wave"].astype(str) == "2"]
    staff = latest.groupby(["wf_org", "wf_role"]).size().rename("staff").reset_index()
    staff.loc[staff["wf_role"] == 1, "staff"] *= staff_factor
    staff = staff.rename(columns={"wf_org": "org", "wf_role": "role"})
    staff["role"] = staff["role"].astype(int)
    staff.to_csv(study.root / "staff.csv", index=False)
    raw = yaml.safe_load((study.root / "study.yaml").read_text())
    raw["staff_counts"] = "staff.csv"
    (study.root / "study.yaml").write_text(yaml.safe_dump(raw))
    return study.root


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    data = load_study_data(open_study(_write_study(root)))
    focus = str(data.current.groupby("org").size().idxmax())  # an organisation shown in full
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
    try:
        field = build_report(data, root / "out", None, formats=("html",), engine="pandoc")
        org = build_report(data, root / "out", focus, formats=("html",), engine="pandoc")
    finally:
        mp.undo()
    return {
        "data": data,
        "focus": focus,
        "field": html_text(field["html"]),
        "org": html_text(org["html"]),
    }


def _expected(data, scale: str, rows: np.ndarray, clustered: bool) -> tuple[float, float, int]:
    """Weighted mean, linearised variance and units of ``scale`` over ``rows`` (reported wave)."""
    current = data.current
    y = current[scale].to_numpy(dtype=float)
    w = np.where(current["wf_role"].eq(1).fillna(False).to_numpy(dtype=bool), 3.0, 1.0)
    keep = rows & ~np.isnan(y) & current["wf_role"].notna().to_numpy()
    y, w = y[keep], w[keep]
    mean = np.average(y, weights=w)
    u = w * (y - mean) / w.sum()
    if clustered:
        orgs = current["org"].to_numpy()[keep]
        u = np.array([u[orgs == o].sum() for o in np.unique(orgs)])
    k = u.size
    return float(mean), float(k / (k - 1) * (u**2).sum()), k


def _shown_rows(html: str, rows: list[str], labels: list[str]) -> int:
    """How many of the expected rows the report prints; the others must print 'withheld'."""
    shown = 0
    for row, label in zip(rows, labels, strict=True):
        if row in html:
            shown += 1
        else:
            assert re.search(re.escape(label) + r"( \S+)* withheld", html), label
    return shown


def test_field_report_shows_weighted_means_with_intervals_next_to_unweighted(built):
    """A weighted mean is a statistic of its weighting cells (organisation x role): shown, with
    the values computed here by hand, only where every weighting cell may be shown."""
    data, html = built["data"], built["field"]
    assert "Survey-weighted wellbeing scale means, wave 2" in html
    everyone = np.ones(len(data.current), dtype=bool)
    rows, labels = [], []
    for scale in SCALES:
        label = data.scale(scale).label
        values = data.current[scale].dropna()
        mean, var, k = _expected(data, scale, everyone, clustered=True)
        half = stats.t.ppf(0.975, k - 1) * var**0.5
        rows.append(f"{label} {len(values)} {values.mean():.1f} {mean:.1f} {mean - half:.1f} "
                    f"{mean + half:.1f}")
        labels.append(label)
    _shown_rows(html, rows, labels)


def test_organisation_report_compares_weighted_means_with_the_weighted_field(built):
    data, html, focus = built["data"], built["org"], built["focus"]
    assert f"{focus} against the rest of the field, survey-weighted, wave 2" in html
    own = (data.current["org"] == focus).to_numpy()
    assert own.sum() >= data.min_cell
    rows, labels = [], []
    for scale in SCALES:
        label = data.scale(scale).label
        mine, var_mine, _ = _expected(data, scale, own, clustered=False)
        rest, var_rest, _ = _expected(data, scale, ~own, clustered=True)
        diff, half = mine - rest, stats.norm.ppf(0.975) * (var_mine + var_rest) ** 0.5
        rows.append(f"{label} {mine:.1f} {rest:.1f} {diff:.1f} {diff - half:.1f} "
                    f"{diff + half:.1f}")
        labels.append(label)
    _shown_rows(html, rows, labels)


def test_methods_say_how_the_weights_were_made(built):
    for html in (built["field"], built["org"]):
        methods = html[html.index("Weighted estimates use survey weights") :]
        methods = methods[: methods.index("Suppression rule")]
        assert "staff.csv" in methods and "post-stratified" in methods
        assert "organisation and role" in methods
        assert "clustered by organisation" in methods and "linearisation" in methods
        assert "No finite-population correction" in methods


def _with_min_cell(data, min_cell: int):
    config = dataclasses.replace(data.study.config, min_cell=min_cell)
    return dataclasses.replace(data, study=dataclasses.replace(data.study, config=config))


def test_a_weighted_value_is_never_shown_where_its_unweighted_mean_is_withheld(built):
    data = built["data"]
    for org in data.organisations:
        gated = gated_report(data, org, record=False)
        table = gated.tables["scale_scores"].set_index("focus")
        weights = gated.tables["weighted_scores"].set_index("focus")
        for info in data.wellbeing:
            for unit in ("this", "other"):
                if np.isnan(table.at[unit, f"{info.id}_mean"]):
                    for stat in ("mean", "ci_low", "ci_high"):
                        assert np.isnan(weights.at[unit, f"{info.id}_weighted_{stat}"])


def test_a_withheld_organisation_report_prints_no_weighted_number(built, tmp_path, monkeypatch):
    data = built["data"]
    sizes = data.current.groupby("org").size()
    small = str(sizes.idxmin())
    assert sizes.min() < data.min_cell
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    out = build_report(data, tmp_path, small, formats=("html",), engine="pandoc")
    html = html_text(out["html"])
    own = (data.current["org"] == small).to_numpy()
    table = re.search(r"survey-weighted, wave 2 (.+?) Place on the funnel plot", html)
    assert table
    for scale in SCALES:
        label = data.scale(scale).label
        assert f"{label} {' '.join(['withheld'] * 5)}" in table.group(1)
    assert (data.current.loc[own, "burnout"].notna().sum()) > 0  # there was a value to withhold


def test_without_staff_counts_the_release_has_no_weighted_table(built):
    data = built["data"]
    config = dataclasses.replace(data.study.config, staff_counts=None)
    plain = dataclasses.replace(
        data, study=dataclasses.replace(data.study, config=config), weights=None
    )
    for org in (None, built["focus"]):
        assert "weighted_scores" not in gated_report(plain, org, record=False).tables
        assert "weighted_scores" in gated_report(data, org, record=False).tables


def test_verify_checks_the_staff_counts_and_a_table_that_does_not_fit_is_explained(built, tmp_path):
    study = shutil.copytree(built["data"].study.root, tmp_path / "study")
    make_bundle(load_study_data(open_study(study)), None, tmp_path / "r", command="fieldsurvey")
    assert verify_report(tmp_path / "r").identical
    original = file_sha256(study / "staff.csv")
    staff = pd.read_csv(study / "staff.csv", dtype={"org": str})
    staff[staff["org"] != "O03"].to_csv(study / "staff.csv", index=False)
    diffs = verify_report(tmp_path / "r").differences
    changed = diffs[diffs["column"] == "staff_counts_sha256"]
    assert changed["recorded"].tolist() == [original]
    assert "tables/weighted_scores.csv" in set(diffs["file"])
    # Staff counts the responses do not fit: no weighted estimates, and the methods say why.
    misfit = load_study_data(open_study(study))
    assert misfit.weights is None
    assert "staff.csv" in misfit.weights_error
    assert "O03" in misfit.weights_error
    qmd = make_bundle(misfit, None, tmp_path / "m", command="fieldsurvey").read_text()
    assert "survey weights could not be made" in " ".join(qmd.split())
    assert "Survey-weighted" not in qmd


def test_raking_to_the_staff_margins_is_described_and_used(built, tmp_path):
    study = shutil.copytree(built["data"].study.root, tmp_path / "study")
    raw = yaml.safe_load((study / "study.yaml").read_text())
    raw["weighting"] = "rake"
    (study / "study.yaml").write_text(yaml.safe_dump(raw))
    raked = load_study_data(open_study(study))
    # Every organisation x role cell has respondents, so raking reaches the cell weights.
    assert raked.weights.to_numpy() == pytest.approx(built["data"].weights.to_numpy(), nan_ok=True)
    qmd = " ".join(make_bundle(raked, None, tmp_path / "r", command="x").read_text().split())
    assert "raked (iterative proportional fitting)" in qmd
