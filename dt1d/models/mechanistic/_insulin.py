"""Long-acting insulin in the mechanistic twin: the record's injections as s.c. insulin input.

People on multiple daily injections (MDI) record long-acting doses (glargine, degludec) in
the ``long_acting_insulin`` column instead of a pump basal. The twin passes them through the
slow subcutaneous depot of :mod:`dt1d.physiology.long_acting` (the two-compartment chain the
simulator uses, after Hovorka et al. 2004 and Wong et al. 2008) and adds what dissolves in
each row to the row's rapid-acting insulin, which then enters the UVA/Padova s.c. route.

The depot starts in its periodic steady state: the record's mean day of doses (by clock
time from the record's start) repeated for ever before it, as for a person who has injected
the same way for weeks. Without it the first day would be nearly insulin-free.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from dt1d.data.schema import LONG_ACTING_INSULIN

__all__ = ["INSULINS", "daily_dose_u", "day_profile", "dissolved", "doses_of",
           "resolve_tmax_min"]

MINUTES_PER_DAY = 1440
#: Named long-acting insulins (their depot time to peak is in dt1d.physiology.long_acting,
#: imported only when needed: that module compiles a numba kernel).
INSULINS = ("degludec", "glargine")


def resolve_tmax_min(long_acting: Any) -> float | None:
    """The depot's ``t_max`` [min] for the model's ``long_acting`` option; None: refuse doses.

    ``long_acting``: ``"glargine"``, ``"degludec"``, a time to peak in minutes, or None.
    """
    from dt1d.physiology.long_acting import DEGLUDEC_TMAX_MIN, GLARGINE_TMAX_MIN, TMAX_RANGE_MIN

    if long_acting is None:
        return None
    named = {"glargine": GLARGINE_TMAX_MIN, "degludec": DEGLUDEC_TMAX_MIN}
    if isinstance(long_acting, str):
        if long_acting not in named:
            raise ValueError(f"long_acting must be one of {list(INSULINS)}, a time to peak in "
                             f"minutes or None, got {long_acting!r}")
        return named[long_acting]
    lo, hi = TMAX_RANGE_MIN
    if (isinstance(long_acting, (bool, np.bool_)) or not isinstance(long_acting, (int, float))
            or not math.isfinite(long_acting) or not lo <= long_acting <= hi):
        raise ValueError(f"long_acting must be one of {list(INSULINS)}, None or a "
                         f"time to peak dissolution in minutes within {lo:g}-{hi:g}, "
                         f"got {long_acting!r}")
    return float(long_acting)


def doses_of(X: pd.DataFrame) -> np.ndarray | None:
    """Long-acting units injected per row of the validated record (None: no injections)."""
    if LONG_ACTING_INSULIN not in X.columns:
        return None
    doses = X[LONG_ACTING_INSULIN].to_numpy(dtype=np.float64, na_value=0.0)
    doses = np.where(np.isfinite(doses), doses, 0.0)
    return doses if np.any(doses > 0) else None


def day_profile(doses: np.ndarray, step_min: int) -> np.ndarray:
    """The record's mean day of doses per row slot, by time since the record's start.

    Slot ``j`` holds the mean of rows ``j, j + R, j + 2R, ...`` (``R`` rows a day) that the
    record has; a slot the record never reaches counts as no dose.
    """
    rows_per_day = MINUTES_PER_DAY // step_min
    n = len(doses)
    padded = np.full(-(-n // rows_per_day) * rows_per_day, np.nan)
    padded[:n] = doses
    days = padded.reshape(-1, rows_per_day)
    seen = np.isfinite(days).sum(axis=0)
    total = np.nansum(days, axis=0)
    return np.divide(total, seen, out=np.zeros(rows_per_day), where=seen > 0)


def daily_dose_u(doses: np.ndarray, step_min: int) -> float:
    """Units injected in the record's mean day (the depot's steady dissolution per day)."""
    return float(day_profile(doses, step_min).sum())


def dissolved(doses: np.ndarray, tmax_min: float, step_min: int) -> np.ndarray:
    """Long-acting insulin entering the s.c. route in each row [U], from the steady depot.

    ``doses[k]``: units injected in row ``k``; the depot starts at the periodic steady state
    of the record's mean day (:func:`day_profile`) and each dose enters it at its row's start.
    """
    from dt1d.physiology.long_acting import absorb, periodic_depot

    start = periodic_depot(day_profile(doses, step_min), tmax_min, float(step_min))
    out, _ = absorb(doses, tmax_min, float(step_min), start)
    return out
