"""A study loaded once for every output: respondents, their disclosure dimensions, scores.

:func:`load_study_data` reads the store (exclusions applied), scores every scale and derives
the disclosure dimensions every output shares: organisation, wave, role, lived experience
(with "not stated" as a category of its own), organisation size band, and the band and
score range of each wellbeing scale. Each response has a stable key (organisation, wave,
response id) so the release ledger can tell the same person across outputs. When the study
gives staff head counts (``staff_counts`` in study.yaml) it also makes one survey weight per
response of the reported wave. Nothing here is shown to anyone: every output builds its
:class:`~fieldsurvey.results.Results` from this and hands them to the disclosure gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from fieldsurvey.analyse.comparators import comparator_groups, org_attributes, staff_counts
from fieldsurvey.instrument import Instrument
from fieldsurvey.instrument.model import Scale
from fieldsurvey.scoring import scored_responses
from fieldsurvey.store import Study, item_columns
from fieldsurvey.store.database import META_COLUMNS

__all__ = [
    "CONDITION_INSTRUMENT",
    "LIVED_LABELS",
    "PUBLISHED_RELIABILITY",
    "WELLBEING",
    "ScaleInfo",
    "StudyData",
    "load_study_data",
]

#: Wellbeing scales reported, in order (instrument id, scale id).
WELLBEING: tuple[tuple[str, str], ...] = (
    ("proqol5", "compassion_satisfaction"),
    ("proqol5", "burnout"),
    ("proqol5", "sts"),
    ("cbi", "cbi_personal"),
    ("cbi", "cbi_work"),
    ("cbi", "cbi_client"),
    ("stss", "stss_total"),
)
CONDITION_INSTRUMENT = "structural-conditions"
#: Published reliability (Cronbach's alpha) we have checked against the source. Every other
#: scale's published reliability is not verified and the report says so.
PUBLISHED_RELIABILITY: dict[str, tuple[float, str]] = {
    "compassion_satisfaction": (0.88, "Stamm (2010), The Concise ProQOL Manual"),
}
LIVED_LABELS = {1: "yes", 2: "no", 3: "prefer not to say"}
NOT_STATED = "not stated"
NO_SCORE = "no score"
#: Organisation size bands by respondents in the organisation's largest wave.
SIZE_BANDS = ((0, 14, "fewer than 15"), (15, 44, "15 to 44"), (45, None, "45 or more"))
N_BINS = 5


@dataclass(frozen=True)
class ScaleInfo:
    """One reported scale: where it comes from and how to read it."""

    instrument: Instrument
    scale: Scale
    lowest: float
    highest: float

    @property
    def id(self) -> str:
        return self.scale.id

    @property
    def label(self) -> str:
        return self.scale.label

    @property
    def band_labels(self) -> list[str]:
        return [b.label for b in self.scale.bands]

    @property
    def bin_labels(self) -> list[str]:
        return [label for label, _, _ in bin_edges(self)]


def bin_edges(info: ScaleInfo) -> list[tuple[str, float, float]]:
    """Five equal-width score bins over the scale's possible range (label, low, high)."""
    edges = np.linspace(info.lowest, info.highest, N_BINS + 1)
    out = []
    for i in range(N_BINS):
        out.append((f"{edges[i]:g} to {edges[i + 1]:g}", float(edges[i]), float(edges[i + 1])))
    return out


def band_ranges(scale: Scale, lowest: float, highest: float) -> dict[str, tuple[float, float]]:
    """The scores each band of ``scale`` can hold, for the gate's check of means against bands.

    Scores are rounded before they are banded, so a band's edge lies half-way between its
    limit and the next band's (22.5 between "up to 22" and "23 or more"); open ends stop at
    the scale's possible range.

    Examples
    --------
    >>> from fieldsurvey.instrument.model import Band, Scale
    >>> sc = Scale("bo", "Burnout", ("a",), "prorated_sum", 1,
    ...            bands=(Band("Low", max=22), Band("Moderate", 23, 41), Band("High", min=42)))
    >>> band_ranges(sc, 10.0, 50.0)
    {'Low': (10.0, 22.5), 'Moderate': (22.5, 41.5), 'High': (41.5, 50.0)}
    """
    bands = scale.bands
    out = {}
    for i, band in enumerate(bands):
        low, high = band.min, band.max
        if low is not None and i and bands[i - 1].max is not None:
            low = (low + bands[i - 1].max) / 2
        if high is not None and i + 1 < len(bands) and bands[i + 1].min is not None:
            high = (high + bands[i + 1].min) / 2
        out[band.label] = (float(lowest if low is None else max(lowest, low)),
                           float(highest if high is None else min(highest, high)))
    return out


def scale_info(inst: Instrument, sc: Scale) -> ScaleInfo:
    """A scale with its possible score range."""
    return ScaleInfo(inst, sc, *_possible_range(inst, sc))


def score_ranges(info: ScaleInfo, *, bins: bool = True) -> dict[str, dict[str, tuple[float, float]]]:
    """``Results(score_ranges=...)`` for a scale's band (and bin) dimensions."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    if info.scale.bands:
        out[f"{info.id}_band"] = band_ranges(info.scale, info.lowest, info.highest)
    if bins:
        out[f"{info.id}_bin"] = {label: (lo, hi) for label, lo, hi in bin_edges(info)}
    return out


def _possible_range(inst: Instrument, sc: Scale) -> tuple[float, float]:
    rs = inst.response_scale_of(sc.items[0])
    lo, hi = float(rs.min), float(rs.max)
    k = len(sc.items)
    if sc.method in ("sum", "prorated_sum"):
        return lo * k, hi * k
    if sc.method == "mean_0_100":
        return 0.0, 100.0
    return lo, hi


@dataclass
class StudyData:
    """A study loaded and analysed for reporting (see :func:`load_study_data`)."""

    study: Study
    frame: pd.DataFrame  # one row per response: dims + scores + context columns
    waves: list[str]
    latest: str
    excluded: dict[str, int]
    inputs: list[dict[str, Any]]
    wellbeing: list[ScaleInfo]
    conditions: list[ScaleInfo]
    n_boot: int = 200
    #: Every scale of every instrument, scored, one row per response in ``frame``'s order
    #: (``<scale>``, ``<scale>_band`` missing where there is no score, ``<scale>_answered``).
    #: Published findings are recomputed from these (a recipe may name any scale).
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Survey weights, one per row of ``frame`` (NaN outside the reported wave and for staff
    #: without a role); None when the study gives no staff counts or they could not be used
    #: (the reason is then in ``weights_error``).
    weights: pd.Series | None = None
    weights_error: str | None = None
    #: One stable key per row of ``frame``: organisation, wave and response id.
    keys: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    #: Every role the instrument offers, and "not stated": a role nobody chose is a cell too.
    roles: list[str] = field(default_factory=list)
    #: Per organisation (index): size band, service type, region and comparator group
    #: (:mod:`fieldsurvey.analyse.comparators`).
    org_attributes: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Paid staff per organisation and wave with its source (profiles, study staff counts).
    staff: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def min_cell(self) -> int:
        return int(self.study.config.min_cell)

    #: The latest wave's rows, made once: every report section and model asks for them.
    _current: tuple[pd.DataFrame, str, pd.DataFrame] | None = field(
        default=None, init=False, repr=False, compare=False)

    @property
    def current(self) -> pd.DataFrame:
        """Responses of the latest wave (the wave a report describes); do not modify."""
        cached = self._current
        if cached is None or cached[0] is not self.frame or cached[1] != self.latest:
            cached = (self.frame, self.latest, self.frame[self.frame["wave"] == self.latest])
            self._current = cached
        return cached[2]

    @property
    def organisations(self) -> list[str]:
        return sorted(self.frame["org"].astype(str).unique())

    def scale(self, scale_id: str) -> ScaleInfo:
        for info in [*self.wellbeing, *self.conditions]:
            if info.id == scale_id:
                return info
        raise KeyError(scale_id)


def _batches(study: Study) -> list[dict[str, Any]]:
    con = duckdb.connect(str(study.store_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT file_name, sha256, platform, wave, stored, quarantined FROM batches "
            "ORDER BY batch_id"
        ).fetchall()
    finally:
        con.close()
    keys = ("file_name", "sha256", "platform", "wave", "stored", "quarantined")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _size_band(n: int) -> str:
    for low, high, label in SIZE_BANDS:
        if n >= low and (high is None or n <= high):
            return label
    raise AssertionError(n)


def _wave_order(study: Study, present: list[str]) -> list[str]:
    declared = [str(w) for w in study.config.waves]
    ordered = [w for w in declared if w in present]
    return ordered + sorted(w for w in present if w not in ordered)


def load_study_data(study: Study, *, n_boot: int = 200, wave: str | None = None) -> StudyData:
    """Load, score and analyse a study for its reports.

    Parameters
    ----------
    study : Study
        An opened study (:func:`fieldsurvey.store.open_study`).
    n_boot : int
        Bootstrap resamples for the variance-share intervals (fixed seed: reproducible).
    wave : str, optional
        The wave to report (default the latest): later waves are left out, so "the last
        wave" of every comparison is the one before it.

    Returns
    -------
    StudyData

    Examples
    --------
    >>> data = load_study_data(open_study("my-study"))  # doctest: +SKIP
    >>> data.latest, data.min_cell  # doctest: +SKIP
    ('2', 10)
    """
    responses = scored_responses(study)
    excluded = dict(responses.attrs.get("excluded", {}))
    if responses.empty:
        raise ValueError(f"study {study.root} has no stored responses to report on")
    responses.attrs = {}
    if wave is not None:
        responses = _up_to_wave(study, responses, str(wave))
    instruments = {inst.id: inst for inst in study.instruments()}
    stored = set(META_COLUMNS) | set(item_columns(study))
    scores = responses[[c for c in responses.columns if c not in stored]]

    def infos(pairs: list[tuple[str, str]]) -> list[ScaleInfo]:
        out = []
        for inst_id, scale_id in pairs:
            inst = instruments.get(inst_id)
            if inst is None or scale_id not in scores.columns:
                continue
            sc = inst.scale(scale_id)
            lo, hi = _possible_range(inst, sc)
            out.append(ScaleInfo(inst, sc, lo, hi))
        return out

    wellbeing = infos(list(WELLBEING))
    cond_inst = instruments.get(CONDITION_INSTRUMENT)
    conditions = infos(
        [(CONDITION_INSTRUMENT, s.id) for s in cond_inst.scales] if cond_inst else []
    )

    frame = pd.DataFrame(
        {"org": responses["org"].astype(str), "wave": responses["wave"].astype(str)}
    )
    role_labels: dict[int, str] = {}
    wf = instruments.get("workforce-context")
    if wf is not None:
        role_labels = dict(wf.response_scales["role"].labels)
    role = (
        pd.to_numeric(responses.get("wf_role"), errors="coerce") if "wf_role" in responses else None
    )
    frame["role"] = (
        role.map(lambda v: role_labels.get(int(v), f"code {int(v)}") if pd.notna(v) else NOT_STATED)
        if role is not None
        else NOT_STATED
    )
    lived = (
        pd.to_numeric(responses["wf_lived_exp"], errors="coerce")
        if "wf_lived_exp" in responses
        else pd.Series(np.nan, index=responses.index)
    )
    frame["lived_experience"] = lived.map(
        lambda v: LIVED_LABELS.get(int(v), NOT_STATED) if pd.notna(v) else NOT_STATED
    )
    sizes = frame.groupby(["org", "wave"]).size().groupby(level="org").max()
    frame["size_band"] = frame["org"].map(lambda o: _size_band(int(sizes[o])))
    for info in wellbeing:
        values = scores[info.id]
        if info.scale.bands:
            frame[f"{info.id}_band"] = (
                scores[f"{info.id}_band"].astype(object).where(values.notna(), NO_SCORE)
            )
        labels = [label for label, _, _ in bin_edges(info)]
        edges = [lo for _, lo, _ in bin_edges(info)] + [info.highest]
        binned = pd.cut(values, bins=edges, labels=labels, include_lowest=True)
        frame[f"{info.id}_bin"] = binned.astype(object).where(values.notna(), NO_SCORE)
    for info in [*wellbeing, *conditions]:
        frame[info.id] = scores[info.id].astype(float)
    context = [c for c in ("wf_role", "wf_tenure", "wf_hours", "wf_payband", "wf_lived_exp")]
    for col in context:
        if col in responses:
            frame[col] = pd.to_numeric(responses[col], errors="coerce")
    items = [i.id for inst in instruments.values() for i in inst.items if i.id in responses]
    item_frame = responses[items].apply(pd.to_numeric, errors="coerce")
    frame = pd.concat([frame, item_frame.add_prefix("item:")], axis=1)

    waves = _wave_order(study, sorted(frame["wave"].unique()))
    attributes = org_attributes(study, sizes.map(lambda n: _size_band(int(n))), waves)
    attributes["peer_group"] = comparator_groups(attributes)
    weights, weight_error = _survey_weights(study, responses, frame, waves[-1])
    keys = (responses["org"].astype(str) + "|" + responses["wave"].astype(str) + "|"
            + responses["response_id"].astype(str))
    return StudyData(
        study=study,
        frame=frame.reset_index(drop=True),
        waves=waves,
        latest=waves[-1],
        excluded=excluded,
        inputs=_batches(study),
        wellbeing=wellbeing,
        conditions=conditions,
        scores=scores.reset_index(drop=True),
        weights=weights.reset_index(drop=True) if weights is not None else None,
        weights_error=weight_error,
        keys=keys.reset_index(drop=True),
        n_boot=n_boot,
        roles=[*role_labels.values(), NOT_STATED],
        org_attributes=attributes,
        staff=staff_counts(study, waves, waves[-1]),
    )


def _up_to_wave(study: Study, responses: pd.DataFrame, wave: str) -> pd.DataFrame:
    """Responses of ``wave`` and the waves before it (in the study's order)."""
    present = sorted(responses["wave"].astype(str).unique())
    order = _wave_order(study, present)
    if wave not in order:
        raise ValueError(f"no responses in wave {wave!r}; the study has waves {', '.join(order)}")
    keep = order[: order.index(wave) + 1]
    return responses[responses["wave"].astype(str).isin(keep)]


def _role_codes(values: pd.Series, numeric: bool) -> pd.Series:
    """Role codes comparable between the responses and the staff table (numbers or text)."""
    if numeric:
        return pd.to_numeric(values, errors="coerce").astype(float)
    return values.astype("string").str.strip().astype(object).where(values.notna(), None)


def _survey_weights(
    study: Study, responses: pd.DataFrame, frame: pd.DataFrame, latest: str
) -> tuple[pd.Series | None, str | None]:
    """Weights of the reported wave's responses to the study's staff counts, or why there are none.

    Staff counts describe the staff at one time, so only the reported (latest) wave is
    weighted. Respondents without a role get no weight (NaN) and drop out of weighted
    estimates only. A staff table the responses do not fit is reported, not raised: the
    report then says in its methods why no weighted estimates are shown.
    """
    from fieldsurvey.compare import CompareError, survey_weights

    staff = study.staff_table()
    if staff is None:
        return None, None
    role = study.config.role_column
    name = study.config.staff_counts
    if role not in responses:
        return None, f"the responses have no role column {role!r} (study.yaml role_column)"
    numeric = bool(pd.to_numeric(staff[role], errors="coerce").notna().all())
    current = (frame["wave"] == latest).to_numpy()
    people = pd.DataFrame(
        {"org": frame["org"].astype(str), role: _role_codes(responses[role], numeric)}
    ).loc[current]
    staff = staff.assign(org=staff["org"].astype(str), **{role: _role_codes(staff[role], numeric)})
    try:
        weights = survey_weights(people, staff, org="org", role=role, method=study.config.weighting)
    except CompareError as exc:
        return None, f"{name}: {exc}"
    return weights.reindex(frame.index), None


def items_of(frame: pd.DataFrame) -> pd.DataFrame:
    """The item answers of ``frame`` under their item ids."""
    cols = [c for c in frame.columns if c.startswith("item:")]
    return frame[cols].rename(columns=lambda c: c[5:])


def study_path(study: Study) -> str:
    """The study folder as recorded in manifests (absolute POSIX path)."""
    return Path(study.root).resolve().as_posix()
