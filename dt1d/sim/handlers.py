"""Treatment handlers: the decisions a person adds to any controller, as ReplayBG models them.

A handler acts after the controller at every step and may add a bolus [U] or rescue
carbohydrate [g]:

- :class:`BolusCalculator`: at each announced meal, ``carbs / CR + (CGM - target) / CF``
  minus the insulin on board (a pump's bolus wizard);
- :class:`CorrectionBolus`: above a threshold, ``(CGM - target) / CF`` minus the insulin
  on board, at most once per ``min_interval_min``;
- :class:`HypoTreatment`: below a threshold, ``carbs_g`` of rescue carbohydrate, then
  nothing for ``refractory_min`` (the "15-15 rule").

Pass them as ``simulate(..., handlers=[...])``, ``simulate_cohort(..., handlers=[...])`` or
``twin.simulate(record, handlers=[...])``. The record then gains a ``rescue_carbs`` column
(g of rescue carbohydrate given in the step; they are also in ``carbs``, which holds
everything eaten). Rescue carbs are not announced to the controller.

Insulin on board (oref0's exponential curve with ``dia_h``, :mod:`dt1d.sim._iob`) counts
every bolus delivered and the basal delivered above or below the patient's basal rate; a
handler also counts the boluses decided earlier in the same step (the controller's and
earlier handlers'), so a bolus calculator behind a controller that already gives meal
boluses (the default :class:`~dt1d.sim.controllers.BasalBolusController`) adds only a
correction. Settings left ``None`` come from each patient (basal rate, carb ratio,
correction factor; the 500 and 1800 rules on the total daily dose where the patient lacks
them, :mod:`dt1d.sim._therapy`); explicit settings override them for every patient.

A handler is an object with ``start_batch(patients, step_min)`` returning lanes with
``step(glucose_mg_dl, carbs_announced_g, pending_bolus_u) -> (bolus_u, rescue_carbs_g)``
and ``record(basal_u_per_h, bolus_u)`` (the doses delivered), all arrays over patients.
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

__all__ = ["BolusCalculator", "CorrectionBolus", "HypoTreatment", "check_handlers"]


def _positive(instance, attribute, value) -> None:
    if value is not None and not (isinstance(value, (int, float)) and np.isfinite(value)
                                  and value > 0):
        raise ControllerSettingsError(
            f"{type(instance).__name__}.{attribute.name} = {value!r} must be finite and > 0")


def _non_negative(instance, attribute, value) -> None:
    if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
        raise ControllerSettingsError(
            f"{type(instance).__name__}.{attribute.name} = {value!r} must be finite and >= 0")


class _Lanes:
    """State shared by every handler: the patients' basal rates and insulin history."""

    def __init__(self, patients: Sequence[PatientParams], step_min: int, dia_h: float,
                 basal_u_per_h: float | None) -> None:
        self.n = len(patients)
        self.dt = float(step_min)
        self.basal = np.array([patient_therapy(p, basal_u_per_h=basal_u_per_h).basal_u_per_h
                               for p in patients])
        self.history = InsulinHistory(self.n, step_min, dia_h)
        self.minutes_since = np.full(self.n, np.inf)  # since this handler last acted

    def iob(self, pending_bolus_u: np.ndarray) -> np.ndarray:
        """Insulin on board [U], counting the boluses already decided in this step."""
        return self.history.iob() + np.asarray(pending_bolus_u, dtype=np.float64)

    def record(self, basal_u_per_h: np.ndarray | None, bolus_u: np.ndarray) -> None:
        """The doses delivered in the step just decided (basal None: the scheduled rate,
        as under long-acting injections); the clock moves one step on."""
        net = np.asarray(bolus_u, dtype=np.float64)
        if basal_u_per_h is not None:
            net = net + (np.asarray(basal_u_per_h) - self.basal) * self.dt / 60.0
        self.history.record(net)
        self.minutes_since = self.minutes_since + self.dt


def _therapy_columns(patients: Sequence[PatientParams], cr: float | None, cf: float | None
                     ) -> tuple[np.ndarray, np.ndarray]:
    th = [patient_therapy(p, carb_ratio_g_per_u=cr, correction_factor_mg_dl_per_u=cf)
          for p in patients]
    return (np.array([t.carb_ratio_g_per_u for t in th]),
            np.array([t.correction_factor_mg_dl_per_u for t in th]))


@attrs.frozen(kw_only=True)
class BolusCalculator:
    """A bolus wizard: at each announced meal, ``carbs / CR + (CGM - target) / CF - IOB``.

    The correction may be negative (glucose below target lowers the meal bolus) unless
    ``correct_below_target`` is False; insulin on board below zero (after basal was cut)
    counts as zero, as pumps do; the bolus is never negative. ``dia_h``: duration of insulin
    action of the insulin-on-board curve. Settings left ``None`` come from each patient.
    """

    target_mg_dl: float = attrs.field(default=120.0, validator=_positive)
    carb_ratio_g_per_u: float | None = attrs.field(default=None, validator=_positive)
    correction_factor_mg_dl_per_u: float | None = attrs.field(default=None,
                                                              validator=_positive)
    basal_u_per_h: float | None = attrs.field(default=None, validator=_positive)
    correct_below_target: bool = True
    dia_h: float = attrs.field(default=5.0, validator=_positive)

    def start_batch(self, patients: Sequence[PatientParams], step_min: int
                    ) -> _BolusCalculatorLanes:
        """Fresh state for ``patients`` (see the module notes)."""
        return _BolusCalculatorLanes(self, list(patients), int(step_min))


class _BolusCalculatorLanes(_Lanes):
    def __init__(self, h: BolusCalculator, patients: list[PatientParams], step_min: int):
        super().__init__(patients, step_min, h.dia_h, h.basal_u_per_h)
        self.h = h
        self.cr, self.cf = _therapy_columns(patients, h.carb_ratio_g_per_u,
                                            h.correction_factor_mg_dl_per_u)

    def step(self, glucose_mg_dl: np.ndarray, carbs_announced_g: np.ndarray,
             pending_bolus_u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        carbs = np.asarray(carbs_announced_g, dtype=np.float64)
        corr = (np.asarray(glucose_mg_dl, dtype=np.float64) - self.h.target_mg_dl) / self.cf
        if not self.h.correct_below_target:
            corr = np.maximum(corr, 0.0)
        dose = carbs / self.cr + corr - np.maximum(self.iob(pending_bolus_u), 0.0)
        bolus = np.where(carbs > 0, np.maximum(dose, 0.0), 0.0)
        return bolus, np.zeros(self.n)


@attrs.frozen(kw_only=True)
class CorrectionBolus:
    """A correction bolus above ``above_mg_dl``: ``(CGM - target) / CF - IOB``.

    Given only when at least ``min_bolus_u`` and when ``min_interval_min`` have passed since
    this handler's last correction (default 60 min, so a correction can act before the
    next; the insulin-on-board check stops stacking in any case). Settings left ``None``
    come from each patient.
    """

    above_mg_dl: float = attrs.field(default=250.0, validator=_positive)
    target_mg_dl: float = attrs.field(default=120.0, validator=_positive)
    correction_factor_mg_dl_per_u: float | None = attrs.field(default=None,
                                                              validator=_positive)
    basal_u_per_h: float | None = attrs.field(default=None, validator=_positive)
    min_interval_min: float = attrs.field(default=60.0, validator=_non_negative)
    min_bolus_u: float = attrs.field(default=0.1, validator=_non_negative)
    dia_h: float = attrs.field(default=5.0, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.target_mg_dl > self.above_mg_dl:
            raise ControllerSettingsError(
                f"CorrectionBolus.target_mg_dl = {self.target_mg_dl!r} is above "
                f"above_mg_dl = {self.above_mg_dl!r}; the target must be at or below the "
                "threshold")

    def start_batch(self, patients: Sequence[PatientParams], step_min: int
                    ) -> _CorrectionLanes:
        """Fresh state for ``patients`` (see the module notes)."""
        return _CorrectionLanes(self, list(patients), int(step_min))


class _CorrectionLanes(_Lanes):
    def __init__(self, h: CorrectionBolus, patients: list[PatientParams], step_min: int):
        super().__init__(patients, step_min, h.dia_h, h.basal_u_per_h)
        self.h = h
        _, self.cf = _therapy_columns(patients, None, h.correction_factor_mg_dl_per_u)

    def step(self, glucose_mg_dl: np.ndarray, carbs_announced_g: np.ndarray,
             pending_bolus_u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = np.asarray(glucose_mg_dl, dtype=np.float64)
        dose = (g - self.h.target_mg_dl) / self.cf - np.maximum(self.iob(pending_bolus_u), 0.0)
        give = ((g > self.h.above_mg_dl) & (self.minutes_since >= self.h.min_interval_min)
                & (dose >= self.h.min_bolus_u) & (dose > 0))
        self.minutes_since = np.where(give, 0.0, self.minutes_since)
        return np.where(give, dose, 0.0), np.zeros(self.n)


@attrs.frozen(kw_only=True)
class HypoTreatment:
    """Rescue carbohydrate: ``carbs_g`` when the CGM is below ``below_mg_dl``, then none for
    ``refractory_min`` (the 15-15 rule: 15 g below 70 mg/dL, recheck after 15 minutes)."""

    below_mg_dl: float = attrs.field(default=70.0, validator=_positive)
    carbs_g: float = attrs.field(default=15.0, validator=_positive)
    refractory_min: float = attrs.field(default=15.0, validator=_non_negative)

    def start_batch(self, patients: Sequence[PatientParams], step_min: int
                    ) -> _HypoLanes:
        """Fresh state for ``patients`` (see the module notes)."""
        return _HypoLanes(self, list(patients), int(step_min))


class _HypoLanes:
    def __init__(self, h: HypoTreatment, patients: list[PatientParams], step_min: int):
        self.h, self.n, self.dt = h, len(patients), float(step_min)
        self.minutes_since = np.full(self.n, np.inf)

    def step(self, glucose_mg_dl: np.ndarray, carbs_announced_g: np.ndarray,
             pending_bolus_u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        low = np.asarray(glucose_mg_dl) < self.h.below_mg_dl
        give = low & (self.minutes_since >= self.h.refractory_min)
        self.minutes_since = np.where(give, 0.0, self.minutes_since)
        return np.zeros(self.n), np.where(give, self.h.carbs_g, 0.0)

    def record(self, basal_u_per_h: np.ndarray | None, bolus_u: np.ndarray) -> None:
        self.minutes_since = self.minutes_since + self.dt


def check_handlers(handlers: Any) -> list[Any]:
    """``handlers`` as a list, each checked to offer ``start_batch``."""
    if handlers is None:
        return []
    if hasattr(handlers, "start_batch"):
        handlers = [handlers]
    out = list(handlers)
    for h in out:
        if not hasattr(h, "start_batch"):
            raise TypeError(
                f"a handler is an object with start_batch(patients, step_min), such as "
                f"dt1d.sim.handlers.HypoTreatment(); got {type(h).__name__}")
    return out


class HandlerChain:
    """The handlers of a run, applied in order at every step to ``n`` patients."""

    def __init__(self, handlers: Sequence[Any], patients: Sequence[PatientParams],
                 step_min: int) -> None:
        self.lanes = [h.start_batch(patients, step_min) for h in handlers]
        self.n = len(patients)

    def step(self, glucose_mg_dl: np.ndarray, carbs_announced_g: np.ndarray,
             bolus_u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The boluses [U] and rescue carbs [g] the handlers add to the controller's bolus."""
        pending = np.array(bolus_u, dtype=np.float64)
        extra = np.zeros(self.n)
        rescue = np.zeros(self.n)
        for lane in self.lanes:
            b, r = lane.step(glucose_mg_dl, carbs_announced_g, pending)
            b = np.asarray(b, dtype=np.float64)
            pending = pending + b
            extra += b
            rescue += np.asarray(r, dtype=np.float64)
        return extra, rescue

    def record(self, basal_u_per_h: np.ndarray | None, bolus_u: np.ndarray) -> None:
        """Tell every handler the doses delivered in the step just decided."""
        for lane in self.lanes:
            lane.record(basal_u_per_h, bolus_u)
