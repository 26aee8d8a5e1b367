"""Golden values computed in R (scripts in tests/reference/) and the data loaders and comparisons
that the golden-value tests share. Imported as a plain module (`from golden import ...`), like
conftest: pytest puts tests/ on sys.path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HERE = Path(__file__).resolve().parent

# -- lavaan (tests/reference/lavaan_reference.R) -------------------------------------------------
HS_DATA = HERE / "data" / "HolzingerSwineford1939.csv"
LAVAAN_GOLDEN = json.loads((HERE / "reference" / "lavaan_golden.json").read_text())
# tests/reference/lavaan_start_reference.R: items loading with mixed signs
MIXED_KEYED_DATA = HERE / "data" / "mixed_keyed.csv"
LAVAAN_START_GOLDEN = json.loads((HERE / "reference" / "lavaan_start_golden.json").read_text())
# tests/reference/lavaan_groups_reference.R: lavaan's group order and a chosen reference group
LAVAAN_GROUPS_GOLDEN = json.loads((HERE / "reference" / "lavaan_groups_golden.json").read_text())

# lavaan fitMeasures name -> our fit Series name
FIT_NAMES = {
    "npar": "npar",
    "ntotal": "n",
    "chisq": "chisq",
    "df": "df",
    "pvalue": "pvalue",
    "baseline.chisq": "baseline_chisq",
    "baseline.df": "baseline_df",
    "cfi": "cfi",
    "tli": "tli",
    "rmsea": "rmsea",
    "rmsea.ci.lower": "rmsea_ci_lower",
    "rmsea.ci.upper": "rmsea_ci_upper",
    "srmr": "srmr",
    "srmr_bentler_nomean": "srmr_nomean",
    "logl": "logl",
    "unrestricted.logl": "unrestricted_logl",
    "aic": "aic",
    "bic": "bic",
}
RELATIVE = {"chisq", "baseline.chisq", "logl", "unrestricted.logl", "aic", "bic"}
RELATIVE |= {"chisq.scaled", "baseline.chisq.scaled"}
PVALUES = {"pvalue", "pvalue.scaled"}
NOT_COMPARED = {"df.scaled"}  # always df here


def fit_name(lavaan_name: str) -> str:
    """Our name of a lavaan fit measure: FIT_NAMES, else dots become underscores."""
    return FIT_NAMES.get(lavaan_name, lavaan_name.replace(".", "_"))


def assert_fit_matches(result, block, tol: float = 1e-5) -> None:
    """Every fit measure in the golden block within ``tol`` (chi-squares, log-likelihoods,
    AIC and BIC relative; p-values relative 1e-3 or absolute 1e-9)."""
    assert block["fit"], "empty golden block"
    for lavaan_name in block["fit"]:
        if lavaan_name in NOT_COMPARED:
            continue
        expected = block["fit"][lavaan_name]
        got = result.fit[fit_name(lavaan_name)]
        if expected == "NA":  # lavaan could not compute it (the caller checks which)
            continue
        if expected is None:
            assert np.isnan(got), lavaan_name
        elif lavaan_name in RELATIVE:
            assert got == pytest.approx(expected, rel=tol), lavaan_name
        elif lavaan_name in PVALUES:
            assert got == pytest.approx(expected, rel=1e-3, abs=1e-9), lavaan_name
        else:
            assert got == pytest.approx(expected, abs=tol), lavaan_name


def assert_params_match(
    result, block, groups: list[str] | None = None, se_tol: float = 1e-4
) -> None:
    expected = pd.DataFrame(block["params"])
    ours = result.parameters
    key = ["lhs", "op", "rhs"]
    if groups is not None:
        expected["group"] = expected["group"].map(lambda g: groups[g - 1])
        key.append("group")
    merged = expected.merge(ours, on=key, how="outer", suffixes=("_lavaan", ""), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][key]
    np.testing.assert_allclose(merged["est"], merged["est_lavaan"], atol=1e-4)
    np.testing.assert_allclose(merged["std_all"], merged["std_all_lavaan"], atol=1e-4)
    free = merged[merged["free"]]
    np.testing.assert_allclose(free["se"], free["se_lavaan"], atol=se_tol)
    assert merged.loc[~merged["free"], "se"].isna().all()  # fixed: NaN here, 0 in lavaan


# tests/reference/lavaan_fiml_reference.R: FIML and MLR
HS_MISSING_DATA = HERE / "data" / "HolzingerSwineford1939_missing.csv"
LAVAAN_FIML_GOLDEN = json.loads((HERE / "reference" / "lavaan_fiml_golden.json").read_text())


# tests/reference/lavaan_ordinal_reference.R: ordinal CFA (WLSMV) and threshold invariance
LAVAAN_ORDINAL_GOLDEN = json.loads((HERE / "reference" / "lavaan_ordinal_golden.json").read_text())
BFI_DEMOGRAPHICS = HERE / "data" / "bfi_demographics.csv"
# tests/reference/lavaan_score_reference.R: lavTestScore and the partially invariant models
LAVAAN_SCORE_GOLDEN = json.loads((HERE / "reference" / "lavaan_score_golden.json").read_text())


# -- psych (tests/reference/psych_reference.R) ---------------------------------------------------
BFI_DATA = HERE / "data" / "bfi.csv"
PSYCH_GOLDEN = json.loads((HERE / "reference" / "psych_golden.json").read_text())
# tests/reference/psych_items_reference.R: alpha's raw.r/std.r/r.cor, omega of mixed-keyed items
PSYCH_ITEMS_GOLDEN = json.loads((HERE / "reference" / "psych_items_golden.json").read_text())

# psych's bfi.keys: a leading "-" marks a reverse-keyed item.
BFI_KEYS = {
    "agree": ["-A1", "A2", "A3", "A4", "A5"],
    "conscientious": ["C1", "C2", "C3", "-C4", "-C5"],
    "extraversion": ["-E1", "-E2", "E3", "E4", "E5"],
    "neuroticism": ["N1", "N2", "N3", "N4", "N5"],
    "openness": ["O1", "-O2", "O3", "O4", "-O5"],
}


def read_bfi() -> pd.DataFrame:
    return pd.read_csv(BFI_DATA, index_col="id")


def unkeyed(bfi: pd.DataFrame, scale: str) -> pd.DataFrame:
    """The scale's items as answered, keyed-negative items not reversed."""
    return bfi[[key.lstrip("-") for key in BFI_KEYS[scale]]]


def keyed(bfi: pd.DataFrame, scale: str) -> pd.DataFrame:
    """The scale's items with reverse-keyed ones reversed as 7 - x (bounds 1..6), as in the R script."""
    cols = {}
    for key in BFI_KEYS[scale]:
        name = key.lstrip("-")
        cols[name] = 7 - bfi[name] if key.startswith("-") else bfi[name]
    return pd.DataFrame(cols)
