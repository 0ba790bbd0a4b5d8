"""Population base patients and log-normal priors of the mechanistic twin, per age group.

Both come from the 30 virtual patients shipped with :mod:`dt1d.physiology` (10 children,
10 adolescents, 10 adults). The base patient of a group holds the geometric mean of every
model parameter over the group's 10 patients; the prior of an estimated parameter is
log-normal with the group's mean and standard deviation of ``log(value)``.
"""

from __future__ import annotations

from functools import cache

import attrs
import numpy as np

from dt1d.physiology.params import (
    P_F,
    P_FSNC,
    P_KABS,
    P_KE1,
    P_KE2,
    P_KMAX,
    P_KP2,
    P_KP3,
    P_KSC,
    P_P2U,
    P_VM0,
    P_VMX,
    load_patient_params,
    patient_names,
)

__all__ = ["AGE_GROUPS", "ESTIMATED", "Prior", "base_vector", "priors"]

#: Age groups of the shipped virtual population (patient name prefixes).
AGE_GROUPS: tuple[str, ...] = ("adult", "adolescent", "child")

#: Parameters the twin estimates (besides basal glucose and the time-of-day windows):
#: name in ``params_``, kernel-vector index. Chosen by the sensitivity and identifiability
#: analysis in ``benchmarks/mechanistic_validation.py`` (see docs/mechanistic.md).
ESTIMATED: tuple[tuple[str, int], ...] = (
    ("kp3", P_KP3),
    ("kabs", P_KABS),
    ("kmax", P_KMAX),
    ("p2u", P_P2U),
    ("ksc", P_KSC),
    ("kp2", P_KP2),
    ("vm0", P_VM0),
)

#: The meal delay (minutes between the recorded carbs and their arrival in the stomach,
#: ReplayBG's beta) is always estimated; prior median 10 min, log-sd 0.8.
MEAL_DELAY_MEDIAN_MIN = 10.0
MEAL_DELAY_LOG_SD = 0.8

#: Prior of the basal glucose (not from the population: its 30 patients all sit at
#: 133-153 mg/dL, far narrower than people with T1D): median 140 mg/dL, log-sd 0.4.
GB_PRIOR_MEDIAN_MG_DL = 140.0
GB_PRIOR_LOG_SD = 0.4
#: Prior log-sd of each time-of-day window's deviation from the common Vmx.
WINDOW_LOG_SD = 0.5
#: Factor widening the population SDs (10 virtual patients understate real spread).
PRIOR_SD_SCALE = 2.0
#: Floor on a prior's log-sd (parameters constant over a group would pin it to zero).
_MIN_LOG_SD = 0.05


@attrs.frozen
class Prior:
    """Log-normal prior: ``log(value) ~ N(log_mean, log_sd**2)``."""

    log_mean: float
    log_sd: float

    @property
    def median(self) -> float:
        """The prior median, ``exp(log_mean)``."""
        return float(np.exp(self.log_mean))


def _check_group(age_group: str) -> str:
    if age_group not in AGE_GROUPS:
        raise ValueError(f"age_group must be one of {AGE_GROUPS}, got {age_group!r}")
    return age_group


@cache
def _group_matrix(age_group: str) -> np.ndarray:
    """Kernel parameter vectors of the group's 10 virtual patients, shape (10, N_PARAMS)."""
    names = [n for n in patient_names() if n.startswith(_check_group(age_group) + "#")]
    return np.array([load_patient_params(n).to_array() for n in names])


def base_vector(age_group: str) -> np.ndarray:
    """Geometric-mean parameter vector of an age group (a copy; kp1, Ib, BW set at fit)."""
    values = _group_matrix(age_group)
    out = np.exp(np.log(np.where(values > 0, values, 1.0)).mean(axis=0))
    for i in (P_F, P_FSNC, P_KE1, P_KE2):  # constants of the model, not patient traits
        out[i] = values[0, i]
    return out


def priors(age_group: str) -> dict[str, Prior]:
    """Log-normal priors of the population parameters in :data:`ESTIMATED` and of Vmx."""
    values = _group_matrix(age_group)
    out: dict[str, Prior] = {}
    for name, index in (("vmx", P_VMX), *ESTIMATED):
        logs = np.log(values[:, index])
        sd = max(logs.std(ddof=1), _MIN_LOG_SD) * PRIOR_SD_SCALE
        out[name] = Prior(float(logs.mean()), float(sd))
    out["meal_delay"] = Prior(float(np.log(MEAL_DELAY_MEDIAN_MIN)), MEAL_DELAY_LOG_SD)
    out["gb"] = Prior(float(np.log(GB_PRIOR_MEDIAN_MG_DL)), GB_PRIOR_LOG_SD)
    return out

