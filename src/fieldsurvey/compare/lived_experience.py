"""The lived-experience lens: staff with lived experience against other staff.

Lived-experience staff (``wf_lived_exp == 1``) are compared with other staff (``== 2``);
"prefer not to say" (3) and missing answers are excluded from the comparison and counted. The
lens runs field-wide and inside each organisation where both groups have at least ``min_cell``
respondents. The group column it adds is called ``lived_experience`` (values "yes"/"no"), the
name the disclosure policy treats as sensitive by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fieldsurvey.compare._common import ALL, CompareError, as_list, require_columns
from fieldsurvey.compare.categorical import category_distribution
from fieldsurvey.compare.drivers import CONDITIONS, INDIVIDUAL, WELLBEING
from fieldsurvey.compare.groups import compare_groups, mann_whitney, two_groups_by_unit

GROUP = "lived_experience"
_CODES = {1: "yes", 2: "no", 3: "prefer not to say"}


@dataclass
class LivedExperienceLens:
    """Tables of the lens; every row carries ``org`` (NA = field) and counts for the gate.

    Attributes
    ----------
    tests : DataFrame
        :func:`~fieldsurvey.compare.groups.compare_groups` rows (yes vs no), field and
        analysed organisations, with ``analysed`` True.
    groups : DataFrame
        n, mean, SD per unit x scale x group.
    payband : DataFrame
        Pay-band distribution per unit x group (``n``, ``n_group``, ``proportion``).
    payband_test : DataFrame
        Mann-Whitney U on the ordinal pay band per unit (``u``, ``p``, ``rank_biserial``;
        positive means lived-experience staff sit in *higher* bands).
    cells : DataFrame
        Per unit: respondents with lived experience, other staff, "prefer not to say",
        missing, and whether the unit was analysed.
    """

    tests: pd.DataFrame
    groups: pd.DataFrame
    payband: pd.DataFrame
    payband_test: pd.DataFrame
    cells: pd.DataFrame


def lived_experience_lens(
    data: pd.DataFrame,
    scales: str | Sequence[str] | None = None,
    *,
    org: str = "org",
    column: str = "wf_lived_exp",
    payband: str | None = "wf_payband",
    min_cell: int = 10,
    correction: str = "holm",
) -> LivedExperienceLens:
    """Compare lived-experience staff with other staff, field-wide and inside organisations.

    Parameters
    ----------
    data : DataFrame
        Scores joined with ``org``, ``column`` and ``payband``.
    scales : str or list of str, optional
        Default: the wellbeing scales, condition subscales and financial strain present.
    org : str
    column : str
        Lived-experience answer: 1 yes, 2 no, 3 prefer not to say.
    payband : str or None
        Ordinal pay band column (higher = better paid); None skips the pay analysis.
    min_cell : int
        An organisation is analysed when both groups have at least this many respondents.
    correction : {"holm", "fdr_bh"}

    Returns
    -------
    LivedExperienceLens

    Examples
    --------
    >>> from fieldsurvey.synthetic import generate_coalition
    >>> from fieldsurvey.scoring import score_scales
    >>> study = generate_coalition(n_orgs=10, seed=4)
    >>> d = score_scales(study.responses, ["proqol5"]).join(study.responses[["org", "wf_lived_exp",
    ...                                                                       "wf_payband"]])
    >>> lens = lived_experience_lens(d, "burnout")
    >>> lens.tests.loc[lens.tests["org"].isna(), "test"].iloc[0]
    'welch_t'
    """
    require_columns(data, [org, column] + ([payband] if payband else []))
    if scales is None:
        scales = [c for c in (*WELLBEING, *CONDITIONS, *INDIVIDUAL) if c in data.columns]
    scales = as_list(scales)
    codes = pd.to_numeric(data[column], errors="coerce")
    bad = codes.notna() & ~codes.isin(list(_CODES))
    if bad.any():
        row = data.index[bad.to_numpy().argmax()]
        raise CompareError(
            f"column {column!r} row {row!r}: {data[column].loc[row]!r} is not "
            "1 (yes), 2 (no) or 3 (prefer not to say)"
        )
    label = codes.map(_CODES)
    frame = data.assign(**{GROUP: label})

    cells = _cells(frame, org, min_cell)
    analysed = cells.loc[cells["analysed"] & cells[org].notna(), org].tolist()
    # Everyone stays in: rows for "everyone" (lived_experience NA) must count the excluded
    # answers too, exactly as the disclosure gate counts them.
    in_orgs = frame.loc[frame[org].isin(analysed)]

    field_tests = compare_groups(frame, scales, GROUP, groups=["yes", "no"], correction=correction)
    field_tests.insert(0, org, ALL)
    parts = [field_tests]
    groups = [_with_org(field_tests.attrs["groups"].frame, org)]
    if analysed:
        org_tests = compare_groups(
            in_orgs, scales, GROUP, within=org, groups=["yes", "no"], correction=correction
        )
        org_tests = org_tests.loc[org_tests[org].notna()]
        parts.append(org_tests)
        g = org_tests.attrs["groups"].frame
        groups.append(g.loc[g[org].notna()])
    for part in parts:
        part.attrs = {}
    tests = pd.concat(parts, ignore_index=True)
    tests["analysed"] = True

    pay = pay_test = pd.DataFrame()
    if payband:
        dist = category_distribution(frame, payband, GROUP, groups=["yes", "no"])
        pay_parts = [_with_org(dist, org)]
        if analysed:
            org_dist = category_distribution(
                in_orgs, payband, GROUP, within=org, groups=["yes", "no"]
            )
            pay_parts.append(org_dist.loc[org_dist[org].notna()])
        pay = pd.concat(pay_parts, ignore_index=True)
        pay_test = _payband_tests(frame, in_orgs, payband, org)
    return LivedExperienceLens(
        tests=tests,
        groups=pd.concat(groups, ignore_index=True),
        payband=pay,
        payband_test=pay_test,
        cells=cells,
    )


def _with_org(table: pd.DataFrame, org: str) -> pd.DataFrame:
    out = table.copy()
    out.insert(0, org, ALL)
    return out


def _cells(frame: pd.DataFrame, org: str, min_cell: int) -> pd.DataFrame:
    status = frame[GROUP].fillna("missing")
    counts = pd.crosstab(frame[org], status).reindex(
        columns=["yes", "no", "prefer not to say", "missing"], fill_value=0
    )
    total = counts.sum().to_frame().T
    total.index = pd.Index([ALL], name=org)
    table = pd.concat([total, counts])
    out = pd.DataFrame(
        {
            org: list(table.index),
            "n": table.sum(axis=1).to_numpy(),
            "n_yes": table["yes"].to_numpy(),
            "n_no": table["no"].to_numpy(),
            "n_prefer_not_to_say": table["prefer not to say"].to_numpy(),
            "n_missing": table["missing"].to_numpy(),
        }
    )
    out["analysed"] = (out["n_yes"] >= min_cell) & (out["n_no"] >= min_cell)
    out[org] = out[org].astype(object).where(out[org].notna(), ALL)
    return out


def _payband_tests(everyone, in_orgs, payband, org) -> pd.DataFrame:
    def numeric(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(
            **{payband: pd.to_numeric(frame[payband], errors="coerce").astype(float)}
        )

    everyone = numeric(everyone)
    yes = everyone.loc[everyone[GROUP] == "yes", payband].dropna().to_numpy(float)
    no = everyone.loc[everyone[GROUP] == "no", payband].dropna().to_numpy(float)
    field = {
        org: ALL,
        "n": len(everyone),
        "n_valid": yes.size + no.size,
        "mean_band_yes": yes.mean() if yes.size else np.nan,
        "mean_band_no": no.mean() if no.size else np.nan,
        "u": np.nan,
        "p": np.nan,
        "rank_biserial": np.nan,
    }
    if yes.size >= 2 and no.size >= 2:
        field["u"], field["p"], field["rank_biserial"] = mann_whitney(yes, no)
    rows = [pd.DataFrame([field])]
    if len(in_orgs):
        in_orgs = numeric(in_orgs)
        units = two_groups_by_unit(in_orgs, org, GROUP, ["yes", "no"], payband)
        means = (
            in_orgs.groupby([org, GROUP])[payband]
            .mean()
            .unstack(GROUP)
            .reindex(index=units[org], columns=["yes", "no"])
        )
        rows.append(
            pd.DataFrame(
                {
                    org: units[org],
                    "n": units["n"],
                    "n_valid": units["n_valid"],
                    "mean_band_yes": means["yes"].to_numpy(),
                    "mean_band_no": means["no"].to_numpy(),
                    "u": units["robust_statistic"],
                    "p": units["robust_p"],
                    "rank_biserial": units["robust_effect"],
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    out.insert(1, GROUP, pd.Series([ALL] * len(out), dtype=object))
    out.insert(2, "variable", payband)
    out[org] = out[org].astype(object).where(out[org].notna(), ALL)
    return out
