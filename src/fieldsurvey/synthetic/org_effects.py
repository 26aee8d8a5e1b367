"""The coalition's organisation-effects mode: a chosen ICC and chosen H6-H9 effects.

The default coalition builds its organisation-level effects in through organisations' latent
conditions (well-run organisations run peer-led programmes more often, and so on), so their
sizes follow from the conditions. ``plan-study`` needs them as inputs instead. When
:class:`~fieldsurvey.synthetic.CoalitionParams` has ``icc`` set, each organisation gets, from a
random stream of its own:

* the traits its profile reports: peer-led or survivor-led (exactly half the organisations),
  paying most staff below the living-wage reference (``below_share`` of them), training hours
  before the first case (log-normal, ``train`` its z-score);
and the staff outcomes (latent scale, SD 1 within a wave before the effects) become

.. math::

    y_{ij} = \\sqrt{\\rho}\\, u_j + \\sqrt{1 - \\rho}\\, w_{ij} \\pm \\delta\\, x_j

with :math:`\\rho` the ICC, :math:`u_j` the organisation means of the coalition's own latent
outcome z-scored over organisations and :math:`w_{ij}` the deviations from them scaled to SD 1
(so the H1-H5 relations between and within organisations are kept, only rescaled) plus an
organisation's sampling error ``N(0, 1/n_j)`` (the mean of :math:`n_j` independent deviations
is not exactly 0: without it organisation means would vary less than the ICC implies), and :math:`\\delta x_j` the organisation-level effect, in the
hypothesised direction: ``H6`` lowers burnout in peer/survivor-led organisations, ``H7`` raises
financial strain and intention to leave in organisations paying below the living wage. Leavers
in an organisation's profile follow ``logit P(leave) = logit(0.22) - H8 * train_j + H9 * b_j``
with :math:`b_j` the z-scored sum of the z-scored organisation parts of burnout and intention
to leave in the wave before (the first wave: its own). Effects are in SD units of the latent outcome (H6, H7) or log-odds per SD (H8, H9).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["OUTCOMES", "OrgDesign"]

#: Staff outcomes given the ICC and organisation-level effects.
OUTCOMES = ("burnout", "financial_strain", "intention_to_leave")
#: Hypotheses whose effects the mode takes.
HYPOTHESES = ("H6", "H7", "H8", "H9")


def _z(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else x - x.mean()


@dataclass(frozen=True)
class OrgDesign:
    """Organisation traits, intercepts and effects of the organisation-effects mode."""

    icc: float
    effects: dict[str, float]
    led: np.ndarray
    below: np.ndarray
    train: np.ndarray
    rng: np.random.Generator
    #: (outcome, wave) -> per organisation ``sqrt(icc) u_j +- delta x_j``, filled by apply().
    parts: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)

    @classmethod
    def draw(cls, n_orgs: int, icc: float, effects: dict[str, float], seed: int,
             below_share: float = 0.4) -> OrgDesign:
        """Draw the traits and intercepts of ``n_orgs`` organisations.

        Examples
        --------
        >>> d = OrgDesign.draw(10, 0.1, {"H6": 0.5}, seed=1)
        >>> int(d.led.sum()), int(d.below.sum())
        (5, 4)
        """
        if not 0 <= icc < 1:
            raise ValueError(f"icc must be from 0 to below 1 (got {icc})")
        unknown = set(effects) - set(HYPOTHESES)
        if unknown:
            raise ValueError(f"effects for unknown hypotheses {sorted(unknown)}; "
                             f"known: {', '.join(HYPOTHESES)}")
        rng = np.random.default_rng([seed, 23])
        led = np.zeros(n_orgs, bool)
        led[rng.permutation(n_orgs)[: n_orgs // 2]] = True
        below = np.zeros(n_orgs, bool)
        below[rng.permutation(n_orgs)[: round(below_share * n_orgs)]] = True
        train = rng.normal(0.0, 1.0, n_orgs)
        return cls(icc, dict(effects), led, below, train, rng)

    def effect(self, hypothesis: str) -> float:
        return float(self.effects.get(hypothesis, 0.0))

    def apply(self, outcome: str, latent: np.ndarray, org_index: np.ndarray,
              wave: int) -> np.ndarray:
        """The outcome's latent values with the ICC and effect built in (see module)."""
        groups = pd.Series(latent).groupby(org_index)
        means, sizes = groups.mean(), groups.size()
        u = np.zeros(len(self.led))
        u[means.index.to_numpy()] = _z(means.to_numpy())
        # Deviations from a sample mean have variance (n - 1) / n; the mean's own error 1 / n.
        n_j = sizes.reindex(org_index).to_numpy(float)
        error = np.zeros(len(self.led))
        error[sizes.index.to_numpy()] = self.rng.normal(0.0, 1.0, len(sizes)) / np.sqrt(sizes)
        within = (_z(latent - means.reindex(org_index).to_numpy()) * np.sqrt((n_j - 1) / n_j)
                  + error[org_index])
        # Effects are sizes in the hypothesised direction: less burnout where peer-led.
        shift = (-self.effect("H6") * self.led if outcome == "burnout"
                 else self.effect("H7") * self.below)
        part = np.sqrt(self.icc) * u + shift
        self.parts[(outcome, wave)] = part
        return np.sqrt(1 - self.icc) * within + part[org_index]

    def leave_shift(self, wave: int) -> np.ndarray:
        """Per organisation: the shift in the log-odds of leaving in the 12 months before
        ``wave`` (H8 and H9)."""
        before = max(wave - 1, 1)
        driver = _z(_z(self.parts[("burnout", before)])
                    + _z(self.parts[("intention_to_leave", before)]))
        return -self.effect("H8") * self.train + self.effect("H9") * driver

    def pay_level(self) -> np.ndarray:
        """The pay condition profiles are drawn from: well below or well above the reference."""
        return np.where(self.below, -1.5, 1.5)
