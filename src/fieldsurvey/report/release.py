"""The release of one report: every table it shows, gated together.

One report is one output set. :func:`report_release` lists every respondent cell the report
can show - response counts, scale statistics, band and score-range counts, reliability,
lived-experience groups, structural conditions, trend, an organisation's position - as
tables of one :class:`~fieldsurvey.disclosure.Release`, and :func:`gated_tables` gates them
together so complementary suppression works across all tables of the report.

Dimensions of the release (one row per response):

``wave``, ``role``, ``lived_experience`` (sensitive), ``size_band``, ``<scale>_band`` and
``<scale>_bin`` for every wellbeing scale, and in an organisation's report ``focus``: ``this``
(the organisation) or ``other`` (the rest of the field). A cell ``focus=other`` is "the field
without this organisation", so the gate sees that it and the organisation's own cell add up to
the field. Other organisations are never cells of an organisation's report: nothing in it
describes another organisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fieldsurvey.disclosure import DisclosurePolicy, GatedRelease, Release, gate
from fieldsurvey.report.study_data import (
    LIVED_LABELS,
    NOT_STATED,
    SIZE_BANDS,
    StudyData,
)

__all__ = ["cell_statistics", "gated_tables", "report_release"]

THIS, OTHER = "this", "other"
LIVED_GROUPS = [*LIVED_LABELS.values(), NOT_STATED]


def cell_statistics(
    frame: pd.DataFrame, cells: Sequence[dict[str, Any]], scales: Sequence[str]
) -> pd.DataFrame:
    """n, mean and SD of each scale in each cell (``None`` in a cell means "all").

    Returns one row per cell: the cell's dimension columns, then ``<scale>_n``,
    ``<scale>_mean``, ``<scale>_sd`` per scale.

    Examples
    --------
    >>> f = pd.DataFrame({"wave": ["1", "1", "2"], "x": [1.0, 3.0, 5.0]})
    >>> cell_statistics(f, [{"wave": "1"}, {"wave": None}], ["x"])["x_mean"].tolist()
    [2.0, 3.0]
    """
    dims = list(dict.fromkeys(k for cell in cells for k in cell))
    values = frame[list(scales)].to_numpy(dtype=float)
    rows = []
    for cell in cells:
        mask = np.ones(len(frame), dtype=bool)
        for dim, value in cell.items():
            if value is not None:
                mask &= (frame[dim] == value).to_numpy()
        block = values[mask]
        valid = ~np.isnan(block)
        n = valid.sum(axis=0)
        total = np.where(valid, block, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, total / np.maximum(n, 1), np.nan)
            squares = np.where(valid, (block - mean) ** 2, 0.0).sum(axis=0)
            sd = np.where(n > 1, np.sqrt(squares / np.maximum(n - 1, 1)), np.nan)
        row: dict[str, Any] = {d: cell.get(d) for d in dims}
        for j, scale in enumerate(scales):
            row[f"{scale}_n"] = int(n[j])
            row[f"{scale}_mean"] = float(mean[j])
            row[f"{scale}_sd"] = float(sd[j])
        rows.append(row)
    out = pd.DataFrame(rows)
    for d in dims:
        out[d] = out[d].astype(object)
    return out


def _stat_spec(scales: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    kinds: dict[str, str] = {}
    stat_n: dict[str, str] = {}
    for s in scales:
        kinds[f"{s}_mean"] = "mean"
        kinds[f"{s}_sd"] = "sd"
        stat_n[f"{s}_mean"] = f"{s}_n"
        stat_n[f"{s}_sd"] = f"{s}_n"
    return kinds, stat_n


def _count_cells(cells: Sequence[dict[str, Any]]) -> pd.DataFrame:
    dims = list(dict.fromkeys(k for cell in cells for k in cell))
    return pd.DataFrame([{d: cell.get(d) for d in dims} for cell in cells], dtype=object)


def report_release(data: StudyData, org: str | None = None) -> Release:
    """All tables of one report (the field-wide one, or ``org``'s) as one release.

    Parameters
    ----------
    data : StudyData
    org : str, optional
        The organisation whose report this is; None for the field-wide report.

    Returns
    -------
    Release

    Examples
    --------
    >>> rel = report_release(load_study_data(open_study("s")), org="O01")  # doctest: +SKIP
    >>> "scale_scores" in rel.tables  # doctest: +SKIP
    True
    """
    frame = data.frame
    if org is not None:
        if org not in set(frame["org"]):
            raise ValueError(
                f"organisation {org!r} has no responses in this study; "
                f"organisations: {', '.join(data.organisations)}"
            )
        frame = frame.assign(focus=np.where(frame["org"] == org, THIS, OTHER))
    wellbeing = [s.id for s in data.wellbeing]
    conditions = [s.id for s in data.conditions]
    band_dims = [f"{s.id}_band" for s in data.wellbeing if s.scale.bands]
    bin_dims = [f"{s.id}_bin" for s in data.wellbeing]
    dims = ["wave", "role", "lived_experience", "size_band", *band_dims, *bin_dims]
    if org is not None:
        dims = ["focus", *dims]
    domains: dict[str, list[Any]] = {
        "lived_experience": LIVED_GROUPS,
        "size_band": [label for _, _, label in SIZE_BANDS],
        "wave": list(data.waves),
    }
    for info in data.wellbeing:
        if info.scale.bands:
            domains[f"{info.id}_band"] = info.band_labels
        domains[f"{info.id}_bin"] = info.bin_labels
    if org is not None:
        domains["focus"] = [THIS, OTHER]
    # Band and score-range dimensions are crossed only as observed: the audit then assumes an
    # attacker knows which score combinations occur (a stronger attacker, so more suppression,
    # never less) and the universe of atoms stays near the number of respondents.
    release = Release(frame[dims], dims, domains=domains, public_support=[tuple(dims)])
    latest = data.latest
    own = {"focus": THIS} if org is not None else {}
    units = [{"focus": THIS}, {"focus": OTHER}] if org is not None else [{}]

    # Who responded.
    release.add_table(
        "respondents_by_wave",
        _count_cells([{**own, "wave": w} for w in data.waves]),
    )
    roles = sorted(frame["role"].unique(), key=lambda r: (r == NOT_STATED, r))
    release.add_table(
        "respondents_by_role",
        _count_cells(
            [{**own, "wave": latest, "role": r} for r in roles] + [{**own, "wave": latest}]
        ),
    )
    if org is None:
        sizes = [label for _, _, label in SIZE_BANDS]
        release.add_table(
            "respondents_by_size",
            _count_cells([{"wave": latest, "size_band": s} for s in sizes]),
        )

    # Scale statistics, this wave: the report's unit(s).
    kinds, stat_n = _stat_spec(wellbeing + conditions)
    cells = [{**u, "wave": latest} for u in units]
    release.add_table(
        "scale_scores",
        cell_statistics(frame, cells, wellbeing + conditions),
        kinds,
        stat_n=stat_n,
    )
    for info in data.wellbeing:
        if info.scale.bands:
            dim = f"{info.id}_band"
            release.add_table(
                f"bands_{info.id}",
                _count_cells(
                    [{**u, "wave": latest, dim: b} for u in units for b in info.band_labels]
                ),
            )
        dim = f"{info.id}_bin"
        release.add_table(
            f"bins_{info.id}",
            _count_cells([{**own, "wave": latest, dim: b} for b in info.bin_labels]),
        )

    # Lived experience next to other staff (and, in an organisation's report, in the rest of
    # the field).
    kinds_w, stat_n_w = _stat_spec(wellbeing)
    lived_cells = [
        {**u, "wave": latest, "lived_experience": g} for u in units for g in ("yes", "no")
    ]
    release.add_table(
        "lived_experience",
        cell_statistics(frame, lived_cells, wellbeing),
        kinds_w,
        stat_n=stat_n_w,
    )

    lived_tests = _lived_tests(frame, wellbeing, latest, own)
    release.add_table(
        "lived_experience_tests",
        lived_tests,
        {c: "other" for c in lived_tests.columns if c not in dims},
    )

    # Reliability on this report's own respondents.
    reliability = _reliability(data, frame, {**own, "wave": latest})
    release.add_table(
        "reliability",
        reliability,
        {c: "other" for c in reliability.columns if not c.endswith("_rel_n") and c not in dims},
        stat_n={
            f"{s}_{k}": f"{s}_rel_n"
            for s in wellbeing
            for k in ("alpha", "omega")
            if f"{s}_alpha" in reliability
        },
    )

    # Drivers: field-wide model results (every organisation's respondents).
    drivers = _drivers(data)
    if drivers is not None:
        release.add_table("drivers", drivers, {c: "other" for c in drivers.columns if c != "wave"})
    if org is not None:
        position = _position(data, org)
        release.add_table(
            "position", position, {c: "other" for c in position.columns if c not in dims}
        )

    # Trend over waves.
    trend_cells = [{**u, "wave": w} for u in units for w in data.waves]
    release.add_table(
        "trend", cell_statistics(frame, trend_cells, wellbeing), kinds_w, stat_n=stat_n_w
    )
    return release


def gated_tables(data: StudyData, org: str | None = None) -> GatedRelease:
    """Build the report's release and gate it with the study's minimum cell size.

    Examples
    --------
    >>> gated = gated_tables(load_study_data(open_study("s")))  # doctest: +SKIP
    >>> gated["respondents_by_wave"]  # doctest: +SKIP
    """
    policy = DisclosurePolicy(
        min_cell=data.min_cell,
        force_below_5=bool(data.study.config.force_min_cell),
        sensitive=("lived_experience",),
    )
    return gate(report_release(data, org), policy)


def _lived_tests(
    frame: pd.DataFrame, scales: Sequence[str], latest: str, own: dict[str, Any]
) -> pd.DataFrame:
    """Welch test and Hedges' g of lived-experience vs other staff, on the 'yes' cell."""
    from fieldsurvey.compare import welch_two_groups

    mask = (frame["wave"] == latest).to_numpy().copy()
    for dim, value in own.items():
        mask &= (frame[dim] == value).to_numpy()
    subset = frame.loc[mask]
    row: dict[str, Any] = {**own, "wave": latest, "lived_experience": "yes"}
    for s in scales:
        a = subset.loc[subset["lived_experience"] == "yes", s].dropna().to_numpy(dtype=float)
        b = subset.loc[subset["lived_experience"] == "no", s].dropna().to_numpy(dtype=float)
        g = p = lo = hi = np.nan
        if a.size >= 2 and b.size >= 2:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = welch_two_groups(a, b)
            g, p = float(res["effect"]), float(res["p"])
            lo, hi = float(res["effect_ci_low"]), float(res["effect_ci_high"])
        row.update({f"{s}_g": g, f"{s}_g_ci_low": lo, f"{s}_g_ci_high": hi, f"{s}_p": p})
    out = pd.DataFrame([row])
    for d in [*own, "wave", "lived_experience"]:
        out[d] = out[d].astype(object)
    return out


def _reliability(data: StudyData, frame: pd.DataFrame, cell: dict[str, Any]) -> pd.DataFrame:
    """Alpha and omega total of each wellbeing scale on the cell's respondents."""
    import warnings

    from fieldsurvey.psychometrics import instrument_reliability
    from fieldsurvey.report.study_data import items_of

    mask = np.ones(len(frame), dtype=bool)
    for dim, value in cell.items():
        mask &= (frame[dim] == value).to_numpy()
    answers = items_of(frame.loc[mask])
    row: dict[str, Any] = dict(cell)
    # Too few respondents: the gate would withhold every value, so do not compute any.
    too_few = int(mask.sum()) < data.min_cell
    by_instrument: dict[str, list[str]] = {}
    for info in data.wellbeing:
        by_instrument.setdefault(info.instrument.id, []).append(info.id)
    for scale_ids in by_instrument.values():
        inst = data.scale(scale_ids[0]).instrument
        try:
            if too_few:
                raise ValueError("too few respondents")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                summary, _ = instrument_reliability(
                    answers, inst, scales=scale_ids, min_respondents=2
                )
            summary = summary.set_index("scale")
        except Exception:
            summary = pd.DataFrame(index=scale_ids, columns=["n", "alpha", "omega_total"])
        for s in scale_ids:
            n = summary.at[s, "n"] if s in summary.index else np.nan
            row[f"{s}_rel_n"] = int(n) if pd.notna(n) else 0
            row[f"{s}_alpha"] = float(summary.at[s, "alpha"]) if s in summary.index else np.nan
            row[f"{s}_omega"] = (
                float(summary.at[s, "omega_total"]) if s in summary.index else np.nan
            )
    out = pd.DataFrame([row])
    for d in cell:
        out[d] = out[d].astype(object)
    return out


def _drivers(data: StudyData) -> pd.DataFrame | None:
    shares = data.analyses.get("variance_shares")
    icc = data.analyses.get("icc")
    if shares is None and icc is None:
        return None
    row: dict[str, Any] = {"wave": data.latest}
    if shares is not None:
        for r in shares.itertuples():
            key = f"{r.outcome}_{r.component}"
            row[f"{key}_r2"] = float(r.r2)
            row[f"{key}_share"] = float(r.share)
            row[f"{key}_share_ci_low"] = float(r.share_ci_low)
            row[f"{key}_share_ci_high"] = float(r.share_ci_high)
    if icc is not None:
        for r in icc.itertuples():
            row[f"{r.outcome}_icc"] = float(r.icc_model)
            row[f"{r.outcome}_icc_ci_low"] = float(r.ci_low)
            row[f"{r.outcome}_icc_ci_high"] = float(r.ci_high)
    out = pd.DataFrame([row])
    out["wave"] = out["wave"].astype(object)
    return out


def _position(data: StudyData, org: str) -> pd.DataFrame:
    """The organisation against the rest of the field, its shrunken mean and funnel limits."""
    row: dict[str, Any] = {"focus": THIS, "wave": data.latest}
    bench = data.analyses.get("benchmark")
    if bench is not None:
        for r in bench[bench["org"] == org].itertuples():
            for k in ("diff", "diff_ci_low", "diff_ci_high", "p", "ci_low", "ci_high"):
                row[f"{r.scale}_{k}"] = float(getattr(r, k))
    shrunk = data.analyses.get("shrinkage")
    if shrunk is not None:
        for r in shrunk[shrunk["org"] == org].itertuples():
            for k in ("shrunk_mean", "shrunk_ci_low", "shrunk_ci_high"):
                row[f"{r.scale}_{k}"] = float(getattr(r, k))
    funnel = data.analyses.get("funnel")
    if funnel is not None:
        for r in funnel[funnel["org"] == org].itertuples():
            for k in ("target", "lower95", "upper95", "lower998", "upper998"):
                row[f"{r.scale}_funnel_{k}"] = float(getattr(r, k))
    out = pd.DataFrame([row])
    for d in ("focus", "wave"):
        out[d] = out[d].astype(object)
    return out
