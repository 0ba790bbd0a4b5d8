"""Insulin on board of many lanes: the insulin given, per step, on oref0's exponential curves.

Shared by the PID and MPC controllers and the treatment handlers. A lane's history holds the
net insulin of each past step (boluses plus the basal delivered above, or below, the
scheduled basal rate) [U]; insulin on board is that history weighted by the fraction of a
unit still to act (oref0's exponential curve, :func:`dt1d.sim._oref0.insulin_curve`).
"""

from __future__ import annotations

import math

import numpy as np

from dt1d.sim import _oref0 as o

#: Minutes to the activity peak of a rapid-acting analogue (oref0's "rapid-acting" curve).
RAPID_PEAK_MIN = 75.0


def iob_fraction(minutes: np.ndarray, dia_h: float, peak_min: float = RAPID_PEAK_MIN
                 ) -> np.ndarray:
    """Fraction of 1 U still on board ``minutes`` after it was given (0 after ``dia_h``)."""
    flat = np.asarray(minutes, dtype=np.float64).ravel()
    out = np.array([o.insulin_curve(float(t), dia_h, peak_min)[0] for t in flat])
    return out.reshape(np.shape(minutes))


class InsulinHistory:
    """Net insulin of the last ``dia_h`` hours of ``n`` lanes, one slot per step.

    :meth:`record` adds the step just decided; :meth:`iob` is the insulin on board at the
    next decision, when the newest slot is one step old.
    """

    def __init__(self, n: int, step_min: int, dia_h: float = 5.0,
                 peak_min: float = RAPID_PEAK_MIN) -> None:
        self.step_min = int(step_min)
        self.dia_h = float(dia_h)
        self.peak_min = float(peak_min)
        self.n_slots = int(math.ceil(dia_h * 60.0 / step_min))
        self.net = np.zeros((n, self.n_slots))
        self.lag_min = (np.arange(self.n_slots) + 1.0) * step_min
        self.weights = iob_fraction(self.lag_min, dia_h, peak_min)

    def iob(self) -> np.ndarray:
        """Insulin on board of every lane [U] (n,): negative after basal was cut."""
        return self.net @ self.weights

    def record(self, net_u: np.ndarray) -> None:
        """Append this step's net insulin [U] (n,): boluses + (basal - scheduled) x step."""
        self.net[:, 1:] = self.net[:, :-1]
        self.net[:, 0] = net_u

    def remaining_effect(self, horizon_steps: int) -> np.ndarray:
        """(n_slots, horizon_steps + 1) matrix: the fraction of each slot's insulin that acts
        between now and ``h`` steps ahead (column h), so ``net @ M`` is the insulin acting
        over the next h steps [U]."""
        h = np.arange(horizon_steps + 1) * self.step_min
        later = iob_fraction(self.lag_min[:, None] + h[None, :], self.dia_h, self.peak_min)
        return self.weights[:, None] - later
