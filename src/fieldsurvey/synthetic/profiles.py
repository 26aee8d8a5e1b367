"""Synthetic organisation profiles (the ``org-profile`` instrument) for the synthetic coalition.

Each organisation answers once per wave. The profile is drawn from the organisation's latent
conditions (the same ones its staff perceive) with a random stream of its own, so the staff data
of a seed is exactly what it was before profiles existed (unless the cross-level effects below
are turned on). With ``strength`` 1 the effects the
issue's hypotheses name are built in:

* **peer-led -> less burnout**: organisations whose conditions drive burnout down (the
  coalition's ``burnout_effects``) run peer-led programmes more often;
* **below the living wage -> more financial strain and intention to leave**: entry pay follows
  the organisation's pay condition, which drives its staff's pay bands (hence strain) and
  intention to leave;
* **more training before the first case -> fewer leavers**: training hours follow the training
  condition, and the chance that a member of staff leaves in a year falls with training hours;
* **burnout -> leavers in the next wave**: that chance also rises with what drove the
  organisation's burnout in the year before the profile (the previous wave's conditions).

These are associations through the shared conditions, weak in a coalition of 25. The
coalition's cross-level effects (``led_burnout_effect``, ``below_wage_effect``; 0 by default)
add the profile's traits to the staff outcomes, so the lasting answers are drawn first
(:func:`draw_lasting_profiles`) and each wave's after the staff data (:func:`generate_profiles`,
whose leavers then also follow those shifts).

With ``strength`` 0 (the null variant) every profile answer is drawn independently of the
conditions, and leavers independently of training and burnout. Pay is in GBP with regions coded as in the
shipped living-wage example (1 London, 2 the rest of the UK).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fieldsurvey.synthetic.org_effects import OrgDesign

#: The shipped example reference, hourly (GBP): region code -> rate.
REFERENCE_HOURLY = {"1": 13.85, "2": 12.60}
HOURS_PER_YEAR = 1950
#: Entry pay of each role relative to a case manager's, and its share of the staff.
_ROLE_PAY = {"ds": 0.96, "cm": 1.0, "adv": 1.0, "peer": 0.93, "sup": 1.22}
_ROLE_SHARE = {"ds": 0.30, "cm": 0.20, "adv": 0.15, "peer": 0.05, "sup": 0.10}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _z(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else x - x.mean()


@dataclass
class LastingProfiles:
    """What an organisation's profile says in every wave, drawn before the staff data.

    The staff data may depend on it (the coalition's cross-level effects), so it is drawn
    first; :func:`generate_profiles` then adds each wave's answers with the same stream.
    """

    fixed: pd.DataFrame
    pay: pd.DataFrame
    staff: np.ndarray
    lasting: dict[str, np.ndarray]
    noise_good: np.ndarray
    rng: np.random.Generator

    @property
    def led(self) -> np.ndarray:
        """Peer-led programmes or a survivor-led board (``org_peer_or_survivor_led``)."""
        return ((self.fixed["op_peer_led"].to_numpy() < 3)
                | (self.fixed["op_survivor_board"].to_numpy() == 1))

    @property
    def below(self) -> np.ndarray:
        """Most staff of the compared roles paid below the shipped example reference
        (``org_below_living_wage`` with that reference)."""
        reference = self.fixed["op_region"].map(REFERENCE_HOURLY).to_numpy()
        heads = below = 0
        for key in _ROLE_PAY:
            pay = self.pay[f"op_pay_{key}"].to_numpy(float)
            hourly = np.where(self.pay[f"op_pay_{key}_per"].to_numpy(float) == 2,
                              pay / HOURS_PER_YEAR, pay)
            n = self.pay[f"op_n_{key}"].to_numpy()
            heads = heads + n
            below = below + np.where(hourly < reference, n, 0)
        return below > 0.5 * heads


def draw_lasting_profiles(orgs: pd.DataFrame, conditions: np.ndarray, names: tuple[str, ...],
                          burnout_effects: dict[str, float], *, strength: float, seed: int,
                          design: OrgDesign | None = None) -> LastingProfiles:
    """The profile answers that last over waves: governance, peer-led programmes, pay, training.

    Parameters
    ----------
    orgs : the coalition's organisations (org, staff)
    conditions : organisations x conditions, the lasting latent conditions
    names : the condition names (columns of ``conditions``)
    burnout_effects : condition -> weight in staff burnout
    strength : 1 builds the effects in, 0 is the null variant
    seed : the stream's seed (kept apart from the staff data's stream)
    design : the organisation-effects mode's traits (peer/survivor-led, pay below the living
        wage, training); they replace those drawn from the conditions
    """
    rng = np.random.default_rng([seed, 19])
    cond = {name: _z(conditions[:, j]) for j, name in enumerate(names)}
    n, s = len(orgs), float(strength)
    noise = {k: rng.normal(0.0, 1.0, n) for k in ("good", "pay", "train", "board")}
    # "good": conditions that keep burnout down; the null variant replaces them with noise.
    good = _z(sum(w * cond[c] for c, w in burnout_effects.items()))
    lasting = {
        "good": s * good + (1 - s) * noise["good"],
        "pay": s * cond["pay_adequacy"] + (1 - s) * noise["pay"],
        "train": s * cond["training_timing"] + (1 - s) * noise["train"],
    }
    peer_led = rng.random(n) < _sigmoid(1.6 * lasting["good"] - 0.6)
    if design is not None:
        lasting.update(pay=design.pay_level(), train=design.train)
        peer_led = design.led
    staff = orgs["staff"].to_numpy()
    fixed = pd.DataFrame({
        "org": orgs["org"].to_numpy(),
        "op_org": orgs["org"].to_numpy(),
        "op_answerer": rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1]),
        "op_service": rng.integers(1, 9, size=n),
        "op_region": np.where(rng.random(n) < 0.2, "1", "2"),
        "op_volunteers": rng.poisson(0.5 * staff),
        "op_survivor_board": (rng.random(n) < _sigmoid(0.8 * lasting["good"]
                                                        + 0.5 * noise["board"] - 1.2)).astype(int),
        "op_peer_led": np.where(peer_led, rng.choice([1, 2], size=n, p=[0.4, 0.6]), 3),
        "op_currency": 2,
        "op_train_hours": np.round(np.exp(np.log(35.0) + 0.45 * lasting["train"]
                                          + 0.2 * rng.normal(0.0, 1.0, n))),
        "op_reflective_sup": (cond["supervision"] * s + rng.normal(0, 1, n) > -0.3).astype(int),
    })
    if design is not None:  # peer-led and survivor-led are the same trait in this mode
        fixed["op_survivor_board"] = np.where(peer_led, fixed["op_survivor_board"], 0)
    fixed["op_survivor_leader"] = (fixed["op_survivor_board"].to_numpy() == 1) & (rng.random(n) < 0.5)
    fixed["op_survivor_leader"] = fixed["op_survivor_leader"].astype(int)
    fixed["op_lx_leadership"] = np.round(np.clip(
        np.where(peer_led, 30.0, 8.0) + rng.normal(0, 8, n), 0, 100))
    pay_rows = _pay(fixed, staff, lasting["pay"], peer_led, rng)
    return LastingProfiles(fixed, pay_rows, staff, lasting, noise["good"], rng)


def generate_profiles(drawn: LastingProfiles, conditions: np.ndarray,
                      wave_conditions: list[np.ndarray], names: tuple[str, ...],
                      burnout_effects: dict[str, float], *, strength: float,
                      design: OrgDesign | None = None,
                      staff_shift: np.ndarray | None = None,
                      leaver_burnout: float = 0.5) -> pd.DataFrame:
    """One profile per organisation and wave, as the ``org-profile`` items (plus ``org``).

    Parameters
    ----------
    drawn : the lasting answers (:func:`draw_lasting_profiles`), whose stream is continued
    conditions : organisations x conditions, the lasting latent conditions
    wave_conditions : per wave, the conditions as they were that wave
    names : the condition names (columns of ``conditions``)
    burnout_effects : condition -> weight in staff burnout
    strength : 1 builds the effects in, 0 is the null variant
    design : the organisation-effects mode's leaver effects
    staff_shift : per organisation, what the coalition's cross-level effects add to its staff's
        burnout and intention to leave (SD units); leavers follow it as they follow conditions
    leaver_burnout : log-odds of leaving per SD of what drove the organisation's burnout in the
        year before
    """
    s = float(strength)
    staff = drawn.staff
    shift = np.zeros(len(staff)) if staff_shift is None else staff_shift
    # Leavers of a wave's profile (the last 12 months) follow the conditions staff met the wave
    # before (the first wave: the lasting ones), through the burnout they drive, and what the
    # cross-level effects add to their burnout and intention to leave.
    driven = [_z(-sum(w * c[:, names.index(k)] for k, w in burnout_effects.items()) + shift)
              for c in [conditions, *wave_conditions[:-1]]]
    waves = [_wave(drawn.fixed, drawn.pay, staff, w, drawn.lasting["train"], wc, names, s,
                   drawn.rng, s * driven[w - 1] + (1 - s) * drawn.noise_good, design,
                   leaver_burnout)
             for w, wc in enumerate(wave_conditions, start=1)]
    return pd.concat(waves, ignore_index=True)


def _pay(fixed: pd.DataFrame, staff: np.ndarray, pay: np.ndarray, peer_led: np.ndarray,
         rng: np.random.Generator) -> pd.DataFrame:
    """Entry pay, its period and head counts per role."""
    reference = fixed["op_region"].map(REFERENCE_HOURLY).to_numpy()
    case_manager = reference * np.exp(0.03 + 0.09 * pay + 0.03 * rng.normal(0, 1, len(staff)))
    shares = np.array([[_ROLE_SHARE[k] + (0.08 * p if k == "peer" else 0.0) for k in _ROLE_SHARE]
                       for p in peer_led])
    shares = np.column_stack([shares, 1 - shares.sum(axis=1)])  # other roles (not compared)
    heads = np.array([rng.multinomial(int(n), row) for n, row in zip(staff, shares, strict=True)])
    annual = rng.random(len(staff)) < 0.4
    out = {}
    for j, key in enumerate(_ROLE_SHARE):
        hourly = np.round(case_manager * _ROLE_PAY[key] * np.exp(0.02 * rng.normal(0, 1, len(staff))), 2)
        has_role = heads[:, j] > 0
        out[f"op_pay_{key}"] = np.where(has_role, np.where(annual, np.round(hourly * HOURS_PER_YEAR),
                                                           hourly), np.nan)
        out[f"op_pay_{key}_per"] = np.where(has_role, np.where(annual, 2, 1), np.nan)
        out[f"op_n_{key}"] = heads[:, j]
    return pd.DataFrame(out)


def _wave(fixed: pd.DataFrame, pay: pd.DataFrame, staff: np.ndarray, wave: int, train: np.ndarray,
          conditions: np.ndarray, names: tuple[str, ...], s: float,
          rng: np.random.Generator, burnout_before: np.ndarray,
          design: OrgDesign | None = None, leaver_burnout: float = 0.5) -> pd.DataFrame:
    """The profile answers of one wave: the lasting ones, and leavers, vacancies, caseload.

    ``burnout_before`` (z-scored over organisations) is what drove burnout in the year the
    leavers are counted over.
    """
    n = len(staff)
    cond = {name: conditions[:, j] for j, name in enumerate(names)}
    leave_rate = _sigmoid(np.log(0.22 / 0.78) - 0.7 * s * train
                         + leaver_burnout * s * burnout_before)
    if design is not None:
        leave_rate = _sigmoid(np.log(0.22 / 0.78) + design.leave_shift(wave))
    leavers = rng.binomial(staff, leave_rate)
    frame = pd.concat([fixed, pay], axis=1)
    frame.insert(0, "response_id", [f"OP{wave}-{o}" for o in fixed["org"]])
    frame.insert(1, "wave", wave)
    frame["op_staff"] = staff
    frame["op_leavers"] = leavers
    frame["op_vacancies"] = leavers // 2 + rng.binomial(staff, 0.04)
    frame["op_caseload"] = np.clip(np.round(16 - 4 * cond["caseload"] + rng.normal(0, 3, n)), 3, 60)
    frame["op_sup_hours"] = np.clip(np.round(2 * (2 + cond["supervision"] + rng.normal(0, 0.7, n)))
                                    / 2, 0, 12)
    for item in ("op_well_leave", "op_well_counselling", "op_well_flex"):
        frame[item] = (rng.random(n) < 0.5).astype(int)
    return frame
