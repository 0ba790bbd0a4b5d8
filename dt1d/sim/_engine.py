"""Array-level simulation engine: initial conditions, kernel calls, divergence errors."""

from __future__ import annotations

import attrs
import numpy as np
import pandas as pd

from dt1d.exceptions import SimulationDivergedError
from dt1d.physiology.batch import (
    CHUNK,
    N_GLUCOSE_OUT,
    OUT_GP,
    OUT_GS,
    dopri_batch,
    dopri_batch_serial,
    rk4_batch,
    rk4_batch_serial,
)
from dt1d.physiology.kernels import new_meal_state, steady_state_from_glucose
from dt1d.physiology.params import (
    N_STATES,
    P_IB,
    P_VG,
    STATE_NAMES,
    X_GP,
    X_GS,
    X_X,
    PatientParams,
)

METHODS = ("rk4", "adaptive")

#: Highest plasma or interstitial glucose a simulation may reach [mg/dL]: above the highest
#: blood glucose recorded in a surviving person (2,656 mg/dL). Beyond it the model is
#: outside the physiology it describes, so the simulation stops with an error.
GLUCOSE_LIMIT_MG_DL = 3000.0
#: Largest magnitude of any state (mg, mg/kg, pmol/kg, pmol/L): far beyond physiology.
STATE_LIMIT = 1e9
#: Rounding allowance below zero for states that cannot be negative.
_NEG_TOL = 1e-9


def physical_violation(x: np.ndarray, p: np.ndarray) -> tuple[int, str] | None:
    """The first state of ``x`` (13,) outside its physical range for parameters ``p``.

    Returns ``(state index, the range it breaks)`` or None. Ranges: finite; at most
    :data:`STATE_LIMIT` in magnitude; non-negative, except the remote insulin action X,
    which is at least ``-I_b`` (plasma insulin cannot fall below zero); plasma and
    interstitial glucose at most :data:`GLUCOSE_LIMIT_MG_DL`.
    """
    for i in range(N_STATES):
        v = float(x[i])
        lower = -p[P_IB] - _NEG_TOL if i == X_X else -_NEG_TOL
        if not np.isfinite(v):
            return i, "a finite number"
        if abs(v) > STATE_LIMIT:
            return i, f"at most {STATE_LIMIT:g} in magnitude"
        if v < lower:
            return i, ">= -I_b (insulin cannot be negative)" if i == X_X else ">= 0"
        if i in (X_GP, X_GS) and v / p[P_VG] > GLUCOSE_LIMIT_MG_DL:
            return i, f"at most {GLUCOSE_LIMIT_MG_DL:g} mg/dL of glucose (x V_G)"
    return None


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
        bad = physical_violation(x, patient.to_array())
        if bad is not None:
            i, rule = bad
            raise ValueError(f"initial_state of patient {patient.name!r}: {STATE_NAMES[i]} = "
                             f"{float(x[i])!r} is outside its physical range (it must be {rule})")
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
        out = np.empty((rows + 1, N_STATES if full else N_GLUCOSE_OUT, self.n))
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
        self._check_physical(out, record_every, full)
        self.minute += n_min
        return out, eaten

    def _check_physical(self, out: np.ndarray, record_every: int, full: bool) -> None:
        """Raise SimulationDivergedError when a recorded or final state left its range."""
        vg = self.p[P_VG]
        if full:
            gp, gs = out[:, X_GP], out[:, X_GS]
        else:
            gs, gp = out[:, OUT_GS], out[:, OUT_GP]
        over = (gp / vg > GLUCOSE_LIMIT_MG_DL) | (gs / vg > GLUCOSE_LIMIT_MG_DL)
        if over.any():
            row, j = (int(v[0]) for v in np.nonzero(over))
            i = X_GP if gp[row, j] / vg[j] > GLUCOSE_LIMIT_MG_DL else X_GS
            value = (gp if i == X_GP else gs)[row, j]
            self._raise(j, self.minute + row * record_every, i, value,
                        f"at most {GLUCOSE_LIMIT_MG_DL:g} mg/dL of glucose (x V_G)")
        for j in range(self.n):
            bad = physical_violation(self.x[:, j], self.p[:, j])
            if bad is not None:
                self._raise(j, self.minute + out.shape[0] * record_every - record_every,
                            bad[0], self.x[bad[0], j], bad[1], by=True)

    def _raise(self, j: int, minute: int, i: int, value: float, rule: str,
               by: bool = False) -> None:
        when = f"{'by ' if by else ''}minute {minute}"
        shown = f"{value:.6g}"
        if i in (X_GP, X_GS):
            shown += f" ({value / self.p[P_VG, j]:.6g} mg/dL)"
        if self.start is not None:
            when += f" ({self.start + pd.Timedelta(minutes=minute)})"
        raise SimulationDivergedError(
            f"simulation of patient {self.names[j]!r} left the physical range at {when}: "
            f"state {i} ({STATE_NAMES[i]}) = {shown}, but it must be {rule}. Check the "
            "patient's parameters, initial state and inputs (e.g. a meal or dose in the "
            "wrong unit)", patient=self.names[j], minute=minute, state=STATE_NAMES[i],
            value=float(value))

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
            "or integrate with a smaller rk4_step_min or method='adaptive'",
            patient=self.names[j], minute=minute, state=STATE_NAMES[i],
            value=float(bad[i, j]))
