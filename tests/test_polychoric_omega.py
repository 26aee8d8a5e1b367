"""Omega total (one-factor minres) and polychoric correlations against R psych golden values
(tests/reference/psych_reference.R) and cases with known answers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from fieldsurvey.psychometrics import (
    MiskeyedItemsWarning,
    minres_one_factor,
    oblimin,
    omega_hierarchical,
    omega_total,
    ordinal_alpha,
    polychoric,
    polychoric_matrix,
    scale_reliability,
)
from fieldsurvey.psychometrics.polychoric import _bvn_cdf
from golden import BFI_KEYS, PSYCH_ITEMS_GOLDEN, keyed, read_bfi, unkeyed
from golden import PSYCH_GOLDEN as GOLDEN


@pytest.fixture(scope="module")
def bfi() -> pd.DataFrame:
    return read_bfi()


# --- omega ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", list(BFI_KEYS))
def test_omega_total_matches_psych_omega_one_factor(bfi, scale):
    gold = GOLDEN["omega_total"][scale]
    x = keyed(bfi, scale)
    assert omega_total(x) == pytest.approx(gold, abs=1e-4)
    assert scale_reliability(x).summary["omega_total"] == pytest.approx(gold, abs=1e-4)


@pytest.mark.parametrize("scale", list(BFI_KEYS))
def test_omega_total_flips_negative_loadings_as_psych(bfi, scale):
    # Unreversed keyed-negative items: psych::omega (flip = TRUE) reverses them on the factor.
    gold = PSYCH_ITEMS_GOLDEN["omega_raw"][scale]
    x = unkeyed(bfi, scale)
    assert omega_total(x) == pytest.approx(gold["omega_total"], abs=1e-4)
    assert omega_total(x, flip=False) == pytest.approx(gold["omega_total_unflipped"], abs=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MiskeyedItemsWarning)  # alpha < 0: said, not our subject
        summary = scale_reliability(x).summary
    assert summary["omega_total"] == pytest.approx(gold["omega_total"], abs=1e-4)
    # flipping is the same as reversing the items by hand
    assert omega_total(x) == pytest.approx(omega_total(keyed(bfi, scale)), abs=1e-8)


def test_minres_recovers_an_exact_one_factor_matrix():
    load = np.array([0.8, 0.7, 0.6, 0.5, 0.3])
    r = np.outer(load, load)
    np.fill_diagonal(r, 1.0)
    np.testing.assert_allclose(minres_one_factor(r), load, atol=1e-8)
    # With an exact fit, omega total = (sum of loadings)^2 / sum(R).
    assert omega_total(r) == pytest.approx(load.sum() ** 2 / r.sum(), abs=1e-10)


def test_minres_loadings_point_the_scale_direction():
    load = np.array([-0.8, -0.7, -0.6])
    r = np.outer(load, load)
    np.fill_diagonal(r, 1.0)
    assert (minres_one_factor(r) > 0).all()


def test_omega_total_listwise_uses_complete_cases_only(bfi):
    x = keyed(bfi, "agree")
    assert omega_total(x, missing="listwise") == pytest.approx(omega_total(x.dropna()), abs=1e-12)
    assert omega_total(x, missing="listwise") != pytest.approx(omega_total(x), abs=1e-6)


def test_minres_refuses_matrices_it_cannot_fit():
    with pytest.raises(ValueError, match="square correlation matrix"):
        minres_one_factor(np.ones((1, 1)))
    with pytest.raises(ValueError, match="missing values"):
        minres_one_factor(np.array([[1, np.nan], [np.nan, 1]]))


@pytest.mark.parametrize(
    "name", ["agree_conscientious", "agree_conscientious_extraversion", "all_five"]
)
def test_omega_hierarchical_matches_psych_omega(bfi, name):
    gold = GOLDEN["omega_h"][name]
    reverse = {k[1:] for keys in BFI_KEYS.values() for k in keys if k.startswith("-")}
    x = pd.DataFrame({i: 7 - bfi[i] if i in reverse else bfi[i] for i in gold["items"]})
    res = omega_hierarchical(x, gold["n_factors"])
    # psych's oblimin (GPArotation) stops at a gradient of 1e-5; ours at 1e-7.
    assert res["omega_h"] == pytest.approx(gold["omega_h"], abs=1e-4)
    assert res["omega_total"] == pytest.approx(gold["omega_total"], abs=1e-3)


def test_omega_hierarchical_recovers_an_exact_bifactor_structure():
    general = np.array([0.6, 0.6, 0.6, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4])
    group = np.zeros((9, 3))
    group[0:3, 0] = group[3:6, 1] = group[6:9, 2] = 0.5
    r = np.outer(general, general) + group @ group.T
    np.fill_diagonal(r, 1.0)
    res = omega_hierarchical(r, 3)
    assert res["omega_h"] == pytest.approx(general.sum() ** 2 / r.sum(), abs=1e-6)
    communality = general**2 + (group**2).sum(axis=1)
    assert res["omega_total"] == pytest.approx(1 - (1 - communality).sum() / r.sum(), abs=1e-6)
    with pytest.raises(ValueError, match="at least two group factors"):
        omega_hierarchical(r, 1)


def test_oblimin_finds_simple_structure():
    pattern = np.array([[0.8, 0], [0.7, 0], [0.6, 0], [0, 0.7], [0, 0.6], [0, 0.5]])
    phi = np.array([[1.0, 0.4], [0.4, 1.0]])
    # Present the structure rotated away from simple structure; oblimin must find it again.
    angle = 0.6
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    start = pattern @ np.linalg.cholesky(phi) @ turn
    found, found_phi = oblimin(start)
    order = np.argsort(-np.abs(found[0]))
    found, found_phi = found[:, order], found_phi[np.ix_(order, order)]
    signs = np.sign(found.sum(axis=0))
    np.testing.assert_allclose(found * signs, pattern, atol=1e-6)
    assert abs(found_phi[0, 1]) == pytest.approx(0.4, abs=1e-6)


# --- polychoric -------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", ["agree", "neuroticism"])
def test_polychoric_matches_psych(bfi, scale):
    gold = GOLDEN["polychoric"][scale]
    res = polychoric(keyed(bfi, scale))
    assert list(res.rho.columns) == gold["items"]
    np.testing.assert_allclose(res.rho.to_numpy(), np.array(gold["rho"]), atol=1e-4)
    np.testing.assert_allclose(res.tau.to_numpy(), np.array(gold["tau"]), atol=1e-10)
    assert list(res.tau.columns) == ["1", "2", "3", "4", "5"]
    assert ordinal_alpha(keyed(bfi, scale)) == pytest.approx(gold["ordinal_alpha"], abs=1e-4)


def test_polychoric_with_unequal_top_categories_matches_psych_per_pair_thresholds(bfi):
    gold = GOLDEN["polychoric"]["agree_A2_top_merged"]
    x = keyed(bfi, "agree")
    x["A2"] = x["A2"].replace(6, 5)
    np.testing.assert_allclose(polychoric_matrix(x).to_numpy(), np.array(gold["rho"]), atol=1e-4)
    assert polychoric(x).tau.loc["A2", "5"] == np.inf  # unused top category, as psych


def test_polychoric_recovers_the_latent_correlation():
    rng = np.random.default_rng(5)
    latent = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=20_000)
    cuts = [-1.0, -0.2, 0.5, 1.3]
    codes = pd.DataFrame(np.digitize(latent, cuts) + 1, columns=["a", "b"])
    assert polychoric_matrix(codes).loc["a", "b"] == pytest.approx(0.6, abs=0.02)
    # The Pearson correlation of the coarse codes is attenuated; the polychoric is not.
    assert codes.corr().loc["a", "b"] < 0.58


def test_bivariate_normal_cdf_agrees_with_scipy():
    h = np.array([-1.5, -0.2, 0.3, 1.1, 2.0])
    k = np.array([0.4, -0.9, -0.5, 1.2, 1.9])
    for rho in (-0.8, -0.3, 0.2, 0.7, 0.95):
        ref = [
            multivariate_normal(cov=[[1, rho], [rho, 1]]).cdf([a, b])
            for a, b in zip(h, k, strict=True)
        ]
        np.testing.assert_allclose(_bvn_cdf(h, k, rho), ref, atol=1e-6)


def test_polychoric_refuses_unsuitable_items():
    with pytest.raises(ValueError, match="item 'b' has no variance"):
        polychoric_matrix(pd.DataFrame({"a": [1, 2, 3], "b": [2, 2, 2]}))
    with pytest.raises(ValueError, match="non-integer"):
        polychoric_matrix(pd.DataFrame({"a": [1, 2, 3], "b": [1.5, 2, 3]}))
    with pytest.raises(ValueError, match="answer categories"):
        polychoric_matrix(pd.DataFrame({"a": [1, 5, 10], "b": [1, 2, 3]}))
