"""Simulated records for the mechanistic-twin tests, made with dt1d.physiology's own simulator.

The virtual patient is integrated by ``dt1d.physiology.batch.rk4_batch`` at 1-minute steps
(an integrator independent of the twin's 2.5-minute row kernel), then AR(1) CGM noise is added.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dt1d.data import validate
from dt1d.physiology.batch import rk4_batch
from dt1d.physiology.kernels import N_MEAL, new_meal_state
from dt1d.physiology.params import PatientParams, load_patient_params


def meal_plan(days: int, rng: np.random.Generator, carb_ratio_g_per_u: float) -> tuple[np.ndarray, np.ndarray]:
    """Carbs [g] and boluses [U] per 5-min row: three meals a day plus a snack, jittered."""
    n = days * 288
    carbs = np.zeros(n)
    bolus = np.zeros(n)
    for d in range(days):
        for hour, grams, snack in ((7.5, 45, False), (12.5, 70, False), (19.0, 80, False), (15.5, 15, True)):
            if snack and rng.random() < 0.6:
                continue
            k = int((d * 1440 + hour * 60 + rng.normal(0, 40)) // 5)
            g = max(round(grams + rng.normal(0, 10)), 5.0)
            if 0 <= k < n:
                carbs[k] += g
                bolus[k] += g / carb_ratio_g_per_u * rng.uniform(0.8, 1.2)
    return carbs, bolus


def ar1_noise(n: int, rng: np.random.Generator, sd: float, ar: float) -> np.ndarray:
    """Stationary AR(1) noise with marginal SD ``sd`` and lag-1 correlation ``ar`` per row."""
    e = np.zeros(n)
    e[0] = rng.normal(0, sd)
    w = sd * np.sqrt(1 - ar * ar)
    for k in range(1, n):
        e[k] = ar * e[k - 1] + rng.normal(0, w)
    return e


def simulate_virtual(patient: str | PatientParams, days: int, seed: int, noise_sd: float = 8.0,
                     noise_ar: float = 0.8, start: str = "2026-01-05 00:00"
                     ) -> tuple[pd.DataFrame, np.ndarray, PatientParams]:
    """A validated 5-min record of a virtual patient, its noise-free CGM glucose and its parameters."""
    p = load_patient_params(patient) if isinstance(patient, str) else patient
    rng = np.random.default_rng(seed)
    n = days * 288
    carbs, bolus = meal_plan(days, rng, p.carb_ratio_g_per_u or 10.0)
    basal = np.full(n, p.basal_insulin_u_per_min * 5)
    x = p.basal_state()[:, None].copy()
    meal = np.zeros((N_MEAL, 1))
    meal[:, 0] = new_meal_state(x[:, 0])
    carbs_min = np.repeat(carbs / 5.0, 5)[:, None].copy()
    insulin_min = np.repeat((bolus + basal) / 5.0, 5)[:, None].copy()
    out = np.zeros((n + 1, 2, 1))
    eaten = np.zeros((n, 1))
    status = np.full(1, -1, np.int64)
    bad = np.zeros((13, 1))
    rk4_batch(p.to_array()[:, None].copy(), x, meal, carbs_min, insulin_min, np.inf, 1, 5, out,
              eaten, status, bad)
    truth = out[:n, 0, 0] / p.vg_dl_per_kg
    glucose = np.clip(truth + ar1_noise(n, rng, noise_sd, noise_ar), 40.0, 400.0)
    index = pd.date_range(start, periods=n, freq="5min", name="time")
    record = pd.DataFrame({"glucose": glucose, "carbs": carbs, "insulin": bolus + basal,
                           "bolus": bolus, "basal": basal}, index=index)
    return validate(record), truth, p
