"""Array-level simulation engine: initial conditions, kernel calls, divergence errors."""

from __future__ import annotations

import attrs
import numpy as np
import pandas as pd

from dt1d.exceptions import SimulationDivergedError
from dt1d.physiology.batch import (
    CHUNK,
    dopri_batch,
    dopri_batch_serial,
    rk4_batch,
    rk4_batch_serial,
)
from dt1d.physiology.kernels import new_meal_state, steady_state_from_glucose
from dt1d.physiology.params import N_STATES, STATE_NAMES, PatientParams

METHODS = ("rk4", "adaptive")


def initial_state(patient: PatientParams, state: np.ndarray | None = None,
                  glucose_mg_dl: float | None = None) -> np.ndarray:
    """The starting state: a full vector, the steady state at a glucose, or the basal state."""
    if state is not None and glucose_mg_dl is not None:
        raise ValueError("give initial_state or initial_glucose_mg_dl, not both")
    if state is not None:
        x = np.array(state, dtype=np.float64, copy=True)
        if x.shape != (N_STATES,):
            raise ValueError(f"initial_state has shape {x.shape}; it needs ({N_STATES},) "
                             f"in the order {', '.join(STATE_NAMES)}")
        if not np.isfinite(x).all():
            bad = STATE_NAMES[int(np.flatnonzero(~np.isfinite(x))[0])]
            raise ValueError(f"initial_state has a non-finite value for {bad}")
        return x
    if glucose_mg_dl is not None:
        x, _ = steady_state_from_glucose(patient.to_array(), float(glucose_mg_dl))
        if not np.isfinite(x).all():
            raise ValueError(
                f"patient {patient.name!r} has no steady state at {glucose_mg_dl} mg/dL with a "
                "non-negative insulin rate; choose a glucose in its physiological range")
        return x
    x = patient.basal_state()
    if not np.isfinite(x).all():
        raise ValueError(f"patient {patient.name!r} has no basal steady state; check its "
                         "parameters (e.g. vm0/vmx, u2ss)")
    return x


@attrs.define
class Batch:
    """Mutable arrays of ``n`` patients advanced minute by minute by the kernels."""

    names: list[str]
    p: np.ndarray  # (N_PARAMS, n)
    x: np.ndarray  # (13, n)
    meal: np.ndarray  # (N_MEAL, n)
    method: str = "rk4"
    eat_rate: float = 5.0
    substeps: int = 1
    rtol: float = 1e-6
    atol: float = 1e-8
    start: pd.Timestamp | None = None
    minute: int = 0
    nfev: np.ndarray | None = None

    @classmethod
    def create(cls, patients: list[PatientParams], states: list[np.ndarray], *,
               method: str = "rk4", eat_rate_g_per_min: float | None = 5.0,
               rk4_step_min: float = 1.0, rtol: float = 1e-6, atol: float = 1e-8,
               start: pd.Timestamp | None = None) -> Batch:
        """Stack patients and initial states; validate the integrator settings."""
        if method not in METHODS:
            raise ValueError(f"method={method!r}; choose one of {METHODS}")
        substeps = round(1.0 / rk4_step_min) if rk4_step_min > 0 else 0
        if substeps < 1 or abs(substeps * rk4_step_min - 1.0) > 1e-9:
            raise ValueError(f"rk4_step_min={rk4_step_min} must divide one minute "
                             "(1, 0.5, 0.25, 0.2, 0.1, ...): inputs change every minute")
        if eat_rate_g_per_min is None:
            eat_rate = np.inf
        elif not eat_rate_g_per_min > 0:
            raise ValueError(f"eat_rate_g_per_min={eat_rate_g_per_min} must be > 0 (or None "
                             "for meals eaten within their minute)")
        else:
            eat_rate = float(eat_rate_g_per_min)
        if not (rtol > 0 and atol > 0):
            raise ValueError("rtol and atol must be > 0")
        x = np.ascontiguousarray(np.stack(states, axis=1))
        meal = np.ascontiguousarray(np.stack([new_meal_state(s) for s in states], axis=1))
        p = np.ascontiguousarray(np.stack([pt.to_array() for pt in patients], axis=1))
        return cls([pt.name for pt in patients], p, x, meal, method, eat_rate, substeps,
                   float(rtol), float(atol), start, 0,
                   np.zeros(len(patients), dtype=np.int64))

    @property
    def n(self) -> int:
        return self.x.shape[1]

    def advance(self, carbs_g: np.ndarray, insulin_u_per_min: np.ndarray, record_every: int,
                full: bool) -> tuple[np.ndarray, np.ndarray]:
        """Run ``m`` minutes of announced carbs and insulin rates, both (m, n).

        Returns ``out`` (m // record_every + 1, 13 or 2, n) and eaten carbs per block.
        """
        n_min = carbs_g.shape[0]
        if n_min % record_every:
            raise ValueError("the number of minutes must be a multiple of record_every")
        carbs_g = np.ascontiguousarray(carbs_g, dtype=np.float64)
        insulin = np.ascontiguousarray(insulin_u_per_min, dtype=np.float64)
        rows = n_min // record_every
        out = np.empty((rows + 1, N_STATES if full else 2, self.n))
        eaten = np.empty((rows, self.n))
        status = np.full(self.n, -1, dtype=np.int64)
        bad = np.zeros((N_STATES, self.n))
        few = self.n <= CHUNK  # starting threads costs more than it saves
        if self.method == "rk4":
            kernel = rk4_batch_serial if few else rk4_batch
            kernel(self.p, self.x, self.meal, carbs_g, insulin, self.eat_rate, self.substeps,
                   record_every, out, eaten, status, bad)
        else:
            nfev = np.zeros(self.n, dtype=np.int64)
            kernel = dopri_batch_serial if self.n == 1 else dopri_batch
            kernel(self.p, self.x, self.meal, carbs_g, insulin, self.eat_rate, self.rtol,
                   self.atol, record_every, out, eaten, status, bad, nfev)
            self.nfev += nfev
        if (status >= 0).any():
            self._raise_diverged(status, bad)
        self.minute += n_min
        return out, eaten

    def _raise_diverged(self, status: np.ndarray, bad: np.ndarray) -> None:
        j = int(np.argmin(np.where(status >= 0, status, np.iinfo(np.int64).max)))
        minute = self.minute + int(status[j]) + 1
        i = int(np.flatnonzero(~np.isfinite(bad[:, j]))[0])
        when = f"minute {minute}"
        if self.start is not None:
            when += f" ({self.start + pd.Timedelta(minutes=minute)})"
        raise SimulationDivergedError(
            f"simulation of patient {self.names[j]!r} diverged at {when}: state {i} "
            f"({STATE_NAMES[i]}) = {bad[i, j]}. Check the patient's parameters and inputs, "
            "or integrate with a smaller rk4_step_min or method='adaptive'")
