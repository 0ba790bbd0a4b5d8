"""A patient's therapy settings for the controllers: basal, carb ratio, correction factor, TDD.

Each comes from the patient when it has it; otherwise from the total daily dose by the
clinical rules of thumb (carb ratio ``500 / TDD`` g/U, correction factor ``1800 / TDD``
mg/dL per U), and the total daily dose itself from the basal rate (basal is about half of
it: ``TDD = 48 x basal``).
"""

from __future__ import annotations

import attrs

from dt1d.exceptions import ControllerSettingsError
from dt1d.physiology.params import PatientParams

#: Grams of carbohydrate covered by 1 U times the total daily dose (the "500 rule").
CARB_RULE_G = 500.0
#: mg/dL lowered by 1 U times the total daily dose (the "1800 rule").
CORRECTION_RULE_MG_DL = 1800.0
#: Total daily dose per U/h of basal (basal is about 50 % of the daily insulin).
TDD_PER_BASAL_H = 48.0


@attrs.frozen
class Therapy:
    """One patient's settings: basal [U/h], carb ratio [g/U], correction factor [mg/dL/U],
    total daily dose [U/day]."""

    basal_u_per_h: float
    carb_ratio_g_per_u: float
    correction_factor_mg_dl_per_u: float
    total_daily_dose_u: float


def patient_therapy(patient: PatientParams, *, basal_u_per_h: float | None = None,
                    carb_ratio_g_per_u: float | None = None,
                    correction_factor_mg_dl_per_u: float | None = None,
                    total_daily_dose_u: float | None = None) -> Therapy:
    """The settings of ``patient``; any value given explicitly overrides the patient's."""
    basal = basal_u_per_h if basal_u_per_h is not None else patient.basal_insulin_u_per_h
    tdd = total_daily_dose_u if total_daily_dose_u is not None else patient.total_daily_insulin_u
    if tdd is None:
        tdd = TDD_PER_BASAL_H * basal
    cr = carb_ratio_g_per_u if carb_ratio_g_per_u is not None else patient.carb_ratio_g_per_u
    cf = (correction_factor_mg_dl_per_u if correction_factor_mg_dl_per_u is not None
          else patient.correction_factor_mg_dl_per_u)
    cr = CARB_RULE_G / tdd if cr is None else cr
    cf = CORRECTION_RULE_MG_DL / tdd if cf is None else cf
    for label, value in (("basal_u_per_h", basal), ("total_daily_dose_u", tdd),
                         ("carb_ratio_g_per_u", cr),
                         ("correction_factor_mg_dl_per_u", cf)):
        if not (value == value and 0 < float(value) < float("inf")):
            raise ControllerSettingsError(f"patient {patient.name!r}: {label} = {value!r} must be finite "
                             "and > 0")
    return Therapy(float(basal), float(cr), float(cf), float(tdd))
