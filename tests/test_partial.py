"""Score tests (lavaan's lavTestScore) and the partial-invariance search
(tests/reference/lavaan_score_reference.R)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from fieldsurvey.psychometrics.cfa import CFAError, fit_cfa
from fieldsurvey.psychometrics.partial_invariance import partial_invariance, score_tests
from golden import (
    BFI_DATA,
    BFI_DEMOGRAPHICS,
    HS_DATA,
    HS_MISSING_DATA,
    assert_fit_matches,
    assert_params_match,
)
from golden import LAVAAN_SCORE_GOLDEN as GOLDEN

MODEL = GOLDEN["model"]
ORDINAL_MODEL = GOLDEN["ordinal_model"]


@pytest.fixture(scope="module")
def bfi() -> pd.DataFrame:
    return pd.read_csv(BFI_DATA).merge(pd.read_csv(BFI_DEMOGRAPHICS), on="id", how="left")


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


def _fits(bfi):
    hs, missing = pd.read_csv(HS_DATA), pd.read_csv(HS_MISSING_DATA)
    scalar = ("loadings", "intercepts")
    return {
        "scalar": lambda: fit_cfa(hs, MODEL, group="school", group_equal=scalar),
        "scalar_fiml": lambda: fit_cfa(
            missing, MODEL, group="school", group_equal=scalar, missing="fiml"
        ),
        "ordinal_intercepts": lambda: fit_cfa(
            bfi, ORDINAL_MODEL, ordered=True, group="gender",
            group_equal=("thresholds", "loadings", "intercepts"),
        ),  # fmt: skip
    }


@pytest.mark.parametrize("case", ["scalar", "scalar_fiml", "ordinal_intercepts"])
def test_score_tests_match_lavtestscore(bfi, case):
    gold = GOLDEN[case]
    tests = score_tests(_quiet(_fits(bfi)[case]))
    assert tests.total["df"] == gold["total"]["df"]
    assert tests.total["X2"] == pytest.approx(gold["total"]["X2"], rel=1e-5)
    expected = pd.DataFrame(gold["uni"]).fillna({"rhs": ""})
    ours = tests.univariate
    assert len(ours) == len(expected)
    merged = expected.merge(ours, on=["lhs", "op", "rhs"], suffixes=("_lavaan", ""))
    assert len(merged) == len(expected)
    np.testing.assert_allclose(merged["X2"], merged["X2_lavaan"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(merged["p"], merged["p_lavaan"], atol=1e-5)


def test_score_tests_need_constraints():
    hs = pd.read_csv(HS_DATA)
    with pytest.raises(CFAError, match="no equality constraints"):
        score_tests(fit_cfa(hs, MODEL, group="school"))
    with pytest.raises(CFAError, match="multi-group"):
        score_tests(fit_cfa(hs, MODEL))


def test_partial_search_frees_the_fewest_intercepts():
    hs = pd.read_csv(HS_DATA)
    result = _quiet(partial_invariance, hs, MODEL, "school")
    gold = GOLDEN["partial_scalar"]
    assert result.supported and result.exhaustive
    assert sorted(result.freed) == sorted(gold["group_partial"]) == ["x3~1", "x7~1"]
    # no single intercept suffices: every one of the 9 was tried before the pairs
    assert result.models_tried >= 10
    assert list(result.candidates["ref"][:2]) == ["x3~1", "x7~1"]  # largest score statistics
    assert_fit_matches(result.fit, gold["fit"])
    assert_params_match(result.fit, gold["fit"], groups=["Pasteur", "Grant-White"])
    assert "no smaller set works" in result.notes[0]


def test_partial_search_ordinal_intercepts(bfi):
    result = _quiet(
        partial_invariance, bfi, ORDINAL_MODEL, "gender", ordered=True, missing="pairwise"
    )
    gold = GOLDEN["ordinal_partial"]
    assert result.supported and result.freed == [gold["group_partial"]]
    assert_fit_matches(result.fit, gold["fit"])
    assert result.candidates["ref"].iloc[0] == "N5~1"


def test_partial_search_needs_the_previous_step(bfi):
    hs = pd.read_csv(HS_DATA)
    # metric holds for HS, so asking for metric returns nothing to release
    result = _quiet(partial_invariance, hs, MODEL, "school", level="metric")
    assert result.freed == [] and result.supported
    with pytest.raises(CFAError, match="level must be one of"):
        partial_invariance(hs, MODEL, "school", level="configural")


def test_cli_search_partial_json():
    import json

    from click.testing import CliRunner

    from fieldsurvey.cli import main

    out = CliRunner().invoke(
        main,
        ["invariance", str(HS_DATA), "--model", MODEL, "--group", "school", "--search-partial",
         "--format", "json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    search = json.loads(out.output)["partial_search"]
    assert search["level"] == "scalar" and sorted(search["freed"]) == ["x3~1", "x7~1"]
    assert search["supported"] and search["exhaustive"]
