"""Seeded virtual cohorts of the Hovorka and Bergman models, at steady state on their basal.

Every patient gets a body weight, model parameters drawn around the published values, a
fasting glucose target drawn from U(110, 130) mg/dL and the basal rate that holds it
(solved exactly from the model's steady state), then a carb ratio: the bolus per gram
that brings glucose back to the fasting level 4-5 hours after a 50 g meal taken at
steady state. Draws whose basal rate falls outside 0.3-3 U/h or whose carb ratio falls
outside 3-40 g/U are redrawn (implausible people), as Wilinska et al. (2010) redrew
implausible parameter sets.

**Hovorka cohort.** Parameter distributions of Wilinska et al., "Simulation environment to
evaluate closed-loop insulin delivery systems in type 1 diabetes", J Diabetes Sci
Technol 2010;4:132-144 (Table 1, means and SDs): EGP0 0.0161 (0.0039) mmol/kg/min,
F01 0.0097 (0.0022) mmol/kg/min, k12 0.0649 (0.0282), ka1 0.0055 (0.0056), ka2 0.0683
(0.0507), ka3 0.0304 (0.0235) /min, SIT 51.2e-4 (32.09e-4), SID 8.2e-4 (7.84e-4) /min
per mU/L, SIE 520e-4 (306.2e-4) per mU/L, ke 0.14 (0.035) /min, VI 0.12 (0.012) L/kg,
exp(VG) 1.16 (0.23) with VG in L/kg, AG uniform on 0.7-1.0 and 1/tmaxG 0.0185 (0.0035),
1/tmaxI 0.018 (0.0045) /min. The strictly positive rate constants and sensitivities,
whose normal SDs reach their means, are drawn log-normal with the published mean and SD
(a normal draw would make some negative); the paper's bioavailability range reaches 1.2,
capped here at 1 (a meal cannot deliver more glucose than it holds).

**Bergman cohort.** No virtual population of the minimal model is published with the
Kanderian et al. (2009) parameterisation, so the variability is ours: log-normal around
the nominal values of :mod:`dt1d.validation.bergman` with coefficients of variation
0.4 (SI), 0.3 (GEZI, p2, kmax, kmin, kabs), 0.2 (EGP, tau1, tau2, CI) and 0.1 (VG),
chosen to span the between-subject ranges reported for those parameters.

Body weights: normal, mean 75 kg, SD 12 kg, kept within 50-110 kg.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
from scipy.optimize import brentq

from dt1d.validation.bergman import BERGMAN_NOMINAL, BergmanPatient
from dt1d.validation.hovorka import HovorkaPatient

__all__ = ["bergman_cohort", "hovorka_cohort", "solve_carb_ratio"]

_BASAL_RANGE_U_PER_H = (0.3, 3.0)
_CARB_RATIO_RANGE_G_PER_U = (3.0, 40.0)
_MAX_DRAWS = 200

#: (mean, SD) of Wilinska et al. (2010), Table 1; drawn log-normal (see the module doc).
_HOVORKA_LOGNORMAL = {
    "egp0": (0.0161, 0.0039), "f01": (0.0097, 0.0022), "k12": (0.0649, 0.0282),
    "ka1": (0.0055, 0.0056), "ka2": (0.0683, 0.0507), "ka3": (0.0304, 0.0235),
    "sit": (51.2e-4, 32.09e-4), "sid": (8.2e-4, 7.84e-4), "sie": (520e-4, 306.2e-4),
    "ke": (0.14, 0.035),
}
#: Coefficients of variation of the Bergman cohort (our choice, see the module doc).
_BERGMAN_CV = {"si": 0.4, "gezi": 0.3, "p2": 0.3, "kmax": 0.3, "kmin": 0.3, "kabs": 0.3,
               "egp": 0.2, "tau1": 0.2, "tau2": 0.2, "ci": 0.2, "vg": 0.1}


def _lognormal(rng: np.random.Generator, mean: float, sd: float) -> float:
    """A log-normal draw with the given mean and SD (of the value, not its log)."""
    s2 = math.log1p((sd / mean) ** 2)
    return float(mean * math.exp(rng.normal(-s2 / 2.0, math.sqrt(s2))))


def _body_weight(rng: np.random.Generator) -> float:
    return float(np.clip(rng.normal(75.0, 12.0), 50.0, 110.0))


def solve_carb_ratio(patient, meal_g: float = 50.0) -> float:
    """The carb ratio [g/U] whose bolus for ``meal_g`` brings glucose back to fasting.

    "Back" means: the mean interstitial glucose 4-5 h after the meal (taken at steady
    state with its bolus) equals the steady glucose. Raises ``ValueError`` if no bolus
    in 0.05-60 U does it.
    """
    n = 300
    carbs = np.zeros(n)
    carbs[0] = meal_g
    fasting = patient.steady_glucose_mg_dl()

    def excess(bolus_u: float) -> float:
        doses = np.zeros(n)
        doses[0] = bolus_u
        g = patient.simulate(carbs, doses, patient.basal_u_per_h)["interstitial"]
        return float(np.mean(g[240:300]) - fasting)

    lo, hi = 0.05, 60.0
    if excess(lo) <= 0 or excess(hi) >= 0:
        raise ValueError(f"{patient.name}: no bolus in {lo}-{hi} U covers a {meal_g:g} g meal")
    return meal_g / brentq(excess, lo, hi, xtol=1e-3)


def _finish(patient, rng: np.random.Generator):
    """Basal for a drawn fasting target, then the carb ratio; ``None`` if implausible."""
    try:
        patient = patient.at_fasting_glucose(float(rng.uniform(110.0, 130.0)))
    except ValueError:
        return None
    lo, hi = _BASAL_RANGE_U_PER_H
    if not lo <= patient.basal_u_per_h <= hi:
        return None
    try:
        ratio = solve_carb_ratio(patient)
    except ValueError:
        return None
    lo, hi = _CARB_RATIO_RANGE_G_PER_U
    if not lo <= ratio <= hi:
        return None
    return attrs.evolve(patient, carb_ratio_g_per_u=ratio)


def _cohort(n: int, seed: int, draw, label: str) -> list:
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    patients = []
    for _ in range(_MAX_DRAWS * n):
        patient = _finish(draw(rng, f"{label}#{len(patients) + 1:02d}"), rng)
        if patient is not None:
            patients.append(patient)
            if len(patients) == n:
                return patients
    raise RuntimeError(f"{label} cohort: fewer than {n} plausible patients in "
                       f"{_MAX_DRAWS * n} draws")


def _draw_hovorka(rng: np.random.Generator, name: str) -> HovorkaPatient:
    params = {key: _lognormal(rng, m, s) for key, (m, s) in _HOVORKA_LOGNORMAL.items()}
    params["vi"] = float(max(rng.normal(0.12, 0.012), 0.06))
    params["vg"] = float(math.log(max(rng.normal(1.16, 0.23), 1.05)))
    params["ag"] = float(rng.uniform(0.7, 1.0))
    params["tmax_g"] = 1.0 / float(max(rng.normal(0.0185, 0.0035), 0.008))
    params["tmax_i"] = 1.0 / float(max(rng.normal(0.018, 0.0045), 0.008))
    return HovorkaPatient(name=name, body_weight_kg=_body_weight(rng), params=params)


def _draw_bergman(rng: np.random.Generator, name: str) -> BergmanPatient:
    params = dict(BERGMAN_NOMINAL)
    for key, cv in _BERGMAN_CV.items():
        params[key] = _lognormal(rng, BERGMAN_NOMINAL[key], cv * BERGMAN_NOMINAL[key])
    params["kmin"] = min(params["kmin"], params["kmax"])
    return BergmanPatient(name=name, body_weight_kg=_body_weight(rng), params=params)


def hovorka_cohort(n: int = 8, seed: int = 0) -> list[HovorkaPatient]:
    """``n`` plausible Hovorka patients (Wilinska 2010 distributions), seeded."""
    return _cohort(n, seed, _draw_hovorka, "hovorka")


def bergman_cohort(n: int = 8, seed: int = 0) -> list[BergmanPatient]:
    """``n`` plausible minimal-model patients with a Dalla Man gut, seeded."""
    return _cohort(n, seed, _draw_bergman, "bergman")
