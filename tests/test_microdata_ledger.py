"""A protected respondent-level file and the study's tables cannot be combined (issue 14, point 4).

The attacker here holds the benchmark's band counts (one output) and the exported file (another)
and tries what a curious coalition member would: count an organisation's people in a band
straight from the file, or take an "other" group's count from the file and subtract the shown
counts of the group's other organisations. Nothing a table withheld may come back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from fieldsurvey.disclosure import Ledger
from fieldsurvey.disclosure.microdata import export_microdata
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.instrument.banding import assign_bands
from fieldsurvey.outputs.comparisons import benchmark
from fieldsurvey.scoring import score_scales
from fieldsurvey.store import init_study, load_responses, open_study
from fieldsurvey.synthetic import generate_coalition

INSTRUMENTS = ["workforce-context", "proqol5"]


def _study(root, seed: int):
    """Six organisations of 12-40 staff in one wave, the file keyed by organisation alone
    (so that k-anonymity by itself releases most organisations under their names)."""
    study = init_study(root / "study", INSTRUMENTS, org_column="wf_org", waves=["1"])
    path = study.root / "study.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["microdata"] = {"key_variables": ["org"], "sensitive": []}
    path.write_text(yaml.safe_dump(raw))
    data = generate_coalition(n_orgs=6, seed=seed, waves=1,
                              instruments=tuple(INSTRUMENTS)).responses
    csv = root / "wave1.csv"
    data.drop(columns=["org", "wave"]).to_csv(csv, index=False)
    study = open_study(study.root)
    ingest_file(study, csv, wave="1")
    return open_study(study.root)


def _file_bands(released: pd.DataFrame) -> pd.Series | None:
    """The burnout band of each row of the released file, computed from its items (None when
    the file leaves the items out)."""
    proqol = resolve_instrument("proqol5")
    scale = next(s for s in proqol.scales if s.id == "burnout")
    if not set(scale.items) <= set(released.columns):
        return None
    scores = score_scales(released, [proqol])["burnout"]
    return pd.Series(np.asarray(assign_bands(scores, scale), dtype=object), index=released.index)


def _recovered(bands: pd.DataFrame, released: pd.DataFrame, orgs: list[str]) -> list[str]:
    """Withheld (organisation, band) counts an attacker gets from the table and the file."""
    band_of_row = _file_bands(released)
    if band_of_row is None:
        return []  # no burnout items: no band can be counted from the file
    shown = {(r.org, r.band): r.n for r in bands.itertuples() if pd.notna(r.n)}
    named = set(released["org"].dropna()) & set(orgs)
    groups = [g for g in released["org"].dropna().unique() if g not in orgs]
    hidden = [o for o in orgs if o not in named]
    found = []
    for r in bands.itertuples():
        if pd.notna(r.n) or r.org not in orgs:
            continue
        if r.org in named:
            found.append(f"{r.org}/{r.band}: counted from the file's own rows")
        elif len(groups) == 1 and len(hidden) > 1:
            # One "other" group: its members are the organisations the file does not name.
            others = [o for o in hidden if o != r.org]
            if all((o, r.band) in shown for o in others):
                in_group = int(((released["org"] == groups[0]) & (band_of_row == r.band)).sum())
                value = in_group - sum(int(shown[(o, r.band)]) for o in others)
                found.append(f"{r.org}/{r.band} = {value}: group minus shown organisations")
    return found


@pytest.fixture
def study(tmp_path):
    return _study(tmp_path, seed=11)


def test_a_file_after_the_tables_gives_back_nothing_they_withheld(study, tmp_path):
    before = pd.read_csv(export_microdata(study, "csv", tmp_path / "probe.csv", seed=1).path)
    orgs = sorted(load_responses(study)["org"].astype(str).unique())
    # The probe (recorded first, on a copy of the question) shows k-anonymity alone keeps names.
    assert set(before["org"]) & set(orgs)

    fresh = _study(tmp_path / "again", seed=11)
    out = benchmark(fresh.root, bands=True, scales=["burnout"])
    bands = out.tables["bands"]
    assert bands["n"].isna().any(), "the test needs withheld band counts"
    result = export_microdata(fresh, "csv", tmp_path / "after.csv", seed=1)
    released = pd.read_csv(result.path)
    assert _recovered(bands, released, orgs) == []
    ledger = result.report["ledger"]
    assert ledger["organisations_grouped_for_earlier_outputs"] or ledger["organisation_left_out"] \
        or ledger["scales_left_out"]
    named = set(released["org"]) & set(orgs)
    withheld_orgs = set(bands.loc[bands["n"].isna(), "org"])
    assert not (named & withheld_orgs) or "burnout" in ledger["scales_left_out"]
    # What the benchmark did not speak about stays in the file.
    assert {"pq03", "pq06"} <= set(released.columns)  # compassion satisfaction items
    assert Ledger.for_study(fresh).releases()["output"].tolist() == ["benchmark", "export-data"]


def test_tables_after_a_file_are_judged_with_its_tallies(study, tmp_path):
    result = export_microdata(study, "csv", tmp_path / "first.csv", seed=2)
    released = pd.read_csv(result.path)
    assert result.report["ledger"]["rounds"] == 0  # nothing released before: k-anonymity only
    out = benchmark(study.root, bands=True, scales=["burnout"])  # publish audits it
    bands = out.tables["bands"]
    orgs = sorted(load_responses(study)["org"].astype(str).unique())
    # What the file shows by itself it shows; what the table withholds beyond that stays out.
    counts = pd.crosstab(released["org"], _file_bands(released))
    for r in bands.itertuples():
        if pd.notna(r.n) and r.org in counts.index and r.band in counts.columns:
            assert int(r.n) == int(counts.loc[r.org, r.band])
    assert set(Ledger.for_study(study).releases()["output"]) == {"export-data", "benchmark"}
    assert len(orgs) == 6


def test_an_identifiable_file_is_not_a_release(study, tmp_path):
    result = export_microdata(study, "csv", tmp_path / "full.csv", identifiable=True)
    assert result.report["ledger"].startswith("not a release")
    assert Ledger.for_study(study).releases().empty
