"""The Hovorka et al. (2004) glucose-insulin model of type 1 diabetes, at 1-minute steps.

Hovorka R, Canonico V, Chassin LJ, et al. "Nonlinear model predictive control of glucose
concentration in subjects with type 1 diabetes." Physiol Meas 2004;25:905-920
(equations 1-11 and its Table 1 of nominal parameters). Per kg of body weight ``BW``:

* glucose, two compartments (eq. 1-4)::

    dQ1/dt = -(F01c / (VG G) + x1) Q1 + k12 Q2 - FR + UG + EGP0 max(0, 1 - x3)
    dQ2/dt = x1 Q1 - (k12 + x2) Q2,        G = Q1 / VG  [mmol/L]
    F01c = F01 min(1, G / 4.5),            FR = 0.003 (G - 9) VG  for G > 9 mmol/L

* subcutaneous insulin (two compartments, time to peak ``tmaxI``) and plasma insulin
  (eq. 5-7)::

    dS1/dt = u - S1 / tmaxI,   dS2/dt = (S1 - S2) / tmaxI,   dI/dt = S2 / (tmaxI VI) - ke I

* insulin action on transport, disposal and endogenous production (eq. 8-10)::

    dx_i/dt = -ka_i x_i + ka_i S_i I      (S_1 = SIT, S_2 = SID, S_3 = SIE)

* gut absorption (eq. 11, as two compartments): ``UG = G2 / tmaxG`` with
  ``dG1/dt = -G1 / tmaxG`` (a meal of D mmol adds ``AG D`` to ``G1``) and
  ``dG2/dt = (G1 - G2) / tmaxG``.

The CGM reads interstitial glucose, modelled as a first-order lag of plasma glucose with
a 10-minute time constant (Rebrin et al., Am J Physiol 1999;277:E561). Inputs are
constant within each minute; boluses and meals enter as impulses at the start of their
minute; the ODEs are integrated by the classical Runge-Kutta method at 1-minute steps.
"""

from __future__ import annotations

import attrs
import numpy as np
from scipy.optimize import brentq

__all__ = ["HOVORKA_NOMINAL", "HovorkaPatient", "MG_DL_PER_MMOL_L"]

#: mg/dL per mmol/L of glucose (molar mass 180.16 g/mol).
MG_DL_PER_MMOL_L = 18.016
_MMOL_PER_G = 1000.0 / 180.16
_ISF_TAU_MIN = 10.0

#: Nominal parameters of Hovorka et al. (2004), Table 1 (per kg where a mass appears).
HOVORKA_NOMINAL = {
    "egp0": 0.0161,    # endogenous glucose production at zero insulin [mmol/kg/min]
    "f01": 0.0097,     # non-insulin-dependent glucose flux [mmol/kg/min]
    "k12": 0.066,      # transfer rate Q2 -> Q1 [1/min]
    "ka1": 0.006,      # deactivation rates of insulin action [1/min]
    "ka2": 0.06,
    "ka3": 0.03,
    "sit": 51.2e-4,    # insulin sensitivity of transport [1/min per mU/L]
    "sid": 8.2e-4,     # ... of disposal [1/min per mU/L]
    "sie": 520e-4,     # ... of endogenous production [per mU/L]
    "ke": 0.138,       # insulin elimination [1/min]
    "vi": 0.12,        # insulin distribution volume [L/kg]
    "vg": 0.16,        # glucose distribution volume [L/kg]
    "ag": 0.8,         # carbohydrate bioavailability
    "tmax_g": 40.0,    # time to maximum of carbohydrate absorption [min]
    "tmax_i": 55.0,    # time to maximum of s.c. insulin absorption [min]
}


@attrs.frozen(kw_only=True)
class HovorkaPatient:
    """One virtual patient of the Hovorka (2004) model.

    ``fasting_mg_dl`` is the glucose the patient settles at on ``basal_u_per_h``
    (set by :meth:`at_fasting_glucose`, which solves the basal rate). ``carb_ratio_g_per_u``
    is the patient's correct carb ratio (set by the cohort).
    """

    name: str
    body_weight_kg: float
    params: dict = attrs.field(factory=lambda: dict(HOVORKA_NOMINAL))
    basal_u_per_h: float = 1.0
    carb_ratio_g_per_u: float = 10.0
    fasting_mg_dl: float = float("nan")

    # -- steady state ------------------------------------------------------------------
    def _plasma_insulin(self, basal_u_per_h: float) -> float:
        """Steady plasma insulin [mU/L] on a basal rate."""
        p = self.params
        u = basal_u_per_h * 1000.0 / 60.0 / self.body_weight_kg  # mU/kg/min
        return u / (p["vi"] * p["ke"])

    def _glucose_balance(self, g_mmol: float, insulin: float) -> float:
        """Net glucose flux into Q1 at steady state [mmol/kg/min] (zero at equilibrium)."""
        p = self.params
        x1, x2, x3 = p["sit"] * insulin, p["sid"] * insulin, p["sie"] * insulin
        q1 = g_mmol * p["vg"]
        f01c = p["f01"] * min(1.0, g_mmol / 4.5)
        fr = 0.003 * (g_mmol - 9.0) * p["vg"] if g_mmol > 9.0 else 0.0
        # Q2 at steady state: x1 Q1 = (k12 + x2) Q2
        uptake = x1 * q1 * x2 / (p["k12"] + x2)
        return p["egp0"] * max(0.0, 1.0 - x3) - f01c - uptake - fr

    def steady_glucose_mg_dl(self, basal_u_per_h: float | None = None) -> float:
        """The fasting glucose [mg/dL] the patient settles at on a constant basal rate."""
        insulin = self._plasma_insulin(self.basal_u_per_h if basal_u_per_h is None
                                       else basal_u_per_h)
        g = brentq(lambda g: self._glucose_balance(g, insulin), 0.05, 200.0, xtol=1e-10)
        return g * MG_DL_PER_MMOL_L

    def at_fasting_glucose(self, target_mg_dl: float) -> HovorkaPatient:
        """A copy on the basal rate [U/h] whose steady glucose is ``target_mg_dl``.

        Raises ``ValueError`` if no basal rate in (0, 20] U/h reaches it (too little
        endogenous production for that level).
        """
        g = target_mg_dl / MG_DL_PER_MMOL_L

        def balance(basal: float) -> float:
            return self._glucose_balance(g, self._plasma_insulin(basal))

        if balance(1e-6) <= 0 or balance(20.0) >= 0:
            raise ValueError(f"{self.name}: no basal rate in (0, 20] U/h holds glucose at "
                             f"{target_mg_dl:g} mg/dL")
        basal = brentq(balance, 1e-6, 20.0, xtol=1e-12)
        return attrs.evolve(self, basal_u_per_h=basal, fasting_mg_dl=float(target_mg_dl))

    def _steady_state(self, basal_u_per_h: float) -> np.ndarray:
        p = self.params
        u = basal_u_per_h * 1000.0 / 60.0 / self.body_weight_kg
        insulin = self._plasma_insulin(basal_u_per_h)
        g = self.steady_glucose_mg_dl(basal_u_per_h) / MG_DL_PER_MMOL_L
        x1, x2, x3 = p["sit"] * insulin, p["sid"] * insulin, p["sie"] * insulin
        q1 = g * p["vg"]
        q2 = x1 * q1 / (p["k12"] + x2)
        s = u * p["tmax_i"]
        return np.array([s, s, insulin, x1, x2, x3, q1, q2, 0.0, 0.0, g])

    # -- simulation --------------------------------------------------------------------
    def _rhs(self, y: np.ndarray, u: float) -> np.ndarray:
        p = self.params
        s1, s2, ins, x1, x2, x3, q1, q2, g1, g2, gi = y
        g = q1 / p["vg"]
        f01c = p["f01"] * min(1.0, max(g, 0.0) / 4.5)
        fr = 0.003 * (g - 9.0) * p["vg"] if g > 9.0 else 0.0
        tmi, tmg = p["tmax_i"], p["tmax_g"]
        return np.array([
            u - s1 / tmi,
            (s1 - s2) / tmi,
            s2 / (tmi * p["vi"]) - p["ke"] * ins,
            p["ka1"] * (p["sit"] * ins - x1),
            p["ka2"] * (p["sid"] * ins - x2),
            p["ka3"] * (p["sie"] * ins - x3),
            -f01c - x1 * q1 + p["k12"] * q2  # F01c / (VG G) * Q1 = F01c
            - fr + g2 / tmg + p["egp0"] * max(0.0, 1.0 - x3),
            x1 * q1 - (p["k12"] + x2) * q2,
            -g1 / tmg,
            (g1 - g2) / tmg,
            (g - gi) / _ISF_TAU_MIN,
        ])

    def simulate(self, carbs_g: np.ndarray, bolus_u: np.ndarray,
                 basal_u_per_h: np.ndarray | float) -> dict[str, np.ndarray]:
        """Glucose [mg/dL] per minute from meals [g per minute], boluses [U] and basal [U/h].

        The patient starts at its steady state on ``self.basal_u_per_h``. Returns
        ``{"plasma": ..., "interstitial": ..., "insulin_mu_l": ...}`` sampled at the
        start of every minute (length ``len(carbs_g)``).
        """
        carbs = np.asarray(carbs_g, dtype=float)
        bolus = np.asarray(bolus_u, dtype=float)
        n = len(carbs)
        basal = np.broadcast_to(np.asarray(basal_u_per_h, dtype=float), (n,))
        if bolus.shape != (n,):
            raise ValueError(f"bolus_u has shape {bolus.shape}, expected ({n},) like carbs_g")
        p, bw = self.params, self.body_weight_kg
        y = self._steady_state(self.basal_u_per_h)
        out = np.empty((n, 3))
        for k in range(n):
            out[k] = y[6] / p["vg"], y[10], y[2]
            if carbs[k]:
                y[8] += p["ag"] * carbs[k] * _MMOL_PER_G / bw
            if bolus[k]:
                y[0] += bolus[k] * 1000.0 / bw
            u = basal[k] * 1000.0 / 60.0 / bw
            k1 = self._rhs(y, u)
            k2 = self._rhs(y + 0.5 * k1, u)
            k3 = self._rhs(y + 0.5 * k2, u)
            k4 = self._rhs(y + k3, u)
            y = y + (k1 + 2 * k2 + 2 * k3 + k4) / 6.0
        return {"plasma": out[:, 0] * MG_DL_PER_MMOL_L,
                "interstitial": out[:, 1] * MG_DL_PER_MMOL_L, "insulin_mu_l": out[:, 2]}
