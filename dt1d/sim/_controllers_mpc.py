"""The MPC controller: model predictive control of the basal rate on a linear glucose model.

Every step (5 minutes) the controller predicts the glucose of the next ``horizon_min``
minutes with a linear model, chooses the basal-rate changes over that horizon that keep
the prediction nearest the target at the least insulin change, delivers the first and
decides again at the next step (receding horizon).

The prediction model is linear in the insulin (the "insulin effect plus carb effect"
model of the open-source loops, after Loop's and oref0's forecasts):

``g(t + h) = g(t) - CF [insulin acting in (t, t + h]] + (CF / CR) [carbs absorbed in
(t, t + h]] + momentum(h)``

with each unit's action on oref0's exponential insulin curve (``dia_h``, peak 75 min:
:mod:`dt1d.sim._iob`), carbs absorbed linearly over ``carb_absorption_min`` after a
``carb_delay_min`` delay, and a momentum term: the mean error of the last three one-step
predictions (what the model did not explain: sensitivity changes, carbs absorbed faster or
slower, sensor error) continued as a rate that fades linearly to zero over
``momentum_min``.

Optimisation: the basal change is held over ``len(moves_min)`` blocks (starting at
``moves_min`` minutes, the last to the end of the horizon); the cost is the mean squared
distance of the prediction from the target, each step below the target weighted
``low_weight`` times (found by solving once, reweighting the steps predicted low and
solving again), plus ``effort_weight`` times the mean squared glucose effect of an hour of
each block's change ``(CF u)^2``. Constraints: the rate stays within ``[0, max_basal]``,
and the rate delivered now adds no insulin once the insulin on board reaches ``max_iob``
or, with ``iob_safety`` (Ellingsen et al. 2009's insulin-on-board constraint for MPC),
what the current glucose needs, ``(CGM - target) / CF``.
The problem has three variables by default and box bounds; it is solved exactly for every
patient at once (:mod:`dt1d.sim._box_qp`, checked against ``scipy.optimize.lsq_linear``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from dt1d.exceptions import ControllerSettingsError
from dt1d.physiology.params import PatientParams
from dt1d.sim._box_qp import MAX_VARIABLES, solve_box_qp
from dt1d.sim._iob import InsulinHistory, iob_fraction
from dt1d.sim._therapy import patient_therapy

__all__ = ["MPCController"]

#: One-step prediction errors averaged for the momentum term.
N_ERRORS = 3


def _positive(instance, attribute, value) -> None:
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)
                                  and value > 0):
        raise ControllerSettingsError(
            f"{type(instance).__name__}.{attribute.name} = {value!r} must be finite and > 0")


def _non_negative(instance, attribute, value) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ControllerSettingsError(
            f"{type(instance).__name__}.{attribute.name} = {value!r} must be finite and >= 0")


@attrs.frozen(kw_only=True)
class MPCController:
    """Model predictive control of the insulin rate (linear prediction model; module notes).

    Defaults: target 130 mg/dL, a 5-hour horizon (the duration of insulin action, so that
    a meal bolus's whole effect is inside it), three moves (0-30, 30-90 and 90-300 min),
    below-target steps weighted 20 times, effort weight 0.1, momentum fading over 60 min,
    carbs absorbed over 90 minutes after 10 minutes, low-glucose suspend below 80 mg/dL.
    These are dt1d's, chosen by hand on the 30 virtual patients over 3 days (seed 1) from
    about twenty settings for a high time in range at the least time below 70 mg/dL
    (85.1 % and 4.3 %; basal-bolus 81.6 % and 9.1 %; see docs/controllers.md). The first
    design (3-hour horizon, carbs absorbed over 3 hours, no insulin-on-board constraint)
    spent 14 % of the time below 70: its model still expected carbs, or missed the tail of
    the meal bolus, when the meal was over, and it added insulin.

    Settings left ``None`` come from each patient (as for :class:`PIDController`): basal
    rate, carb ratio and correction factor (or the 500 and 1800 rules on the total daily
    dose); ``max_basal_u_per_h`` defaults to 4 x basal, ``max_iob_u`` to oref0's rule, the
    bolus of a 60 g meal plus 3 hours of basal. ``meal_bolus``: the person boluses
    ``carbs / CR`` with each announced meal (hybrid closed loop); the controller always
    knows the announced carbs.
    """

    target_mg_dl: float = attrs.field(default=130.0, validator=_positive)
    horizon_min: int = attrs.field(default=300, validator=_positive)
    moves_min: tuple[int, ...] = (0, 30, 90)
    low_weight: float = attrs.field(default=20.0, validator=_positive)
    effort_weight: float = attrs.field(default=0.1, validator=_non_negative)
    momentum_min: float = attrs.field(default=60.0, validator=_non_negative)
    carb_absorption_min: float = attrs.field(default=90.0, validator=_positive)
    carb_delay_min: float = attrs.field(default=10.0, validator=_non_negative)
    suspend_below_mg_dl: float = attrs.field(default=80.0, validator=_non_negative)
    basal_u_per_h: float | None = attrs.field(default=None, validator=_positive)
    carb_ratio_g_per_u: float | None = attrs.field(default=None, validator=_positive)
    correction_factor_mg_dl_per_u: float | None = attrs.field(default=None,
                                                              validator=_positive)
    total_daily_dose_u: float | None = attrs.field(default=None, validator=_positive)
    max_basal_u_per_h: float | None = attrs.field(default=None, validator=_positive)
    max_iob_u: float | None = attrs.field(default=None, validator=_positive)
    meal_bolus: bool = True
    iob_safety: bool = True
    dia_h: float = attrs.field(default=5.0, validator=_positive)
    _lanes: dict = attrs.field(factory=dict, init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        moves = tuple(self.moves_min)
        if (not moves or moves[0] != 0 or any(b <= a for a, b in zip(moves[:-1], moves[1:], strict=True))
                or moves[-1] >= self.horizon_min or len(moves) > MAX_VARIABLES):
            raise ControllerSettingsError(
                f"MPCController.moves_min = {self.moves_min!r}: give 1 to {MAX_VARIABLES} "
                f"increasing move start times [min], the first 0 and all before "
                f"horizon_min = {self.horizon_min}")

    def settings_for(self, patient: PatientParams) -> dict[str, float]:
        """The settings this controller uses for ``patient`` (explicit ones, else derived)."""
        th = patient_therapy(patient, basal_u_per_h=self.basal_u_per_h,
                             carb_ratio_g_per_u=self.carb_ratio_g_per_u,
                             correction_factor_mg_dl_per_u=self.correction_factor_mg_dl_per_u,
                             total_daily_dose_u=self.total_daily_dose_u)
        max_basal = (self.max_basal_u_per_h if self.max_basal_u_per_h is not None
                     else 4.0 * th.basal_u_per_h)
        max_iob = (self.max_iob_u if self.max_iob_u is not None
                   else 60.0 / th.carb_ratio_g_per_u + 3.0 * th.basal_u_per_h)
        return {"basal_u_per_h": th.basal_u_per_h, "carb_ratio_g_per_u": th.carb_ratio_g_per_u,
                "correction_factor_mg_dl_per_u": th.correction_factor_mg_dl_per_u,
                "total_daily_dose_u": th.total_daily_dose_u,
                "max_basal_u_per_h": float(max_basal), "max_iob_u": float(max_iob),
                "target_mg_dl": float(self.target_mg_dl)}

    def start_batch(self, patients: Sequence[PatientParams], step_min: int) -> _MPCLanes:
        """Fresh controller state for ``patients``; its ``step(glucose, carbs)`` returns the
        doses (basal [U/h], bolus [U]) of every patient."""
        return _MPCLanes(self, [self.settings_for(p) for p in patients], int(step_min))

    def reset(self) -> None:
        """Forget every patient's state (used by the one-patient ``policy`` path)."""
        self._lanes.clear()

    def policy(self, observation: Any) -> Any:
        """One step for one patient (state kept per patient name)."""
        from dt1d.sim._controllers_pid import _lane_policy

        return _lane_policy(self, observation)


def _column(settings: list[dict[str, float]], key: str) -> np.ndarray:
    return np.array([s[key] for s in settings], dtype=np.float64)


class _MPCLanes:
    """MPC state of ``n`` patients: insulin and carb histories, recent prediction errors."""

    def __init__(self, ctl: MPCController, settings: list[dict[str, float]],
                 step_min: int) -> None:
        self.ctl, self.dt = ctl, float(step_min)
        n = self.n = len(settings)
        self.basal = _column(settings, "basal_u_per_h")
        self.cr = _column(settings, "carb_ratio_g_per_u")
        self.cf = _column(settings, "correction_factor_mg_dl_per_u")
        self.max_basal = _column(settings, "max_basal_u_per_h")
        self.max_iob = _column(settings, "max_iob_u")
        self.target = float(ctl.target_mg_dl)
        N = self.N = max(1, int(round(ctl.horizon_min / self.dt)))
        self.history = InsulinHistory(n, step_min, ctl.dia_h)
        # insulin of past slots acting over the next h steps (n_slots, N); new doses' action
        self.past_effect = self.history.remaining_effect(N)[:, 1:]
        acted = 1.0 - iob_fraction(np.arange(N + 1) * self.dt, ctl.dia_h)  # acted[l]: l steps
        acted[0] = 0.0
        self.acted = acted
        starts = [int(round(m / self.dt)) for m in ctl.moves_min]
        ends = [*starts[1:], N]
        B0 = np.zeros((N, len(starts)))  # glucose at h = 1..N per U/h of each move, / -CF
        for j, (a, b) in enumerate(zip(starts, ends, strict=True)):
            for k in range(a, b):
                h = np.arange(k + 1, N + 1)
                B0[h - 1, j] += acted[h - k] * self.dt / 60.0
        self.B0 = B0
        self.block_len = np.array([b - a for a, b in zip(starts, ends, strict=True)], float)
        # carbs: fraction absorbed t minutes after the entry; slots of past entries
        self.carb_slots = int(math.ceil((ctl.carb_delay_min + ctl.carb_absorption_min)
                                        / self.dt)) + 1
        self.carbs = np.zeros((n, self.carb_slots))  # g entered k steps ago (k = 0: now)
        age = np.arange(self.carb_slots) * self.dt
        ahead = age[:, None] + np.arange(N + 1)[None, :] * self.dt
        F = self._absorbed(ahead)
        self.carb_effect = F[:, 1:] - F[:, :1]  # (slots, N): absorbed between now and h
        self.errors = np.zeros((n, N_ERRORS))
        self.n_errors = 0
        self.last_prediction = None
        fade = max(ctl.momentum_min / self.dt, 1e-9)
        steps = np.arange(1, N + 1)
        self.momentum = np.cumsum(np.clip(1.0 - (steps - 1) / fade, 0.0, 1.0))

    def _absorbed(self, minutes: np.ndarray) -> np.ndarray:
        c = self.ctl
        return np.clip((minutes - c.carb_delay_min) / c.carb_absorption_min, 0.0, 1.0)

    def iob(self) -> np.ndarray:
        """Insulin on board above the basal rate [U] (boluses and rate changes)."""
        return self.history.iob()

    def model_prediction(self, glucose: np.ndarray, bolus: np.ndarray) -> np.ndarray:
        """Glucose over the horizon (n, N) from the histories and this step's bolus, with
        the scheduled basal and no momentum."""
        insulin = self.history.net @ self.past_effect + bolus[:, None] * self.acted[None, 1:]
        carbs = self.carbs @ self.carb_effect
        return (glucose[:, None] - self.cf[:, None] * insulin
                + (self.cf / self.cr)[:, None] * carbs)

    def step(self, glucose_mg_dl: np.ndarray, carbs_announced_g: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """Read the CGM and the announced carbs; return (basal [U/h], bolus [U])."""
        ctl = self.ctl
        g = np.asarray(glucose_mg_dl, dtype=np.float64)
        carbs = np.asarray(carbs_announced_g, dtype=np.float64)
        if self.last_prediction is not None:
            self.errors[:, 1:] = self.errors[:, :-1]
            self.errors[:, 0] = g - self.last_prediction
            self.n_errors = min(self.n_errors + 1, N_ERRORS)
        self.carbs[:, 0] += carbs
        bolus = np.where(carbs > 0, carbs / self.cr, 0.0) if ctl.meal_bolus else np.zeros(self.n)
        model = self.model_prediction(g, bolus)
        drift = self.errors[:, :self.n_errors].mean(axis=1) if self.n_errors else np.zeros(
            self.n)
        free = model + drift[:, None] * self.momentum[None, :]
        u = self._optimise(free, bolus, g)
        rate = np.clip(self.basal + u, 0.0, self.max_basal)
        rate = np.where(g < ctl.suspend_below_mg_dl, 0.0, rate)
        change = rate - self.basal
        self.last_prediction = model[:, 0] - self.cf * self.B0[0, 0] * change
        self.history.record(bolus + change * self.dt / 60.0)
        self.carbs[:, 1:] = self.carbs[:, :-1].copy()
        self.carbs[:, 0] = 0.0
        return rate, bolus

    def _optimise(self, free: np.ndarray, bolus: np.ndarray, glucose: np.ndarray
                  ) -> np.ndarray:
        """The rate change of the first move [U/h] (n,)."""
        ctl = self.ctl
        B = -self.cf[:, None, None] * self.B0[None]  # (n, N, M) mg/dL per U/h
        e = self.target - free  # what the insulin change should do
        R = ctl.effort_weight * (self.cf ** 2)[:, None] * self.block_len[None, :]
        M = self.B0.shape[1]
        lo = np.repeat(-self.basal[:, None], M, axis=1)
        hi = np.repeat((self.max_basal - self.basal)[:, None], M, axis=1)
        on_board = self.iob() + bolus
        room = self.max_iob - on_board
        if ctl.iob_safety:  # no more insulin on board than the glucose now needs
            room = np.minimum(room, (glucose - self.target) / self.cf - on_board)
        headroom = np.maximum(room, 0.0) * 60.0 / self.dt
        hi[:, 0] = np.maximum(np.minimum(hi[:, 0], headroom), lo[:, 0])
        w = np.ones_like(free)
        for _ in range(2):
            Hm = np.einsum("nhi,nh,nhj->nij", B, w, B)
            Hm[:, np.arange(M), np.arange(M)] += R
            f = np.einsum("nhi,nh,nh->ni", B, w, e)
            u = solve_box_qp(Hm, f, lo, hi)
            predicted = free + np.einsum("nhi,ni->nh", B, u)
            w = np.where(predicted < self.target, ctl.low_weight, 1.0)
        return u[:, 0]
