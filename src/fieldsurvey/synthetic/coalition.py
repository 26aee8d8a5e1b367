"""A seeded, documented generator of a realistic coalition staff survey.

The coalition has member organisations of very different sizes (many of 5-15 staff, a few of
60+). Each organisation has its own structural conditions (pay, workload, caseload, supervision,
training timing, leadership, shared power, peer support, psychological safety, equity for
lived-experience staff); staff perceive them with individual noise. Wellbeing is generated from
latent factors:

* burnout depends on the structural conditions (``burnout_effects``) and on financial strain;
* secondary traumatic stress correlates with burnout and is lowered by peer support;
* compassion satisfaction rises with good conditions;
* intention to leave rises with burnout and poor pay and leadership;
* lived-experience staff are paid less (``lived_pay_gap`` pay bands) and report more strain.

Every answer is an ordinal item drawn from ``loading * latent + noise`` cut at fixed thresholds, so
reliabilities land near published values (ProQOL CS ~.88, BO ~.75, STS ~.81). Reverse-keyed items
are answered on the reversed scale and carry a small method factor, as observed for the ProQOL.
Every effect is a parameter, and ``structural_effect=0`` removes the structural story entirely so
tests can check that analyses then find nothing. Organisation profiles (``profiles``) carry the
organisation-level effects (H6-H9 of the bundled plan); ``led_burnout_effect`` and
``below_wage_effect`` make them cross-level effects on the staff outcomes. The demo's two
studies are :data:`STRUCTURAL_STUDY` (every effect built in) and :data:`NULL_STUDY` (none).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from fieldsurvey.instrument import Instrument, resolve_instrument
from fieldsurvey.synthetic.org_effects import OrgDesign
from fieldsurvey.synthetic.profiles import LastingProfiles, draw_lasting_profiles, generate_profiles

CONDITIONS = (
    "pay_adequacy", "workload", "caseload", "supervision", "training_timing", "leadership",
    "shared_power", "peer_support", "psych_safety", "lived_experience_equity",
)
ROLES = {1: "Direct service", 2: "Case management", 3: "Advocacy", 4: "Supervision",
         5: "Leadership", 6: "Operations"}
_THRESHOLDS = np.array([-1.5, -0.5, 0.5, 1.5])  # latent cut points for 5-point answers


@dataclass(frozen=True)
class CoalitionParams:
    """Parameters of the synthetic coalition. Effects are in standard-deviation units."""

    n_orgs: int = 25
    seed: int = 2026
    waves: int = 1
    response_rate: float = 0.8
    # Size mix: shares of small (5-15), medium (16-45) and large (60-120) organisations.
    size_mix: tuple[float, float, float] = (0.6, 0.28, 0.12)
    lived_experience_share: float = 0.2
    prefer_not_to_say_share: float = 0.05
    org_condition_sd: float = 0.6
    structural_effect: float = 1.0
    burnout_effects: dict[str, float] = field(default_factory=lambda: {
        "workload": 0.25, "caseload": 0.15, "supervision": 0.15, "leadership": 0.15,
        "training_timing": 0.12, "pay_adequacy": 0.10, "shared_power": 0.08,
    })
    sts_peer_support_effect: float = 0.25
    financial_strain_effect: float = 0.15
    lived_pay_gap: float = 0.8
    lived_strain: float = 0.5
    wave_trend: float = 0.1
    item_nonresponse: float = 0.03
    instruments: tuple[str, ...] = ("workforce-context", "proqol5", "cbi", "stss", "structural-conditions")
    # Organisation profiles (org-profile) are drawn from a stream of their own: 1 builds in the
    # organisation-level effects (see fieldsurvey.synthetic.profiles), 0 is the null variant
    # (as is structural_effect=0).
    profile_effect: float = 1.0
    # Every organisation this many staff (None: the size mix above).
    staff_per_org: int | None = None
    # Organisation-effects mode (fieldsurvey.synthetic.org_effects), used by plan-study: with
    # icc set, staff outcomes get this intra-class correlation and the organisation-level
    # effects in org_effects (H6-H9); None keeps the coalition above.
    icc: float | None = None
    org_effects: dict[str, float] = field(default_factory=dict)
    # Cross-level effects of what an organisation's profile says on its staff (SD units of the
    # latent outcome; scaled by profile_effect, off when structural_effect is 0): staff of
    # peer-led or survivor-led organisations report less burnout (H6); staff of organisations
    # paying most of them below the living wage report more financial strain and intention to
    # leave (H7). 0 by default so every seed's staff data stays as it was; STRUCTURAL_STUDY
    # (the demo's) turns them on. Not used in the organisation-effects mode (icc set).
    led_burnout_effect: float = 0.0
    below_wage_effect: float = 0.0
    # Log-odds of a member of staff leaving within the year per SD of what drove their
    # organisation's burnout the year before (H9; in the profiles' leavers).
    leaver_burnout_effect: float = 0.5


#: The demo's structural study: two waves, every effect of H1-H9 built in, the cross-level ones
#: (H6, H7) and leavers' response to burnout (H9) strong enough to be found in 25 organisations
#: at most seeds (see docs/synthetic-data.md for the rates).
STRUCTURAL_STUDY = CoalitionParams(waves=2, led_burnout_effect=0.5, below_wage_effect=0.4,
                                   leaver_burnout_effect=1.0)
#: Its null variant: the same design and seed with no structural, lived-experience or
#: organisation effect, so no hypothesis of the bundled plan holds.
NULL_STUDY = replace(STRUCTURAL_STUDY, structural_effect=0.0, profile_effect=0.0,
                     lived_pay_gap=0.0, lived_strain=0.0)


@dataclass(frozen=True)
class SyntheticStudy:
    """A generated study: one row per response, the organisations, and the parameters used."""

    responses: pd.DataFrame
    organisations: pd.DataFrame
    params: CoalitionParams
    #: One organisation profile per organisation and wave (``org-profile`` items, plus
    #: ``response_id``, ``wave`` and ``org``).
    profiles: pd.DataFrame | None = None

    @property
    def item_columns(self) -> list[str]:
        return [c for c in self.responses.columns if c not in ("response_id", "wave", "org")]


def generate_coalition(params: CoalitionParams | None = None, **overrides: object) -> SyntheticStudy:
    """Generate a synthetic coalition study.

    Parameters
    ----------
    params : CoalitionParams, optional
    **overrides
        Fields of :class:`CoalitionParams` to change, e.g. ``structural_effect=0``.

    Returns
    -------
    SyntheticStudy
        ``responses`` has ``response_id``, ``wave``, ``org`` and one column per item id
        (nullable integers; hours as numbers); ``organisations`` has ``org``, ``name``, ``staff``
        and ``size_band``.

    Examples
    --------
    >>> study = generate_coalition(n_orgs=5, seed=1)
    >>> study.organisations.shape[0], "pq01" in study.responses
    (5, True)
    """
    params = replace(params or CoalitionParams(), **overrides)  # type: ignore[arg-type]
    rng = np.random.default_rng(params.seed)
    orgs = _organisations(params, rng)
    org_conditions = _org_conditions(params, rng)
    design = None
    if params.icc is not None:
        design = OrgDesign.draw(params.n_orgs, params.icc, params.org_effects, params.seed)
    strength = params.profile_effect * (params.structural_effect != 0)
    # Drawn from a stream of their own before the staff, whose data may depend on them.
    lasting = draw_lasting_profiles(orgs, org_conditions, CONDITIONS, params.burnout_effects,
                                    strength=strength, seed=params.seed, design=design)
    shifts = _cross_level_shifts(params, lasting, strength, design)
    frames, wave_conditions = [], []
    for wave in range(1, params.waves + 1):
        drift = rng.normal(0.0, 0.15, org_conditions.shape) + params.wave_trend * (wave - 1)
        wave_conditions.append(org_conditions + drift)
        frames.append(_wave(params, rng, orgs, org_conditions + drift, wave, design, shifts))
    responses = pd.concat(frames, ignore_index=True)
    profiles = generate_profiles(
        lasting, org_conditions, wave_conditions, CONDITIONS, params.burnout_effects,
        strength=strength, design=design,
        staff_shift=shifts["burnout"] + shifts["intention_to_leave"] if shifts else None,
        leaver_burnout=params.leaver_burnout_effect)
    return SyntheticStudy(responses=responses, organisations=orgs, params=params,
                          profiles=profiles)


def _cross_level_shifts(params: CoalitionParams, lasting: LastingProfiles, strength: float,
                        design: OrgDesign | None) -> dict[str, np.ndarray]:
    """Per organisation, what its profile's traits add to its staff's latent outcomes (none
    when the effects are 0, so the staff data is then exactly as without them)."""
    if design is not None or strength == 0 or not (params.led_burnout_effect
                                                   or params.below_wage_effect):
        return {}
    led = lasting.led.astype(float)
    below = lasting.below.astype(float)
    return {"burnout": -strength * params.led_burnout_effect * led,
            "financial_strain": strength * params.below_wage_effect * below,
            "intention_to_leave": strength * params.below_wage_effect * below}


def _organisations(params: CoalitionParams, rng: np.random.Generator) -> pd.DataFrame:
    kinds = rng.choice(3, size=params.n_orgs, p=np.asarray(params.size_mix) / sum(params.size_mix))
    low = np.array([5, 16, 60])[kinds]
    high = np.array([15, 45, 120])[kinds]
    staff = rng.integers(low, high + 1)
    if params.staff_per_org is not None:  # drawn all the same, so the stream stays as it was
        staff = np.full(params.n_orgs, params.staff_per_org)
    codes = [f"O{i + 1:02d}" for i in range(params.n_orgs)]
    return pd.DataFrame({
        "org": codes,
        "name": [f"Member organisation {c[1:]}" for c in codes],
        "staff": staff,
        "size_band": pd.cut(staff, [0, 15, 45, 10_000], labels=["5-15", "16-45", "46+"]).astype(str),
    })


def _org_conditions(params: CoalitionParams, rng: np.random.Generator) -> np.ndarray:
    # A general "well-run organisation" factor plus condition-specific variation.
    general = rng.normal(0.0, 1.0, (params.n_orgs, 1))
    specific = rng.normal(0.0, 1.0, (params.n_orgs, len(CONDITIONS)))
    return params.org_condition_sd * (0.7 * general + 0.71 * specific)


def _wave(params: CoalitionParams, rng: np.random.Generator, orgs: pd.DataFrame,
          org_conditions: np.ndarray, wave: int, design: OrgDesign | None = None,
          shifts: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    counts = rng.binomial(orgs["staff"].to_numpy(), params.response_rate)
    counts = np.maximum(counts, 1)
    org_index = np.repeat(np.arange(len(orgs)), counts)
    n = org_index.size
    cols: dict[str, object] = {
        "response_id": [f"W{wave}-{i + 1:06d}" for i in range(n)],
        "wave": np.full(n, wave, dtype=np.int64),
        "org": orgs["org"].to_numpy()[org_index],
    }

    # Who answered.
    role = rng.choice(np.array(list(ROLES)), size=n, p=[0.34, 0.2, 0.16, 0.1, 0.07, 0.13])
    lived_draw = rng.random(n)
    lived = np.where(lived_draw < params.lived_experience_share, 1,
                     np.where(lived_draw < params.lived_experience_share + params.prefer_not_to_say_share, 3, 2))
    is_lived = (lived == 1).astype(float)
    peer_role = np.where(is_lived == 1, rng.random(n) < 0.45, rng.random(n) < 0.03).astype(int)
    tenure = rng.choice(np.arange(1, 6), size=n, p=[0.18, 0.27, 0.28, 0.17, 0.10])
    # Perceived conditions: the organisation's level plus individual noise.
    conditions = org_conditions[org_index] + rng.normal(0.0, 0.8, (n, len(CONDITIONS)))
    cond = {name: conditions[:, j] for j, name in enumerate(CONDITIONS)}
    cond["pay_adequacy"] = cond["pay_adequacy"] - 0.4 * params.lived_pay_gap * is_lived
    cond["lived_experience_equity"] = cond["lived_experience_equity"] - 0.3 * is_lived

    pay_latent = (0.5 * (role == 5) + 0.3 * (role == 4) + 0.25 * (tenure - 3)
                  + 0.5 * cond["pay_adequacy"] - params.lived_pay_gap * is_lived
                  + rng.normal(0.0, 0.8, n))
    payband = np.clip(np.round(2.8 + 1.1 * pay_latent), 1, 6)
    strain = (-0.5 * (payband - 3) / 1.5 + params.lived_strain * is_lived
              + rng.normal(0.0, 0.8, n))
    shift = {k: v[org_index] for k, v in (shifts or {}).items()}  # cross-level effects
    strain = _standardise(strain + shift.get("financial_strain", 0.0))
    if design is not None:
        strain = design.apply("financial_strain", strain, org_index, wave)
    hours = np.clip(np.round(38 - 4 * cond["workload"] + rng.normal(0, 5, n)), 10, 80)

    s = params.structural_effect
    burnout = (-s * sum(w * cond[c] for c, w in params.burnout_effects.items())
               + s * params.financial_strain_effect * strain + rng.normal(0.0, 0.75, n))
    burnout = _standardise(burnout + shift.get("burnout", 0.0))
    if design is not None:
        burnout = design.apply("burnout", burnout, org_index, wave)
    sts = _standardise(0.55 * burnout - s * params.sts_peer_support_effect * cond["peer_support"]
                       + rng.normal(0.0, 0.75, n))
    compassion = _standardise(-0.35 * burnout + s * 0.15 * (cond["leadership"] + cond["supervision"])
                              + rng.normal(0.0, 0.85, n))
    leave = (0.45 * burnout - s * 0.15 * (cond["pay_adequacy"] + cond["leadership"])
             + rng.normal(0.0, 0.8, n))
    leave = _standardise(leave + shift.get("intention_to_leave", 0.0))
    if design is not None:
        leave = design.apply("intention_to_leave", leave, org_index, wave)

    cols.update({
        "wf_org": cols["org"],
        "wf_role": role, "wf_tenure": tenure, "wf_hours": hours, "wf_payband": payband,
        "wf_lived_exp": lived, "wf_peer_role": peer_role,
    })
    latents = {
        "compassion_satisfaction": (compassion, 0.70, 1.0),
        "burnout": (burnout, 0.52, -0.55),
        "sts": (sts, 0.60, -0.75),
        "cbi_personal": (0.8 * burnout + 0.6 * rng.normal(0, 1, n), 0.75, -0.2),
        "cbi_work": (0.85 * burnout + 0.5 * rng.normal(0, 1, n), 0.75, -0.1),
        "cbi_client": (0.6 * burnout + 0.4 * sts + 0.6 * rng.normal(0, 1, n), 0.72, -0.6),
        "stss_intrusion": (0.9 * sts + 0.4 * rng.normal(0, 1, n), 0.7, -0.9),
        "stss_avoidance": (0.85 * sts + 0.5 * rng.normal(0, 1, n), 0.65, -0.9),
        "stss_arousal": (0.85 * sts + 0.5 * rng.normal(0, 1, n), 0.68, -0.8),
        "financial_strain": (strain, 0.75, -0.2),
        "intention_to_leave": (leave, 0.8, -0.3),
    }
    for name in CONDITIONS:
        latents[name] = (_standardise(cond[name]), 0.72, 0.3)
    method_factor = rng.normal(0.0, 1.0, n)

    for inst_id in params.instruments:
        if inst_id == "workforce-context":
            continue
        inst = resolve_instrument(inst_id)
        for sc in inst.scales:
            if sc.id not in latents:
                continue  # e.g. the STSS total: its items are generated through the subscales
            latent, loading, shift = latents[sc.id]
            for item_id in sc.items:
                if item_id in cols:
                    continue
                cols[item_id] = _ordinal_item(inst, item_id, latent, loading, shift, method_factor, rng)

    frame = pd.DataFrame(cols)
    _apply_nonresponse(frame, params, rng)
    return frame


def _ordinal_item(inst: Instrument, item_id: str, latent: np.ndarray, loading: float, shift: float,
                  method_factor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rs = inst.response_scale_of(item_id)
    item_shift = shift + rng.normal(0.0, 0.15)
    noise_sd = np.sqrt(1.0 - loading**2)
    latent_answer = item_shift + loading * latent + noise_sd * rng.normal(0.0, 1.0, latent.size)
    if inst.item(item_id).reverse:
        latent_answer = -latent_answer + 0.25 * method_factor
    codes = 1 + np.searchsorted(_THRESHOLDS, latent_answer)
    levels = int(rs.max - rs.min + 1)
    if levels != 5:  # map 5 latent categories onto other answer ranges
        codes = np.round((codes - 1) / 4 * (levels - 1))
    return (codes + rs.min - 1).astype(np.int64)


def _apply_nonresponse(frame: pd.DataFrame, params: CoalitionParams, rng: np.random.Generator) -> None:
    optional = [c for c in frame.columns if c not in ("response_id", "wave", "org", "wf_org")]
    n = len(frame)
    # Most people skip little; a few skip a lot (fatigue), as in real staff surveys.
    person_rate = params.item_nonresponse * rng.gamma(0.6, 1 / 0.6, n)
    for col in optional:
        skip = rng.random(n) < np.minimum(person_rate, 0.6)
        values = frame[col].astype("Float64") if col == "wf_hours" else frame[col].astype("Int64")
        values[skip] = pd.NA
        frame[col] = values


def _standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else x - x.mean()
