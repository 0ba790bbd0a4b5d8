"""Step many patients one control interval at a time: one batch-kernel call per interval.

:class:`BatchStepper` holds the states, meal states and parameters of ``n`` patients
("lanes") as struct-of-arrays and advances all of them by ``step_min`` minutes in one call
of the RK4 batch kernel (no Python loop over patients). Pump limits and the CGM's reading
are applied vectorised. The insulin of an interval follows :func:`dt1d.sim.simulate`: the
basal rate held over the interval, the bolus given in its first minute, extra (scenario)
boluses in their own minutes, so stepping with a controller's doses reproduces the
simulator's record. Controllers, reinforcement-learning environments and closed-loop
studies build on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dt1d.physiology.batch import CHUNK, N_GLUCOSE_OUT, rk4_batch, rk4_batch_serial
from dt1d.physiology.kernels import M_QSTO_START_MG, N_MEAL
from dt1d.physiology.params import (
    N_STATES,
    P_BW,
    P_VG,
    PMOL_PER_UNIT,
    STATE_NAMES,
    X_GP,
    X_GS,
    X_ISC1,
    X_ISC2,
    X_QGUT,
    X_QSTO1,
    X_QSTO2,
    PatientParams,
)
from dt1d.sim._engine import SimulationDivergedError
from dt1d.sim.pump import InsulinPump
from dt1d.sim.sensor import CGMSensor

__all__ = ["BatchStepper"]


class BatchStepper:
    """``n`` patients advanced together, ``step_min`` minutes per :meth:`step`.

    ``patients``: one :class:`PatientParams` per lane. ``pump``: an :class:`InsulinPump`
    (doses clipped to its limits and rounded to its increments by :meth:`deliver`) or
    None (exact doses). ``sensor``: a :class:`CGMSensor` for :meth:`measure` or None
    (noise-free readings). ``eat_rate_g_per_min`` and ``rk4_step_min`` as in
    :func:`dt1d.sim.simulate`. Every lane starts at its basal steady state; set others
    with :meth:`set_states`.
    """

    def __init__(self, patients: Sequence[PatientParams], *, step_min: int = 5,
                 pump: InsulinPump | None = None, sensor: CGMSensor | None = None,
                 eat_rate_g_per_min: float | None = 5.0, rk4_step_min: float = 1.0) -> None:
        pts = list(patients)
        if not pts or not all(isinstance(p, PatientParams) for p in pts):
            raise TypeError("BatchStepper needs a non-empty sequence of PatientParams")
        step_min = int(step_min)
        if step_min < 1:
            raise ValueError(f"step_min={step_min} must be a whole number of minutes >= 1")
        substeps = round(1.0 / rk4_step_min) if rk4_step_min > 0 else 0
        if substeps < 1 or abs(substeps * rk4_step_min - 1.0) > 1e-9:
            raise ValueError(f"rk4_step_min={rk4_step_min} must divide one minute "
                             "(1, 0.5, 0.25, 0.2, 0.1, ...)")
        if eat_rate_g_per_min is None:
            self.eat_rate = np.inf
        elif not eat_rate_g_per_min > 0:
            raise ValueError(f"eat_rate_g_per_min={eat_rate_g_per_min} must be > 0 (or None)")
        else:
            self.eat_rate = float(eat_rate_g_per_min)
        self.names = [p.name for p in pts]
        self.step_min, self.substeps = step_min, int(substeps)
        self.pump, self.sensor = pump, sensor
        n = len(pts)
        self.p = np.ascontiguousarray(np.stack([p.to_array() for p in pts], axis=1))
        self.vg = np.ascontiguousarray(self.p[P_VG])
        self.basal_u_per_h = np.array([p.basal_insulin_u_per_h for p in pts])
        self.basal_states = np.ascontiguousarray(np.stack([p.basal_state() for p in pts], 1))
        bad = ~np.isfinite(self.basal_states).all(axis=0)
        if bad.any():
            raise ValueError(f"patient {self.names[int(np.flatnonzero(bad)[0])]!r} has no "
                             "basal steady state; check its parameters")
        self.x = self.basal_states.copy()
        self.meal = np.zeros((N_MEAL, n))
        self.meal[M_QSTO_START_MG] = self.x[X_QSTO1] + self.x[X_QSTO2]
        self._insulin = np.zeros((step_min, n))
        self._out = np.empty((2, N_GLUCOSE_OUT, n))  # two rows (start, end) of G_s, G_p
        self._eaten = np.empty((1, n))
        self._status = np.full(n, -1, dtype=np.int64)
        self._bad = np.zeros((N_STATES, n))
        self._kernel = rk4_batch_serial if n <= CHUNK else rk4_batch
        if pump is not None:
            self._max_basal, self._max_bolus = pump.max_basal_u_per_h, pump.max_bolus_u
            self._inc_basal, self._inc_bolus = (pump.basal_increment_u_per_h,
                                                pump.bolus_increment_u)

    @property
    def n(self) -> int:
        """Number of lanes (patients)."""
        return self.x.shape[1]

    def set_states(self, lanes: np.ndarray, states: np.ndarray) -> None:
        """Put lanes ``lanes`` at ``states`` (13, len(lanes)) with nothing planned or eaten."""
        states = np.asarray(states, dtype=np.float64)
        if states.shape != (N_STATES, len(lanes)) or not np.isfinite(states).all():
            raise ValueError(f"states must be finite, shape ({N_STATES}, {len(lanes)})")
        self.x[:, lanes] = states
        self.meal[:, lanes] = 0.0
        self.meal[M_QSTO_START_MG, lanes] = states[X_QSTO1] + states[X_QSTO2]

    def deliver(self, basal_u_per_h: np.ndarray, bolus_u: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the pump delivers for requests: (basal [U/h], bolus [U], clipped mask).

        NaN and negative requests become 0, requests beyond the pump's limits the limit
        (``clipped`` marks the lanes changed); then doses are rounded to the increments,
        as :meth:`InsulinPump.deliver` does for requests within the limits.
        """
        basal = np.array(basal_u_per_h, dtype=np.float64)
        bolus = np.array(bolus_u, dtype=np.float64)
        hi_b = self._max_basal if self.pump is not None else np.inf
        hi_u = self._max_bolus if self.pump is not None else np.inf
        nan_b, nan_u = np.isnan(basal), np.isnan(bolus)
        clipped = nan_b | nan_u | (basal < 0) | (bolus < 0) | (basal > hi_b) | (bolus > hi_u)
        if clipped.any():
            basal[nan_b] = 0.0
            bolus[nan_u] = 0.0
            np.clip(basal, 0.0, hi_b, out=basal)
            np.clip(bolus, 0.0, hi_u, out=bolus)
        if self.pump is not None:
            basal = np.round(basal / self._inc_basal) * self._inc_basal
            bolus = np.round(bolus / self._inc_bolus) * self._inc_bolus
        return basal, bolus, clipped

    def step(self, carbs_g: np.ndarray, basal_u_per_h: np.ndarray, bolus_u: np.ndarray,
             extra_u: np.ndarray | None = None, ignore: np.ndarray | None = None) -> np.ndarray:
        """Advance every lane by ``step_min`` minutes; return the carbs eaten [g] (n,).

        ``carbs_g`` (step_min, n): carbohydrate announced in each minute [g];
        ``basal_u_per_h`` (n,) held over the interval, ``bolus_u`` (n,) given in its first
        minute, ``extra_u`` (step_min, n) further boluses in their minutes [U]: delivered
        doses (see :meth:`deliver`). A lane whose state stops being finite raises
        :class:`SimulationDivergedError`, unless ``ignore`` (n,) bool marks it.
        """
        ins = self._insulin
        ins[:] = basal_u_per_h / 60.0
        ins[0] += bolus_u
        if extra_u is not None:
            ins += extra_u
        status = self._status
        status.fill(-1)
        self._kernel(self.p, self.x, self.meal, np.ascontiguousarray(carbs_g, np.float64), ins,
                     self.eat_rate, self.substeps, self.step_min, self._out, self._eaten,
                     status, self._bad)
        if status.max() >= 0:
            hit = status >= 0
            if ignore is not None:
                hit &= ~ignore
            if hit.any():
                j = int(np.flatnonzero(hit)[0])
                i = int(np.flatnonzero(~np.isfinite(self._bad[:, j]))[0])
                raise SimulationDivergedError(
                    f"lane {j} (patient {self.names[j]!r}) diverged: state {STATE_NAMES[i]} = "
                    f"{self._bad[i, j]}; check the patient's parameters and the doses")
        return self._eaten[0]

    def diverged(self) -> np.ndarray:
        """Lanes whose state stopped being finite in the last :meth:`step` (n,) bool."""
        return self._status >= 0

    def glucose_sc_mg_dl(self) -> np.ndarray:
        """Subcutaneous glucose G_s / V_G of every lane (what a CGM measures) [mg/dL]."""
        return self.x[X_GS] / self.vg

    def glucose_plasma_mg_dl(self) -> np.ndarray:
        """Plasma glucose G_p / V_G of every lane [mg/dL]."""
        return self.x[X_GP] / self.vg

    def measure(self, noise_mg_dl: np.ndarray | float) -> np.ndarray:
        """CGM readings: subcutaneous glucose plus ``noise_mg_dl``, in the sensor's range."""
        gsc = self.glucose_sc_mg_dl()
        if self.sensor is None:
            return gsc
        return self.sensor.measure(gsc, noise_mg_dl)

    def insulin_on_board_u(self) -> np.ndarray:
        """Insulin still in the subcutaneous depot (I_sc1 + I_sc2) [U]."""
        return (self.x[X_ISC1] + self.x[X_ISC2]) * self.p[P_BW] / PMOL_PER_UNIT

    def carbs_on_board_g(self) -> np.ndarray:
        """Carbohydrate not absorbed yet: stomach, gut and announced-but-uneaten [g]."""
        return (self.x[X_QSTO1] + self.x[X_QSTO2] + self.x[X_QGUT]) / 1000.0 + self.meal[0]
