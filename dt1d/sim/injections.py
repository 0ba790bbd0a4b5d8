"""Multiple daily injections (MDI): long-acting insulin doses instead of a pump's basal rate.

A :class:`LongActingInsulin` regimen gives daily doses at clock times; the simulator then
delivers no pump basal, injects the doses into the long-acting depot of
:mod:`dt1d.physiology.long_acting` and feeds what dissolves into the s.c. insulin route.
Meal and correction boluses (pens) still come from the controller and the scenario.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from dt1d.physiology.long_acting import (
    DEGLUDEC_TMAX_MIN,
    GLARGINE_TMAX_MIN,
    absorb,
    check_tmax_min,
    periodic_depot,
)
from dt1d.physiology.params import PatientParams

__all__ = ["LongActingInsulin"]

MINUTES_PER_DAY = 1440
#: Named long-acting insulins and their depot time-to-peak [min].
INSULINS = {"glargine": GLARGINE_TMAX_MIN, "degludec": DEGLUDEC_TMAX_MIN}
#: Most units in one long-acting injection (pens deliver at most 80 U per injection).
MAX_DOSE_U = 80.0


def _doses(value: Any) -> tuple[tuple[float, float], ...]:
    out = []
    for item in value:
        hour, units = item
        out.append((float(hour), float(units)))
    return tuple(sorted(out))


def _check_doses(instance: Any, attribute: attrs.Attribute, value: tuple) -> None:
    if not 1 <= len(value) <= 4:
        raise ValueError(f"LongActingInsulin.doses needs 1 to 4 daily doses, got {len(value)}")
    for hour, units in value:
        if not (math.isfinite(hour) and 0.0 <= hour < 24.0):
            raise ValueError(f"LongActingInsulin.doses: hour {hour!r} must be in [0, 24)")
        if not (math.isfinite(units) and 0.0 < units <= MAX_DOSE_U):
            raise ValueError(f"LongActingInsulin.doses: {units!r} U at {hour:g} h must be in "
                             f"(0, {MAX_DOSE_U:g}] U (one injection)")


@attrs.frozen
class LongActingInsulin:
    """Daily long-acting injections: ``doses`` as ``(hour of day, units)``; depot ``tmax_min``.

    ``tmax_min`` is the depot's time to peak dissolution (600 min glargine-like, 1080 min
    degludec-like; see :mod:`dt1d.physiology.long_acting`).
    """

    doses: tuple[tuple[float, float], ...] = attrs.field(converter=_doses,
                                                         validator=_check_doses)
    tmax_min: float = attrs.field(default=GLARGINE_TMAX_MIN, converter=check_tmax_min)

    @classmethod
    def for_patient(cls, patient: PatientParams, insulin: str = "glargine",
                    hours: Sequence[float] = (22.0,), scale: float = 1.0) -> LongActingInsulin:
        """The patient's daily basal need (``24 x`` its basal rate ``x scale``), split over ``hours``."""
        if insulin not in INSULINS:
            raise ValueError(f"insulin={insulin!r}; choose one of {sorted(INSULINS)}")
        daily = patient.basal_insulin_u_per_h * 24.0 * float(scale)
        return cls(doses=[(h, daily / len(hours)) for h in hours], tmax_min=INSULINS[insulin])

    @property
    def daily_units(self) -> float:
        """Units injected per day."""
        return sum(u for _, u in self.doses)

    def day_minutes(self, start: pd.Timestamp) -> np.ndarray:
        """Units injected in each minute of one day starting at ``start``'s clock time."""
        offset = start.hour * 60 + start.minute
        out = np.zeros(MINUTES_PER_DAY)
        for hour, units in self.doses:
            out[(int(round(hour * 60)) - offset) % MINUTES_PER_DAY] += units
        return out


def regimens(long_acting: Any, patients: list[PatientParams]) -> list[LongActingInsulin] | None:
    """One regimen per patient from ``simulate``'s ``long_acting`` argument (None: a pump)."""
    if long_acting is None:
        return None
    if isinstance(long_acting, str):
        return [LongActingInsulin.for_patient(p, long_acting) for p in patients]
    if isinstance(long_acting, LongActingInsulin):
        return [long_acting] * len(patients)
    out = list(long_acting)
    if len(out) != len(patients) or not all(isinstance(r, LongActingInsulin) for r in out):
        raise ValueError("long_acting must be None, 'glargine', 'degludec', a LongActingInsulin "
                         f"or one LongActingInsulin per patient ({len(patients)})")
    return out


class Depots:
    """Each patient's long-acting depot, advanced a day (or less) at a time, in minutes."""

    def __init__(self, regs: list[LongActingInsulin], start: pd.Timestamp) -> None:
        self.regs = regs
        self.day = np.stack([r.day_minutes(start) for r in regs], axis=1)  # (1440, n)
        self.state = [periodic_depot(self.day[:, j], r.tmax_min, 1.0)
                      for j, r in enumerate(regs)]

    def advance(self, m0: int, m1: int) -> tuple[np.ndarray, np.ndarray]:
        """Injected units and dissolved units [U/min] per minute for minutes ``m0..m1-1``."""
        idx = np.arange(m0, m1) % MINUTES_PER_DAY
        injected = self.day[idx]
        dissolved = np.empty_like(injected)
        for j, r in enumerate(self.regs):
            dissolved[:, j], self.state[j] = absorb(injected[:, j], r.tmax_min, 1.0,
                                                    self.state[j])
        return injected, dissolved
