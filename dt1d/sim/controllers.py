"""Controllers: who decides the insulin. A basal-bolus therapy and the interface for your own.

A controller is either an object with a ``policy(observation) -> Action`` method (and an
optional ``reset()``), or a plain callable ``f(observation) -> Action``; a
``(basal_u_per_h, bolus_u)`` tuple is accepted as the action too. It is called once per
record step (5 min by default) with what a real controller would know at that time.

A controller may also offer ``start_batch(patients, step_min)``, returning an object whose
``step(glucose_mg_dl, carbs_announced_g)`` (arrays over the patients) returns
``(basal_u_per_h, bolus_u)`` arrays and keeps the controller's state for that cohort:
``simulate`` and ``simulate_cohort`` then call it once per step for all patients
(:class:`OpenAPSController` does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import attrs
import numpy as np
import pandas as pd

from dt1d.physiology.params import PatientParams

__all__ = [
    "Action",
    "BasalBolusController",
    "Controller",
    "Observation",
    "OpenAPSController",
    "PIDController",
    "as_policy",
    "controller_lanes",
    "therapy_arrays",
]


@attrs.frozen
class Action:
    """Insulin requested for the next step: a basal rate [U/h] and a bolus [U] given now."""

    basal_u_per_h: float = attrs.field(converter=float)
    bolus_u: float = attrs.field(default=0.0, converter=float)


@attrs.frozen
class Observation:
    """What a controller sees at ``time``: the CGM reading and the carbs announced for the step.

    ``carbs_announced_g`` is the carbohydrate announced in ``[time, time + step_min)``
    (the meal the patient is about to eat), ``minute`` the minutes since the start.
    """

    time: pd.Timestamp
    minute: int
    glucose_mg_dl: float
    carbs_announced_g: float
    step_min: int
    patient: PatientParams


@runtime_checkable
class Controller(Protocol):
    """The controller interface: ``policy(observation) -> Action``."""

    def policy(self, observation: Observation) -> Action: ...


@attrs.frozen(kw_only=True)
class BasalBolusController:
    """Standard basal-bolus therapy with each patient's own carb ratio and correction factor.

    Basal: the patient's basal rate. At each announced meal: a bolus of ``carbs / CR``,
    plus ``(CGM - target) / CF`` when the CGM is above ``correction_above_mg_dl`` and
    ``correct`` is on. Unlike simglucose's BBController (which boluses one sample period
    after the meal), the bolus is given with the meal.
    """

    target_mg_dl: float = 140.0
    correction_above_mg_dl: float = 150.0
    correct: bool = True

    def policy(self, observation: Observation) -> Action:
        """The basal rate and meal bolus for one patient at one step."""
        basal, cr, cf = therapy_arrays([observation.patient])
        b, bolus = self.policy_batch(np.array([observation.glucose_mg_dl]),
                                     np.array([observation.carbs_announced_g]), basal, cr, cf)
        return Action(basal_u_per_h=float(b[0]), bolus_u=float(bolus[0]))

    def policy_batch(self, glucose_mg_dl: np.ndarray, carbs_announced_g: np.ndarray,
                     basal_u_per_h: np.ndarray, carb_ratio_g_per_u: np.ndarray,
                     correction_factor_mg_dl_per_u: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised policy for a cohort (arrays from :func:`therapy_arrays`): basal, bolus."""
        meal = carbs_announced_g > 0
        bolus = np.where(meal, carbs_announced_g / carb_ratio_g_per_u, 0.0)
        if self.correct:
            high = meal & (glucose_mg_dl > self.correction_above_mg_dl)
            corr = (glucose_mg_dl - self.target_mg_dl) / correction_factor_mg_dl_per_u
            bolus = bolus + np.where(high, corr, 0.0)
        return basal_u_per_h, np.maximum(bolus, 0.0)


def therapy_arrays(patients: list[PatientParams]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Basal rate [U/h], carb ratio [g/U] and correction factor [mg/dL/U] of each patient."""
    for p in patients:
        if p.carb_ratio_g_per_u is None or p.correction_factor_mg_dl_per_u is None:
            raise ValueError(
                f"BasalBolusController needs the carb ratio and correction factor of patient "
                f"{p.name!r}; set carb_ratio_g_per_u and correction_factor_mg_dl_per_u "
                "(attrs.evolve) or use another controller")
    return (
        np.array([p.basal_insulin_u_per_h for p in patients]),
        np.array([p.carb_ratio_g_per_u for p in patients]),
        np.array([p.correction_factor_mg_dl_per_u for p in patients]),
    )


def as_policy(controller: Any) -> Callable[[Observation], Action]:
    """Normalise a controller (``policy`` method or callable) to ``f(obs) -> Action``."""
    if controller is None:
        raise TypeError("no controller given")
    fn = controller.policy if hasattr(controller, "policy") else controller
    if not callable(fn):
        raise TypeError(
            f"a controller is an object with a policy(observation) method or a callable, got "
            f"{type(controller).__name__}")

    def policy(obs: Observation) -> Action:
        action = fn(obs)
        if isinstance(action, Action):
            return action
        try:
            basal, bolus = action
        except (TypeError, ValueError):
            raise TypeError(
                f"the controller returned {action!r}; return dt1d.sim.Action(basal_u_per_h, "
                "bolus_u) or a (basal_u_per_h, bolus_u) tuple") from None
        return Action(basal, bolus)

    return policy


class _BasalBolusLanes:
    """:class:`BasalBolusController` over a cohort: its vectorised policy, no state."""

    def __init__(self, controller: BasalBolusController, patients: list[PatientParams]):
        self.controller, self.therapy = controller, therapy_arrays(patients)

    def step(self, glucose_mg_dl: np.ndarray, carbs_announced_g: np.ndarray, step: int
             ) -> tuple[np.ndarray, np.ndarray]:
        return self.controller.policy_batch(glucose_mg_dl, carbs_announced_g, *self.therapy)


class _BatchLanes:
    """A controller's own ``start_batch`` lanes (PID, OpenAPS, MPC, yours)."""

    def __init__(self, lanes: Any):
        self.lanes = lanes

    def step(self, glucose_mg_dl: np.ndarray, carbs_announced_g: np.ndarray, step: int
             ) -> tuple[np.ndarray, np.ndarray]:
        return self.lanes.step(glucose_mg_dl, carbs_announced_g)


class _PolicyLanes:
    """A per-patient ``policy(observation)`` called for every patient at every step."""

    def __init__(self, controller: Any, patients: list[PatientParams], step_min: int,
                 start: pd.Timestamp):
        if hasattr(controller, "reset"):
            controller.reset()
        self.policy, self.patients = as_policy(controller), patients
        self.step_min, self.start = step_min, start

    def step(self, glucose_mg_dl: np.ndarray, carbs_announced_g: np.ndarray, step: int
             ) -> tuple[np.ndarray, np.ndarray]:
        minute = step * self.step_min
        time = self.start + pd.Timedelta(minutes=minute)
        actions = [self.policy(Observation(time, minute, float(glucose_mg_dl[j]),
                                           float(carbs_announced_g[j]), self.step_min, p))
                   for j, p in enumerate(self.patients)]
        return (np.array([a.basal_u_per_h for a in actions]),
                np.array([a.bolus_u for a in actions]))


def controller_lanes(controller: Any, patients: list[PatientParams], step_min: int,
                     start: pd.Timestamp) -> Any:
    """A controller run over ``patients``: ``step(glucose, carbs_announced, step_index)``
    returns the (basal [U/h], bolus [U]) arrays of every patient.

    The fastest form the controller offers: :class:`BasalBolusController`'s vectorised
    policy, a ``start_batch`` controller's lanes, else ``policy(observation)`` per patient.
    """
    if isinstance(controller, BasalBolusController):
        return _BasalBolusLanes(controller, patients)
    if hasattr(controller, "start_batch"):
        return _BatchLanes(controller.start_batch(patients, step_min))
    return _PolicyLanes(controller, patients, step_min, start)


from dt1d.sim._controllers_openaps import OpenAPSController  # noqa: E402  (re-exported)
from dt1d.sim._controllers_pid import PIDController  # noqa: E402  (re-exported)
