"""Long-acting insulin (glargine, degludec): a slow subcutaneous depot feeding the s.c. route.

People on multiple daily injections (MDI) take one or two long-acting doses a day instead of
a pump's basal rate. After injection, glargine precipitates in the subcutaneous tissue and
degludec forms multi-hexamer chains; both dissolve slowly into the same dissolved
(dimeric/monomeric) insulin that rapid-acting insulin becomes, which is then absorbed into
plasma. That protraction mechanism, a slowly dissolving depot upstream of a common
dissolved-insulin pathway, is the structure of Wong et al. (2008), section "Glargine".

We model the depot with the linear two-compartment chain of Hovorka et al. (2004, eq. for
``S1``, ``S2``) with a long time-to-peak ``t_max``::

    dD1/dt = d(t) - D1 / t_max          (injected long-acting insulin, U)
    dD2/dt = D1 / t_max - D2 / t_max
    r(t)   = D2 / t_max                 (dissolved insulin entering the s.c. route, U/min)

``r(t)`` joins the rapid-acting insulin rate at the UVA/Padova model's subcutaneous input
(``I_sc1``, Kovatchev 2009), so it reaches plasma insulin through the same s.c. absorption.
After one dose ``D`` the dissolution rate is ``D t / t_max^2 exp(-t / t_max)``: peakless at
daily dosing, mean absorption time ``2 t_max``. Defaults (modelling choices, documented in
``docs/simulation.md``): glargine-like ``t_max = 10 h`` (about 70 % of a dose dissolved
within 24 h, so daily doses overlap into a near-flat profile, as the Lantus label
describes); degludec-like ``t_max = 18 h`` (mean absorption time 36 h = 25 h / ln 2, the
~25 h half-life of the Tresiba label).

Sources:

- Hovorka R, Canonico V, Chassin LJ, et al. Nonlinear model predictive control of glucose
  concentration in subjects with type 1 diabetes. Physiol Meas 25(4):905-920, 2004.
- Wong J, Chase JG, Hann CE, et al. A subcutaneous insulin pharmacokinetic model for
  computer simulation in a diabetes decision support role: model structure and parameter
  identification. J Diabetes Sci Technol 2(4):658-671, 2008.
- Kovatchev BP, Breton M, Dalla Man C, Cobelli C. In silico preclinical trials: a proof of
  concept in closed-loop control of type 1 diabetes. J Diabetes Sci Technol 3(1):44-55, 2009.

The depot is linear and does not depend on glucose, so it is integrated exactly (its
matrix exponential over each step) outside the glucose kernels; the simulator and the
mechanistic twin both call :func:`absorb`, so the truth and the twin share one physiology.
"""

from __future__ import annotations

import math

import numpy as np

from dt1d._numba import jit

__all__ = [
    "DEGLUDEC_TMAX_MIN",
    "GLARGINE_TMAX_MIN",
    "absorb",
    "check_tmax_min",
    "periodic_depot",
    "steady_depot",
]

#: Time-to-peak of dissolution of a glargine-like depot [min].
GLARGINE_TMAX_MIN = 600.0
#: Time-to-peak of dissolution of a degludec-like depot [min].
DEGLUDEC_TMAX_MIN = 1080.0
#: Allowed range of ``t_max`` [min]: 1 h (faster than that is not long-acting) to 3 days.
TMAX_RANGE_MIN = (60.0, 4320.0)


def check_tmax_min(tmax_min: float, name: str = "tmax_min") -> float:
    """``tmax_min`` as a float, or a ValueError naming ``name`` and the allowed range."""
    lo, hi = TMAX_RANGE_MIN
    try:
        value = float(tmax_min)
    except (TypeError, ValueError):
        value = math.nan
    if not (lo <= value <= hi):
        raise ValueError(f"{name}={tmax_min!r} is outside the allowed range {lo:g}-{hi:g} "
                         "minutes (time to peak of long-acting insulin dissolution)")
    return value


@jit()
def _absorb(doses_u, tmax_min, step_min, depot, out):
    """Dissolved amount per step into ``out``; ``depot`` (2,) advanced in place.

    Each step's dose enters D1 at the start of the step; the chain is then advanced
    exactly over ``step_min`` (a double eigenvalue -1/t_max): with ``a = exp(-h/t_max)``,
    D1' = a D1 and D2' = a (D2 + D1 h / t_max). The step's output is the mass that left.
    """
    a = math.exp(-step_min / tmax_min)
    c = step_min / tmax_min
    d1 = depot[0]
    d2 = depot[1]
    for k in range(doses_u.shape[0]):
        d1 += doses_u[k]
        n1 = a * d1
        n2 = a * (d2 + c * d1)
        gone = (d1 + d2) - (n1 + n2)
        out[k] = gone if gone > 0.0 else 0.0
        d1 = n1
        d2 = n2
    depot[0] = d1
    depot[1] = d2


def absorb(doses_u: np.ndarray, tmax_min: float, step_min: float,
           depot: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Long-acting insulin dissolved into the s.c. route in each step [U], and the end depot.

    ``doses_u[k]``: units injected at the start of step ``k`` (``step_min`` minutes long);
    ``depot``: the (2,) content ``(D1, D2)`` [U] at the start (default empty). Returns
    ``(amount per step, depot after the last step)``; amounts are U per step (divide by
    ``step_min`` for the rate held over the step).
    """
    doses = np.ascontiguousarray(doses_u, dtype=np.float64)
    if doses.ndim != 1:
        raise ValueError(f"doses_u must be 1-D, got shape {doses.shape}")
    state = np.zeros(2) if depot is None else np.array(depot, dtype=np.float64).reshape(2)
    out = np.empty(doses.shape[0])
    _absorb(doses, check_tmax_min(tmax_min), float(step_min), state, out)
    return out, state


def steady_depot(rate_u_per_min: float, tmax_min: float) -> np.ndarray:
    """Depot ``(D1, D2)`` [U] at steady state under a constant injection rate [U/min]."""
    return np.full(2, float(rate_u_per_min) * float(tmax_min))


def periodic_depot(day_doses_u: np.ndarray, tmax_min: float, step_min: float) -> np.ndarray:
    """Depot at the start of a day when the same day of doses has been repeated forever.

    ``day_doses_u``: one day of doses per step. The day's map is ``s -> A s + b`` (``b``: the
    depot after one day from empty); its fixed point ``(I - A)^-1 b`` is the periodic steady
    state, where a person who has injected the same way for weeks starts.
    """
    doses = np.asarray(day_doses_u, dtype=np.float64)
    _, b = absorb(doses, tmax_min, step_min)
    t = doses.shape[0] * float(step_min)
    tm = check_tmax_min(tmax_min)
    a = math.exp(-t / tm)
    A = np.array([[a, 0.0], [a * t / tm, a]])
    return np.linalg.solve(np.eye(2) - A, b)
