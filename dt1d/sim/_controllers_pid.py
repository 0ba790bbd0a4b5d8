"""The PID controller: proportional-integral-derivative insulin delivery with IOB safety.

The external-physiological-insulin-delivery form of Steil et al. (2006): the insulin rate
is the basal rate plus a proportional, an integral and a derivative response to the CGM,
``u = basal + Kp (e + (1/TI) integral(e) dt + TD de/dt)`` with ``e = CGM - target``;
optionally with insulin feedback (Steil et al. 2011), ``u' = (1 + gamma) u - gamma I_p``,
where ``I_p`` is a model estimate of the plasma insulin the delivered insulin produces
(two first-order lags of the delivered rate, in U/h so that ``I_p = basal`` at steady
state). Insulin feedback lowers the delivery while earlier insulin is still rising in the
plasma, compensating for the slow subcutaneous absorption.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from dt1d.exceptions import ControllerSettingsError
from dt1d.physiology.params import PatientParams
from dt1d.sim._iob import InsulinHistory
from dt1d.sim._therapy import patient_therapy

__all__ = ["PIDController"]

#: Proportional gain = total daily dose / KP_TDD_DIVISOR [U/h per mg/dL] (see the docstring).
KP_TDD_DIVISOR = 2000.0


def _positive(instance, attribute, value) -> None:
    if value is not None and not (np.isfinite(value) and value > 0):
        raise ControllerSettingsError(
            f"{type(instance).__name__}.{attribute.name} = {value!r} must be finite and > 0")


def _non_negative(instance, attribute, value) -> None:
    if not (np.isfinite(value) and value >= 0):
        raise ControllerSettingsError(
            f"{type(instance).__name__}.{attribute.name} = {value!r} must be finite and >= 0")


@attrs.frozen(kw_only=True)
class PIDController:
    """PID control of the insulin rate, with insulin-on-board safety and optional insulin
    feedback.

    Every 5 minutes (each step) the rate is ``basal + Kp (e + I / TI + TD dG/dt)``:
    ``e = CGM - target``, ``I`` the integral of ``e`` [mg/dL min] and ``dG/dt`` the CGM
    slope over the last 10 minutes (a least-squares line through three readings).

    Tuning from the patient's total daily dose (TDD), in the form Steil et al. (2006)
    used for their clinical PID (a gain proportional to TDD): ``Kp = TDD / 2000`` U/h per
    mg/dL (for TDD = 50 U, 0.025 U/h per mg/dL: 50 mg/dL above target adds 1.25 U/h);
    ``TI = 600`` min, ``TD = 90`` min, target 130 mg/dL and insulin feedback 0.5. These
    constants are dt1d's, chosen on the 30 virtual patients over 3 days (seed 1) among a
    small grid (target 120-140, TI 300-600, TD 30-90, feedback 0 or 0.5) for the highest
    time in range with time below 70 mg/dL under 4 % (docs/controllers.md), not the
    clinical trial's.

    Safety:

    - insulin on board (``iob_safety``, after Ellingsen et al. 2009): insulin above the
      basal rate is given only while the insulin on board (boluses and temp-basal
      differences, on oref0's exponential curve with ``dia_h``) is below what the current
      glucose needs, ``(CGM - target) / CF``: after a meal bolus the PID adds nothing
      until the bolus has acted;
    - no insulin at all while the CGM is below ``suspend_below_mg_dl`` (low-glucose
      suspend);
    - the rate stays within ``[0, max_basal_u_per_h]`` (default 4 x basal, oref0's
      current-basal safety multiplier), and the integral stops growing while the output
      is held at a limit (anti-windup).

    ``insulin_feedback`` is the gain ``gamma`` (0 switches it off; Steil et al. 2011 used
    0.5), with
    plasma-insulin time constants ``ifb_tau_min`` (50 and 70 min: dt1d's choice, the
    time to peak of a rapid-acting analogue). ``meal_bolus``: the person boluses
    ``carbs / CR`` with each announced meal (hybrid closed loop); False for fully closed
    loop (then give boluses with handlers, :mod:`dt1d.sim.handlers`, if wanted).

    Settings left ``None`` come from each patient (:func:`settings_for`): the basal rate,
    TDD (or ``48 x basal``), CR and CF (or ``500 / TDD`` and ``1800 / TDD``), ``Kp`` from
    TDD. Explicit settings override the patient's for every patient.
    """

    target_mg_dl: float = attrs.field(default=130.0, validator=_positive)
    kp_u_per_h_per_mg_dl: float | None = attrs.field(default=None, validator=_positive)
    ti_min: float = attrs.field(default=600.0, validator=_positive)
    td_min: float = attrs.field(default=90.0, validator=_non_negative)
    basal_u_per_h: float | None = attrs.field(default=None, validator=_positive)
    total_daily_dose_u: float | None = attrs.field(default=None, validator=_positive)
    carb_ratio_g_per_u: float | None = attrs.field(default=None, validator=_positive)
    correction_factor_mg_dl_per_u: float | None = attrs.field(default=None,
                                                              validator=_positive)
    max_basal_u_per_h: float | None = attrs.field(default=None, validator=_positive)
    insulin_feedback: float = attrs.field(default=0.5, validator=_non_negative)
    ifb_tau_min: tuple[float, float] = (50.0, 70.0)
    iob_safety: bool = True
    suspend_below_mg_dl: float = attrs.field(default=80.0, validator=_non_negative)
    meal_bolus: bool = True
    dia_h: float = attrs.field(default=5.0, validator=_positive)
    _lanes: dict = attrs.field(factory=dict, init=False, repr=False, eq=False)

    def settings_for(self, patient: PatientParams) -> dict[str, float]:
        """The settings this controller uses for ``patient`` (explicit ones, else derived)."""
        th = patient_therapy(patient, basal_u_per_h=self.basal_u_per_h,
                             carb_ratio_g_per_u=self.carb_ratio_g_per_u,
                             correction_factor_mg_dl_per_u=self.correction_factor_mg_dl_per_u,
                             total_daily_dose_u=self.total_daily_dose_u)
        kp = (self.kp_u_per_h_per_mg_dl if self.kp_u_per_h_per_mg_dl is not None
              else th.total_daily_dose_u / KP_TDD_DIVISOR)
        max_basal = (self.max_basal_u_per_h if self.max_basal_u_per_h is not None
                     else 4.0 * th.basal_u_per_h)
        return {"basal_u_per_h": th.basal_u_per_h, "total_daily_dose_u": th.total_daily_dose_u,
                "carb_ratio_g_per_u": th.carb_ratio_g_per_u,
                "correction_factor_mg_dl_per_u": th.correction_factor_mg_dl_per_u,
                "kp_u_per_h_per_mg_dl": float(kp), "ti_min": float(self.ti_min),
                "td_min": float(self.td_min), "max_basal_u_per_h": float(max_basal),
                "target_mg_dl": float(self.target_mg_dl)}

    def start_batch(self, patients: Sequence[PatientParams], step_min: int) -> _PIDLanes:
        """Fresh controller state for ``patients``; its ``step(glucose, carbs)`` returns the
        doses (basal [U/h], bolus [U]) of every patient."""
        settings = [self.settings_for(p) for p in patients]
        return _PIDLanes(self, settings, int(step_min))

    def reset(self) -> None:
        """Forget every patient's state (used by the one-patient ``policy`` path)."""
        self._lanes.clear()

    def policy(self, observation: Any) -> Any:
        """One step for one patient (state kept per patient name)."""
        return _lane_policy(self, observation)


def _lane_policy(controller: Any, observation: Any) -> Any:
    """``policy(observation)`` of a controller that has ``start_batch``: one lane per patient."""
    from dt1d.sim.controllers import Action

    p = observation.patient
    lanes = controller._lanes.get(p.name)
    if lanes is None:
        lanes = controller._lanes[p.name] = controller.start_batch([p], observation.step_min)
    basal, bolus = lanes.step(np.array([observation.glucose_mg_dl]),
                              np.array([observation.carbs_announced_g]))
    return Action(basal_u_per_h=float(basal[0]), bolus_u=float(bolus[0]))


def _column(settings: list[dict[str, float]], key: str) -> np.ndarray:
    return np.array([s[key] for s in settings], dtype=np.float64)


class _PIDLanes:
    """PID state of ``n`` patients: integral, last readings, insulin history, I_p filter."""

    def __init__(self, ctl: PIDController, settings: list[dict[str, float]],
                 step_min: int) -> None:
        self.ctl, self.dt = ctl, float(step_min)
        n = self.n = len(settings)
        self.basal = _column(settings, "basal_u_per_h")
        self.cr = _column(settings, "carb_ratio_g_per_u")
        self.cf = _column(settings, "correction_factor_mg_dl_per_u")
        self.kp = _column(settings, "kp_u_per_h_per_mg_dl")
        self.max_basal = _column(settings, "max_basal_u_per_h")
        self.target = float(ctl.target_mg_dl)
        self.integral = np.zeros(n)  # mg/dL min
        self.readings = np.full((n, 3), np.nan)  # newest first
        self.history = InsulinHistory(n, step_min, ctl.dia_h)
        self.i1 = self.basal.copy()  # insulin-feedback filter states [U/h]
        self.ip = self.basal.copy()

    def slope(self) -> np.ndarray:
        """CGM slope [mg/dL/min]: least squares over the last three readings (0 until two)."""
        r = self.readings
        three = np.isfinite(r).all(axis=1)
        two = np.isfinite(r[:, :2]).all(axis=1)
        s3 = (r[:, 0] - r[:, 2]) / (2.0 * self.dt)
        s2 = (r[:, 0] - r[:, 1]) / self.dt
        return np.where(three, s3, np.where(two, s2, 0.0))

    def iob(self) -> np.ndarray:
        """Insulin on board above the basal rate [U]."""
        return self.history.iob()

    def step(self, glucose_mg_dl: np.ndarray, carbs_announced_g: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """Read the CGM and the announced carbs; return (basal [U/h], bolus [U])."""
        ctl, dt = self.ctl, self.dt
        g = np.asarray(glucose_mg_dl, dtype=np.float64)
        carbs = np.asarray(carbs_announced_g, dtype=np.float64)
        self.readings[:, 1:] = self.readings[:, :-1]
        self.readings[:, 0] = g
        e = g - self.target
        iob = self.iob()
        bolus = np.zeros(self.n)
        if ctl.meal_bolus:
            bolus = np.where(carbs > 0, carbs / self.cr, 0.0)
        # PID with conditional integration (anti-windup)
        p_d = self.kp * (e + ctl.td_min * self.slope())
        trial = self.integral + e * dt
        u_trial = self.basal + p_d + self.kp * trial / ctl.ti_min
        saturated = ((u_trial > self.max_basal) & (e > 0)) | ((u_trial < 0) & (e < 0))
        self.integral = np.where(saturated, self.integral, trial)
        # the integral term alone never asks for less than none or more than the maximum
        lo = -self.basal * ctl.ti_min / self.kp
        hi = (self.max_basal - self.basal) * ctl.ti_min / self.kp
        self.integral = np.clip(self.integral, lo, hi)
        u = self.basal + p_d + self.kp * self.integral / ctl.ti_min
        if ctl.insulin_feedback > 0:
            u = (1.0 + ctl.insulin_feedback) * u - ctl.insulin_feedback * self.ip
        if ctl.iob_safety:
            need = np.maximum(e / self.cf, 0.0) - (iob + bolus)
            extra_allowed = np.maximum(need, 0.0) * 60.0 / dt  # as a rate over this step
            u = np.minimum(u, self.basal + extra_allowed)
        u = np.clip(u, 0.0, self.max_basal)
        low = g < ctl.suspend_below_mg_dl
        u = np.where(low, 0.0, u)
        bolus = np.where(low, 0.0, bolus)
        self.history.record(bolus + (u - self.basal) * dt / 60.0)
        if ctl.insulin_feedback > 0:
            delivered = u + bolus * 60.0 / dt
            t1, t2 = ctl.ifb_tau_min
            self.i1 += (delivered - self.i1) * (1.0 - np.exp(-dt / t1))
            self.ip += (self.i1 - self.ip) * (1.0 - np.exp(-dt / t2))
        return u, bolus
