"""Reliability output passes the disclosure gate: no item statistic on fewer than min_cell answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.outputs.reliability import reliability
from fieldsurvey.psychometrics import instrument_reliability
from fieldsurvey.synthetic import generate_coalition


def _answers(rows: int, sparse_item: str, answered: int):
    data = generate_coalition(n_orgs=3, seed=1, instruments=("workforce-context", "proqol5")).responses
    data = data.head(rows).copy()
    data.loc[data.index[answered:], sparse_item] = np.nan
    return data


def test_item_answered_by_too_few_is_withheld_while_its_scale_is_shown():
    data = _answers(20, "pq03", 7)
    summary, items = instrument_reliability(data, resolve_instrument("proqol5"))
    shown_summary, shown_items, _ = reliability(data, "proqol5")
    sparse = shown_items[shown_items["item"] == "pq03"].iloc[0]
    assert np.isnan(sparse["mean"]) and np.isnan(sparse["sd"]) and np.isnan(sparse["r_drop"])
    assert pd.isna(sparse["n"])
    # pq03's 7 answers are a cell: pq03's 13 missing = 20 - 7, and the other items of its
    # scale answered by all 20 share one respondent set, so at most those go with it.
    other = shown_items[shown_items["item"] == "pq06"].iloc[0]
    assert other["mean"] == items[items["item"] == "pq06"]["mean"].iloc[0]
    cs = shown_summary[shown_summary["scale"] == "compassion_satisfaction"].iloc[0]
    assert cs["alpha"] == summary[summary["scale"] == "compassion_satisfaction"]["alpha"].iloc[0]


def test_a_smaller_minimum_than_the_default_is_refused(tmp_path):
    data = _answers(20, "pq03", 7)
    path = tmp_path / "a.csv"
    data.to_csv(path, index=False)
    result = CliRunner().invoke(main, ["reliability", str(path), "-i", "proqol5", "--min-cell", "4"])
    assert result.exit_code == 2 and "never lower" in result.output
    result = CliRunner().invoke(main, ["reliability", str(path), "-i", "proqol5", "--min-cell", "8"])
    assert result.exit_code == 2 and "never lower" in result.output


def test_cli_json_never_carries_the_withheld_item_mean(tmp_path):
    data = _answers(20, "pq03", 7)
    path = tmp_path / "a.csv"
    data.to_csv(path, index=False)
    result = CliRunner().invoke(main, ["reliability", str(path), "-i", "proqol5", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    item = next(i for s in doc["scales"] for i in s["items"] if i["item"] == "pq03")
    assert item["mean"] is None and item["n"] is None
    true_mean = data["pq03"].mean()
    assert f"{true_mean:.6f}"[:7] not in result.stdout
