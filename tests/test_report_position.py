"""An organisation's position on one scale is withheld when it has few valid scores on that scale,
even if the organisation itself is large enough to be shown."""

from __future__ import annotations

import pandas as pd
import pytest

from fieldsurvey.analyse import load_study_data
from fieldsurvey.ingest.pipeline import ingest_file
from fieldsurvey.report.release import gated_report
from fieldsurvey.store import init_study, open_study
from fieldsurvey.synthetic import generate_coalition

INSTRUMENTS = ["workforce-context", "proqol5", "structural-conditions"]


def test_scale_position_withheld_with_its_valid_scores(tmp_path):
    responses = generate_coalition(n_orgs=8, seed=12, instruments=tuple(INSTRUMENTS)).responses
    sizes = responses["org"].value_counts()
    org = sizes[sizes >= 25].index[0]
    rows = responses.index[responses["org"] == org]
    burnout_items = [f"pq{i:02d}" for i in (1, 4, 8, 10, 15, 17, 19, 21, 26, 29)]
    responses.loc[rows[6:], burnout_items] = pd.NA  # only 6 of the organisation's staff scored
    study = init_study(tmp_path / "s", INSTRUMENTS, org_column="wf_org")
    path = tmp_path / "d.csv"
    responses.drop(columns=["org", "wave"]).to_csv(path, index=False)
    ingest_file(study, path)
    gated = gated_report(load_study_data(open_study(study.root)), org)
    position = gated.tables["position"].iloc[0]
    assert not position["suppressed"]  # the organisation itself is shown
    for column in ("burnout_diff", "burnout_diff_ci_low", "burnout_shrunk_mean",
                   "burnout_funnel_target"):
        assert pd.isna(position[column]), column
    assert pd.notna(position["sts_diff"]) and pd.notna(position["sts_shrunk_mean"])


def test_verdicts_read_the_shown_interval(tmp_path):
    """A large organisation's shown differences: each verdict agrees with the interval, and
    the difference is its mean minus the rest of the field's, recomputed from the data."""
    from fieldsurvey.report.content import scale_verdict

    responses = generate_coalition(n_orgs=8, seed=12, instruments=tuple(INSTRUMENTS)).responses
    sizes = responses["org"].value_counts()
    org = sizes.index[0]
    study = init_study(tmp_path / "s", INSTRUMENTS, org_column="wf_org")
    path = tmp_path / "d.csv"
    responses.drop(columns=["org", "wave"]).to_csv(path, index=False)
    ingest_file(study, path)
    data = load_study_data(open_study(study.root))
    position = gated_report(data, org).tables["position"].iloc[0]
    now, shown = data.current, 0
    for info in data.wellbeing:
        diff, low, high = (position[f"{info.id}_{c}"] for c in ("diff", "diff_ci_low",
                                                                 "diff_ci_high"))
        verdict = scale_verdict(info.label, info.scale.higher_is, diff, low, high)
        if pd.isna(diff):
            assert verdict.endswith("withheld (too few responses to compare safely).")
            continue
        shown += 1
        mine = now.loc[now["org"] == org, info.id].mean()
        rest = now.loc[now["org"] != org, info.id].mean()
        assert diff == pytest.approx(mine - rest, abs=1e-9)
        if low > 0 or high < 0:
            direction = "higher" if low > 0 else "lower"
            assert f": {direction} than the rest of the field, beyond the 95% limits" in verdict
        else:
            assert "no clear difference" in verdict
    assert shown > 0
