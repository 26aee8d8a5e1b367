"""``fieldsurvey score`` on the file formats researchers hand us."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.scoring import score_scales
from fieldsurvey.synthetic import generate_coalition


@pytest.fixture(scope="module")
def answers():
    responses = generate_coalition(n_orgs=3, seed=9, instruments=("workforce-context", "proqol5")).responses
    return responses[["response_id"] + [f"pq{i:02d}" for i in range(1, 31)]]


@pytest.mark.parametrize("suffix", ["csv", "xlsx", "sav", "dta"])
def test_score_command_reads_each_format_and_matches_the_api(answers, tmp_path, suffix):
    path = tmp_path / f"answers.{suffix}"
    if suffix == "csv":
        answers.to_csv(path, index=False)
    elif suffix == "xlsx":
        answers.to_excel(path, index=False)
    else:
        frame = answers.astype({c: float for c in answers.columns if c != "response_id"})
        (pyreadstat.write_sav if suffix == "sav" else pyreadstat.write_dta)(frame, str(path))
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(main, ["score", str(path), "-i", "proqol5", "--id-column", "response_id",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out)
    want = score_scales(answers, "proqol5", id_column="response_id")
    assert list(got.columns) == list(want.columns)
    np.testing.assert_allclose(got["burnout"], want["burnout"], equal_nan=True)
    assert (got["burnout_band"].fillna("") == want["burnout_band"].astype(object).fillna("")).all()


def test_score_command_names_file_row_and_column_of_a_bad_answer(answers, tmp_path):
    bad = answers.astype({"pq05": object}).copy()
    bad.loc[3, "pq05"] = "sometimes?"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    result = CliRunner().invoke(main, ["score", str(path), "-i", "proqol5", "--id-column", "response_id"])
    assert result.exit_code == 2
    assert f"bad.csv: row 5 (id {bad.loc[3, 'response_id']}), column 'pq05': not a number" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(main, ["score", str(path), "-i", "proqol5", "--invalid", "missing",
                                       "-o", str(tmp_path / "s.csv")])
    assert result.exit_code == 0 and "1 invalid answer(s) treated as missing (pq05: 1)" in result.output


def test_score_command_refuses_unknown_instrument(answers, tmp_path):
    path = tmp_path / "a.csv"
    answers.to_csv(path, index=False)
    result = CliRunner().invoke(main, ["score", str(path), "-i", "proqol6"])
    assert result.exit_code == 2 and "no bundled instrument 'proqol6'" in result.output
