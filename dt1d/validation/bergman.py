"""The Bergman minimal model of type 1 diabetes with a Dalla Man gut, at 1-minute steps.

Glucose and insulin action: the Bergman minimal model (Bergman et al., Am J Physiol
1979;236:E667) in the form used for people with type 1 diabetes by Kanderian et al.
(J Diabetes Sci Technol 2009;3:1047, the "identifiable virtual patient"), where
endogenous glucose production ``EGP`` is a constant and insulin acts through a remote
compartment::

    dG/dt    = -(GEZI + Ieff) G + EGP + Ra / VG                      [mg/dL/min]
    dIeff/dt = -p2 Ieff + p2 SI Ip                                   [1/min^2]
    dIsc/dt  = (ID / CI - Isc) / tau1,   dIp/dt = (Isc - Ip) / tau2   [uU/mL/min]

``ID`` is the insulin delivery [uU/min] and ``CI`` the insulin clearance [mL/min]; a
bolus of ``B`` U adds ``B 1e6 / (tau1 CI)`` to ``Isc``. Nominal values (Kanderian et al.
2009, population means): ``GEZI = 2.2e-3 /min``, ``EGP = 1.33 mg/dL/min``,
``SI = 8.11e-4 mL/uU/min``, ``p2 = 1.06e-2 /min``, ``tau1 = 49 min``, ``tau2 = 47 min``,
``CI = 2010 mL/min``.

Meal absorption: the Dalla Man et al. model of oral glucose (IEEE Trans Biomed Eng
2006;53:2472 and 2007;54:1740, eq. 13-16), per kg of body weight::

    dQsto1/dt = -kmax Qsto1            (a meal of D mg/kg adds D to Qsto1)
    dQsto2/dt = -kempt Qsto2 + kmax Qsto1
    dQgut/dt  = -kabs Qgut + kempt Qsto2,        Ra = f kabs Qgut   [mg/kg/min]
    kempt = kmin + (kmax - kmin)/2 [tanh(a (Qsto - b D)) - tanh(c (Qsto - d D)) + 2]
    a = 5 / (2 D (1 - b)),   c = 5 / (2 D d),   Qsto = Qsto1 + Qsto2

with ``D`` the last meal's amount and the 2007 paper's mean values ``kmax = 0.0558``,
``kmin = 0.0080``, ``kabs = 0.057 /min``, ``b = 0.82``, ``d = 0.010``, ``f = 0.90`` and
``VG = 1.88 dL/kg``. The CGM reads a first-order lag of plasma glucose (10 min; Rebrin
et al. 1999). Inputs are constant within a minute, boluses and meals are impulses at the
start of their minute, and the ODEs are integrated by classical Runge-Kutta at 1 minute.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

__all__ = ["BERGMAN_NOMINAL", "BergmanPatient"]

_ISF_TAU_MIN = 10.0
_UU_PER_U = 1e6

#: Nominal parameters (Kanderian et al. 2009; Dalla Man et al. 2006, 2007).
BERGMAN_NOMINAL = {
    "gezi": 2.2e-3,   # glucose effectiveness at zero insulin [1/min]
    "egp": 1.33,      # endogenous glucose production [mg/dL/min]
    "si": 8.11e-4,    # insulin sensitivity [mL/uU/min]
    "p2": 1.06e-2,    # insulin action rate [1/min]
    "tau1": 49.0,     # s.c. insulin absorption time constants [min]
    "tau2": 47.0,
    "ci": 2010.0,     # insulin clearance [mL/min]
    "vg": 1.88,       # glucose distribution volume [dL/kg]
    "kmax": 0.0558,   # gastric emptying, maximum and minimum rates [1/min]
    "kmin": 0.0080,
    "kabs": 0.057,    # intestinal absorption [1/min]
    "b": 0.82,
    "d": 0.010,
    "f": 0.90,        # fraction of the meal appearing in plasma
}


@attrs.frozen(kw_only=True)
class BergmanPatient:
    """One virtual patient of the minimal model with a Dalla Man gut.

    ``fasting_mg_dl`` is the glucose the patient settles at on ``basal_u_per_h`` (set by
    :meth:`at_fasting_glucose`); ``carb_ratio_g_per_u`` is set by the cohort.
    """

    name: str
    body_weight_kg: float
    params: dict = attrs.field(factory=lambda: dict(BERGMAN_NOMINAL))
    basal_u_per_h: float = 1.0
    carb_ratio_g_per_u: float = 10.0
    fasting_mg_dl: float = float("nan")

    def steady_glucose_mg_dl(self, basal_u_per_h: float | None = None) -> float:
        """The fasting glucose [mg/dL] on a constant basal rate: EGP / (GEZI + SI Ip)."""
        p = self.params
        basal = self.basal_u_per_h if basal_u_per_h is None else basal_u_per_h
        ip = basal * _UU_PER_U / 60.0 / p["ci"]
        return p["egp"] / (p["gezi"] + p["si"] * ip)

    def at_fasting_glucose(self, target_mg_dl: float) -> BergmanPatient:
        """A copy on the basal rate [U/h] whose steady glucose is ``target_mg_dl``.

        Raises ``ValueError`` when even no insulin leaves glucose below the target
        (``EGP / GEZI <= target``).
        """
        p = self.params
        ieff = p["egp"] / target_mg_dl - p["gezi"]
        if ieff <= 0:
            raise ValueError(f"{self.name}: glucose stays below {target_mg_dl:g} mg/dL "
                             "without insulin (EGP / GEZI too small)")
        basal = ieff / p["si"] * p["ci"] * 60.0 / _UU_PER_U
        return attrs.evolve(self, basal_u_per_h=basal, fasting_mg_dl=float(target_mg_dl))

    def _rhs(self, y: np.ndarray, delivery: float, dose: float) -> np.ndarray:
        p = self.params
        g, ieff, isc, ip, q1, q2, qgut, gi = y
        qsto = q1 + q2
        if dose > 0:
            a = 5.0 / (2.0 * dose * (1.0 - p["b"]))
            c = 5.0 / (2.0 * dose * p["d"])
            kempt = p["kmin"] + (p["kmax"] - p["kmin"]) / 2.0 * (
                math.tanh(a * (qsto - p["b"] * dose)) - math.tanh(c * (qsto - p["d"] * dose)) + 2.0)
        else:
            kempt = p["kmax"]
        ra = p["f"] * p["kabs"] * qgut
        return np.array([
            -(p["gezi"] + ieff) * g + p["egp"] + ra / p["vg"],
            p["p2"] * (p["si"] * ip - ieff),
            (delivery / p["ci"] - isc) / p["tau1"],
            (isc - ip) / p["tau2"],
            -p["kmax"] * q1,
            -kempt * q2 + p["kmax"] * q1,
            -p["kabs"] * qgut + kempt * q2,
            (g - gi) / _ISF_TAU_MIN,
        ])

    def simulate(self, carbs_g: np.ndarray, bolus_u: np.ndarray,
                 basal_u_per_h: np.ndarray | float) -> dict[str, np.ndarray]:
        """Glucose [mg/dL] per minute from meals [g per minute], boluses [U] and basal [U/h].

        The patient starts at its steady state on ``self.basal_u_per_h``. Returns
        ``{"plasma": ..., "interstitial": ..., "insulin_mu_l": ...}`` (plasma insulin in
        uU/mL = mU/L) at the start of every minute.
        """
        carbs = np.asarray(carbs_g, dtype=float)
        bolus = np.asarray(bolus_u, dtype=float)
        n = len(carbs)
        basal = np.broadcast_to(np.asarray(basal_u_per_h, dtype=float), (n,))
        if bolus.shape != (n,):
            raise ValueError(f"bolus_u has shape {bolus.shape}, expected ({n},) like carbs_g")
        p, bw = self.params, self.body_weight_kg
        g0 = self.steady_glucose_mg_dl()
        ip0 = self.basal_u_per_h * _UU_PER_U / 60.0 / p["ci"]
        y = np.array([g0, p["si"] * ip0, ip0, ip0, 0.0, 0.0, 0.0, g0])
        dose = 0.0
        out = np.empty((n, 3))
        for k in range(n):
            out[k] = y[0], y[7], y[3]
            if carbs[k]:
                dose = carbs[k] * 1000.0 / bw  # mg/kg; D is the last meal
                y[4] += dose
            if bolus[k]:
                y[2] += bolus[k] * _UU_PER_U / (p["tau1"] * p["ci"])
            delivery = basal[k] * _UU_PER_U / 60.0
            k1 = self._rhs(y, delivery, dose)
            k2 = self._rhs(y + 0.5 * k1, delivery, dose)
            k3 = self._rhs(y + 0.5 * k2, delivery, dose)
            k4 = self._rhs(y + k3, delivery, dose)
            y = y + (k1 + 2 * k2 + 2 * k3 + k4) / 6.0
        return {"plasma": out[:, 0], "interstitial": out[:, 1], "insulin_mu_l": out[:, 2]}
