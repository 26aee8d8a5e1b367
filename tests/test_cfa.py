"""Single-group CFA against R lavaan golden values (tests/reference/lavaan_reference.R)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.instrument import resolve_instrument
from fieldsurvey.instrument.model import Instrument, Item, Licence, ResponseScale, Scale
from fieldsurvey.psychometrics.cfa import CFAError, CFAWarning, fit_cfa
from fieldsurvey.psychometrics.cfa_ml import GroupMoments, MLProblem
from fieldsurvey.psychometrics.cfa_partable import build_partable
from fieldsurvey.psychometrics.lavaan_syntax import (
    LavaanSyntaxError,
    parse_model,
    parse_parameter_ref,
)
from golden import HS_DATA as DATA
from golden import LAVAAN_GOLDEN as GOLDEN
from golden import LAVAAN_START_GOLDEN, MIXED_KEYED_DATA, assert_fit_matches, assert_params_match

MODEL = GOLDEN["model"]


@pytest.fixture(scope="module")
def hs() -> pd.DataFrame:
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def single(hs):
    return fit_cfa(hs, MODEL)


# -- lavaan golden values -----------------------------------------------------------------
def test_single_group_fit_measures_match_lavaan(single):
    assert single.converged
    assert not single.heywood
    assert single.warnings == []
    assert_fit_matches(single, GOLDEN["single"])


def test_single_group_matches_published_values(single):
    f = single.fit
    assert round(f["chisq"], 3) == 85.306
    assert int(f["df"]) == 24
    assert round(f["cfi"], 3) == 0.931
    assert round(f["tli"], 3) == 0.896
    assert round(f["rmsea"], 3) == 0.092
    assert (round(f["rmsea_ci_lower"], 3), round(f["rmsea_ci_upper"], 3)) == (0.071, 0.114)
    assert round(f["srmr"], 3) == 0.065


def test_single_group_parameters_match_lavaan(single):
    assert_params_match(single, GOLDEN["single"])


def test_loadings_frame_is_tidy(single):
    loadings = single.loadings
    assert list(loadings.columns) == ["factor", "item", "est", "se", "std"]
    assert list(loadings["item"]) == [f"x{i}" for i in range(1, 10)]
    markers = loadings[loadings["item"].isin(["x1", "x4", "x7"])]
    assert (markers["est"] == 1.0).all() and markers["se"].isna().all()
    x2 = loadings.set_index("item").loc["x2"]
    assert x2["est"] == pytest.approx(0.5535, abs=1e-4)
    assert x2["se"] == pytest.approx(0.0997, abs=1e-4)
    assert x2["std"] == pytest.approx(0.4236, abs=1e-4)


def test_listwise_deletion_matches_lavaan(hs):
    data = hs.copy()
    for column, rows in GOLDEN["listwise"]["missing_cells"].items():
        rows = rows if isinstance(rows, list) else [rows]
        data.loc[[r - 1 for r in rows], column] = np.nan
    result = fit_cfa(data, MODEL)
    assert result.n_listwise_deleted == 5
    assert result.n == 296
    assert any("listwise" in note for note in result.notes)
    assert_fit_matches(result, GOLDEN["listwise"])
    assert_params_match(result, GOLDEN["listwise"])


def test_std_lv_identification_gives_same_fit(hs, single):
    std_lv = (
        "visual =~ NA*x1 + x2 + x3\ntextual =~ NA*x4 + x5 + x6\nspeed =~ NA*x7 + x8 + x9\n"
        "visual ~~ 1*visual; textual ~~ 1*textual; speed ~~ 1*speed"
    )
    result = fit_cfa(hs, std_lv)
    assert result.fit["chisq"] == pytest.approx(single.fit["chisq"], rel=1e-7)
    assert result.fit["df"] == single.fit["df"]
    np.testing.assert_allclose(result.loadings["std"], single.loadings["std"], atol=1e-5)
    # with unit factor variances the unstandardised loading is loading * sd(factor)
    psi = single.parameters.query("op == '~~' and lhs == 'visual' and rhs == 'visual'")["est"]
    assert result.loadings["est"].iloc[0] == pytest.approx(np.sqrt(psi.iloc[0]), abs=1e-5)


def test_label_constrains_loadings_equal(hs, single):
    result = fit_cfa(hs, MODEL.replace("x2 + x3", "a*x2 + a*x3"))
    assert result.fit["npar"] == single.fit["npar"] - 1
    assert result.fit["df"] == single.fit["df"] + 1
    est = result.loadings.set_index("item")["est"]
    assert est["x2"] == est["x3"]
    assert result.fit["chisq"] > single.fit["chisq"]


def test_cross_loading_and_residual_covariance_match_lavaan(hs):
    block = GOLDEN["cross"]
    with pytest.warns(CFAWarning) as record:
        result = fit_cfa(hs, block["model"])
    assert any("negative residual variance" in str(w.message) for w in record)
    assert_fit_matches(result, block)
    assert_params_match(result, block)
    # lavaan warns "some estimated ov variances are negative" here too
    assert set(result.heywood_cases["variable"]) == {"x8"}


def test_near_unidentified_model_is_flagged_but_fitted(hs):
    block = GOLDEN["cross_by_grade"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit_cfa(hs, block["model"], group="grade")
    messages = [str(w.message) for w in caught]
    assert any("nearly singular" in m for m in messages)
    assert result.identified and result.heywood
    assert result.group_levels == ["7", "8"]
    # the likelihood is flat here: estimates wander, the fit does not
    assert result.fit["chisq"] == pytest.approx(block["fit"]["chisq"], rel=1e-4)
    for name in ("cfi", "tli", "rmsea", "srmr"):
        assert result.fit[name] == pytest.approx(block["fit"][name], abs=1e-4)


def test_mixed_keyed_items_converge_to_lavaan():
    # Unreversed reverse-keyed items: loadings of both signs on one factor. Starting values
    # that ignored the signs sent loadings to 1e5 (chi-square 205.6 against lavaan's 129.2).
    block = LAVAAN_START_GOLDEN["single"]
    result = fit_cfa(pd.read_csv(MIXED_KEYED_DATA), LAVAAN_START_GOLDEN["model"])
    assert result.converged and not result.heywood
    assert_fit_matches(result, block)
    assert_params_match(result, block)
    assert (result.loadings["est"] < 0).sum() == 7


def test_fabin_start_values_as_lavaan():
    # lavaan's starts: FABIN 3 loadings (first indicator 1), residual variances S_ii / 2,
    # factor variances 0.05, covariances 0, intercepts the sample means.
    data = pd.read_csv(MIXED_KEYED_DATA)
    model = LAVAAN_START_GOLDEN["model"]
    pt = build_partable(parse_model(model))
    x = data[pt.observed].to_numpy(float)
    problem = MLProblem(pt, [GroupMoments(len(x), np.cov(x, rowvar=False, bias=True), x.mean(0))])
    starts = problem.start_values()
    by_name = {(p.lhs, p.op, p.rhs): starts[p.index] for p in pt.params if p.free}
    s = np.cov(x, rowvar=False, bias=True)
    assert by_name[("y1", "~~", "y1")] == pytest.approx(s[0, 0] / 2)
    assert by_name[("f1", "~~", "f1")] == 0.05 and by_name[("f1", "~~", "f2")] == 0.0
    # FABIN 3 by hand for y2 on f1: instruments are the indicators other than y1 and y2
    rest = [2, 3, 4, 5]
    w = np.linalg.solve(s[np.ix_(rest, rest)], s[rest, 0])
    assert by_name[("f1", "=~", "y2")] == pytest.approx((s[1, rest] @ w) / (s[rest, 0] @ w))
    signs = [np.sign(by_name[("f1", "=~", f"y{i}")]) for i in range(2, 7)]
    assert signs == [1, 1, 1, -1, -1]


# -- the likelihood machinery -------------------------------------------------------------
def test_analytic_gradient_matches_finite_differences(hs):
    pt = build_partable(
        parse_model(MODEL), n_groups=2, meanstructure=True, group_equal=("loadings", "intercepts")
    )
    obs = pt.observed
    moments = []
    for school in ("Pasteur", "Grant-White"):
        x = hs.loc[hs["school"] == school, obs].to_numpy(float)
        moments.append(GroupMoments(len(x), np.cov(x, rowvar=False, bias=True), x.mean(0)))
    problem = MLProblem(pt, moments)
    rng = np.random.default_rng(1)
    x0 = problem.start_values() * (1 + 0.05 * rng.standard_normal(pt.n_free))
    numeric = np.array(
        [
            (problem.objective(x0 + h) - problem.objective(x0 - h)) / 2e-6
            for h in np.eye(pt.n_free) * 1e-6
        ]
    )
    np.testing.assert_allclose(problem.gradient(x0), numeric, rtol=1e-4, atol=1e-7)


def _exact_sample(cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Rows whose covariance (divisor n) is exactly ``cov``."""
    z = np.random.default_rng(seed).standard_normal((n, cov.shape[0]))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False, bias=True))).T
    return z @ np.linalg.cholesky(cov).T


def test_heywood_case_is_reported_not_hidden():
    # One factor, three indicators: lambda_1^2 = r12 r13 / r23 = 1.28 > 1, so theta_1 < 0.
    r = np.array([[1.0, 0.8, 0.8], [0.8, 1.0, 0.5], [0.8, 0.5, 1.0]])
    data = pd.DataFrame(_exact_sample(r, 200, seed=3), columns=["a", "b", "c"])
    with pytest.warns(CFAWarning) as record:
        result = fit_cfa(data, "f =~ a + b + c")
    messages = [str(w.message) for w in record]
    assert any("negative residual variance" in m for m in messages)
    assert any("standardised loading beyond 1" in m for m in messages)
    assert result.converged
    assert result.heywood
    kinds = set(result.heywood_cases["kind"])
    assert kinds == {"negative residual variance", "standardised loading beyond 1"}
    theta_a = result.parameters.query("op == '~~' and lhs == 'a' and rhs == 'a'")["est"].item()
    assert theta_a == pytest.approx(1 - 1.28, abs=1e-5)
    assert result.loadings.set_index("item").loc["a", "std"] == pytest.approx(
        np.sqrt(1.28), abs=1e-5
    )
    assert any("Heywood" in w for w in result.warnings)


def test_non_convergence_is_reported_without_fit_measures(hs):
    with pytest.warns(CFAWarning, match="did not converge"):
        result = fit_cfa(hs, MODEL, max_iter=2)
    assert not result.converged
    assert any("did not converge" in w for w in result.warnings)
    # lavaan: "fit measures not available if model did not converge"
    for name in ("chisq", "pvalue", "cfi", "tli", "rmsea", "srmr", "logl", "aic", "bic"):
        assert np.isnan(result.fit[name]), name
    assert result.fit["df"] == 24 and result.fit["n"] == 301
    assert result.parameters["se"].isna().all()


def test_start_from_another_fit(hs, single):
    again = fit_cfa(hs, MODEL, start=single)
    assert again.converged and again.iterations < single.iterations
    assert again.fit["chisq"] == pytest.approx(single.fit["chisq"], rel=1e-10)


def test_cli_cfa_refuses_to_report_a_non_converged_fit():
    out = CliRunner().invoke(main, ["cfa", str(DATA), "--model", MODEL, "--max-iter", "2"])
    assert out.exit_code == 3, out.output
    assert "did not converge, so no fit is reported" in out.output
    assert "CFI" not in out.output
    out = CliRunner().invoke(main, ["cfa", str(DATA), "--model", MODEL, "--max-iter", "2",
                                    "--format", "json"])
    assert out.exit_code == 3 and json.loads(out.output)["error"]["code"] == "not_converged"


def test_empirically_unidentified_model_is_flagged(hs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit_cfa(hs, "f =~ x1 + x2; g =~ x4 + x5; f ~~ 0*g")
    assert not result.identified
    assert result.loadings["se"].isna().all()
    assert any("not identified" in str(w.message) for w in caught)


def test_negative_df_is_refused(hs):
    with pytest.raises(CFAError, match="not identified"):
        fit_cfa(hs, "f =~ x1 + x2")


# -- instruments ----------------------------------------------------------------------------
def _instrument() -> Instrument:
    agree = ResponseScale("agree", "likert", 1, 5, missing_codes=(9,))
    items = [Item(f"a{i}", "agree", reverse=(i == 4)) for i in range(1, 5)]
    items += [Item(f"b{i}", "agree") for i in range(1, 5)]
    scales = (
        Scale("alpha", "Alpha", tuple(f"a{i}" for i in range(1, 5)), "mean", 3),
        Scale("beta", "Beta", tuple(f"b{i}" for i in range(1, 5)), "mean", 3),
        Scale("total", "Total", tuple(it.id for it in items), "mean", 6),
    )
    licence = Licence("test", "test only", wording_included=False)
    return Instrument("toy", "Toy", "1", "none", licence, {"agree": agree}, tuple(items), scales)


def _likert_data(n: int = 400, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    factors = rng.multivariate_normal([0, 0], [[1, 0.4], [0.4, 1]], size=n)
    columns = {}
    for block, f in (("a", factors[:, 0]), ("b", factors[:, 1])):
        for i in range(1, 5):
            sign = -1 if (block, i) == ("a", 4) else 1
            latent = sign * 0.8 * f + 0.6 * rng.standard_normal(n)
            columns[f"{block}{i}"] = np.clip(np.round(3 + latent * 1.2), 1, 5)
    return pd.DataFrame(columns)


def test_instrument_scales_become_factors_with_reversal():
    data = _likert_data()
    data.loc[5, "a2"] = 9  # declared missing code -> missing -> row deleted
    result = fit_cfa(data, _instrument(), scales=["alpha", "beta"])
    manual = data.copy()
    manual["a4"] = 6 - manual["a4"]
    manual.loc[5, "a2"] = np.nan
    expected = fit_cfa(manual, "alpha =~ a1 + a2 + a3 + a4\nbeta =~ b1 + b2 + b3 + b4")
    assert result.fit["chisq"] == pytest.approx(expected.fit["chisq"], rel=1e-8)
    assert result.n == 399
    assert list(result.loadings["factor"].unique()) == ["alpha", "beta"]
    assert (result.loadings["std"] > 0.5).all()  # a4 loads positively once reversed
    assert any("a4" in note for note in result.notes)


def test_instrument_overlapping_scales_refused():
    with pytest.raises(CFAError, match="belongs to scales 'alpha' and 'total'"):
        fit_cfa(_likert_data(), _instrument())


def test_instrument_value_outside_bounds_names_column_and_row():
    data = _likert_data()
    data.loc[11, "b3"] = 7
    with pytest.raises(CFAError, match=r"column 'b3', row 12: value 7 is outside"):
        fit_cfa(data, _instrument(), scales=["alpha", "beta"])


def test_bundled_proqol5_through_the_cli(tmp_path):
    proqol = resolve_instrument("proqol5")
    rng = np.random.default_rng(11)
    factors = rng.multivariate_normal(
        [0, 0, 0], [[1, -0.3, -0.2], [-0.3, 1, 0.6], [-0.2, 0.6, 1]], size=500
    )
    columns = {}
    for f, scale in enumerate(proqol.scales):
        for item in scale.items:
            latent = 0.7 * factors[:, f] + 0.7 * rng.standard_normal(500)
            answer = np.clip(np.round(3 + latent), 1, 5)
            columns[item] = 6 - answer if proqol.item(item).reverse else answer
    path = tmp_path / "proqol.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    out = CliRunner().invoke(main, ["cfa", str(path), "-i", "proqol5", "--format", "json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["n"] == 500 and payload["df"] == 30 * 31 // 2 - 63
    assert {row["factor"] for row in payload["loadings"]} == {s.id for s in proqol.scales}
    assert min(row["std"] for row in payload["loadings"]) > 0.4  # reversed items load positively
    assert any("reverse-keyed" in note for note in payload["notes"])


def test_unknown_instrument_scale_is_named():
    with pytest.raises(CFAError, match="no scale.*'gamma'"):
        fit_cfa(_likert_data(), _instrument(), scales=["alpha", "gamma"])


# -- bad input ------------------------------------------------------------------------------
def test_non_numeric_value_names_column_and_row(hs):
    data = hs.copy()
    data["x5"] = data["x5"].astype(object)
    data.loc[41, "x5"] = "n/a?"
    with pytest.raises(CFAError, match=r"column 'x5', row 42: value 'n/a\?' is not a number"):
        fit_cfa(data, MODEL)


def test_missing_column_is_named(hs):
    with pytest.raises(CFAError, match="no column.*x10"):
        fit_cfa(hs, "f =~ x1 + x2 + x10")


def test_too_few_respondents_refused(hs):
    with pytest.raises(CFAError, match="disclosure threshold"):
        fit_cfa(hs.head(9), MODEL)


def test_group_options_need_group(hs):
    with pytest.raises(CFAError, match="need a group column"):
        fit_cfa(hs, MODEL, group_equal=("loadings",))


# -- syntax -----------------------------------------------------------------------------------
def test_syntax_separators_comments_and_continuations_agree():
    semicolons = parse_model("visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6")
    lines = parse_model(
        "# two factors\nvisual =~ x1 + x2 +\n   x3   ! continued\n\ntextual =~ x4\n + x5 + x6\n"
    )
    assert semicolons == lines
    assert [(t.lhs, t.rhs) for t in lines][:3] == [
        ("visual", "x1"),
        ("visual", "x2"),
        ("visual", "x3"),
    ]


def test_syntax_modifiers():
    terms = parse_model("f =~ NA*x1 + lab*x2 + 0.5*x3 + start(0.7)*x4; f ~~ 1*f; x1 ~~ x2; x1 ~ 1")
    by_rhs = {(t.op, t.rhs): t for t in terms}
    assert by_rhs[("=~", "x1")].free_marker
    assert by_rhs[("=~", "x2")].label == "lab"
    assert by_rhs[("=~", "x3")].fixed == 0.5
    assert by_rhs[("=~", "x4")].start == 0.7
    assert by_rhs[("~~", "f")].fixed == 1.0
    assert ("~", "1") in by_rhs


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("y ~ x1", "regressions are not supported"),
        ("f =~ x1 + x2 + x3\nab := a*b", "defined parameters"),
        ("f =~ c(1, NA)*x1 + x2 + x3", "group-specific"),
        ("f =~ x1 + x2 + x3; f =~ x1", "more than once"),
        ("f =~ x1", "at least 2"),
        ("f =~ x1 + x2 + x3; g =~ f + x4 + x5", "higher-order"),
        ("f =~ x1 + x2 + x3; x9 ~~ x1", "neither a factor"),
        ("", "empty"),
    ],
)
def test_unsupported_or_bad_syntax_is_refused(text, message):
    with pytest.raises(LavaanSyntaxError, match=message):
        build_partable(parse_model(text))


def test_parameter_refs():
    assert str(parse_parameter_ref("visual =~ x2")) == "visual=~x2"
    assert parse_parameter_ref("x3~1").op == "~"
    assert parse_parameter_ref("x2 ~~ x1").matches("x1", "~~", "x2")
    with pytest.raises(LavaanSyntaxError):
        parse_parameter_ref("visual x2")


# -- CLI --------------------------------------------------------------------------------------
def test_cli_cfa_json():
    out = CliRunner().invoke(main, ["cfa", str(DATA), "--model", MODEL, "--format", "json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    expected_keys = {
        "n",
        "chisq",
        "df",
        "pvalue",
        "cfi",
        "tli",
        "rmsea",
        "rmsea_ci",
        "srmr",
        "loglik",
        "aic",
        "bic",
        "loadings",
    }
    assert expected_keys <= set(payload)
    assert payload["chisq"] == pytest.approx(GOLDEN["single"]["fit"]["chisq"], rel=1e-6)
    assert payload["loglik"] == pytest.approx(GOLDEN["single"]["fit"]["logl"], rel=1e-8)
    assert payload["rmsea_ci"][1] == pytest.approx(0.113678, abs=1e-5)
    assert set(payload["loadings"][1]) == {"factor", "item", "est", "se", "std"}
    assert payload["loadings"][0]["se"] is None  # fixed marker loading


def test_cli_cfa_reads_excel_and_prints_table(tmp_path):
    path = tmp_path / "hs.xlsx"
    pd.read_csv(DATA).to_excel(path, index=False)
    out = CliRunner().invoke(main, ["cfa", str(path), "--model", MODEL])
    assert out.exit_code == 0, out.output
    assert "85.306" in out.output and "CFI" in out.output


def test_cli_errors_name_the_file():
    out = CliRunner().invoke(main, ["cfa", str(DATA), "--model", "f =~ x1 + x2 + nope"])
    assert out.exit_code == 2
    assert "HolzingerSwineford1939.csv" in out.output and "nope" in out.output
    both = CliRunner().invoke(main, ["cfa", str(DATA), "--model", MODEL, "-i", "x"])
    assert both.exit_code == 2 and "exactly one" in both.output
