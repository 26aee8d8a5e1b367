"""The demo runs end to end, and the pipeline recovers the synthetic truth exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.demo import SCORED_INSTRUMENTS, run_demo, side_by_side
from fieldsurvey.scoring import score_scales


def test_demo_recovers_the_synthetic_truth_through_five_platforms(tmp_path):
    run = run_demo(tmp_path / "demo")
    truth = run.synthetic.responses
    direct = score_scales(truth, SCORED_INSTRUMENTS, id_column="response_id")
    direct = direct.assign(org=truth["org"].to_numpy(), wave=truth["wave"].astype(str).to_numpy())
    got = run.scores.assign(wave=run.scores["wave"].astype(str))
    # Every response reaches the store through its platform export (previews quarantined).
    assert len(got) == len(truth)
    # Platforms issue their own response ids, so compare each organisation-wave's scores as a
    # sorted list: the same respondents must come back with exactly the same scores.
    for scale in ("burnout", "sts", "compassion_satisfaction", "cbi_work", "workload", "stss_total"):
        for key, want in direct.groupby(["org", "wave"])[scale]:
            have = got[(got["org"] == key[0]) & (got["wave"] == key[1])][scale]
            np.testing.assert_allclose(np.sort(have.to_numpy(dtype=float)),
                                       np.sort(want.to_numpy(dtype=float)), equal_nan=True,
                                       err_msg=f"{scale} {key}")
    made = {what for what, _ in run.made}
    assert "codebook (every item, code, scale and licence)" in made
    for _, path in run.made:
        assert path.exists(), path
    _check_structural_vs_null(run.out_dir)


def _check_structural_vs_null(out):
    """The side-by-side file is the two studies' gated run-plan decisions; at the demo's seed
    the structural study supports H1-H9 and the null study none (tests/test_demo_null.py)."""
    both = pd.read_csv(out / "results" / "structural-vs-null.csv")
    structural = pd.read_csv(out / "results" / "structural-burnout-plan.csv")
    null = pd.read_csv(out / "null-study" / "results" / "structural-burnout-plan.csv")
    assert both.astype(str).equals(side_by_side(structural, null).astype(str))
    assert both["hypothesis"].tolist() == [f"H{i}" for i in range(1, 10)]
    assert (both["structural_study"] == "supported").all(), both
    assert (both["null_study"] == "not supported").all(), both


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    result = CliRunner().invoke(main, ["demo", str(tmp_path)])
    assert result.exit_code == 2 and "not made by the demo" in result.output
    assert (tmp_path / "mine.txt").read_text() == "keep me"
